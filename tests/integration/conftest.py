"""The proxy and admin apps in this process, behind the template's routes, against moto's
server and the Groq simulator (reached in-process through httpx's ASGI transport). The routes
that need IAM take SigV4 signatures made with the local credentials, as in `groq-gateway dev`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
from starlette.applications import Starlette

from groq_gateway.admin.app import create_app as create_admin_app
from groq_gateway.core.settings import Settings
from groq_gateway.proxy.app import create_app as create_proxy_app
from groq_gateway.store import GatewayStore
from groq_gateway_dev.devserver.iam import LOCAL_IAM
from groq_gateway_dev.devserver.routing import ApiRouter, ASGIApp
from groq_gateway_dev.devserver.template import ApiRoute, TemplateModel
from groq_gateway_dev.simulator import SimulatorConfig
from groq_gateway_dev.simulator import create_app as create_simulator
from tests.conftest import ADMIN_KEY, UPSTREAM_KEY


@dataclass
class LocalGateway:
    client: httpx.AsyncClient
    upstream: httpx.AsyncClient
    settings: Settings
    store: GatewayStore
    simulator: Starlette

    async def create_key(self, **body: object) -> dict[str, object]:
        body.setdefault("name", "test-key")
        response = await self.client.post(
            "/openai/v1/api-keys", json=body, headers={"authorization": f"Bearer {ADMIN_KEY}"}
        )
        assert response.status_code == 201, response.text
        created: dict[str, object] = response.json()
        return created


def gateway_settings(local_aws: dict[str, str], **changes: object) -> Settings:
    values: dict[str, object] = {
        "table_name": local_aws["GatewayTable"],
        "upstream_base_url": "http://upstream.test",
        "upstream_key_secret_id": local_aws["UpstreamKeySecret"],
        "admin_key_secret_id": local_aws["AdminKeySecret"],
        "key_cache_seconds": 0.2,
        "upstream_key_cache_seconds": 60,
        "org_monthly_cap_usd": 1000,  # as deployed: template.yaml's default
        "upstream_retry_budget_seconds": 2,
    }
    values.update(changes)
    return Settings.model_validate(values)


@pytest.fixture
async def gateway(
    local_aws: dict[str, str], template: TemplateModel
) -> AsyncIterator[LocalGateway]:
    settings = gateway_settings(local_aws)
    simulator = create_simulator(SimulatorConfig(api_keys=frozenset({UPSTREAM_KEY})))
    upstream_transport = httpx.ASGITransport(app=simulator)
    apps: dict[str, ASGIApp] = {
        "proxy": create_proxy_app(settings, upstream_transport=upstream_transport),
        "admin": create_admin_app(settings),
    }
    routes: list[tuple[ApiRoute, ASGIApp]] = [
        (route, apps[function.code_uri.name])
        for function in template.functions()
        if function.is_web_app
        for route in function.routes
    ]
    transport = httpx.ASGITransport(app=ApiRouter(routes, iam=LOCAL_IAM))
    async with (
        httpx.AsyncClient(transport=transport, base_url="http://gateway.test") as client,
        httpx.AsyncClient(transport=upstream_transport, base_url="http://upstream.test") as up,
    ):
        yield LocalGateway(client, up, settings, GatewayStore(settings.table_name), simulator)
