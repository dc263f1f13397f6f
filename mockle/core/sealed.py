"""Closed conversations kept out of the GC-tracked heap: a conversation as one bytes object.

A kept closed conversation as objects is several objects the cyclic collector tracks (the
conversation, its dialog, the list of dialogs, participants, its event windows), and each full
collection visits every record in its windows. At the 100,000 closed conversations
``--max-closed-conversations`` keeps by default that was 1.4M tracked objects and a full
collection of ~0.9 s (``benchmarks/gc_pauses.py``, when one was 14 objects).

:func:`seal` turns a conversation into one ``bytes`` (:mod:`marshal` of a tuple of its fields:
participants as ``(id, role, state)``, the event windows as tuples of their
:data:`~mockle.core.model.Record` tuples, dicts as they are). Bytes are never tracked. (Nested
exact tuples would be untracked too, but only one nesting level per collection of their
generation: a collection untracks in the order it found the objects, parents first.) marshal
keeps every type exactly (tuple and list, bool and int, NaN, big ints); a conversation holding
something it cannot write stays an object. :func:`thaw` builds the conversation back, field for
field: ``thaw(seal(c))`` equals ``c`` (tests/core/test_sealed.py). The engine seals a closed
conversation once later closes have made it old enough that nothing still holds it
(:attr:`~mockle.core.effects.CoreConfig.seal_closed_after`), and thaws it when a request asks
for it again.
"""

from __future__ import annotations

import marshal
from typing import Any

from mockle.core.model import (
    NO_FEATURES,
    Conversation,
    Dialog,
    EventWindow,
    Participant,
    Record,
    Sealed,
    empty_window,
)

__all__ = ["Sealed", "seal", "thaw"]


def _people(participants: tuple[Participant, ...]) -> tuple[tuple[str, str, str], ...]:
    return tuple([(p.id, p.role, p.state) for p in participants])


def _window(window: EventWindow) -> tuple[tuple[Record, ...], int | None]:
    return tuple(list(window.records())), window.capacity


def _seal_dialog(d: Dialog) -> tuple[Any, ...]:
    return (
        d.dialog_id,
        d.dialog_type,
        d.creation_ts,
        d.meta_ts,
        d.channel_type,
        d.state,
        _people(d.participants),
        d.end_ts,
        d.closed_by,
        d.closed_cause,
        _window(d.events),
        d.meta_data,
        d.sequenced,
    )


def seal(conv: Conversation) -> Sealed | None:
    """The conversation as one bytes object (the inverse of :func:`thaw`); None when it holds
    a value marshal cannot write (it then stays an object)."""
    try:
        return marshal.dumps(_fields(conv))
    except ValueError:
        return None


def _fields(conv: Conversation) -> tuple[Any, ...]:
    return (
        conv.conv_id,
        conv.account,
        conv.consumer_id,
        conv.start_ts,
        conv.meta_ts,
        conv.skill_id,
        conv.ttr_type,
        conv.ttr_value,
        conv.state,
        conv.stage,
        conv.close_reason,
        conv.end_ts,
        _people(conv.participants),
        tuple([_seal_dialog(d) for d in conv.dialogs]),
        conv.campaign_info,
        conv.context,
        conv.csat,
        conv.client_properties,
        tuple(sorted(conv.features)),
        conv.channel,
        conv.consumer_messages,
        _window(conv.timeline),
        conv.timeline_total,
    )


def _thaw_window(packed: tuple[tuple[Record, ...], int | None]) -> EventWindow:
    records, capacity = packed
    if not records:
        return empty_window(capacity)
    window = EventWindow(capacity)
    for record in records:
        window.append(record)
    return window


def _thaw_dialog(t: tuple[Any, ...]) -> Dialog:
    return Dialog(
        t[0],
        t[1],
        t[2],
        t[3],
        channel_type=t[4],
        state=t[5],
        participants=tuple([Participant(*p) for p in t[6]]),
        end_ts=t[7],
        closed_by=t[8],
        closed_cause=t[9],
        events=_thaw_window(t[10]),
        meta_data=t[11],
        sequenced=t[12],
    )


def thaw(packed: Sealed) -> Conversation:
    """A new :class:`Conversation` equal to the one :func:`seal` sealed."""
    t = marshal.loads(packed)
    return Conversation(
        t[0],
        t[1],
        t[2],
        t[3],
        t[4],
        skill_id=t[5],
        ttr_type=t[6],
        ttr_value=t[7],
        state=t[8],
        stage=t[9],
        close_reason=t[10],
        end_ts=t[11],
        participants=tuple([Participant(*p) for p in t[12]]),
        dialogs=[_thaw_dialog(d) for d in t[13]],
        campaign_info=t[14],
        context=t[15],
        csat=t[16],
        client_properties=t[17],
        features=frozenset(t[18]) if t[18] else NO_FEATURES,
        channel=t[19],
        consumer_messages=t[20],
        timeline=_thaw_window(t[21]),
        timeline_total=t[22],
    )


def timeline_len(packed: Sealed) -> int:
    """How many events the sealed conversation's timeline keeps."""
    return len(marshal.loads(packed)[21][0])
