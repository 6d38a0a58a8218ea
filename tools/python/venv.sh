#!/usr/bin/env bash
# venv.sh REQUIREMENTS: makes (once) and prints the path of a Python virtual environment built from a pinned
# requirements file of the project's. The environment lives under $RLHF_VENV_HOME (default
# ~/.cache/spark-rlhf/venvs), named after the file's folder and the SHA-256 of its content, so a change to the
# pins makes a new environment and an unchanged file reuses the old one. A half-built environment (pip failed or
# was killed) is never reused: the marker file is written last.
#
#   tools/python/venv.sh airflow/requirements.txt      # prints e.g. ~/.cache/spark-rlhf/venvs/airflow-1a2b3c4d5e6f
#
# Environment: PYTHON (default python3.11, else python3).
set -euo pipefail
req="${1:?usage: venv.sh REQUIREMENTS}"
[[ -f "$req" ]] || { echo "venv.sh: no such requirements file: $req" >&2; exit 2; }
py="${PYTHON:-$(command -v python3.11 || command -v python3)}"
home="${RLHF_VENV_HOME:-$HOME/.cache/spark-rlhf/venvs}"
name="$(basename "$(cd "$(dirname "$req")" && pwd)")"
sum="$(sha256sum "$req" | cut -c1-12)"
dir="$home/$name-$sum"
if [[ ! -f "$dir/.complete" ]]; then
  rm -rf "$dir"
  mkdir -p "$home"
  echo "venv.sh: creating $dir from $req ..." >&2
  "$py" -m venv "$dir" >&2
  "$dir/bin/pip" install -q --disable-pip-version-check --upgrade pip==24.3.1 >&2
  "$dir/bin/pip" install -q --disable-pip-version-check -r "$req" >&2
  touch "$dir/.complete"
fi
echo "$dir"
