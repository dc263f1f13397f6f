"""The seed's Messaging Window API tutorials ("Getting Started", "Get Messages"), step by step,
with a real WebSocket client (the ``websockets`` library) against a real listening mockle.

The agent's side of the tutorials (accept the ring, type messages, close) is played through the
engine (in-loop server) or the control API (``mockle serve``).
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from mockle.core.engine import Effects
from mockle.server import MockleServer
from mockle.settings import Settings
from tests.integration.served import mockle_serve

pytestmark = pytest.mark.timeout(60)

ACC = "qa57221676"
WAIT = 5.0


@pytest.fixture
async def server() -> AsyncIterator[MockleServer]:
    async with MockleServer(Settings(port=0, agent="manual")) as m:
        yield m


def ws_url(base: str, account: str = ACC, version: str = "3") -> str:
    return f"ws://{base}/ws_api/account/{account}/messaging/consumer?v={version}"


async def signup(http: aiohttp.ClientSession, base: str) -> str:
    """Step 2 - Create a Token: ``curl -X POST https://$LP_IDP/api/account/$LP_ACCOUNT/signup``."""
    async with http.post(f"http://{base}/api/account/{ACC}/signup") as r:
        assert r.status == 200
        return str((await r.json())["jwt"])


def consumer_id_of(token: str) -> str:
    """Get Messages step 1: base64-decode the middle part of the JWT; ``sub`` is the consumerId."""
    middle = token.split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(middle + "=" * (-len(middle) % 4)))
    assert claims["aud"] == f"acc:{ACC}" and claims["iss"] == "https://idp.liveperson.net"
    return str(claims["sub"])


async def recv(ws: ClientConnection) -> dict[str, Any]:
    doc = json.loads(await asyncio.wait_for(ws.recv(), WAIT))
    assert isinstance(doc, dict)
    return doc


async def req(ws: ClientConnection, raw: str) -> dict[str, Any]:
    await ws.send(raw)
    resp = await recv(ws)
    assert resp["kind"] == "resp", resp
    return resp


def play_agent(server: MockleServer, conv_id: str, *messages: str) -> str:
    """The agent accepts the ring (once) and types messages (Agent Workspace)."""
    engine, fx = server.engine, Effects()
    conv = engine.conversation(ACC, conv_id)
    agent = engine.join_agent(conv, fx, conv.assigned_agent())
    for text in messages:
        event = {"type": "ContentEvent", "contentType": "text/plain", "message": text}
        engine.agent_publish(conv, event, fx, agent_id=agent.pid)
    server.runtime.hub.dispatch(fx)
    return agent.pid


def agent_closes(server: MockleServer, conv_id: str) -> None:
    fx = Effects()
    server.engine.close(server.engine.conversation(ACC, conv_id), "AGENT", fx)
    server.runtime.hub.dispatch(fx)


async def test_getting_started(server: MockleServer) -> None:
    async with aiohttp.ClientSession() as http:
        token = await signup(http, server.address)
    # Step 3 - wscat -k 60 -H "Authorization:$LP_JWT" -c "wss://…/messaging/consumer?v=3"
    async with connect(ws_url(server.address), additional_headers={"Authorization": token}) as ws:
        # Step 4 - Create a New Conversation
        resp = await req(
            ws, '{"kind":"req","id":1,"type":".ams.cm.ConsumerRequestConversation","body":{}}'
        )
        assert set(resp) == {"kind", "reqId", "code", "body", "type"}
        assert resp["reqId"] == "1" and resp["code"] == 200
        assert resp["type"] == ".ams.cm.types.RequestConversation$Response"
        conv_id = resp["body"]["conversationId"]
        play_agent(server, conv_id)  # the agent accepts the incoming request
        # Step 5 - the seed's publish line misses its closing brace: a 400, the socket lives on
        step5 = (
            '{"kind": "req", "id": 2, "type": ".ams.ms.PublishEvent", "body": {"dialogId": '
            '"__YOUR_CONVERSATION_ID__", "event": {"type": "ContentEvent", "contentType": '
            '"text/plain", "message": "hi there"}}'
        )
        resp = await req(ws, step5.replace("__YOUR_CONVERSATION_ID__", conv_id))
        assert resp["code"] == 400 and resp["reqId"] == "0" and "not valid JSON" in resp["body"]
        resp = await req(ws, step5.replace("__YOUR_CONVERSATION_ID__", conv_id) + "}")
        assert resp == {
            "kind": "resp",
            "reqId": "2",
            "code": 200,
            "body": {"sequence": 0},
            "type": ".ams.ms.PublishEvent$Response",
        }
        # the published message is displayed on the agent side
        [event] = server.engine.conversation(ACC, conv_id).main.events
        assert event.change["event"]["message"] == "hi there"
        assert event.originator_id == consumer_id_of(token)
        agent_closes(server, conv_id)  # "Close conversation" in the Agent Workspace
        resp = await req(ws, '{"kind":"req","id":3,"type":"GetClock"}')
        assert resp["code"] == 200


async def test_get_messages(server: MockleServer) -> None:
    async with aiohttp.ClientSession() as http:
        token = await signup(http, server.address)
    consumer_id = consumer_id_of(token)  # Step 1 - Find Your Consumer ID
    async with connect(ws_url(server.address), additional_headers={"Authorization": token}) as ws:
        # Step 2 - Create a Conversation
        resp = await req(
            ws,
            '{"kind": "req", "id": 1, "type": ".ams.cm.ConsumerRequestConversation", "body": {}}',
        )
        assert resp["type"] == ".ams.cm.types.RequestConversation$Response"
        conv_id = resp["body"]["conversationId"]
        # Step 3 - the agent accepts and types a few messages (the consumer is not subscribed)
        agent = play_agent(server, conv_id, "message from the agent", "are you there?")
        # Step 4 - Subscribe to Conversation Content (the seed's form: type inside body)
        step4 = {
            "kind": "req",
            "id": "22",
            "body": {"fromSeq": 0, "dialogId": conv_id, "type": ".ams.ms.SubscribeMessagingEvents"},
        }
        resp = await req(ws, json.dumps(step4, indent=2))
        assert resp == {
            "kind": "resp",
            "reqId": "22",
            "code": 200,
            "body": {},
            "type": ".ams.GenericSubscribe$Response",
        }
        history = await recv(ws)  # all the existing content, in one notification
        assert history["kind"] == "notification"
        assert history["type"] == ".ams.ms.MessagingEventNotification"
        changes = history["body"]["changes"]
        assert [c["event"]["message"] for c in changes] == [
            "message from the agent",
            "are you there?",
        ]
        assert [c["sequence"] for c in changes] == [0, 1]
        first = changes[0]
        assert first["event"] == {
            "type": "ContentEvent",
            "message": "message from the agent",
            "contentType": "text/plain",
        }
        assert first["dialogId"] == conv_id and isinstance(first["serverTimestamp"], int)
        assert first["originatorId"] == first["originatorPid"] == agent != consumer_id
        # live: my own message comes back, identified by originatorId == my consumerId
        mine = {
            "kind": "req",
            "id": 2,
            "type": ".ams.ms.PublishEvent",
            "body": {
                "dialogId": conv_id,
                "event": {"type": "ContentEvent", "contentType": "text/plain", "message": "yes"},
            },
        }
        resp = await req(ws, json.dumps(mine))
        assert resp["body"] == {"sequence": 2}
        echo = await recv(ws)
        [change] = echo["body"]["changes"]
        assert change["originatorId"] == change["originatorPid"] == consumer_id
        assert change["sequence"] == 2
        play_agent(server, conv_id, "great")  # the agent answers while we are connected
        live = await recv(ws)
        [change] = live["body"]["changes"]
        assert change["sequence"] == 3 and change["originatorId"] == agent
        agent_closes(server, conv_id)


async def test_current_docs_getting_started_with_jwt_prefix(server: MockleServer) -> None:
    """The current tutorial: ``-H "Authorization:jwt $LP_JWT"``, short type names (W1-W3)."""
    async with aiohttp.ClientSession() as http:
        token = await signup(http, server.address)
    headers = {"Authorization": f"jwt {token}"}
    async with connect(ws_url(server.address), additional_headers=headers) as ws:
        resp = await req(ws, '{"kind":"req","id":1,"type":"cm.ConsumerRequestConversation"}')
        assert resp["type"] == "cm.RequestConversationResponse" and resp["reqId"] == "1"
        conv_id = resp["body"]["conversationId"]
        w2 = (
            '{"kind":"req","id":2,"type":"ms.PublishEvent","body":{"dialogId":"%s","event":'
            '{"type":"ContentEvent","contentType":"text/plain","message":"hi there"}}}'
        ).replace("%s", conv_id)
        resp = await req(ws, w2)
        assert resp["type"] == "ms.PublishEventResponse" and resp["body"] == {"sequence": 0}
        w3 = (
            '{"kind":"req","id":"22","body":{"fromSeq":0,"dialogId":"%s"},'
            '"type":"ms.SubscribeMessagingEvents"}'
        ).replace("%s", conv_id)
        resp = await req(ws, w3)
        assert resp["type"] == "GenericSubscribeResponse"
        history = await recv(ws)
        assert history["type"] == "ms.MessagingEventNotification"
        assert history["body"]["changes"][0]["originatorId"] == consumer_id_of(token)


async def test_close_codes_seen_by_a_real_client(server: MockleServer) -> None:
    async with aiohttp.ClientSession() as http:
        token = await signup(http, server.address)
    # a bad token: 4401
    bad = {"Authorization": "jwt not.a.token"}
    async with connect(ws_url(server.address), additional_headers=bad) as ws:
        with pytest.raises(ConnectionClosed) as info:
            await asyncio.wait_for(ws.recv(), WAIT)
        assert info.value.rcvd is not None and info.value.rcvd.code == 4401
    # invalid UTF-8 in a text frame: aiohttp closes 1007; other sockets carry on
    headers = {"Authorization": f"jwt {token}"}
    async with connect(ws_url(server.address), additional_headers=headers) as good:
        async with connect(ws_url(server.address), additional_headers=headers) as ws:
            await ws.send(b"\xff\xfe", text=True)
            with pytest.raises(ConnectionClosed) as info:
                await asyncio.wait_for(ws.recv(), WAIT)
            assert info.value.rcvd is not None and info.value.rcvd.code == 1007
        assert (await req(good, '{"id":"1","type":"GetClock"}'))["code"] == 200
        # the token is revoked while connected: 4407 for a signup identity
        fx = Effects()
        server.engine.expire_tokens(ACC, consumer_id_of(token), fx)
        server.runtime.hub.dispatch(fx)
        with pytest.raises(ConnectionClosed) as info:
            await asyncio.wait_for(good.recv(), WAIT)
        assert info.value.rcvd is not None and info.value.rcvd.code == 4407


async def test_server_shutdown_closes_1001() -> None:
    m = MockleServer(Settings(port=0, agent="manual"))
    await m.start()
    try:
        async with aiohttp.ClientSession() as http:
            token = await signup(http, m.address)
        headers = {"Authorization": f"jwt {token}"}
        async with connect(ws_url(m.address), additional_headers=headers) as ws:
            assert (await req(ws, '{"id":"1","type":"GetClock"}'))["code"] == 200
            stopping = asyncio.ensure_future(m.stop())
            with pytest.raises(ConnectionClosed) as info:
                await asyncio.wait_for(ws.recv(), WAIT)
            assert info.value.rcvd is not None and info.value.rcvd.code == 1001
            await asyncio.wait_for(stopping, WAIT * 2)
    finally:
        await m.stop()


# -- against `mockle serve` --------------------------------------------------------------------


@pytest.fixture
async def served() -> AsyncIterator[str]:
    async with mockle_serve("--agent", "manual") as url:
        yield url.removeprefix("http://")


async def test_getting_started_and_get_messages_against_mockle_serve(served: str) -> None:
    async with aiohttp.ClientSession() as http:
        token = await signup(http, served)
        consumer_id = consumer_id_of(token)
        async with connect(ws_url(served), additional_headers={"Authorization": token}) as ws:
            resp = await req(
                ws, '{"kind":"req","id":1,"type":".ams.cm.ConsumerRequestConversation","body":{}}'
            )
            conv_id = resp["body"]["conversationId"]
            control = f"http://{served}/_mockle/conversations/{conv_id}"
            async with http.post(f"{control}/agent/join") as r:
                assert r.status == 200, await r.text()
                agent = (await r.json())["agentId"]
            event = {"type": "ContentEvent", "contentType": "text/plain", "message": "hello"}
            async with http.post(f"{control}/agent/publish", json={"event": event}) as r:
                assert r.status == 200, await r.text()
            step4 = {
                "kind": "req",
                "id": "22",
                "body": {
                    "fromSeq": 0,
                    "dialogId": conv_id,
                    "type": ".ams.ms.SubscribeMessagingEvents",
                },
            }
            resp = await req(ws, json.dumps(step4))
            assert resp["type"] == ".ams.GenericSubscribe$Response" and resp["code"] == 200
            history = await recv(ws)
            assert history["body"]["changes"][0]["originatorId"] == agent
            publish = {
                "kind": "req",
                "id": 2,
                "type": ".ams.ms.PublishEvent",
                "body": {"dialogId": conv_id, "event": {**event, "message": "hi there"}},
            }
            resp = await req(ws, json.dumps(publish))
            assert resp["body"] == {"sequence": 1}
            echo = await recv(ws)
            assert echo["body"]["changes"][0]["originatorId"] == consumer_id
            async with http.post(f"{control}/close", json={"by": "agent"}) as r:
                assert r.status == 200, await r.text()
