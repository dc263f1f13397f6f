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
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from hypothesis import event, given
from hypothesis import strategies as st

from mockle.core.requests import request_id
from mockle.settings import Settings
from tests.robustness import strategies as s
from tests.robustness.conftest import Live, make_live, tamper
from tests.robustness.helpers import OTHER_ACC, Closed, Ws, get_clock, subscribe_events

pytestmark = pytest.mark.timeout(180)

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
