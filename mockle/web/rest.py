"""REST routes of the LiveEngage services: Domain API, Sentinel, IDP, Connector API.

Thin handlers: read the request, call the core once, dispatch the effects, write.
"""

from __future__ import annotations

from aiohttp import web

from mockle.core import connector, errors, identity
from mockle.core.connector import RestCall, RestReply
from mockle.core.files import MAX_FILE_BYTES
from mockle.web.bodies import public_base, read_raw
from mockle.web.responses import RestResponse, error_response, json_response
from mockle.web.runtime import RUNTIME, Runtime


def _base(request: web.Request, runtime: Runtime) -> str | web.Response:
    return public_base(request, runtime.settings.public_address)


async def csds_all(request: web.Request) -> web.Response:
    base = _base(request, request.app[RUNTIME])
    if isinstance(base, web.Response):
        return base
    return json_response(identity.csds_all(request.match_info["account"], base))


async def csds_one(request: web.Request) -> web.Response:
    base = _base(request, request.app[RUNTIME])
    if isinstance(base, web.Response):
        return base
    account, service = request.match_info["account"], request.match_info["service"]
    return json_response(identity.csds_one(account, service, base))


async def _body(request: web.Request) -> bytes | web.Response:
    return await read_raw(request, request.app[RUNTIME].settings.max_body_size)


async def sentinel_token(request: web.Request) -> web.Response:
    runtime = request.app[RUNTIME]
    body = await _body(request)
    if isinstance(body, web.Response):
        return body
    params: dict[str, str] = {}
    if body and request.content_type in ("application/x-www-form-urlencoded", "", "text/plain"):
        from urllib.parse import parse_qsl

        try:
            params.update(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
        except UnicodeDecodeError:
            return error_response(400, "Bad Request", "the form body is not valid UTF-8")
    for key, value in request.query.items():
        params.setdefault(key, value)
    status, payload = identity.app_token(runtime.engine, request.match_info["account"], params)
    return json_response(payload, status)


async def consumer_jws(request: web.Request) -> web.Response:
    runtime = request.app[RUNTIME]
    body = await _body(request)
    if isinstance(body, web.Response):
        return body
    auth = request.headers.get("Authorization")
    status, payload = identity.consumer_jws(
        runtime.engine, request.match_info["account"], auth, body
    )
    return json_response(payload, status)


async def signup(request: web.Request) -> web.Response:
    runtime = request.app[RUNTIME]
    status, payload = identity.signup(runtime.engine, request.match_info["account"])
    return json_response(payload, status)


async def _call(request: web.Request) -> RestCall | web.Response:
    body = await _body(request)
    if isinstance(body, web.Response):
        return body
    h = request.headers
    return RestCall(
        request.match_info["account"],
        h.get("Authorization"),
        h.get("X-LP-ON-BEHALF"),
        h.get("Client-Properties"),
        body,
    )


def connector_call(runtime: Runtime, target: str, call: RestCall) -> RestReply:
    """The core's reply to a CONVERSATION (``target`` "conversation") or a SEND ("send"), its
    effects handed to the hub: what both routes do, here and on the fast path
    (:mod:`mockle.web.fastpath`)."""
    if target == "send":
        max_chars = runtime.settings.send_max_chars
        reply, fx = connector.send(runtime.engine, call, max_chars=max_chars)
    else:
        reply, fx = connector.conversation(runtime.engine, call)
    runtime.hub.dispatch(fx)
    return reply


async def conversation(request: web.Request) -> web.Response:
    call = await _call(request)
    if isinstance(call, web.Response):
        return call
    return RestResponse(connector_call(request.app[RUNTIME], "conversation", call), call.body)


async def send(request: web.Request) -> web.Response:
    call = await _call(request)
    if isinstance(call, web.Response):
        return call
    return RestResponse(connector_call(request.app[RUNTIME], "send", call), call.body)


CONTENT_TYPES = {"PNG": "image/png", "JPG": "image/jpeg", "JPEG": "image/jpeg", "GIF": "image/gif"}


def _swift_error(exc: errors.MockleError) -> web.Response:
    """swift answers in plain text (``401 Temp URL invalid``)."""
    return web.Response(status=exc.http_status, text=exc.details)


def _temp_url(request: web.Request) -> tuple[str, str, str]:
    q = request.query
    return request.path, q.get("temp_url_sig", ""), q.get("temp_url_expires", "")


async def swift_put(request: web.Request) -> web.Response:
    """File sharing upload: ``PUT {swift}{relativePath}?temp_url_sig=…&temp_url_expires=…``."""
    files = request.app[RUNTIME].engine.files
    data = bytearray()
    try:
        while chunk := await request.content.readany():
            data += chunk
            if len(data) > MAX_FILE_BYTES:
                raise errors.PayloadTooLarge(
                    f"the file exceeds the 3 MB limit ({MAX_FILE_BYTES} bytes)"
                )
        files.put(*_temp_url(request), bytes(data))
    except errors.MockleError as exc:
        return _swift_error(exc)
    return web.Response(status=201, text="")


async def swift_get(request: web.Request) -> web.Response:
    """File sharing download: ``GET {swift}{relativePath}?temp_url_sig=…&temp_url_expires=…``."""
    files = request.app[RUNTIME].engine.files
    try:
        data = files.get(*_temp_url(request))
    except errors.MockleError as exc:
        return _swift_error(exc)
    ext = request.path.rsplit(".", 1)[-1].upper()
    return web.Response(body=data, content_type=CONTENT_TYPES.get(ext, "application/octet-stream"))


def setup(app: web.Application) -> None:
    acc = "/api/account/{account}"
    # aiohttp tries the routes under one static prefix ("/api/account") in the order they were
    # added: the two hot routes first (a SEND used to try six patterns before its own)
    app.router.add_post(f"{acc}/messaging/consumer/conversation/send", send)
    app.router.add_post(f"{acc}/messaging/consumer/conversation", conversation)
    app.router.add_get(f"{acc}/service/baseURI.json", csds_all)
    app.router.add_get(f"{acc}/service/baseURI", csds_all)
    app.router.add_get("/csdr/account/{account}/service/baseURI.json", csds_all)
    app.router.add_get(f"{acc}/service/{{service}}/baseURI.json", csds_one)
    app.router.add_get("/csdr/account/{account}/service/{service}/baseURI.json", csds_one)
    app.router.add_post("/sentinel/api/account/{account}/app/token", sentinel_token)
    app.router.add_post(f"{acc}/consumer", consumer_jws)
    app.router.add_post(f"{acc}/signup", signup)
    app.router.add_put("/v1/AUTH_async-images/{account}/{name}", swift_put)
    app.router.add_get("/v1/AUTH_async-images/{account}/{name}", swift_get)
