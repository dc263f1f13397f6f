"""Domain state: accounts, consumers, agents, conversations, dialogs, participants, events.

Plain data. Who may change what, and when, lives in :mod:`mockle.core.engine`; how the
state looks on the wire lives in :mod:`mockle.core.render`.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import islice
from typing import Any, NamedTuple

import orjson

OPEN = "OPEN"
CLOSE = "CLOSE"

CONSUMER = "CONSUMER"
ASSIGNED_AGENT = "ASSIGNED_AGENT"
AGENT = "AGENT"
MANAGER = "MANAGER"
READER = "READER"
CONTROLLER = "CONTROLLER"

ACTIVE = "ACTIVE"  # participant states (a transfer to an agent makes it SUGGESTED first)
SUGGESTED = "SUGGESTED"

NO_FEATURES: frozenset[str] = frozenset()  # shared: a conversation without features adds none

SEQUENCED_EVENTS = frozenset({"ContentEvent", "RichContentEvent", "AcceptStatusEvent"})

# Documented TTR names -> seconds (protocol.md §8; the default PRIORITIZED/600 is what the
# docs' notifications show for a conversation that asked for nothing).
TTR_SECONDS = {"PRIORITIZED": 600, "NORMAL": 3600, "URGENT": 300, "CUSTOM": 600}
DEFAULT_TTR = ("PRIORITIZED", 600)


class Participant(NamedTuple):
    """One participant of a conversation or dialog. Immutable, as the tuples of them that a
    conversation and its dialogs hold (replaced, never changed, when someone joins or leaves):
    a new conversation and its main dialog share one tuple and one participant."""

    id: str
    role: str
    state: str = ACTIVE


def compact(data: bytes) -> bytes:
    """A copy of ``data`` in a block of its own size. orjson returns its output in the buffer it
    wrote it into, at least 4 KiB however short the JSON (tracemalloc: 4,098 bytes held by the
    40-byte ``orjson.dumps({"a": 1})``); bytes kept for good are copied out of it (a join with
    an empty item is the cheapest copy: one allocation of the exact size)."""
    return b"".join((data, b""))


# A stored event as kept in memory: an exact tuple of scalars and the change item's JSON bytes.
# CPython's collector stops tracking such a tuple at its first collection, and bytes are never
# tracked, so a long run's stored events add nothing to the heap each collection scans (a dict
# or a slots object would stay tracked for good). Fields: sequence (None for chat states),
# originator id, originator role, event type, server timestamp, conversation id, dialog id,
# message audience, the v3 change item as compact JSON.
Record = tuple[int | None, str, str, str, int, str, str, str, bytes]

# A closed conversation sealed out of the GC-tracked heap (mockle.core.sealed): bytes.
Sealed = bytes


class StoredEvent:
    """One published event, read from its :data:`Record`. ``data`` is its v3 change item as
    compact JSON, the bytes every notification, history answer and control API answer embeds;
    :attr:`change` parses it on demand (or is the dict it was made from, at publish time)."""

    __slots__ = (
        "record",
        "sequence",
        "originator_id",
        "role",
        "event_type",
        "server_ts",
        "conversation_id",
        "dialog_id",
        "audience",
        "data",
        "_change",
    )

    def __init__(self, record: Record, change: dict[str, Any] | None = None) -> None:
        self.record = record
        (
            self.sequence,
            self.originator_id,
            self.role,
            self.event_type,
            self.server_ts,
            self.conversation_id,
            self.dialog_id,
            self.audience,
            self.data,
        ) = record
        self._change = change

    @classmethod
    def make(
        cls,
        sequence: int | None,
        originator_id: str,
        role: str,
        event_type: str,
        server_ts: int,
        change: dict[str, Any],
        conversation_id: str,
        dialog_id: str,
        audience: str = "ALL",
    ) -> StoredEvent:
        """A new event: its record, with ``change`` (the v3 change item) serialised once."""
        record: Record = (
            sequence,
            originator_id,
            role,
            event_type,
            server_ts,
            conversation_id,
            dialog_id,
            audience,
            compact(orjson.dumps(change)),
        )
        return cls(record, change)

    @property
    def change(self) -> dict[str, Any]:
        """The change item as a dict (a fresh copy when parsed: mutating it changes nothing)."""
        if self._change is not None:
            return self._change
        change: dict[str, Any] = orjson.loads(self.data)
        return change

    @property
    def event(self) -> dict[str, Any]:
        """The event itself (``change["event"]``)."""
        event: dict[str, Any] = self.change["event"]
        return event

    def json(self) -> orjson.Fragment:
        """The change item ready to embed in a document that orjson serialises."""
        return orjson.Fragment(self.data)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, StoredEvent) and other.record == self.record

    def __hash__(self) -> int:
        return hash(self.record)

    def __repr__(self) -> str:
        return f"StoredEvent({self.record!r})"


class EventWindow(deque[Record]):
    """The newest ``maxlen`` stored events (all of them without a bound), kept as records and
    read as :class:`StoredEvent` views: a full window forgets its oldest event.

    It is the deque of records itself (one GC-tracked object per window, not a wrapper, its
    deque and a bound ``append``): ``append`` is the deque's own, iterating and indexing give
    views, :meth:`records` the records."""

    __slots__ = ()

    def __init__(self, maxlen: int | None = None) -> None:
        super().__init__((), maxlen)

    def __iter__(self) -> Iterator[StoredEvent]:  # type: ignore[override]
        return map(StoredEvent, deque.__iter__(self))

    def __reversed__(self) -> Iterator[StoredEvent]:  # type: ignore[override]
        return map(StoredEvent, deque.__reversed__(self))

    def __getitem__(self, index: int) -> StoredEvent:  # type: ignore[override]
        return StoredEvent(deque.__getitem__(self, index))

    def after(self, skip: int) -> list[StoredEvent]:
        """The kept events but the first ``skip``."""
        return list(map(StoredEvent, islice(deque.__iter__(self), skip, None)))

    def records(self) -> Iterator[Record]:
        return deque.__iter__(self)

    @property
    def capacity(self) -> int | None:
        """The events this window keeps (``None``: all of them)."""
        return self.maxlen

    def started(self) -> EventWindow:
        """The window to add an event to: this one (see :class:`_NoEventsYet`)."""
        return self


class _NoEventsYet(EventWindow):
    """The window of a dialog or conversation that has no event yet, shared by all of them
    with the same capacity (:func:`empty_window`): a new conversation then allocates no deque
    (two per conversation, ~600 bytes and one GC-tracked object each) until its first event,
    when :meth:`started` gives the window of its own that the owner keeps from then on. It is
    read like any empty window; it holds nothing (``maxlen`` 0) and refuses an ``append``, so
    that no caller can add to the shared one by mistake (:meth:`Dialog.add` and
    :meth:`Conversation.record` start a window first)."""

    __slots__ = ("_capacity",)

    def __init__(self, capacity: int | None) -> None:
        super().__init__(0)
        self._capacity = capacity

    @property
    def capacity(self) -> int | None:
        return self._capacity

    def started(self) -> EventWindow:
        return EventWindow(self._capacity)

    def append(self, record: Record) -> None:
        raise TypeError("the shared empty event window takes no events: start one (started())")


_EMPTY_WINDOWS: dict[int | None, EventWindow] = {}


def empty_window(capacity: int | None = None) -> EventWindow:
    """The shared empty window of ``capacity`` (see :class:`_NoEventsYet`)."""
    window = _EMPTY_WINDOWS.get(capacity)
    if window is None:
        window = _EMPTY_WINDOWS[capacity] = _NoEventsYet(capacity)
    return window


@dataclass(slots=True)
class Dialog:
    dialog_id: str
    dialog_type: str
    creation_ts: int
    meta_ts: int
    channel_type: str = "MESSAGING"
    state: str = OPEN
    participants: tuple[Participant, ...] = ()
    end_ts: int | None = None
    closed_by: str | None = None
    closed_cause: str | None = None
    # the sequenced events, by sequence: a window of the newest (--max-events-per-conversation)
    events: EventWindow = field(default_factory=empty_window)
    meta_data: dict[str, Any] | None = None
    sequenced: int = 0  # events ever sequenced in this dialog (the next sequence)

    @property
    def next_sequence(self) -> int:
        return self.sequenced

    @property
    def first_sequence(self) -> int:
        """The sequence of the oldest event still kept."""
        return self.sequenced - len(self.events)

    def add(self, record: Record) -> None:
        events = self.events
        if events.maxlen == 0:  # the shared empty window (_NoEventsYet): start one
            events = self.events = events.started()
        events.append(record)  # a full window forgets its oldest event
        self.sequenced += 1

    def events_from(self, sequence: int) -> list[StoredEvent]:
        """The kept events from ``sequence`` on (what is left when it fell out of the window)."""
        return self.events.after(max(0, sequence - self.first_sequence))


@dataclass(slots=True)
class Conversation:
    conv_id: str
    account: str
    consumer_id: str
    start_ts: int
    meta_ts: int
    skill_id: str = "-1"
    ttr_type: str = DEFAULT_TTR[0]
    ttr_value: int = DEFAULT_TTR[1]
    state: str = OPEN
    stage: str = OPEN
    close_reason: str | None = None
    end_ts: int | None = None
    participants: tuple[Participant, ...] = ()  # newest first
    dialogs: list[Dialog] = field(default_factory=list)
    campaign_info: dict[str, Any] | None = None
    context: dict[str, Any] | None = None
    csat: dict[str, Any] | None = None
    client_properties: dict[str, Any] | None = None
    features: frozenset[str] = NO_FEATURES
    channel: str = "connector"  # which path opened it: "connector", "ums", "control"
    consumer_messages: int = 0
    # every event, chat states too: a window of the newest (--max-events-per-conversation)
    timeline: EventWindow = field(default_factory=empty_window)
    timeline_total: int = 0  # events ever added to the timeline (the next cursor)

    @property
    def main(self) -> Dialog:
        return self.dialogs[0]

    @property
    def is_open(self) -> bool:
        return self.stage == OPEN

    def dialog(self, dialog_id: str) -> Dialog | None:
        for d in self.dialogs:
            if d.dialog_id == dialog_id:
                return d
        return None

    def participant(self, pid: str) -> Participant | None:
        for p in self.participants:
            if p.id == pid:
                return p
        return None

    def assigned_agent(self) -> str | None:
        for p in self.participants:
            if p.role == ASSIGNED_AGENT:
                return p.id
        return None

    def record(self, record: Record) -> None:
        timeline = self.timeline
        if timeline.maxlen == 0:  # the shared empty window (_NoEventsYet): start one
            timeline = self.timeline = timeline.started()
        timeline.append(record)
        self.timeline_total += 1

    def timeline_from(self, cursor: int) -> list[StoredEvent]:
        """The kept timeline events from position ``cursor`` (0: the first event ever)."""
        return self.timeline.after(max(0, cursor - (self.timeline_total - len(self.timeline))))


@dataclass(slots=True)
class Consumer:
    account: str
    consumer_id: str
    kind: str  # "connector" (ConsumerJWS) or "signup"
    ext_id: str | None = None
    profile: dict[str, Any] = field(default_factory=dict)
    open_conversation: str | None = None
    stored: int = 0  # conversations of this consumer mockle still holds


@dataclass(slots=True)
class Agent:
    """An agent: a PID (UUID, v3 notifications) and a legacy id ``<account>.<userId>``.

    Agents who log in (Login Service) have a ``login_name``; the control API's and the
    simulated agent have none. ``role`` is the agent's profile: AGENT, or MANAGER (may join any
    conversation of the account as a manager, and act on it)."""

    account: str
    pid: str
    user_id: str
    nickname: str = "mockle agent"
    login_name: str | None = None
    role: str = "AGENT"
    full_name: str | None = None
    employee_id: str | None = None
    picture_url: str | None = None
    skills: frozenset[str] = frozenset()  # empty: every skill
    max_conversations: int | None = None  # None: no limit
    credentials: dict[str, str] = field(default_factory=dict)  # what strict login checks
    defined: bool = False  # defined in advance (--agents, POST /_mockle/agents)
    simulated: bool = False  # the simulated agent (echo / script)

    @property
    def legacy_id(self) -> str:
        return f"{self.account}.{self.user_id}"

    @property
    def is_manager(self) -> bool:
        return self.role == MANAGER

    def has_skill(self, skill: str) -> bool:
        return not self.skills or skill in self.skills or skill in ("-1", "")


@dataclass(slots=True)
class Account:
    account_id: str
    consumers: dict[str, Consumer] = field(default_factory=dict)
    # open and recently closed conversations as objects, older closed ones sealed (read them
    # through Engine.find / Engine.conversation / Engine.conversations, which thaw)
    conversations: dict[str, Conversation | Sealed] = field(default_factory=dict)
    dialogs: dict[str, Conversation | Sealed] = field(default_factory=dict)  # dialog id -> conv
    agents: dict[str, Agent] = field(default_factory=dict)  # pid -> agent
    logins: dict[str, Agent] = field(default_factory=dict)  # login name -> agent
    controller_id: str | None = None
