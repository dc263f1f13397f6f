"""Fixtures of the robustness suite: a live mockle in a thread, shared by a module's examples."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import orjson
import pytest

from mockle.core import sealed
from mockle.core.engine import Engine
from mockle.core.model import CLOSE
from mockle.core.tokens import lp_consumer_id
from mockle.server import MockleServer, ThreadedMockle
from mockle.settings import Settings
from tests.robustness.helpers import (
    ACC,
    CONV,
    OTHER_ACC,
    SEND,
    Http,
    LogTrap,
    agent_path,
    close_request,
    login_body,
    login_path,
    profile_request,
    request_conversation,
    state_violations,
    text_event,
)
from tests.robustness.strategies import CLOSED, OWN, PLACEHOLDERS

POOL = 4  # fuzzing consumers on ACC


def tamper(token: str) -> str:
    """The same token with one character of its signature changed."""
    head, _, sig = token.rpartition(".")
    return f"{head}.{'A' if sig[0] != 'A' else 'B'}{sig[1:]}"


@dataclass
class Live:
    """A running mockle with tokens, a fuzzing consumer pool and a victim conversation."""

    server: ThreadedMockle
    http: Http
    trap: LogTrap
    tokens: dict[str, str] = field(default_factory=dict)
    pool: list[str] = field(default_factory=list)  # ext ids of the fuzzing consumers
    victim_conv: str = ""
    seeded: int = 0  # conversations opened by the control API fuzzing to replace lost ones

    def __repr__(self) -> str:
        return f"Live(port={self.server.server.port})"

    @property
    def engine(self) -> Engine:
        return self.server.engine

    def call(self, fn: Callable[..., Any], *args: Any) -> Any:
        return self.server.call(fn, *args)

    def headers(self, ext: str) -> dict[str, str | bytes]:
        return {"Authorization": self.tokens["app"], "X-LP-ON-BEHALF": self.tokens[f"jws:{ext}"]}

    def open_for(self, ext: str) -> str:
        """The consumer's open conversation, opened now if it has none."""
        conv = self.call(self._open_of, ext)
        if conv is not None:
            return str(conv)
        answer = self.http.post_json(
            CONV, [profile_request(), request_conversation()], self.headers(ext)
        )
        assert answer.status == 200, answer.body
        return str(answer.json()[1]["body"]["conversationId"])

    def closed_for(self, ext: str) -> str:
        conv = self.call(self._closed_of, ext)
        if conv is not None:
            return str(conv)
        own = self.open_for(ext)
        answer = self.http.post_json(SEND, close_request(own), self.headers(ext))
        assert answer.status == 200, answer.body
        return own

    def resolve(self, doc: Any, ext: str) -> Any:
        """``doc`` with the conversation placeholders of the strategies replaced, as of now."""
        if isinstance(doc, str) and doc in PLACEHOLDERS:
            if doc == OWN:
                return self.open_for(ext)
            if doc == CLOSED:
                return self.closed_for(ext)
            return self.victim_conv
        if isinstance(doc, list):
            return [self.resolve(x, ext) for x in doc]
        if isinstance(doc, dict):
            return {k: self.resolve(v, ext) for k, v in doc.items()}
        return doc

    def free(self, ext: str) -> None:
        """Close the consumer's open conversation, if it has one."""
        own = self.call(self._open_of, ext)
        if own is not None:
            answer = self.http.post_json(SEND, close_request(own), self.headers(ext))
            assert answer.status == 200, answer.body

    def _open_of(self, ext: str) -> str | None:
        acc = self.engine.accounts.get(ACC)
        consumer = acc.consumers.get(lp_consumer_id(ACC, ext)) if acc else None
        return consumer.open_conversation if consumer else None

    def _closed_of(self, ext: str) -> str | None:
        acc = self.engine.accounts.get(ACC)
        if acc is None:
            return None
        cid = lp_consumer_id(ACC, ext)
        for conv in self.engine.conversations(acc):
            if conv.consumer_id == cid and conv.state == CLOSE:
                return conv.conv_id
        return None

    def fingerprint(self) -> tuple[Any, ...]:
        """What a refused request must not change (conversations, dialogs, events, profiles)."""
        return tuple(self.call(_fingerprint, self.engine))

    def victim_state(self) -> tuple[Any, ...]:
        return tuple(self.call(_conv_state, self.engine, self.victim_conv))

    def problems(self) -> list[str]:
        """Broken invariants, bugs recorded by the last-resort middleware, errors in the log.

        Bugs and log records are reported once: taking them clears them, so one failing
        example does not fail every later one.
        """
        found = list(self.call(state_violations, self.engine))
        bugs = self.server.server.runtime.bugs
        found += [f"bug: {b}" for b in bugs]
        bugs.clear()
        found += self.trap.problems()
        self.trap.records.clear()
        return found

    def assert_healthy(self) -> None:
        health = self.http.request("GET", "/_mockle/health")
        assert health.status == 200, health.body
        problems = self.problems()
        assert not problems, problems


def _fingerprint(engine: Engine) -> list[Any]:
    out: list[Any] = []
    for acc_id in sorted(engine.accounts):
        acc = engine.accounts[acc_id]
        for conv_id in sorted(acc.conversations):
            out.append((conv_id, *_conv_state(engine, conv_id, acc_id)))
        for cid in sorted(acc.consumers):
            out.append((cid, repr(acc.consumers[cid].profile)))
    return out


def _conv_state(engine: Engine, conv_id: str, account: str = ACC) -> list[Any]:
    stored = engine.accounts[account].conversations[conv_id]
    conv = sealed.thaw(stored) if isinstance(stored, bytes) else stored  # read, not thawed in place
    return [
        conv.state,
        conv.stage,
        conv.skill_id,
        conv.ttr_type,
        conv.ttr_value,
        repr(conv.csat),
        [(p.id, p.role) for p in conv.participants],
        [(d.dialog_id, d.state, len(d.events)) for d in conv.dialogs],
        len(conv.timeline),
    ]


def make_live(settings: Settings) -> Iterator[Live]:
    trap = LogTrap().install()
    server = ThreadedMockle(settings).start()
    http = Http("127.0.0.1", server.server.port)
    live = Live(server, http, trap)
    try:
        _mint(live)
        for ext in live.pool:
            live.closed_for(ext)
            live.open_for(ext)
        live.victim_conv = live.open_for("victim")
        live.assert_healthy()
        yield live
    finally:
        http.close()
        server.stop()
        trap.remove()


def _mint(live: Live) -> None:
    t = live.engine.tokens

    def mint() -> dict[str, str]:
        out = {
            "app": t.mint_app_jwt(ACC, "robust-client", 3600),
            "app-other-account": t.mint_app_jwt(OTHER_ACC, "robust-client", 3600),
            "app-expired": t.mint_app_jwt(ACC, "robust-client", -60),
            "jws-other-account": t.mint_consumer_jws(OTHER_ACC, "fuzz-0", 0),
            "jws-expired": t.mint_consumer_jws(ACC, "fuzz-0", -60),
            "signup": t.mint_signup(ACC, 3600),
        }
        for ext in [f"fuzz-{i}" for i in range(POOL)] + ["victim"]:
            out[f"jws:{ext}"] = t.mint_consumer_jws(ACC, ext, 0)
        return out

    live.tokens.update(live.call(mint))
    live.tokens["app-tampered"] = tamper(live.tokens["app"])
    live.tokens["jws-tampered"] = tamper(live.tokens["jws:fuzz-0"])
    live.pool = [f"fuzz-{i}" for i in range(POOL)]


FUZZ_SETTINGS = Settings(port=0, agent="manual", auto_messages=[], log_level="warning")


@pytest.fixture(scope="module")
def live() -> Iterator[Live]:
    yield from make_live(FUZZ_SETTINGS)


# -- an in-loop server for the async tests ---------------------------------------------------------


@dataclass
class Served:
    """A :class:`MockleServer` in the test's loop, an HTTP session, tokens and the log trap."""

    server: MockleServer
    http: aiohttp.ClientSession
    trap: LogTrap

    @property
    def engine(self) -> Engine:
        return self.server.engine

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.server.port}/ws_api/account/{ACC}/messaging/consumer?v=3"

    def jws(self, ext: str, account: str = ACC) -> str:
        return self.engine.tokens.mint_consumer_jws(account, ext, 0)

    def headers(self, ext: str, account: str = ACC) -> dict[str, str]:
        app = self.engine.tokens.mint_app_jwt(account, "robust-client", 3600)
        return {"Authorization": app, "X-LP-ON-BEHALF": self.jws(ext, account)}

    async def post(
        self, path: str, body: Any, headers: dict[str, str], *, raw: bool = False
    ) -> tuple[int, Any]:
        data: Any = body if raw else orjson.dumps(body)
        if len(data) > 65536:  # aiohttp warns about large raw bodies
            data = io.BytesIO(data)
        async with self.http.post(self.server.url + path, data=data, headers=headers) as r:
            text = await r.read()
            return r.status, orjson.loads(text) if text else None

    async def open_conversation(self, headers: dict[str, str]) -> str:
        status, doc = await self.post(CONV, [profile_request(), request_conversation()], headers)
        assert status == 200, doc
        return str(doc[1]["body"]["conversationId"])

    async def ws(self, token: str | None, **kw: Any) -> aiohttp.ClientWebSocketResponse:
        headers = {"Authorization": f"jwt {token}"} if token else {}
        return await self.http.ws_connect(self.ws_url, headers=headers, autoping=False, **kw)

    # -- the agent side -------------------------------------------------------------------

    async def login(self, name: str, account: str = ACC) -> dict[str, Any]:
        """A Login Service login (lenient: any name is an agent); its answer."""
        status, doc = await self.post(login_path(account), login_body(name), {})
        assert status == 200, doc
        return dict(doc)

    def agent_url(self, bearer: str, account: str = ACC, query: str = "?v=2.1") -> str:
        return f"ws://127.0.0.1:{self.server.port}{agent_path(account, bearer)}{query}"

    async def agent_ws(
        self, bearer: str, account: str = ACC, **kw: Any
    ) -> aiohttp.ClientWebSocketResponse:
        return await self.http.ws_connect(self.agent_url(bearer, account), autoping=False, **kw)

    async def peer(self, role: str, name: str = "a", **kw: Any) -> Peer:
        """An open socket of ``role`` (consumer: a ConsumerJWS in the header; agent: a login
        and its bearer in the path)."""
        if role == AGENT:
            login = await self.login(name)
            ws = await self.agent_ws(login["bearer"], **kw)
            return Peer(ws, role, name, str(login["config"]["userPid"]), login)
        return Peer(await self.ws(self.jws(name), **kw), role, name, lp_consumer_id(ACC, name))

    async def conversation_for(self, peer: Peer) -> str:
        """An open conversation ``peer`` may publish in: a consumer's own, or one the agent
        was joined to as its assigned agent (control API)."""
        if peer.role != AGENT:
            return await self.open_conversation(self.headers(peer.name))
        conv = await self.open_conversation(self.headers(f"for-{peer.name}"))
        path = f"/_mockle/conversations/{conv}/agent/join"
        status, doc = await self.post(path, {"agentId": peer.id}, {})
        assert status == 200, doc
        return conv

    def problems(self) -> list[str]:
        found = list(state_violations(self.engine))
        found += [f"bug: {b}" for b in self.server.runtime.bugs]
        ums = self.server.runtime.world.ums
        if ums is not None and ums.bugs:
            found.append(f"ums bugs: {ums.bugs}")
        return found + self.trap.problems()


AGENT, CONSUMER_ROLE = "agent", "consumer"
ROLES = (CONSUMER_ROLE, AGENT)


@dataclass
class Peer:
    """One socket of either role, and who it is (consumer id, or agent PID)."""

    ws: aiohttp.ClientWebSocketResponse
    role: str
    name: str
    id: str
    login: dict[str, Any] = field(default_factory=dict)

    def type(self, name: str) -> str:
        """A request type in the socket's usual dialect (``.ams.`` for agents)."""
        return f".ams.{name}" if self.role == AGENT and not name.startswith(".") else name

    def publish(self, conv: str, message: str = "hello", rid: str = "1") -> dict[str, Any]:
        frame = text_event(conv, message, rid=rid)
        frame["type"] = self.type("ms.PublishEvent")
        return frame

    async def send(self, frame: Any) -> None:
        await self.ws.send_str(orjson.dumps(frame).decode())

    async def answer(self, frame: Any, timeout: float = 5.0) -> dict[str, Any]:
        await self.send(frame)
        return await ws_answer(self.ws, timeout)


@pytest.fixture
async def serve() -> AsyncIterator[Callable[..., Awaitable[Served]]]:
    """``await serve(**settings)``: a started mockle (agent manual), stopped after the test."""
    async with AsyncExitStack() as stack:

        async def start(**overrides: Any) -> Served:
            trap = LogTrap().install()
            stack.callback(trap.remove)
            settings = Settings(port=0, agent="manual", auto_messages=[], **overrides)
            server = await stack.enter_async_context(MockleServer(settings))
            http = await stack.enter_async_context(aiohttp.ClientSession())
            return Served(server, http, trap)

        yield start


async def ws_answer(ws: aiohttp.ClientWebSocketResponse, timeout: float = 5.0) -> dict[str, Any]:
    """The next ``resp`` on an aiohttp client socket (notifications are skipped)."""
    while True:
        msg = await ws.receive(timeout=timeout)
        assert msg.type is aiohttp.WSMsgType.TEXT, (msg.type, msg.data, msg.extra)
        doc = orjson.loads(msg.data)
        if doc.get("kind") == "resp":
            return dict(doc)


async def ws_closed(ws: aiohttp.ClientWebSocketResponse, timeout: float = 5.0) -> int | None:
    """Read until the server closes the socket; its close code."""
    while True:
        msg = await ws.receive(timeout=timeout)
        if msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED):
            return ws.close_code
        if msg.type is aiohttp.WSMsgType.ERROR:
            return ws.close_code
