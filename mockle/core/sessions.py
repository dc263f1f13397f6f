"""A UMS socket's state, sans I/O: the session (a participant with a role), the subscriptions it
holds, and the connection helpers that read client properties from what the client sent.

A consumer socket and an agent socket are the same :class:`Session`: an account, a role, the
verified credential (a consumer token, or an agent's Login Service bearer), and subscriptions.
Only the request handlers differ (:mod:`mockle.core.consumer_requests`,
:mod:`mockle.core.agent_requests`); the indexes and the fan-out are shared
(:mod:`mockle.core.subscriptions`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from mockle.core.dialects import Dialect
from mockle.core.keyenum import KeyEnum
from mockle.core.model import CONSUMER, Conversation
from mockle.core.tokens import TokenInfo, TokenKind

CLIENT_PROPERTY_FIELDS = (
    "appId",
    "appVersion",
    "ipAddress",
    "deviceFamily",
    "os",
    "osVersion",
    "osName",
    "integration",
    "integrationVersion",
    "browser",
    "browserVersion",
    "timeZone",
    "deviceManufacture",
    "deviceModel",
    "features",
)


class SocketRole(KeyEnum):
    """Who is at the other end of a UMS socket."""

    CONSUMER = "consumer"  # /ws_api/account/{acc}/messaging/consumer
    AGENT = "agent"  # /ws_api/account/{acc}/messaging/brand/{bearer}


CONSUMER_ROLE, AGENT_ROLE = SocketRole.CONSUMER, SocketRole.AGENT  # for hot paths (keyenum.py)


# -- subscriptions ------------------------------------------------------------------------------


@dataclass(slots=True, eq=False)
class ExSubscription:
    """A ``SubscribeExConversations``: its filters and the conversations it currently lists.

    ``consumer`` scopes a consumer's subscription to its own conversations; ``participant`` an
    agent's to the conversations it takes part in and the queue (open conversations without an
    assigned agent, on one of ``queue_skills``; empty: every skill); a MANAGER's covers the
    account.
    ``agent_ids`` holds participant PIDs (legacy ids are resolved when the subscription is
    made)."""

    id: str
    dialect: Dialect
    consumer: str | None = None
    participant: str | None = None
    queue_skills: frozenset[str] = frozenset()
    conv_state: frozenset[str] | None = None
    stage: frozenset[str] | None = None
    agent_ids: frozenset[str] | None = None
    skill_ids: frozenset[str] | None = None
    brand_id: str | None = None
    consumer_id: str | None = None
    min_ts: int | None = None
    max_ts: int | None = None
    legacy: bool = False  # v2 ``.ams`` socket: participants as role maps (protocol.md §6.3)
    listed: set[str] = field(default_factory=set)

    def matches(self, conv: Conversation) -> bool:
        """Whether a change of ``conv`` belongs to this subscription (live filters)."""
        if self.consumer is not None and conv.consumer_id != self.consumer:
            return False
        if self.participant is not None and not self._own_or_queued(conv):
            return False
        if self.conv_state is not None and conv.state not in self.conv_state:
            return False
        if self.stage is not None and conv.stage not in self.stage:
            return False
        if self.brand_id is not None and self.brand_id != conv.account:
            return False
        if self.consumer_id is not None and self.consumer_id != conv.consumer_id:
            return False
        if self.skill_ids is not None and conv.skill_id not in self.skill_ids:
            return False
        if self.agent_ids is not None:
            agents = {p.id for p in conv.participants if p.role != CONSUMER}
            if not agents & self.agent_ids:
                return False
        return True

    def _own_or_queued(self, conv: Conversation) -> bool:
        assert self.participant is not None
        if conv.participant(self.participant) is not None:
            return True
        if not conv.is_open or conv.assigned_agent() is not None:
            return False
        skill = conv.skill_id
        return not self.queue_skills or skill in self.queue_skills or skill in ("-1", "")

    def in_snapshot(self, conv: Conversation) -> bool:
        """The first notification also honours the update-time window."""
        if self.min_ts is not None and conv.meta_ts < self.min_ts:
            return False
        if self.max_ts is not None and conv.meta_ts > self.max_ts:
            return False
        return self.matches(conv)


@dataclass(slots=True, eq=False)
class EventSubscription:
    """A ``SubscribeMessagingEvents`` on one dialog."""

    session: Session
    dialog_id: str
    dialect: Dialect
    single: bool  # v2 ``.ams`` socket: one ``.ams.ms.OnlineEventDistribution`` per event


# -- the session ------------------------------------------------------------------------------


@dataclass(slots=True, eq=False)
class Session:
    """One UMS socket: a participant of the account with a role."""

    id: str
    account: str
    role: SocketRole = SocketRole.CONSUMER
    version: str = "3"
    info: TokenInfo | None = None  # the verified consumer token, or the agent's bearer
    dialect: Dialect = Dialect.SHORT  # of the last request
    client_properties: dict[str, Any] | None = None
    closing: bool = False
    ex_subs: dict[str, ExSubscription] = field(default_factory=dict)
    event_subs: dict[str, EventSubscription] = field(default_factory=dict)  # by dialog id
    routing_sub: str | None = None  # the SubscribeRoutingTasks subscription id
    agent_state_subs: dict[str, str] = field(default_factory=dict)  # subscription id -> agent PID

    @property
    def authenticated(self) -> bool:
        return self.info is not None

    @property
    def is_agent(self) -> bool:
        return self.role is AGENT_ROLE

    @property
    def participant_id(self) -> str | None:
        """The consumer id, or the agent's PID, once authenticated."""
        return self.info.subject if self.info is not None else None

    @property
    def consumer_id(self) -> str | None:
        return self.participant_id if self.role is CONSUMER_ROLE else None

    @property
    def agent_id(self) -> str | None:
        return self.participant_id if self.role is AGENT_ROLE else None

    @property
    def token_kind(self) -> TokenKind | None:
        return self.info.kind if self.info is not None else None

    @property
    def expires_ms(self) -> int | None:
        """When the session's credential expires (ms epoch); ``None`` if it never does."""
        return self.info.expires_ms if self.info is not None else None

    @property
    def v2(self) -> bool:
        return self.version.startswith("2")


# -- connection helpers ------------------------------------------------------------------------


def client_properties_from_query(params: Iterable[tuple[str, str]]) -> dict[str, Any] | None:
    """Client properties given as query parameters (``?v=3&deviceFamily=MOBILE&os=IOS``).

    ``features`` may be repeated or comma separated; other names are ignored.
    """
    props: dict[str, Any] = {}
    features: list[str] = []
    for name, value in params:
        if name == "features":
            features.extend(f.strip() for f in value.split(",") if f.strip())
        elif name in CLIENT_PROPERTY_FIELDS:
            props[name] = value
    if features:
        props["features"] = features
    if not props:
        return None
    return {"type": ".ClientProperties", **props}


def merge_properties(
    base: dict[str, Any] | None, extra: dict[str, Any] | None
) -> dict[str, Any] | None:
    if not extra:
        return base
    if not base:
        return dict(extra)
    return {**base, **extra}
