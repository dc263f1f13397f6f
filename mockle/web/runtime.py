"""What one running mockle holds on the web side: one typed field per service.

Handlers reach it as ``request.app[RUNTIME]``. The core is ``runtime.world``; the rest are the
web layer's own services (the hub, the journal, the webhook worker, the conversation watch, the
live sockets). This module imports only service modules, never a route module, so the web
package has no import circle: route modules import this one, and ``app.py`` imports them all.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from aiohttp import web

from mockle.core.apps import App
from mockle.core.engine import Engine
from mockle.core.world import World
from mockle.settings import Settings
from mockle.web.hub import Hub
from mockle.web.journal import Journal
from mockle.web.socket import UmsSocket
from mockle.web.watch import ConversationWatch
from mockle.web.webhooks import WebhookWorker


@dataclass(eq=False)
class Runtime:
    settings: Settings
    world: World
    hub: Hub
    journal: Journal
    webhooks: WebhookWorker
    watch: ConversationWatch
    sockets: set[UmsSocket] = field(default_factory=set)
    startup_apps: list[App] = field(default_factory=list)  # --app installations (kept on reset)
    bugs: list[str] = field(default_factory=list)  # requests that hit a bug (answered 500)
    ready: bool = False

    @property
    def engine(self) -> Engine:
        return self.world.engine


RUNTIME = web.AppKey("runtime", Runtime)
