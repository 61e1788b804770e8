"""template.yaml runs the WebSocket fan-out as K worker tasks beside the single ingest streamer (issue 18)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from support.paths import PROJECT_ROOT

from kstock.config import Settings
from kstock_local.cloud.template import load_yaml


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load_yaml(PROJECT_ROOT / "template.yaml")


def _properties(template: dict[str, Any], logical_id: str) -> dict[str, Any]:
    properties: dict[str, Any] = template["Resources"][logical_id]["Properties"]
    return properties


def _container(template: dict[str, Any], task: str) -> dict[str, Any]:
    (container,) = _properties(template, task)["ContainerDefinitions"]
    return dict(container)


def _environment(container: dict[str, Any]) -> dict[str, Any]:
    return {e["Name"]: e["Value"] for e in container["Environment"]}


def _actions(role: dict[str, Any]) -> dict[str, list[str]]:
    statements = [s for p in role["Properties"]["Policies"] for s in p["PolicyDocument"]["Statement"]]
    return {s["Sid"]: s["Action"] if isinstance(s["Action"], list) else [s["Action"]] for s in statements}


def test_the_fanout_runs_as_k_worker_tasks_of_the_streamer_image(template: dict[str, Any]) -> None:
    parameter = template["Parameters"]["FanoutWorkers"]
    assert parameter["Default"] == 2 and parameter["MinValue"] == 1
    service = _properties(template, "FanoutService")
    assert service["DesiredCount"] == {"Ref": "FanoutWorkers"}
    assert service["TaskDefinition"] == {"Ref": "FanoutTaskDefinition"}
    assert service["Cluster"] == {"Ref": "StreamerCluster"}
    assert service["NetworkConfiguration"] == _properties(template, "StreamerService")["NetworkConfiguration"] | {
        "AwsvpcConfiguration": {
            **_properties(template, "StreamerService")["NetworkConfiguration"]["AwsvpcConfiguration"],
            "SecurityGroups": {"Ref": "StreamerSecurityGroupIds"},  # no SSE load balancer in front of it
        }
    }
    container = _container(template, "FanoutTaskDefinition")
    assert container["Image"] == {"Ref": "StreamerImageUri"}
    assert container["Command"] == ["python", "-m", "kstock_streamer", "--role", "fanout"]
    assert container["LogConfiguration"]["Options"]["awslogs-group"] == {"Ref": "FanoutLogGroup"}
    names = set(_environment(container)) | {s["Name"] for s in container["Secrets"]}
    assert names - {field.upper() for field in Settings.model_fields} == set()
    assert {s["Name"] for s in container["Secrets"]} == {"REDIS_URL"}  # no KIS key, no database


def test_the_ingest_streamer_runs_no_fanout_but_keeps_the_registry(template: dict[str, Any]) -> None:
    environment = _environment(_container(template, "StreamerTaskDefinition"))
    assert environment["STREAMER_FANOUT"] == "off"
    assert environment["CONNECTIONS_TABLE"] == {"Ref": "ConnectionsTable"}  # the demand reconciler reads it
    assert _properties(template, "StreamerService")["DesiredCount"] == 1


def test_the_fanout_roles_allow_what_the_workers_do_and_no_more(template: dict[str, Any]) -> None:
    task = _actions(template["Resources"]["FanoutTaskRole"])
    assert set(task) == {"ConnectionRegistry", "PostToWebSocketClients"}
    assert set(task["ConnectionRegistry"]) == {
        "dynamodb:GetItem",
        "dynamodb:BatchGetItem",
        "dynamodb:Query",
        "dynamodb:Scan",
        "dynamodb:DeleteItem",
        "dynamodb:ConditionCheckItem",
    }
    assert task["PostToWebSocketClients"] == ["execute-api:ManageConnections"]
    execution = template["Resources"]["FanoutExecutionRole"]["Properties"]["Policies"][0]["PolicyDocument"]
    secrets = [s for s in execution["Statement"] if s["Action"] == "secretsmanager:GetSecretValue"]
    assert [json.dumps(s["Resource"]) for s in secrets] == [
        json.dumps(
            {
                "Fn::Sub": "arn:${AWS::Partition}:secretsmanager:${AWS::Region}:${AWS::AccountId}:secret:"
                "${RedisUrlSecret}-??????"
            }
        )
    ]
