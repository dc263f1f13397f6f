"""How every HTTP answer of mockle is written: JSON bodies and the error envelope.

A leaf module: every web module may import it, and it imports no other web module.
"""

from __future__ import annotations

import re
from typing import Any

import orjson
from aiohttp import web

from mockle.core import errors
from mockle.core.connector import RestReply
from mockle.core.render import error_envelope

HINT_HEADER = "x-mockle-hint"
_NOT_PRINTABLE = re.compile(r"[^\x20-\x7e]")


def header_text(text: str, limit: int = 1000) -> str:
    """``text`` as a header value: printable ASCII only (anything else escaped), bounded."""
    safe = _NOT_PRINTABLE.sub(lambda m: m.group(0).encode("unicode_escape").decode(), text)
    return safe if len(safe) <= limit else safe[: limit - 1] + "~"


def with_hint(headers: dict[str, str], hint: str | None) -> dict[str, str]:
    """``headers`` and, when there is one, mockle's explanation of a refusal (``x-mockle-hint``:
    beside the documented body, which keeps the real service's wording)."""
    if hint is None:
        return headers
    return {**headers, HINT_HEADER: header_text(hint)}


JSON_CONTENT_TYPE = "application/json; charset=utf-8"  # what json_response() writes


def rest_body(reply: RestReply) -> bytes:
    """A Connector API answer's body as written (the generic route and the fast path)."""
    return orjson.dumps(reply.body)


def rest_headers(reply: RestReply) -> dict[str, str]:
    """A Connector API answer's own headers (``x-mockle-hint`` among them), before aiohttp's."""
    return with_hint(reply.headers, reply.hint)


class RestResponse(web.Response):
    """A Connector API answer that keeps the core's reply and the request's body: the journal
    records the body the handler read and its log line reads the request the core parsed,
    instead of reading and parsing them again."""

    __slots__ = ("reply", "request_body")

    def __init__(self, reply: RestReply, request_body: bytes) -> None:
        super().__init__(
            body=rest_body(reply),
            status=reply.status,
            headers=rest_headers(reply),
            content_type="application/json",
            charset="utf-8",
        )
        self.reply = reply
        self.request_body = request_body  # what the client sent, read once (for the journal)


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
    hint: str | None = None,
) -> web.Response:
    """The ``.ReqBody$ErrorResp`` envelope; ``errorCode`` is the status x 100 unless given."""
    code = status * 100 if error_code is None else error_code
    body = error_envelope(status, title, details, code, where)
    return json_response(body, status, with_hint({}, hint) if hint else None)


def error_of(exc: errors.MockleError) -> web.Response:
    """A core error as mockle's own routes answer it (the ``.ReqBody$ErrorResp`` envelope)."""
    return error_response(
        exc.http_status, exc.title, exc.details, exc.where, exc.error_code, exc.hint
    )


def too_large(limit: int) -> web.Response:
    """The 413 of a body over ``--max-body-size`` (every route answers it the same way)."""
    return error_response(
        413, "Payload Too Large", f"the body exceeds {limit} bytes (--max-body-size)"
    )
