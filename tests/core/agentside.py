"""A core World driven without a server: consumer and agent sockets, logins, a FakeClock and a
scheduler that runs ``Later`` actions when the clock reaches them."""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any

import orjson

from mockle.core import agents
from mockle.core.clock import FakeClock, Ids
from mockle.core.effects import CoreConfig, Effects, Later
from mockle.core.schemas import SchemaSet
from mockle.core.sessions import Session
from mockle.core.world import World

ACCOUNT = "le12345678"
BASE = "127.0.0.1:8080"


class Stage:
    def __init__(self, config: CoreConfig | None = None) -> None:
        self.clock = FakeClock()
        self.world = World.build(
            config or CoreConfig(agent_mode="manual"), clock=self.clock, ids=Ids(3)
        )
        self.engine = self.world.engine
        self.inbox: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self.closes: dict[str, tuple[int, str]] = {}
        self.pending: list[tuple[int, int, Later]] = []
        self._n = 0

    # -- effects --------------------------------------------------------------------------

    def deliver(self, fx: Effects) -> Effects:
        for sid, frame in fx.frames:
            self.inbox[sid].append(orjson.loads(orjson.dumps(frame)))
        for sid, code, reason in fx.closes:
            self.closes.setdefault(sid, (code, reason))
        now = self.clock.now_ms()
        for later in fx.later:
            self._n += 1
            self.pending.append((now + later.delay_ms, self._n, later))
        return fx

    def advance(self, ms: int) -> None:
        """Move the clock, running every scheduled action that falls due (in order)."""
        end = self.clock.now_ms() + ms
        while True:
            due = sorted(p for p in self.pending if p[0] <= end)
            if not due:
                break
            first = due[0]
            self.pending.remove(first)
            self.clock.advance(max(0, first[0] - self.clock.now_ms()))
            fx = Effects()
            first[2].action(fx)
            self.deliver(fx)
        self.clock.advance(max(0, end - self.clock.now_ms()))

    # -- participants -----------------------------------------------------------------------

    def consumer(self, account: str = ACCOUNT) -> Sock:
        token = self.engine.tokens.mint_signup(account, 3600)
        session, fx = self.world.ums.open_consumer(account, token=token)
        self.deliver(fx)
        return Sock(self, session)

    def login(self, name: str = "bot", account: str = ACCOUNT, **body: Any) -> dict[str, Any]:
        raw = orjson.dumps({"username": name, "password": "pw", **body})
        reply = self.world.login.login(account, raw, BASE)
        assert reply.status == 200, reply.body
        assert isinstance(reply.body, dict)
        return reply.body

    def agent(self, name: str = "bot", account: str = ACCOUNT, *, route: bool = True) -> Sock:
        """A logged-in agent's socket; subscribed to routing tasks unless ``route`` is False."""
        body = self.login(name, account)
        sock = self.open_agent(body["bearer"], account)
        sock.login = body
        if route:
            resp = sock.req({"id": "r", "type": ".ams.routing.SubscribeRoutingTasks", "body": {}})
            assert resp["code"] == 200, resp
            first = self.inbox[sock.id].pop(0)  # the subscription's snapshot (no rings yet)
            assert first["body"]["changes"] == [], first
        return sock

    def open_agent(self, bearer: str, account: str = ACCOUNT, version: str = "2.1") -> Sock:
        session, fx = self.world.ums.open_agent(account, bearer, version=version)
        self.deliver(fx)
        return Sock(self, session)

    def define(self, **doc: Any) -> None:
        agents.define(self.engine, {"account": ACCOUNT, **doc})

    def close(self, sock: Sock) -> None:
        self.deliver(self.world.ums.closed(sock.session))


class Sock:
    def __init__(self, stage: Stage, session: Session) -> None:
        self.stage = stage
        self.session = session
        self.login: dict[str, Any] = {}

    @property
    def id(self) -> str:
        return self.session.id

    @property
    def legacy(self) -> str:
        return f"{self.session.account}.{self.login['config']['userId']}"

    @property
    def pid(self) -> str:
        return str(self.login["config"]["userPid"])

    def send(self, frame: Any) -> list[dict[str, Any]]:
        inbox = self.stage.inbox[self.id]
        before = len(inbox)
        self.stage.deliver(self.stage.world.ums.frame(self.session, json.dumps(frame)))
        got = inbox[before:]
        del inbox[before:]
        return got

    def req(self, frame: Any) -> dict[str, Any]:
        got = self.send(frame)
        assert got and got[0]["kind"] == "resp", got
        self.stage.inbox[self.id][:0] = got[1:]  # what followed stays for take()
        return got[0]

    def ok(self, type_name: str, body: Any = None, code: int = 200) -> Any:
        resp = self.req({"kind": "req", "id": "1", "type": type_name, "body": body or {}})
        assert resp["code"] == code, resp
        return resp["body"]

    def take(self, type_name: str | None = None) -> list[dict[str, Any]]:
        """What the socket received (of one type, leaving the others), and forget it."""
        inbox = self.stage.inbox[self.id]
        taken = [f for f in inbox if type_name is None or f.get("type") == type_name]
        inbox[:] = [f for f in inbox if not (type_name is None or f.get("type") == type_name)]
        return taken

    @property
    def closed(self) -> tuple[int, str] | None:
        return self.stage.closes.get(self.id)


RING = ".ams.routing.RoutingTaskNotification"


def rings(sock: Sock) -> list[dict[str, Any]]:
    """The ring details the socket received (schema-checked), oldest first."""
    out = []
    for frame in sock.take(RING):
        SchemaSet.default().validate("routing/routingTaskNotification.json", frame)
        for change in frame["body"]["changes"]:
            for ring in change["result"]["ringsDetails"]:
                out.append({**ring, "taskCompleted": change["result"]["taskCompleted"]})
    return out


def request_conversation(consumer: Sock, **body: Any) -> str:
    got = consumer.ok("cm.ConsumerRequestConversation", {"brandId": ACCOUNT, **body})
    return str(got["conversationId"])


def content(dialog: str, message: str, type_name: str = ".ams.ms.PublishEvent") -> dict[str, Any]:
    return {
        "kind": "req",
        "id": "p",
        "type": type_name,
        "body": {
            "dialogId": dialog,
            "event": {"type": "ContentEvent", "contentType": "text/plain", "message": message},
        },
    }
