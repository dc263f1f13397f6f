"""Stored events: kept as records the cyclic GC does not track, read back as views, and every
answer built from their bytes is byte for byte what building it from the change dicts gave.

The "dict path" below is how notifications were built before events were kept as bytes (the
change item as a dict, copied and extended per recipient, serialised with the whole frame); it
is the reference each byte-built answer is compared with.
"""

from __future__ import annotations

import gc
import json
import tracemalloc
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mockle.core import dialects, frames, render, webhooks
from mockle.core.clock import FakeClock, Ids
from mockle.core.dialects import Dialect
from mockle.core.effects import CoreConfig, Effects, Listener
from mockle.core.model import (
    ASSIGNED_AGENT,
    CONSUMER,
    Conversation,
    Dialog,
    EventWindow,
    StoredEvent,
    empty_window,
)
from mockle.core.tokens import TokenInfo, TokenKind
from mockle.core.world import World

from .agentside import ACCOUNT, Sock, Stage, content, request_conversation

# -- the dict path (the reference) ------------------------------------------------------------


def dict_with_key(change: dict[str, Any], key: str) -> dict[str, Any]:
    out = dict(change)
    out[key] = change["originatorId"]
    return out


def dict_messaging(changes: list[dict[str, Any]], dialect: Dialect) -> dict[str, Any]:
    if dialect is Dialect.AMS:
        changes = [dict_with_key(c, "originatorPid") for c in changes]
    return render.notification(dialects.MESSAGING_NOTIFICATION[dialect], changes)


def dict_online_body(change: dict[str, Any], legacy_id: str | None) -> dict[str, Any]:
    body = dict_with_key(change, "originatorPId")
    if legacy_id is not None:
        body["originatorId"] = legacy_id
    return body


def dict_online(change: dict[str, Any], legacy_id: str | None) -> dict[str, Any]:
    body = dict_online_body(change, legacy_id)
    return {"kind": "notification", "type": dialects.ONLINE_EVENT_DISTRIBUTION, "body": body}


# -- the documented event types, with awkward text -------------------------------------------

texts = st.text(max_size=40)  # any unicode: quotes, backslashes, control characters, emoji
ids = st.one_of(st.uuids().map(str), texts)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | texts,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(texts, inner, max_size=3),
    max_leaves=8,
)
content_text = st.fixed_dictionaries(
    {"type": st.just("ContentEvent"), "contentType": st.just("text/plain"), "message": texts}
)
content_file = st.fixed_dictionaries(
    {
        "type": st.just("ContentEvent"),
        "contentType": st.just("hosted/file"),
        "message": st.fixed_dictionaries(
            {"relativePath": texts, "fileType": st.sampled_from(["JPG", "PNG"]), "caption": texts}
        ),
    }
)
rich_content = st.fixed_dictionaries(
    {
        "type": st.just("RichContentEvent"),
        "content": st.fixed_dictionaries(
            {
                "type": st.just("vertical"),
                "elements": st.lists(
                    st.fixed_dictionaries({"type": st.just("text"), "text": texts}), max_size=3
                ),
            }
        ),
    }
)
accept_status = st.fixed_dictionaries(
    {
        "type": st.just("AcceptStatusEvent"),
        "status": st.sampled_from(["ACCEPT", "READ", "ACTION"]),
        "sequenceList": st.lists(st.integers(0, 10**6), max_size=4),
    }
)
chat_state = st.fixed_dictionaries(
    {
        "type": st.just("ChatStateEvent"),
        "chatState": st.sampled_from(["ACTIVE", "COMPOSING", "PAUSE", "INACTIVE", "GONE"]),
    }
)
events = st.one_of(content_text, content_file, rich_content, accept_status, chat_state)


@st.composite
def stored(draw: st.DrawFn) -> tuple[StoredEvent, dict[str, Any]]:
    """A stored event as the engine makes one, and its change item as a dict."""
    event = draw(events)
    sequenced = event["type"] != "ChatStateEvent"
    seq = draw(st.integers(0, 10**9)) if sequenced else None
    originator, conv = draw(ids), draw(ids)
    role = draw(st.sampled_from([CONSUMER, ASSIGNED_AGENT, "MANAGER", "CONTROLLER"]))
    audience = draw(st.sampled_from(["ALL", "AGENTS_AND_MANAGERS"]))
    change = render.change_item(
        sequence=seq,
        originator_id=originator,
        role=role,
        server_ts=draw(st.integers(0, 2**53)),
        event=event,
        conversation_id=conv,
        dialog_id=conv,
        metadata=draw(st.none() | st.lists(json_values, max_size=2)),
        audience=audience,
        client_properties=draw(st.none() | st.dictionaries(texts, texts, max_size=2)),
    )
    ev = StoredEvent.make(
        seq, originator, role, event["type"], change.get("serverTimestamp", 0), change, conv, conv
    )
    return ev, change


def reread(ev: StoredEvent) -> StoredEvent:
    """The event as a reader gets it from the store: from its record alone."""
    return StoredEvent(ev.record)


@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.lists(stored(), min_size=0, max_size=4), st.none() | ids)
def test_notifications_from_bytes_equal_the_dict_path(
    items: list[tuple[StoredEvent, dict[str, Any]]], legacy: str | None
) -> None:
    evs = [reread(ev) for ev, _ in items]
    changes = [change for _, change in items]
    for dialect in Dialect:
        got = orjson.dumps(frames.messaging(evs, dialect))
        assert got == orjson.dumps(dict_messaging(changes, dialect))
    for ev, change in zip(evs, changes, strict=True):
        assert orjson.dumps(frames.online_event(ev, legacy)) == orjson.dumps(
            dict_online(change, legacy)
        )
        assert orjson.dumps(frames.online_event(ev)) == orjson.dumps(dict_online(change, None))
        assert webhooks.event_body(ev) == orjson.dumps(
            render.notification(webhooks.MESSAGING_TYPE, [change])
        )
        # the control API's "events" and a QueryMessages answer embed the same bytes
        assert orjson.dumps({"events": [ev.json()]}) == orjson.dumps({"events": [change]})
        answer = frames.resp("1", 200, [frames.online_body(ev, legacy)], "ms.QueryMessagesResponse")
        reference = frames.resp("1", 200, [dict_online_body(change, legacy)], answer["type"])
        assert orjson.dumps(answer) == orjson.dumps(reference)
        # the accessors readers use
        assert ev.change == change and ev.event == change["event"]
        assert ev.sequence == change.get("sequence") and ev.originator_id == change["originatorId"]


def test_a_stored_event_is_not_tracked_by_the_collector() -> None:
    change = {"sequence": 3, "originatorId": "me", "event": {"type": "ContentEvent"}}
    ev = StoredEvent.make(3, "me", CONSUMER, "ContentEvent", 1, change, "c", "c")
    record = ev.record
    del ev, change
    gc.collect()  # CPython stops tracking a tuple of untracked items at its first collection
    assert type(record) is tuple and not gc.is_tracked(record)
    assert not any(gc.is_tracked(item) for item in record)


def test_events_published_through_the_engine_add_no_tracked_objects() -> None:
    stage = Stage()
    consumer = stage.consumer()
    conv_id = request_conversation(consumer)
    conv = stage.engine.conversation(ACCOUNT, conv_id)
    publish = {"dialogId": conv_id, "event": {}}
    gc.collect()
    before = len(gc.get_objects())
    for i in range(2000):
        text = {"type": "ContentEvent", "contentType": "text/plain", "message": f"m{i}"}
        consumer.req({"id": i, "type": "ms.PublishEvent", "body": {**publish, "event": text}})
        if i % 10 == 0:
            typing = {"type": "ChatStateEvent", "chatState": "COMPOSING"}
            consumer.req({"id": i, "type": "ms.PublishEvent", "body": {**publish, "event": typing}})
    consumer.take()
    gc.collect()
    grown = len(gc.get_objects()) - before
    assert len(conv.timeline) == 2200 and len(conv.main.events) == 2000
    # a dict and a slots object per event stayed tracked before: 4,400 here
    assert grown < 100, grown
    assert not any(gc.is_tracked(r) for r in conv.timeline.records())
    assert not any(gc.is_tracked(r) for r in conv.main.events.records())


def test_stored_bytes_hold_no_serialiser_buffer() -> None:
    """orjson writes into a buffer of at least 4 KiB and returns it as is: kept for good, each
    event would hold one. The stored bytes are a copy of their own size."""
    change = {"sequence": 1, "originatorId": "me", "event": {"type": "ContentEvent"}}
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        kept = [StoredEvent.make(1, "me", CONSUMER, "ContentEvent", 1, change, "c", "c").data]
        kept += [StoredEvent.make(1, "me", CONSUMER, "ContentEvent", 1, change, "c", "c").data]
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert grown < 2 * (len(kept[0]) + 200), grown


def test_the_window_reads_events_as_views() -> None:
    window = EventWindow(3)
    made = []
    for seq in range(5):
        change = {"sequence": seq, "originatorId": "me", "event": {"type": "ContentEvent"}}
        ev = StoredEvent.make(seq, "me", CONSUMER, "ContentEvent", seq, change, "c", "c")
        window.append(ev.record)
        made.append(ev)
    assert len(window) == 3
    assert [e.sequence for e in window] == [2, 3, 4]
    assert window[0] == made[2] and window[-1].change == made[4].change
    assert [e.sequence for e in window.after(1)] == [3, 4]
    assert window.after(5) == []
    assert [e.sequence for e in reversed(window)] == [4, 3, 2]
    assert list(window.records()) == [ev.record for ev in made[2:]]
    assert window.maxlen == 3 and EventWindow().maxlen is None


def test_a_window_is_one_tracked_object() -> None:
    """The window is its deque (no wrapper, no bound method): what each dialog and each
    conversation add to every collection's scan."""
    gc.collect()
    before = len(gc.get_objects())
    windows = [EventWindow(10) for _ in range(1000)]
    assert len(gc.get_objects()) - before == len(windows) + 1  # and the list that holds them


def test_a_new_conversation_shares_the_empty_window_until_its_first_event() -> None:
    stage = Stage(CoreConfig(agent_mode="manual", max_events_per_conversation=50))
    consumer = stage.consumer()
    first = stage.engine.conversation(ACCOUNT, request_conversation(consumer))
    other = stage.engine.conversation(ACCOUNT, request_conversation(stage.consumer()))
    shared = empty_window(50)
    assert first.timeline is shared and first.main.events is shared and other.timeline is shared
    assert len(shared) == 0 and shared.capacity == 50 and list(shared) == []
    with pytest.raises(TypeError):
        shared.append(first.timeline.records)  # type: ignore[arg-type]
    consumer.ok("ms.PublishEvent", content(first.conv_id, "hi", "ms.PublishEvent")["body"])
    assert first.main.events is not shared and first.timeline is not shared
    assert first.main.events.capacity == first.main.events.maxlen == 50
    assert [e.event["message"] for e in first.main.events] == ["hi"]
    assert len(shared) == 0 and other.main.events is shared  # the others keep sharing it


def test_an_open_conversation_adds_seven_tracked_objects() -> None:
    """An open conversation with its new consumer and routing task (nobody takes it): the
    conversation, its dialog, the list of dialogs, the participants' tuple and participant both
    share, the consumer and the routing task. Windows, features, rings and declined agents are
    shared empty values until used (the collector scans every tracked object of the heap)."""
    engine = World.build(CoreConfig(agent_mode="manual"), clock=FakeClock(), ids=Ids(7)).engine

    def one(i: int) -> None:
        info = TokenInfo(TokenKind.CONSUMER_JWS, ACCOUNT, f"{i:064x}", {}, None, f"ext-{i}")
        engine.request_conversation(engine.consumer(info), {}, Effects())

    one(-1)  # the account, and whatever a first conversation sets up once
    gc.collect()
    before = len(gc.get_objects())
    for i in range(200):
        one(i)
    gc.collect()
    assert len(gc.get_objects()) - before == 7 * 200


# -- through the core: history, subscriptions and live events on both roles ----------------


class Recorder(Listener):
    """The change dicts as the engine made them, at publish time (the dict path's input)."""

    def __init__(self) -> None:
        self.changes: list[dict[str, Any]] = []
        self.roles: list[str] = []

    def on_event(self, conv: Conversation, dialog: Dialog, ev: StoredEvent, fx: Effects) -> None:
        self.changes.append(json.loads(json.dumps(ev.change)))  # a deep copy
        self.roles.append(ev.role)


def raw_frames(stage: Stage, sock: Sock, frame: dict[str, Any]) -> list[bytes]:
    """The bytes of every frame a request sends to ``sock``, as the socket writer writes them."""
    fx = stage.world.ums.frame(sock.session, json.dumps(frame))
    return [orjson.dumps(f) for sid, f in fx.frames if sid == sock.id]


EVENTS = [
    {"type": "ContentEvent", "contentType": "text/plain", "message": 'hé "quoted" \\ 👋'},
    {
        "type": "ContentEvent",
        "contentType": "hosted/file",
        "message": {"relativePath": "/x/y.JPG", "fileType": "JPG", "caption": "a picture"},
    },
    {
        "type": "RichContentEvent",
        "content": {"type": "vertical", "elements": [{"type": "text", "text": "rich"}]},
    },
    {"type": "AcceptStatusEvent", "status": "READ", "sequenceList": [0, 1]},
    {"type": "ChatStateEvent", "chatState": "COMPOSING"},
]


def test_history_and_subscriptions_are_byte_for_byte_the_dict_path() -> None:
    stage = Stage()
    recorder = Recorder()
    stage.engine.listeners.append(recorder)
    consumer = stage.consumer()
    conv_id = request_conversation(consumer)
    conv = stage.engine.conversation(ACCOUNT, conv_id)
    agent = stage.agent("bot", route=False)
    fx = Effects()
    stage.engine.join_agent(conv, fx, agent.pid)
    stage.deliver(fx)
    for i, event in enumerate(EVENTS):
        body = {"dialogId": conv_id, "event": event}
        consumer.req({"id": f"c{i}", "type": "ms.PublishEvent", "body": body})
        fx = Effects()
        stage.engine.agent_publish(conv, event, fx, agent_id=agent.pid)
        stage.deliver(fx)
    fx = Effects()
    stage.engine.agent_publish(
        conv, EVENTS[0], fx, agent_id=agent.pid, audience="AGENTS_AND_MANAGERS"
    )
    stage.deliver(fx)
    consumer.take()
    agent.take()
    changes, roles = recorder.changes, recorder.roles
    sequenced = [
        (c, r)
        for c, r in zip(changes, roles, strict=True)
        if c["event"]["type"] != "ChatStateEvent"
    ]
    assert len(sequenced) == 9

    def for_consumer(from_seq: int) -> list[dict[str, Any]]:
        return [c for c, _ in sequenced[from_seq:] if c["messageAudience"] == "ALL"]

    def legacy_of(role: str) -> str | None:
        return agent.legacy if role != CONSUMER else None

    # the consumer: QueryMessages, both dialects of SubscribeMessagingEvents from a sequence
    rid = {"id": "q", "type": "ms.QueryMessages", "body": {"dialogId": conv_id}}
    [resp] = raw_frames(stage, consumer, rid)
    reference = frames.resp(
        "q",
        200,
        [dict_online_body(c, None) for c in for_consumer(0)],
        "ms.QueryMessagesResponse",
    )
    assert resp == orjson.dumps(reference)
    for type_name, dialect in (
        ("ms.SubscribeMessagingEvents", Dialect.SHORT),
        (".ams.ms.SubscribeMessagingEvents", Dialect.AMS),
    ):
        sub = {"id": "s", "type": type_name, "body": {"dialogId": conv_id, "fromSeq": 3}}
        _, history = raw_frames(stage, consumer, sub)
        assert history == orjson.dumps(dict_messaging(for_consumer(3), dialect))

    # the agent (v2.1): its own events under its legacy id, agents-only events too
    query = {"id": "a", "type": ".ams.ms.QueryMessages", "body": {"dialogId": conv_id}}
    [resp] = raw_frames(stage, agent, query)
    bodies = [dict_online_body(c, legacy_of(r)) for c, r in sequenced]
    reference = frames.resp("a", 200, bodies, ".ams.ms.QueryMessages$Response")
    assert resp == orjson.dumps(reference)
    sub = {"id": "b", "type": ".ams.ms.SubscribeMessagingEvents", "body": {"dialogId": conv_id}}
    got = raw_frames(stage, agent, sub)
    assert got[1:] == [orjson.dumps(dict_online(c, legacy_of(r))) for c, r in sequenced]

    # live: one more event of each side reaches both sockets as the dict path shaped it
    fx = Effects()
    stage.engine.agent_publish(conv, EVENTS[2], fx, agent_id=agent.pid)
    live = {sid: orjson.dumps(f) for sid, f in fx.frames}
    change = recorder.changes[-1]
    assert live[agent.id] == orjson.dumps(dict_online(change, agent.legacy))
    assert live[consumer.id] == orjson.dumps(dict_messaging([change], Dialect.AMS))
