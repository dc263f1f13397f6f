"""Who hears what on the UMS sockets: the indexes and the single fan-out, for both roles.

One :class:`Subscriptions` holds every socket session of every account, indexed by participant
(a consumer's id, an agent's PID), and every subscription those sessions made. As an engine
:class:`~mockle.core.effects.Listener` it turns each change into frames for the sockets that
should see it, whichever path caused the change (a socket, the Connector API, the control API,
the simulated agent, routing):

* a published event reaches the ``SubscribeMessagingEvents`` subscriptions of its dialog, and
  every agent taking part in the conversation (``.ams.ms.OnlineEventDistribution``, as LiveEngage
  pushes events to participating agents without a subscription);
* a conversation change reaches the ``SubscribeExConversations`` subscriptions it matches, as an
  UPSERT, or a DELETE when it leaves a subscription that listed it: a consumer's subscriptions
  see its own conversations, an agent's the account's;
* routing tasks and agent states are indexed here too; :mod:`mockle.core.routing` renders them.

Ordering: the engine is synchronous, so a subscription's history snapshot and its registration
happen in one call; no event falls between history and live, and none is delivered twice.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from mockle.core import dialects, frames, render
from mockle.core.dialects import Dialect
from mockle.core.effects import Effects, Listener
from mockle.core.engine import Engine
from mockle.core.model import CLOSE, CONSUMER, Conversation, Dialog, StoredEvent
from mockle.core.sessions import EventSubscription, ExSubscription, Session

MAX_SNAPSHOT = 1000  # conversations in the first notification of a subscription

Key = tuple[str, str]  # (account, id)


def _add(index: dict[Any, dict[str, Any]], key: Any, session_id: str, value: Any) -> None:
    index.setdefault(key, {})[session_id] = value


def _discard(index: dict[Any, dict[str, Any]], key: Any, session_id: str) -> None:
    found = index.get(key)
    if found is not None:
        found.pop(session_id, None)
        if not found:
            del index[key]


class Subscriptions(Listener):
    """Every socket session and subscription, and the fan-out from engine changes to frames."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.sessions: dict[str, Session] = {}
        self._participants: dict[Key, dict[str, Session]] = {}  # consumer id / agent PID
        self._watchers: dict[str, dict[str, Session]] = {}  # account -> agents with ex subs
        self._by_dialog: dict[Key, dict[str, EventSubscription]] = {}
        self._routing: dict[Key, dict[str, Session]] = {}  # (account, PID) -> routing subs
        self._agent_state: dict[Key, dict[str, Session]] = {}  # (account, PID) -> watchers

    # -- sessions -------------------------------------------------------------------------------

    def add(self, session: Session) -> None:
        self.sessions[session.id] = session

    def attach(self, session: Session) -> None:
        """The session is authenticated: index it under its participant."""
        pid = session.participant_id
        if pid is not None:
            _add(self._participants, (session.account, pid), session.id, session)

    def detach(self, session: Session) -> None:
        """The socket is gone: forget the session and everything it subscribed to."""
        self.sessions.pop(session.id, None)
        self.drop(session)
        pid = session.participant_id
        if pid is not None:
            _discard(self._participants, (session.account, pid), session.id)

    def sizes(self) -> dict[str, int]:
        """How many keys each index holds (every index is empty once every socket closed)."""
        return {
            "sessions": len(self.sessions),
            "participants": len(self._participants),
            "conversation_watchers": len(self._watchers),
            "dialogs": len(self._by_dialog),
            "routing": len(self._routing),
            "agent_states": len(self._agent_state),
        }

    def of(self, account: str, participant: str) -> list[Session]:
        """The live sessions of a consumer or an agent."""
        return list(self._participants.get((account, participant), {}).values())

    def drop(self, session: Session) -> None:
        """Forget every subscription of ``session`` (the socket stays open)."""
        session.ex_subs.clear()
        _discard(self._watchers, session.account, session.id)
        for sub in session.event_subs.values():
            _discard(self._by_dialog, (session.account, sub.dialog_id), session.id)
        session.event_subs.clear()
        pid = session.agent_id
        if session.routing_sub is not None and pid is not None:
            _discard(self._routing, (session.account, pid), session.id)
        session.routing_sub = None
        for watched in session.agent_state_subs.values():
            _discard(self._agent_state, (session.account, watched), session.id)
        session.agent_state_subs.clear()

    def on_reset(self, account: str | None) -> None:
        """The state is gone: subscriptions to it are dropped (the sockets stay open)."""
        for session in self.sessions.values():
            if account is None or session.account == account:
                self.drop(session)

    # -- messaging events -------------------------------------------------------------------

    def subscribe_events(
        self, session: Session, dialog: Dialog, from_seq: int, dialect: Dialect, fx: Effects
    ) -> None:
        """``SubscribeMessagingEvents``: the history from ``from_seq`` now, then live events."""
        single = session.v2 and dialect is Dialect.AMS
        sub = EventSubscription(session, dialog.dialog_id, dialect, single)
        session.event_subs[dialog.dialog_id] = sub
        _add(self._by_dialog, (session.account, dialog.dialog_id), session.id, sub)
        history = [ev for ev in dialog.events_from(from_seq) if self.sees(session, ev)]
        if single:
            for ev in history:
                fx.frames.append((session.id, self._online(session, ev)))
        else:
            fx.frames.append((session.id, frames.messaging(history, dialect)))

    def history(self, session: Session, dialog: Dialog, from_seq: int) -> list[Any]:
        """``QueryMessages``: the dialog's events from ``from_seq`` as OnlineEventDistribution
        bodies (``originatorPId``; agents by legacy id on agent sockets), as JSON fragments."""
        return [
            frames.online_body(ev, self._legacy_originator(session, ev))
            for ev in dialog.events_from(from_seq)
            if self.sees(session, ev)
        ]

    @staticmethod
    def sees(session: Session, ev: StoredEvent) -> bool:
        """Consumers see events for everyone; agents also those for agents and managers."""
        return ev.audience == "ALL" or session.is_agent

    def _online(self, session: Session, ev: StoredEvent) -> dict[str, Any]:
        return frames.online_event(ev, self._legacy_originator(session, ev))

    def _legacy_originator(self, session: Session, ev: StoredEvent) -> str | None:
        if not session.is_agent or ev.role == CONSUMER:
            return None
        agent = self.engine.account(session.account).agents.get(ev.originator_id)
        return agent.legacy_id if agent is not None else None

    def on_event(self, conv: Conversation, dialog: Dialog, ev: StoredEvent, fx: Effects) -> None:
        subs = self._by_dialog.get((conv.account, dialog.dialog_id))
        if subs:
            self._to_event_subs(subs, ev, fx)
        for p in conv.participants:
            if p.role == CONSUMER:
                continue
            for session in self._participants.get((conv.account, p.id), {}).values():
                if dialog.dialog_id not in session.event_subs:
                    fx.frames.append((session.id, self._online(session, ev)))

    def _to_event_subs(
        self, subs: dict[str, EventSubscription], ev: StoredEvent, fx: Effects
    ) -> None:
        shared: dict[tuple[Dialect, bool, bool], dict[str, Any]] = {}  # one per shape
        for sub in subs.values():
            session = sub.session
            if not self.sees(session, ev):
                continue
            key = (sub.dialect, sub.single, session.is_agent)
            out = shared.get(key)
            if out is None:
                if sub.single:
                    out = self._online(session, ev)
                else:
                    out = frames.messaging([ev], sub.dialect)
                shared[key] = out
            fx.frames.append((session.id, out))

    # -- conversation metadata ----------------------------------------------------------------

    def subscribe_conversations(self, session: Session, sub: ExSubscription, fx: Effects) -> None:
        """``SubscribeExConversations``: the matching conversations now, then their changes."""
        session.ex_subs[sub.id] = sub
        if session.is_agent:
            _add(self._watchers, session.account, session.id, session)
        acc = self.engine.account(session.account)
        closed = sub.conv_state is None or CLOSE in sub.conv_state  # sealed ones are CLOSE
        found = [c for c in self.engine.conversations(acc, closed=closed) if sub.in_snapshot(c)]
        found.sort(key=lambda c: c.start_ts)
        listed = found[:MAX_SNAPSHOT]
        changes = [{"type": "UPSERT", "result": self.result(c, sub.legacy)} for c in listed]
        sub.listed.update(c.conv_id for c in listed)
        type_name = dialects.CONVERSATION_NOTIFICATION[sub.dialect]
        fx.frames.append((session.id, render.notification(type_name, changes, sub.id)))

    def unsubscribe_conversations(self, session: Session, sub_id: str) -> bool:
        if session.ex_subs.pop(sub_id, None) is None:
            return False
        if not session.ex_subs:
            _discard(self._watchers, session.account, session.id)
        return True

    def result(self, conv: Conversation, legacy: bool) -> dict[str, Any]:
        """A conversation as an ExConversationChangeNotification ``result`` (v3 or v2 shape)."""
        if not legacy:
            return render.conversation_result(conv)
        return render.conversation_result_v2(conv, self.legacy_ids(conv.account))

    def legacy_ids(self, account: str) -> Callable[[str], str]:
        """PID -> the legacy ``<account>.<userId>`` id for agents (others unchanged)."""
        agents = self.engine.account(account).agents

        def legacy(pid: str) -> str:
            agent = agents.get(pid)
            return agent.legacy_id if agent is not None else pid

        return legacy

    def on_conversation(self, conv: Conversation, fx: Effects) -> None:
        mine = self._participants.get((conv.account, conv.consumer_id))
        watchers = self._watchers.get(conv.account)
        if not mine and not watchers:
            return
        results: dict[bool, dict[str, Any]] = {}  # rendered once per shape
        for group in (mine, watchers):
            for session in (group or {}).values():
                for sub in session.ex_subs.values():
                    self._conversation_change(session, sub, conv, results, fx)

    def _conversation_change(
        self,
        session: Session,
        sub: ExSubscription,
        conv: Conversation,
        results: dict[bool, dict[str, Any]],
        fx: Effects,
    ) -> None:
        if sub.matches(conv):
            sub.listed.add(conv.conv_id)
            change_type = "UPSERT"
        elif conv.conv_id in sub.listed:
            sub.listed.discard(conv.conv_id)
            change_type = "DELETE"
        else:
            return
        result = results.get(sub.legacy)
        if result is None:
            result = results[sub.legacy] = self.result(conv, sub.legacy)
        type_name = dialects.CONVERSATION_NOTIFICATION[sub.dialect]
        change = {"type": change_type, "result": result}
        fx.frames.append((session.id, render.notification(type_name, [change], sub.id)))

    # -- routing tasks and agent states (rendered by mockle.core.routing) -----------------------

    def subscribe_routing(self, session: Session, sub_id: str) -> None:
        pid = session.agent_id
        assert pid is not None
        session.routing_sub = sub_id
        _add(self._routing, (session.account, pid), session.id, session)

    def routing_sessions(self, account: str, pid: str) -> list[Session]:
        """The agent's sessions subscribed to routing tasks."""
        return list(self._routing.get((account, pid), {}).values())

    def routable(self, account: str) -> list[str]:
        """PIDs of the account's agents with a live routing subscription (oldest first)."""
        return [pid for (acc, pid) in self._routing if acc == account]

    def subscribe_agent_state(self, session: Session, sub_id: str, pid: str) -> None:
        session.agent_state_subs[sub_id] = pid
        _add(self._agent_state, (session.account, pid), session.id, session)

    def agent_state_sessions(self, account: str, pid: str) -> list[tuple[Session, str]]:
        """(session, subscription id) of every subscription to the agent's state."""
        out = []
        for session in self._agent_state.get((account, pid), {}).values():
            for sub_id, watched in session.agent_state_subs.items():
                if watched == pid:
                    out.append((session, sub_id))
        return out
