"""The socket's batched hand-off (hub -> UmsSocket.send_frames -> one journal call, one writer
wake-up) answers as the frame-by-frame path did: same frames in the same order, same journal
entries in the same order."""

from __future__ import annotations

import itertools
import logging
from typing import Any

import orjson
import pytest
from aiohttp.test_utils import TestClient

from mockle.core.sessions import Session
from mockle.settings import Settings
from mockle.web.app import create_app
from mockle.web.journal import Journal

from .ums_client import ACC, connect, runtime, signup

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
