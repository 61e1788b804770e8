"""The one factory of AWS clients: every boto3 client in kstock comes from here.

The endpoint comes from ``AWS_ENDPOINT_URL`` (moto locally, LocalStack, or unset for real AWS).
With a local endpoint and no credentials in the environment, dummy credentials are used: moto
and LocalStack accept any, and no real key is ever needed (or looked for) on a laptop.
"""

from __future__ import annotations

import os
import threading
from functools import lru_cache

import boto3
from botocore.config import Config

from kstock.config import get_settings

_lock = threading.Lock()
_LOCAL_HOSTS = ("127.0.0.1", "localhost", "[::1]")


def _is_local(endpoint: str | None) -> bool:
    return bool(endpoint) and any(f"//{host}" in endpoint for host in _LOCAL_HOSTS)


@lru_cache(maxsize=64)
def _client(service: str, endpoint: str | None, region: str, max_pool: int):
    credentials = {}
    if (endpoint and not os.environ.get("AWS_ACCESS_KEY_ID")) or _is_local(endpoint):
        credentials = {"aws_access_key_id": "local", "aws_secret_access_key": "local"}
    config = Config(region_name=region, retries={"mode": "standard", "max_attempts": 3},
                    max_pool_connections=max_pool)
    with _lock:  # boto3's default session is not thread-safe while creating clients
        return boto3.session.Session().client(service, endpoint_url=endpoint, config=config, **credentials)


def client(service: str, *, endpoint_url: str | None = None, max_pool: int = 10):
    """A cached client of ``service`` for the configured endpoint and region."""
    settings = get_settings()
    return _client(service, endpoint_url or settings.aws_endpoint_url, settings.aws_region, max_pool)


def connections_endpoint(domain_name: str, stage: str) -> str:
    """The ``@connections`` endpoint of a WebSocket API, as a handler learns it from its event.

    AWS: ``https://{domainName}/{stage}``. kstock's local gateway puts its loopback address in
    ``domainName`` and speaks plain HTTP, so loopback domains get ``http://``.
    """
    scheme = "http" if domain_name.split(":")[0] in ("127.0.0.1", "localhost") else "https"
    return f"{scheme}://{domain_name}/{stage}"


def connections_client(domain_name: str, stage: str, *, max_pool: int = 10):
    """``apigatewaymanagementapi`` client for the WebSocket API a handler was invoked by."""
    return client("apigatewaymanagementapi", endpoint_url=connections_endpoint(domain_name, stage),
                  max_pool=max_pool)
