"""Create the template's queues and tables on an AWS endpoint (moto, LocalStack).

One code path for `kstock up`, `kstock provision` and the LocalStack init hook
(``python -m kstock_local.cloud.provision --endpoint ... --template ...``), so it imports only boto3, PyYAML
and the template reader. Idempotent: existing queues and tables are left as they are.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path

import boto3
from botocore.config import Config

from kstock_local.cloud.template import LOCAL_ACCOUNT, QueueSpec, Template, read_template


@dataclass
class Provisioned:
    queue_urls: dict[str, str] = field(default_factory=dict)  # logical id -> URL
    queue_arns: dict[str, str] = field(default_factory=dict)
    tables: dict[str, str] = field(default_factory=dict)  # logical id -> table name


def local_clients(endpoint: str, region: str) -> tuple:
    """SQS and DynamoDB clients for a local endpoint (dummy credentials are all moto needs).

    The one AWS client not made by :mod:`kstock.aws`: the LocalStack init hook runs this module
    where only boto3 and PyYAML exist. Its credentials are explicit, never the user's shell's."""
    config = Config(region_name=region, retries={"mode": "standard", "max_attempts": 5})
    session = boto3.session.Session(aws_access_key_id="local", aws_secret_access_key="local", region_name=region)
    return (
        session.client("sqs", endpoint_url=endpoint, config=config),
        session.client("dynamodb", endpoint_url=endpoint, config=config),
    )


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


def provision(template: Template, sqs, dynamodb) -> Provisioned:
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
    for spec in template.tables.values():
        if spec.name not in existing:
            dynamodb.create_table(TableName=spec.name, **spec.properties)
            if spec.ttl_attribute:
                dynamodb.update_time_to_live(
                    TableName=spec.name, TimeToLiveSpecification={"Enabled": True, "AttributeName": spec.ttl_attribute}
                )
        done.tables[spec.logical_id] = spec.name
    return done


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="provision template.yaml's queues and tables")
    parser.add_argument("--endpoint", default="http://127.0.0.1:4566")
    parser.add_argument("--template", type=Path, default=Path(__file__).resolve().parents[3] / "template.yaml")
    parser.add_argument("--region", default="ap-northeast-2")
    parser.add_argument("--stack-name", default="kstock")
    args = parser.parse_args(argv)
    template = read_template(args.template, stack_name=args.stack_name, region=args.region, sqs_endpoint=args.endpoint)
    result = provision(template, *local_clients(args.endpoint, args.region))
    for logical_id, url in result.queue_urls.items():
        print(f"queue {logical_id}: {url}")
    for logical_id, name in result.tables.items():
        print(f"table {logical_id}: {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
