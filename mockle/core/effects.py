"""The engine's contract: its configuration, what a call asks the transport to do
(:class:`Effects`, :class:`Later`), who asks (:class:`Actor`), and who hears (:class:`Listener`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from mockle.core.model import CONSUMER, Agent, Conversation, Dialog, StoredEvent
from mockle.core.tokens import TokenInfo

if TYPE_CHECKING:
    from mockle.core.agent_script import AgentScript


@dataclass(slots=True)
class CoreConfig:
    app_jwt_ttl: int = 3600
    consumer_jws_ttl: int = 0  # 0: never expires (documented)
    signup_jwt_ttl: int = 86400
    strict_apps: bool = False
    auto_messages: tuple[str, ...] = ("Welcome! An agent will be with you shortly.",)
    auto_messages_window_ms: int = 10_000
    file_url_ttl_s: int = 60
    rate_limit: float | None = None
    ws_auth_timeout_s: float = 5.0
    webhook_signature: Literal["sha1", "sha256"] = "sha1"
    agent_mode: str = "echo"  # the simulated agent: "echo" or "manual"
    agent_delay_ms: int = 200
    agent_script: AgentScript | None = None
    agent_definitions: tuple[Any, ...] = ()  # --agents FILE: re-applied after each reset
    strict_agents: bool = False
    agent_session_ttl_s: int = 28_800  # the Login Service's sessionTTl (8 h)
    ring_timeout_ms: int = 60_000
    max_closed_conversations: int = 100_000  # older closed conversations are forgotten
    max_events_per_conversation: int = 10_000  # a window of the newest events per conversation
    # closed conversations are sealed (kept as untracked tuples, core/sealed.py) once this many
    # later conversations have closed; a request for one thaws it
    seal_closed_after: int = 1_000


@dataclass(slots=True)
class Later:
    """An action the transport runs after ``delay_ms`` (e.g. a simulated agent's reply)."""

    delay_ms: int
    action: Callable[[Effects], None]


@dataclass(slots=True)
class Effects:
    """What one engine call asks the transport to do."""

    frames: list[tuple[str, dict[str, Any]]] = field(default_factory=list)  # (session, frame)
    webhooks: list[Any] = field(default_factory=list)  # webhook jobs (core.webhooks)
    later: list[Later] = field(default_factory=list)
    closes: list[tuple[str, int, str]] = field(default_factory=list)  # (session, code, reason)

    def merge(self, other: Effects) -> None:
        """Append what ``other`` asks for after what this one asks for."""
        self.frames.extend(other.frames)
        self.webhooks.extend(other.webhooks)
        self.later.extend(other.later)
        self.closes.extend(other.closes)


@dataclass(frozen=True, slots=True)
class Actor:
    """Who asks: a consumer, an agent, or the system (control API).

    ``role`` is the role its events carry (CONSUMER, ASSIGNED_AGENT, MANAGER, ...). ``agent`` is
    set when a logged-in agent acts: the engine then checks its rights (it takes part in the
    conversation, or is a MANAGER); without it (the control API, the simulated agent) the
    actor is trusted."""

    account: str
    id: str
    role: str
    client_properties: dict[str, Any] | None = None
    agent: Agent | None = None

    @property
    def is_consumer(self) -> bool:
        return self.role == CONSUMER


class Listener:
    """Hears every change of the state; subclasses override what they care about."""

    def on_conversation(self, conv: Conversation, fx: Effects) -> None:
        """A conversation was created or changed (participants, state, fields)."""

    def on_event(self, conv: Conversation, dialog: Dialog, ev: StoredEvent, fx: Effects) -> None:
        """An event was published into ``dialog``."""

    def on_tokens_expired(self, account: str, infos: list[TokenInfo], fx: Effects) -> None:
        """Tokens were revoked through the control API."""

    def on_reset(self, account: str | None) -> None:
        """State was wiped (one account, or everything)."""

    def on_evicted(self, conv: Conversation) -> None:
        """A closed conversation was forgotten (``max_closed_conversations``)."""
