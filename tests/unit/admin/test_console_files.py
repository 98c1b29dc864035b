"""The console's files (groq_gateway/admin/console/, docs/console.md) as the admin app serves
them: public, only the shipped files, with the security headers and revalidated caching; and
as the wheel and the layer ship them."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import boto3
import httpx
import pytest

from groq_gateway.admin.app import create_app
from groq_gateway.core.settings import Settings
from groq_gateway.store import GatewayStore

pytestmark = pytest.mark.anyio
ROOT = Path(__file__).resolve().parents[3]
CONSOLE = ROOT / "layers" / "gateway" / "groq_gateway" / "admin" / "console"
CSP = "default-src 'self'; frame-ancestors 'none'"


def client() -> httpx.AsyncClient:
    dynamodb = boto3.client(
        "dynamodb", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    app = create_app(Settings(table_name="unit"), store=GatewayStore("unit", client=dynamodb))
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://local")


def shipped() -> list[str]:
    return sorted(str(p.relative_to(CONSOLE)) for p in CONSOLE.rglob("*") if p.is_file())


@pytest.mark.parametrize(
    ("path", "media_type"),
    [
        ("/console/", "text/html"),
        ("/console/index.html", "text/html"),
        ("/console/console.css", "text/css"),
        ("/console/js/app.js", "text/javascript"),
        ("/console/js/pages/keys.js", "text/javascript"),
    ],
)
async def test_every_file_is_served_without_a_key_with_the_security_headers(
    path: str, media_type: str
) -> None:
    async with client() as http:
        response = await http.get(path)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith(media_type)
    assert response.headers["content-security-policy"] == CSP
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert response.headers["cache-control"] == "no-cache"
    name = "index.html" if path.endswith("/") else path.removeprefix("/console/")
    assert response.content == (CONSOLE / name).read_bytes()


async def test_an_unchanged_file_is_a_304_and_a_changed_one_is_sent_again() -> None:
    async with client() as http:
        first = await http.get("/console/js/app.js")
        again = await http.get(
            "/console/js/app.js", headers={"if-none-match": first.headers["etag"]}
        )
        other = await http.get("/console/js/app.js", headers={"if-none-match": '"stale"'})
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["content-security-policy"] == CSP
    assert other.status_code == 200


async def test_the_bare_path_redirects_relative_to_keep_the_stage() -> None:
    async with client() as http:
        response = await http.get("/console")
    assert response.status_code == 308
    assert response.headers["location"] == "console/"


@pytest.mark.parametrize(
    "path",
    [
        "/console/nope.js",
        "/console/../app.py",
        "/console/%2e%2e/routes/console.py",
        "/console/js/../../routes/console.py",
        "/console/..%2Froutes%2Fconsole.py",
        "/console/js",
    ],
)
async def test_anything_but_a_shipped_file_is_an_openai_format_404(path: str) -> None:
    async with client() as http:
        response = await http.get(path)
    assert response.status_code == 404
    assert response.json()["error"]["code"] in ("not_found", "unknown_url")
    assert b"import" not in response.content


async def test_the_console_is_not_in_the_openapi_document() -> None:
    async with client() as http:
        document = (await http.get("/openai/v1/admin/openapi.json")).json()
    assert not [path for path in document["paths"] if "console" in path]


def test_the_page_has_no_inline_script_or_style_and_loads_nothing_from_elsewhere() -> None:
    # What the Content-Security-Policy would block: the page must not need it.
    for name in shipped():
        text = (CONSOLE / name).read_text(encoding="utf-8")
        assert not re.search(r"https?://(?!www\.w3\.org/2000/svg)", text), name
        for markup_or_code in (
            "innerHTML",
            "outerHTML",
            "insertAdjacentHTML",
            "eval(",
            "Function(",
        ):
            assert markup_or_code not in text, name
    index = (CONSOLE / "index.html").read_text(encoding="utf-8")
    assert not re.search(r"<script(?![^>]*\bsrc=)", index)
    assert not re.search(r"<style|\sstyle=|\son[a-z]+=", index)


def test_the_wheel_ships_every_console_file() -> None:
    # pip install groq-gateway: package-data must name every file (the layer copies the tree).
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    globs = config["tool"]["setuptools"]["package-data"]["groq_gateway.admin"]
    package = CONSOLE.parent
    included = {str(p.relative_to(CONSOLE)) for g in globs for p in package.glob(g)}
    assert shipped()
    assert sorted(included) == shipped()
