"""The one middleware (mockle/web/gateway.py): its four duties keep the order they had as four
middlewares: last resort outermost, then the admin token, the journal, the faults."""

from __future__ import annotations

from typing import Any, TypeAlias

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from mockle.settings import Settings
from mockle.web import rest
from mockle.web.app import create_app
from mockle.web.gateway import gateway
from mockle.web.runtime import RUNTIME

Client: TypeAlias = "TestClient[Any, Any]"
ACC = "le12345678"
TOKEN_PATH = f"/sentinel/api/account/{ACC}/app/token?v=1.0&grant_type=client_credentials"
SEND = f"/api/account/{ACC}/messaging/consumer/conversation/send?v=3"
ADMIN = "s3cret"


def settings(**kw: Any) -> Settings:
    return Settings(port=0, agent="manual", **kw)


@pytest.fixture
async def client(aiohttp_client: Any) -> Client:
    made: Client = await aiohttp_client(create_app(settings(admin_token=ADMIN)))
    return made


def admin() -> dict[str, str]:
    return {"Authorization": f"Bearer {ADMIN}"}


async def entries(client: Client, **query: str) -> list[dict[str, Any]]:
    r = await client.get("/_mockle/requests", params=query, headers=admin())
    assert r.status == 200, await r.text()
    found: list[dict[str, Any]] = (await r.json())["requests"]
    return found


def test_the_app_has_one_middleware() -> None:
    app = create_app(settings())
    assert [m.__name__ for m in app.middlewares] == ["mockle_gateway"]


async def test_unknown_route_is_json_404_and_journaled(client: Client) -> None:
    r = await client.post(f"/api/account/{ACC}/nothing/here", data=b"hello")
    assert r.status == 404
    body = await r.json()
    assert "no mockle route for POST" in body["body"]["details"]
    (entry,) = await entries(client, target="other")
    assert entry["status"] == 404 and entry["body"] == "hello" and entry["error"] == "Not Found"


async def test_wrong_method_is_json_405_naming_the_allowed(client: Client) -> None:
    r = await client.get(SEND)
    assert r.status == 405
    assert "allowed: POST" in (await r.json())["body"]["details"]
    (entry,) = await entries(client, target="send")
    assert entry["status"] == 405 and entry["method"] == "GET"


async def test_the_admin_token_guards_control_only(client: Client) -> None:
    assert (await client.get("/_mockle/requests")).status == 401
    assert (await client.get("/_mockle/health")).status == 200
    r = await client.post(TOKEN_PATH, data={"client_id": "a", "client_secret": "b"})
    assert r.status == 200  # a LiveEngage call needs no admin token
    assert [e["target"] for e in await entries(client)] == ["sentinel"]  # control: not journaled


async def test_a_fault_answers_inside_the_journal(client: Client) -> None:
    r = await client.post(
        "/_mockle/faults",
        json={"target": "sentinel", "status": 429, "times": 1},
        headers=admin(),
    )
    assert r.status == 201, await r.text()
    r = await client.post(TOKEN_PATH, data={"client_id": "a", "client_secret": "b"})
    assert r.status == 429
    r = await client.post(TOKEN_PATH, data={"client_id": "a", "client_secret": "b"})
    assert r.status == 200  # times 1: used up
    assert [e["status"] for e in await entries(client, target="sentinel")] == [429, 200]


async def test_a_bug_is_a_bare_500_counted_for_the_plugin(
    aiohttp_client: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    async def broken(request: web.Request) -> web.Response:
        raise RuntimeError("secret detail")

    monkeypatch.setattr(rest, "send", broken)
    app = create_app(settings())
    client: Client = await aiohttp_client(app)
    r = await client.post(SEND, json={})
    assert r.status == 500
    text = await r.text()
    assert "secret detail" not in text and "see its log" in text
    assert app[RUNTIME].bugs == [f"POST {SEND.split('?')[0]}"]
    assert any("unhandled error in POST" in rec.getMessage() for rec in caplog.records)


async def test_a_body_over_the_limit_is_413(aiohttp_client: Any) -> None:
    client: Client = await aiohttp_client(create_app(settings(max_body_size=1024)))
    r = await client.post(SEND, data=b"x" * 5000, headers={"Content-Type": "application/json"})
    assert r.status == 413
    assert "1024" in await r.text()


def test_gateway_is_built_per_runtime() -> None:
    app = create_app(settings())
    assert gateway(app[RUNTIME]).__name__ == "mockle_gateway"
