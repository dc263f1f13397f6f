"""Property-based fuzzing of the UMS consumer WebSocket over real sockets (hypothesis).

Each example opens a socket (token in the header, in the path, through InitConnection, a bad
token, or none) and sends a few messages: near-valid request frames of every documented type,
other text, binary frames, and now and then a frame over the size limit. Properties:

* every text or binary frame gets exactly one ``resp``, never with a 5xx code, until the
  socket is closed; a close carries a documented code (1009 too big, 4401 / 4407 tokens);
* a socket that is still open answers GetClock afterwards;
* other sockets carry on: a watcher socket of another consumer answers after every example
  and its conversation is never touched;
* the state stays consistent, nothing is recorded as a bug and nothing reaches the log.

The same properties hold for the agent socket: near-valid frames of every agent request
(availability, routing subscriptions, ring answers aimed at the rings the socket was given,
conversation fields with participants changes and transfers, proactive conversations,
profiles), with good and bad bearers; the victim's conversation has an assigned agent, so
no fuzzing agent may take it over.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import orjson
import pytest
from hypothesis import event, given
from hypothesis import strategies as st

from mockle.core.requests import request_id
from mockle.core.tokens import lp_consumer_id
from mockle.settings import Settings
from tests.robustness import strategies as s
from tests.robustness.conftest import Live, make_live, tamper
from tests.robustness.helpers import (
    ACC,
    OTHER_ACC,
    Closed,
    Ws,
    agent_path,
    get_clock,
    login_body,
    login_path,
    subscribe_events,
)

pytestmark = pytest.mark.timeout(240)

DOCUMENTED_CLOSES = {1000, 1009, 4401, 4407}
# The echo agent answers every consumer message at once, so its notifications interleave
# with the answers the examples wait for.
WS_SETTINGS = Settings(port=0, agent="echo", agent_delay_ms=0, log_level="warning")
AUTH_MODES = ("header", "header", "header", "path", "init", "none", "bad")


@pytest.fixture(scope="module")
def watched() -> Iterator[tuple[Live, Ws]]:
    """A live mockle and a watcher socket of the victim, subscribed to its conversation."""
    for live in make_live(WS_SETTINGS):
        watcher = Ws(live.server.server.port, live.tokens["jws:victim"])
        assert watcher.request(subscribe_events(live.victim_conv))["code"] == 200
        assert watcher.next()["type"] == "ms.MessagingEventNotification"  # the history
        try:
            yield live, watcher
        finally:
            watcher.close()


def _token(live: Live, ext: str, mode: str, bad: int) -> str | None:
    if mode == "none":
        return None
    if mode != "bad":
        return live.tokens[f"jws:{ext}"]
    return [
        live.tokens["app"],
        tamper(live.tokens[f"jws:{ext}"]),
        live.tokens["jws-other-account"],
        live.tokens["jws-expired"],
        "not-a-token",
    ][bad]


def _resolve_jwt(doc: Any, token: str | None) -> Any:
    if doc == s.JWT:
        return token or ""
    if isinstance(doc, list):
        return [_resolve_jwt(x, token) for x in doc]
    if isinstance(doc, dict):
        return {k: _resolve_jwt(v, token) for k, v in doc.items()}
    return doc


def _payload(live: Live, ext: str, token: str | None, kind: str, value: Any) -> str | bytes:
    if kind == "json":
        return orjson.dumps(_resolve_jwt(live.resolve(value, ext), token)).decode()
    if kind == "text":
        return str(value)
    if kind == "binary":
        return bytes(value)
    return "x" * int(value)


def _check_resp(doc: dict[str, Any]) -> None:
    assert isinstance(doc.get("reqId"), str), doc
    assert isinstance(doc.get("code"), int) and doc["code"] < 500, doc
    assert isinstance(doc.get("type"), str) and "body" in doc, doc
    event(f"resp {doc['code']}")


@s.fuzz_settings(max_examples=200)
@given(
    ext=st.sampled_from(["fuzz-0", "fuzz-1", "fuzz-2", "fuzz-3"]),
    mode=st.sampled_from(AUTH_MODES),
    bad=s.pick(5),
    version=st.sampled_from(["?v=3", "?v=3", "?v=2"]),
    messages=st.lists(s.ws_messages(), min_size=1, max_size=4),
)
def test_any_frames_get_one_answer_each_and_never_break_others(
    watched: tuple[Live, Ws],
    ext: str,
    mode: str,
    bad: int,
    version: str,
    messages: list[tuple[str, Any]],
) -> None:
    live, watcher = watched
    victim = live.victim_state()
    token = _token(live, ext, mode, bad)
    how = "path" if mode == "path" else "header"
    port = live.server.server.port
    ws = Ws(port, None if mode in ("init", "none") else token, how=how, query=version)
    if mode == "init":
        init = {"kind": "req", "id": "init", "type": "InitConnection", "headers": []}
        init["headers"] = [{"type": ".ams.headers.ConsumerAuthentication", "jwt": token}]
        assert ws.request(init)["code"] == 200
    code: int | None = None
    try:
        for kind, value in messages:
            payload = _payload(live, ext, token, kind, value)
            ws.send(payload)
            if kind == "huge":
                code = ws.closed_with()
                assert code == 1009 or (mode == "bad" and code == 4401), code  # whichever first
                break
            resp = ws.answer()
            _check_resp(resp)
            expected = request_id(orjson.loads(payload)) if kind == "json" else None
            assert resp["reqId"] == (expected or "0"), (resp, payload[:200])
        if code is None:
            resp = ws.request(get_clock())
            _check_resp(resp)
            assert resp["reqId"] == "clock", resp  # one answer per frame, no more
    except Closed as exc:
        code = exc.code
    finally:
        ws.close()
    event(f"closed {code}")
    assert code is None or code in DOCUMENTED_CLOSES, code
    assert watcher.request(get_clock())["code"] == 200
    assert not watcher.notifications, watcher.notifications
    assert live.victim_state() == victim
    assert live.server.server.runtime.world.ums.bugs == 0
    live.assert_healthy()


@s.fuzz_settings(max_examples=30)
@given(
    account=st.one_of(st.just(OTHER_ACC), s.path_segments),
    query=st.one_of(s.queries, st.sampled_from(["?v=2", "?v=2.1", "?v=4", "?v=", "?v=3&v=2"])),
    props=st.one_of(st.none(), s.client_properties),
)
def test_any_connection_url_and_headers_are_answered(
    watched: tuple[Live, Ws], account: str, query: str, props: bytes | None
) -> None:
    """Odd accounts, versions, queries and Client-Properties: a 4xx, or a socket that works."""
    live, watcher = watched
    headers = {} if props is None else {"Client-Properties": props.decode("latin-1")}
    try:
        ws = Ws(live.server.server.port, None, account=account, query=query, headers=headers)
    except Exception as exc:  # the handshake was refused: it must be a 4xx
        status = getattr(getattr(exc, "response", None), "status_code", None)
        assert status is not None and 400 <= status < 500, repr(exc)
        event(f"refused {status}")
    else:
        try:
            answer = ws.request(get_clock())
            assert answer["code"] in (200, 401), answer  # GetClock before InitConnection
        except Closed as exc:
            assert exc.code in DOCUMENTED_CLOSES, exc.code
        finally:
            ws.close()
    assert watcher.request(get_clock())["code"] == 200
    live.assert_healthy()


# -- the agent socket ------------------------------------------------------------------------------

AGENTS = ("fuzz-agent-0", "fuzz-agent-1", "fuzz-agent-2")
BEARER_MODES = ("good", "good", "good", "bad")


@dataclass
class AgentStage:
    live: Live
    watcher: Ws  # a consumer socket subscribed to the victim's conversation
    bot: Ws  # another agent's socket, which must carry on
    logins: dict[str, dict[str, Any]]


def _login(live: Live, name: str, account: str = ACC) -> dict[str, Any]:
    answer = live.http.post_json(login_path(account), login_body(name), {})
    assert answer.status == 200, answer.body
    doc: dict[str, Any] = answer.json()
    return doc


@pytest.fixture(scope="module")
def agent_stage() -> Iterator[AgentStage]:
    """A live mockle whose victim conversation has a (control-API) assigned agent, fuzzing
    agents that may log in, a consumer watcher of the victim and a bystander agent socket."""
    for live in make_live(WS_SETTINGS):
        path = f"/_mockle/conversations/{live.victim_conv}/agent/join"
        assert live.http.post_json(path, {}, {}).status == 200
        logins = {name: _login(live, name) for name in (*AGENTS, "watch-bot")}
        logins["other-account"] = _login(live, "fuzz-agent-0", OTHER_ACC)
        port = live.server.server.port
        watcher = Ws(port, live.tokens["jws:victim"])
        assert watcher.request(subscribe_events(live.victim_conv))["code"] == 200
        assert watcher.next()["type"] == "ms.MessagingEventNotification"  # the history
        bot = Ws(port, path=agent_path(ACC, logins["watch-bot"]["bearer"]), query="?v=2.1")
        try:
            yield AgentStage(live, watcher, bot, logins)
        finally:
            watcher.close()
            bot.close()


def _legacy(login: dict[str, Any]) -> str:
    return f"{ACC}.{login['config']['userId']}"


def _last_ring(ws: Ws) -> str:
    for frame in reversed(ws.notifications):
        if frame.get("type") == ".ams.routing.RoutingTaskNotification":
            for change in frame["body"].get("changes", []):
                for ring in change.get("result", {}).get("ringsDetails", []):
                    return str(ring["ringId"])
    return "no-ring-yet"


def _resolve_agent(stage: AgentStage, doc: Any, me: str, ext: str, ws: Ws) -> Any:
    """The agent strategies' placeholders, then the conversation ones."""
    if isinstance(doc, str):
        if doc == s.RING_ID:
            return _last_ring(ws)
        if doc.startswith("$consumer:"):
            return lp_consumer_id(ACC, doc.split(":", 1)[1])
        if doc == "$self":
            return _legacy(stage.logins[me])
        if doc.startswith("$agent:"):
            name = doc.split(":", 1)[1]
            return _legacy(stage.logins[name]) if name in stage.logins else f"{ACC}.999"
        return stage.live.resolve(doc, ext)
    if isinstance(doc, list):
        return [_resolve_agent(stage, x, me, ext, ws) for x in doc]
    if isinstance(doc, dict):
        return {k: _resolve_agent(stage, v, me, ext, ws) for k, v in doc.items()}
    return doc


def _bearer(stage: AgentStage, me: str, mode: str, bad: int) -> str:
    bearer = str(stage.logins[me]["bearer"])
    if mode == "good":
        return bearer
    return [
        stage.live.tokens["jws:fuzz-0"],
        bearer[:-1] + ("0" if bearer[-1] != "0" else "1"),
        str(stage.logins["other-account"]["bearer"]),
        "not-a-bearer",
        stage.live.tokens["signup"],
    ][bad]


@s.fuzz_settings(max_examples=200)
@given(
    me=st.sampled_from(AGENTS),
    ext=st.sampled_from(["fuzz-0", "fuzz-1", "fuzz-2", "fuzz-3"]),
    mode=st.sampled_from(BEARER_MODES),
    bad=s.pick(5),
    version=st.sampled_from(["?v=2.1", "?v=2.1", "?v=2", "?v=3"]),
    messages=st.lists(s.agent_messages(), min_size=1, max_size=5),
)
def test_any_frames_on_the_agent_socket_get_one_answer_each_and_never_break_others(
    agent_stage: AgentStage,
    me: str,
    ext: str,
    mode: str,
    bad: int,
    version: str,
    messages: list[tuple[str, Any]],
) -> None:
    """The consumer socket's properties, for agent sockets: one ``resp`` per frame (a 4xx
    with a message when refused, never a 5xx), documented close codes only, a socket that
    still answers, the victim's conversation untouched, the bystanders answering, a
    consistent state and gap-free sequences, no bug and nothing in the log."""
    stage = agent_stage
    live = stage.live
    victim = live.victim_state()
    bearer = _bearer(stage, me, mode, bad)
    ws = Ws(live.server.server.port, path=agent_path(ACC, bearer), query=version)
    code: int | None = None
    try:
        for kind, value in messages:
            if kind == "json":
                payload: str | bytes = orjson.dumps(
                    _resolve_agent(stage, value, me, ext, ws)
                ).decode()
            else:
                payload = _payload(live, ext, None, kind, value)
            ws.send(payload)
            if kind == "huge":
                code = ws.closed_with()
                assert code == 1009 or (mode == "bad" and code == 4401), code
                break
            resp = ws.answer()
            _check_resp(resp)
            if resp["code"] >= 400:
                assert isinstance(resp["body"], str) and resp["body"], resp
            expected = request_id(orjson.loads(payload)) if kind == "json" else None
            assert resp["reqId"] == (expected or "0"), (resp, payload[:200])
        if code is None:
            resp = ws.request(get_clock())
            _check_resp(resp)
            assert resp["reqId"] == "clock", resp
    except Closed as exc:
        code = exc.code
    finally:
        ws.close()
    event(f"closed {code}")
    assert code is None or code in DOCUMENTED_CLOSES, code
    assert mode == "good" or code in (4401, 1009), (mode, code)  # 1009: the huge one first
    assert stage.watcher.request(get_clock())["code"] == 200
    assert not stage.watcher.notifications, stage.watcher.notifications
    assert stage.bot.request(get_clock())["code"] == 200
    assert live.victim_state() == victim
    assert live.server.server.runtime.world.ums.bugs == 0
    live.assert_healthy()


@s.fuzz_settings(max_examples=40)
@given(
    account=st.one_of(st.just(ACC), st.just(ACC), st.just(OTHER_ACC), s.path_segments),
    bearer=st.one_of(st.just("$good"), st.just("$good"), s.path_segments),
    query=st.one_of(s.queries, st.sampled_from(["?v=2", "?v=2.1", "?v=3", "?v=4", "?v=", ""])),
)
def test_any_agent_socket_url_is_answered(
    agent_stage: AgentStage, account: str, bearer: str, query: str
) -> None:
    """Odd accounts, bearers and versions: a 4xx refusal, a 4401 close, or a working socket."""
    stage = agent_stage
    good = str(stage.logins["fuzz-agent-0"]["bearer"])
    path = agent_path(account, good if bearer == "$good" else bearer)
    try:
        ws = Ws(stage.live.server.server.port, path=path, query=query)
    except Exception as exc:  # the handshake was refused: it must be a 4xx
        status = getattr(getattr(exc, "response", None), "status_code", None)
        assert status is not None and 400 <= status < 500, repr(exc)
        event(f"refused {status}")
    else:
        try:
            answer = ws.request(get_clock())
            assert answer["code"] == 200, answer
            assert account == ACC and bearer == "$good", (account, bearer)
            event("open")
        except Closed as exc:
            assert exc.code == 4401, exc.code
            event("closed 4401")
        finally:
            ws.close()
    assert stage.bot.request(get_clock())["code"] == 200
    stage.live.assert_healthy()
