"""LocalStack as the local stack's AWS (`kstock up --localstack`, `kstock provision --localstack`).

localstack-client is the one place that knows where LocalStack's edge is: ``LOCALSTACK_HOST``
(host:port, default localhost:4566), ``USE_SSL``, or an ``AWS_ENDPOINT_URL`` already set. kstock
asks it instead of hard-coding the port, then hands the edge URL to everything else as
``AWS_ENDPOINT_URL``: the core's client factory (:mod:`kstock.aws`) reads only that variable, because
Lambda and the streamer image do not install localstack-client.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request

HEALTH_PATH = "/_localstack/health"
COMPOSE_HINT = "docker compose -f local/localstack/docker-compose.yml up -d"


class LocalStackUnavailable(RuntimeError):
    """LocalStack was asked for and is not there (not installed, not running, or something else answers)."""


def edge_url(localstack_host: str | None = None) -> str:
    """LocalStack's edge URL, as localstack-client resolves it (``localstack_host`` is host:port)."""
    try:
        from localstack_client import config  # type: ignore[import-untyped, unused-ignore]
    except ImportError as exc:  # declared in pyproject; absent only in a trimmed environment
        raise LocalStackUnavailable("localstack-client is not installed (pip install localstack-client)") from exc
    endpoint: str | None = config.get_service_endpoint("edge", localstack_host)
    if not endpoint:
        raise LocalStackUnavailable("localstack-client knows no edge endpoint")
    return endpoint.rstrip("/")


def require_running(endpoint: str, timeout: float = 3.0) -> dict[str, object]:
    """LocalStack's health document at ``endpoint``; :class:`LocalStackUnavailable` naming the address
    and what to do when nothing answers there, or something that is not LocalStack does."""
    url = endpoint + HEALTH_PATH
    try:
        with urllib.request.urlopen(url, timeout=timeout) as answer:
            document = json.loads(answer.read() or b"{}")
    except urllib.error.HTTPError as exc:
        raise LocalStackUnavailable(
            f"{endpoint} answers, but not as LocalStack ({HEALTH_PATH}: HTTP {exc.code}); "
            "set LOCALSTACK_HOST=host:port to where LocalStack listens"
        ) from None
    except (OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise LocalStackUnavailable(
            f"LocalStack is not answering at {endpoint} ({reason}). Start it with `{COMPOSE_HINT}` "
            "(it needs Docker and LOCALSTACK_AUTH_TOKEN), set LOCALSTACK_HOST=host:port if it listens "
            "elsewhere, or run `kstock up` without --localstack to use moto"
        ) from None
    if not isinstance(document, dict) or "services" not in document:
        raise LocalStackUnavailable(f"{url} answered without a services list: not LocalStack")
    return document


def connect(localstack_host: str | None = None, timeout: float = 3.0) -> str:
    """The edge URL of a LocalStack that answers its health check (for ``AWS_ENDPOINT_URL``)."""
    endpoint = edge_url(localstack_host)
    require_running(endpoint, timeout)
    return endpoint
