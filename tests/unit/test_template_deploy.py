"""template.yaml deploys the whole system (issue 12, item 7).

The streamer runs as one ECS Fargate task that can never overlap another (one KIS session per app key),
with least-privilege roles and the functions' own secrets; every dead-letter queue and the streamer's
health raise an alarm; the local cloud reads the template as before. The functions that run kiwipiepy
are container images (functions/Dockerfile.nlp), the others zip functions with the core and Chalice
layers; the local cloud runs both kinds from the functions' code. The tools (checkov, sam validate,
sam build) run in tests/integration/test_template_tools.py.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from support.paths import PROJECT_ROOT

from kstock.config import Settings
from kstock_local.cloud.lambdas.runtime import load_handler
from kstock_local.cloud.template import TemplateError, load_yaml, read_template

TEMPLATE = PROJECT_ROOT / "template.yaml"
NLP_DOCKERFILE = PROJECT_ROOT / "functions" / "Dockerfile.nlp"
# The functions that run kiwipiepy (news nouns at ingestion, the rules theme classifier) and their handlers.
IMAGE_FUNCTIONS = {
    "NewsIngestFunction": "chalicelib.handlers.workers.news.ingest_news",
    "ThemeClassifyFunction": "chalicelib.handlers.workers.themes.classify",
}
ZIP_LAYERS = [{"Ref": "CoreLayer"}, {"Ref": "ChaliceLayer"}]

# The streamer's secrets: the same Secrets Manager secrets the functions resolve in Globals.
STREAMER_SECRETS = {
    "DATABASE_URL": "DatabaseUrlSecret",
    "REDIS_URL": "RedisUrlSecret",
    "KIS_APP_KEY": "KisAppKeySecret",
    "KIS_APP_SECRET": "KisAppSecretSecret",
}
# issue 18 part 5: the ingest streamers' several KIS keys (key 0's service reads it only with KisAppKeyCount > 1)
KIS_KEYS_SECRET = "KisAppKeysSecret"

# -- reading the template --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load_yaml(TEMPLATE)


def _resources(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {name: res for name, res in template["Resources"].items() if res["Type"] == kind}


def _properties(template: dict[str, Any], logical_id: str) -> dict[str, Any]:
    properties: dict[str, Any] = template["Resources"][logical_id]["Properties"]
    return properties


def _container(template: dict[str, Any]) -> dict[str, Any]:
    (container,) = _properties(template, "StreamerTaskDefinition")["ContainerDefinitions"]
    return dict(container)


def _secrets(container: dict[str, Any]) -> list[dict[str, Any]]:
    """A container's secrets, a conditional one (``!If [cond, secret, AWS::NoValue]``) as its secret."""
    return [s["Fn::If"][1] if "Fn::If" in s else s for s in container["Secrets"]]


def _statements(role: dict[str, Any]) -> list[dict[str, Any]]:
    return [s for policy in role["Properties"]["Policies"] for s in policy["PolicyDocument"]["Statement"]]


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _text(value: Any) -> str:
    """A resource reference as text (``!Sub`` strings, ``!GetAtt`` parts) to compare against."""
    return json.dumps(value, sort_keys=True)


# -- the streamer service ----------------------------------------------------------------------------------


def test_the_streamer_service_never_runs_two_kis_sessions(template: dict[str, Any]) -> None:
    service = _properties(template, "StreamerService")
    deployment = service["DeploymentConfiguration"]
    assert service["DesiredCount"] == 1 and service["LaunchType"] == "FARGATE"
    # no second task while one runs: a deployment stops the old task before it starts the new one
    assert deployment["MaximumPercent"] == 100 and deployment["MinimumHealthyPercent"] == 0
    assert service["TaskDefinition"] == {"Ref": "StreamerTaskDefinition"}
    assert service["NetworkConfiguration"]["AwsvpcConfiguration"]["Subnets"] == {"Ref": "StreamerSubnetIds"}


@pytest.mark.parametrize(("index", "condition"), [(1, "SeveralKisKeys"), (2, "ThirdKisKey")])
def test_each_further_kis_key_is_its_own_service_of_one_task(
    template: dict[str, Any], index: int, condition: str
) -> None:
    """Issue 18 part 5: one ingest task per KIS app key, never two on one key, only when KisAppKeyCount asks."""
    assert template["Parameters"]["KisAppKeyCount"]["AllowedValues"] == ["1", "2", "3"]
    assert template["Conditions"]["SeveralKisKeys"] == {"Fn::Not": [{"Fn::Equals": [{"Ref": "KisAppKeyCount"}, "1"]}]}
    assert template["Conditions"]["ThirdKisKey"] == {"Fn::Equals": [{"Ref": "KisAppKeyCount"}, "3"]}
    service, task = (template["Resources"][f"StreamerKey{index}{kind}"] for kind in ("Service", "TaskDefinition"))
    assert service["Condition"] == task["Condition"] == condition
    properties = service["Properties"]
    assert properties["DesiredCount"] == 1 and properties["TaskDefinition"] == {
        "Ref": f"StreamerKey{index}TaskDefinition"
    }
    deployment = properties["DeploymentConfiguration"]
    assert deployment["MaximumPercent"] == 100 and deployment["MinimumHealthyPercent"] == 0
    (container,) = task["Properties"]["ContainerDefinitions"]
    env = {e["Name"]: e["Value"] for e in container["Environment"]}
    assert env["KIS_KEY_INDEX"] == str(index) and env["STREAMER_FANOUT"] == "off"
    secrets = {s["Name"]: _text(s["ValueFrom"]) for s in _secrets(container)}
    assert f":secret:${{{KIS_KEYS_SECRET}}}" in secrets["KIS_APP_KEYS"]
    assert "KIS_APP_KEY" not in secrets and "KIS_APP_KEYS" not in env
    assert "TaskRoleArn" not in task["Properties"]  # it calls no AWS API
    alarm = template["Resources"][f"StreamerKey{index}NotRunningAlarm"]
    assert alarm["Condition"] == condition
    assert {"Name": "ServiceName", "Value": {"Fn::GetAtt": [f"StreamerKey{index}Service", "Name"]}} in alarm[
        "Properties"
    ]["Dimensions"]
    assert alarm["Properties"]["AlarmActions"] == [{"Ref": "AlarmTopic"}]


def test_key_zeros_streamer_reads_the_keys_only_with_several(template: dict[str, Any]) -> None:
    (conditional,) = [s for s in _container(template)["Secrets"] if "Fn::If" in s]
    condition, secret, otherwise = conditional["Fn::If"]
    assert condition == "SeveralKisKeys" and secret["Name"] == "KIS_APP_KEYS" and otherwise == {"Ref": "AWS::NoValue"}


def test_the_task_runs_the_image_parameter_with_a_health_check_and_kept_logs(template: dict[str, Any]) -> None:
    container = _container(template)
    assert container["Image"] == {"Ref": "StreamerImageUri"}
    assert "StreamerImageUri" in template["Parameters"]
    assert any("127.0.0.1:8081/health" in str(part) for part in container["HealthCheck"]["Command"])
    options = container["LogConfiguration"]["Options"]
    assert container["LogConfiguration"]["LogDriver"] == "awslogs"
    assert options["awslogs-group"] == {"Ref": "StreamerLogGroup"}
    assert _properties(template, "StreamerLogGroup")["RetentionInDays"] > 0


def test_the_streamer_gets_the_functions_secrets_from_secrets_manager(template: dict[str, Any]) -> None:
    function_env = template["Globals"]["Function"]["Environment"]["Variables"]
    container = _container(template)
    injected = {s["Name"]: _text(s["ValueFrom"]) for s in _secrets(container)}
    plain = {e["Name"] for e in container["Environment"]}
    for name, parameter in STREAMER_SECRETS.items():
        # the functions resolve the very same parameter: one secret, two consumers
        assert function_env[name] == {"Fn::Sub": f"{{{{resolve:secretsmanager:${{{parameter}}}}}}}"}, name
        assert f":secret:${{{parameter}}}" in injected[name], name
        assert name not in plain, f"{name} must never be a plain environment value"


def test_every_streamer_setting_is_one_kstock_reads(template: dict[str, Any]) -> None:
    """A misspelt variable would be ignored silently (the settings ignore unknown names)."""
    container = _container(template)
    containers = [_container(template)] + [
        _properties(template, f"StreamerKey{i}TaskDefinition")["ContainerDefinitions"][0] for i in (1, 2)
    ]
    known = {field.upper() for field in Settings.model_fields}
    for container in containers:
        names = {e["Name"] for e in container["Environment"]} | {s["Name"] for s in _secrets(container)}
        assert names - known == set()


def test_the_execution_role_reads_only_the_streamers_secrets(template: dict[str, Any]) -> None:
    statements = _statements(template["Resources"]["StreamerExecutionRole"])
    secret_reads = [s for s in statements if "secretsmanager:GetSecretValue" in _as_list(s["Action"])]
    (statement,) = secret_reads
    resources = sorted(_text(r) for r in statement["Resource"])
    expected = sorted(
        _text(
            {
                "Fn::Sub": f"arn:${{AWS::Partition}}:secretsmanager:${{AWS::Region}}:${{AWS::AccountId}}:secret:"
                f"${{{parameter}}}-??????"
            }
        )
        for parameter in [*STREAMER_SECRETS.values(), KIS_KEYS_SECRET]
    )
    assert resources == expected


def test_the_task_role_has_least_privilege(template: dict[str, Any]) -> None:
    statements = _statements(template["Resources"]["StreamerTaskRole"])
    actions = {action for s in statements for action in _as_list(s["Action"])}
    assert all(s["Effect"] == "Allow" and "*" != s["Resource"] for s in statements)
    assert not any("*" in action or action.startswith("secretsmanager:") for action in actions), actions
    for statement in statements:
        statement_actions = _as_list(statement["Action"])
        if any(a.startswith("dynamodb:") for a in statement_actions):
            assert statement["Resource"] == {"Fn::GetAtt": ["ConnectionsTable", "Arn"]}
            assert set(statement_actions) <= {
                "dynamodb:GetItem",
                "dynamodb:BatchGetItem",
                "dynamodb:Query",
                "dynamodb:Scan",  # the demand rebuild and reconciler (registry.live_subscriptions)
                "dynamodb:DeleteItem",
            }
        else:
            assert statement_actions == ["execute-api:ManageConnections"]
            resource = _text(statement["Resource"])
            assert "${WebSocketApi}/${WebSocketStage}/POST/@connections/*" in resource


# -- alarms ------------------------------------------------------------------------------------------------


def test_every_dead_letter_queue_raises_an_alarm(template: dict[str, Any]) -> None:
    queues = _resources(template, "AWS::SQS::Queue")
    dead_letter_queues = {
        q["Properties"]["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"][0]
        for q in queues.values()
        if "RedrivePolicy" in q["Properties"]
    }
    assert len(dead_letter_queues) >= 6
    watched = {}
    for alarm in _resources(template, "AWS::CloudWatch::Alarm").values():
        props = alarm["Properties"]
        if props["Namespace"] == "AWS/SQS":
            (dimension,) = props["Dimensions"]
            watched[dimension["Value"]["Fn::GetAtt"][0]] = props
    assert dead_letter_queues - set(watched) == set(), "add a DLQ alarm for each"
    for name in dead_letter_queues:
        props = watched[name]
        assert props["MetricName"] == "ApproximateNumberOfMessagesVisible"
        assert (props["ComparisonOperator"], props["Threshold"]) == ("GreaterThanThreshold", 0)
        assert props["AlarmActions"] == [{"Ref": "AlarmTopic"}]


def test_the_streamers_health_reaches_the_alarm_topic(template: dict[str, Any]) -> None:
    alarm = _properties(template, "StreamerNotRunningAlarm")
    dimensions = {d["Name"]: d["Value"] for d in alarm["Dimensions"]}
    assert dimensions == {
        "ClusterName": {"Ref": "StreamerCluster"},
        "ServiceName": {"Fn::GetAtt": ["StreamerService", "Name"]},
    }
    # no task, no data point: missing data must count as "not running"
    assert alarm["TreatMissingData"] == "breaching" and alarm["AlarmActions"] == [{"Ref": "AlarmTopic"}]
    rule = _properties(template, "StreamerStoppedRule")
    assert rule["Targets"][0]["Arn"] == {"Ref": "AlarmTopic"}
    assert rule["EventPattern"]["detail"]["clusterArn"] == [{"Fn::GetAtt": ["StreamerCluster", "Arn"]}]
    publishers = {
        s["Principal"]["Service"] for s in _properties(template, "AlarmTopicPolicy")["PolicyDocument"]["Statement"]
    }
    assert publishers == {"cloudwatch.amazonaws.com", "events.amazonaws.com"}
    assert template["Resources"]["AlarmEmailSubscription"]["Condition"] == "HasAlarmEmail"


def test_every_queue_is_encrypted_at_rest(  # checkov's CKV_AWS_27 sees only SSE-KMS
    template: dict[str, Any],
) -> None:
    unencrypted = [
        name
        for name, queue in _resources(template, "AWS::SQS::Queue").items()
        if queue["Properties"].get("SqsManagedSseEnabled") is not True and "KmsMasterKeyId" not in queue["Properties"]
    ]
    assert unencrypted == []


def test_the_local_cloud_reads_the_template_and_ignores_the_deploy_only_resources(
    template: dict[str, Any],
) -> None:
    local = read_template(TEMPLATE)
    assert set(local.functions) == set(_resources(template, "AWS::Serverless::Function"))
    assert set(local.queues) == set(_resources(template, "AWS::SQS::Queue"))
    assert set(local.tables) == {"ConnectionsTable"}
    assert set(local.websocket_apis) == {"WebSocketApi"}


# -- packaging: zip functions with their layers, the kiwipiepy functions as an image ---------------------


def _functions(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {name: res["Properties"] for name, res in _resources(template, "AWS::Serverless::Function").items()}


def _requirements(relative: str) -> set[str]:
    """The distribution names a requirements file lists (lower case, extras and versions dropped)."""
    names = set()
    for line in (PROJECT_ROOT / relative).read_text(encoding="utf-8").splitlines():
        requirement = line.split("#", 1)[0].strip()
        if requirement:
            names.add(re.split(r"[\[<>=!~; ]", requirement, maxsplit=1)[0].lower())
    return names


def test_the_kiwipiepy_functions_are_images_sam_build_skips(template: dict[str, Any]) -> None:
    functions = _functions(template)
    images = {name for name, props in functions.items() if props.get("PackageType") == "Image"}
    assert images == set(IMAGE_FUNCTIONS)
    parameter = template["Parameters"]["NlpImageUri"]
    assert parameter["Type"] == "String" and "Default" not in parameter  # a deploy names its image
    for name, handler in IMAGE_FUNCTIONS.items():
        props = functions[name]
        assert props["ImageUri"] == {"Ref": "NlpImageUri"}, name
        assert props["ImageConfig"]["Command"] == [handler], name
        # SAM refuses these on an image function, and Globals would hand them down
        assert {"Handler", "Runtime", "Layers"} & set(props) == set(), name
        # without Metadata.Dockerfile `sam build` skips the function: no Docker needed to build the rest
        assert "Dockerfile" not in (template["Resources"][name].get("Metadata") or {}), name
        assert callable(load_handler(handler)), f"{name}: {handler} is not callable"
    assert {"Runtime", "Layers", "Handler"} & set(template["Globals"]["Function"]) == set()


def test_every_zip_function_runs_python_3_11_on_both_layers(template: dict[str, Any]) -> None:
    zipped = {name: props for name, props in _functions(template).items() if name not in IMAGE_FUNCTIONS}
    assert len(zipped) >= 20
    for name, props in zipped.items():
        assert props["Runtime"] == "python3.11", name
        assert props["Layers"] == ZIP_LAYERS, name
    # both layers are built by their own Makefile (built for real in tests/integration/test_template_tools.py):
    # the core's puts kstock at python/kstock, the Chalice one installs Chalice with --no-deps
    for layer, must_hold in (("CoreLayer", "manylinux2014_x86_64"), ("ChaliceLayer", "--no-deps")):
        resource = template["Resources"][layer]
        assert resource["Metadata"]["BuildMethod"] == "makefile", layer
        makefile = (PROJECT_ROOT / resource["Properties"]["ContentUri"] / "Makefile").read_text(encoding="utf-8")
        assert f"build-{layer}:" in makefile and must_hold in makefile, layer


def test_kiwipiepy_and_chalices_dependencies_stay_out_of_the_zip_functions() -> None:
    core = _requirements("layers/core/requirements.txt")
    zipped = core | _requirements("functions/requirements.txt") | _requirements("layers/chalice/requirements.txt")
    assert "kiwipiepy" not in zipped, "kiwipiepy belongs in functions/requirements-nlp.txt (the image)"
    assert "kiwipiepy" in _requirements("functions/requirements-nlp.txt")
    # Chalice only through its layer (no deps); functions/requirements.txt is installed into every zip
    assert "chalice" not in core | _requirements("functions/requirements.txt")
    assert _requirements("layers/chalice/requirements.txt") == {"chalice"}


def _dockerfile_instructions(path: Path) -> list[tuple[str, str]]:
    joined = path.read_text(encoding="utf-8").replace("\\\n", " ")
    lines = [line.strip() for line in joined.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1]) for line in lines]


def test_the_image_holds_what_the_zip_functions_get_from_their_layers_plus_kiwipiepy() -> None:
    instructions = _dockerfile_instructions(NLP_DOCKERFILE)
    assert instructions[0] == ("FROM", "public.ecr.aws/lambda/python:3.11")  # the zip functions' runtime
    copied = [args.split()[0] for kind, args in instructions if kind == "COPY"]
    for requirements in (
        "layers/core/requirements.txt",
        "layers/chalice/requirements.txt",
        "functions/requirements.txt",
        "functions/requirements-nlp.txt",
    ):
        assert requirements in copied, requirements
    for code in ("layers/core/python/kstock", "functions/app.py", "functions/chalicelib"):
        assert code in copied, code
    run = " ".join(args for kind, args in instructions if kind == "RUN")
    assert re.search(r"pip install --no-cache-dir --no-deps -r \S*chalice\.txt", run), run
    assert not any(kind in ("CMD", "ENTRYPOINT") for kind, _ in instructions), "ImageConfig.Command names each handler"
    # the build context is cut to what the image copies: every source must be let through
    ignore = (NLP_DOCKERFILE.parent / "Dockerfile.nlp.dockerignore").read_text(encoding="utf-8").splitlines()
    admitted = {line[1:] for line in ignore if line.startswith("!")}
    assert "*" in ignore and set(copied) <= admitted, set(copied) - admitted
    assert all((PROJECT_ROOT / source).exists() for source in copied)


# -- the local cloud runs an image function from its code ---------------------------------------------------


def test_the_local_cloud_runs_the_image_functions_from_the_functions_code() -> None:
    local = read_template(TEMPLATE)
    for name, handler in IMAGE_FUNCTIONS.items():
        spec = local.functions[name]
        assert (spec.package_type, spec.handler, spec.code_uri) == ("Image", handler, "functions/")
        assert spec.sqs_events and spec.memory == 1024


_PROBE_TEMPLATE = """
Transform: AWS::Serverless-2016-10-31
Globals:
  Function:
    CodeUri: code/
    Environment:
      Variables: {PROBE: from-the-template}
Resources:
  ImageProbeFunction:
    Type: AWS::Serverless::Function
    Properties:
      PackageType: Image
      ImageUri: 123456789012.dkr.ecr.ap-northeast-2.amazonaws.com/probe:1
      ImageConfig:
        Command: [probe.handle]
"""

_PROBE_HANDLER = """
import os


def handle(event, context):
    return {"got": event, "env": os.environ["PROBE"], "function": context.function_name}
"""


def test_kstock_invoke_runs_an_image_function_with_its_image_command(tmp_path: Path) -> None:
    (tmp_path / "code").mkdir()
    (tmp_path / "code" / "probe.py").write_text(_PROBE_HANDLER, encoding="utf-8")
    template = tmp_path / "template.yaml"
    template.write_text(_PROBE_TEMPLATE, encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "kstock_local.cli.main", "invoke", "ImageProbeFunction", "--template", str(template)],
        input="",
        env={**os.environ, "KSTOCK_HOME": str(tmp_path / "home")},  # no running stack's environment
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    answer = json.loads(done.stdout.strip().splitlines()[-1])
    assert answer == {"got": {}, "env": "from-the-template", "function": "ImageProbeFunction"}


def test_an_image_function_without_a_command_is_a_template_error(tmp_path: Path) -> None:
    template = tmp_path / "template.yaml"
    template.write_text(_PROBE_TEMPLATE.replace("      ImageConfig:\n        Command: [probe.handle]\n", ""))
    with pytest.raises(TemplateError, match="ImageProbeFunction: an image function names its handler"):
        read_template(template)
