"""The socket's batched hand-off (hub -> UmsSocket.send_frames -> one journal call, then one
transport write, or the writer) answers as the frame-by-frame path did: same frames in the same
order, same bytes, same journal entries in the same order."""

from __future__ import annotations

import itertools
import logging
from typing import Any

import orjson
import pytest
from aiohttp import WSMsgType
from aiohttp.test_utils import TestClient

from mockle.core.sessions import Session
from mockle.settings import Settings
from mockle.web.app import create_app
from mockle.web.journal import Journal
from mockle.web.socket import wire_frames

from .ums_client import ACC, Ws, connect, runtime, signup

pytestmark = pytest.mark.timeout(30)


def _render(journal: Journal) -> list[dict[str, Any]]:
    return [e.as_json() for e in journal.entries]


def test_ws_frames_records_what_ws_frame_records_one_by_one(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, "mockle.requests")
    ticks = itertools.count(1000)
    one, batch = Journal(100, lambda: next(ticks)), Journal(100, lambda: 1000)
    session = Session("ums-1", ACC)
    frames = [
        {"kind": "resp", "reqId": "1", "code": 200, "body": {"sequence": 0}, "type": "x"},
        {"kind": "notification", "type": "ms.MessagingEventNotification", "body": {"c": [1]}},
    ]
    one.ws_frame("in", '{"kind":"req","id":"1"}', session)
    one.now_ms = lambda: 1001
    for frame in frames:
        one.ws_frame("out", frame, session)
    one_lines = [r.getMessage() for r in caplog.records]
    caplog.clear()
    batch.ws_frames("in", ['{"kind":"req","id":"1"}'], session)
    batch.now_ms = lambda: 1001
    batch.ws_frames("out", frames, session)
    assert _render(one) == _render(batch)
    assert len(one_lines) == 3 and [r.getMessage() for r in caplog.records] == one_lines
    assert [e.body for e in batch.entries][1:] == frames  # references, not copies
    assert all(a is b for a, b in zip([e.body for e in batch.entries][1:], frames, strict=True))


async def test_publish_answers_resp_then_notification_and_journals_in_out_out(
    aiohttp_client: Any,
) -> None:
    client: TestClient = await aiohttp_client(create_app(Settings(port=0, agent="manual")))
    token = await signup(client)
    ws = await connect(client, headers={"Authorization": f"jwt {token}"})
    conv = (await ws.req({"id": "c", "type": "cm.ConsumerRequestConversation"}))["body"][
        "conversationId"
    ]
    await ws.req({"id": "s", "type": "ms.SubscribeMessagingEvents", "body": {"dialogId": conv}})
    await ws.recv()  # the history (empty)
    journal = runtime(client).journal
    start = max(e.id for e in journal.entries)
    event = {"type": "ContentEvent", "contentType": "text/plain", "message": "hi"}
    for i in range(5):  # back to back: the writer sees several batches at once
        await ws.send(
            {"id": i, "type": "ms.PublishEvent", "body": {"dialogId": conv, "event": event}}
        )
    got = [await ws.recv() for _ in range(10)]
    assert [(f["kind"], f.get("reqId")) for f in got] == [
        pair for i in range(5) for pair in (("resp", str(i)), ("notification", None))
    ]
    assert [f["body"]["changes"][0]["sequence"] for f in got[1::2]] == list(range(5))
    assert [f["body"]["sequence"] for f in got[::2]] == list(range(5))
    ws_entries = [e for e in journal.entries if e.id > start and e.target == "ws"]
    assert [e.direction for e in ws_entries] == ["in", "out", "out"] * 5
    assert [e.id for e in ws_entries] == sorted(e.id for e in ws_entries)
    # as the control API serialises them (a stored change is a JSON fragment in the frame)
    outs = [
        orjson.loads(orjson.dumps(e.as_json()["body"])) for e in ws_entries if e.direction == "out"
    ]
    assert outs == got  # the journal shows exactly what went over the wire, in order


class _Recorder:
    """A stand-in transport for aiohttp's writer: what it writes, in one buffer."""

    def __init__(self) -> None:
        self.out = bytearray()

    def write(self, data: bytes) -> None:
        self.out += data

    def is_closing(self) -> bool:
        return False


async def test_wire_frames_are_the_bytes_aiohttp_writes_frame_by_frame() -> None:
    from aiohttp._websocket.writer import WebSocketWriter

    payloads = [b"", b"x" * 125, b"y" * 126, b"z" * 65535, b"w" * 65536, "é€".encode() * 9]
    recorder = _Recorder()
    writer = WebSocketWriter(object(), recorder)  # type: ignore[arg-type]
    for data in payloads:
        await writer.send_frame(data, WSMsgType.TEXT)
    assert wire_frames(payloads) == bytes(recorder.out)


def _split(data: bytes) -> list[tuple[int, bytes]]:
    """Unmasked server frames: (first byte, payload) each."""
    out, i = [], 0
    while i < len(data):
        first, n, i = data[i], data[i + 1] & 0x7F, i + 2
        if n == 126:
            n, i = int.from_bytes(data[i : i + 2], "big"), i + 2
        elif n == 127:
            n, i = int.from_bytes(data[i : i + 8], "big"), i + 8
        out.append((first, data[i : i + n]))
        i += n
    return out


async def _subscribed(client: TestClient, **kw: Any) -> tuple[Ws, str, list[bytes]]:
    """A consumer socket subscribed to its conversation, and a log of its server-side writes."""
    token = await signup(client)
    ws = await connect(client, headers={"Authorization": f"jwt {token}"}, **kw)
    conv = (await ws.req({"id": "c", "type": "cm.ConsumerRequestConversation"}))["body"][
        "conversationId"
    ]
    await ws.req({"id": "s", "type": "ms.SubscribeMessagingEvents", "body": {"dialogId": conv}})
    await ws.recv()  # the history (empty)
    [server_side] = runtime(client).sockets
    transport = server_side._transport
    assert transport is not None
    writes: list[bytes] = []
    real_write = transport.write

    def write(data: Any) -> None:
        writes.append(bytes(data))
        real_write(data)

    transport.write = write  # type: ignore[method-assign]
    return ws, conv, writes


def _publish(conv: str, rid: int) -> dict[str, Any]:
    event = {"type": "ContentEvent", "contentType": "text/plain", "message": f"hi {rid}"}
    return {"id": rid, "type": "ms.PublishEvent", "body": {"dialogId": conv, "event": event}}


async def test_a_resp_and_its_notification_leave_in_one_transport_write(
    aiohttp_client: Any,
) -> None:
    client: TestClient = await aiohttp_client(create_app(Settings(port=0, agent="manual")))
    ws, conv, writes = await _subscribed(client)
    for i in range(3):
        await ws.send(_publish(conv, i))
        resp, note = await ws.recv(), await ws.recv()
        assert (resp["kind"], resp["reqId"], note["type"]) == (
            "resp",
            str(i),
            "ms.MessagingEventNotification",
        )
        assert len(writes) == i + 1  # one write per batch
        frames = _split(writes[-1])
        assert [first for first, _ in frames] == [0x81, 0x81]  # FIN + text, uncompressed
        assert [orjson.loads(p) for _, p in frames] == [resp, note]


async def test_a_compressed_socket_still_compresses_every_frame(aiohttp_client: Any) -> None:
    """permessage-deflate negotiated: frames go through aiohttp's writer, compressed (RSV1)."""
    client: TestClient = await aiohttp_client(create_app(Settings(port=0, agent="manual")))
    ws, conv, writes = await _subscribed(client, compress=15)
    assert ws.ws.compress == 15
    for i in range(3):
        await ws.send(_publish(conv, i))
        got = [await ws.recv(), await ws.recv()]
        assert [f["kind"] for f in got] == ["resp", "notification"]
        assert got[1]["body"]["changes"][0]["event"]["message"] == f"hi {i}"
    frames = [frame for data in writes for frame in _split(data)]
    assert len(frames) == 6 and all(first == 0xC1 for first, _ in frames)  # FIN, RSV1, text


async def test_frames_wait_for_the_writer_while_the_transport_holds_unsent_bytes(
    aiohttp_client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A client that reads slowly: batches are queued (the writer has aiohttp's flow
    control), and arrive in order, as they do when written at once."""
    client: TestClient = await aiohttp_client(create_app(Settings(port=0, agent="manual")))
    ws, conv, writes = await _subscribed(client)
    [server_side] = runtime(client).sockets
    monkeypatch.setattr(server_side._transport, "get_write_buffer_size", lambda: 1)
    for i in range(3):
        await ws.send(_publish(conv, i))
    got = [await ws.recv() for _ in range(6)]
    assert [(f["kind"], f.get("reqId")) for f in got] == [
        pair for i in range(3) for pair in (("resp", str(i)), ("notification", None))
    ]
    assert len(writes) == 6  # frame by frame, through aiohttp's writer
