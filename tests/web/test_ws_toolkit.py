"""The toolkit on the UMS WebSocket: ws_request faults, ws journal entries, token expiry (4401 /
4407) and closing live sockets through the control API."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import orjson
import pytest
from aiohttp.test_utils import TestClient

from mockle.settings import Settings
from mockle.web.app import create_app

from .toolkit_helpers import ACC, consumer

WS = f"/ws_api/account/{ACC}/messaging/consumer?v=3"
GET_CLOCK = {"kind": "req", "id": "7", "type": "GetClock", "body": {}}
REQUEST_CONV = {"kind": "req", "id": "1", "type": ".ams.cm.ConsumerRequestConversation", "body": {}}


@pytest.fixture
async def client(aiohttp_client: Any) -> TestClient:
    return await aiohttp_client(create_app(Settings(port=0, agent="manual")))


async def signup(client: TestClient) -> str:
    r = await client.post(f"/api/account/{ACC}/signup")
    assert r.status == 200, await r.text()
    return str((await r.json())["jwt"])


async def connect(client: TestClient, token: str) -> aiohttp.ClientWebSocketResponse:
    return await client.ws_connect(WS, headers={"Authorization": f"jwt {token}"})


async def recv(ws: aiohttp.ClientWebSocketResponse) -> dict[str, Any]:
    msg = await ws.receive(timeout=5)
    assert msg.type == aiohttp.WSMsgType.TEXT, msg
    doc = orjson.loads(msg.data)
    assert isinstance(doc, dict)
    return doc


async def closed(ws: aiohttp.ClientWebSocketResponse) -> tuple[int | None, str]:
    while True:
        msg = await ws.receive(timeout=5)
        if msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR):
            return ws.close_code, str(msg.extra or "")


async def add(client: TestClient, spec: dict[str, Any]) -> None:
    r = await client.post("/_mockle/faults", json=spec)
    assert r.status == 201, await r.text()


async def journal(client: TestClient, query: str) -> list[dict[str, Any]]:
    r = await client.get(f"/_mockle/requests{query}")
    return list((await r.json())["requests"])


async def test_frames_in_and_out_are_journaled(client: TestClient) -> None:
    ws = await connect(client, await signup(client))
    await ws.send_json(GET_CLOCK)
    resp = await recv(ws)
    assert resp["reqId"] == "7"
    await ws.close()
    frames = await journal(client, "?target=ws")
    assert [f["direction"] for f in frames] == ["in", "out"]
    assert frames[0]["body"] == GET_CLOCK and frames[1]["body"] == resp
    assert frames[0]["account"] == ACC and frames[0]["consumer_id"]
    assert frames[0]["session"] == frames[1]["session"]
    (connect_entry,) = await journal(client, "?target=ws_connect")
    assert connect_entry["status"] == 101
    assert connect_entry["headers"]["Authorization"].endswith("…")


async def test_ws_request_status_answers_with_a_resp_and_keeps_the_socket(
    client: TestClient,
) -> None:
    await add(
        client,
        {
            "target": "ws_request",
            "status": 429,
            "match": {"type": "cm.ConsumerRequestConversation"},
        },
    )
    ws = await connect(client, await signup(client))
    await ws.send_json(REQUEST_CONV)
    resp = await recv(ws)
    assert resp["code"] == 429 and resp["reqId"] == "1"
    assert resp["type"] == ".ams.cm.types.RequestConversation$Response"
    assert "Too Many Requests" in resp["body"]
    await ws.send_json(REQUEST_CONV)  # the fault fired once: the real answer now
    resp = await recv(ws)
    assert resp["code"] == 200 and "conversationId" in resp["body"]
    await ws.send_json(GET_CLOCK)  # other types were never affected
    assert (await recv(ws))["code"] == 200
    await ws.close()


async def test_ws_request_close_code_and_drop(client: TestClient) -> None:
    token = await signup(client)
    await add(client, {"target": "ws_request", "close_code": 1011, "reason": "boom"})
    ws = await connect(client, token)
    await ws.send_json(GET_CLOCK)
    assert await closed(ws) == (1011, "boom")
    await add(client, {"target": "ws_request", "drop": True})
    ws = await connect(client, token)
    await ws.send_json(GET_CLOCK)
    code, _ = await closed(ws)
    assert code != 1000  # abrupt: no clean close handshake
    ws = await connect(client, token)  # the server carries on
    await ws.send_json(GET_CLOCK)
    assert (await recv(ws))["code"] == 200
    await ws.close()


async def test_a_dropped_socket_gets_no_close_frame(client: TestClient) -> None:
    # 1006 means "closed without a close frame" and may never be sent (closecodes.py): a drop
    # fault aborts the connection, it does not send a close frame of 1006
    await add(client, {"target": "ws_request", "drop": True})
    ws = await connect(client, await signup(client))
    await ws.send_json(GET_CLOCK)
    while True:
        msg = await ws.receive(timeout=5)
        if msg.type is not aiohttp.WSMsgType.TEXT:
            break
    assert msg.type is not aiohttp.WSMsgType.CLOSE, (msg.type, msg.data, msg.extra)
    assert msg.type in (aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR)


async def test_ws_request_delay_then_the_real_answer(client: TestClient) -> None:
    await add(client, {"target": "ws_request", "delay_ms": 100})
    ws = await connect(client, await signup(client))
    loop = asyncio.get_running_loop()
    start = loop.time()
    await ws.send_json(GET_CLOCK)
    assert (await recv(ws))["code"] == 200
    assert loop.time() - start >= 0.09
    await ws.close()


async def test_ws_request_faults_match_by_consumer(client: TestClient) -> None:
    import jwt

    t1, t2 = await signup(client), await signup(client)
    sub1 = jwt.decode(t1, options={"verify_signature": False})["sub"]
    await add(
        client,
        {"target": "ws_request", "status": 503, "times": 0, "match": {"consumer_id": sub1}},
    )
    ws1, ws2 = await connect(client, t1), await connect(client, t2)
    await ws1.send_json(GET_CLOCK)
    await ws2.send_json(GET_CLOCK)
    assert (await recv(ws1))["code"] == 503
    assert (await recv(ws2))["code"] == 200
    await ws1.close()
    await ws2.close()


async def test_expiry_closes_signup_sockets_4407_and_connector_sockets_4401(
    client: TestClient,
) -> None:
    signup_ws = await connect(client, await signup(client))
    who = await consumer(client)
    jws_ws = await connect(client, who.jws)
    for ws in (signup_ws, jws_ws):
        await ws.send_json(GET_CLOCK)
        assert (await recv(ws))["code"] == 200
    r = await client.post("/_mockle/tokens/expire", json={"account": ACC})
    assert (await r.json())["closed"] == 2
    assert (await closed(signup_ws))[0] == 4407
    assert (await closed(jws_ws))[0] == 4401


async def test_expiry_of_one_consumer_closes_only_its_socket(client: TestClient) -> None:
    alice, bob = await consumer(client, "alice"), await consumer(client, "bob")
    ws_a, ws_b = await connect(client, alice.jws), await connect(client, bob.jws)
    r = await client.post(
        "/_mockle/tokens/expire", json={"account": ACC, "consumer_id": alice.consumer_id}
    )
    assert (await r.json()) == {"expired": 1, "closed": 1}
    assert (await closed(ws_a))[0] == 4401
    await ws_b.send_json(GET_CLOCK)
    assert (await recv(ws_b))["code"] == 200
    await ws_b.close()


async def test_connections_close_closes_live_sockets_now(client: TestClient) -> None:
    alice, bob = await consumer(client, "alice"), await consumer(client, "bob")
    ws_a, ws_b = await connect(client, alice.jws), await connect(client, bob.jws)
    await ws_a.send_json(GET_CLOCK)
    await recv(ws_a)
    r = await client.post(
        "/_mockle/connections/close",
        json={"account": ACC, "consumer_id": alice.consumer_id, "code": 4401, "reason": "renew"},
    )
    assert (await r.json()) == {"closed": 1}
    assert await closed(ws_a) == (4401, "renew")
    r = await client.post("/_mockle/connections/close", json={"account": ACC, "code": 1012})
    assert (await r.json()) == {"closed": 1}
    assert (await closed(ws_b))[0] == 1012
