"""The control API under ``/_mockle/``: a public contract (see the README)."""

from __future__ import annotations

from aiohttp import web

from mockle.web.app import RUNTIME, Runtime, json_response


async def health(request: web.Request) -> web.Response:
    runtime = request.app[RUNTIME]
    if not runtime.ready:
        return json_response({"status": "starting"}, 503)
    return json_response({"status": "ok"})


def setup(app: web.Application, runtime: Runtime) -> None:
    app.router.add_get("/_mockle/health", health)
