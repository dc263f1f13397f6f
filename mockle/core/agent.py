"""The simulated agent, sans I/O: who answers the consumer when no real agent exists.

An engine :class:`~mockle.core.engine.Listener`. On every consumer ``ContentEvent`` or
``RichContentEvent`` it picks a :class:`Rule` (the script's first match, else the mode's
default) and plans its steps: join (when no agent is assigned), READ of the consumer's message,
then per reply a COMPOSING and an ACTIVE chat state and the reply itself, then a skill transfer
and/or a close. Steps never run inside the consumer's call: each is an
:class:`~mockle.core.engine.Later` the transport runs ``delay_ms`` after the previous one, and
each step schedules the next. The steps of one conversation form one queue, so answers to
several quick messages never interleave.

Real agents come first: a conversation whose assigned agent logged in (an SDK bot, the
Workspace) is theirs, and an unassigned one is left to routing while a real agent could take it
(``defer``, :meth:`mockle.core.routing.Routing.available_for`). The simulated agent answers the
rest: unassigned conversations nobody could take, and those assigned to a control-API agent.

Modes: ``echo`` answers every message with ``echo: <text>``; ``manual`` does nothing (the
control API drives the agent). A script (YAML or JSON, schema ``control/agentScript.json``) adds
rules that are tried first; in ``manual`` mode an unmatched message gets no answer.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from functools import partial
from typing import Any

from mockle.core import errors
from mockle.core.agent_script import ECHO_PREFIX, ECHO_RULE, AgentScript, Rule
from mockle.core.effects import Effects, Later, Listener
from mockle.core.engine import Engine
from mockle.core.model import CONSUMER, Conversation, Dialog, StoredEvent

__all__ = ["ECHO_PREFIX", "AgentScript", "Rule", "SimulatedAgent", "text_of"]

CONTENT_EVENTS = frozenset({"ContentEvent", "RichContentEvent"})


# -- the listener ------------------------------------------------------------------------------

Step = Callable[[Conversation, Effects], None]
Key = tuple[str, str]  # (account, conversation id)


def text_of(event: dict[str, Any]) -> str:
    """The text a rule is matched against: the message, a file's caption, else ''."""
    message = event.get("message")
    if isinstance(message, str):
        return message
    if isinstance(message, dict) and isinstance(message.get("caption"), str):
        return str(message["caption"])
    return ""


class SimulatedAgent(Listener):
    def __init__(
        self,
        engine: Engine,
        mode: str = "echo",
        delay_ms: int = 200,
        script: AgentScript | None = None,
        *,
        defer: Callable[[Conversation], bool] | None = None,
    ) -> None:
        self.engine = engine
        self.defer = defer
        self.mode = mode
        self.delay_ms = delay_ms
        self.script = script
        self._queues: dict[Key, deque[tuple[int, Step]]] = {}
        self._agents: dict[str, str] = {}  # account -> PID of the simulated agent

    # -- choosing --------------------------------------------------------------------------

    def rule_for(self, text: str) -> Rule | None:
        if self.script is not None:
            rule = self.script.match(text)
            if rule is not None:
                return rule
        return ECHO_RULE if self.mode == "echo" else None

    def on_event(self, conv: Conversation, dialog: Dialog, ev: StoredEvent, fx: Effects) -> None:
        if self.script is None and self.mode != "echo":  # manual: nothing to answer, ever
            return
        if ev.role != CONSUMER or ev.event_type not in CONTENT_EVENTS or not conv.is_open:
            return
        if dialog.dialog_type != "MAIN":  # e.g. a post-conversation survey: not the agent's
            return
        if not self._answers(conv):
            return
        text = text_of(ev.event)
        rule = self.rule_for(text)
        if rule is None:
            return
        self._enqueue(conv, self._plan(conv, ev, rule, text), fx)

    def _answers(self, conv: Conversation) -> bool:
        """Whether the conversation is the simulated agent's to answer (see the module)."""
        pid = conv.assigned_agent()
        if pid is None:
            return self.defer is None or not self.defer(conv)
        agent = self.engine.account(conv.account).agents.get(pid)
        return agent is None or agent.login_name is None

    def on_reset(self, account: str | None) -> None:
        if account is None:
            self._queues.clear()
            self._agents.clear()
            return
        self._agents.pop(account, None)
        for key in [k for k in self._queues if k[0] == account]:
            del self._queues[key]

    # -- planning --------------------------------------------------------------------------

    def _plan(
        self, conv: Conversation, ev: StoredEvent, rule: Rule, text: str
    ) -> list[tuple[int, Step]]:
        delay = self.delay_ms if rule.delay_ms is None else rule.delay_ms
        steps: list[Step] = []
        if (rule.read or rule.replies) and conv.assigned_agent() is None:
            steps.append(self._join)
        if rule.read and ev.sequence is not None:
            read = {"type": "AcceptStatusEvent", "status": "READ", "sequenceList": [ev.sequence]}
            steps.append(partial(self._publish, read))
        for reply in rule.replies:
            if rule.typing:
                steps.append(
                    partial(self._publish, {"type": "ChatStateEvent", "chatState": "COMPOSING"})
                )
                steps.append(
                    partial(self._publish, {"type": "ChatStateEvent", "chatState": "ACTIVE"})
                )
            steps.append(partial(self._publish, _reply_event(reply, text, ev.event)))
        if rule.transfer is not None:
            steps.append(partial(self._transfer, rule.transfer))
        if rule.close:
            steps.append(self._close)
        return [(delay, step) for step in steps]

    # -- running ---------------------------------------------------------------------------

    def _enqueue(self, conv: Conversation, steps: list[tuple[int, Step]], fx: Effects) -> None:
        if not steps:
            return
        key = (conv.account, conv.conv_id)
        queue = self._queues.get(key)
        if queue is not None:  # a chain is already running for this conversation
            queue.extend(steps)
            return
        self._queues[key] = deque(steps)
        self._schedule(key, steps[0][0], fx)

    def _schedule(self, key: Key, delay: int, fx: Effects) -> None:
        fx.later.append(Later(delay, partial(self._run, key)))

    def _run(self, key: Key, fx: Effects) -> None:
        queue = self._queues.get(key)
        if not queue:  # reset meanwhile
            self._queues.pop(key, None)
            return
        _, step = queue.popleft()
        try:
            conv = self.engine.conversation(*key)
            if not conv.is_open:
                raise errors.RequestFailed("the conversation closed")
            if not self._answers(conv):
                raise errors.RequestFailed("a real agent took the conversation")
            step(conv, fx)
        except errors.MockleError:  # the conversation closed or vanished: drop the rest
            queue.clear()
        except Exception:  # a bug: drop the rest so the next message starts afresh
            queue.clear()
            raise
        finally:
            if queue:
                self._schedule(key, queue[0][0], fx)
            else:
                del self._queues[key]

    def agent_pid(self, account: str) -> str:
        """The PID of the account's simulated agent (created on first use)."""
        pid = self._agents.get(account)
        if pid is None or pid not in self.engine.account(account).agents:
            pid = self._agents[account] = self.engine.agent(account).pid
        return pid

    def _join(self, conv: Conversation, fx: Effects) -> None:
        if conv.assigned_agent() is None:
            self.engine.join_agent(conv, fx, self.agent_pid(conv.account))

    def _publish(self, event: dict[str, Any], conv: Conversation, fx: Effects) -> None:
        agent = None if conv.assigned_agent() is not None else self.agent_pid(conv.account)
        self.engine.agent_publish(conv, event, fx, agent_id=agent)

    def _transfer(self, skill: str, conv: Conversation, fx: Effects) -> None:
        self.engine.transfer(conv, skill, fx)

    def _close(self, conv: Conversation, fx: Effects) -> None:
        self.engine.close(conv, "AGENT", fx)

    @property
    def pending(self) -> int:
        """Steps not yet run (all conversations)."""
        return sum(len(q) for q in self._queues.values())


def _reply_event(
    reply: str | dict[str, Any], text: str, consumer_event: dict[str, Any]
) -> dict[str, Any]:
    if isinstance(reply, dict):
        return dict(reply)
    if reply == ECHO_PREFIX + "{text}" and not text:  # echo of a file or rich content
        kind = consumer_event.get("contentType") or consumer_event.get("type")
        return {
            "type": "ContentEvent",
            "contentType": "text/plain",
            "message": f"{ECHO_PREFIX}[{kind}]",
        }
    return {
        "type": "ContentEvent",
        "contentType": "text/plain",
        "message": reply.replace("{text}", text),
    }
