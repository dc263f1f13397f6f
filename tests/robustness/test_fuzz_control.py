"""Property-based fuzzing of the control API (``/_mockle/*``): every route the running app
registers, with generated path parameters, query strings and bodies (near-valid shapes of each
route's documented body, and anything else).

Properties as for the REST services: never a 5xx, a 4xx is the documented error envelope, the
server keeps answering, the state stays consistent, no bug and nothing in the log at ERROR.
Faults created by an example are deleted after it (an injected 5xx is no bug), and webhook
endpoints are only ever a closed port on the loopback.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import orjson
import pytest
from hypothesis import assume, event, given
from hypothesis import strategies as st

from mockle.settings import Settings
from tests.robustness import strategies as s
from tests.robustness.conftest import Live, make_live
from tests.robustness.helpers import ACC, OTHER_ACC, answer_shape_problem

pytestmark = pytest.mark.timeout(180)

LOOPBACK_HOOK = "http://127.0.0.1:9/hook"  # the discard port: nothing listens, nothing leaves
SLOW_QUERY = {"wait", "timeout"}  # long-poll parameters: kept short so examples stay fast
URL = re.compile(r"[a-z][a-z0-9+.-]*://", re.IGNORECASE)

CONTROL_SETTINGS = Settings(
    port=0,
    agent="manual",
    auto_messages=[],
    webhook_timeout=0.5,
    webhook_retry_interval=0.01,
)


@pytest.fixture(scope="module")
def control() -> Iterator[Live]:
    yield from make_live(CONTROL_SETTINGS)


def _routes(live: Live) -> list[tuple[str, str]]:
    out = []
    for route in live.server.server.app.router.routes():
        path = route.resource.canonical if route.resource is not None else ""
        if path.startswith("/_mockle/ui") and path != "/_mockle/ui/session":
            continue  # the Agent Workspace's page and files (tests/web/test_ui.py), not JSON
        if path.startswith("/_mockle/") and route.method != "HEAD":
            out.append((route.method, path))
    return sorted(set(out))


manifest = s.shaped(
    {
        "account": st.sampled_from([ACC, OTHER_ACC]),
        "client_name": st.text(min_size=1, max_size=12),
    },
    {
        "client_id": st.text(min_size=1, max_size=12),
        "client_secret": st.text(min_size=1, max_size=12),
        "enabled": st.booleans(),
        "capabilities": st.fixed_dictionaries(
            {
                "webhooks": st.dictionaries(
                    st.sampled_from(
                        [
                            "ms.MessagingEventNotification.ContentEvent",
                            "cqm.ExConversationChangeNotification",
                            "retry",
                        ]
                    ),
                    s.shaped(
                        {"endpoint": st.just(LOOPBACK_HOOK)},
                        {"max_retries": st.integers(-1, 6), "headers": s.json_values},
                    ),
                    max_size=2,
                )
            }
        ),
    },
)
BODIES: dict[str, Any] = {
    "/_mockle/apps": manifest,
    "/_mockle/conversations/{id}/agent/join": s.shaped({}, {"agentId": st.text(max_size=12)}),
    "/_mockle/conversations/{id}/agent/publish": s.shaped(
        {"event": s.events},
        {
            "agentId": st.text(max_size=12),
            "metadata": s.metadata,
            "messageAudience": st.sampled_from(["ALL", "AGENTS_AND_MANAGERS", "X"]),
        },
    ),
    "/_mockle/conversations/{id}/close": s.shaped(
        {}, {"by": st.sampled_from(["agent", "CONSUMER", "System", "nobody"])}
    ),
    "/_mockle/conversations/{id}/transfer": s.shaped(
        {"skill": st.one_of(st.text(max_size=8), st.integers(-5, 10**6))}
    ),
    "/_mockle/tokens/expire": s.shaped(
        {"account": st.sampled_from([ACC, OTHER_ACC, ""])},
        {"consumer_id": st.text(max_size=64), "ext_consumer_id": st.sampled_from(["fuzz-1", "x"])},
    ),
    "/_mockle/connections/close": s.shaped(
        {
            "account": st.sampled_from([ACC, OTHER_ACC]),
            "code": st.integers(min_value=900, max_value=5100),
        },
        {"consumer_id": st.text(max_size=64), "reason": st.text(max_size=130)},
    ),
    "/_mockle/faults": s.shaped(
        {"target": st.sampled_from(["send", "conversation", "csds", "ws_request", "webhook", "x"])},
        {
            "status": st.integers(min_value=0, max_value=700),
            "delay_ms": st.integers(min_value=-1, max_value=20),
            "drop": st.booleans(),
            "times": st.integers(min_value=-1, max_value=3),
            "probability": st.floats(min_value=-1, max_value=2, allow_nan=False),
            "match": s.shaped({}, {"account": st.just(ACC), "type": st.text(max_size=10)}),
            "body": s.json_values,
        },
    ),
}

query_pairs = st.lists(
    st.tuples(
        st.sampled_from(
            [
                "account",
                "state",
                "conversationId",
                "eventType",
                "wait",
                "timeout",
                "after",
                "min",
                "limit",
                "target",
                "x",
            ]
        ),
        st.one_of(
            st.sampled_from([ACC, "OPEN", "CLOSE", "0", "1", "-1", "1e9", "nan", "inf", "0.01"]),
            st.text(max_size=10),
        ),
    ),
    max_size=3,
)


def _query(pairs: list[tuple[str, str]]) -> str:
    safe = []
    for key, value in pairs:
        if key in SLOW_QUERY:
            try:
                if float(value) > 0.05:
                    value = "0.01"
            except ValueError:
                pass
        safe.append(f"{quote(key)}={quote(value)}")
    return "?" + "&".join(safe) if safe else ""


def _strings(doc: Any) -> Iterator[str]:
    if isinstance(doc, str):
        yield doc
    elif isinstance(doc, list):
        for x in doc:
            yield from _strings(x)
    elif isinstance(doc, dict):
        for k, v in doc.items():
            yield k
            yield from _strings(v)


def _seed(live: Live) -> None:
    """Keep two open conversations around (a reset or a close may have removed them)."""
    opened = live.call(
        lambda: sum(
            c.is_open for a in live.engine.accounts.values() for c in live.engine.conversations(a)
        )
    )
    for _ in range(max(0, 2 - opened)):
        live.seeded += 1
        ext = f"seed-{live.seeded}"
        tokens = live.engine.tokens
        app = live.call(tokens.mint_app_jwt, ACC, "seed", 3600)
        jws = live.call(tokens.mint_consumer_jws, ACC, ext, 0)
        live.tokens[f"jws:{ext}"] = jws
        live.tokens["app"] = app
        live.open_for(ext)


@s.fuzz_settings(max_examples=300)
@given(data=st.data())
def test_every_control_route_answers_any_input(control: Live, data: st.DataObject) -> None:
    _seed(control)
    method, template = data.draw(st.sampled_from(_routes(control)))
    event(f"{method} {template}")
    path = template
    if "{id}" in path:  # an existing conversation (by index, so drawing ignores state) or not
        ids = control.call(
            lambda: [c for a in control.engine.accounts.values() for c in a.conversations]
        )
        pick = data.draw(st.one_of(s.pick(8), s.path_segments))
        conv = ids[pick % len(ids)] if isinstance(pick, int) and ids else str(pick)
        path = path.replace("{id}", conv)
    path = re.sub(r"\{[^}]+\}", lambda _: data.draw(s.path_segments), path)
    body_strategy = BODIES.get(template)
    doc = data.draw(s.mutated(body_strategy) if body_strategy is not None else s.json_values)
    assume(all(not URL.search(x) or x == LOOPBACK_HOOK for x in _strings(doc)))
    body = orjson.dumps(doc)
    if data.draw(s.pick(8)) == 7:
        body = data.draw(s.encoded(st.just(doc)))
    answer = control.http.request(
        method,
        path + _query(data.draw(query_pairs)),
        body if method != "GET" else None,
        {"Content-Type": "application/json"},
    )
    event(f"status {answer.status}")
    try:
        assert answer.status < 500, (answer.status, answer.body[:500])
        if answer.status >= 400:
            problem = answer_shape_problem(answer.status, answer.body)
            assert problem is None, problem
        else:
            orjson.loads(answer.body)
        control.assert_healthy()
    finally:
        control.http.request("DELETE", "/_mockle/faults")
