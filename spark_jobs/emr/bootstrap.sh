#!/bin/bash
# EMR bootstrap action: install the scoring job into its own venv on every node, from the objects
# under <code_uri>/wheels/ alone (--no-index: the nodes have no path to a package index). First the
# job's requirements, pinned by the lock and each checked against its hash; then the trustpipe
# wheel without its dependencies (the stream workers' KCL, PostgreSQL driver and the rest are never
# run on a cluster and are not uploaded).
# Args: <code_uri> <venv python> <python>, as the hourly DAG's cluster spec passes them
# (trustpipe_orchestration.emr.cluster_spec): <python> makes the venv (python3.11, which the
# release has beside 3.12 and 3.13), installed from the distribution where it is missing.
set -euo pipefail
code_uri="$1"
venv="$(dirname "$(dirname "$2")")"
python="$3"
wheels="$(mktemp -d)"
command -v "$python" >/dev/null || sudo dnf install -y "$python"
sudo "$python" -m venv "$venv"
aws s3 cp "$code_uri/wheels/" "$wheels/" --recursive --only-show-errors
sudo "$venv/bin/python" -m pip install --quiet --no-index --find-links "$wheels" \
  --require-hashes --only-binary=:all: -r "$wheels/requirements.txt"
sudo "$venv/bin/python" -m pip install --quiet --no-index --no-deps "$wheels"/trustpipe-*.whl
