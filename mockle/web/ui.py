"""The Agent Workspace: the browser page under ``/_mockle/ui/`` and its admin-token session.

* ``GET /`` (and ``GET /_mockle/ui``) redirect to ``/_mockle/ui/``, keeping the query string
  (``/?account=ACC``).
* ``GET /_mockle/ui/{file}`` serves the page's static files from ``mockle/web/ui/`` (shipped in
  the wheel: no build step, nothing fetched from elsewhere). They are open even with
  ``--admin-token``: the page has to load to ask for the token.
* ``GET /_mockle/ui/session`` says whether the control API needs the admin token and whether
  this browser already holds the session cookie: ``{"adminToken": bool, "authenticated": bool}``.
* ``POST /_mockle/ui/session`` ``{"token": "<admin token>"}`` answers like ``GET`` and sets
  the cookie ``mockle_admin`` (HttpOnly, SameSite=Strict, Path=/_mockle, Secure under TLS)
  that the admin middleware accepts in place of ``Authorization: Bearer <token>``. Browsers
  cannot put a header on a page load or a WebSocket upgrade, and a token in a URL ends up in
  logs and history; the cookie carries a value derived from the token (an HMAC), never the
  token itself. A wrong token answers 401. ``DELETE`` clears the cookie. All three answer
  JSON, like the control API.
"""

from __future__ import annotations

import hashlib
import hmac
from pathlib import Path

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from mockle.core import errors
from mockle.web.bodies import read_model
from mockle.web.responses import error_of, error_response, json_response
from mockle.web.runtime import RUNTIME

UI_DIR = Path(__file__).parent / "ui"
UI_PREFIX = "/_mockle/ui/"
COOKIE = "mockle_admin"
COOKIE_PATH = "/_mockle"
CONTENT_TYPES = {
    ".html": "text/html",
    ".js": "text/javascript",
    ".css": "text/css",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".txt": "text/plain",
    ".json": "application/json",
}
# Everything the page loads comes from this origin; the agent socket is same-origin too.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "
        "form-action 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}


def session_value(token: str) -> str:
    """The cookie value that stands for ``token``: an HMAC of it, not the token itself."""
    return hmac.new(token.encode(), b"mockle ui session v1", hashlib.sha256).hexdigest()


def has_session(request: web.Request, token: str) -> bool:
    """Whether the request carries the session cookie of ``token``."""
    given = request.cookies.get(COOKIE, "").encode("utf-8", "surrogateescape")
    return hmac.compare_digest(given, session_value(token).encode())


class SessionBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    token: str = Field(min_length=1, max_length=4096)


async def to_workspace(request: web.Request) -> web.StreamResponse:
    query = request.query_string
    raise web.HTTPFound(UI_PREFIX + (f"?{query}" if query else ""))


async def static_file(request: web.Request) -> web.StreamResponse:
    name = request.match_info["file"] or "index.html"
    path = (UI_DIR / name).resolve()
    kind = CONTENT_TYPES.get(path.suffix)
    if kind is None or not path.is_relative_to(UI_DIR.resolve()) or not path.is_file():
        return error_response(404, "Not Found", f"the Agent Workspace has no file {name!r}")
    return web.FileResponse(path, headers={**SECURITY_HEADERS, "Content-Type": kind})


async def get_session(request: web.Request) -> web.Response:
    token = request.app[RUNTIME].settings.admin_token
    return json_response(
        {
            "adminToken": token is not None,
            "authenticated": token is None or has_session(request, token),
        },
        headers={"Cache-Control": "no-store"},
    )


async def post_session(request: web.Request) -> web.Response:
    token = request.app[RUNTIME].settings.admin_token
    try:
        body: SessionBody = await read_model(request, SessionBody)
    except errors.MockleError as exc:
        return error_of(exc)
    if token is None:
        return json_response({"adminToken": False, "authenticated": True})
    if not hmac.compare_digest(body.token.encode(), token.encode()):
        return error_response(401, "Unauthorized", "that is not mockle's admin token", "$.token")
    resp = json_response({"adminToken": True, "authenticated": True})
    resp.set_cookie(
        COOKIE,
        session_value(token),
        path=COOKIE_PATH,
        httponly=True,
        samesite="Strict",
        secure=request.secure,
    )
    return resp


async def delete_session(request: web.Request) -> web.Response:
    token = request.app[RUNTIME].settings.admin_token
    resp = json_response({"adminToken": token is not None, "authenticated": token is None})
    resp.del_cookie(COOKIE, path=COOKIE_PATH)
    return resp


def setup(app: web.Application) -> None:
    r = app.router
    r.add_get("/", to_workspace)
    r.add_get("/_mockle/ui", to_workspace)
    r.add_get("/_mockle/ui/session", get_session)
    r.add_post("/_mockle/ui/session", post_session)
    r.add_delete("/_mockle/ui/session", delete_session)
    r.add_get(UI_PREFIX + "{file:.*}", static_file)
