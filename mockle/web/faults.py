"""Fault injection over HTTP: the ``/_mockle/faults`` routes and how a request meets its faults.

REST targets (``csds``, ``sentinel``, ``idp``, ``login``, ``conversation``, ``send``) and
``ws_connect`` are applied here, before the handler runs: a ``delay_ms`` first, then ``status``
(answered instead of the handler), ``drop`` (the TCP connection is aborted, nothing is written) or,
for ``ws_connect``, ``close_code`` (the socket is accepted and closed at once). ``ws_request`` and
``webhook`` faults are applied by the socket hooks and the webhook worker, from the same plan
(``runtime.world.faults``).

The hot path: with no active fault the gateway (:mod:`mockle.web.gateway`) pays one truth
test. The request's consumer, conversation and type are read (token claims, JSON body) only
when a fault for that target and account exists.
"""

from __future__ import annotations

import asyncio
import base64
from typing import Any, NamedTuple

import orjson
from aiohttp import web

from mockle.core import agents, errors
from mockle.core.faults import Fault, FaultPlan
from mockle.core.requests import conversation_id_of
from mockle.core.tokens import token_from_header
from mockle.web.bodies import read_json
from mockle.web.journal import Dropped
from mockle.web.responses import error_of, json_response
from mockle.web.runtime import RUNTIME

FAULT_TARGETS = frozenset(
    {"csds", "sentinel", "idp", "login", "conversation", "send", "ws_connect"}
)


def claims_of(header: str | None) -> dict[str, Any]:
    """The claims of a JWT, unverified (only to route a fault; never to authenticate)."""
    token = token_from_header(header)
    if not token:
        return {}
    parts = token.split(".")
    if len(parts) != 3:
        return {}
    try:
        doc = orjson.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except (ValueError, orjson.JSONDecodeError):
        return {}
    return doc if isinstance(doc, dict) else {}


def consumer_of_claims(claims: dict[str, Any]) -> str | None:
    value = claims.get("lp_consumer_id") or claims.get("sub")
    return str(value) if value is not None else None


class _Details(NamedTuple):
    """What a request's faults may be matched on (read only when a fault is armed)."""

    consumer: str | None = None
    conversation: str | None = None
    types: list[str] | None = None
    agent: str | None = None


async def _details(request: web.Request, target: str, account: str | None) -> _Details:
    """Who sent a request and what about, for fault matching: the consumer (token claims),
    the agent (the bearer of an agent socket, the username of a login), the conversation and
    the request types."""
    if target == "ws_connect":
        bearer = request.match_info.get("bearer")
        if bearer is not None:  # an agent socket: its bearer says which agent
            info = request.app[RUNTIME].world.engine.tokens.minted(bearer)
            return _Details(agent=info.subject if info is not None else None)
        token = request.headers.get("Authorization") or request.match_info.get("jwt")
        return _Details(consumer_of_claims(claims_of(token)))
    consumer = consumer_of_claims(claims_of(request.headers.get("X-LP-ON-BEHALF")))
    if target not in ("conversation", "send", "login"):
        return _Details(consumer)
    try:
        doc = orjson.loads(await request.read())
    except (orjson.JSONDecodeError, web.HTTPException):
        return _Details(consumer)
    if target == "login":  # a username login names its agent (an assertion does not)
        name = doc.get("username") if isinstance(doc, dict) else None
        if not isinstance(name, str) or not name or account is None:
            return _Details()
        return _Details(agent=agents.pid_of_login(request.app[RUNTIME].world.engine, account, name))
    items = doc if isinstance(doc, list) else [doc]
    types = [str(i["type"]) for i in items if isinstance(i, dict) and "type" in i]
    conv = None
    for item in items:
        found = conversation_id_of(item.get("body")) if isinstance(item, dict) else None
        if found is not None:
            conv = found
    return _Details(consumer, conv, types)


def _respond(fault: Fault, target: str) -> web.Response:
    status, body, headers = fault.rest_response(target)
    if isinstance(body, str):
        return web.Response(text=body, status=status, headers=headers)
    return json_response(body, status, headers)


async def _close_socket(request: web.Request, fault: Fault) -> web.StreamResponse:
    ws = web.WebSocketResponse()
    await ws.prepare(request)
    await ws.close(code=fault.close_code or 1011, message=fault.reason.encode()[:120])
    return ws


def drop(request: web.Request) -> None:
    """Abort the connection without an answer (a ``drop`` fault)."""
    if request.transport is not None:
        request.transport.abort()
    raise Dropped()


def armed(plan: FaultPlan, target: str, account: str | None) -> bool:
    """Whether a fault could apply to this request: one truth test when no fault is armed."""
    return bool(plan) and target in FAULT_TARGETS and plan.armed(target, account)


async def apply(
    plan: FaultPlan, request: web.Request, target: str, account: str | None, handler: Any
) -> web.StreamResponse:
    """The request under the faults armed for its target and account (:func:`armed` said some
    are): the matching fault's delay, then its status, drop or close instead of ``handler``."""
    d = await _details(request, target, account)
    fault = plan.match(
        target,
        account=account,
        consumer_id=d.consumer,
        conversation_id=d.conversation,
        type=d.types,
        agent_id=d.agent,
    )
    if fault is None:
        return await handler(request)  # type: ignore[no-any-return]
    if fault.delay_ms:
        await asyncio.sleep(fault.delay_ms / 1000)
    if fault.drop:
        drop(request)
    if fault.status is not None:
        return _respond(fault, target)
    if fault.close_code is not None and target == "ws_connect":
        return await _close_socket(request, fault)
    return await handler(request)  # type: ignore[no-any-return]


# -- routes -----------------------------------------------------------------------------------


async def add_fault(request: web.Request) -> web.Response:
    plan = request.app[RUNTIME].world.faults
    try:
        fault = plan.add(await read_json(request))
    except errors.MockleError as exc:
        return error_of(exc)
    return json_response({"id": fault.id}, 201)


async def list_faults(request: web.Request) -> web.Response:
    plan = request.app[RUNTIME].world.faults
    account = request.query.get("account") or None
    return json_response({"faults": [f.as_json() for f in plan.faults(account)]})


async def delete_faults(request: web.Request) -> web.Response:
    plan = request.app[RUNTIME].world.faults
    return json_response({"deleted": plan.clear(request.query.get("account") or None)})


async def delete_fault(request: web.Request) -> web.Response:
    plan = request.app[RUNTIME].world.faults
    try:
        plan.delete(request.match_info["id"])
    except errors.MockleError as exc:
        return error_of(exc)
    return json_response({"deleted": 1})


def setup(app: web.Application) -> None:
    app.router.add_post("/_mockle/faults", add_fault)
    app.router.add_get("/_mockle/faults", list_faults)
    app.router.add_delete("/_mockle/faults", delete_faults)
    app.router.add_delete("/_mockle/faults/{id}", delete_fault)
