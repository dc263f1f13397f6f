"""Fault injection over HTTP: the control routes and every REST target and action."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient

from mockle.settings import Settings
from mockle.web.app import create_app

from .toolkit_helpers import ACC, batch, consumer, conv_path, open_conversation, send_text, text


@pytest.fixture
async def client(aiohttp_client: Any) -> TestClient:
    return await aiohttp_client(create_app(Settings(port=0, agent="manual")))


async def add(client: TestClient, spec: dict[str, Any]) -> str:
    r = await client.post("/_mockle/faults", json=spec)
    assert r.status == 201, await r.text()
    return str((await r.json())["id"])


async def test_create_list_delete(client: TestClient) -> None:
    fid = await add(client, {"target": "send", "status": 503, "match": {"account": ACC}})
    r = await client.get("/_mockle/faults")
    assert (await r.json()) == {
        "faults": [
            {
                "id": fid,
                "target": "send",
                "status": 503,
                "match": {"account": ACC},
                "fired": 0,
                "active": True,
            }
        ]
    }
    assert (await (await client.get("/_mockle/faults?account=other")).json()) == {"faults": []}
    r = await client.delete(f"/_mockle/faults/{fid}")
    assert r.status == 200
    r = await client.delete(f"/_mockle/faults/{fid}")
    assert r.status == 404
    assert "does not exist" in (await r.json())["body"]["details"]
    await add(client, {"target": "send", "status": 503})
    await add(client, {"target": "idp", "status": 503})
    r = await client.delete("/_mockle/faults")
    assert (await r.json()) == {"deleted": 2}


@pytest.mark.parametrize(
    ("body", "where"),
    [
        (b"", "$"),
        (b"{not json", "$"),
        (b'{"target": "send"}', "$"),
        (b'{"target": "sms", "status": 500}', "$.target"),
    ],
)
async def test_bad_fault_bodies_get_400_with_where(
    client: TestClient, body: bytes, where: str
) -> None:
    r = await client.post("/_mockle/faults", data=body)
    assert r.status == 400
    doc = await r.json()
    assert doc["type"] == ".ReqBody$ErrorResp" and doc["body"]["path"] == where


async def test_status_on_every_rest_target(client: TestClient) -> None:
    who = await consumer(client)
    calls = {
        "csds": ("GET", f"/api/account/{ACC}/service/baseURI.json?version=1.0", None, {}),
        "sentinel": (
            "POST",
            f"/sentinel/api/account/{ACC}/app/token?grant_type=client_credentials",
            {"client_id": "a", "client_secret": "b"},
            {},
        ),
        "idp": ("POST", f"/api/account/{ACC}/consumer", None, {"Authorization": who.app}),
        "conversation": ("POST", conv_path(), None, who.headers()),
        "send": ("POST", conv_path() + "/send".replace("?v=3", ""), None, who.headers()),
    }
    for target, (method, path, form, headers) in calls.items():
        await add(client, {"target": target, "status": 503, "match": {"account": ACC}})
        if target == "send":
            path = f"/api/account/{ACC}/messaging/consumer/conversation/send?v=3"
        r = await client.request(method, path, data=form, headers=headers)
        assert r.status == 503, target
        doc = await r.json()
        if target == "sentinel":
            assert doc["error"] == "server_error"
        else:
            assert doc["code"] == 503 and doc["body"]["details"] == "injected fault"
    faults = (await (await client.get("/_mockle/faults")).json())["faults"]
    assert [f["fired"] for f in faults] == [1, 1, 1, 1, 1]


async def test_401_and_429_defaults_are_the_documented_ones(client: TestClient) -> None:
    who = await consumer(client)
    await add(client, {"target": "conversation", "status": 401})
    r = await client.post(conv_path(), json=batch(), headers=who.headers())
    doc = await r.json()
    assert r.status == 401 and doc["body"]["errorCode"] == 40102
    await add(client, {"target": "conversation", "status": 429})
    r = await client.post(conv_path(), json=batch(), headers=who.headers())
    assert r.status == 429 and r.headers["Retry-After"] == "1"
    await add(
        client,
        {"target": "conversation", "status": 400, "body": {"x": 1}, "headers": {"X-A": "b"}},
    )
    r = await client.post(conv_path(), json=batch(), headers=who.headers())
    assert r.status == 400 and (await r.json()) == {"x": 1} and r.headers["X-A"] == "b"
    # spent faults let the real service answer again
    r = await client.post(conv_path(), json=batch(), headers=who.headers())
    assert r.status == 200


async def test_delay_then_real_answer(client: TestClient) -> None:
    import asyncio

    who = await consumer(client)
    await add(client, {"target": "conversation", "delay_ms": 150})
    loop = asyncio.get_running_loop()
    start = loop.time()
    r = await client.post(conv_path(), json=batch(), headers=who.headers())
    assert r.status == 200
    assert loop.time() - start >= 0.14


async def test_drop_aborts_the_connection_without_an_answer(client: TestClient) -> None:
    who = await consumer(client)
    await add(client, {"target": "conversation", "drop": True})
    with pytest.raises(aiohttp.ClientError):
        await client.post(conv_path(), json=batch(), headers=who.headers())
    r = await client.get(f"/_mockle/requests?target=conversation&account={ACC}")
    (entry,) = (await r.json())["requests"]
    assert entry["status"] is None and entry["error"] == "dropped by a fault"
    # nothing was created: the connector may retry
    r = await client.post(conv_path(), json=batch(), headers=who.headers())
    assert r.status == 200


async def test_match_by_consumer_conversation_and_type(client: TestClient) -> None:
    alice = await consumer(client, "alice")
    bob = await consumer(client, "bob")
    conv_a = await open_conversation(client, alice)
    conv_b = await open_conversation(client, bob)
    await add(
        client,
        {"target": "send", "status": 500, "times": 0, "match": {"consumer_id": alice.consumer_id}},
    )
    assert (await send_text(client, alice, conv_a)).status == 500
    assert (await send_text(client, bob, conv_b)).status == 200
    await client.delete("/_mockle/faults")
    await add(
        client, {"target": "send", "status": 500, "times": 0, "match": {"conversation_id": conv_b}}
    )
    assert (await send_text(client, alice, conv_a)).status == 200
    assert (await send_text(client, bob, conv_b)).status == 500
    await client.delete("/_mockle/faults")
    await add(
        client,
        {"target": "send", "status": 500, "times": 0, "match": {"type": ".ams.ms.PublishEvent"}},
    )
    assert (await send_text(client, alice, conv_a)).status == 500
    close = {
        "kind": "req",
        "id": "2",
        "type": "cm.UpdateConversationField",
        "body": {
            "conversationId": conv_a,
            "conversationField": {"field": "ConversationStateField", "conversationState": "CLOSE"},
        },
    }
    r = await client.post(
        f"/api/account/{ACC}/messaging/consumer/conversation/send",
        json=close,
        headers=alice.headers(),
    )
    assert r.status == 200


async def test_faults_of_one_account_never_touch_another(client: TestClient) -> None:
    a = await consumer(client, "x", account="A1")
    b = await consumer(client, "x", account="B2")
    await add(client, {"target": "*", "status": 500, "times": 0, "match": {"account": "A1"}})
    r = await client.post(conv_path("B2"), json=batch(), headers=b.headers())
    assert r.status == 200
    r = await client.post(conv_path("A1"), json=batch(), headers=a.headers())
    assert r.status == 500
    r = await client.get("/api/account/A1/service/baseURI.json")
    assert r.status == 500


async def test_probability_with_seed_is_reproducible_over_http(client: TestClient) -> None:
    async def run() -> list[int]:
        await client.delete("/_mockle/faults")
        await add(
            client,
            {"target": "csds", "status": 503, "times": 0, "probability": 0.5, "seed": 7},
        )
        out = []
        for _ in range(20):
            r = await client.get(f"/api/account/{ACC}/service/baseURI.json")
            out.append(r.status)
        return out

    first = await run()
    assert first == await run()
    assert set(first) == {200, 503}


async def test_ws_connect_status_and_close_code(client: TestClient) -> None:
    path = f"/ws_api/account/{ACC}/messaging/consumer?v=3"
    await add(client, {"target": "ws_connect", "status": 503})
    with pytest.raises(aiohttp.WSServerHandshakeError) as info:
        await client.ws_connect(path)
    assert info.value.status == 503
    await add(client, {"target": "ws_connect", "close_code": 4401, "reason": "go away"})
    ws = await client.ws_connect(path)
    msg = await ws.receive(timeout=5)
    assert msg.type == aiohttp.WSMsgType.CLOSE
    assert ws.close_code == 4401 and msg.extra == "go away"
    await add(client, {"target": "ws_connect", "drop": True})
    with pytest.raises(aiohttp.ClientError):
        await client.ws_connect(path)


async def test_no_fault_no_cost_path_keeps_answers_unchanged(client: TestClient) -> None:
    who = await consumer(client)
    conv = await open_conversation(client, who)
    r = await client.post(
        f"/api/account/{ACC}/messaging/consumer/conversation/send",
        json=text(conv),
        headers=who.headers(),
    )
    assert r.status == 200 and (await r.json())["body"]["sequence"] == 0


REST_CALLS = {
    "csds": ("GET", f"/api/account/{ACC}/service/baseURI.json"),
    "sentinel": ("POST", f"/sentinel/api/account/{ACC}/app/token?grant_type=client_credentials"),
    "idp": ("POST", f"/api/account/{ACC}/consumer"),
    "conversation": ("POST", f"/api/account/{ACC}/messaging/consumer/conversation"),
    "send": ("POST", f"/api/account/{ACC}/messaging/consumer/conversation/send"),
}


@pytest.mark.parametrize("target", sorted(REST_CALLS))
@pytest.mark.parametrize("action", ["status", "delay", "drop", "star"])
async def test_every_rest_target_and_action(client: TestClient, target: str, action: str) -> None:
    method, path = REST_CALLS[target]
    spec: dict[str, Any] = {
        "status": {"target": target, "status": 418},
        "delay": {"target": target, "delay_ms": 30, "status": 418},
        "drop": {"target": target, "drop": True},
        "star": {"target": "*", "status": 418},
    }[action]
    await add(client, spec)
    if action == "drop":
        with pytest.raises(aiohttp.ClientError):
            await client.request(method, path)
    else:
        r = await client.request(method, path)
        assert r.status == 418
    (fault,) = (await (await client.get("/_mockle/faults")).json())["faults"]
    assert fault["fired"] == 1 and fault["active"] is False
    (entry,) = (await (await client.get(f"/_mockle/requests?target={target}")).json())["requests"]
    assert entry["status"] == (None if action == "drop" else 418)
