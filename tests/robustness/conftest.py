"""Fixtures of the robustness suite: a live mockle in a thread, shared by a module's examples."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from mockle.core.engine import Engine
from mockle.core.model import CLOSE
from mockle.core.tokens import lp_consumer_id
from mockle.server import ThreadedMockle
from mockle.settings import Settings
from tests.robustness.helpers import (
    ACC,
    CONV,
    OTHER_ACC,
    SEND,
    Http,
    LogTrap,
    close_request,
    profile_request,
    request_conversation,
    state_violations,
)

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
        for conv in acc.conversations.values():
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
        bugs = self.server.server.runtime.extras.get("bugs", [])
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
    conv = engine.accounts[account].conversations[conv_id]
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
