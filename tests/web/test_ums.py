"""The UMS consumer WebSocket over a real socket (aiohttp test client)."""

from __future__ import annotations

import asyncio
from typing import Any

import jwt
import pytest
from aiohttp import WSMsgType
from aiohttp.test_utils import TestClient

from mockle.core.engine import Effects
from mockle.settings import Settings
from mockle.web.app import create_app

from .ums_client import ACC, WAIT, WS, Ws, connect, runtime, signup

pytestmark = pytest.mark.timeout(30)


def settings(**kw: Any) -> Settings:
    return Settings(port=0, agent="manual", **kw)


@pytest.fixture
async def client(aiohttp_client: Any) -> TestClient:
    return await aiohttp_client(create_app(settings()))


def sub(token: str) -> str:
    return str(jwt.decode(token, options={"verify_signature": False})["sub"])


async def test_every_way_of_presenting_the_token(client: TestClient) -> None:
    token = await signup(client)
    ways = [
        (WS + "?v=3", {"Authorization": f"jwt {token}"}),
        (WS + "?v=3", {"Authorization": token}),
        (f"{WS}/{token}?v=3", {}),
        (f"{WS}/{token}?v=2", {}),
    ]
    for path, headers in ways:
        ws = await connect(client, path, headers=headers)
        resp = await ws.req({"kind": "req", "id": "1", "type": "GetClock"})
        assert resp["code"] == 200 and resp["type"] == "GetClockResponse", (path, resp)
        assert isinstance(resp["body"]["currentTime"], int)
        await ws.ws.close()


async def test_init_connection_and_client_properties_from_header_query_and_init(
    client: TestClient,
) -> None:
    token = await signup(client)
    props = '{"type":".ClientProperties","deviceFamily":"MOBILE","features":["AUTO_MESSAGES"]}'
    ws = await connect(
        client, WS + "?v=3&os=ANDROID&appVersion=1.2", headers={"Client-Properties": props}
    )
    early = await ws.req({"kind": "req", "id": 1, "type": "cm.ConsumerRequestConversation"})
    assert early["code"] == 401 and early["reqId"] == "1"
    init = {
        "id": "0",
        "type": "InitConnection",
        "headers": [
            {"type": ".ams.headers.ClientProperties", "deviceModel": "Pixel"},
            {"type": ".ams.headers.ConsumerAuthentication", "jwt": token},
        ],
    }
    resp = await ws.req(init)
    assert resp == {
        "kind": "resp",
        "reqId": "0",
        "code": 200,
        "body": "Connection initialized successfully",
        "type": "StringResponse",
    }
    resp = await ws.req({"kind": "req", "id": 1, "type": "cm.ConsumerRequestConversation"})
    conv = runtime(client).engine.conversation(ACC, resp["body"]["conversationId"])
    assert conv.client_properties is not None
    assert conv.client_properties["deviceFamily"] == "MOBILE"
    assert conv.client_properties["os"] == "ANDROID"
    assert conv.client_properties["appVersion"] == "1.2"
    assert conv.client_properties["deviceModel"] == "Pixel"
    assert "AUTO_MESSAGES" in conv.features


async def test_bad_tokens_close_4401(client: TestClient) -> None:
    for headers in (
        {"Authorization": "jwt nonsense"},
        {"Authorization": await signup(client, "another-account")},
    ):
        ws = await connect(client, headers=headers)
        code, reason = await ws.closed()
        assert code == 4401 and "token" in reason


async def test_no_init_connection_within_the_window_closes_4401(aiohttp_client: Any) -> None:
    client = await aiohttp_client(create_app(settings(ws_auth_timeout=0.2)))
    ws = await connect(client)
    code, reason = await ws.closed()
    assert code == 4401 and "InitConnection" in reason


async def test_idle_socket_is_closed_and_pings_or_frames_keep_it_open(aiohttp_client: Any) -> None:
    client = await aiohttp_client(create_app(settings(ws_idle_timeout=0.6)))
    token = await signup(client)
    headers = {"Authorization": f"jwt {token}"}
    idle = await connect(client, headers=headers)
    pinger = await connect(client, headers=headers, autoping=False)
    talker = await connect(client, headers=headers)
    loop = asyncio.get_running_loop()
    started = loop.time()
    while loop.time() - started < 1.2:  # twice the idle timeout
        await pinger.ws.ping(b"k")
        msg = await pinger.ws.receive(timeout=WAIT)
        assert msg.type is WSMsgType.PONG and msg.data == b"k"
        assert (await talker.req({"id": "c", "type": "GetClock"}))["code"] == 200
        await asyncio.sleep(0.05)  # pacing the keep-alives, not waiting for a result
    code, reason = await idle.closed()
    assert code == 1000 and "idle" in reason
    assert not pinger.ws.closed and not talker.ws.closed
    assert (await talker.req({"id": "c", "type": "KeepAlive"}))["body"] == "OK"


async def test_revoked_tokens_close_4407_signup_and_4401_connector(client: TestClient) -> None:
    rt = runtime(client)
    token = await signup(client)
    jws = rt.engine.tokens.mint_consumer_jws(ACC, "ext-1", None)
    signup_ws = await connect(client, headers={"Authorization": f"jwt {token}"})
    jws_ws = await connect(client, headers={"Authorization": f"jwt {jws}"})
    for ws in (signup_ws, jws_ws):  # both are up
        assert (await ws.req({"id": "c", "type": "GetClock"}))["code"] == 200
    fx = Effects()
    rt.engine.expire_tokens(ACC, None, fx)
    rt.hub.dispatch(fx)
    assert (await signup_ws.closed())[0] == 4407
    assert (await jws_ws.closed())[0] == 4401


async def test_natural_expiry_while_connected_closes_4407(aiohttp_client: Any) -> None:
    client = await aiohttp_client(create_app(settings(signup_jwt_ttl=1)))
    ws = await connect(client, headers={"Authorization": f"jwt {await signup(client)}"})
    assert (await ws.req({"id": "c", "type": "GetClock"}))["code"] == 200
    code, reason = await ws.closed()
    assert code == 4407 and "expired" in reason


async def test_huge_frame_closes_1009_and_others_carry_on(aiohttp_client: Any) -> None:
    client = await aiohttp_client(create_app(settings(ws_max_frame=2048)))
    token = await signup(client)
    headers = {"Authorization": f"jwt {token}"}
    big, other = await connect(client, headers=headers), await connect(client, headers=headers)
    await big.send({"id": "1", "type": "GetClock", "body": {"pad": "x" * 4096}})
    assert (await big.closed())[0] == 1009
    assert (await other.req({"id": "2", "type": "GetClock"}))["code"] == 200


async def test_bad_frames_answer_400_and_the_socket_lives_on(client: TestClient) -> None:
    ws = await connect(client, headers={"Authorization": f"jwt {await signup(client)}"})
    await ws.ws.send_str('{"kind": "req", "id": 2, "type": ".ams.ms.PublishEvent"')
    resp = await ws.recv()
    assert resp["code"] == 400 and resp["reqId"] == "0" and "not valid JSON" in resp["body"]
    await ws.ws.send_bytes(b'{"id": "1", "type": "GetClock"}')
    resp = await ws.recv()
    assert resp["code"] == 400 and "binary frames" in resp["body"]
    for frame in ("[]", "1", '"x"', '{"id": 3, "type": "nope.Nope"}'):
        await ws.ws.send_str(frame)
        assert (await ws.recv())["code"] == 400
    assert (await ws.req({"id": "ok", "type": "GetClock"}))["code"] == 200
    assert runtime(client).world.ums.bugs == 0


async def test_not_a_websocket_request_and_bad_version(client: TestClient) -> None:
    r = await client.get(WS + "?v=3")
    assert r.status == 426
    assert (await r.json())["body"]["title"] == "Upgrade Required"
    r = await client.get(WS + "?v=9", headers={"Upgrade": "websocket", "Connection": "Upgrade"})
    assert r.status == 400 and "v='9'" in (await r.json())["body"]["details"]


async def test_dialects_over_the_wire_and_cross_channel(client: TestClient) -> None:
    rt = runtime(client)
    token = await signup(client)
    ams = await connect(client, headers={"Authorization": token})
    short = await connect(client, headers={"Authorization": f"jwt {token}"})
    resp = await ams.req({"kind": "req", "id": 1, "type": ".ams.cm.ConsumerRequestConversation"})
    assert resp["type"] == ".ams.cm.types.RequestConversation$Response"
    conv_id = resp["body"]["conversationId"]
    sub_frame = {
        "id": "22",
        "type": ".ams.ms.SubscribeMessagingEvents",
        "body": {"dialogId": conv_id},
    }
    assert (await ams.req(sub_frame))["type"] == ".ams.GenericSubscribe$Response"
    assert (await ams.recv())["type"] == ".ams.ms.MessagingEventNotification"
    sub_frame = {"id": "3", "type": "ms.SubscribeMessagingEvents", "body": {"dialogId": conv_id}}
    assert (await short.req(sub_frame))["type"] == "GenericSubscribeResponse"
    assert (await short.recv())["body"]["changes"] == []
    # the agent (engine) speaks: both sockets get it, each in its dialect
    fx = Effects()
    event = {"type": "ContentEvent", "contentType": "text/plain", "message": "hello"}
    rt.engine.agent_publish(rt.engine.conversation(ACC, conv_id), event, fx)
    rt.hub.dispatch(fx)
    assert (await ams.recv())["type"] == ".ams.ms.MessagingEventNotification"
    note = await short.recv()
    assert note["type"] == "ms.MessagingEventNotification"
    assert note["body"]["changes"][0]["event"]["message"] == "hello"
    # one socket publishes: the publisher gets resp then echo, the other socket the event
    publish = {
        "kind": "req",
        "id": 2,
        "type": "ms.PublishEvent",
        "body": {"dialogId": conv_id, "event": {**event, "message": "hi there"}},
    }
    resp = await short.req(publish)
    assert resp["type"] == "ms.PublishEventResponse" and resp["body"] == {"sequence": 1}
    echo = await short.recv()
    assert echo["body"]["changes"][0]["originatorId"] == sub(token)
    other = await ams.recv()
    assert other["body"]["changes"][0]["originatorPid"] == sub(token)


async def test_shutdown_closes_sockets_with_1001(aiohttp_client: Any) -> None:
    client = await aiohttp_client(create_app(settings()))
    ws = await connect(client, headers={"Authorization": f"jwt {await signup(client)}"})
    assert (await ws.req({"id": "c", "type": "GetClock"}))["code"] == 200
    closing = asyncio.ensure_future(ws.closed())
    await client.server.app.shutdown()
    code, reason = await asyncio.wait_for(closing, WAIT)
    assert code == 1001 and reason == "server shutdown"


async def test_shutdown_waits_for_a_slow_clients_close_reply(aiohttp_client: Any) -> None:
    """The server sends its 1001 and waits for the client's close frame before dropping the
    connection: a client that reads late still replies, and sees a clean 1001 (aiohttp's client
    reports 1006 when its reply cannot be written because the server already hung up)."""
    client = await aiohttp_client(create_app(settings()))
    ws = await connect(client, headers={"Authorization": f"jwt {await signup(client)}"})
    assert (await ws.req({"id": "c", "type": "GetClock"}))["code"] == 200
    shutting = asyncio.ensure_future(client.server.app.shutdown())
    for _ in range(200):  # loop turns, not time: the server has every chance to hang up
        await asyncio.sleep(0)
    assert not shutting.done()  # still waiting for the reply
    code, reason = await ws.closed()
    assert (code, reason) == (1001, "server shutdown")
    await asyncio.wait_for(shutting, WAIT)


async def test_many_subscribers_and_publishers_keep_order(client: TestClient) -> None:
    token = await signup(client)
    headers = {"Authorization": f"jwt {token}"}
    owner = await connect(client, headers=headers)
    resp = await owner.req({"id": 1, "type": "cm.ConsumerRequestConversation"})
    conv_id = resp["body"]["conversationId"]
    watchers: list[Ws] = []
    for _ in range(3):
        w = await connect(client, headers=headers)
        await w.req(
            {"id": "s", "type": "ms.SubscribeMessagingEvents", "body": {"dialogId": conv_id}}
        )
        await w.recv()
        watchers.append(w)
    publishers = [await connect(client, headers=headers) for _ in range(4)]

    async def talk(ws: Ws, n: int) -> None:
        for i in range(n):
            event = {"type": "ContentEvent", "contentType": "text/plain", "message": str(i)}
            await ws.send(
                {"id": i, "type": "ms.PublishEvent", "body": {"dialogId": conv_id, "event": event}}
            )

    await asyncio.gather(*(talk(p, 25) for p in publishers))
    for w in watchers:
        seqs = [(await w.recv())["body"]["changes"][0]["sequence"] for _ in range(100)]
        assert seqs == list(range(100))
    for p in publishers:
        got = [await p.recv() for _ in range(25)]
        assert all(r["kind"] == "resp" and r["code"] == 200 for r in got)


async def test_connector_api_and_socket_share_one_consumer_over_http(client: TestClient) -> None:
    """CONVERSATION + SEND over HTTP reach the socket of the same consumer, and back."""
    r = await client.post(
        f"/sentinel/api/account/{ACC}/app/token?v=1.0&grant_type=client_credentials",
        data={"client_id": "cid", "client_secret": "sec"},
    )
    app_jwt = (await r.json())["access_token"]
    r = await client.post(
        f"/api/account/{ACC}/consumer?v=1.0",
        json={"ext_consumer_id": "ext-42"},
        headers={"Authorization": app_jwt},
    )
    jws = (await r.json())["token"]
    rest = {"Authorization": app_jwt, "X-LP-ON-BEHALF": jws}
    ws = await connect(client, headers={"Authorization": f"jwt {jws}"})
    await ws.req({"id": "1", "type": "cqm.SubscribeExConversations", "body": {}})
    assert (await ws.recv())["body"]["changes"] == []
    batch = [
        {"kind": "req", "id": "1,", "type": "userprofile.SetUserProfile", "body": {}},
        {"kind": "req", "id": "2,", "type": "cm.ConsumerRequestConversation", "body": {}},
    ]
    r = await client.post(
        f"/api/account/{ACC}/messaging/consumer/conversation?v=3", json=batch, headers=rest
    )
    assert r.status == 200, await r.text()
    conv_id = (await r.json())[1]["body"]["conversationId"]
    note = await ws.recv()
    assert note["type"] == "cqm.ExConversationChangeNotification"
    assert note["body"]["changes"][0]["result"]["convId"] == conv_id
    await ws.req({"id": "2", "type": "ms.SubscribeMessagingEvents", "body": {"dialogId": conv_id}})
    await ws.recv()
    event = {"type": "ContentEvent", "contentType": "text/plain", "message": "over REST"}
    send = {"kind": "req", "id": "1", "type": "ms.PublishEvent"}
    send["body"] = {"dialogId": conv_id, "event": event}
    r = await client.post(
        f"/api/account/{ACC}/messaging/consumer/conversation/send?v=3", json=send, headers=rest
    )
    assert (await r.json())["body"] == {"sequence": 0}
    note = await ws.recv()
    assert note["body"]["changes"][0]["event"]["message"] == "over REST"
    resp = await ws.req(
        {"id": 3, "type": "ms.PublishEvent", "body": {"dialogId": conv_id, "event": event}}
    )
    assert resp["body"] == {"sequence": 1}
    await ws.recv()  # the echo
    r = await client.post(
        f"/api/account/{ACC}/messaging/consumer/conversation/send?v=3", json=send, headers=rest
    )
    assert (await r.json())["body"] == {"sequence": 2}
    conv = runtime(client).engine.conversation(ACC, conv_id)
    assert [e.sequence for e in conv.main.events] == [0, 1, 2]


async def test_a_client_too_far_behind_is_closed_1013(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mockle.web import socket as web_socket

    monkeypatch.setattr(web_socket, "MAX_PENDING_FRAMES", 5)
    ws = await connect(client, headers={"Authorization": f"jwt {await signup(client)}"})
    assert (await ws.req({"id": "c", "type": "GetClock"}))["code"] == 200
    [server_side] = runtime(client).sockets
    # a client that stopped reading: unsent bytes wait in the transport, so frames are queued
    transport = server_side._transport
    assert transport is not None
    monkeypatch.setattr(transport, "get_write_buffer_size", lambda: 1 << 20)
    closing = asyncio.ensure_future(ws.closed())
    for i in range(20):  # synchronous: the writer cannot run in between, as with a stuck reader
        server_side.send_frame({"kind": "notification", "type": "x", "body": {"n": i}})
    code, reason = await asyncio.wait_for(closing, WAIT)
    assert code == 1013 and "frames behind" in reason
