"""A consumer socket's state, sans I/O: the session, its subscriptions, and the connection
helpers that read a token and client properties from what the client sent.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from mockle.core.dialects import Dialect
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


# -- sessions and subscriptions ----------------------------------------------------------------


@dataclass(slots=True, eq=False)
class ExSubscription:
    """A ``SubscribeExConversations``: its filters and the conversations it currently lists."""

    id: str
    dialect: Dialect
    conv_state: frozenset[str] | None = None
    stage: frozenset[str] | None = None
    agent_ids: frozenset[str] | None = None
    brand_id: str | None = None
    consumer_id: str | None = None
    min_ts: int | None = None
    max_ts: int | None = None
    legacy: bool = False  # v2 ``.ams`` socket: participants as role maps (protocol.md §6.3)
    listed: set[str] = field(default_factory=set)

    def matches(self, conv: Conversation) -> bool:
        """Whether a change of ``conv`` belongs to this subscription (live filters)."""
        if self.conv_state is not None and conv.state not in self.conv_state:
            return False
        if self.stage is not None and conv.stage not in self.stage:
            return False
        if self.brand_id is not None and self.brand_id != conv.account:
            return False
        if self.consumer_id is not None and self.consumer_id != conv.consumer_id:
            return False
        if self.agent_ids is not None:
            agents = {p.id for p in conv.participants if p.role != CONSUMER}
            if not agents & self.agent_ids:
                return False
        return True

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

    session: UmsSession
    dialog_id: str
    dialect: Dialect
    single: bool  # v2 ``.ams`` socket: one ``.ams.ms.OnlineEventDistribution`` per event


@dataclass(slots=True, eq=False)
class UmsSession:
    """One consumer socket."""

    id: str
    account: str
    version: str = "3"
    info: TokenInfo | None = None
    dialect: Dialect = Dialect.SHORT  # of the last request
    client_properties: dict[str, Any] | None = None
    closing: bool = False
    ex_subs: dict[str, ExSubscription] = field(default_factory=dict)
    event_subs: dict[str, EventSubscription] = field(default_factory=dict)  # by dialog id

    @property
    def authenticated(self) -> bool:
        return self.info is not None

    @property
    def consumer_id(self) -> str | None:
        return self.info.subject if self.info is not None else None

    @property
    def token_kind(self) -> TokenKind | None:
        return self.info.kind if self.info is not None else None

    @property
    def expires_ms(self) -> int | None:
        """When the session's token expires (ms epoch); ``None`` if it never does."""
        return self.info.expires_ms if self.info is not None else None

    @property
    def v2(self) -> bool:
        return self.version.startswith("2")


# -- connection helpers ------------------------------------------------------------------------


def token_from_authorization(value: str | None) -> str | None:
    """The token of an ``Authorization`` header: ``jwt <t>``, ``Bearer <t>`` or bare ``<t>``."""
    if value is None:
        return None
    value = value.strip()
    head = value[:7].lower()
    if head.startswith("jwt "):
        value = value[4:].strip()
    elif head == "bearer ":
        value = value[7:].strip()
    return value or None


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
