"""The one factory of AWS clients: every AWS client in kstock (boto3 or PynamoDB, in Lambda, the
streamer, the CLI and the benchmarks) gets its endpoint and credentials from here.

The endpoint comes from ``AWS_ENDPOINT_URL`` (moto locally, LocalStack, or unset for real AWS).
Against a local endpoint the credentials are local dummies; against AWS, the default chain. Nothing
depends on the user's shell or ``~/.aws``: a fresh machine with neither works the same.
"""

from __future__ import annotations

import os
import threading
from functools import lru_cache
from typing import TYPE_CHECKING, Literal, overload

import boto3
from botocore.config import Config

from kstock.config import get_settings

if TYPE_CHECKING:  # the stub packages are development-only: Lambda never imports them
    from botocore.client import BaseClient
    from mypy_boto3_apigatewaymanagementapi import ApiGatewayManagementApiClient
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_sqs import SQSClient

_lock = threading.Lock()
_LOCAL_HOSTS = ("127.0.0.1", "localhost", "[::1]")
# What moto, LocalStack and kstock's local gateway accept: no real key is ever needed, or looked for,
# on a laptop, and a developer's real keys in the shell are never sent to a local endpoint.
LOCAL_CREDENTIALS = {"aws_access_key_id": "local", "aws_secret_access_key": "local"}


def is_local(endpoint: str | None) -> bool:
    """True for a loopback endpoint (moto, kstock's gateway, a LocalStack port on this machine)."""
    return endpoint is not None and any(f"//{host}" in endpoint for host in _LOCAL_HOSTS)


def credentials(endpoint: str | None = None) -> dict[str, str]:
    """The credentials every AWS client of kstock uses, boto3 or PynamoDB alike.

    A loopback endpoint gets local credentials. Another explicit endpoint (LocalStack in compose)
    gets them too unless the environment names a key. No endpoint means real AWS: an empty dict,
    so the default chain (the Lambda or task role) applies.
    """
    endpoint = endpoint if endpoint is not None else get_settings().aws_endpoint_url
    if is_local(endpoint) or (endpoint and not os.environ.get("AWS_ACCESS_KEY_ID")):
        return dict(LOCAL_CREDENTIALS)
    return {}


@lru_cache(maxsize=64)
def _client(service: str, endpoint: str | None, region: str, max_pool: int) -> BaseClient:
    config = Config(region_name=region, retries={"mode": "standard", "max_attempts": 3}, max_pool_connections=max_pool)
    with _lock:  # boto3's default session is not thread-safe while creating clients
        session = boto3.session.Session()
        # boto3's stubs type client() per literal service name only; this factory takes any name, and
        # client() below gives its callers the precise type of the services kstock uses.
        return session.client(service, endpoint_url=endpoint, config=config, **credentials(endpoint))  # type: ignore[call-overload,no-any-return]


@overload
def client(
    service: Literal["sqs"], *, endpoint_url: str | None = None, max_pool: int = 10, region: str | None = None
) -> SQSClient: ...
@overload
def client(
    service: Literal["dynamodb"], *, endpoint_url: str | None = None, max_pool: int = 10, region: str | None = None
) -> DynamoDBClient: ...
@overload
def client(
    service: Literal["apigatewaymanagementapi"],
    *,
    endpoint_url: str | None = None,
    max_pool: int = 10,
    region: str | None = None,
) -> ApiGatewayManagementApiClient: ...
@overload
def client(
    service: str, *, endpoint_url: str | None = None, max_pool: int = 10, region: str | None = None
) -> BaseClient: ...
def client(
    service: str, *, endpoint_url: str | None = None, max_pool: int = 10, region: str | None = None
) -> BaseClient:
    """A cached client of ``service`` for the configured (or given) endpoint and region."""
    settings = get_settings()
    return _client(service, endpoint_url or settings.aws_endpoint_url, region or settings.aws_region, max_pool)


def connections_endpoint(domain_name: str, stage: str) -> str:
    """The ``@connections`` endpoint of a WebSocket API, as a handler learns it from its event.

    AWS: ``https://{domainName}/{stage}``. kstock's local gateway puts its loopback address in
    ``domainName`` and speaks plain HTTP, so loopback domains get ``http://``.
    """
    scheme = "http" if domain_name.split(":")[0] in ("127.0.0.1", "localhost") else "https"
    return f"{scheme}://{domain_name}/{stage}"


def connections_client(domain_name: str, stage: str, *, max_pool: int = 10) -> ApiGatewayManagementApiClient:
    """``apigatewaymanagementapi`` client for the WebSocket API a handler was invoked by."""
    return client("apigatewaymanagementapi", endpoint_url=connections_endpoint(domain_name, stage), max_pool=max_pool)
