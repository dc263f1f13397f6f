"""The one place that assembles mockle's core.

A :class:`World` is everything one running mockle holds, sans I/O: the engine (the state), the
UMS socket service with its subscriptions and the two roles' request handlers, the webhooks, the
simulated agent and the fault plan. The web layer builds one with :meth:`World.build` and so do
tests that need no server; nobody wires the parts by hand.

Listener order (each engine change is heard in this order): subscriptions (socket frames), the
socket service (token expiry closes), routing (rings follow the change they react to), webhooks,
then the simulated agent, which only schedules.
"""

from __future__ import annotations

from dataclasses import dataclass

from mockle.core import agents
from mockle.core.agent import SimulatedAgent
from mockle.core.agent_requests import AgentRequests
from mockle.core.clock import Clock, Ids, SystemClock
from mockle.core.closecodes import CloseCode
from mockle.core.consumer_requests import ConsumerRequests
from mockle.core.effects import CoreConfig, Effects
from mockle.core.engine import Engine
from mockle.core.faults import FaultPlan
from mockle.core.login import LoginService
from mockle.core.routing import Routing
from mockle.core.sessions import SocketRole
from mockle.core.subscriptions import Subscriptions
from mockle.core.tokens import TokenService
from mockle.core.ums import SocketAuth, Ums, common_handlers
from mockle.core.webhooks import Webhooks


@dataclass(eq=False)
class World:
    """Every part of the core, assembled once."""

    config: CoreConfig
    engine: Engine
    subscriptions: Subscriptions
    ums: Ums
    webhooks: Webhooks
    agent: SimulatedAgent
    faults: FaultPlan
    routing: Routing
    login: LoginService

    @classmethod
    def build(
        cls,
        config: CoreConfig | None = None,
        *,
        clock: Clock | None = None,
        ids: Ids | None = None,
        tokens: TokenService | None = None,
        engine: Engine | None = None,
    ) -> World:
        """A complete core. Pass ``engine`` to build the rest around an existing one."""
        config = config or (engine.config if engine is not None else CoreConfig())
        if engine is None:
            clock = clock or SystemClock()
            ids = ids or Ids()
            engine = Engine(config, clock=clock, ids=ids, tokens=tokens)
        subscriptions = Subscriptions(engine)
        routing = Routing(engine, subscriptions, ring_timeout_ms=config.ring_timeout_ms)
        auth = SocketAuth(engine, subscriptions)
        common = common_handlers(engine)
        consumer = ConsumerRequests(engine, subscriptions, auth)
        agent_side = AgentRequests(engine, subscriptions, routing)
        handlers = {
            SocketRole.CONSUMER: {**common, **consumer.table()},
            SocketRole.AGENT: {**common, **agent_side.table()},
        }
        ums = Ums(engine, auth, handlers, auth_timeout_s=config.ws_auth_timeout_s)
        ums.departures.append(routing.session_gone)
        webhooks = Webhooks(engine, config.webhook_signature)
        agent = SimulatedAgent(
            engine,
            config.agent_mode,
            config.agent_delay_ms,
            config.agent_script,
            defer=routing.available_for,
        )
        login = LoginService(engine, ttl_s=config.agent_session_ttl_s, strict=config.strict_agents)
        engine.listeners.extend([subscriptions, ums, routing, webhooks, agent])
        world = cls(
            config, engine, subscriptions, ums, webhooks, agent, FaultPlan(), routing, login
        )
        world.define_agents()
        return world

    @property
    def clock(self) -> Clock:
        return self.engine.clock

    def define_agents(self, account: str | None = None) -> None:
        """(Re)define the agents of the configuration (``--agents FILE``)."""
        for doc in self.config.agent_definitions:
            if account is None or str(doc.get("account")) == account:
                agents.define(self.engine, doc)

    def reset(self, account: str | None = None) -> Effects:
        """Wipe the state of one account (or all): every listener hears it; faults and login
        sessions go too; the configured agents are defined again. Agent sockets of the account
        are closed 4401 (their login is gone: an SDK bot logs in again and reconnects);
        consumer sockets stay open without their subscriptions."""
        fx = Effects()
        for session in list(self.subscriptions.sessions.values()):
            if session.is_agent and (account is None or session.account == account):
                reason = "the account was reset: log in again and reconnect"
                self.ums.close(session, CloseCode.FRESH_TOKEN, reason, fx)
        self.engine.reset(account)
        self.faults.clear(account)
        self.login.reset(account)
        self.define_agents(account)
        return fx
