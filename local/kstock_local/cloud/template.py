"""Read ``template.yaml`` (SAM / CloudFormation) into what the local runtime runs.

Functions with their handlers, environment and event sources (Api, Schedule / ScheduleV2, SQS),
SQS queues with their redrive policies, DynamoDB tables, and WebSocket APIs with their routes.
Intrinsics (``!Ref``, ``!GetAtt``, ``!Sub``, ``!Join``, ``!Select``, ``!If`` on conditions we do
not evaluate) resolve to the names the local services use. Environment values that are dynamic
references (``{{resolve:secretsmanager:...}}``) are left out: locally those settings come from
the environment ``kstock up`` builds.

A container-image function (``PackageType: Image``) runs locally like a zip function, from its
``CodeUri`` (the Globals' ``functions/``), with the handler its ``ImageConfig.Command`` names: the
image (``functions/Dockerfile.nlp``) holds that same code, so only the packaging differs.

Only PyYAML and the standard library are imported, so the LocalStack init hook can use it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

LOCAL_ACCOUNT = "123456789012"  # moto's default account


class TemplateError(ValueError):
    pass


# -- YAML with CloudFormation short-form tags ------------------------------------------------------


class _CfnLoader(yaml.SafeLoader):
    pass


def _short_form(loader: yaml.Loader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    name = "Ref" if suffix == "Ref" else f"Fn::{suffix}"
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
        if suffix == "GetAtt":
            value = value.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    elif isinstance(node, yaml.MappingNode):
        value = loader.construct_mapping(node, deep=True)
    else:
        raise TemplateError(f"!{suffix}: unexpected YAML node {type(node).__name__}")
    return {name: value}


_CfnLoader.add_multi_constructor("!", lambda loader, suffix, node: _short_form(loader, suffix, node))


def load_yaml(path: Path) -> dict[str, Any]:
    document = yaml.load(path.read_text(encoding="utf-8"), Loader=_CfnLoader)
    if not isinstance(document, dict):
        raise TemplateError(f"{path}: a template is a YAML mapping")
    return document


# -- what the runtime needs ------------------------------------------------------------------------


@dataclass(frozen=True)
class ApiEvent:
    name: str
    path: str
    method: str


@dataclass(frozen=True)
class ScheduleEvent:
    name: str
    expression: str
    timezone: str | None
    input: str | None
    enabled: bool


@dataclass(frozen=True)
class SqsEvent:
    name: str
    queue: str  # logical id of the queue
    batch_size: int
    batching_window: float
    report_batch_item_failures: bool
    enabled: bool


@dataclass(frozen=True)
class FunctionSpec:
    logical_id: str
    name: str
    handler: str
    code_uri: str
    environment: dict[str, str]
    timeout: float
    memory: int
    api_events: list[ApiEvent] = field(default_factory=list)
    schedule_events: list[ScheduleEvent] = field(default_factory=list)
    sqs_events: list[SqsEvent] = field(default_factory=list)
    # Metadata.LocalCloud.AlwaysOpenMarketSchedule: how often the local cloud runs a market-hours
    # job while the simulated market trades around the clock (AWS keeps the KRX-hours schedules)
    always_open_schedule: str | None = None
    package_type: str = "Zip"  # or "Image": deployed as a container image, run locally from code_uri


@dataclass(frozen=True)
class QueueSpec:
    logical_id: str
    name: str
    visibility_timeout: int
    message_retention: int
    fifo: bool
    dead_letter_queue: str | None  # logical id
    max_receive_count: int | None


@dataclass(frozen=True)
class TableSpec:
    logical_id: str
    name: str
    properties: dict[str, Any]  # CreateTable-shaped (KeySchema, AttributeDefinitions, ...)
    ttl_attribute: str | None


@dataclass(frozen=True)
class WebSocketApiSpec:
    logical_id: str
    name: str
    route_selection_expression: str
    routes: dict[str, str]  # route key -> function logical id
    stage: str


@dataclass
class Template:
    path: Path
    stack_name: str
    region: str
    parameters: dict[str, str]
    functions: dict[str, FunctionSpec]
    queues: dict[str, QueueSpec]
    tables: dict[str, TableSpec]
    websocket_apis: dict[str, WebSocketApiSpec]

    def function_by_handler(self, handler: str) -> FunctionSpec | None:
        return next((f for f in self.functions.values() if f.handler == handler), None)


# -- intrinsic functions ---------------------------------------------------------------------------


class _Resolver:
    def __init__(
        self, resources: dict[str, Any], parameters: dict[str, str], stack_name: str, region: str, endpoint: str
    ) -> None:
        self.resources = resources
        self.parameters = parameters
        self.pseudo = {
            "AWS::Region": region,
            "AWS::AccountId": LOCAL_ACCOUNT,
            "AWS::StackName": stack_name,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::NoValue": None,
        }
        self.region = region
        self.endpoint = endpoint.rstrip("/")

    def physical_name(self, logical_id: str) -> str:
        resource = self.resources[logical_id]
        props = resource.get("Properties") or {}
        kind = resource["Type"]
        explicit = {
            "AWS::SQS::Queue": "QueueName",
            "AWS::DynamoDB::Table": "TableName",
            "AWS::Serverless::Function": "FunctionName",
            "AWS::ApiGatewayV2::Api": "Name",
        }.get(kind)
        if explicit and props.get(explicit):
            return str(self.resolve(props[explicit]))
        if kind not in ("AWS::SQS::Queue", "AWS::DynamoDB::Table"):
            return logical_id  # functions, integrations, stages...: their logical id names them locally
        suffix = ".fifo" if props.get("FifoQueue") else ""
        return f"{self.pseudo['AWS::StackName']}-{logical_id}{suffix}"

    def ref(self, name: str) -> Any:
        if name in self.pseudo:
            return self.pseudo[name]
        if name in self.parameters:
            return self.parameters[name]
        if name not in self.resources:
            raise TemplateError(f"!Ref to unknown name {name}")
        if self.resources[name]["Type"] == "AWS::SQS::Queue":
            return f"{self.endpoint}/{LOCAL_ACCOUNT}/{self.physical_name(name)}"
        return self.physical_name(name)

    def get_att(self, logical_id: str, attribute: str) -> str:
        if logical_id not in self.resources:
            raise TemplateError(f"!GetAtt of unknown resource {logical_id}")
        kind = self.resources[logical_id]["Type"]
        name = self.physical_name(logical_id)
        service = {"AWS::SQS::Queue": "sqs", "AWS::DynamoDB::Table": "dynamodb"}.get(kind, "lambda")
        if attribute == "Arn":
            if service == "sqs":
                return f"arn:aws:sqs:{self.region}:{LOCAL_ACCOUNT}:{name}"
            if service == "dynamodb":
                return f"arn:aws:dynamodb:{self.region}:{LOCAL_ACCOUNT}:table/{name}"
            return f"arn:aws:lambda:{self.region}:{LOCAL_ACCOUNT}:function:{name}"
        if attribute == "QueueName":
            return name
        if attribute == "QueueUrl":
            return str(self.ref(logical_id))
        if attribute == "ApiEndpoint":
            return f"ws://127.0.0.1/{name}"
        return f"{name}.{attribute}"

    def sub(self, value: Any) -> str:
        text, variables = (value, {}) if isinstance(value, str) else (value[0], self.resolve(value[1]))

        def replace(match: re.Match[str]) -> str:
            token = match.group(1)
            if token.startswith("!"):
                return "${" + token[1:] + "}"
            if token in variables:
                return str(variables[token])
            if "." in token and token.split(".", 1)[0] in self.resources:
                return self.get_att(*token.split(".", 1))
            return str(self.ref(token))

        return re.sub(r"\$\{([^}]+)\}", replace, text)

    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, arg),) = value.items()
            if key == "Ref":
                return self.ref(arg)
            if key == "Fn::GetAtt":
                logical_id, attribute = arg if isinstance(arg, list) else arg.split(".", 1)
                return self.get_att(logical_id, attribute)
            if key == "Fn::Sub":
                return self.sub(arg)
            if key == "Fn::Join":
                return str(arg[0]).join(str(self.resolve(v)) for v in self.resolve(arg[1]))
            if key == "Fn::Select":
                return self.resolve(arg[1])[int(self.resolve(arg[0]))]
            if key == "Fn::If":
                return self.resolve(arg[1])  # conditions are not evaluated locally: take the true branch
        return {k: self.resolve(v) for k, v in value.items()}


# -- reading -----------------------------------------------------------------------------------------


def _merge_globals(globals_: dict[str, Any], props: dict[str, Any]) -> dict[str, Any]:
    merged = {**globals_, **props}
    env_globals = (globals_.get("Environment") or {}).get("Variables") or {}
    env_props = (props.get("Environment") or {}).get("Variables") or {}
    merged["Environment"] = {"Variables": {**env_globals, **env_props}}
    return merged


def _is_dynamic_reference(value: Any) -> bool:
    return isinstance(value, str) and value.startswith("{{resolve:")


def _handler(logical_id: str, props: dict[str, Any]) -> str:
    """A zip function's ``Handler``; an image function's first ``ImageConfig.Command`` word, which the
    Lambda base image's entry point takes as the handler."""
    if props.get("PackageType", "Zip") != "Image":
        return str(props["Handler"])
    command = (props.get("ImageConfig") or {}).get("Command") or []
    if not command or not isinstance(command[0], str):
        raise TemplateError(f"{logical_id}: an image function names its handler in ImageConfig.Command")
    return command[0]


def _function(
    logical_id: str, props: dict[str, Any], r: _Resolver, metadata: dict[str, Any] | None = None
) -> FunctionSpec:
    env = {
        k: str(v)
        for k, v in r.resolve(props["Environment"]["Variables"]).items()
        if v is not None and not _is_dynamic_reference(v)
    }
    local = (metadata or {}).get("LocalCloud") or {}
    spec = FunctionSpec(
        logical_id=logical_id,
        name=r.physical_name(logical_id),
        handler=_handler(logical_id, props),
        code_uri=str(props.get("CodeUri", ".")),
        environment=env,
        timeout=float(props.get("Timeout", 3)),
        memory=int(props.get("MemorySize", 128)),
        always_open_schedule=local.get("AlwaysOpenMarketSchedule"),
        package_type=str(props.get("PackageType", "Zip")),
    )
    for name, event in (props.get("Events") or {}).items():
        kind, ev = event["Type"], r.resolve(event.get("Properties") or {})
        if kind in ("Api", "HttpApi"):
            spec.api_events.append(ApiEvent(name, ev.get("Path", "/"), ev.get("Method", "ANY").upper()))
        elif kind in ("Schedule", "ScheduleV2"):
            state = ev.get("State", "ENABLED")
            spec.schedule_events.append(
                ScheduleEvent(
                    name,
                    ev["Schedule"] if kind == "Schedule" else ev["ScheduleExpression"],
                    ev.get("ScheduleExpressionTimezone"),
                    ev.get("Input"),
                    bool(ev.get("Enabled", True)) and state != "DISABLED",
                )
            )
        elif kind == "SQS":
            raw_queue = (event.get("Properties") or {})["Queue"]
            queue = _logical_id_of(raw_queue)
            spec.sqs_events.append(
                SqsEvent(
                    name,
                    queue,
                    int(ev.get("BatchSize", 10)),
                    float(ev.get("MaximumBatchingWindowInSeconds", 0)),
                    "ReportBatchItemFailures" in (ev.get("FunctionResponseTypes") or []),
                    bool(ev.get("Enabled", True)),
                )
            )
    return spec


def _logical_id_of(reference: Any) -> str:
    """The resource a ``!GetAtt X.Arn`` / ``!Ref X`` points at."""
    if isinstance(reference, dict):
        if "Fn::GetAtt" in reference:
            arg = reference["Fn::GetAtt"]
            return str(arg[0] if isinstance(arg, list) else arg.split(".", 1)[0])
        if "Ref" in reference:
            return str(reference["Ref"])
    raise TemplateError(f"cannot tell which resource {reference!r} refers to")


def _queue(logical_id: str, props: dict[str, Any], r: _Resolver) -> QueueSpec:
    redrive = props.get("RedrivePolicy") or {}
    dlq = _logical_id_of(redrive["deadLetterTargetArn"]) if redrive else None
    return QueueSpec(
        logical_id=logical_id,
        name=r.physical_name(logical_id),
        visibility_timeout=int(r.resolve(props.get("VisibilityTimeout", 30))),
        message_retention=int(r.resolve(props.get("MessageRetentionPeriod", 345600))),
        fifo=bool(props.get("FifoQueue", False)),
        dead_letter_queue=dlq,
        max_receive_count=int(redrive["maxReceiveCount"]) if redrive else None,
    )


def _table(logical_id: str, props: dict[str, Any], r: _Resolver) -> TableSpec:
    props = r.resolve(props)
    create = {
        k: v
        for k, v in props.items()
        if k
        in (
            "KeySchema",
            "AttributeDefinitions",
            "GlobalSecondaryIndexes",
            "LocalSecondaryIndexes",
            "BillingMode",
            "ProvisionedThroughput",
        )
    }
    create.setdefault("BillingMode", "PAY_PER_REQUEST")
    ttl = props.get("TimeToLiveSpecification") or {}
    return TableSpec(
        logical_id, r.physical_name(logical_id), create, ttl.get("AttributeName") if ttl.get("Enabled") else None
    )


def _websocket_apis(resources: dict[str, Any], r: _Resolver) -> dict[str, WebSocketApiSpec]:
    apis: dict[str, WebSocketApiSpec] = {}
    for logical_id, res in resources.items():
        props = res.get("Properties") or {}
        if res["Type"] != "AWS::ApiGatewayV2::Api" or props.get("ProtocolType") != "WEBSOCKET":
            continue
        routes: dict[str, str] = {}
        for route in resources.values():
            rp = route.get("Properties") or {}
            if route["Type"] != "AWS::ApiGatewayV2::Route" or _logical_id_of(rp["ApiId"]) != logical_id:
                continue
            integration_id = re.search(r"integrations/(\S+)$", str(r.resolve(rp["Target"])))
            if not integration_id:
                raise TemplateError(f"route {rp['RouteKey']} has no integrations/<id> target")
            integration = resources[integration_id.group(1)]["Properties"]
            function = re.search(r"function:([^/:]+)", str(r.resolve(integration["IntegrationUri"])))
            if not function:
                raise TemplateError(f"integration of route {rp['RouteKey']} does not call a Lambda function")
            routes[rp["RouteKey"]] = _function_logical_id(resources, r, function.group(1))
        stage = next(
            (
                (s.get("Properties") or {}).get("StageName")
                for s in resources.values()
                if s["Type"] == "AWS::ApiGatewayV2::Stage"
                and _logical_id_of((s.get("Properties") or {}).get("ApiId")) == logical_id
            ),
            "Prod",
        )
        apis[logical_id] = WebSocketApiSpec(
            logical_id,
            r.physical_name(logical_id),
            props.get("RouteSelectionExpression", "$request.body.action"),
            routes,
            str(stage),
        )
    return apis


def _function_logical_id(resources: dict[str, Any], r: _Resolver, physical: str) -> str:
    for logical_id, res in resources.items():
        if res["Type"] == "AWS::Serverless::Function" and r.physical_name(logical_id) == physical:
            return logical_id
    raise TemplateError(f"no function named {physical}")


def read_template(
    path: Path,
    *,
    parameters: dict[str, str] | None = None,
    stack_name: str = "kstock",
    region: str = "ap-northeast-2",
    sqs_endpoint: str = "http://127.0.0.1:4566",
) -> Template:
    doc = load_yaml(path)
    resources: dict[str, Any] = doc.get("Resources") or {}
    params = {name: str(spec.get("Default", "")) for name, spec in (doc.get("Parameters") or {}).items()}
    params.update(parameters or {})
    r = _Resolver(resources, params, stack_name, region, sqs_endpoint)
    function_globals = ((doc.get("Globals") or {}).get("Function")) or {}

    functions, queues, tables = {}, {}, {}
    for logical_id, res in resources.items():
        props = res.get("Properties") or {}
        if res["Type"] == "AWS::Serverless::Function":
            functions[logical_id] = _function(
                logical_id, _merge_globals(function_globals, props), r, res.get("Metadata")
            )
        elif res["Type"] == "AWS::SQS::Queue":
            queues[logical_id] = _queue(logical_id, props, r)
        elif res["Type"] == "AWS::DynamoDB::Table":
            tables[logical_id] = _table(logical_id, props, r)
    for fn in functions.values():
        for ev in fn.sqs_events:
            if ev.queue not in queues:
                raise TemplateError(f"{fn.logical_id}: SQS event {ev.name} names unknown queue {ev.queue}")
    return Template(path, stack_name, region, params, functions, queues, tables, _websocket_apis(resources, r))
