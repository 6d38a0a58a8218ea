"""Loads each DAG folder given with Airflow's own DagBag and prints, as JSON, per folder: the import errors and every
DAG's tasks in topological order with their upstream and downstream ids and the spark-submit they would run."""

import json
import sys

from airflow.dag_processing.dagbag import DagBag

out = {}
for folder in sys.argv[1:]:
    bag = DagBag(dag_folder=folder)
    dags = {}
    for dag_id, dag in bag.dags.items():
        dags[dag_id] = [
            {
                "task_id": t.task_id,
                "upstream": sorted(t.upstream_task_ids),
                "downstream": sorted(t.downstream_task_ids),
                "operator": type(t).__name__,
                "java_class": t._java_class,
                "application": t.application,
                "application_args": t.application_args,
                "conn_id": t._conn_id,
                "driver_memory": t._driver_memory,
                "conf": t.conf,
            }
            for t in dag.topological_sort()
        ]
    out[folder] = {"import_errors": {str(k): str(v) for k, v in bag.import_errors.items()}, "dags": dags}
print(json.dumps(out))
