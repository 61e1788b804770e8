#!/bin/bash
# LocalStack init hook: create template.yaml's queues (with their DLQ redrive policies) and tables.
# The same code as `kstock provision` and `kstock up`: local/kstock_local/cloud/provision.py, which needs only
# boto3 and PyYAML (both in LocalStack's own Python environment). --localstack: its clients come from
# localstack-client's session (LocalStack's environment has it too; without it, plain boto3 at --endpoint).
set -euo pipefail
python=/opt/code/localstack/.venv/bin/python
[ -x "$python" ] || python=python3
cd /opt/kstock
PYTHONPATH=/opt/kstock/local "$python" -m kstock_local.cloud.provision \
  --localstack --endpoint http://localhost:4566 \
  --template "${KSTOCK_TEMPLATE:-/opt/kstock/template.yaml}" \
  --region "${AWS_DEFAULT_REGION:-ap-northeast-2}"
