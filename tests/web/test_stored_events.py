"""Answers the web layer builds from stored events' bytes: the control API's conversation and
events routes, byte for byte what serialising the change dicts gave, and the journal (its
filters and log lines), which still read a notification although it embeds pre-serialised JSON."""

from __future__ import annotations

import json
from typing import Any

import orjson
import pytest
from aiohttp.test_utils import TestClient

from mockle.core import frames
from mockle.core.dialects import Dialect
from mockle.core.effects import Effects, Listener
from mockle.core.model import Conversation, Dialog, StoredEvent
from mockle.settings import Settings
from mockle.web import journal
from mockle.web.app import create_app
from mockle.web.runtime import RUNTIME

from .toolkit_helpers import ACC, consumer, open_conversation, send_text

WS = f"/ws_api/account/{ACC}/messaging/consumer?v=3"


class Recorder(Listener):
    """Each event's change item as the engine made it (a dict), at publish time."""

    def __init__(self) -> None:
        self.changes: list[dict[str, Any]] = []

    def on_event(self, conv: Conversation, dialog: Dialog, ev: StoredEvent, fx: Effects) -> None:
        self.changes.append(json.loads(json.dumps(ev.change)))


@pytest.fixture
async def client(aiohttp_client: Any) -> TestClient:
    return await aiohttp_client(create_app(Settings(port=0, agent="manual")))


def recorder(client: TestClient) -> Recorder:
    found = Recorder()
    client.server.app[RUNTIME].engine.listeners.append(found)
    return found


async def test_control_api_events_are_the_change_items_byte_for_byte(client: TestClient) -> None:
    seen = recorder(client)
    who = await consumer(client)
    conv = await open_conversation(client, who)
    for message in ('hé "quoted" \\ 👋', "two", "\u2028three\x00"):
        assert (await send_text(client, who, conv, message)).status == 200
    publish = f"/_mockle/conversations/{conv}/agent/publish"
    typing = {"type": "ChatStateEvent", "chatState": "COMPOSING"}
    rich = {"type": "RichContentEvent", "content": {"type": "vertical", "elements": []}}
    r = await client.post(publish, json={"event": typing})
    assert r.status == 200, await r.text()
    r = await client.post(
        publish,
        json={
            "event": rich,
            "metadata": [{"type": "ExternalId", "id": "x"}],
            "messageAudience": "AGENTS_AND_MANAGERS",
        },
    )
    assert r.status == 200, await r.text()
    assert len(seen.changes) == 5
    for path in (f"/_mockle/conversations/{conv}", f"/_mockle/conversations/{conv}/events"):
        r = await client.get(path)
        assert r.status == 200
        raw = await r.read()
        doc = orjson.loads(raw)
        assert list(doc)[-1] == "events"
        doc["events"] = seen.changes  # the dict path: the same document with the dicts in it
        assert raw == orjson.dumps(doc)
    r = await client.get(f"/_mockle/conversations/{conv}/events?after=2")
    assert orjson.loads(await r.read())["events"] == seen.changes[2:]


async def test_the_journal_finds_a_notification_by_its_conversation(client: TestClient) -> None:
    r = await client.post(f"/api/account/{ACC}/signup")
    token = str((await r.json())["jwt"])
    ws = await client.ws_connect(WS, headers={"Authorization": f"jwt {token}"})
    request = {"kind": "req", "id": "1", "type": "cm.ConsumerRequestConversation", "body": {}}
    await ws.send_json(request)
    conv = orjson.loads((await ws.receive(timeout=5)).data)["body"]["conversationId"]
    sub = {"kind": "req", "id": "2", "type": "ms.SubscribeMessagingEvents"}
    await ws.send_json({**sub, "body": {"dialogId": conv}})
    event = {"type": "ContentEvent", "contentType": "text/plain", "message": "journaled"}
    publish = {"kind": "req", "id": "3", "type": "ms.PublishEvent"}
    await ws.send_json({**publish, "body": {"dialogId": conv, "event": event}})
    got = []
    while len(got) < 4:  # conversation resp, subscribe resp + history, publish resp + event
        got.append(orjson.loads((await ws.receive(timeout=5)).data))
        if got[-1].get("type") == "ms.MessagingEventNotification" and got[-1]["body"]["changes"]:
            break
    await ws.close()
    r = await client.get(
        f"/_mockle/requests?conversation_id={conv}&direction=out&type=ms.MessagingEventNotification"
    )
    found = (await r.json())["requests"]
    changes = [c for e in found for c in e["body"]["body"]["changes"]]
    assert [c["event"]["message"] for c in changes] == ["journaled"]
    assert changes[0]["conversationId"] == conv


def test_log_lines_read_notifications_that_embed_stored_bytes() -> None:
    change = {
        "sequence": 0,
        "originatorId": "me",
        "event": {"type": "ContentEvent", "message": "hi"},
        "conversationId": "c1",
        "dialogId": "c1",
    }
    ev = StoredEvent.make(0, "me", "CONSUMER", "ContentEvent", 1, change, "c1", "c1")
    for frame in (
        frames.messaging([ev], Dialect.SHORT),
        frames.messaging([ev], Dialect.AMS),
        frames.online_event(ev, "acc.1"),
    ):
        plain = orjson.loads(orjson.dumps(frame))
        assert journal._frame(frame, None) == journal._frame(plain, None)
        assert journal._frame(frame, None)[1:] == ("ContentEvent", None, None, "c1")
