"""The aiohttp application: one host:port serves every LiveEngage service mockle emulates.

``create_app(settings)`` builds the engine, the hub and the routes of every web module. Each
web module is thin: it reads the request, calls the core once, hands the effects to the hub and
writes the reply.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import web

from mockle.core.clock import Clock, Ids, SystemClock
from mockle.core.engine import CoreConfig, Engine
from mockle.core.render import error_envelope
from mockle.core.tokens import TokenService, load_key
from mockle.settings import Settings
from mockle.web.hub import Hub

log = logging.getLogger("mockle")


@dataclass
class Runtime:
    """Everything one running mockle holds; reachable from handlers as ``request.app[RUNTIME]``."""

    settings: Settings
    engine: Engine
    hub: Hub
    extras: dict[str, Any] = field(default_factory=dict)
    ready: bool = False


RUNTIME = web.AppKey("runtime", Runtime)


def build_engine(settings: Settings, clock: Clock | None = None, ids: Ids | None = None) -> Engine:
    clock = clock or SystemClock()
    ids = ids or Ids(settings.seed)
    key = load_key(settings.signing_key.read_bytes()) if settings.signing_key else None
    config = CoreConfig(
        app_jwt_ttl=settings.app_jwt_ttl,
        consumer_jws_ttl=settings.consumer_jws_ttl,
        signup_jwt_ttl=settings.signup_jwt_ttl,
        strict_apps=settings.strict_apps,
        auto_messages=tuple(settings.auto_messages),
        rate_limit=settings.rate_limit,
    )
    return Engine(config, clock=clock, ids=ids, tokens=TokenService(clock, ids, key))


def json_response(
    body: Any, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    return web.Response(
        body=orjson.dumps(body),
        status=status,
        headers=headers,
        content_type="application/json",
        charset="utf-8",
    )


def error_response(
    status: int,
    title: str,
    details: str,
    where: str | None = None,
    error_code: int | None = None,
) -> web.Response:
    """The ``.ReqBody$ErrorResp`` envelope; ``errorCode`` is the status x 100 unless given."""
    code = status * 100 if error_code is None else error_code
    return json_response(error_envelope(status, title, details, code, where), status)


def too_large(limit: int) -> web.Response:
    """The 413 of a body over ``--max-body-size`` (every route answers it the same way)."""
    return error_response(
        413, "Payload Too Large", f"the body exceeds {limit} bytes (--max-body-size)"
    )


@web.middleware
async def last_resort(request: web.Request, handler: Any) -> web.StreamResponse:
    """Unknown routes and methods get JSON; a bug never sends a traceback over the wire."""
    try:
        return await handler(request)  # type: ignore[no-any-return]
    except web.HTTPNotFound:
        return error_response(
            404, "Not Found", f"no mockle route for {request.method} {request.path}"
        )
    except web.HTTPMethodNotAllowed as exc:
        allowed = ", ".join(sorted(exc.allowed_methods))
        return error_response(
            405, "Method Not Allowed", f"{request.method} is not allowed here (allowed: {allowed})"
        )
    except web.HTTPRequestEntityTooLarge:
        return too_large(request.app[RUNTIME].settings.max_body_size)
    except web.HTTPException:
        raise
    except Exception:  # a bug: log it, record it, answer without details
        log.exception("unhandled error in %s %s", request.method, request.path)
        runtime = request.app[RUNTIME]
        runtime.extras.setdefault("bugs", []).append(f"{request.method} {request.path}")
        return error_response(500, "Internal Server Error", "mockle hit a bug; see its log")


def create_app(settings: Settings | None = None, engine: Engine | None = None) -> web.Application:
    from mockle.web import rest

    settings = settings or Settings()
    engine = engine or build_engine(settings)
    runtime = Runtime(settings, engine, Hub())
    app = web.Application(client_max_size=settings.max_body_size, middlewares=[last_resort])
    app[RUNTIME] = runtime
    rest.setup(app, runtime)  # first: the hot routes resolve first
    for module in _modules():
        module.setup(app, runtime)

    async def on_startup(app: web.Application) -> None:
        runtime.ready = True

    async def on_shutdown(app: web.Application) -> None:
        runtime.ready = False
        runtime.hub.cancel_pending()

    app.on_startup.append(on_startup)
    app.on_shutdown.append(on_shutdown)
    return app


def _modules() -> list[Any]:
    """The web modules, in setup order (each has ``setup(app, runtime)``)."""
    from mockle.web import admin, agent, control, faults, journal, ums, waiting, webhooks

    # admin, journal, faults add middlewares: keep them in this order (auth, record, inject)
    return [control, admin, journal, faults, waiting, ums, webhooks, agent]
