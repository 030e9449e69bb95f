#!/bin/bash
# EMR bootstrap action: install the trustpipe wheel from <code_uri> into its own venv on every node.
# Args: <code_uri> <venv python>, as the hourly DAG's cluster spec passes them.
set -euo pipefail
code_uri="$1"
venv="$(dirname "$(dirname "$2")")"
sudo python3 -m venv "$venv"
aws s3 cp "$code_uri/wheels/" /tmp/trustpipe-wheels/ --recursive
sudo "$venv/bin/pip" install --no-index --find-links /tmp/trustpipe-wheels trustpipe
