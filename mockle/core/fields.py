"""``UpdateConversationField``, sans I/O: every field validated, then all applied at once.

The same request comes from a consumer (the Connector API, the consumer socket), from an agent
(the agent socket, with the agent SDK's array form) and from the control API. Who may change
what (protocol.md §4.4, §9.3; node-agent-sdk README "updateConversationField"):

* a consumer: its own conversation's state (``ConversationStateField``/``Stage`` CLOSE,
  ``DialogChange``), ``CSATRate`` and ``TTRField``; anything else is 403;
* an agent: a conversation it takes part in (not as a READER), or any conversation of its
  account when it is a MANAGER; joining as MANAGER/READER/AGENT needs the MANAGER profile;
  ``ParticipantsChange`` ADD, REMOVE and SUGGEST (a transfer to an agent); ``Skill`` (back to
  the queue of a skill); closing; TTR;
* the control API and the simulated agent (an actor without ``agent``): anything.

A plan is made for every field first; only when all are valid is the conversation changed, so a
failing request changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mockle.core import errors
from mockle.core.effects import Actor, Effects
from mockle.core.model import ASSIGNED_AGENT, CLOSE, MANAGER, READER, Agent, Conversation

if TYPE_CHECKING:
    from mockle.core.engine import Engine

RESOLVED = "OK Conversation resolved successfully"
UPDATED = "OK Conversation updated successfully"
ADDED = "OK Agent added successfully"
REMOVED = "OK Agent removed successfully"
SUGGESTED = "OK Agent suggested successfully"
CONSUMER_FIELDS = ("ConversationStateField", "Stage", "DialogChange", "CSATRate", "TTRField")
JOIN_ROLES = frozenset({ASSIGNED_AGENT, MANAGER, READER, "AGENT"})

Action = Callable[[Effects], None]


@dataclass(slots=True)
class Step:
    """One validated field change, and the answer it calls for."""

    action: Action
    answer: str = UPDATED


def update(engine: Engine, actor: Actor, body: dict[str, Any], fx: Effects) -> str:
    """``cm.UpdateConversationField``: the answer's text; nothing changes if a field is bad."""
    conv = engine.conversation(actor.account, str(body["conversationId"]))
    if actor.is_consumer:
        engine.owned(actor, conv)
    fields = body["conversationField"]
    if isinstance(fields, dict):
        fields = [fields]
    plan = [_step(engine, actor, conv, f, i) for i, f in enumerate(fields)]
    for step in plan:
        step.action(fx)
    engine.changed(conv, fx)
    answers = {step.answer for step in plan}
    for answer in (RESOLVED, REMOVED, ADDED, SUGGESTED):
        if answer in answers:
            return answer
    return UPDATED


def closed_by(actor: Actor) -> str:
    """``closeReason``: CONSUMER, AGENT (an agent, the simulated one too) or SYSTEM."""
    if actor.is_consumer:
        return "CONSUMER"
    return "SYSTEM" if actor.role == "SYSTEM" else "AGENT"


def _step(engine: Engine, actor: Actor, conv: Conversation, f: dict[str, Any], index: int) -> Step:
    where = f"$.body.conversationField[{index}]"
    if not isinstance(f, dict):
        raise errors.InvalidRequest("a conversationField is a JSON object", where=where)
    name = f.get("field")
    if actor.is_consumer and name not in CONSUMER_FIELDS:
        allowed = ", ".join(CONSUMER_FIELDS[:-1]) + f" and {CONSUMER_FIELDS[-1]}"
        raise errors.Forbidden(
            f"conversationField {name!r} is for agents; a consumer may send {allowed}",
            where=f"{where}.field",
            title="Forbidden",
        )
    if name == "ParticipantsChange":
        return _participants(engine, actor, conv, f, where)
    _may_change(actor, conv, where)
    if name in ("ConversationStateField", "Stage"):
        return _close_conversation(engine, actor, conv, f, where)
    if name == "DialogChange":
        return _close_dialog(engine, actor, conv, f, where)
    if name == "CSATRate":
        keys = ("field", "csatRate", "csatResolutionConfirmation", "status")
        csat = {k: f[k] for k in keys if k in f}
        return Step(lambda fx: setattr(conv, "csat", csat))
    if name == "TTRField":
        ttr = (str(f["ttrType"]), int(f["value"]))
        return Step(lambda fx: _set_ttr(conv, ttr))
    if name == "Skill":
        skill = f.get("skill")
        if skill is None or isinstance(skill, dict | list | bool):
            raise errors.InvalidRequest("Skill needs a skill id", where=f"{where}.skill")
        return Step(lambda fx: engine.move_to_skill(conv, str(skill)))
    if name == "ManualETTR":
        return Step(lambda fx: None)
    raise errors.InvalidRequest(
        f"conversationField {name!r} is not supported", where=f"{where}.field"
    )


def _close_conversation(
    engine: Engine, actor: Actor, conv: Conversation, f: dict[str, Any], where: str
) -> Step:
    if f.get("conversationState") != CLOSE:
        raise errors.InvalidRequest(
            f"conversationState {f.get('conversationState')!r} is not supported "
            "(the only documented value is 'CLOSE')",
            where=f"{where}.conversationState",
        )
    if not conv.is_open:
        raise errors.conversation_closed(conv.conv_id, conv.close_reason)
    by = closed_by(actor)
    return Step(lambda fx: engine.close_now(conv, by, None), RESOLVED)


def _close_dialog(
    engine: Engine, actor: Actor, conv: Conversation, f: dict[str, Any], where: str
) -> Step:
    dialog_info = f.get("dialog") or {}
    if not isinstance(dialog_info, dict):
        raise errors.InvalidRequest("dialog is a JSON object", where=f"{where}.dialog")
    dialog = conv.dialog(str(dialog_info.get("dialogId")))
    if dialog is None:
        raise errors.ConversationNotFound(
            f"dialog {dialog_info.get('dialogId')!r} is not part of conversation {conv.conv_id!r}",
            where=f"{where}.dialog.dialogId",
        )
    if dialog_info.get("state") not in (None, CLOSE):
        raise errors.InvalidRequest(
            f"dialog state {dialog_info.get('state')!r} is not supported (only 'CLOSE')",
            where=f"{where}.dialog.state",
        )
    if dialog.state == CLOSE:
        raise errors.conversation_closed(conv.conv_id, conv.close_reason)
    cause = dialog_info.get("closedCause")
    by = closed_by(actor)
    return Step(lambda fx: engine.close_now(conv, by, str(cause) if cause else None), RESOLVED)


# -- who may change a conversation ------------------------------------------------------------


def _may_change(actor: Actor, conv: Conversation, where: str) -> None:
    """An agent changes a conversation it takes part in (not as a READER), or as a MANAGER."""
    agent = actor.agent
    if agent is None:
        return
    me = conv.participant(agent.pid)
    if (me is not None and me.role != READER) or agent.is_manager:
        return
    raise errors.Forbidden(
        f"agent {agent.legacy_id} does not take part in conversation {conv.conv_id!r}"
        + (" (a READER may not change it)" if me is not None else ""),
        where=where,
        title="Forbidden",
    )


# -- participants -------------------------------------------------------------------------------


def _participants(
    engine: Engine, actor: Actor, conv: Conversation, f: dict[str, Any], where: str
) -> Step:
    change, role = f.get("type"), str(f.get("role") or "")
    if not conv.is_open:
        raise errors.conversation_closed(conv.conv_id, conv.close_reason)
    user = f.get("userId")
    if change == "ADD":
        return _add(engine, actor, conv, user, role, where)
    if change == "REMOVE":
        return _remove(engine, actor, conv, user, role, where)
    if change == "SUGGEST":
        return _suggest(engine, actor, conv, user, role, where)
    raise errors.InvalidRequest(
        f"ParticipantsChange type {change!r} is not supported (ADD, REMOVE, SUGGEST)",
        where=f"{where}.type",
    )


def _target(engine: Engine, actor: Actor, conv: Conversation, user: Any, where: str) -> Agent:
    """The agent a ParticipantsChange names (its own agent when no userId is given)."""
    if actor.agent is None:  # control API / simulated agent: an unknown id becomes an agent
        return engine.agent(conv.account, str(user) if user else None)
    if not user:
        return actor.agent
    found = engine.find_agent(conv.account, str(user))
    if found is None:
        raise errors.RequestFailed(
            f"no agent {user!r} on account {conv.account}", where=f"{where}.userId"
        )
    return found


def _add(
    engine: Engine, actor: Actor, conv: Conversation, user: Any, role: str, where: str
) -> Step:
    if role not in JOIN_ROLES:
        raise errors.InvalidRequest(
            f"role {role!r} cannot be added (roles: {', '.join(sorted(JOIN_ROLES))})",
            where=f"{where}.role",
        )
    target = _target(engine, actor, conv, user, where)
    me = actor.agent
    if me is not None and not me.is_manager:
        if role != ASSIGNED_AGENT or target.pid != me.pid:
            raise errors.Forbidden(
                f"agent {me.legacy_id} may not add {role} participants: that needs the MANAGER "
                "profile (define the agent with role MANAGER: --agents or POST /_mockle/agents)",
                where=f"{where}.role",
                title="Forbidden",
            )
    if role == ASSIGNED_AGENT:
        current = conv.assigned_agent()
        if current is not None and current != target.pid:
            raise errors.RequestFailed(
                f"conversation {conv.conv_id!r} already has an assigned agent", where=where
            )
    return Step(lambda fx: engine.add_participant(conv, target.pid, role), ADDED)


def _remove(
    engine: Engine, actor: Actor, conv: Conversation, user: Any, role: str, where: str
) -> Step:
    if actor.agent is None and not user:
        pid = conv.assigned_agent()
    else:
        pid = _target(engine, actor, conv, user, where).pid
    part = conv.participant(pid) if pid is not None else None
    if part is None or (role and part.role != role):
        raise errors.RequestFailed("Agent does not exist in conversation", where=where)
    me = actor.agent
    if me is not None and pid != me.pid:
        _may_change(actor, conv, where)
    assert pid is not None
    return Step(lambda fx: engine.remove_participant(conv, pid), REMOVED)


def _suggest(
    engine: Engine, actor: Actor, conv: Conversation, user: Any, role: str, where: str
) -> Step:
    if role not in ("", ASSIGNED_AGENT):
        raise errors.InvalidRequest(
            f"SUGGEST takes the role ASSIGNED_AGENT, not {role!r}", where=f"{where}.role"
        )
    if not user:
        raise errors.InvalidRequest("SUGGEST needs the userId of the agent", where=where)
    _may_change(actor, conv, where)
    target = _target(engine, actor, conv, user, where)
    return Step(lambda fx: engine.suggest_agent(conv, target.pid), SUGGESTED)


def _set_ttr(conv: Conversation, ttr: tuple[str, int]) -> None:
    conv.ttr_type, conv.ttr_value = ttr
