"""The Login Service routes (CSDS ``agentVep``) and the agent public profile (``acCdnDomain``):
the aiohttp side of :mod:`mockle.core.login`.

* ``POST /api/account/{account}/login?v=1.3`` (``v=1.1`` / ``1.2`` of older tutorials too):
  the documented body and a ``session_id`` cookie;
* ``POST /api/account/{account}/refresh?v=1.3`` and ``.../logout?v=1.3``: ``{"csrf"}`` with the
  cookie; an empty 200;
* ``GET /api/account/{account}/configuration/le-users/users/{agentPid}``: the agent's public
  profile (seed 003, "Agent Public Profile"), 404 for an agent mockle does not know.
"""

from __future__ import annotations

from aiohttp import web

from mockle.core import agents
from mockle.core.effects import Effects
from mockle.core.login import SESSION_COOKIE, LoginReply
from mockle.web.bodies import public_base, read_raw
from mockle.web.responses import error_response, json_response
from mockle.web.runtime import RUNTIME


def _write(reply: LoginReply, secure: bool) -> web.Response:
    if reply.body is None:
        resp = web.Response(status=reply.status)
    else:
        resp = json_response(reply.body, status=reply.status)
    for name, value in reply.cookies.items():
        resp.set_cookie(name, value, path="/", httponly=True, secure=secure, samesite="Lax")
    return resp


async def login(request: web.Request) -> web.Response:
    runtime = request.app[RUNTIME]
    raw = await read_raw(request, runtime.settings.max_body_size)
    if isinstance(raw, web.Response):
        return raw
    base = public_base(request, runtime.settings.public_address)
    if isinstance(base, web.Response):
        return base
    reply = runtime.world.login.login(request.match_info["account"], raw, base)
    return _write(reply, request.secure)


async def _with_session(request: web.Request, logout: bool) -> web.Response:
    """``refresh`` or ``logout``: ``{"csrf"}`` with the login's cookie."""
    runtime = request.app[RUNTIME]
    raw = await read_raw(request, runtime.settings.max_body_size)
    if isinstance(raw, web.Response):
        return raw
    account, cookie = request.match_info["account"], request.cookies.get(SESSION_COOKIE)
    service = runtime.world.login
    if not logout:
        return _write(service.refresh(account, raw, cookie), request.secure)
    fx = Effects()
    reply = service.logout(account, raw, cookie, fx)
    runtime.hub.dispatch(fx)  # the agent's sockets close 4401
    return _write(reply, request.secure)


async def refresh(request: web.Request) -> web.Response:
    return await _with_session(request, logout=False)


async def logout(request: web.Request) -> web.Response:
    return await _with_session(request, logout=True)


async def public_profile(request: web.Request) -> web.Response:
    runtime = request.app[RUNTIME]
    account, pid = request.match_info["account"], request.match_info["pid"]
    agent = runtime.world.engine.find_agent(account, pid)  # the simulated agent too
    if agent is None:
        return error_response(404, "Not Found", f"no agent {pid!r} on account {account}")
    return json_response(agents.public_profile(agent))


def setup(app: web.Application) -> None:
    acc = "/api/account/{account}"
    app.router.add_post(f"{acc}/login", login)
    app.router.add_post(f"{acc}/refresh", refresh)
    app.router.add_post(f"{acc}/logout", logout)
    app.router.add_get(f"{acc}/configuration/le-users/users/{{pid}}", public_profile)
