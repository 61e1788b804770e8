"""GET /openapi.json (generated from the registered routes) and GET /docs (a page rendering it,
with its script and style served from here: no CDN)."""

from pathlib import Path
from typing import Any

from chalice.app import Blueprint, Response

from chalicelib.openapi import document, operation
from chalicelib.web import json_response
from kstock.errors import NotFound

bp = Blueprint(__name__)
STATIC = Path(__file__).resolve().parent.parent / "static"
ASSETS = {"docs.js": "application/javascript; charset=utf-8", "docs.css": "text/css; charset=utf-8"}
_cache: dict[str, object] = {}


def _document() -> dict[str, Any]:
    app = bp.current_app
    key = f"{id(app)}:{sum(len(m) for m in app.routes.values())}"  # routes are fixed once imported
    if _cache.get("key") != key:
        _cache.update(key=key, document=document(app))
    return _cache["document"]  # type: ignore[return-value]


@bp.route("/openapi.json", methods=["GET"])
@operation("The OpenAPI document", raw=True, include=False)
def openapi_json() -> Response:
    """Not wrapped in the envelope: tools read it as is."""
    return json_response(_document())


@bp.route("/docs", methods=["GET"])
@operation("The API documentation page", raw=True, media_type="text/html", include=False)
def docs_page() -> Response:
    """The page loads ``docs/docs.js`` and ``openapi.json`` relative to itself, so ``/docs/`` goes
    back to ``/docs`` (this works under any stage prefix)."""
    if (bp.current_request.to_original_event().get("path") or "").endswith("/"):
        return Response(body="", status_code=301, headers={"Location": "../docs"})
    html = (STATIC / "docs.html").read_text(encoding="utf-8")
    return Response(body=html, status_code=200, headers={"Content-Type": "text/html; charset=utf-8"})


@bp.route("/docs/{asset}", methods=["GET"])
@operation("A static asset of the documentation page", raw=True, include=False)
def docs_asset(asset: str) -> Response:
    if asset not in ASSETS:
        raise NotFound(f"no asset {asset}")
    return Response(
        body=(STATIC / asset).read_text(encoding="utf-8"),
        status_code=200,
        headers={"Content-Type": ASSETS[asset], "Cache-Control": "public, max-age=300"},
    )
