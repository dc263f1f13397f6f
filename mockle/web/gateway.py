"""The one middleware every request passes through: admin token, journal, faults, last resort.

Each of these used to be a middleware of its own, so that a SEND went through four wrappers
(four coroutine frames, the route's target and account worked out twice) before its handler.
Here they are one coroutine, in the order they always had, outermost first:

1. **last resort**: an unknown route or method gets mockle's JSON 404/405, a body over
   ``--max-body-size`` the 413, and a bug a 500 without details (logged, and counted in
   ``runtime.bugs`` for the pytest plugin), never a traceback;
2. **admin token** (``--admin-token``): control API calls without it get 401
   (:func:`mockle.web.admin.refusal`);
3. **journal**: every LiveEngage request is recorded with its answer (:mod:`mockle.web.journal`);
   the control API is not, and is logged only at debug;
4. **faults**: a fault armed for the request's target and account answers, delays, drops or
   closes instead of the handler (:mod:`mockle.web.faults`); with no fault armed this is one
   truth test.

A WebSocket upgrade takes the journal's :func:`~mockle.web.journal.upgrade` path (its entry is
recorded at once, as a socket lives long), with the faults inside it as before.
"""

from __future__ import annotations

import logging
import time
from functools import partial
from typing import Any

from aiohttp import web

from mockle.logs import CONTROL
from mockle.web import admin, faults
from mockle.web import journal as journaling
from mockle.web.journal import Dropped, account_of, is_upgrade, target_of
from mockle.web.responses import error_response, too_large
from mockle.web.runtime import Runtime

log = logging.getLogger("mockle")
_perf = time.perf_counter


def gateway(runtime: Runtime) -> Any:
    """The middleware for ``runtime``'s application."""
    journal = runtime.journal
    plan = runtime.world.faults
    token = runtime.settings.admin_token
    control_logged = CONTROL.isEnabledFor
    debug = logging.DEBUG

    async def control(request: web.Request, handler: Any) -> web.StreamResponse:
        if token and (refused := admin.refusal(request, token)) is not None:
            return refused
        if control_logged(debug):
            return await journaling.control_call(journal, request, handler)
        return await handler(request)  # type: ignore[no-any-return]

    async def upgrade(request: web.Request, handler: Any, target: str) -> web.StreamResponse:
        account = account_of(request)
        if faults.armed(plan, target, account):
            handler = partial(faults.apply, plan, target=target, account=account, handler=handler)
        return await journaling.upgrade(journal, request, handler)

    @web.middleware
    async def mockle_gateway(request: web.Request, handler: Any) -> web.StreamResponse:
        try:
            target = target_of(request)
            if target is None:
                return await control(request, handler)
            if target == "ws_connect" and is_upgrade(request):
                return await upgrade(request, handler, target)
            # a LiveEngage call (SEND and CONVERSATION among them): inline, the hot path
            start = _perf()
            try:
                # `plan and` first: no account lookup while no fault is armed at all
                if plan and faults.armed(plan, target, account := account_of(request)):
                    resp: web.StreamResponse = await faults.apply(
                        plan, request, target, account, handler
                    )
                else:
                    resp = await handler(request)
            except Dropped:
                await journaling.unanswered(
                    journal, request, target, start, None, "dropped by a fault"
                )
                raise
            except web.HTTPException as exc:  # 404/405 for unknown routes: still what was sent
                await journaling.unanswered(journal, request, target, start, exc.status, exc.reason)
                raise
            await journaling.answered(journal, request, target, resp, start)
            return resp
        except web.HTTPNotFound:
            return error_response(
                404, "Not Found", f"no mockle route for {request.method} {request.path}"
            )
        except web.HTTPMethodNotAllowed as exc:
            allowed = ", ".join(sorted(exc.allowed_methods))
            return error_response(
                405,
                "Method Not Allowed",
                f"{request.method} is not allowed here (allowed: {allowed})",
            )
        except web.HTTPRequestEntityTooLarge:
            return too_large(runtime.settings.max_body_size)
        except web.HTTPException:
            raise
        except Exception:  # a bug: log it, record it, answer without details
            return bug(runtime, request.method, request.path)

    return mockle_gateway


def bug(runtime: Runtime, method: str, path: str) -> web.Response:
    """The last resort's answer to a bug, from inside an ``except`` block: logged with its
    traceback, counted in ``runtime.bugs`` (the pytest plugin fails the test), answered 500
    without details."""
    log.exception("unhandled error in %s %s", method, path)
    runtime.bugs.append(f"{method} {path}")
    return error_response(500, "Internal Server Error", "mockle hit a bug; see its log")
