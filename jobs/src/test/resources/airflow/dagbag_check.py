"""dagbag_check.py OUT FOLDER...: loads each DAG folder with Airflow's own DagBag and writes to OUT, as JSON, per folder:
the import errors and every DAG's tasks in topological order with their upstream and downstream ids and the
spark-submit they would run. (A file, not standard output, which Airflow's own logging shares.)"""

import json
import sys

from airflow.dag_processing.dagbag import DagBag

out = {}
for folder in sys.argv[2:]:
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
with open(sys.argv[1], "w", encoding="utf-8") as f:
    json.dump(out, f)
