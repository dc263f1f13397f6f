"""Hostile input on the agent socket (``/ws_api/account/{acc}/messaging/brand/{bearer}``): bodies
of the wrong type for every request an agent can send, unknown and foreign ring ids, requests
of the other role, credentials of the wrong kind, a transport cut with a ring waiting, and the
idle timeout with pings (both roles). The role-neutral cases (binary frames, invalid JSON and
UTF-8, huge and deep frames, floods) are parametrized over both roles in test_hostile_inputs.

Each refused request gets a ``resp`` with a 4xx code and a message (naming the member, where
there is one), never a 5xx; nothing it refused changed the state (conversations, events,
profiles, routing tasks, rings, availability); the socket answers afterwards; nothing was
recorded as a bug or logged at ERROR.
"""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import orjson
import pytest

from mockle.core.dialects import Op
from mockle.core.engine import Engine
from mockle.core.requests import REQUEST_SCHEMAS
from mockle.core.routing import Routing
from mockle.core.schemas import schemas_dir
from mockle.core.sessions import SocketRole
from mockle.core.world import World
from tests.robustness.conftest import AGENT, ROLES, Peer, Served, _fingerprint, ws_closed
from tests.robustness.helpers import ACC, OTHER_ACC, get_clock
from tests.robustness.test_hostile_inputs import healthy

pytestmark = pytest.mark.timeout(60)

# every request type of the agent socket's handler table, in the SDK's dialect
AGENT_TYPES: dict[Op, str] = {
    Op.SET_AGENT_STATE: ".ams.routing.SetAgentState",
    Op.SUBSCRIBE_AGENTS_STATE: ".ams.routing.SubscribeAgentsState",
    Op.SUBSCRIBE_ROUTING_TASKS: ".ams.routing.SubscribeRoutingTasks",
    Op.UPDATE_ROUTING_TASK_SUBSCRIPTION: ".ams.routing.UpdateRoutingTaskSubscription",
    Op.UPDATE_RING_STATE: ".ams.routing.UpdateRingState",
    Op.SUBSCRIBE_EX_CONVERSATIONS: ".ams.aam.SubscribeExConversations",
    Op.UNSUBSCRIBE_EX_CONVERSATIONS: ".ams.aam.UnsubscribeExConversations",
    Op.SUBSCRIBE_MESSAGING_EVENTS: ".ams.ms.SubscribeMessagingEvents",
    Op.QUERY_MESSAGES: ".ams.ms.QueryMessages",
    Op.PUBLISH_EVENT: ".ams.ms.PublishEvent",
    Op.UPDATE_CONVERSATION_FIELD: ".ams.cm.UpdateConversationField",
    Op.AGENT_REQUEST_CONVERSATION: ".ams.cm.AgentRequestConversation",
    Op.GET_USER_PROFILE: ".ams.userprofile.GetUserProfile",
    Op.GENERATE_UPLOAD_URL: ".ams.ms.GenerateURLForUploadFile",
    Op.GENERATE_DOWNLOAD_URL: ".ams.ms.GenerateURLForDownloadFile",
    Op.GET_CLOCK: ".GetClock",
    Op.KEEP_ALIVE: ".KeepAlive",
}

# one value of each JSON type; a member gets the first one its schema does not allow
CANDIDATES: list[tuple[str, Any]] = [
    ("object", {"x": 1}),
    ("array", [[1]]),
    ("boolean", True),
    ("integer", 12345),
    ("number", 1.5),
    ("string", "text"),
    ("null", None),
]


def _schema(op: Op) -> dict[str, Any]:
    doc: dict[str, Any] = orjson.loads((schemas_dir() / REQUEST_SCHEMAS[op]).read_bytes())
    return doc


def _body_schema(op: Op) -> dict[str, Any]:
    for part in _schema(op).get("allOf", []):
        body = part.get("properties", {}).get("body")
        if body is not None:
            return dict(body)
    return {}


def _types(node: dict[str, Any], root: dict[str, Any]) -> set[str]:
    """The JSON types a (sub)schema allows (``$ref`` into the same file, ``anyOf``, ``type``)."""
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/"):
        target: Any = root
        for key in ref[2:].split("/"):
            target = target[key]
        return _types(target, root)
    out: set[str] = set()
    for alt in node.get("anyOf", []) + node.get("oneOf", []):
        out |= _types(alt, root)
    declared = node.get("type")
    if isinstance(declared, str):
        out.add(declared)
    elif isinstance(declared, list):
        out.update(declared)
    if "number" in out:
        out.add("integer")
    return out or {t for t, _ in CANDIDATES}


def _properties(op: Op) -> dict[str, Any]:
    """The documented members of the body (of its object form, when it may be another type)."""
    body = _body_schema(op)
    props = dict(body.get("properties", {}))
    for alt in body.get("anyOf", []):
        props.update(alt.get("properties", {}))
    return props


def _wrong_members(op: Op) -> list[tuple[str, Any]]:
    """(member, value) for every documented body member and every JSON type (null included)
    its schema refuses."""
    root = _schema(op)
    out = []
    for name, prop in _properties(op).items():
        allowed = _types(prop, root)
        out += [(name, value) for kind, value in CANDIDATES if kind not in allowed]
    return out


class Scene:
    """A mockle with an agent socket that holds a conversation and has a ring waiting, a
    watched conversation of another consumer (with a control-API agent), and what a valid
    body of each request type looks like."""

    def __init__(self, s: Served, peer: Peer, own: str, ringing: str, ring: dict[str, Any]):
        self.s, self.peer, self.own, self.ringing, self.ring = s, peer, own, ringing, ring
        self.n = 0

    @classmethod
    async def build(cls, s: Served) -> Scene:
        peer = await s.peer(AGENT, "hostile-bot")
        own = await s.conversation_for(peer)
        assert (await _subscribe_routing(peer))["code"] == 200
        ringing = await s.open_conversation(s.headers("rung"))
        ring = await _next_ring(peer.ws)
        victim = await s.open_conversation(s.headers("victim"))
        status, doc = await s.post(f"/_mockle/conversations/{victim}/agent/join", {}, {})
        assert status == 200, doc
        return cls(s, peer, own, ringing, ring)

    def valid(self, op: Op) -> Any:
        event = {"type": "ContentEvent", "contentType": "text/plain", "message": "ok"}
        close = [{"field": "ConversationStateField", "conversationState": "CLOSE"}]
        return {
            Op.SET_AGENT_STATE: {"availability": "ONLINE"},
            Op.UPDATE_RING_STATE: {"ringId": self.ring["ringId"], "ringState": "ACCEPTED"},
            Op.UNSUBSCRIBE_EX_CONVERSATIONS: {"subscriptionId": "sub"},
            Op.SUBSCRIBE_MESSAGING_EVENTS: {"dialogId": self.own},
            Op.QUERY_MESSAGES: {"dialogId": self.own, "newerThanSequence": 0},
            Op.PUBLISH_EVENT: {"dialogId": self.own, "event": event},
            Op.UPDATE_CONVERSATION_FIELD: {"conversationId": self.own, "conversationField": close},
            Op.AGENT_REQUEST_CONVERSATION: {"consumerId": self.peer.id},
            Op.GENERATE_UPLOAD_URL: {"fileSize": 10, "fileType": "PNG"},
            Op.GENERATE_DOWNLOAD_URL: {"relativePath": "/v1/AUTH_async-images/x.png"},
        }.get(op, {})

    def state(self) -> tuple[Any, ...]:
        world = self.s.server.runtime.world
        return (*_fingerprint(self.s.engine), *_routing_state(world.routing, self.s.engine))

    async def refused(self, type_name: str, body: Any, *, path: str | None = None) -> str:
        """Send a request that must be refused: its 4xx message; nothing changed."""
        before = self.state()
        self.n += 1
        rid = f"h{self.n}"
        resp = await self.peer.answer({"kind": "req", "id": rid, "type": type_name, "body": body})
        assert resp["reqId"] == rid, resp
        assert 400 <= resp["code"] < 500, (type_name, body, resp)
        message = resp["body"]
        assert isinstance(message, str) and message, resp
        if path is not None:
            assert message.startswith(path) or path in message, (path, resp)
        assert self.state() == before, (type_name, body, resp)
        return message


async def _answer_ring(peer: Peer, body: dict[str, Any]) -> dict[str, Any]:
    return await peer.answer({"id": "a", "type": ".ams.routing.UpdateRingState", "body": body})


async def _subscribe_routing(peer: Peer) -> dict[str, Any]:
    return await peer.answer({"id": "r", "type": ".ams.routing.SubscribeRoutingTasks"})


def _routing_state(routing: Routing, engine: Engine) -> list[Any]:
    out: list[Any] = []
    for task in routing.tasks(ACC):
        out.append((task.conv_id, task.skill_id, [(r.ring_id, r.state) for r in task.rings]))
    for pid in sorted(engine.accounts[ACC].agents):
        out.append((pid, routing.availability(ACC, pid)))
    return out


async def _next_ring(ws: aiohttp.ClientWebSocketResponse) -> dict[str, Any]:
    while True:
        msg = await ws.receive(timeout=5)
        assert msg.type is aiohttp.WSMsgType.TEXT, msg
        doc = orjson.loads(msg.data)
        if doc.get("type") == ".ams.routing.RoutingTaskNotification" and doc["body"]["changes"]:
            ring: dict[str, Any] = doc["body"]["changes"][0]["result"]["ringsDetails"][0]
            return ring


@pytest.mark.parametrize("op", list(AGENT_TYPES), ids=[t for t in AGENT_TYPES.values()])
async def test_wrong_types_in_every_agent_request_get_a_4xx_naming_the_member(
    serve: Any, op: Op
) -> None:
    s: Served = await serve()
    scene = await Scene.build(s)
    type_name = AGENT_TYPES[op]
    body_types = _types(_body_schema(op), _schema(op))
    # the body itself of a type the schema refuses
    for kind, value in CANDIDATES:
        if kind not in body_types and kind != "null":  # a null body is an empty one
            await scene.refused(type_name, value, path="$.body")
    # each documented member of a refused type, the rest of the body valid
    for member, wrong in _wrong_members(op):
        body = {**scene.valid(op), member: wrong}
        await scene.refused(type_name, body, path=f"$.body.{member}")
    # and each required member missing
    for member in _body_schema(op).get("required", []):
        body = {k: v for k, v in scene.valid(op).items() if k != member}
        message = await scene.refused(type_name, body)
        assert member in message, message
    # the socket lives on, and the valid body is still accepted
    assert (await scene.peer.answer(get_clock()))["code"] == 200
    await scene.peer.ws.close()
    await healthy(s)


def test_every_agent_request_type_is_covered() -> None:
    """A request type added to the agent socket's table must be added here too."""
    assert set(World.build().ums.handlers[SocketRole.AGENT]) == set(AGENT_TYPES)


@pytest.mark.parametrize(
    "ring_id",
    ["nope", "", "x" * 10_000, "🔔", "le-robust", "{conv}_le-robust_1", "{ring}x", "{ring} "],
)
async def test_unknown_ring_ids_are_a_404_and_the_real_ring_keeps_waiting(
    serve: Any, ring_id: str
) -> None:
    s: Served = await serve()
    scene = await Scene.build(s)
    real = scene.ring["ringId"]
    ring_id = ring_id.replace("{conv}", scene.ringing).replace("{ring}", real)
    for state in ("ACCEPTED", "REJECTED"):
        body = {"ringId": ring_id, "ringState": state}
        if ring_id == "":
            await scene.refused(".ams.routing.UpdateRingState", body, path="$.body.ringId")
            continue
        message = await scene.refused(".ams.routing.UpdateRingState", body)
        assert "not a ring of this agent" in message, message
    accepted = {"ringId": real, "ringState": "ACCEPTED"}
    assert (await _answer_ring(scene.peer, accepted))["code"] == 202
    await scene.peer.ws.close()
    await healthy(s)


async def test_another_agents_ring_and_a_finished_ring_are_refused(serve: Any) -> None:
    s: Served = await serve()
    scene = await Scene.build(s)
    other = await s.peer(AGENT, "other-bot")
    ring = {"ringId": scene.ring["ringId"], "ringState": "ACCEPTED"}
    before = scene.state()
    resp = await other.answer({"id": "x", "type": ".ams.routing.UpdateRingState", "body": ring})
    assert resp["code"] == 404 and "not a ring of this agent" in resp["body"], resp
    assert scene.state() == before
    for state, code in (("MAYBE", 400), ("WAITING", 400), ("accepted", 400)):
        message = await scene.refused(
            ".ams.routing.UpdateRingState", {**ring, "ringState": state}, path="$.body.ringState"
        )
        assert "ACCEPTED or REJECTED" in message, (state, code, message)
    assert (await _answer_ring(scene.peer, ring))["code"] == 202
    message = await scene.refused(".ams.routing.UpdateRingState", ring)
    assert "is ACCEPTED, no longer WAITING" in message, message
    await healthy(s)


INIT_HEADERS = [{"type": ".ams.headers.ConsumerAuthentication", "jwt": "x"}]
CONSUMER_ONLY = [
    ("InitConnection", {}),
    ("cm.ConsumerRequestConversation", {"brandId": ACC}),
    (".ams.cm.ConsumerRequestConversation", {}),
    ("userprofile.SetUserProfile", {"firstName": "x"}),
    (".ams.userprofile.SetUserProfile", {}),
]
AGENT_ONLY = [
    (".ams.routing.SetAgentState", {"availability": "ONLINE"}),
    (".ams.routing.SubscribeAgentsState", {}),
    (".ams.routing.SubscribeRoutingTasks", {}),
    (".ams.routing.UpdateRoutingTaskSubscription", {}),
    (".ams.routing.UpdateRingState", {"ringId": "r", "ringState": "ACCEPTED"}),
    (".ams.cm.AgentRequestConversation", {"consumerId": "c"}),
]


@pytest.mark.parametrize("role", ROLES)
async def test_requests_of_the_other_role_are_a_400_naming_the_socket(
    serve: Any, role: str
) -> None:
    s: Served = await serve()
    peer = await s.peer(role)
    before = _fingerprint(s.engine)
    for type_name, body in CONSUMER_ONLY if role == AGENT else AGENT_ONLY:
        frame = {"id": "o", "type": type_name, "body": body, "headers": INIT_HEADERS}
        resp = await peer.answer(frame)
        other, mine = ("a consumer", "an agent") if role == AGENT else ("an agent", "a consumer")
        assert resp["code"] == 400, (type_name, resp)
        assert f"is {other} request: this is {mine} socket" in resp["body"], resp
    assert _fingerprint(s.engine) == before
    assert (await peer.answer(get_clock()))["code"] == 200
    await peer.ws.close()
    await healthy(s)


def _cookie(login: dict[str, Any]) -> dict[str, str]:
    return {"Cookie": f"session_id={login['_session_id']}"}


async def test_credentials_of_the_wrong_kind_close_the_socket_4401(serve: Any) -> None:
    s: Served = await serve()
    async with s.http.post(
        f"{s.server.url}/api/account/{ACC}/login?v=1.3", json={"username": "bot", "password": "x"}
    ) as r:
        login = await r.json()
        login["_session_id"] = r.cookies["session_id"].value
    other = await s.login("bot", OTHER_ACC)
    bearer = login["bearer"]
    wrong = {
        "consumer JWS": s.jws("a"),
        "another account's bearer": other["bearer"],
        "a bearer with a changed character": bearer[:-1] + ("0" if bearer[-1] != "0" else "1"),
        "garbage": "%00%ff..",
        "a very long bearer": "b" * 4000,
    }
    for what, token in wrong.items():
        ws = await s.agent_ws(token)
        code = await ws_closed(ws)
        assert code == 4401, (what, code)
    # the agent's bearer on the consumer socket, in the header and in the path
    ws = await s.ws(bearer)
    assert await ws_closed(ws) == 4401
    url = f"ws://127.0.0.1:{s.server.port}/ws_api/account/{ACC}/messaging/consumer/{bearer}?v=3"
    ws = await s.http.ws_connect(url)
    assert await ws_closed(ws) == 4401
    # the bearer works until its login session logs out; then the socket closes 4401
    ok = await s.agent_ws(bearer)
    assert (await Peer(ok, AGENT, "bot", "").answer(get_clock()))["code"] == 200
    url = f"{s.server.url}/api/account/{ACC}/logout?v=1.3"
    async with s.http.post(url, json={"csrf": "forged"}, headers=_cookie(login)) as r:
        assert r.status == 401  # the documented CSRF refusal: nothing changes
    async with s.http.post(url, json={"csrf": login["csrf"]}) as r:
        assert r.status == 401  # no session cookie
    assert (await Peer(ok, AGENT, "bot", "").answer(get_clock()))["code"] == 200
    async with s.http.post(url, json={"csrf": login["csrf"]}, headers=_cookie(login)) as r:
        assert r.status == 200
    assert await ws_closed(ok) == 4401
    again = await s.agent_ws(bearer)
    assert await ws_closed(again) == 4401
    await healthy(s)


async def test_a_cut_connection_with_a_ring_waiting_rings_another_agent(serve: Any) -> None:
    """The transport goes away without a close frame: the waiting ring is cancelled and the
    conversation goes to the next agent; the accepted conversation stays the first agent's."""
    s: Served = await serve()
    scene = await Scene.build(s)
    second = await s.peer(AGENT, "second-bot")
    assert (await _subscribe_routing(second))["code"] == 200
    first_pid = scene.peer.id
    transport = scene.peer.ws._response.connection.transport  # type: ignore[union-attr]
    assert transport is not None
    transport.abort()
    ring = await _next_ring(second.ws)
    assert ring["convId"] == scene.ringing and ring["ringState"] == "WAITING"
    assert s.engine.conversation(ACC, scene.own).assigned_agent() == first_pid
    body = {"ringId": ring["ringId"], "ringState": "ACCEPTED"}
    assert (await _answer_ring(second, body))["code"] == 202
    assert s.engine.conversation(ACC, scene.ringing).assigned_agent() == second.id
    await second.ws.close()
    await healthy(s)


@pytest.mark.parametrize("role", ROLES)
async def test_idle_sockets_close_and_pings_count_as_activity(serve: Any, role: str) -> None:
    """The agent SDK pings every 60 s and sends nothing else on a quiet socket."""
    s: Served = await serve(ws_idle_timeout=0.6)
    silent = await s.peer(role, "silent")
    pinger = await s.peer(role, "pinger")
    loop = asyncio.get_running_loop()
    started = loop.time()
    while loop.time() - started < 1.3:  # over twice the idle timeout
        await pinger.ws.ping(b"k")
        msg = await pinger.ws.receive(timeout=5)
        assert msg.type is aiohttp.WSMsgType.PONG and msg.data == b"k", msg
        await asyncio.sleep(0.1)  # pacing the pings, not waiting for a result
    msg = await silent.ws.receive(timeout=5)
    assert msg.type is aiohttp.WSMsgType.CLOSE and msg.data == 1000, msg
    assert "idle for more than 0.6 s" in msg.extra, msg
    assert (await pinger.answer(get_clock()))["code"] == 200
    await pinger.ws.close()
    await healthy(s)


async def test_agent_frames_before_a_bad_bearer_closes_are_not_answered_twice(serve: Any) -> None:
    """Frames sent at once on a socket whose bearer is refused: none is answered (the socket is
    closing), none is a bug; the close is 4401."""
    s: Served = await serve()
    ws = await s.agent_ws("f" * 64)
    for i in range(20):
        try:
            await ws.send_str(orjson.dumps(get_clock(str(i))).decode())
        except ConnectionError:
            break
    answered = []
    while True:
        msg = await ws.receive(timeout=5)
        if msg.type is not aiohttp.WSMsgType.TEXT:
            break
        answered.append(orjson.loads(msg.data))
    assert ws.close_code == 4401 and answered == [], (ws.close_code, answered)
    await healthy(s)


async def test_a_reset_closes_the_accounts_agent_sockets_4401(serve: Any) -> None:
    s: Served = await serve()
    scene = await Scene.build(s)
    status, _ = await s.post(f"/_mockle/reset?account={ACC}", {}, {})
    assert status == 200
    msg = await scene.peer.ws.receive(timeout=5)
    while msg.type is aiohttp.WSMsgType.TEXT:  # what was queued before the close
        msg = await scene.peer.ws.receive(timeout=5)
    assert msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED), msg
    assert scene.peer.ws.close_code == 4401 and "reset" in str(msg.extra)
    fresh = await s.peer(AGENT, "hostile-bot")
    assert (await _subscribe_routing(fresh))["code"] == 200
    await scene.peer.ws.close()
    await fresh.ws.close()
    await healthy(s)
