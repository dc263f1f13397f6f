"""Routing, sans I/O: agent availability, routing tasks and the rings that offer a waiting
conversation to an agent (the agent side of protocol.md §9.3-9.4, agent-sdk.md §5, §7-8).

A conversation that is open and has no assigned agent is a *routing task* on its skill. The
task rings one eligible agent at a time: an agent whose socket subscribed to routing tasks
(``SubscribeRoutingTasks``), whose availability is ``ONLINE`` (the default of a logged-in agent
until it sends ``SetAgentState``), who has the skill, who holds fewer open conversations than
its ``maxConversations``, and who has not declined this task; the least busy agent first, then
the longest subscribed. A transfer to an agent (``SUGGEST``) rings only that agent.

A ring waits for ``UpdateRingState``: ``ACCEPTED`` joins the agent as the assigned agent, which
completes the task; ``REJECTED`` (or the ring's expiry after ``ring_timeout_ms``) declines it
and the next agent is rung. An agent that stops being available (``SetAgentState`` other than
ONLINE, its last routing subscription gone) loses its waiting rings, which are cancelled and
re-routed. The task completes (``taskCompleted: true``) when the conversation gets an assigned
agent or closes; the ringed agent then sees its ring ACCEPTED, or CANCELLED if someone else (or
nobody) took it.

Every ring change reaches the agent's routing subscriptions as one
``.ams.routing.RoutingTaskNotification`` UPSERT whose ``ringsDetails`` holds the agent's ring
(agent-sdk.md §7: the SDK throws on a change without ``ringsDetails``). Availability changes
reach ``SubscribeAgentsState`` subscriptions as ``.ams.routing.AgentStateNotification``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Any

from mockle.core import dialects, errors, render
from mockle.core.dialects import Dialect
from mockle.core.effects import Effects, Later, Listener
from mockle.core.engine import Engine
from mockle.core.model import ASSIGNED_AGENT, OPEN, SUGGESTED, Agent, Conversation
from mockle.core.sessions import Session
from mockle.core.subscriptions import Subscriptions

ONLINE = "ONLINE"
WAITING, ACCEPTED, REJECTED, CANCELLED, EXPIRED = (
    "WAITING",
    "ACCEPTED",
    "REJECTED",
    "CANCELLED",
    "EXPIRED",
)
ANSWERS = (ACCEPTED, REJECTED)  # what UpdateRingState may set
CHANNELS = ["MESSAGING"]
DEFAULT_RING_TIMEOUT_MS = 60_000
RING_WEIGHT = 1.0
FINISHED_RINGS = 10_000  # rings of completed tasks remembered for a late UpdateRingState

Key = tuple[str, str]  # (account, id)
NOBODY: frozenset[str] = frozenset()


@dataclass(slots=True, eq=False)
class Ring:
    ring_id: str
    agent_pid: str
    created_ms: int
    expires_ms: int
    state: str = WAITING


@dataclass(slots=True, eq=False)
class Task:
    """A routing task: one open conversation without an assigned agent."""

    task_id: str
    account: str
    conv_id: str
    consumer_id: str
    skill_id: str
    # Replaced, not changed, when a ring is added or an agent declines: most tasks wait with
    # neither, and the shared empty values then add no GC-tracked list or set to each one.
    rings: tuple[Ring, ...] = ()
    declined: frozenset[str] = NOBODY  # agents that rejected or let it expire
    completed: bool = False

    def waiting(self) -> Ring | None:
        for ring in self.rings:
            if ring.state == WAITING:
                return ring
        return None


def suggested_agent(conv: Conversation) -> str | None:
    """The agent a transfer to an agent suggested (SUGGESTED assigned agent), if any."""
    for d in conv.dialogs:
        if d.state != OPEN:
            continue
        for p in d.participants:
            if p.state == SUGGESTED and p.role == ASSIGNED_AGENT:
                return p.id
    return None


class Routing(Listener):
    """Agent availability, routing tasks and rings of every account."""

    def __init__(
        self,
        engine: Engine,
        subscriptions: Subscriptions,
        *,
        ring_timeout_ms: int = DEFAULT_RING_TIMEOUT_MS,
    ) -> None:
        self.engine = engine
        self.subs = subscriptions
        self.ring_timeout_ms = ring_timeout_ms
        self._tasks: dict[Key, Task] = {}  # (account, conversation id)
        self._rings: dict[Key, Task] = {}  # (account, ring id)
        self._finished: dict[Key, Ring] = {}  # (account, ring id) of completed tasks, bounded
        self._availability: dict[Key, str] = {}  # (account, PID); absent: ONLINE
        self._assigned: dict[Key, str] = {}  # (account, open conversation id) -> agent PID
        self._load: dict[Key, int] = {}  # (account, PID) -> open conversations assigned

    # -- availability -----------------------------------------------------------------------

    def availability(self, account: str, pid: str) -> str:
        return self._availability.get((account, pid), ONLINE)

    def set_availability(self, agent: Agent, availability: str, fx: Effects) -> None:
        """``SetAgentState``: store it, tell the watchers, and ring or un-ring the agent."""
        key = (agent.account, agent.pid)
        self._availability[key] = availability
        self._notify_state(agent, fx)
        if availability == ONLINE:
            self.route_account(agent.account, fx)
        else:
            self._withdraw(agent.account, agent.pid, fx)

    def state_result(self, agent: Agent) -> dict[str, Any]:
        return {
            "channels": CHANNELS,
            "availability": self.availability(agent.account, agent.pid),
            "description": "",
            "agentUserId": agent.legacy_id,
        }

    def subscribe_state(
        self, session: Session, sub_id: str, agent: Agent, dialect: Dialect, fx: Effects
    ) -> None:
        """``SubscribeAgentsState``: the agent's state now, then each change."""
        self.subs.subscribe_agent_state(session, sub_id, agent.pid)
        change = {"type": "UPSERT", "result": self.state_result(agent)}
        type_name = dialects.AGENT_STATE_NOTIFICATION[dialect]
        fx.frames.append((session.id, render.notification(type_name, [change], sub_id)))

    def _notify_state(self, agent: Agent, fx: Effects) -> None:
        watchers = self.subs.agent_state_sessions(agent.account, agent.pid)
        if not watchers:
            return
        change = {"type": "UPSERT", "result": self.state_result(agent)}
        for session, sub_id in watchers:
            type_name = dialects.AGENT_STATE_NOTIFICATION[session.dialect]
            fx.frames.append((session.id, render.notification(type_name, [change], sub_id)))

    # -- routing subscriptions --------------------------------------------------------------

    def subscribe(self, session: Session, sub_id: str, fx: Effects) -> None:
        """``SubscribeRoutingTasks``: the agent's waiting rings now, then routing goes on."""
        pid = session.agent_id
        assert pid is not None
        self.subs.subscribe_routing(session, sub_id)
        changes = [
            self._change(task, ring)
            for task in self._tasks.values()
            if task.account == session.account
            for ring in task.rings
            if ring.agent_pid == pid and ring.state == WAITING
        ]
        type_name = dialects.ROUTING_TASK_NOTIFICATION[session.dialect]
        fx.frames.append((session.id, render.notification(type_name, changes, sub_id)))
        self.route_account(session.account, fx)

    def session_gone(self, session: Session, fx: Effects) -> None:
        """A socket closed or dropped its subscriptions: if it was the agent's last routing
        subscription, its waiting rings go to someone else."""
        pid = session.agent_id
        if pid is None or self.subs.routing_sessions(session.account, pid):
            return
        self._withdraw(session.account, pid, fx)

    def available_for(self, conv: Conversation) -> bool:
        """Whether a real agent could take ``conv``: one is rung now, or one is subscribed to
        routing, ONLINE and has the skill (whatever its load). The simulated agent leaves such
        conversations to routing."""
        task = self._tasks.get((conv.account, conv.conv_id))
        if task is not None and task.waiting() is not None:
            return True
        acc = self.engine.account(conv.account)
        for pid in self.subs.routable(conv.account):
            agent = acc.agents.get(pid)
            if (
                agent is not None
                and self.availability(conv.account, pid) == ONLINE
                and agent.has_skill(conv.skill_id or "-1")
            ):
                return True
        return False

    def is_rung(self, conv: Conversation, pid: str) -> bool:
        """Whether ``pid`` has a WAITING ring for ``conv`` (it may read the conversation)."""
        task = self._tasks.get((conv.account, conv.conv_id))
        ring = task.waiting() if task is not None else None
        return ring is not None and ring.agent_pid == pid

    # -- rings --------------------------------------------------------------------------------

    def update_ring(self, agent: Agent, ring_id: str, state: str, fx: Effects) -> None:
        """``UpdateRingState`` from ``agent``."""
        key = (agent.account, ring_id)
        task = self._rings.get(key)
        if task is not None:
            ring = next((r for r in task.rings if r.ring_id == ring_id), None)
        else:  # a ring of a completed task: no longer WAITING, which the answer says
            ring = self._finished.get(key)
        if ring is None or ring.agent_pid != agent.pid:
            raise errors.NotFound(
                f"ring {ring_id!r} is not a ring of this agent", where="$.body.ringId"
            )
        if state not in ANSWERS:
            raise errors.InvalidRequest(
                f"ringState {state!r} cannot be set: use ACCEPTED or REJECTED",
                where="$.body.ringState",
            )
        if task is None or ring.state != WAITING:
            raise errors.RequestFailed(
                f"ring {ring_id!r} is {ring.state}, no longer WAITING", where="$.body.ringId"
            )
        if state == ACCEPTED:
            conv = self.engine.conversation(task.account, task.conv_id)
            if not conv.is_open:
                raise errors.RequestFailed("Bad Request, Conversation is close")
            ring.state = ACCEPTED
            self.engine.join_agent(conv, fx, agent.pid)  # completes the task (on_conversation)
            return
        self._decline(task, ring, REJECTED, fx)

    def _expire(self, account: str, ring_id: str, fx: Effects) -> None:
        task = self._rings.get((account, ring_id))
        if task is None or task.completed:
            return
        for ring in task.rings:
            if ring.ring_id == ring_id and ring.state == WAITING:
                self._decline(task, ring, EXPIRED, fx)

    def _decline(self, task: Task, ring: Ring, state: str, fx: Effects) -> None:
        ring.state = state
        task.declined |= {ring.agent_pid}
        self._notify_ring(task, ring, fx)
        self._route(task, fx)

    def _withdraw(self, account: str, pid: str, fx: Effects) -> None:
        """The agent cannot take rings now: its waiting rings are cancelled and re-routed."""
        for task in [t for t in self._tasks.values() if t.account == account]:
            ring = task.waiting()
            if ring is not None and ring.agent_pid == pid:
                ring.state = CANCELLED
                self._notify_ring(task, ring, fx)
                self._route(task, fx)

    # -- tasks --------------------------------------------------------------------------------

    def route_account(self, account: str, fx: Effects) -> None:
        """Ring what can be rung on the account (oldest task first)."""
        for task in [t for t in self._tasks.values() if t.account == account]:
            if task.waiting() is None:
                self._route(task, fx)

    def _route(self, task: Task, fx: Effects) -> None:
        if task.completed or task.waiting() is not None:
            return
        routable = self.subs.routable(task.account)
        if not routable:  # no agent takes rings on the account (the usual connector test)
            return
        conv = self.engine.find(task.conv_id, task.account)
        if conv is None:
            return
        pid = self._choose(task, conv, routable)
        if pid is None:
            return
        now = self.engine.clock.now_ms()
        ring_id = f"{task.conv_id}_{task.account}_{now}"
        while (task.account, ring_id) in self._rings:  # unique even within one millisecond
            now += 1
            ring_id = f"{task.conv_id}_{task.account}_{now}"
        ring = Ring(ring_id, pid, now, now + self.ring_timeout_ms)
        task.rings += (ring,)
        self._rings[(task.account, ring_id)] = task
        self._notify_ring(task, ring, fx)
        fx.later.append(Later(self.ring_timeout_ms, partial(self._expire, task.account, ring_id)))

    def _choose(self, task: Task, conv: Conversation, routable: list[str]) -> str | None:
        """The agent to ring among ``routable`` (the account's agents subscribed to rings)."""
        acc = self.engine.account(task.account)
        target = suggested_agent(conv)
        best: tuple[int, int, str] | None = None
        for order, pid in enumerate(routable):
            agent = acc.agents.get(pid)
            if agent is None or pid in task.declined:
                continue
            if target is not None and pid != target:
                continue
            if self.availability(task.account, pid) != ONLINE:
                continue
            if target is None and not agent.has_skill(task.skill_id):
                continue
            load = self._load.get((task.account, pid), 0)
            if agent.max_conversations is not None and load >= agent.max_conversations:
                continue
            if best is None or (load, order) < best[:2]:
                best = (load, order, pid)
        return best[2] if best is not None else None

    def _finish(self, task: Task, assignee: str | None, fx: Effects) -> None:
        task.completed = True
        del self._tasks[(task.account, task.conv_id)]
        for ring in task.rings:
            self._rings.pop((task.account, ring.ring_id), None)
            self._finished[(task.account, ring.ring_id)] = ring
            if len(self._finished) > FINISHED_RINGS:
                del self._finished[next(iter(self._finished))]
            if ring.state == WAITING or (ring.state == ACCEPTED and ring.agent_pid != assignee):
                ring.state = CANCELLED
                self._notify_ring(task, ring, fx)
            elif ring.state == ACCEPTED:
                self._notify_ring(task, ring, fx)

    # -- listener -----------------------------------------------------------------------------

    def on_conversation(self, conv: Conversation, fx: Effects) -> None:
        key = (conv.account, conv.conv_id)
        assignee = conv.assigned_agent() if conv.is_open else None
        freed = self._track_load(key, assignee)
        task = self._tasks.get(key)
        if conv.is_open and assignee is None:
            if task is None:
                task = Task(
                    self.engine.ids.uuid(),
                    conv.account,
                    conv.conv_id,
                    conv.consumer_id,
                    conv.skill_id or "-1",
                )
                self._tasks[key] = task
            else:
                self._retarget(task, conv, fx)
            self._route(task, fx)
        elif task is not None:
            self._finish(task, assignee, fx)
        if freed:  # an agent has room for another conversation
            self.route_account(conv.account, fx)

    def _retarget(self, task: Task, conv: Conversation, fx: Effects) -> None:
        """A transfer of a waiting conversation (to a skill, or to an agent): the waiting ring
        is cancelled and everyone may be rung again."""
        skill = conv.skill_id or "-1"
        target = suggested_agent(conv)
        ring = task.waiting()
        new_skill = task.skill_id != skill
        new_target = target is not None and (ring is None or ring.agent_pid != target)
        if not new_skill and not new_target:
            return
        task.skill_id = skill
        task.declined = NOBODY
        if ring is not None:
            ring.state = CANCELLED
            self._notify_ring(task, ring, fx)

    def _track_load(self, key: Key, assignee: str | None) -> bool:
        """Keep the per-agent count of open assigned conversations; whether one was freed."""
        old = self._assigned.get(key)
        if old == assignee:
            return False
        account = key[0]
        if old is not None:
            left = self._load[(account, old)] - 1
            if left:
                self._load[(account, old)] = left
            else:
                del self._load[(account, old)]
            del self._assigned[key]
        if assignee is not None:
            self._assigned[key] = assignee
            self._load[(account, assignee)] = self._load.get((account, assignee), 0) + 1
        return old is not None

    def on_reset(self, account: str | None) -> None:
        def keep(key: Key) -> bool:
            return account is not None and key[0] != account

        indexes = (self._tasks, self._rings, self._finished, self._availability)
        for index in (*indexes, self._assigned, self._load):
            for key in [k for k in index if not keep(k)]:
                del index[key]

    # -- notifications ------------------------------------------------------------------------

    def _change(self, task: Task, ring: Ring) -> dict[str, Any]:
        details = {
            "ringId": ring.ring_id,
            "ringExpirationTs": ring.expires_ms,
            "ringState": ring.state,
            "weight": RING_WEIGHT,
            "ringExpiration": ring.expires_ms - ring.created_ms,
            "convId": task.conv_id,
            "consumerId": task.consumer_id,
            "skillId": task.skill_id,
            "brandId": task.account,
        }
        result = {
            "routingTaskId": task.task_id,
            "taskCompleted": task.completed,
            "conversationId": task.conv_id,
            "consumerId": task.consumer_id,
            "skillId": task.skill_id,
            "brandId": task.account,
            "ringsDetails": [details],
        }
        return {"type": "UPSERT", "result": result}

    def _notify_ring(self, task: Task, ring: Ring, fx: Effects) -> None:
        change = self._change(task, ring)
        for session in self.subs.routing_sessions(task.account, ring.agent_pid):
            if session.routing_sub is None:
                continue
            type_name = dialects.ROUTING_TASK_NOTIFICATION[session.dialect]
            frame = render.notification(type_name, [change], session.routing_sub)
            fx.frames.append((session.id, frame))

    # -- inspection ---------------------------------------------------------------------------

    def tasks(self, account: str) -> list[Task]:
        return [t for t in self._tasks.values() if t.account == account]
