"""``/stream/*`` on the local HTTP API: forwarded, as it arrives, to the streamer's HTTP port.

API Gateway REST cannot stream an answer, so Server-Sent Events are not a function's route: in AWS the
streamer serves them behind an ALB (template.yaml, "SSE"). On a laptop the one API address
(KSTOCK_API_PORT) serves them too, by passing the request to the streamer and each chunk of its answer
back as soon as it comes (no buffering, or the events would wait for the end of the stream).
"""

from __future__ import annotations

from collections.abc import Mapping

import aiohttp
from aiohttp import web

from kstock.errors import StreamUnavailable

PREFIX = "/stream/"

# RFC 9110 hop-by-hop fields, and those aiohttp sets itself for its own connection
_NOT_FORWARDED = {
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "host",
    "content-length",
}
# connect: the streamer is up or not; no read timeout: a stream is quiet between heartbeats as long as it likes
_TIMEOUT = aiohttp.ClientTimeout(total=None, connect=5, sock_connect=5, sock_read=None)


def handles(path: str) -> bool:
    return path.startswith(PREFIX)


def _forwarded(headers: Mapping[str, str]) -> dict[str, str]:
    return {name: value for name, value in headers.items() if name.lower() not in _NOT_FORWARDED}


async def forward(request: web.Request, upstream: str) -> web.StreamResponse:
    """Pass ``request`` to ``upstream`` (``http://127.0.0.1:8081``) and stream its answer back.

    :class:`StreamUnavailable` when the streamer does not answer (the gateway's envelope, 503)."""
    headers = {**_forwarded(request.headers), "X-Forwarded-For": request.remote or "127.0.0.1"}
    body = await request.read()
    try:
        async with (
            aiohttp.ClientSession(timeout=_TIMEOUT, auto_decompress=False) as client,
            client.request(
                request.method, upstream + request.path_qs, headers=headers, data=body or None, allow_redirects=False
            ) as answer,
        ):
            return await _relay(request, answer)
    except aiohttp.ClientConnectorError:
        raise StreamUnavailable("the streamer is not running: live streams need it (kstock up starts it)") from None


async def _relay(request: web.Request, answer: aiohttp.ClientResponse) -> web.StreamResponse:
    response = web.StreamResponse(status=answer.status, headers=_forwarded(answer.headers))
    await response.prepare(request)
    try:
        async for chunk in answer.content.iter_any():
            await response.write(chunk)
        await response.write_eof()
    except (ConnectionResetError, aiohttp.ClientPayloadError):  # the client or the streamer went away
        pass
    return response
