"""Provisioning from template.yaml: the code path of `kstock provision` and the LocalStack hook."""

import os
import subprocess
import sys
from pathlib import Path

import boto3
import yaml
from support.paths import PROJECT_ROOT


def test_provision_module_creates_queues_with_redrive_and_tables(moto_endpoint):
    template = PROJECT_ROOT / "tests" / "support" / "local_cloud" / "template.yaml"
    # run exactly as the LocalStack hook does: a bare interpreter with the repo on PYTHONPATH
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
    for _ in range(2):  # idempotent
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "kstock_local.cloud.provision",
                "--endpoint",
                moto_endpoint,
                "--template",
                str(template),
                "--stack-name",
                "hooktest",
            ],
            capture_output=True,
            text=True,
            env=env,
            cwd=PROJECT_ROOT,
            timeout=60,
        )
        assert result.returncode == 0, result.stderr
    sqs = boto3.client(
        "sqs",
        endpoint_url=moto_endpoint,
        region_name="ap-northeast-2",
        aws_access_key_id="x",
        aws_secret_access_key="x",
    )
    url = sqs.get_queue_url(QueueName="hooktest-JobsQueue")["QueueUrl"]
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert '"maxReceiveCount": 2' in attrs["RedrivePolicy"] and "hooktest-JobsDeadLetterQueue" in attrs["RedrivePolicy"]
    dynamodb = boto3.client(
        "dynamodb",
        endpoint_url=moto_endpoint,
        region_name="ap-northeast-2",
        aws_access_key_id="x",
        aws_secret_access_key="x",
    )
    ttl = dynamodb.describe_time_to_live(TableName="hooktest-ProbeTable")["TimeToLiveDescription"]
    assert ttl["AttributeName"] == "expiresAt"


def test_localstack_compose_mounts_the_hook_and_the_repo():
    compose = yaml.safe_load((PROJECT_ROOT / "local/localstack" / "docker-compose.yml").read_text())
    services = compose["services"]
    assert {"localstack", "redis", "postgres"} <= set(services)
    assert "LOCALSTACK_AUTH_TOKEN" in services["localstack"]["environment"]
    hook = PROJECT_ROOT / "local/localstack" / "init" / "ready.d" / "10-provision.sh"
    assert os.access(hook, os.X_OK) and "-m kstock_local.cloud.provision" in hook.read_text()
    # The hook puts local/ on PYTHONPATH and runs the module with LocalStack's own Python.
    assert "PYTHONPATH=/opt/kstock/local " in hook.read_text()
    assert Path(PROJECT_ROOT / "local/kstock_local/cloud/provision.py").exists()
