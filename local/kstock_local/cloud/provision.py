"""Create the template's queues and tables on an AWS endpoint (moto, LocalStack).

One code path for `kstock up`, `kstock provision` and the LocalStack init hook
(``python -m kstock_local.cloud.provision --localstack --endpoint ... --template ...``), so it needs only
boto3, PyYAML and the template reader. With ``--localstack`` the clients come from localstack-client's
session when it is installed (LocalStack's own environment has it), else from boto3 at the same
endpoint. Idempotent: existing queues and tables are left as they are.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import boto3
from botocore.config import Config

from kstock_local.cloud.template import LOCAL_ACCOUNT, QueueSpec, Template, read_template


@dataclass
class Provisioned:
    queue_urls: dict[str, str] = field(default_factory=dict)  # logical id -> URL
    queue_arns: dict[str, str] = field(default_factory=dict)
    tables: dict[str, str] = field(default_factory=dict)  # logical id -> table name


# boto3's clients are generated at run time: to a type checker an SQS or DynamoDB client is Any.
Clients = tuple[Any, Any]  # (sqs, dynamodb)
DEFAULT_ENDPOINT = "http://127.0.0.1:4566"
_RETRIES = Config(retries={"mode": "standard", "max_attempts": 5})


def local_clients(endpoint: str, region: str) -> Clients:
    """SQS and DynamoDB clients for a local endpoint (dummy credentials are all moto needs).

    The AWS clients not made by :mod:`kstock.aws`: the LocalStack init hook runs this module
    where only boto3 and PyYAML exist. Its credentials are explicit, never the user's shell's."""
    config = _RETRIES.merge(Config(region_name=region))
    session = boto3.session.Session(aws_access_key_id="local", aws_secret_access_key="local", region_name=region)
    return (
        session.client("sqs", endpoint_url=endpoint, config=config),
        session.client("dynamodb", endpoint_url=endpoint, config=config),
    )


def localstack_clients(region: str, localstack_host: str | None = None) -> Clients | None:
    """SQS and DynamoDB clients from localstack-client's session, which points them at LocalStack's edge
    (``localstack_host`` host:port, else LOCALSTACK_HOST / AWS_ENDPOINT_URL / localhost:4566). None
    when localstack-client is not installed: this module must run with boto3 and PyYAML alone."""
    try:
        from localstack_client.session import Session  # type: ignore[import-untyped, unused-ignore]
    except ImportError:
        return None
    session = Session(
        aws_access_key_id="local", aws_secret_access_key="local", region_name=region, localstack_host=localstack_host
    )
    return session.client("sqs", config=_RETRIES), session.client("dynamodb", config=_RETRIES)


def clients_for(endpoint: str, region: str, *, localstack: bool = False) -> Clients:
    """The provisioning clients: localstack-client's for LocalStack when asked and installed, else boto3's."""
    if localstack:
        made = localstack_clients(region, urlsplit(endpoint).netloc or None)
        if made is not None:
            return made
        print("provision: localstack-client is not installed; plain boto3 at", endpoint, file=sys.stderr)
    return local_clients(endpoint, region)


def _queue_order(queues: dict[str, QueueSpec]) -> list[QueueSpec]:
    """Dead-letter queues before the queues that redrive into them."""
    ordered: list[QueueSpec] = []

    def visit(spec: QueueSpec, seen: tuple[str, ...] = ()) -> None:
        if spec in ordered:
            return
        if spec.logical_id in seen:
            raise ValueError(f"redrive cycle through {spec.logical_id}")
        if spec.dead_letter_queue:
            visit(queues[spec.dead_letter_queue], (*seen, spec.logical_id))
        ordered.append(spec)

    for spec in queues.values():
        visit(spec)
    return ordered


def provision(template: Template, sqs: Any, dynamodb: Any) -> Provisioned:
    done = Provisioned()
    for spec in _queue_order(template.queues):
        attributes = {
            "VisibilityTimeout": str(spec.visibility_timeout),
            "MessageRetentionPeriod": str(spec.message_retention),
        }
        if spec.fifo:
            attributes["FifoQueue"] = "true"
        if spec.dead_letter_queue:
            attributes["RedrivePolicy"] = json.dumps(
                {
                    "deadLetterTargetArn": done.queue_arns[spec.dead_letter_queue],
                    "maxReceiveCount": spec.max_receive_count,
                }
            )
        url = sqs.create_queue(QueueName=spec.name, Attributes=attributes)["QueueUrl"]
        done.queue_urls[spec.logical_id] = url
        done.queue_arns[spec.logical_id] = f"arn:aws:sqs:{template.region}:{LOCAL_ACCOUNT}:{spec.name}"
    existing = set(dynamodb.list_tables().get("TableNames", []))
    for table in template.tables.values():
        if table.name not in existing:
            dynamodb.create_table(TableName=table.name, **table.properties)
            if table.ttl_attribute:
                dynamodb.update_time_to_live(
                    TableName=table.name,
                    TimeToLiveSpecification={"Enabled": True, "AttributeName": table.ttl_attribute},
                )
        done.tables[table.logical_id] = table.name
    return done


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="provision template.yaml's queues and tables")
    parser.add_argument(
        "--endpoint", help=f"AWS endpoint (default: LocalStack's edge with --localstack, else {DEFAULT_ENDPOINT})"
    )
    parser.add_argument("--localstack", action="store_true", help="the endpoint is LocalStack: use localstack-client")
    parser.add_argument("--template", type=Path, default=Path(__file__).resolve().parents[3] / "template.yaml")
    parser.add_argument("--region", default="ap-northeast-2")
    parser.add_argument("--stack-name", default="kstock")
    args = parser.parse_args(argv)
    endpoint = args.endpoint or (_localstack_edge() if args.localstack else DEFAULT_ENDPOINT)
    sqs, dynamodb = clients_for(endpoint, args.region, localstack=args.localstack)
    # queue URLs in the template's wiring name the endpoint the clients actually use
    template = read_template(
        args.template, stack_name=args.stack_name, region=args.region, sqs_endpoint=sqs.meta.endpoint_url
    )
    result = provision(template, sqs, dynamodb)
    for logical_id, url in result.queue_urls.items():
        print(f"queue {logical_id}: {url}")
    for logical_id, name in result.tables.items():
        print(f"table {logical_id}: {name}")
    return 0


def _localstack_edge() -> str:
    """LocalStack's edge as localstack-client resolves it; without it, by the same variables
    (AWS_ENDPOINT_URL, else LOCALSTACK_HOST, else localhost:4566)."""
    try:
        from localstack_client import config  # type: ignore[import-untyped, unused-ignore]
    except ImportError:
        host = os.environ.get("LOCALSTACK_HOST") or "localhost:4566"
        return (os.environ.get("AWS_ENDPOINT_URL") or f"http://{host}").rstrip("/")
    return str(config.get_service_endpoint("edge")).rstrip("/")


if __name__ == "__main__":
    sys.exit(main())
