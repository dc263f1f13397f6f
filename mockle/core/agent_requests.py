"""The requests of an agent socket (``/ws_api/account/{acc}/messaging/brand/{bearer}``), sans I/O.

Every request LivePerson's agent SDK (node-agent-sdk 1.2.0) can send, in the ``.ams`` dialect
(protocol.md §9.3, agent-sdk.md §5): availability, routing tasks and rings (through
:mod:`mockle.core.routing`), conversation metadata for the account, messages, conversation
fields, proactive conversations and profiles. The socket's participant is the logged-in agent
(its PID); the SDK names it by its legacy id ``<account>.<userId>`` in bodies, and either id is
accepted wherever an agent is named.

An agent sees and reads the conversations it takes part in, the queue of its skills (open
conversations no agent has) and what it is being rung for; a MANAGER sees and reads every
conversation of its account. Another agent's conversation is out of an AGENT's reach. It publishes
into a conversation it takes part in (not as a READER); a MANAGER joins first (ParticipantsChange
ADD) and may change or close any conversation of its account. Nothing of another account is
reachable. Anything else is a 4xx ``resp``.
"""

from __future__ import annotations

from typing import Any

from mockle.core import errors, fields
from mockle.core.consumer_requests import (
    as_set,
    consumer_profile,
    ex_subscription,
    from_sequence,
)
from mockle.core.dialects import Op
from mockle.core.effects import Actor, Effects
from mockle.core.engine import Engine
from mockle.core.model import ASSIGNED_AGENT, OPEN, READER, Agent, Conversation, Dialog
from mockle.core.requests import Request
from mockle.core.routing import Routing
from mockle.core.sessions import Session
from mockle.core.subscriptions import Subscriptions
from mockle.core.ums import Handler

AGENT_STATE_OK = "Agent state updated successfully"
RING_STATE_OK = "Ring state updated successfully"
UNSUBSCRIBE_OK = "OK"
DEFAULT_AGENT_CONV_STATE = frozenset({OPEN})


class AgentRequests:
    """The handler table of agent sockets."""

    def __init__(self, engine: Engine, subscriptions: Subscriptions, routing: Routing) -> None:
        self.engine = engine
        self.subs = subscriptions
        self.routing = routing

    def table(self) -> dict[Op, Handler]:
        return {
            Op.SET_AGENT_STATE: self.set_agent_state,
            Op.SUBSCRIBE_AGENTS_STATE: self.subscribe_agents_state,
            Op.SUBSCRIBE_ROUTING_TASKS: self.subscribe_routing_tasks,
            Op.UPDATE_ROUTING_TASK_SUBSCRIPTION: self.subscribe_routing_tasks,
            Op.UPDATE_RING_STATE: self.update_ring_state,
            Op.SUBSCRIBE_EX_CONVERSATIONS: self.subscribe_conversations,
            Op.UNSUBSCRIBE_EX_CONVERSATIONS: self.unsubscribe_conversations,
            Op.SUBSCRIBE_MESSAGING_EVENTS: self.subscribe_events,
            Op.QUERY_MESSAGES: self.query_messages,
            Op.PUBLISH_EVENT: self.publish,
            Op.UPDATE_CONVERSATION_FIELD: self.update_fields,
            Op.AGENT_REQUEST_CONVERSATION: self.request_conversation,
            Op.GET_USER_PROFILE: self.get_user_profile,
        }

    # -- who ----------------------------------------------------------------------------------

    def agent(self, session: Session) -> Agent:
        pid = session.agent_id
        agent = self.engine.find_agent(session.account, pid) if pid is not None else None
        if agent is None:
            raise errors.AuthError(
                "the agent of this socket is gone (the account was reset): log in again"
            )
        return agent

    def _actor(self, session: Session, conv: Conversation | None = None) -> Actor:
        agent = self.agent(session)
        role = ASSIGNED_AGENT
        if conv is not None:
            me = conv.participant(agent.pid)
            if me is not None:
                role = me.role
        return Actor(session.account, agent.pid, role, agent=agent)

    def _self(self, session: Session, named: Any, where: str) -> Agent:
        """The caller, checking that an agent id the body names (if any) is the caller's."""
        agent = self.agent(session)
        if named in (None, "", agent.legacy_id, agent.pid):
            return agent
        raise errors.Forbidden(
            f"{named!r} is not this socket's agent ({agent.legacy_id}); an agent acts for itself",
            where=where,
            title="Forbidden",
        )

    # -- availability and routing -------------------------------------------------------------

    def set_agent_state(self, session: Session, req: Request, fx: Effects) -> str:
        agent = self._self(session, req.body.get("agentUserId"), "$.body.agentUserId")
        self.routing.set_availability(agent, str(req.body["availability"]), fx)
        return AGENT_STATE_OK

    def subscribe_agents_state(self, session: Session, req: Request, fx: Effects) -> dict[str, Any]:
        named = req.body.get("agentId")
        agent = self.agent(session)
        if named not in (None, ""):
            found = self.engine.find_agent(session.account, str(named))
            if found is None:
                raise errors.RequestFailed(
                    f"Agent does not exist: no agent {named!r} on account {session.account}",
                    where="$.body.agentId",
                )
            agent = found
        sub_id = self.engine.ids.uuid()
        self.routing.subscribe_state(session, sub_id, agent, req.dialect, fx)
        return {"subscriptionId": sub_id}

    def subscribe_routing_tasks(
        self, session: Session, req: Request, fx: Effects
    ) -> dict[str, Any]:
        self._self(session, req.body.get("agentId"), "$.body.agentId")
        brand = req.body.get("brandId")
        if brand not in (None, "") and str(brand) != session.account:
            raise errors.Forbidden(
                f"brandId {brand!r} is not this socket's account ({session.account})",
                where="$.body.brandId",
                title="Forbidden",
            )
        sub_id = session.routing_sub or self.engine.ids.uuid()
        self.routing.subscribe(session, sub_id, fx)
        return {"subscriptionId": sub_id}

    def update_ring_state(self, session: Session, req: Request, fx: Effects) -> str:
        body = req.body
        self.routing.update_ring(
            self.agent(session), str(body["ringId"]), str(body["ringState"]), fx
        )
        return RING_STATE_OK

    # -- conversation metadata ----------------------------------------------------------------

    def subscribe_conversations(
        self, session: Session, req: Request, fx: Effects
    ) -> dict[str, Any]:
        body = req.body
        agent = self.agent(session)
        sub = ex_subscription(
            self.engine.ids.uuid(),
            session,
            req,
            participant=None if agent.is_manager else agent.pid,
            queue_skills=agent.skills,
            agent_ids=self._agent_ids(session, body.get("agentIds")),
            skill_ids=as_set(body.get("skillIds")),
        )
        if sub.conv_state is None:
            sub.conv_state = DEFAULT_AGENT_CONV_STATE
        self.subs.subscribe_conversations(session, sub, fx)
        return {"subscriptionId": sub.id}

    def _agent_ids(self, session: Session, value: Any) -> frozenset[str] | None:
        """``agentIds`` as PIDs (the SDK sends legacy ids; unknown ids match nothing)."""
        ids = as_set(value)
        if not ids or ids == frozenset({""}):
            return None
        out = set()
        for given in ids:
            agent = self.engine.find_agent(session.account, given)
            out.add(agent.pid if agent is not None else given)
        return frozenset(out)

    def unsubscribe_conversations(self, session: Session, req: Request, fx: Effects) -> str:
        sub_id = str(req.body.get("subscriptionId"))
        if not self.subs.unsubscribe_conversations(session, sub_id):
            raise errors.NotFound(
                f"subscriptionId {sub_id!r} is not a subscription of this connection",
                where="$.body.subscriptionId",
            )
        return UNSUBSCRIBE_OK

    # -- messages -------------------------------------------------------------------------------

    def _dialog(self, session: Session, body: dict[str, Any]) -> tuple[Conversation, Dialog]:
        return self.engine.dialog_of(self._actor(session), body)

    def _readable(self, session: Session, body: dict[str, Any]) -> Dialog:
        """The dialog a read names, if the agent may read it (see the module)."""
        conv, dialog = self._dialog(session, body)
        agent = self.agent(session)
        queued = conv.is_open and conv.assigned_agent() is None and agent.has_skill(conv.skill_id)
        if (
            agent.is_manager
            or queued
            or conv.participant(agent.pid) is not None
            or self.routing.is_rung(conv, agent.pid)
        ):
            return dialog
        raise errors.Forbidden(
            f"agent {agent.legacy_id} does not take part in conversation {conv.conv_id!r}, "
            "which is not in the queue of its skills: reading another agent's conversation "
            "needs the MANAGER role (or join it first)",
            where="$.body.dialogId",
            title="Forbidden",
        )

    def subscribe_events(self, session: Session, req: Request, fx: Effects) -> dict[str, Any]:
        dialog = self._readable(session, req.body)
        from_seq = from_sequence(req.body, "fromSeq")
        self.subs.subscribe_events(session, dialog, from_seq, req.dialect, fx)
        return {}

    def query_messages(self, session: Session, req: Request, fx: Effects) -> list[Any]:
        """``QueryMessages`` (what the SDK's ``subscribeMessagingEvents`` sends): the events
        from ``newerThanSequence`` (inclusive: the SDK sends 0 for "everything"), at most
        ``maxQuantity`` of them."""
        dialog = self._readable(session, req.body)
        start = from_sequence(req.body, "fromSeq", "newerThanSequence")
        found = self.subs.history(session, dialog, start)
        limit = req.body.get("maxQuantity")
        if isinstance(limit, int) and not isinstance(limit, bool) and limit >= 0:
            found = found[:limit]
        return found

    def publish(self, session: Session, req: Request, fx: Effects) -> dict[str, Any]:
        conv, _ = self._dialog(session, req.body)
        actor = self._actor(session, conv)
        me = conv.participant(actor.id)
        if me is None or me.role == READER:
            assert actor.agent is not None
            raise errors.Forbidden(
                f"agent {actor.agent.legacy_id} "
                + ("is a READER of" if me is not None else "does not take part in")
                + f" conversation {conv.conv_id!r}: accept its ring or join it "
                "(UpdateConversationField ParticipantsChange ADD) before publishing",
                where="$.body.dialogId",
                title="Forbidden",
            )
        seq = self.engine.publish(actor, req.body, fx, metadata=req.metadata)
        return {"sequence": seq}

    # -- conversations ------------------------------------------------------------------------

    def update_fields(self, session: Session, req: Request, fx: Effects) -> str:
        conv = self.engine.conversation(session.account, str(req.body["conversationId"]))
        return fields.update(self.engine, self._actor(session, conv), req.body, fx)

    def request_conversation(self, session: Session, req: Request, fx: Effects) -> dict[str, Any]:
        """``AgentRequestConversation``: a proactive conversation with a consumer of the
        account, the agent its assigned agent from the start."""
        agent = self.agent(session)
        consumer_id = str(req.body["consumerId"])
        consumer = self.engine.account(session.account).consumers.get(consumer_id)
        if consumer is None:
            raise errors.RequestFailed(
                f"consumer {consumer_id!r} is not known on account {session.account}",
                where="$.body.consumerId",
            )
        body: dict[str, Any] = {"brandId": session.account}
        for key in ("skillId", "conversationContext"):
            if req.body.get(key) is not None:
                body[key] = req.body[key]
        conv = self.engine.request_conversation(
            consumer, body, fx, channel="agent", agent_id=agent.pid
        )
        return {"conversationId": conv.conv_id}

    def get_user_profile(self, session: Session, req: Request, fx: Effects) -> Any:
        """A consumer's profile by its id (the SDK sends the bare id); ``{}`` (or the agent's
        own id): the agent's own ``{"userId": <legacy id>}`` (protocol.md §9.3)."""
        agent = self.agent(session)
        body = req.body
        asked = body.get("userId") if isinstance(body, dict) else body
        if asked in (None, "", agent.legacy_id, agent.pid):
            return {"userId": agent.legacy_id}
        consumer = self.engine.account(session.account).consumers.get(str(asked))
        if consumer is None:
            raise errors.NotFound(
                f"no consumer {asked!r} on account {session.account}",
                where="$.body" if not isinstance(body, dict) else "$.body.userId",
            )
        return consumer_profile(consumer)
