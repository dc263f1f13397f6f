"""The aiohttp application: one host:port serves every LiveEngage service mockle emulates.

``create_app(settings)`` builds the core (:class:`~mockle.core.world.World`), the web services
(hub, journal, webhook worker, conversation watch) and the :class:`~mockle.web.runtime.Runtime`
that holds them, then the routes of every web module. Each route module is thin: it reads the
request, calls the core once, hands the effects to the hub and writes the reply.
"""

from __future__ import annotations

import logging

from aiohttp import web

from mockle.configfiles import load_document, read_agents, read_script, read_signing_key
from mockle.core.clock import Clock, Ids, SystemClock
from mockle.core.effects import CoreConfig
from mockle.core.tokens import TokenService
from mockle.core.world import World
from mockle.settings import Settings
from mockle.web import admin, control, faults, inspect, login, rest, ui, ums
from mockle.web.control import install_startup_apps
from mockle.web.gateway import gateway
from mockle.web.hub import Hub
from mockle.web.journal import Journal
from mockle.web.runtime import RUNTIME, Runtime
from mockle.web.watch import ConversationWatch
from mockle.web.webhooks import WebhookWorker

log = logging.getLogger("mockle")


def core_config(settings: Settings) -> CoreConfig:
    """The core's configuration from the settings (files named there are read now)."""
    return CoreConfig(
        app_jwt_ttl=settings.app_jwt_ttl,
        consumer_jws_ttl=settings.consumer_jws_ttl,
        signup_jwt_ttl=settings.signup_jwt_ttl,
        strict_apps=settings.strict_apps,
        auto_messages=tuple(settings.auto_messages),
        rate_limit=settings.rate_limit,
        ws_auth_timeout_s=settings.ws_auth_timeout,
        webhook_signature=settings.webhook_signature,
        agent_mode=settings.agent,
        agent_delay_ms=settings.agent_delay_ms,
        agent_script=read_script(settings.agent_script) if settings.agent_script else None,
        agent_definitions=read_agents(settings.agents),
        strict_agents=settings.strict_agents,
        agent_session_ttl_s=settings.agent_session_ttl,
        ring_timeout_ms=round(settings.ring_timeout * 1000),
        max_closed_conversations=settings.max_closed_conversations,
        max_events_per_conversation=settings.max_events_per_conversation,
    )


def build_world(settings: Settings, clock: Clock | None = None, ids: Ids | None = None) -> World:
    """The core of a mockle configured by ``settings`` (an injected clock and ids for tests)."""
    clock = clock or SystemClock()
    ids = ids or Ids(settings.seed)
    key = read_signing_key(settings.signing_key) if settings.signing_key else None
    tokens = TokenService(clock, ids, key)
    return World.build(core_config(settings), clock=clock, ids=ids, tokens=tokens)


def create_app(settings: Settings | None = None, world: World | None = None) -> web.Application:
    settings = settings or Settings()
    world = world or build_world(settings)
    journal = Journal(settings.journal_size, world.clock.now_ms)
    webhooks = WebhookWorker(settings, world.clock, journal, world.faults)
    watch = ConversationWatch()
    hub = Hub()
    hub.webhook_sink = webhooks.submit
    world.engine.listeners.extend([journal, watch, webhooks])
    runtime = Runtime(settings, world, hub, journal, webhooks, watch)
    manifests = [(str(p), load_document(p, "app manifest")) for p in settings.app]
    install_startup_apps(runtime, manifests)

    # one middleware: last resort, admin token, journal and faults, in that order
    app = web.Application(client_max_size=settings.max_body_size, middlewares=[gateway(runtime)])
    app[RUNTIME] = runtime
    rest.setup(app)  # first: the hot routes resolve first
    for module in (login, control, admin, inspect, faults, ums, ui):
        module.setup(app)
    app.cleanup_ctx.append(webhooks.context)

    async def on_startup(app: web.Application) -> None:
        runtime.ready = True

    async def on_shutdown(app: web.Application) -> None:
        runtime.ready = False
        runtime.journal.close()  # long-polls on the journal (a browser's, `mockle tail`) answer now
        runtime.hub.cancel_pending()

    app.on_startup.append(on_startup)
    app.on_shutdown.append(on_shutdown)
    return app
