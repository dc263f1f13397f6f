"""Token expiry, closing sockets, the admin token, and waiting on a conversation."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from mockle.settings import Settings
from mockle.web.app import create_app
from mockle.web.runtime import RUNTIME

from .toolkit_helpers import ACC, consumer, open_conversation, send_text


@pytest.fixture
async def client(aiohttp_client: Any) -> TestClient:
    return await aiohttp_client(create_app(Settings(port=0, agent="manual")))


async def test_expire_all_tokens_of_an_account_gives_40102(client: TestClient) -> None:
    who = await consumer(client)
    conv = await open_conversation(client, who)
    r = await client.post("/_mockle/tokens/expire", json={"account": ACC})
    assert r.status == 200 and (await r.json())["expired"] == 2
    r = await send_text(client, who, conv)
    doc = await r.json()
    assert r.status == 401 and doc["body"]["errorCode"] == 40102
    assert "expired" in doc["body"]["details"]
    fresh = await consumer(client)  # new tokens work at once
    assert (await send_text(client, fresh, conv)).status == 200


async def test_expire_one_consumer_gives_40103_and_spares_others(client: TestClient) -> None:
    alice = await consumer(client, "alice")
    bob = await consumer(client, "bob")
    conv_a = await open_conversation(client, alice)
    conv_b = await open_conversation(client, bob)
    r = await client.post(
        "/_mockle/tokens/expire", json={"account": ACC, "consumer_id": alice.consumer_id}
    )
    assert (await r.json())["expired"] == 1
    r = await send_text(client, alice, conv_a)
    assert r.status == 401 and (await r.json())["body"]["errorCode"] == 40103
    assert (await send_text(client, bob, conv_b)).status == 200
    r = await client.post("/_mockle/tokens/expire", json={"account": ACC, "ext_consumer_id": "bob"})
    assert (await r.json())["expired"] == 1
    assert (await send_text(client, bob, conv_b)).status == 401


@pytest.mark.parametrize(
    ("body", "where"),
    [
        ({}, "$.account"),
        ({"account": ""}, "$.account"),
        ({"account": "a", "who": 1}, "$.who"),
        ([], "$"),
    ],
)
async def test_expire_bad_bodies(client: TestClient, body: Any, where: str) -> None:
    r = await client.post("/_mockle/tokens/expire", json=body)
    assert r.status == 400 and (await r.json())["body"]["path"] == where


@dataclass
class Owner:
    account: str
    consumer_id: str


@dataclass(eq=False)
class FakeSocket:
    session: Owner
    closed: list[tuple[int, str]] = field(default_factory=list)

    def send_frame(self, frame: dict[str, Any]) -> None:
        pass

    def close(self, code: int, reason: str) -> None:
        self.closed.append((code, reason))


async def test_connections_close_by_account_and_consumer(client: TestClient) -> None:
    sockets: Any = client.server.app[RUNTIME].sockets
    s1, s2, s3 = (FakeSocket(Owner(a, c)) for a, c in ((ACC, "c1"), (ACC, "c2"), ("other", "c1")))
    sockets.update((s1, s2, s3))
    r = await client.post(
        "/_mockle/connections/close", json={"account": ACC, "consumer_id": "c1", "code": 1011}
    )
    assert (await r.json()) == {"closed": 1}
    assert s1.closed == [(1011, "closed through the control API")] and not s2.closed
    r = await client.post(
        "/_mockle/connections/close", json={"account": ACC, "code": 4401, "reason": "bye"}
    )
    assert (await r.json()) == {"closed": 2}
    assert s2.closed == [(4401, "bye")] and not s3.closed
    r = await client.post("/_mockle/connections/close", json={"account": ACC, "code": 99})
    assert r.status == 400 and (await r.json())["body"]["path"] == "$.code"
    sockets.clear()  # fakes: nothing for the shutdown to close


async def test_admin_token_guards_the_control_api_but_not_health(aiohttp_client: Any) -> None:
    client = await aiohttp_client(create_app(Settings(port=0, admin_token="s3cret")))
    assert (await client.get("/_mockle/health")).status == 200
    r = await client.get("/_mockle/faults")
    assert r.status == 401 and "admin token" in (await r.json())["body"]["details"]
    r = await client.get("/_mockle/faults", headers={"Authorization": "Bearer nope"})
    assert r.status == 401
    r = await client.get("/_mockle/faults", headers={"Authorization": "Bearer s3cret"})
    assert r.status == 200
    # LiveEngage routes are not guarded by the admin token
    assert (await client.get(f"/api/account/{ACC}/service/baseURI.json")).status == 200


async def test_conversation_events_long_poll_wakes_on_the_event(client: TestClient) -> None:
    who = await consumer(client)
    conv = await open_conversation(client, who)
    r = await client.get(f"/_mockle/conversations/{conv}/events")
    snap = await r.json()
    assert snap["events"] == [] and snap["next"] == 0 and snap["state"] == "OPEN"
    poll = asyncio.ensure_future(
        client.get(f"/_mockle/conversations/{conv}/events?after=0&wait=10")
    )
    await asyncio.sleep(0)
    assert (await send_text(client, who, conv, "wake up")).status == 200
    r = await asyncio.wait_for(poll, 5)
    snap = await r.json()
    assert [e["event"]["message"] for e in snap["events"]] == ["wake up"]
    assert snap["next"] == 1
    version = snap["version"]
    poll = asyncio.ensure_future(
        client.get(f"/_mockle/conversations/{conv}/events?after=1&version={version}&wait=10")
    )
    await asyncio.sleep(0)
    runtime = client.server.app[RUNTIME]
    from mockle.core.engine import Effects

    runtime.engine.join_agent(runtime.engine.conversation(ACC, conv), Effects())
    snap = await (await asyncio.wait_for(poll, 5)).json()
    assert snap["events"] == [] and snap["version"] > version
    assert any(p["role"] == "ASSIGNED_AGENT" for p in snap["participants"])


async def test_conversation_events_errors(client: TestClient) -> None:
    r = await client.get("/_mockle/conversations/nope/events")
    assert r.status == 404
    who = await consumer(client)
    conv = await open_conversation(client, who)
    r = await client.get(f"/_mockle/conversations/{conv}/events?after=-1")
    assert r.status == 400
    r = await client.get(f"/_mockle/conversations/{conv}/events?wait=0.01&account=other")
    assert r.status == 404
    r = await client.get(f"/_mockle/conversations/{conv}/events?wait=0.01&after=5")
    assert r.status == 200 and (await r.json())["events"] == []
