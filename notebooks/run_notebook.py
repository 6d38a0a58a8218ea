"""Executes a notebook headless, as a kernel of this Python (the notebooks' virtual environment), and saves it with
its outputs. Exits non-zero, naming the cell and its error, when any cell fails, so a broken notebook fails the build.

    $(tools/python/venv.sh notebooks/requirements.txt)/bin/python notebooks/run_notebook.py \\
        notebooks/inspect_run.ipynb --output /tmp/inspect_run.out.ipynb

The notebook's parameters come from the environment (RLHF_LAKE, RLHF_RUN, ...), which the kernel inherits.
"""
import argparse
import os
import sys

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebook")
    parser.add_argument("--output", required=True, help="where to write the executed notebook")
    parser.add_argument("--cwd", default=None,
                        help="the kernel's working folder (default: the notebook's, as Jupyter starts it)")
    parser.add_argument("--cell-timeout", type=int, default=600, help="seconds one cell may take")
    args = parser.parse_args()

    nb = nbformat.read(args.notebook, as_version=4)
    # The notebook's relative paths (its default lake, ../lake) mean the same headless as in Jupyter.
    cwd = args.cwd or os.path.dirname(os.path.abspath(args.notebook))
    # The kernel is started from this interpreter (jupyter_client resolves "python3" to sys.executable when
    # ipykernel is importable here), so the notebook sees exactly the pinned environment it is run from.
    client = NotebookClient(nb, timeout=args.cell_timeout, kernel_name="python3",
                            resources={"metadata": {"path": cwd}})
    failed = None
    try:
        client.execute()
    except CellExecutionError as e:
        failed = e
    finally:
        # Written either way: the outputs up to the failing cell are what explains the failure.
        nbformat.write(nb, args.output)
    errors = [(i, o) for i, c in enumerate(nb.cells) if c.cell_type == "code"
              for o in c.get("outputs", []) if o.get("output_type") == "error"]
    if failed is not None or errors:
        for i, o in errors:
            print(f"cell {i} failed: {o.get('ename')}: {o.get('evalue')}", file=sys.stderr)
        if failed is not None and not errors:
            print(str(failed), file=sys.stderr)
        print(f"executed notebook with outputs: {args.output}", file=sys.stderr)
        sys.exit(1)
    print(f"executed {sum(c.cell_type == 'code' for c in nb.cells)} code cells: {args.output}")


if __name__ == "__main__":
    main()
