"""The UMS WebSocket routes: the aiohttp side of :mod:`mockle.core.ums`, for both roles.

* consumer: ``GET /ws_api/account/{account}/messaging/consumer?v=3`` and the token-in-path form
  ``/ws_api/account/{account}/messaging/consumer/{jwt}?v=3`` (``v=2`` too);
* agent: ``GET /ws_api/account/{account}/messaging/brand/{bearer}?v=2.1`` (``v=2`` and ``v=3``
  too), the bearer of a Login Service login (agent-sdk.md §4).

Each socket is a :class:`~mockle.web.socket.UmsSocket` registered with the hub under its
session id, and with the runtime's live sockets (so a shutdown closes it with 1001).
"""

from __future__ import annotations

from aiohttp import web

from mockle.core.effects import Effects
from mockle.core.engine import parse_client_properties
from mockle.core.sessions import Session, client_properties_from_query, merge_properties
from mockle.core.tokens import token_from_header
from mockle.settings import Settings
from mockle.web import framepath
from mockle.web.hooks import SocketHooks
from mockle.web.journal import upgraded
from mockle.web.responses import error_response
from mockle.web.runtime import RUNTIME, Runtime
from mockle.web.socket import CLOSE_HANDSHAKE_S, SocketTimers, UmsSocket, close_all

VERSIONS = frozenset({"2", "2.0", "2.1", "3", "3.0"})


def _version(request: web.Request, default: str) -> str | web.Response:
    version = request.query.get("v", default)
    if version not in VERSIONS:
        return error_response(
            400,
            "Bad Request",
            f"protocol version v={version!r} is not supported (use v=3, v=2.1 or v=2)",
        )
    return version


def ws_max_size(settings: Settings) -> int:
    """aiohttp's ``max_msg_size``: it refuses a message of that many bytes, so +1 lets
    ``--ws-max-frame N`` accept N."""
    return settings.ws_max_frame + 1


def _upgrade(request: web.Request, runtime: Runtime) -> web.WebSocketResponse | web.Response:
    ws = web.WebSocketResponse(
        autoping=False,
        max_msg_size=ws_max_size(runtime.settings),
        timeout=CLOSE_HANDSHAKE_S,
    )
    if not ws.can_prepare(request).ok:
        return error_response(
            426,
            "Upgrade Required",
            f"{request.path} is a WebSocket endpoint: open it with a WebSocket client",
        )
    return ws


async def _serve(
    request: web.Request,
    runtime: Runtime,
    ws: web.WebSocketResponse,
    session: Session,
    fx: Effects,
) -> web.WebSocketResponse:
    world = runtime.world
    hooks = SocketHooks(session, runtime.journal, world.faults)
    hooks.transport = request.transport
    settings = runtime.settings
    timers = SocketTimers(settings.ws_idle_timeout, settings.ws_auth_timeout)
    sock = UmsSocket(
        ws, session, world.ums, runtime.hub, hooks, timers, world.clock, request.transport
    )
    # registered before the handshake: a shutdown that begins while the client already sees
    # the 101 still finds this socket and closes it with 1001
    runtime.sockets.add(sock)
    runtime.hub.register(session.id, sock)
    try:
        await ws.prepare(request)
        if not ws.compress:  # a compressed socket's frames are aiohttp's alone
            sock.path = framepath.install(request.protocol, sock, ws_max_size(settings))
        upgraded(request, runtime.journal)  # its log line comes before the socket's frames
        runtime.hub.dispatch(fx)
        await sock.run()
    finally:
        runtime.hub.unregister(session.id)
        runtime.hub.dispatch(world.ums.closed(session))
        runtime.sockets.discard(sock)
        sock.finished.set()
    return ws


def _accept(
    request: web.Request, runtime: Runtime, default_version: str
) -> tuple[str, web.WebSocketResponse] | web.Response:
    """The protocol version and the socket to prepare, or the refusal to answer."""
    version = _version(request, default_version)
    if isinstance(version, web.Response):
        return version
    ws = _upgrade(request, runtime)
    if isinstance(ws, web.Response):
        return ws
    return version, ws


async def consumer_socket(request: web.Request) -> web.StreamResponse:
    runtime = request.app[RUNTIME]
    accepted = _accept(request, runtime, "3")
    if isinstance(accepted, web.Response):
        return accepted
    version, ws = accepted
    token = token_from_header(request.headers.get("Authorization"))
    if token is None:
        token = request.match_info.get("jwt") or None
    props = merge_properties(
        parse_client_properties(request.headers.get("Client-Properties")),
        client_properties_from_query(request.query.items()),
    )
    session, fx = runtime.world.ums.open_consumer(
        request.match_info["account"], token=token, version=version, client_properties=props
    )
    return await _serve(request, runtime, ws, session, fx)


async def agent_socket(request: web.Request) -> web.StreamResponse:
    runtime = request.app[RUNTIME]
    accepted = _accept(request, runtime, "2.1")
    if isinstance(accepted, web.Response):
        return accepted
    version, ws = accepted
    session, fx = runtime.world.ums.open_agent(
        request.match_info["account"], request.match_info["bearer"], version=version
    )
    return await _serve(request, runtime, ws, session, fx)


async def _close_all(app: web.Application) -> None:
    await close_all(app[RUNTIME].sockets)


def setup(app: web.Application) -> None:
    base = "/ws_api/account/{account}/messaging/consumer"
    app.router.add_get(base, consumer_socket)
    app.router.add_get(base + "/{jwt}", consumer_socket)
    app.router.add_get("/ws_api/account/{account}/messaging/brand/{bearer}", agent_socket)
    app.on_shutdown.append(_close_all)
