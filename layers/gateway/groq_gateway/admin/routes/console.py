"""``/console/``: the console's page, scripts and styles, served from the package
(``groq_gateway/admin/console/``). See docs/console.md.

No key is needed and none is read here: the files hold no data, and every call the page makes
goes to the admin API with the admin key the user typed in. Every answer carries a
Content-Security-Policy that allows only this origin's own files (no inline script or style,
nothing fetched elsewhere) and forbids framing. Files are revalidated on every load (an ETag
of their content), so a new release is never mixed with an old cached module.

Example::

    app.include_router(console.router)   # GET /console/ -> index.html
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from importlib.resources.abc import Traversable

from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

from groq_gateway.core.errors import GatewayError

router = APIRouter(prefix="/console", include_in_schema=False)

SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}
MEDIA_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
}


@dataclass(frozen=True)
class Asset:
    body: bytes
    media_type: str
    etag: str


def _walk(folder: Traversable, prefix: str = "") -> dict[str, Traversable]:
    found: dict[str, Traversable] = {}
    for entry in folder.iterdir():
        if entry.is_dir():
            found |= _walk(entry, f"{prefix}{entry.name}/")
        elif "." + entry.name.rpartition(".")[2] in MEDIA_TYPES:
            found[prefix + entry.name] = entry
    return found


@cache
def assets() -> dict[str, Asset]:
    """Every file the console is made of, by its path below ``/console/``; read once per
    instance, on the first request for one (not at the function's start)."""
    loaded = {}
    for path, entry in _walk(files("groq_gateway.admin") / "console").items():
        body = entry.read_bytes()
        media_type = MEDIA_TYPES["." + path.rpartition(".")[2]]
        loaded[path] = Asset(body, media_type, f'"{hashlib.sha256(body).hexdigest()[:32]}"')
    return loaded


def _answer(path: str, request: Request) -> Response:
    asset = assets().get(path)
    if asset is None:  # only the files shipped: no path is ever joined to a directory
        raise GatewayError(404, f"No such console file: /console/{path}", code="not_found")
    headers = {**SECURITY_HEADERS, "ETag": asset.etag}
    if asset.etag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    return Response(asset.body, media_type=asset.media_type, headers=headers)


@router.get("")
async def console_without_slash() -> Response:
    # Relative, so that the stage's prefix (/prod/console -> /prod/console/) is kept.
    return RedirectResponse("console/", status_code=308, headers=SECURITY_HEADERS)


@router.get("/")
async def console_page(request: Request) -> Response:
    return _answer("index.html", request)


@router.get("/{path:path}")
async def console_file(path: str, request: Request) -> Response:
    return _answer(path, request)
