"""Control routes that act on identities and live sockets, and the admin token.

* ``POST /_mockle/tokens/expire`` ``{"account", "consumer_id"?, "ext_consumer_id"?,
  "agent_id"?}``: every token issued so far (to that consumer, or that agent's login bearers)
  stops working now: REST calls get 401 (40102 for an AppJWT, 40103 for a ConsumerJWS) and open
  sockets close (4401; 4407 for signup identities).
* ``POST /_mockle/connections/close`` ``{"account", "consumer_id"?, "agent_id"?, "code",
  "reason"?}``: closes the live WebSockets of an account (or of one consumer or agent) now.

``agent_id`` is an agent's PID (``userPid``) or legacy id (``<account>.<userId>``).
* With ``--admin-token`` set, every ``/_mockle/*`` route but ``/_mockle/health`` and the Agent
  Workspace's files (``/_mockle/ui/...``) requires ``Authorization: Bearer <token>``, or the
  workspace's session cookie (:mod:`mockle.web.ui`: browsers cannot set a header on a page
  load or a WebSocket upgrade).
"""

from __future__ import annotations

import secrets

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, field_validator

from mockle.core import errors
from mockle.core.closecodes import check_sendable
from mockle.core.effects import Effects
from mockle.core.tokens import lp_consumer_id
from mockle.web.bodies import read_model
from mockle.web.responses import error_of, error_response, json_response
from mockle.web.runtime import RUNTIME
from mockle.web.ui import has_session

OPEN_PATHS = frozenset({"/_mockle/health"})
OPEN_PREFIX = "/_mockle/ui"  # the workspace's page and its session route


def refusal(request: web.Request, token: str) -> web.Response | None:
    """The 401 for a control API call without the admin token (``None``: it may pass)."""
    path = request.path
    if not path.startswith("/_mockle/") or path in OPEN_PATHS or _is_open(path):
        return None
    given = request.headers.get("Authorization", "").encode("utf-8", "surrogateescape")
    if secrets.compare_digest(given, f"Bearer {token}".encode()) or has_session(request, token):
        return None
    return error_response(
        401,
        "Unauthorized",
        "the control API requires 'Authorization: Bearer <admin token>' "
        "(mockle runs with --admin-token), or the Agent Workspace's session "
        "cookie (POST /_mockle/ui/session)",
    )


def _is_open(path: str) -> bool:
    return path == OPEN_PREFIX or path.startswith(OPEN_PREFIX + "/")


class ExpireTokens(BaseModel):
    model_config = ConfigDict(extra="forbid")

    account: str = Field(min_length=1)
    consumer_id: str | None = None
    ext_consumer_id: str | None = None
    agent_id: str | None = None


class CloseConnections(BaseModel):
    model_config = ConfigDict(extra="forbid")

    account: str = Field(min_length=1)
    consumer_id: str | None = None
    agent_id: str | None = None
    code: int = Field(ge=1000, le=4999)
    reason: str = Field("closed through the control API", max_length=120)

    _sendable = field_validator("code")(check_sendable)


async def expire_tokens(request: web.Request) -> web.Response:
    runtime = request.app[RUNTIME]
    try:
        body: ExpireTokens = await read_model(request, ExpireTokens)
    except errors.MockleError as exc:
        return error_of(exc)
    consumer = body.consumer_id
    if consumer is None and body.ext_consumer_id is not None:
        consumer = lp_consumer_id(body.account, body.ext_consumer_id)
    if consumer is None and body.agent_id is not None:
        agent = runtime.engine.find_agent(body.account, body.agent_id)
        if agent is None:
            return error_response(
                404, "Not Found", f"no agent {body.agent_id!r} on account {body.account}"
            )
        consumer = agent.pid
    fx = Effects()
    count = runtime.engine.expire_tokens(body.account, consumer, fx)
    runtime.hub.dispatch(fx)
    return json_response({"expired": count, "closed": len(fx.closes)})


async def close_connections(request: web.Request) -> web.Response:
    runtime = request.app[RUNTIME]
    try:
        body: CloseConnections = await read_model(request, CloseConnections)
    except errors.MockleError as exc:
        return error_of(exc)
    agent = runtime.engine.find_agent(body.account, body.agent_id) if body.agent_id else None
    hit = [
        sock
        for sock in runtime.sockets
        if sock.session.account == body.account
        and (body.consumer_id is None or sock.session.consumer_id == body.consumer_id)
        and (body.agent_id is None or (agent is not None and sock.session.agent_id == agent.pid))
    ]
    for sock in hit:
        sock.close(body.code, body.reason)
    return json_response({"closed": len(hit)})


def setup(app: web.Application) -> None:
    app.router.add_post("/_mockle/tokens/expire", expire_tokens)
    app.router.add_post("/_mockle/connections/close", close_connections)
