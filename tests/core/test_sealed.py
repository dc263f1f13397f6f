"""Sealed closed conversations (mockle/core/sealed.py): ``thaw(seal(c))`` is ``c`` field for
field, a sealed conversation is one untracked bytes object, and every answer about it is the one an
unsealed conversation gives."""

from __future__ import annotations

import dataclasses
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from mockle.core import sealed
from mockle.core.effects import CoreConfig
from mockle.core.model import (
    Conversation,
    Dialog,
    EventWindow,
    Participant,
    StoredEvent,
    empty_window,
)

from .agentside import ACCOUNT, Stage, content, request_conversation


def state(value: Any) -> Any:
    """Everything a model object holds, as plain data (event windows as their records)."""
    if isinstance(value, EventWindow):
        return ("window", value.capacity, list(value.records()))
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return (type(value).__name__,) + tuple(
            (f.name, state(getattr(value, f.name))) for f in dataclasses.fields(value)
        )
    if isinstance(value, list):
        return [state(v) for v in value]
    return (type(value).__name__, value)


names = st.text(min_size=1, max_size=8)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.tuples(inner)
        | st.dictionaries(st.text(max_size=4), inner, max_size=3)
    ),
    max_leaves=8,
)
docs = st.none() | st.dictionaries(st.text(max_size=4), json_values, max_size=4)
participants = st.lists(
    st.builds(
        Participant,
        names,
        st.sampled_from(["CONSUMER", "ASSIGNED_AGENT", "READER"]),
        st.sampled_from(["ACTIVE", "SUGGESTED"]),
    ),
    max_size=3,
).map(tuple)
optional_ints = st.none() | st.integers(0, 2**40)


@st.composite
def windows(draw: st.DrawFn) -> EventWindow:
    capacity = draw(st.none() | st.integers(1, 5))
    count = draw(st.integers(0, 8))
    if count == 0 and draw(st.booleans()):
        return empty_window(capacity)  # a window that never had an event: the shared one
    window = EventWindow(capacity)
    for i in range(count):
        ev = StoredEvent.make(
            draw(st.none() | st.integers(0, 100)),
            "me",
            "CONSUMER",
            "ContentEvent",
            i,
            {"event": {"message": draw(st.text(max_size=5))}},
            "c",
            "d",
        )
        window.append(ev.record)
    return window


@st.composite
def dialogs(draw: st.DrawFn) -> Dialog:
    return Dialog(
        draw(names),
        draw(st.sampled_from(["MAIN", "POST_SURVEY"])),
        draw(st.integers(0, 9)),
        draw(st.integers(0, 9)),
        channel_type=draw(names),
        state=draw(st.sampled_from(["OPEN", "CLOSE"])),
        participants=draw(participants),
        end_ts=draw(optional_ints),
        closed_by=draw(st.none() | names),
        closed_cause=draw(st.none() | names),
        events=draw(windows()),
        meta_data=draw(docs),
        sequenced=draw(st.integers(0, 99)),
    )


@st.composite
def conversations(draw: st.DrawFn) -> Conversation:
    return Conversation(
        draw(names),
        draw(names),
        draw(names),
        draw(st.integers(0, 2**41)),
        draw(st.integers(0, 9)),
        skill_id=draw(names),
        ttr_type=draw(names),
        ttr_value=draw(st.integers(0, 9)),
        state=draw(st.sampled_from(["OPEN", "CLOSE"])),
        stage=draw(st.sampled_from(["OPEN", "CLOSE"])),
        close_reason=draw(st.none() | names),
        end_ts=draw(optional_ints),
        participants=draw(participants),
        dialogs=draw(st.lists(dialogs(), min_size=1, max_size=2)),
        campaign_info=draw(docs),
        context=draw(docs),
        csat=draw(docs),
        client_properties=draw(docs),
        features=draw(st.frozensets(names, max_size=3)),
        channel=draw(names),
        consumer_messages=draw(st.integers(0, 9)),
        timeline=draw(windows()),
        timeline_total=draw(st.integers(0, 99)),
    )


@settings(max_examples=300, deadline=None)
@given(conversations())
def test_a_thawed_conversation_is_the_sealed_one_field_for_field(conv: Conversation) -> None:
    packed = sealed.seal(conv)
    assert type(packed) is bytes
    assert state(sealed.thaw(packed)) == state(conv)
    again = sealed.seal(sealed.thaw(packed))
    assert again is not None and state(sealed.thaw(again)) == state(conv)


def test_every_field_of_the_model_is_sealed() -> None:
    # a new field on Conversation or Dialog must be added to seal/thaw (this test then fails)
    assert len(dataclasses.fields(Conversation)) == 23
    assert len(dataclasses.fields(Dialog)) == 13


def test_a_conversation_marshal_cannot_write_stays_an_object() -> None:
    odd = Conversation("c", ACCOUNT, "me", 1, 2, context={"t": object()})
    assert sealed.seal(odd) is None


def _close(consumer: Any, conv: str) -> None:
    field = {"field": "ConversationStateField", "conversationState": "CLOSE"}
    consumer.ok(
        "cm.UpdateConversationField", {"conversationId": conv, "conversationField": [field]}
    )


def _scenario(seal_after: int) -> tuple[Stage, list[str], list[Any]]:
    stage = Stage(CoreConfig(agent_mode="manual", seal_closed_after=seal_after))
    consumer = stage.consumer()
    convs, answers = [], []
    for i in range(5):
        conv = request_conversation(consumer)
        for k in range(3):
            consumer.ok("ms.PublishEvent", content(conv, f"m{i}.{k}", "ms.PublishEvent")["body"])
        _close(consumer, conv)
        convs.append(conv)
    for conv in convs:
        answers.append(
            consumer.req({"id": 1, "type": "ms.QueryMessages", "body": {"dialogId": conv}})
        )
        answers.append(
            consumer.req(
                {
                    "id": 2,
                    "type": "ms.PublishEvent",
                    "body": content(conv, "late", "ms.PublishEvent")["body"],
                }
            )
        )
    answers.append(stage.engine.stats())
    return stage, convs, answers


def test_sealed_conversations_answer_as_unsealed_ones() -> None:
    # the same calls (same clock, same ids) with every closed conversation sealed at once and
    # with none sealed: history, a refused publish into a closed one, stats, the model itself
    sealing, convs, sealed_answers = _scenario(seal_after=0)
    plain, plain_convs, plain_answers = _scenario(seal_after=10**6)
    assert convs == plain_convs
    assert sealed_answers == plain_answers
    acc = sealing.engine.account(ACCOUNT)
    # the lookups thawed each; one more close seals them again
    assert all(type(acc.conversations[c]) is Conversation for c in convs)
    consumer = sealing.consumer()
    _close(consumer, request_conversation(consumer))
    assert all(type(acc.conversations[c]) is bytes for c in convs)
    listed = list(sealing.engine.conversations(acc))
    others = list(plain.engine.conversations(plain.engine.account(ACCOUNT)))
    assert [state(c) for c in listed[: len(convs)]] == [state(c) for c in others]
    assert [c.conv_id for c in sealing.engine.conversations(acc, closed=False)] == []
    for conv in convs:
        assert state(sealing.engine.conversation(ACCOUNT, conv)) == state(
            plain.engine.conversation(ACCOUNT, conv)
        )
