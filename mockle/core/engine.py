"""The engine: the one state machine behind every path into mockle.

Invariants:

* Every method is synchronous and never awaits. Under asyncio each call runs to its end
  before anything else happens, so state changes are atomic and the sequence of a dialog is
  gap-free and ordered without locks.
* The engine owns the state (accounts, consumers, conversations, sequences). Adapters (REST,
  WebSocket, control API, simulated agent) call it and act on the :class:`Effects` it returns;
  they never change the state themselves.
* Who hears about a change is decided by :class:`Listener` objects (UMS subscriptions,
  webhooks, the simulated agent); they append what to deliver to the :class:`Effects` of the
  call. The engine validates everything before it changes anything: a failing call leaves
  the state untouched.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Iterator
from typing import Any

from mockle.core import errors, render, sealed
from mockle.core.apps import AppRegistry
from mockle.core.clock import Clock, Ids
from mockle.core.effects import Actor, CoreConfig, Effects, Later, Listener
from mockle.core.files import MAX_FILE_BYTES, PREFIX, FileStore
from mockle.core.model import (
    ASSIGNED_AGENT,
    CLOSE,
    CONSUMER,
    CONTROLLER,
    OPEN,
    SEQUENCED_EVENTS,
    SUGGESTED,
    Account,
    Agent,
    Consumer,
    Conversation,
    Dialog,
    Participant,
    StoredEvent,
    empty_window,
)
from mockle.core.payloads import (
    apply_request_fields,
    features_of,
    normalise_event,
    parse_client_properties,
)
from mockle.core.ratelimit import RateLimiter
from mockle.core.tokens import CONSUMER_JWS, TokenInfo, TokenService

__all__ = [
    "Actor",
    "CoreConfig",
    "Effects",
    "Engine",
    "Later",
    "Listener",
    "normalise_event",
    "parse_client_properties",
]

UPLOAD_FILE_TYPES = ("JPG", "JPEG", "PNG", "GIF")


class Engine:
    def __init__(
        self,
        config: CoreConfig | None = None,
        *,
        clock: Clock,
        ids: Ids,
        tokens: TokenService | None = None,
    ) -> None:
        self.config = config or CoreConfig()
        self.clock = clock
        self.ids = ids
        self.tokens = tokens or TokenService(clock, ids)
        self.apps = AppRegistry()
        self.accounts: dict[str, Account] = {}
        self.listeners: list[Listener] = []
        self.rate_limiter = RateLimiter(clock, self.config.rate_limit)
        self.files = FileStore(clock, ids.hex(20).encode(), self.config.file_url_ttl_s)
        # memory bounds: closed conversations oldest first, and the ids of forgotten ones
        self._closed: OrderedDict[tuple[str, str], None] = OrderedDict()
        self._evicted: OrderedDict[tuple[str, str], None] = OrderedDict()
        # closed conversations still kept as objects, oldest first (see _seal_old)
        self._unsealed: deque[tuple[str, str]] = deque()
        self.evictions = 0  # closed conversations forgotten since start

    # -- accounts and identities ------------------------------------------------------------

    def account(self, account_id: str) -> Account:
        acc = self.accounts.get(account_id)
        if acc is None:
            acc = self.accounts[account_id] = Account(account_id)
        return acc

    def consumer(self, info: TokenInfo) -> Consumer:
        """The consumer a verified consumer token names (created on first sight)."""
        acc = self.account(info.account)
        c = acc.consumers.get(info.subject)
        if c is None:
            kind = "connector" if info.kind is CONSUMER_JWS else "signup"
            c = acc.consumers[info.subject] = Consumer(
                info.account, info.subject, kind, info.ext_id
            )
        return c

    def agent(self, account_id: str, agent_id: str | None = None) -> Agent:
        """An agent of the account by PID or legacy id; a new one when ``agent_id`` is new."""
        acc = self.account(account_id)
        if agent_id is not None:
            found = acc.agents.get(agent_id)
            if found is not None:
                return found
            for a in acc.agents.values():
                if a.legacy_id == agent_id:
                    return a
        pid = agent_id or self.ids.uuid()
        user_id = self.ids.digits(10)
        if agent_id and "." in agent_id and agent_id.split(".", 1)[0] == account_id:
            pid, user_id = self.ids.uuid(), agent_id.split(".", 1)[1]
        a = acc.agents[pid] = Agent(account_id, pid, user_id)
        return a

    def find_agent(self, account_id: str, agent_id: str) -> Agent | None:
        """A known agent by PID or legacy ``<account>.<userId>`` id (never creates one)."""
        acc = self.accounts.get(account_id)
        if acc is None:
            return None
        found = acc.agents.get(agent_id)
        if found is not None:
            return found
        prefix, _, user_id = agent_id.partition(".")
        if prefix == account_id and user_id:
            for a in acc.agents.values():
                if a.user_id == user_id:
                    return a
        return None

    def controller_id(self, account_id: str) -> str:
        acc = self.account(account_id)
        if acc.controller_id is None:
            acc.controller_id = self.ids.uuid()
        return acc.controller_id

    # -- lookups -------------------------------------------------------------------------------

    def find(self, conv_id: str, account: str | None = None) -> Conversation | None:
        """A conversation by id, on ``account`` or on any account."""
        if account is not None:
            acc = self.accounts.get(account)
            if acc is None:
                return None
            conv = acc.conversations.get(conv_id)
            return self._thaw(acc, conv) if isinstance(conv, bytes) else conv
        for acc in self.accounts.values():
            conv = acc.conversations.get(conv_id)
            if conv is not None:
                return self._thaw(acc, conv) if isinstance(conv, bytes) else conv
        return None

    def conversation(self, account_id: str, conv_id: str) -> Conversation:
        acc = self.account(account_id)
        conv = acc.conversations.get(conv_id)
        if conv is None:
            raise self.missing(account_id, conv_id, "conversation")
        return self._thaw(acc, conv) if isinstance(conv, bytes) else conv

    def conversations(self, account: Account, *, closed: bool = True) -> Iterator[Conversation]:
        """The account's conversations (sealed closed ones as fresh copies, for reading; none
        of them without ``closed``, which saves building them when they cannot match)."""
        for conv in list(account.conversations.values()):
            if not isinstance(conv, bytes):
                if closed or conv.is_open:
                    yield conv
            elif closed:
                yield sealed.thaw(conv)

    # -- sealed closed conversations (core/sealed.py) ------------------------------------------

    def _thaw(self, acc: Account, packed: sealed.Sealed) -> Conversation:
        """A sealed conversation back as the one object every later request gets (sealed again
        once ``seal_closed_after`` more conversations have closed)."""
        conv = sealed.thaw(packed)
        acc.conversations[conv.conv_id] = conv
        for d in conv.dialogs:
            acc.dialogs[d.dialog_id] = conv
        self._unsealed.append((acc.account_id, conv.conv_id))
        return conv

    def _seal_old(self) -> None:
        """Seal the closed conversations beyond the newest ``seal_closed_after``: by then the
        call that closed each, and what it scheduled, is long done with its object."""
        while len(self._unsealed) > self.config.seal_closed_after:
            account_id, conv_id = self._unsealed.popleft()
            acc = self.accounts.get(account_id)
            conv = acc.conversations.get(conv_id) if acc is not None else None
            if acc is None or not isinstance(conv, Conversation) or conv.state != CLOSE:
                continue  # forgotten, reset, already sealed, or open again
            packed = sealed.seal(conv)
            if packed is None:
                continue  # holds what marshal cannot write: stays an object
            acc.conversations[conv_id] = packed
            for d in conv.dialogs:
                acc.dialogs[d.dialog_id] = packed

    def forgotten(self, conv_id: str, account_id: str | None = None) -> bool:
        """Whether a conversation was closed and forgotten (``max_closed_conversations``)."""
        if account_id is not None:
            return (account_id, conv_id) in self._evicted
        return any(key[1] == conv_id for key in self._evicted)

    def missing(
        self, account_id: str, conv_id: str, what: str, where: str | None = None
    ) -> errors.ConversationNotFound:
        """The not-found error for a conversation or dialog id, saying when mockle forgot it."""
        details = f"{what} {conv_id!r} does not exist"
        if (account_id, conv_id) in self._evicted:
            details += (
                " any more: it was closed and forgotten to bound memory "
                f"(--max-closed-conversations {self.config.max_closed_conversations})"
            )
        return errors.ConversationNotFound(details, where=where)

    def owned(self, actor: Actor, conv: Conversation) -> None:
        if actor.is_consumer and conv.consumer_id != actor.id:
            raise errors.Forbidden(
                f"conversation {conv.conv_id!r} belongs to another consumer", title="Unauthorized"
            )

    def dialog_of(self, actor: Actor, body: dict[str, Any]) -> tuple[Conversation, Dialog]:
        dialog_id = str(body["dialogId"])
        acc = self.account(actor.account)
        conv = acc.dialogs.get(dialog_id)
        if conv is None:
            raise self.missing(actor.account, dialog_id, "dialog", "$.body.dialogId")
        if isinstance(conv, bytes):
            conv = self._thaw(acc, conv)
        self.owned(actor, conv)
        conv_id = body.get("conversationId")
        if conv_id is not None and str(conv_id) != conv.conv_id:
            raise errors.RequestFailed(
                f"dialog {dialog_id!r} is not part of conversation {conv_id!r}",
                where="$.body.conversationId",
            )
        dialog = conv.dialog(dialog_id)
        assert dialog is not None
        return conv, dialog

    # -- notifications -------------------------------------------------------------------------

    def changed(self, conv: Conversation, fx: Effects) -> None:
        now = self.clock.now_ms()
        conv.meta_ts = max(now, conv.meta_ts)
        for listener in self.listeners:
            listener.on_conversation(conv, fx)

    # -- consumer operations -------------------------------------------------------------------

    def request_conversation(
        self,
        consumer: Consumer,
        body: dict[str, Any],
        fx: Effects,
        *,
        client_properties: dict[str, Any] | None = None,
        channel: str = "connector",
        agent_id: str | None = None,
    ) -> Conversation:
        """Open a conversation for ``consumer`` (``cm.ConsumerRequestConversation``); with
        ``agent_id`` that agent is its assigned agent from the start (an agent's proactive
        ``AgentRequestConversation``)."""
        if consumer.open_conversation is not None:
            raise errors.RequestFailed(
                "Consumer request conversation failed: User "
                f"{consumer.consumer_id} already has open conversation. Can't open another one.",
                hint=f"conversation {consumer.open_conversation} is still open for this "
                "consumer; close it (cm.UpdateConversationField, ConversationStateField CLOSE) "
                "before opening another",
            )
        now = self.clock.now_ms()
        conv_id = self.ids.uuid()
        window = empty_window(self.config.max_events_per_conversation)  # shared until used
        conv = Conversation(
            conv_id,
            consumer.account,
            consumer.consumer_id,
            now,
            now,
            channel=channel,
            timeline=window,
        )
        apply_request_fields(conv, body)
        conv.client_properties = client_properties
        features, more = (
            features_of(client_properties),
            features_of(body.get("conversationContext")),
        )
        conv.features = features | more if more else features  # none: the shared NO_FEATURES
        if client_properties and conv.context is not None:
            conv.context = {**conv.context, "clientProperties": client_properties}
        # one immutable tuple for the conversation and its dialog until either changes
        conv.participants = me = (Participant(consumer.consumer_id, CONSUMER),)
        conv.dialogs.append(Dialog(conv_id, "MAIN", now, now, participants=me, events=window))
        acc = self.account(consumer.account)
        acc.conversations[conv_id] = conv
        acc.dialogs[conv_id] = conv
        consumer.open_conversation = conv_id
        consumer.stored += 1
        if agent_id is not None:
            self.add_participant(conv, agent_id, ASSIGNED_AGENT)
        self.changed(conv, fx)
        return conv

    def publish(
        self,
        actor: Actor,
        body: dict[str, Any],
        fx: Effects,
        *,
        metadata: Any = None,
    ) -> int:
        """Publish ``body["event"]`` into ``body["dialogId"]``; the sequence (0 for chat states)."""
        conv, dialog = self.dialog_of(actor, body)
        if dialog.state == CLOSE:
            raise errors.conversation_closed(conv.conv_id, conv.close_reason)
        event = normalise_event(body["event"])
        audience = str(body.get("messageAudience") or "ALL")
        if actor.is_consumer:
            audience = "ALL"
        ev = self._append(
            conv,
            dialog,
            actor.id,
            actor.role,
            event,
            metadata,
            audience,
            actor.client_properties,
            fx,
        )
        if actor.is_consumer and ev.event_type in ("ContentEvent", "RichContentEvent"):
            conv.consumer_messages += 1
            if conv.consumer_messages == 1:
                self._auto_messages(conv, dialog, actor, fx)
        return ev.sequence if ev.sequence is not None else 0

    def _append(
        self,
        conv: Conversation,
        dialog: Dialog,
        originator: str,
        role: str,
        event: dict[str, Any],
        metadata: Any,
        audience: str,
        client_properties: dict[str, Any] | None,
        fx: Effects,
    ) -> StoredEvent:
        now = self.clock.now_ms()
        event_type = str(event.get("type"))
        seq = dialog.next_sequence if event_type in SEQUENCED_EVENTS else None
        change = render.change_item(
            sequence=seq,
            originator_id=originator,
            role=role,
            server_ts=now,
            event=event,
            conversation_id=conv.conv_id,
            dialog_id=dialog.dialog_id,
            metadata=metadata,
            audience=audience,
        )
        ev = StoredEvent.make(
            seq, originator, role, event_type, now, change, conv.conv_id, dialog.dialog_id, audience
        )
        if seq is not None:
            dialog.add(ev.record)
        conv.record(ev.record)
        for listener in self.listeners:
            listener.on_event(conv, dialog, ev, fx)
        return ev

    def _auto_messages(self, conv: Conversation, dialog: Dialog, actor: Actor, fx: Effects) -> None:
        """AUTO_MESSAGES (S4): the feature on CONVERSATION and on the first SEND, within 10 s."""
        if "AUTO_MESSAGES" not in conv.features or not self.config.auto_messages:
            return
        if "AUTO_MESSAGES" not in features_of(actor.client_properties):
            return
        if self.clock.now_ms() - conv.start_ts > self.config.auto_messages_window_ms:
            return
        controller = self.controller_id(conv.account)
        if conv.participant(controller) is None:
            conv.participants = (Participant(controller, CONTROLLER), *conv.participants)
            dialog.participants = (*dialog.participants, Participant(controller, CONTROLLER))
            self.changed(conv, fx)
        for text in self.config.auto_messages:
            event = {"type": "ContentEvent", "message": text, "contentType": "text/plain"}
            self._append(conv, dialog, controller, CONTROLLER, event, None, "ALL", None, fx)

    # -- participants, skills, closing (the primitives fields.py and the agent side use) ------

    def add_participant(self, conv: Conversation, pid: str, role: str) -> None:
        """``pid`` joins as ``role`` (a suggestion for it becomes an active participant)."""
        if conv.participant(pid) is None:
            conv.participants = (Participant(pid, role), *conv.participants)
        now = self.clock.now_ms()
        for d in conv.dialogs:
            if d.state != OPEN:
                continue
            kept = tuple([p for p in d.participants if p.id != pid or p.state != SUGGESTED])
            if all(p.id != pid for p in kept):
                kept = (*kept, Participant(pid, role))
                d.meta_ts = now
            d.participants = kept

    def remove_participant(self, conv: Conversation, pid: str) -> None:
        conv.participants = tuple([p for p in conv.participants if p.id != pid])
        for d in conv.dialogs:
            d.participants = tuple([p for p in d.participants if p.id != pid])

    def suggest_agent(self, conv: Conversation, pid: str) -> None:
        """A transfer to an agent: the assigned agent leaves, and ``pid`` is the SUGGESTED
        assigned agent of the open dialogs until it accepts its ring (node-agent-sdk README,
        "Transfer to Agent"): it shows in ``participantsDetails`` only."""
        current = conv.assigned_agent()
        if current is not None:
            self.remove_participant(conv, current)
        for d in conv.dialogs:
            if d.state == OPEN:
                kept = [p for p in d.participants if p.state != SUGGESTED]
                d.participants = (*kept, Participant(pid, ASSIGNED_AGENT, SUGGESTED))
                d.meta_ts = self.clock.now_ms()

    def move_to_skill(self, conv: Conversation, skill: str) -> None:
        """Back to the queue of ``skill``: the assigned agent leaves."""
        conv.skill_id = skill
        agent = conv.assigned_agent()
        if agent is not None:
            self.remove_participant(conv, agent)

    def close_now(self, conv: Conversation, by: str, cause: str | None) -> None:
        """Close every open dialog and the conversation (listeners hear it from the caller)."""
        now = self.clock.now_ms()
        for d in conv.dialogs:
            if d.state == OPEN:
                d.state, d.end_ts, d.meta_ts = CLOSE, now, now
                d.closed_by = by if by in ("CONSUMER", "AGENT") else None
                d.closed_cause = cause
        conv.state = conv.stage = CLOSE
        conv.close_reason = by
        conv.end_ts = now
        consumer = self.account(conv.account).consumers.get(conv.consumer_id)
        if consumer is not None and consumer.open_conversation == conv.conv_id:
            consumer.open_conversation = None
        self._closed[(conv.account, conv.conv_id)] = None
        while len(self._closed) > self.config.max_closed_conversations:
            (account_id, old_id), _ = self._closed.popitem(last=False)
            self._evict(account_id, old_id)
        self._unsealed.append((conv.account, conv.conv_id))
        self._seal_old()

    def _evict(self, account_id: str, conv_id: str) -> None:
        """Forget a closed conversation (its consumer too, when nothing else holds it); a later
        request for it gets the not-found answer, saying why."""
        acc = self.accounts.get(account_id)
        conv = acc.conversations.pop(conv_id, None) if acc is not None else None
        if acc is None or conv is None:
            return
        if isinstance(conv, bytes):
            conv = sealed.thaw(conv)  # what the listeners are told about
        for d in conv.dialogs:
            acc.dialogs.pop(d.dialog_id, None)
        consumer = acc.consumers.get(conv.consumer_id)
        if consumer is not None:
            consumer.stored -= 1
            if consumer.stored <= 0 and consumer.open_conversation is None:
                del acc.consumers[conv.consumer_id]
        self._evicted[(account_id, conv_id)] = None
        if len(self._evicted) > self.config.max_closed_conversations:
            self._evicted.popitem(last=False)
        self.evictions += 1
        for listener in self.listeners:
            listener.on_evicted(conv)

    def stats(self) -> dict[str, int]:
        """What the state holds now (the counts ``GET /_mockle/stats`` reports)."""
        conversations = open_ = events = consumers = 0
        for acc in self.accounts.values():
            conversations += len(acc.conversations)
            consumers += len(acc.consumers)
            for conv in acc.conversations.values():
                if isinstance(conv, bytes):  # sealed: closed
                    events += sealed.timeline_len(conv)
                else:
                    open_ += conv.is_open
                    events += len(conv.timeline)
        return {
            "accounts": len(self.accounts),
            "conversations": conversations,
            "openConversations": open_,
            "closedConversations": conversations - open_,
            "storedEvents": events,
            "consumers": consumers,
            "evictedConversations": self.evictions,
            "maxClosedConversations": self.config.max_closed_conversations,
            "maxEventsPerConversation": self.config.max_events_per_conversation,
        }

    def set_user_profile(self, consumer: Consumer, body: dict[str, Any]) -> str:
        consumer.profile.update(body)
        return "OK User Profile set successfully"

    # -- files ---------------------------------------------------------------------------------

    def upload_url(self, account_id: str, body: dict[str, Any]) -> dict[str, Any]:
        file_type = str(body["fileType"]).upper()
        if file_type not in UPLOAD_FILE_TYPES:
            raise errors.InvalidRequest(
                f"fileType {body['fileType']!r} is not supported "
                f"(supported: {', '.join(UPLOAD_FILE_TYPES)})",
                where="$.body.fileType",
            )
        size = int(body["fileSize"])
        if size > MAX_FILE_BYTES:
            raise errors.InvalidRequest(
                f"fileSize {size} exceeds the 3 MB limit ({MAX_FILE_BYTES} bytes)",
                where="$.body.fileSize",
            )
        path = f"{PREFIX}{account_id}/{self.ids.uuid()}.{file_type}"
        return {"relativePath": path, "queryParams": self.files.params(path)}

    def download_url(self, account_id: str, body: dict[str, Any]) -> dict[str, Any]:
        path = str(body["relativePath"])
        if not path.startswith(f"{PREFIX}{account_id}/"):
            raise errors.InvalidRequest(
                f"relativePath {path!r} is not a file of account {account_id}",
                where="$.body.relativePath",
            )
        return {"relativePath": path, "queryParams": self.files.params(path)}

    # -- agent and system side -----------------------------------------------------------------

    def join_agent(self, conv: Conversation, fx: Effects, agent_id: str | None = None) -> Agent:
        """Make an agent the conversation's ASSIGNED_AGENT (replacing a previous one)."""
        if not conv.is_open:
            raise errors.conversation_closed(conv.conv_id, conv.close_reason)
        agent = self.agent(conv.account, agent_id)
        current = conv.assigned_agent()
        if current == agent.pid:
            return agent
        if current is not None:
            self.remove_participant(conv, current)
        self.add_participant(conv, agent.pid, ASSIGNED_AGENT)
        self.changed(conv, fx)
        return agent

    def agent_publish(
        self,
        conv: Conversation,
        event: dict[str, Any],
        fx: Effects,
        *,
        agent_id: str | None = None,
        metadata: Any = None,
        audience: str = "ALL",
    ) -> int:
        """Publish as the conversation's agent (joining one first if none is assigned)."""
        pid = conv.assigned_agent()
        if pid is None or (agent_id is not None and self.agent(conv.account, agent_id).pid != pid):
            pid = self.join_agent(conv, fx, agent_id).pid
        actor = Actor(conv.account, pid, ASSIGNED_AGENT)
        body = {
            "dialogId": self._open_dialog(conv).dialog_id,
            "event": event,
            "messageAudience": audience,
        }
        return self.publish(actor, body, fx, metadata=metadata)

    def _open_dialog(self, conv: Conversation) -> Dialog:
        for d in reversed(conv.dialogs):
            if d.state == OPEN:
                return d
        raise errors.conversation_closed(conv.conv_id, conv.close_reason)

    def close(self, conv: Conversation, by: str, fx: Effects) -> None:
        """Close a conversation as ``CONSUMER``, ``AGENT`` or ``SYSTEM``."""
        if not conv.is_open:
            raise errors.conversation_closed(conv.conv_id, conv.close_reason)
        self.close_now(conv, by, None)
        self.changed(conv, fx)

    def transfer(self, conv: Conversation, skill: str, fx: Effects) -> None:
        self.move_to_skill(conv, skill)
        self.changed(conv, fx)

    def expire_tokens(self, account: str, subject: str | None, fx: Effects) -> int:
        """Revoke every token issued on ``account`` (or to one consumer or agent of it)."""
        infos = self.tokens.expire(account, subject)
        self.revoke(account, infos, fx)
        return len(infos)

    def revoke(self, account: str, infos: list[TokenInfo], fx: Effects) -> None:
        """These tokens stop working now; listeners close what used them (4401 / 4407)."""
        for info in infos:
            info.revoked = True
        for listener in self.listeners:
            listener.on_tokens_expired(account, infos, fx)

    def reset(self, account: str | None = None) -> None:
        if account is None:
            self.accounts.clear()
            self._closed.clear()
            self._evicted.clear()
            self._unsealed.clear()
        else:
            self.accounts.pop(account, None)
            for index in (self._closed, self._evicted):
                for key in [k for k in index if k[0] == account]:
                    del index[key]
        self.apps.reset(account)
        self.tokens.forget_account(account)
        self.rate_limiter.reset(account)
        self.files.reset(account)
        for listener in self.listeners:
            listener.on_reset(account)
