"""Domain state: accounts, consumers, agents, conversations, dialogs, participants, events.

Plain data. Who may change what, and when, lives in :mod:`mockle.core.engine`; how the
state looks on the wire lives in :mod:`mockle.core.render`.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from itertools import islice
from typing import Any

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

SEQUENCED_EVENTS = frozenset({"ContentEvent", "RichContentEvent", "AcceptStatusEvent"})

# Documented TTR names -> seconds (protocol.md §8; the default PRIORITIZED/600 is what the
# docs' notifications show for a conversation that asked for nothing).
TTR_SECONDS = {"PRIORITIZED": 600, "NORMAL": 3600, "URGENT": 300, "CUSTOM": 600}
DEFAULT_TTR = ("PRIORITIZED", 600)


@dataclass(slots=True)
class Participant:
    id: str
    role: str
    state: str = ACTIVE


@dataclass(slots=True)
class StoredEvent:
    """One published event. ``change`` is its v3 change item, shared by every recipient."""

    sequence: int | None
    originator_id: str
    role: str
    event_type: str
    server_ts: int
    change: dict[str, Any]
    conversation_id: str
    dialog_id: str
    audience: str = "ALL"


@dataclass(slots=True)
class Dialog:
    dialog_id: str
    dialog_type: str
    creation_ts: int
    meta_ts: int
    channel_type: str = "MESSAGING"
    state: str = OPEN
    participants: list[Participant] = field(default_factory=list)
    end_ts: int | None = None
    closed_by: str | None = None
    closed_cause: str | None = None
    # the sequenced events, by sequence: a window of the newest (--max-events-per-conversation)
    events: deque[StoredEvent] = field(default_factory=deque)
    meta_data: dict[str, Any] | None = None
    sequenced: int = 0  # events ever sequenced in this dialog (the next sequence)

    @property
    def next_sequence(self) -> int:
        return self.sequenced

    @property
    def first_sequence(self) -> int:
        """The sequence of the oldest event still kept."""
        return self.sequenced - len(self.events)

    def add(self, ev: StoredEvent) -> None:
        self.events.append(ev)  # a full window forgets its oldest event
        self.sequenced += 1

    def events_from(self, sequence: int) -> list[StoredEvent]:
        """The kept events from ``sequence`` on (what is left when it fell out of the window)."""
        skip = max(0, sequence - self.first_sequence)
        return list(islice(self.events, skip, None))


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
    participants: list[Participant] = field(default_factory=list)  # newest first
    dialogs: list[Dialog] = field(default_factory=list)
    campaign_info: dict[str, Any] | None = None
    context: dict[str, Any] | None = None
    csat: dict[str, Any] | None = None
    client_properties: dict[str, Any] | None = None
    features: frozenset[str] = frozenset()
    channel: str = "connector"  # which path opened it: "connector", "ums", "control"
    consumer_messages: int = 0
    # every event, chat states too: a window of the newest (--max-events-per-conversation)
    timeline: deque[StoredEvent] = field(default_factory=deque)
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

    def record(self, ev: StoredEvent) -> None:
        self.timeline.append(ev)
        self.timeline_total += 1

    def timeline_from(self, cursor: int) -> list[StoredEvent]:
        """The kept timeline events from position ``cursor`` (0: the first event ever)."""
        skip = max(0, cursor - (self.timeline_total - len(self.timeline)))
        return list(islice(self.timeline, skip, None))


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
    conversations: dict[str, Conversation] = field(default_factory=dict)
    dialogs: dict[str, Conversation] = field(default_factory=dict)  # dialog id -> conversation
    agents: dict[str, Agent] = field(default_factory=dict)  # pid -> agent
    logins: dict[str, Agent] = field(default_factory=dict)  # login name -> agent
    controller_id: str | None = None
