"""``webhook`` faults against a real receiver: status (retried), drop, delay, and the journal."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from mockle.settings import Settings
from mockle.web.app import create_app

ACC = "le-hooks"
KEY = "ms.MessagingEventNotification.ContentEvent"


@pytest.fixture
async def receiver() -> AsyncIterator[tuple[str, asyncio.Queue[bytes]]]:
    got: asyncio.Queue[bytes] = asyncio.Queue()

    async def hook(request: web.Request) -> web.Response:
        got.put_nowait(await request.read())
        return web.Response(status=200)

    app = web.Application()
    app.router.add_post("/hook", hook)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        yield str(server.make_url("/hook")), got
    finally:
        await server.close()


@pytest.fixture
async def mockle(aiohttp_client: Any) -> TestClient:
    settings = Settings(port=0, agent="manual", webhook_retry_interval=0.01, webhook_timeout=2)
    return await aiohttp_client(create_app(settings))


async def _setup(mockle: TestClient, endpoint: str) -> str:
    manifest = {
        "account": ACC,
        "client_name": "hooks",
        "capabilities": {"webhooks": {KEY: {"endpoint": endpoint, "max_retries": 2}}},
    }
    r = await mockle.post("/_mockle/apps", json=manifest)
    assert r.status == 201, await r.text()
    creds = await r.json()
    r = await mockle.post(
        f"/sentinel/api/account/{ACC}/app/token?grant_type=client_credentials",
        data={"client_id": creds["client_id"], "client_secret": creds["client_secret"]},
    )
    app = (await r.json())["access_token"]
    r = await mockle.post(
        f"/api/account/{ACC}/consumer",
        json={"ext_consumer_id": "x"},
        headers={"Authorization": app},
    )
    jws = (await r.json())["token"]
    batch = [
        {"kind": "req", "id": "1", "type": "userprofile.SetUserProfile", "body": {}},
        {"kind": "req", "id": "2", "type": "cm.ConsumerRequestConversation", "body": {}},
    ]
    r = await mockle.post(
        f"/api/account/{ACC}/messaging/consumer/conversation",
        json=batch,
        headers={"Authorization": app, "X-LP-ON-BEHALF": jws},
    )
    return str((await r.json())[1]["body"]["conversationId"])


async def _say(mockle: TestClient, conv: str, text: str) -> None:
    event = {"type": "ContentEvent", "contentType": "text/plain", "message": text}
    r = await mockle.post(f"/_mockle/conversations/{conv}/agent/publish", json={"event": event})
    assert r.status == 200, await r.text()


async def _deliveries(mockle: TestClient, count: int) -> list[dict[str, Any]]:
    r = await mockle.get(f"/_mockle/webhooks/deliveries?account={ACC}&wait=5&min={count}")
    return list((await r.json())["deliveries"])


async def test_status_fault_is_retried_then_delivered(
    mockle: TestClient, receiver: tuple[str, asyncio.Queue[bytes]]
) -> None:
    endpoint, got = receiver
    conv = await _setup(mockle, endpoint)
    r = await mockle.post(
        "/_mockle/faults",
        json={"target": "webhook", "status": 503, "times": 2, "match": {"type": KEY}},
    )
    assert r.status == 201
    await _say(mockle, conv, "hello")
    body = await asyncio.wait_for(got.get(), 5)
    assert b"hello" in body
    (d,) = await _deliveries(mockle, 1)
    assert d["delivered"] and [a["status"] for a in d["attempts"]] == [503, 503, 200]
    r = await mockle.get(f"/_mockle/requests?target=webhook&account={ACC}")
    entries = (await r.json())["requests"]
    assert [e["status"] for e in entries] == [503, 503, 200]
    assert entries[0]["path"] == endpoint and entries[0]["type"] == KEY


async def test_drop_fault_fails_the_delivery_and_posts_nothing(
    mockle: TestClient, receiver: tuple[str, asyncio.Queue[bytes]]
) -> None:
    endpoint, got = receiver
    conv = await _setup(mockle, endpoint)
    await mockle.post("/_mockle/faults", json={"target": "webhook", "drop": True})
    await _say(mockle, conv, "lost")
    (d,) = await _deliveries(mockle, 1)
    assert not d["delivered"] and d["attempts"][0]["status"] is None
    assert got.empty()
    await _say(mockle, conv, "next one arrives")
    assert b"next one arrives" in await asyncio.wait_for(got.get(), 5)


async def test_delay_fault_delays_but_delivers(
    mockle: TestClient, receiver: tuple[str, asyncio.Queue[bytes]]
) -> None:
    endpoint, got = receiver
    conv = await _setup(mockle, endpoint)
    await mockle.post("/_mockle/faults", json={"target": "webhook", "delay_ms": 50})
    loop = asyncio.get_running_loop()
    start = loop.time()
    await _say(mockle, conv, "late")
    assert b"late" in await asyncio.wait_for(got.get(), 5)
    assert loop.time() - start >= 0.045


async def test_webhook_faults_of_another_account_do_not_apply(
    mockle: TestClient, receiver: tuple[str, asyncio.Queue[bytes]]
) -> None:
    endpoint, got = receiver
    conv = await _setup(mockle, endpoint)
    await mockle.post(
        "/_mockle/faults",
        json={"target": "webhook", "status": 500, "times": 0, "match": {"account": "other"}},
    )
    await _say(mockle, conv, "mine")
    assert b"mine" in await asyncio.wait_for(got.get(), 5)
