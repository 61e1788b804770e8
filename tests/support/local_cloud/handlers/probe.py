"""Probe handlers for the local-cloud tests: each records what it saw in Redis (list
``probe:events``) so a test can check the events the runtime built."""

import json
import os

import redis

from kstock.aws import connections_client

_redis = redis.Redis.from_url(os.environ["REDIS_URL"], decode_responses=True)


def _record(kind, event):
    _redis.rpush("probe:events", json.dumps({"kind": kind, "env": os.environ.get("PROBE_PREFIX"), "event": event}))


def http(event, context):
    _record("http", event)
    return {
        "statusCode": 200,
        "headers": {"Content-Type": "application/json"},
        "body": json.dumps(
            {
                "resource": event["resource"],
                "pathParameters": event["pathParameters"],
                "function": context.function_name,
            }
        ),
    }


def connect(event, context):
    _record("connect", event)
    token = (event.get("queryStringParameters") or {}).get("token")
    return {"statusCode": 200} if token == "let-me-in" else {"statusCode": 401, "body": "Unauthorized"}


def _reply(event, payload):
    ctx = event["requestContext"]
    client = connections_client(ctx["domainName"], ctx["stage"])
    client.post_to_connection(ConnectionId=ctx["connectionId"], Data=json.dumps(payload).encode())


def echo(event, context):
    _record("echo", event)
    _reply(event, {"route": event["requestContext"]["routeKey"], "body": json.loads(event["body"])})
    return {"statusCode": 200}


def default(event, context):
    _record("default", event)
    if event["body"] == "crash":
        raise RuntimeError("probe crash")
    _reply(event, {"route": event["requestContext"]["routeKey"], "raw": event["body"]})
    return {"statusCode": 200}


def disconnect(event, context):
    _record("disconnect", event)
    return {"statusCode": 200}


def tick(event, context):
    _record("tick", event)
    _redis.incr("probe:ticks")


def worker(event, context):
    for record in event["Records"]:
        _redis.hincrby("probe:receives", record["body"], 1)
        if record["body"] == "poison":
            raise ValueError("poison message")
    for record in event["Records"]:
        _redis.rpush("probe:processed", record["body"])


def partial_worker(event, context):
    failures = []
    _redis.rpush("probe:batch-sizes", len(event["Records"]))
    for record in event["Records"]:
        _redis.hincrby("probe:partial-receives", record["body"], 1)
        if record["body"].startswith("fail"):
            failures.append({"itemIdentifier": record["messageId"]})
        else:
            _redis.rpush("probe:partial-processed", record["body"])
    return {"batchItemFailures": failures}
