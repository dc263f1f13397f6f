"""Property-based fuzzing of every REST endpoint (hypothesis, deterministic, bounded).

For any body, header set, query string and content type:

* the answer is never a 5xx, and a 4xx is JSON in a documented error shape;
* the server keeps answering (a health probe after every example);
* the state stays consistent (:func:`~tests.robustness.helpers.state_violations`), nothing is
  recorded as a bug and nothing reaches the log at ERROR;
* a refused request changes nothing, a CONVERSATION creates exactly the conversation it
  answers (no half-created one), and the victim consumer's conversation is never touched.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import orjson
import pytest
from hypothesis import event, given
from hypothesis import strategies as st

from tests.robustness import strategies as s
from tests.robustness.conftest import Live
from tests.robustness.helpers import (
    ACC,
    CONV,
    SEND,
    Answer,
    answer_shape_problem,
    conversation_count,
)

pytestmark = pytest.mark.timeout(180)

AUTH_CHOICES = (
    "app",
    "app",
    "app",
    "bearer",
    "missing",
    "empty",
    "app-other-account",
    "app-expired",
    "app-tampered",
    "jws:fuzz-0",
    "signup",
    "garbage",
)
ON_BEHALF_CHOICES = (
    "own",
    "own",
    "own",
    "bearer-own",
    "missing",
    "jws-other-account",
    "jws-expired",
    "jws-tampered",
    "app",
    "signup",
    "garbage",
)


def _auth(live: Live, choice: str, garbage: bytes) -> bytes | str | None:
    if choice == "missing":
        return None
    if choice == "empty":
        return ""
    if choice == "bearer":
        return "Bearer " + live.tokens["app"]
    if choice == "garbage":
        return garbage
    return live.tokens[choice]


def _on_behalf(live: Live, choice: str, ext: str, garbage: bytes) -> bytes | str | None:
    if choice == "own":
        return live.tokens[f"jws:{ext}"]
    if choice == "bearer-own":
        return "Bearer " + live.tokens[f"jws:{ext}"]
    if choice == "missing":
        return None
    if choice == "garbage":
        return garbage
    return live.tokens[choice]


def _check(live: Live, answer: Answer, *, oauth: bool = False) -> None:
    event(f"status {answer.status}")  # shown by --hypothesis-show-statistics
    assert answer.status < 500, (answer.status, answer.body[:500])
    if answer.status >= 400:
        problem = answer_shape_problem(answer.status, answer.body, oauth=oauth)
        assert problem is None, problem
    else:
        orjson.loads(answer.body)
    live.assert_healthy()


_exts = st.sampled_from(["fuzz-0", "fuzz-1", "fuzz-2", "fuzz-3"])
_hostile_calls = st.fixed_dictionaries(
    {
        "ext": _exts,
        "auth": st.sampled_from(AUTH_CHOICES),
        "on_behalf": st.sampled_from(ON_BEHALF_CHOICES),
        "garbage": s.header_text,
        "props": s.client_properties,
        "content_type": s.content_types,
        "query": s.queries,
        "account": st.one_of(st.just(ACC), st.just(ACC), s.path_segments),
    }
)
_authorised_calls = st.fixed_dictionaries(
    {
        "ext": _exts,
        "auth": st.just("app"),
        "on_behalf": st.just("own"),
        "garbage": st.just(b""),
        "props": s.client_properties,
        "content_type": st.one_of(st.just("application/json"), s.content_types),
        "query": st.one_of(st.just("?v=3"), s.queries),
        "account": st.just(ACC),
    }
)
# Two in three calls carry valid tokens, so the bodies reach the engine; the rest fuzz headers.
connector_calls = s.pick(4).flatmap(lambda i: _hostile_calls if i == 3 else _authorised_calls)


def _connector_headers(live: Live, call: dict[str, Any]) -> dict[str, str | bytes]:
    headers: dict[str, str | bytes] = {}
    auth = _auth(live, call["auth"], call["garbage"])
    if auth is not None:
        headers["Authorization"] = auth
    behalf = _on_behalf(live, call["on_behalf"], call["ext"], call["garbage"])
    if behalf is not None:
        headers["X-LP-ON-BEHALF"] = behalf
    if call["props"] is not None:
        headers["Client-Properties"] = call["props"]
    if call["content_type"] is not None:
        headers["Content-Type"] = call["content_type"]
    return headers


def _path(template: str, call: dict[str, Any]) -> str:
    path = template.split("?", 1)[0].replace(ACC, call["account"], 1)
    return path + call["query"]


@s.fuzz_settings(max_examples=300)
@given(call=connector_calls, doc=s.request_frame(), damage=s.pick(8), data=st.data())
def test_send_never_fails_and_refusals_change_nothing(
    live: Live, call: dict[str, Any], doc: Any, damage: int, data: st.DataObject
) -> None:
    body = orjson.dumps(live.resolve(doc, call["ext"]))
    if damage == 7:
        body = data.draw(s.encoded(st.just(orjson.loads(body))))
    before, victim = live.fingerprint(), live.victim_state()
    answer = live.http.request("POST", _path(SEND, call), body, _connector_headers(live, call))
    _check(live, answer)
    if answer.status != 200:
        assert live.fingerprint() == before, answer.body
    assert live.victim_state() == victim


@s.fuzz_settings(max_examples=200)
@given(call=connector_calls, doc=s.conversation_batch(), damage=s.pick(8), data=st.data())
def test_conversation_creates_exactly_what_it_answers(
    live: Live, call: dict[str, Any], doc: Any, damage: int, data: st.DataObject
) -> None:
    keep_open = data.draw(st.booleans())
    if not keep_open:  # free the consumer so that the request may succeed
        live.free(call["ext"])
    body = orjson.dumps(live.resolve(doc, call["ext"]))
    if damage == 7:
        body = data.draw(s.encoded(st.just(orjson.loads(body))))
    count, victim = live.call(conversation_count, live.engine), live.victim_state()
    answer = live.http.request("POST", _path(CONV, call), body, _connector_headers(live, call))
    _check(live, answer)
    created = 0
    if answer.status in (200, 400):
        doc_out = answer.json()
        if isinstance(doc_out, list):
            created = sum(
                1
                for item in doc_out
                if isinstance(item.get("body"), dict) and "conversationId" in item["body"]
            )
    assert live.call(conversation_count, live.engine) == count + created, answer.body
    assert live.victim_state() == victim


@s.fuzz_settings(max_examples=60)
@given(
    template=st.sampled_from(
        [
            "/api/account/{a}/service/baseURI.json",
            "/api/account/{a}/service/baseURI",
            "/csdr/account/{a}/service/baseURI.json",
            "/api/account/{a}/service/{s}/baseURI.json",
            "/csdr/account/{a}/service/{s}/baseURI.json",
        ]
    ),
    account=s.path_segments,
    service=s.path_segments,
    query=s.queries,
    host=st.one_of(st.none(), s.header_text.filter(bool)),
)
def test_csds_answers_any_account_service_query_and_host(
    live: Live, template: str, account: str, service: str, query: str, host: bytes | None
) -> None:
    path = template.format(a=account, s=service) + query
    headers: dict[str, str | bytes] = {} if host is None else {"Host": host}
    answer = live.http.request("GET", path, None, headers)
    _check(live, answer)


form_params = st.fixed_dictionaries(
    {},
    optional={
        "grant_type": s.maybe(st.just("client_credentials")).map(str),
        "client_id": s.maybe(st.sampled_from(["robust-client", "other-client"])).map(str),
        "client_secret": s.maybe(st.just("s3cret")).map(str),
        "scope": st.text(max_size=10),
        "x": st.text(max_size=10),
    },
)


@s.fuzz_settings(max_examples=60)
@given(
    params=form_params,
    in_query=form_params,
    raw=st.one_of(st.none(), st.binary(max_size=80)),
    content_type=s.content_types,
    account=st.one_of(st.just(ACC), s.path_segments),
)
def test_sentinel_answers_any_form(
    live: Live,
    params: dict[str, str],
    in_query: dict[str, str],
    raw: bytes | None,
    content_type: str | bytes | None,
    account: str,
) -> None:
    body = (
        raw
        if raw is not None
        else "&".join(f"{quote(k)}={quote(v)}" for k, v in params.items()).encode()
    )
    query = "&".join(f"{quote(k)}={quote(v)}" for k, v in in_query.items())
    headers: dict[str, str | bytes] = {}
    if content_type is not None:
        headers["Content-Type"] = content_type
    path = f"/sentinel/api/account/{account}/app/token?{query}"
    _check(live, live.http.request("POST", path, body, headers), oauth=True)


@s.fuzz_settings(max_examples=60)
@given(
    auth=st.one_of(st.just("app"), st.sampled_from(AUTH_CHOICES)),
    garbage=s.header_text,
    doc=st.one_of(
        st.fixed_dictionaries({"ext_consumer_id": s.maybe(st.text(max_size=30))}), s.json_values
    ),
    damage=s.pick(6),
    data=st.data(),
    content_type=st.one_of(st.just("application/json"), s.content_types),
    account=st.one_of(st.just(ACC), s.path_segments),
    signup=st.booleans(),
)
def test_idp_answers_any_request(
    live: Live,
    auth: str,
    garbage: bytes,
    doc: Any,
    damage: int,
    data: st.DataObject,
    content_type: str | bytes | None,
    account: str,
    signup: bool,
) -> None:
    body = data.draw(s.encoded(st.just(doc))) if damage == 5 else orjson.dumps(doc)
    headers: dict[str, str | bytes] = {}
    value = _auth(live, auth, garbage)
    if value is not None:
        headers["Authorization"] = value
    if content_type is not None:
        headers["Content-Type"] = content_type
    path = f"/api/account/{account}/{'signup' if signup else 'consumer'}?v=1.0"
    _check(live, live.http.request("POST", path, body, headers))


@s.fuzz_settings(max_examples=40)
@given(
    method=st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"]),
    path=st.lists(s.path_segments, min_size=1, max_size=6).map(lambda p: "/" + "/".join(p)),
    query=s.queries,
    body=st.one_of(st.none(), st.binary(max_size=60)),
)
def test_unknown_routes_and_methods_answer_json(
    live: Live, method: str, path: str, query: str, body: bytes | None
) -> None:
    answer = live.http.request(method, path + query, body, {})
    _check(live, answer)
