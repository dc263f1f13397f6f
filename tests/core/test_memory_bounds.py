"""Memory bounds: closed conversations beyond --max-closed-conversations are forgotten oldest
first, a conversation keeps a window of its newest events, and both say what happened."""

from __future__ import annotations

import pytest

from mockle.core import errors
from mockle.core.effects import CoreConfig

from .agentside import ACCOUNT, Stage, content, request_conversation
from .helpers import open_conversation, send, text


def _close(consumer, conv: str) -> None:  # type: ignore[no-untyped-def]
    field = {"field": "ConversationStateField", "conversationState": "CLOSE"}
    consumer.ok(
        "cm.UpdateConversationField", {"conversationId": conv, "conversationField": [field]}
    )


def test_the_oldest_closed_conversations_are_forgotten_and_say_so() -> None:
    stage = Stage(CoreConfig(agent_mode="manual", max_closed_conversations=2))
    consumer = stage.consumer()
    convs = []
    for _ in range(4):
        conv = request_conversation(consumer)
        _close(consumer, conv)
        convs.append(conv)
    acc = stage.engine.account(ACCOUNT)
    assert list(acc.conversations) == convs[2:]
    assert set(acc.dialogs) == set(convs[2:])
    assert stage.engine.evictions == 2
    resp = consumer.req({"id": 1, "type": "ms.QueryMessages", "body": {"dialogId": convs[0]}})
    assert (
        resp["code"] == 404
        and "forgotten" in resp["body"]
        and "--max-closed-conversations" in resp["body"]
    )
    with pytest.raises(errors.ConversationNotFound, match="forgotten"):
        stage.engine.conversation(ACCOUNT, convs[1])
    # open conversations are never forgotten, and the consumer stays while it has one
    live = request_conversation(consumer)
    for _ in range(3):
        other = stage.consumer()
        _close(other, request_conversation(other))
    assert live in acc.conversations
    assert consumer.session.consumer_id in acc.consumers
    stats = stage.engine.stats()
    assert stats["closedConversations"] == 2 and stats["openConversations"] == 1
    assert stats["evictedConversations"] == 5


def test_a_consumer_is_forgotten_with_its_last_conversation() -> None:
    stage = Stage(CoreConfig(agent_mode="manual", max_closed_conversations=1))
    first, second = stage.consumer(), stage.consumer()
    _close(first, request_conversation(first))
    _close(second, request_conversation(second))
    consumers = stage.engine.account(ACCOUNT).consumers
    assert first.session.consumer_id not in consumers
    assert second.session.consumer_id in consumers


def test_a_conversation_keeps_a_window_of_its_newest_events() -> None:
    stage = Stage(CoreConfig(agent_mode="manual", max_events_per_conversation=10))
    consumer = stage.consumer()
    conv = request_conversation(consumer)
    for i in range(25):
        assert (
            consumer.ok("ms.PublishEvent", content(conv, f"m{i}", "ms.PublishEvent")["body"])[
                "sequence"
            ]
            == i
        )
    dialog = stage.engine.conversation(ACCOUNT, conv).main
    assert dialog.first_sequence == 15 and dialog.next_sequence == 25
    assert [e.sequence for e in dialog.events] == list(range(15, 25))
    # a history below the window gets what is left, with the real sequences
    got = consumer.ok("ms.QueryMessages", {"dialogId": conv, "fromSeq": 0})
    assert [h["sequence"] for h in got] == list(range(15, 25))
    consumer.ok("ms.SubscribeMessagingEvents", {"dialogId": conv, "fromSeq": 20})
    [snapshot] = consumer.take("ms.MessagingEventNotification")
    assert [c["sequence"] for c in snapshot["body"]["changes"]] == [20, 21, 22, 23, 24]
    timeline = stage.engine.conversation(ACCOUNT, conv)
    assert len(timeline.timeline) == 10 and timeline.timeline_total == 25
    assert [e.sequence for e in timeline.timeline_from(20)] == [20, 21, 22, 23, 24]
    assert [e.sequence for e in timeline.timeline_from(0)][0] == 15


def test_the_connector_api_answers_not_found_for_a_forgotten_conversation() -> None:
    stage = Stage(CoreConfig(agent_mode="manual", max_closed_conversations=1))
    engine = stage.engine
    close = {"field": "ConversationStateField", "conversationState": "CLOSE"}
    convs = []
    for ext in ("ext-a", "ext-b"):
        app, jws, conv = open_conversation(engine, ext)
        body = {"conversationId": conv, "conversationField": [close]}
        req = {"kind": "req", "id": "1", "type": "cm.UpdateConversationField", "body": body}
        assert send(engine, req, app, jws)[0].status == 200
        convs.append((app, jws, conv))
    app, jws, first = convs[0]
    reply, _ = send(engine, text(first), app, jws)
    assert reply.status == 400 and "forgotten" in str(reply.body), reply.body
    # the unknown-id answer without eviction stays as it was
    reply, _ = send(engine, text("never-was"), app, jws)
    assert reply.status == 400 and "forgotten" not in str(reply.body)
