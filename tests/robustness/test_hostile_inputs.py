"""The catalogue of hostile inputs, each with its documented answer (docs/fidelity.md,
"Hostile input"): invalid UTF-8, deep nesting, oversize bodies and frames, wrong types, nulls,
duplicate keys, empty arrays, binary frames, floods, and half-open connections.

After each case the server answers health, the state is consistent, no bug was recorded and
nothing reached the log at ERROR (except aiohttp's own line for HTTP it cannot parse).
"""

from __future__ import annotations

import asyncio
import base64
import os
import struct
import time
from typing import Any

import aiohttp
import orjson
import pytest

from mockle.core.jsondoc import MAX_DEPTH
from tests.robustness.conftest import AGENT, ROLES, Served, ws_answer, ws_closed
from tests.robustness.helpers import (
    ACC,
    CONV,
    SEND,
    agent_path,
    get_clock,
    profile_request,
    request_conversation,
    subscribe_events,
    text_event,
)

pytestmark = pytest.mark.timeout(60)

MIB = 1_048_576


def envelope(doc: Any, status: int, fragment: str, path: str | None = "$") -> None:
    """``doc`` is the documented error envelope with ``fragment`` in its details."""
    assert doc["kind"] == "resp" and doc["code"] == status, doc
    assert doc["type"] == ".ReqBody$ErrorResp", doc
    assert fragment in doc["body"]["details"], doc
    if path is not None:
        assert doc["body"].get("path") == path, doc


async def healthy(s: Served, *, parser_errors: bool = False) -> None:
    async with s.http.get(s.server.url + "/_mockle/health") as r:
        assert r.status == 200
    problems = s.problems()
    if parser_errors:  # aiohttp logs the HTTP it cannot parse itself ("Error handling request")
        problems = [p for p in problems if not p.startswith("aiohttp.server ERROR")]
    assert not problems, problems


async def raw_http(port: int, data: bytes, timeout: float = 5.0) -> bytes:
    """Send raw bytes, read the answer until the server closes the connection."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(data)
        await writer.drain()
        return await asyncio.wait_for(reader.read(), timeout)
    finally:
        writer.close()


def post_bytes(path: str, headers: dict[str, bytes], body: bytes) -> bytes:
    lines = [f"POST {path} HTTP/1.1".encode(), b"Host: 127.0.0.1"]
    lines += [name.encode() + b": " + value for name, value in headers.items()]
    lines += [b"Content-Length: " + str(len(body)).encode(), b"Connection: close", b"", b""]
    return b"\r\n".join(lines) + body


def status_and_json(answer: bytes) -> tuple[int, Any]:
    head, _, body = answer.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    return status, orjson.loads(body) if body else None


def nested(depth: int) -> Any:
    """An array nested ``depth`` levels deep (``[]`` is one level)."""
    return orjson.loads(b"[" * depth + b"]" * depth)


# -- invalid UTF-8 ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [b"\xff\xfe\xfd", b'{"type":"ms.PublishEvent","body":{"dialogId":"\xc3"}}', b'"\xed\xa0\x80"'],
    ids=["bytes", "inside-a-string", "encoded-surrogate"],
)
async def test_invalid_utf8_body_is_a_400(serve: Any, body: bytes) -> None:
    s: Served = await serve()
    status, doc = await s.post(SEND, body, s.headers("a"), raw=True)
    assert status == 400
    envelope(doc, 400, "not valid UTF-8")
    await healthy(s)


async def test_invalid_utf8_in_headers(serve: Any) -> None:
    s: Served = await serve()
    good = {k: v.encode() for k, v in s.headers("a").items()}
    body = orjson.dumps(text_event("nope"))
    cases = [
        ({**good, "Authorization": b"\xff" + good["Authorization"]}, 401, 40102),
        ({**good, "X-LP-ON-BEHALF": b"\xc3" + good["X-LP-ON-BEHALF"]}, 401, 40103),
    ]
    for headers, status, code in cases:
        got, doc = status_and_json(await raw_http(s.server.port, post_bytes(SEND, headers, body)))
        assert got == status and doc["body"]["errorCode"] == code, doc
        assert "outside ASCII" in doc["body"]["details"]
    conv = await s.open_conversation(s.headers("a"))
    props = {**good, "Client-Properties": b'{"os":"\xff"}'}  # ignored, like any broken value
    answer = await raw_http(s.server.port, post_bytes(SEND, props, orjson.dumps(text_event(conv))))
    assert status_and_json(answer)[0] == 200
    csds = b"GET /api/account/le1/service/baseURI.json HTTP/1.1\r\nHost: \xff\r\n"
    csds += b"Connection: close\r\n\r\n"
    got, doc = status_and_json(await raw_http(s.server.port, csds))
    assert got == 400
    envelope(doc, 400, "Host header is not valid UTF-8", path=None)
    await healthy(s)


# -- nesting and size ------------------------------------------------------------------------------


async def test_deeply_nested_json(serve: Any) -> None:
    s: Served = await serve()
    headers = s.headers("a")
    conv = await s.open_conversation(headers)
    status, doc = await s.post(SEND, b"[" * 100_000, headers, raw=True)
    assert status == 400
    envelope(doc, 400, "depth limit exceeded")
    # the frame (1) and its body (2) hold an undocumented member nested to the limit
    at_limit = {**text_event(conv), "x": None}
    at_limit["body"] = {**at_limit["body"], "extra": nested(MAX_DEPTH - 2)}
    status, doc = await s.post(SEND, at_limit, headers)
    assert status == 200, doc
    at_limit["body"]["extra"] = nested(MAX_DEPTH - 1)
    status, doc = await s.post(SEND, at_limit, headers)
    assert status == 400
    envelope(doc, 400, f"more than {MAX_DEPTH} levels deep")
    deep = b"[" * 300 + b"]" * 300  # deeper than orjson writes: sent as text
    batch = orjson.dumps([profile_request(), request_conversation()])
    batch = batch.replace(b'"body":{}}]', b'"body":{"conversationContext":{"x":' + deep + b"}}}]")
    status, doc = await s.post(CONV, batch, s.headers("b"), raw=True)
    assert status == 400
    envelope(doc, 400, "levels deep")
    # a Client-Properties header nested too deep is ignored, like any broken value
    deep_props = '{"features":' + deep.decode() + "}"
    status, doc = await s.post(
        CONV,
        [profile_request(), request_conversation()],
        {**s.headers("c"), "Client-Properties": deep_props},
    )
    assert status == 200, doc
    made = s.engine.conversation(ACC, doc[1]["body"]["conversationId"])
    assert made.client_properties is None
    async with s.http.get(f"{s.server.url}/_mockle/conversations/{made.conv_id}") as r:
        assert r.status == 200  # everything stored can be written back
    await healthy(s)


async def test_ten_megabyte_body_is_a_413(serve: Any) -> None:
    s: Served = await serve()
    status, doc = await s.post(SEND, b" " * (10 * MIB), s.headers("a"), raw=True)
    assert status == 413
    envelope(doc, 413, "exceeds 1048576 bytes", path=None)
    status, doc = await s.post(CONV, b"[" + b" " * (10 * MIB) + b"]", s.headers("a"), raw=True)
    assert status == 413
    # exactly at the limit is read and handled (here: a CONVERSATION padded with spaces)
    batch = orjson.dumps([profile_request(), request_conversation()])
    status, doc = await s.post(CONV, batch + b" " * (MIB - len(batch)), s.headers("a"), raw=True)
    assert status == 200, doc
    await healthy(s)


async def test_declared_oversize_body_is_refused_before_it_is_sent(serve: Any) -> None:
    s: Served = await serve()
    head = post_bytes(SEND, {}, b"")
    head = head.replace(b"Content-Length: 0", f"Content-Length: {10 * MIB}".encode())
    reader, writer = await asyncio.open_connection("127.0.0.1", s.server.port)
    try:
        writer.write(head)  # and not one byte of the body
        answer = await asyncio.wait_for(reader.read(2000), 2.0)
    finally:
        writer.close()
    assert status_and_json(answer)[0] == 413


# -- types, nulls, duplicates, empty arrays --------------------------------------------------------

CONV_ID = "$conv"


def _event(**fields: Any) -> dict[str, Any]:
    event = {"type": "ContentEvent", "contentType": "text/plain", "message": "x", **fields}
    return {"type": "ms.PublishEvent", "body": {"dialogId": CONV_ID, "event": event}}


def _field(**fields: Any) -> dict[str, Any]:
    body = {"conversationId": CONV_ID, "conversationField": fields}
    return {"type": "cm.UpdateConversationField", "body": body}


TYPED_CASES: list[tuple[str, Any, int, str | None]] = [
    # (name, SEND body, HTTP status, JSON path of the error or None when accepted)
    ("number-for-message", _event(message=123), 400, "$.body.event.message"),
    (
        "number-for-dialogId",
        {**_event(), "body": {**_event()["body"], "dialogId": 123}},
        400,
        "$.body.dialogId",
    ),
    ("number-for-type", {**_event(), "type": 7}, 400, "$.type"),
    (
        "string-for-ttr-value",
        _field(field="TTRField", ttrType="URGENT", value="600"),
        400,
        "$.body.conversationField.value",
    ),
    (
        "string-for-csat",
        _field(field="CSATRate", csatRate="5"),
        400,
        "$.body.conversationField.csatRate",
    ),
    (
        "numeric-string-fileSize",
        {"type": "ms.GenerateURLForUploadFile", "body": {"fileSize": "12", "fileType": "PNG"}},
        200,
        None,
    ),
    ("number-for-id", {**_event(), "id": 7}, 200, None),
    ("boolean-for-id", {**_event(), "id": True}, 400, "$.id"),
    ("all-null", {"kind": None, "id": None, "type": None, "body": None}, 400, "$.type"),
    ("null-body", {"type": "ms.PublishEvent", "body": None}, 400, "$.body"),
    (
        "null-event",
        {"type": "ms.PublishEvent", "body": {"dialogId": CONV_ID, "event": None}},
        400,
        "$.body.event",
    ),
    ("null-message", _event(message=None), 400, "$.body.event.message"),
    ("null-content-type", _event(contentType=None), 400, "$.body.event.contentType"),
    ("null-document", None, 400, "$"),
    ("empty-array-document", [], 400, "$"),
    ("empty-object-document", {}, 400, "$"),
    (
        "empty-conversationField",
        {**_field(), "body": {"conversationId": CONV_ID, "conversationField": []}},
        200,
        None,
    ),
    (
        "empty-sequenceList",
        {
            "type": "ms.PublishEvent",
            "body": {
                "dialogId": CONV_ID,
                "event": {"type": "AcceptStatusEvent", "status": "READ", "sequenceList": []},
            },
        },
        200,
        None,
    ),
    (
        "empty-lp_sdes",
        {"type": "userprofile.SetUserProfile", "body": {"authenticatedData": {"lp_sdes": []}}},
        200,
        None,
    ),
    ("empty-metadata", {**_event(), "metadata": []}, 200, None),
]


def _fill(doc: Any, conv: str) -> Any:
    if doc == CONV_ID:
        return conv
    if isinstance(doc, list):
        return [_fill(x, conv) for x in doc]
    if isinstance(doc, dict):
        return {k: _fill(v, conv) for k, v in doc.items()}
    return doc


@pytest.mark.parametrize(
    ("body", "status", "path"), [c[1:] for c in TYPED_CASES], ids=[c[0] for c in TYPED_CASES]
)
async def test_wrong_types_nulls_and_empty_arrays(
    serve: Any, body: Any, status: int, path: str | None
) -> None:
    s: Served = await serve()
    headers = s.headers("a")
    conv = await s.open_conversation(headers)
    events_before = len(s.engine.conversation(ACC, conv).main.events)
    got, doc = await s.post(SEND, _fill(body, conv), headers)
    assert got == status, doc
    if path is None:
        assert doc["code"] == "OK", doc
    else:
        assert doc["body"]["path"] == path, doc
        assert len(s.engine.conversation(ACC, conv).main.events) == events_before
    await healthy(s)


async def test_empty_conversation_batch(serve: Any) -> None:
    s: Served = await serve()
    status, doc = await s.post(CONV, [], s.headers("a"))
    assert status == 400
    envelope(doc, 400, "got 0")
    status, doc = await s.post(CONV, [None, None], s.headers("a"))
    assert status == 400
    envelope(doc, 400, "must be a JSON object, got null", path="$[0]")
    assert not s.engine.accounts.get(ACC) or not s.engine.accounts[ACC].conversations
    await healthy(s)


async def test_duplicate_keys_the_last_one_wins(serve: Any) -> None:
    s: Served = await serve()
    headers = s.headers("a")
    conv = await s.open_conversation(headers)
    event = b'"event":{"type":"ContentEvent","message":"first","message":"second"}'
    raw = b'{"type":"cm.UpdateConversationField","type":"ms.PublishEvent","body":{"dialogId":"'
    raw += conv.encode() + b'",' + event + b"}}"
    status, doc = await s.post(SEND, raw, headers, raw=True)
    assert status == 200 and doc["body"] == {"sequence": 0}, doc
    stored = s.engine.conversation(ACC, conv).main.events[0]
    assert stored.change["event"]["message"] == "second"
    await healthy(s)


@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", ""],
)
async def test_any_content_type_is_read_as_json(serve: Any, content_type: str) -> None:
    s: Served = await serve()
    headers = s.headers("a")
    conv = await s.open_conversation(headers)
    status, doc = await s.post(SEND, text_event(conv), {**headers, "Content-Type": content_type})
    assert status == 200, doc
    await healthy(s)


# -- HTTP that does not parse ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03 tls hello\r\n\r\n",
        b"GET /api/account/\xff/service/baseURI.json HTTP/1.1\r\nHost: x\r\n\r\n",
        b"GET /_mockle/health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 9000 + b"\r\n\r\n",
        b"POST /x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    ],
    ids=["not-http", "bad-path-bytes", "header-over-8190", "bad-chunk"],
)
async def test_unparseable_http_gets_a_plain_400_and_a_closed_connection(
    serve: Any, data: bytes
) -> None:
    s: Served = await serve()
    answer = await raw_http(s.server.port, data)
    assert answer.startswith((b"HTTP/1.0 400", b"HTTP/1.1 400")), answer[:200]
    await healthy(s, parser_errors=True)


# -- WebSocket frames ------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ROLES)
async def test_binary_frame_gets_a_400_resp_and_the_socket_stays(serve: Any, role: str) -> None:
    s: Served = await serve()
    peer = await s.peer(role)
    await peer.ws.send_bytes(b"\x00\x01binary")
    resp = await ws_answer(peer.ws)
    assert resp["code"] == 400 and "binary frames are not supported" in resp["body"], resp
    assert (await peer.answer(get_clock()))["code"] == 200
    await peer.ws.close()
    await healthy(s)


@pytest.mark.parametrize("role", ROLES)
async def test_invalid_json_text_frames_get_a_400_resp_each(serve: Any, role: str) -> None:
    s: Served = await serve()
    peer = await s.peer(role)
    for text in ("{nope", "", " ", "[1,", '{"type": "GetClock"', "nul", "\u0000"):
        await peer.ws.send_str(text)
        resp = await ws_answer(peer.ws)
        assert resp["code"] == 400 and resp["reqId"] == "0", (text, resp)
        assert isinstance(resp["body"], str) and resp["body"], resp
    assert (await peer.answer(get_clock()))["code"] == 200
    await peer.ws.close()
    await healthy(s)


@pytest.mark.parametrize("role", ROLES)
async def test_invalid_utf8_text_frame_closes_1007(serve: Any, role: str) -> None:
    s: Served = await serve()
    if role == AGENT:
        path, auth = agent_path(ACC, (await s.login("a"))["bearer"]) + "?v=2.1", ""
    else:
        path = f"/ws_api/account/{ACC}/messaging/consumer?v=3"
        auth = f"Authorization: jwt {s.jws('a')}\r\n"
    reader, writer = await asyncio.open_connection("127.0.0.1", s.server.port)
    try:
        key = base64.b64encode(os.urandom(16)).decode()
        writer.write(
            f"GET {path} HTTP/1.1\r\nHost: x\r\n"
            f"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            f"Sec-WebSocket-Version: 13\r\n{auth}\r\n".encode()
        )
        assert (await reader.readuntil(b"\r\n\r\n")).startswith(b"HTTP/1.1 101")
        writer.write(_masked_frame(0x1, b'{"type":"GetClock","id":"\xff\xfe"}'))
        close = await asyncio.wait_for(reader.read(200), 5)
    finally:
        writer.close()
    assert close[0] == 0x88 and struct.unpack("!H", close[2:4])[0] == 1007, close
    await healthy(s)


def _masked_frame(opcode: int, payload: bytes) -> bytes:
    mask = os.urandom(4)
    size = len(payload)
    head = bytes([0x80 | opcode])
    head += bytes([0x80 | size]) if size < 126 else bytes([0x80 | 126]) + struct.pack("!H", size)
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


@pytest.mark.parametrize("role", ROLES)
async def test_frame_over_the_limit_closes_1009_and_others_carry_on(serve: Any, role: str) -> None:
    s: Served = await serve()
    others = [await s.peer(r, "b") for r in ROLES]
    peer = await s.peer(role)
    conv = await s.conversation_for(peer)
    await peer.ws.send_str(orjson.dumps(peer.publish(conv, "x" * (MIB + 1))).decode())
    assert await ws_closed(peer.ws) == 1009
    events = len(s.engine.conversation(ACC, conv).main.events)
    assert events == 0
    for other in others:
        assert (await other.answer(get_clock()))["code"] == 200
        await other.ws.close()
    await healthy(s)


@pytest.mark.parametrize("role", ROLES)
async def test_deeply_nested_frame_is_refused(serve: Any, role: str) -> None:
    s: Served = await serve()
    peer = await s.peer(role)
    conv = await s.conversation_for(peer)
    frame = peer.publish(conv)
    frame["metadata"] = [{"type": "ExternalId", "id": "1", "deep": nested(MAX_DEPTH + 10)}]
    resp = await peer.answer(frame)
    assert resp["code"] == 400 and "levels deep" in resp["body"], resp
    assert len(s.engine.conversation(ACC, conv).main.events) == 0
    await peer.ws.close()
    await healthy(s)


@pytest.mark.parametrize("role", ROLES)
async def test_a_flood_of_frames_is_answered_in_order(serve: Any, role: str) -> None:
    s: Served = await serve()
    peer = await s.peer(role)
    conv = await s.conversation_for(peer)
    others = [await s.peer(r, "b") for r in ROLES]
    count = 2000
    for i in range(count):  # no waiting between frames
        frame = peer.publish(conv, f"m{i}", rid=str(i)) if i % 2 else get_clock(str(i))
        await peer.send(frame)
    answers = [await ws_answer(peer.ws) for _ in range(count)]
    assert [a["reqId"] for a in answers] == [str(i) for i in range(count)]
    assert all(a["code"] == 200 for a in answers)
    assert [a["body"]["sequence"] for a in answers[1::2]] == list(range(count // 2))
    for other in others:
        assert (await other.answer(get_clock()))["code"] == 200
        await other.ws.close()
    await peer.ws.close()
    await healthy(s)


# -- half-open connections -------------------------------------------------------------------------


async def test_socket_without_init_connection_is_closed_4401(serve: Any) -> None:
    s: Served = await serve(ws_auth_timeout=0.3)
    ws = await s.ws(None)
    start = time.monotonic()
    assert await ws_closed(ws) == 4401
    assert 0.25 <= time.monotonic() - start < 3
    await healthy(s)


async def test_stalled_requests_hold_only_their_own_connection(serve: Any) -> None:
    """Partial headers, a partial body, or nothing at all: others are served meanwhile."""
    s: Served = await serve()
    headers = s.headers("a")
    stalled = []
    for data in (
        b"GET /_mockle/health HTTP/1.1\r\nHost: x\r\n",
        b"POST " + SEND.encode() + b" HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{",
        b"",
    ):
        reader, writer = await asyncio.open_connection("127.0.0.1", s.server.port)
        writer.write(data)
        stalled.append((reader, writer))
    conv = await s.open_conversation(headers)
    status, doc = await s.post(SEND, text_event(conv), headers)
    assert status == 200, doc
    await healthy(s)
    for _, writer in stalled:  # they give up: nothing is logged as a bug
        writer.close()
    await _journaled_send(s)
    await healthy(s)


async def _journaled_send(s: Served) -> None:
    """Wait until the journal holds the SEND that was cut short, answered 400 (for nobody)."""
    journal = s.server.runtime.journal
    found = await journal.wait_for(lambda e: e.target == "send" and e.status == 400, 1, 5.0)
    assert found, "the request cut short was never finished"


async def test_a_body_cut_short_is_not_a_bug(serve: Any) -> None:
    s: Served = await serve()
    request = post_bytes(SEND, {}, b"")
    request = request.replace(b"Content-Length: 0", b"Content-Length: 100") + b'{"type'
    reader, writer = await asyncio.open_connection("127.0.0.1", s.server.port)
    writer.write(request)
    await writer.drain()
    writer.close()  # mid-body
    await writer.wait_closed()
    await _journaled_send(s)
    await healthy(s)


async def test_a_socket_that_never_reads_does_not_slow_others(serve: Any) -> None:
    s: Served = await serve()
    slow_headers, headers = s.headers("slow"), s.headers("a")
    slow_conv = await s.open_conversation(slow_headers)
    slow = await s.ws(s.jws("slow"), max_msg_size=0)
    await slow.send_str(orjson.dumps(subscribe_events(slow_conv)).decode())
    assert (await ws_answer(slow))["code"] == 200
    # the slow consumer publishes a lot (over REST) and never reads its notifications
    big = "z" * 4000
    for i in range(300):
        status, _ = await s.post(SEND, text_event(slow_conv, big + str(i)), slow_headers)
        assert status == 200
    conv = await s.open_conversation(headers)
    start = time.monotonic()
    for i in range(20):
        status, _ = await s.post(SEND, text_event(conv, f"m{i}"), headers)
        assert status == 200
    assert time.monotonic() - start < 5
    await slow.close()
    await healthy(s)


async def test_idle_tcp_connections_do_not_block_the_server(serve: Any) -> None:
    s: Served = await serve()
    idle = [await asyncio.open_connection("127.0.0.1", s.server.port) for _ in range(50)]
    async with aiohttp.ClientSession() as other:
        async with other.get(s.server.url + "/_mockle/health") as r:
            assert r.status == 200
    for _, writer in idle:
        writer.close()
    await healthy(s)


# -- the control API ------------------------------------------------------------------------------

DEEP = b"[" * 300 + b"]" * 300  # deeper than orjson writes back


async def test_deeply_nested_control_body_is_refused(serve: Any) -> None:
    s: Served = await serve()
    conv = await s.open_conversation(s.headers("a"))
    event = b'{"type":"ContentEvent","contentType":"text/plain","message":"x"}'
    body = b'{"event":' + event + b',"metadata":[' + DEEP + b"]}"
    url = f"{s.server.url}/_mockle/conversations/{conv}"
    async with s.http.post(url + "/agent/publish", data=body) as r:
        published = r.status
    async with s.http.get(url + "/events") as r:
        assert r.status == 200
    assert published == 400


async def test_fault_body_too_deep_is_refused(serve: Any) -> None:
    s: Served = await serve()
    body = b'{"target":"send","status":503,"body":' + DEEP + b"}"
    async with s.http.post(s.server.url + "/_mockle/faults", data=body) as r:
        created = r.status
    status, doc = await s.post(SEND, {}, s.headers("a"))
    assert status == 503 or created == 400, (created, status, doc)
    assert not s.problems(), s.problems()


@pytest.mark.parametrize("code", [1004, 1005, 1006, 1015, 2999])
async def test_connections_close_refuses_unsendable_codes(serve: Any, code: int) -> None:
    s: Served = await serve()
    ws = await s.ws(s.jws("a"))
    body = {"account": ACC, "code": code}
    async with s.http.post(s.server.url + "/_mockle/connections/close", json=body) as r:
        status = r.status
    await ws.close()
    assert status == 400
