"""SEND and CONVERSATION answered on the connection itself, without aiohttp's request machinery.

Every HTTP connection starts with a :class:`FastConnection` as its protocol. For the request at
the head of its buffer it decides (:func:`recognise`):

* a plain ``POST /api/account/{account}/messaging/consumer/conversation[/send]``: HTTP/1.1, one
  ``Content-Length`` within ``--max-body-size`` and the whole body already there (a body in
  pieces goes to aiohttp), header lines of printable ASCII, no ``Transfer-Encoding``,
  ``Content-Encoding``, ``Expect`` or ``Upgrade``, no ``Connection`` other than
  ``keep-alive``, a percent-free account, and no fault armed anywhere. It is answered
  here, synchronously, by what the generic route calls (:func:`mockle.web.rest.connector_call`,
  which hands the effects to the hub, then :func:`mockle.web.journal.recorded` and
  :func:`~mockle.web.journal.finish`), and written as aiohttp writes it: the same status line,
  headers in the same order, the same cached ``Date``;
* anything else: the connection goes to aiohttp's ``RequestHandler`` for good, fed what was
  buffered. Every other route, each refusal aiohttp makes of a malformed request, faults,
  ``--max-body-size``'s 413 and WebSocket upgrades keep their one generic path.

What this skips per request is aiohttp's per-request objects (message, ``Request``, payload
stream, ``Response``, writer), the middleware chain, the route lookup, and the task and the
event-loop turns between them. tests/web/test_fastpath.py proves that both paths answer byte for
byte the same (status line, headers, body, journal entry, log line) and that every case the
recogniser declines reaches aiohttp intact.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from dataclasses import dataclass
from time import perf_counter
from typing import Any

from aiohttp.helpers import rfc822_formatted_time
from aiohttp.http import SERVER_SOFTWARE
from aiohttp.web_response import REASON_PHRASES

from mockle.core.connector import RestCall
from mockle.web import journal as journaling
from mockle.web.gateway import bug
from mockle.web.responses import HINT_HEADER, JSON_CONTENT_TYPE, rest_body, rest_headers
from mockle.web.rest import connector_call
from mockle.web.runtime import Runtime

MAX_HEAD = 8190  # aiohttp's limit for a request line or a header: a longer head is its to refuse
KEEPALIVE_TIMEOUT = 3630.0  # s; aiohttp's RequestHandler closes an idle connection after this
WAIT = 0  # recognise(): the request is not whole yet

# the account: printable ASCII without / % ? # (aiohttp refuses a control byte, DEL or a
# non-ASCII byte in a path with a 400; a percent-encoded one is its to decode)
_REQUEST_LINE = re.compile(
    rb"POST (/api/account/([^/%?#\x00-\x20\x7f-\xff]+)/messaging/consumer/conversation(/send)?"
    rb"(?:\?[\x21-\x7e]*)?) HTTP/1\.1"
)
_PREFIX = b"POST /api/account/"
_FIELD_BYTES = bytes([9, *range(0x20, 0x7F)])  # what a header line may hold: tab, printable
_TOKEN_BYTES = b"!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_CRLFS = b"\r\n" * (MAX_HEAD // 2)
_SERVER_TAIL = f"\r\nServer: {SERVER_SOFTWARE}\r\n\r\n".encode()

# what recognise() does with a header, by its lowered name: one dict lookup instead of a chain
# of comparisons. Every key is a token, so a name found here needs no token check of its own;
# the common names a client sends that mean nothing here are listed as _OTHER for that reason.
_OTHER, _DECLINE, _LENGTH, _CONNECTION, _AUTHORIZATION, _ON_BEHALF, _CLIENT_PROPERTIES = range(7)
_ACTIONS = {
    b"transfer-encoding": _DECLINE,
    b"content-encoding": _DECLINE,
    b"expect": _DECLINE,
    b"upgrade": _DECLINE,
    b"content-length": _LENGTH,
    b"connection": _CONNECTION,
    b"authorization": _AUTHORIZATION,
    b"x-lp-on-behalf": _ON_BEHALF,
    b"client-properties": _CLIENT_PROPERTIES,
    **dict.fromkeys(
        [b"host", b"content-type", b"user-agent", b"accept", b"accept-encoding"], _OTHER
    ),
}


@dataclass(slots=True)
class HotRequest:
    """A SEND or CONVERSATION the fast path answers, as read from the connection."""

    target: str  # "send" or "conversation", the journal's and the faults' name
    path: str  # the request target as sent (percent-encoded, with its query)
    headers: bytes  # the header block as sent: the journal parses it only when it is read
    call: RestCall
    size: int  # bytes of the connection's buffer this request took


def recognise(buf: bytes, max_body: int, at: int = 0) -> HotRequest | int | None:
    """The hot request at ``buf[at:]``; :data:`WAIT` if its head may be one but is not whole
    yet; ``None`` if aiohttp must take the connection (see the module's docstring; also a body
    that has not arrived whole with its head). ``buf`` is bytes, not a bytearray: its slices
    are the request's fields and body as they are."""
    end = buf.find(b"\r\n\r\n", at, at + MAX_HEAD + 4)
    if end < 0:
        return _unfinished(buf, at)
    line_end = buf.find(b"\r\n", at, end + 2)  # found: the CRLFCRLF's first CRLF at the latest
    line = _REQUEST_LINE.fullmatch(buf, at, line_end)
    if line is None or line_end == end:  # not a hot route, or no headers (no Content-Length)
        return None
    block = buf[line_end + 2 : end]
    fields = block.split(b"\r\n")
    # one pass over the bytes: what is left once the printable ones and tabs are gone must be
    # exactly the CRLFs between the lines (a lone CR or LF, a control byte, UTF-8: not hot)
    if block.translate(None, _FIELD_BYTES) != _CRLFS[: 2 * (len(fields) - 1)]:
        return None
    length = authorization = on_behalf = client_properties = None
    action_of = _ACTIONS.get
    for field in fields:
        name, colon, raw = field.partition(b":")
        if not colon:
            return None
        action = action_of(name.lower())
        if action is None:  # a name of no meaning here: it must still be a token
            if not name or name.translate(None, _TOKEN_BYTES):
                return None  # an empty name, or not a token (an obs-fold among them)
        elif action == _OTHER:
            pass
        elif action == _AUTHORIZATION:
            if authorization is None:  # a header given twice: the first, as aiohttp's get()
                authorization = raw.strip(b" \t").decode("ascii")
        elif action == _ON_BEHALF:
            if on_behalf is None:
                on_behalf = raw.strip(b" \t").decode("ascii")
        elif action == _LENGTH:
            raw = raw.strip(b" \t")
            if length is not None or not raw.isdigit() or len(raw) > 18:
                return None
            length = int(raw)
        elif action == _CLIENT_PROPERTIES:
            if client_properties is None:
                client_properties = raw.strip(b" \t").decode("ascii")
        elif action == _CONNECTION:
            if raw.strip(b" \t").lower() != b"keep-alive":
                return None
        else:  # _DECLINE
            return None
    if length is None or length > max_body:
        return None
    size = end + 4 + length
    if len(buf) < size:  # a body in pieces: aiohttp reads it, and answers one cut short
        return None
    account = line.group(2).decode("ascii")
    if account in (".", ".."):
        return None
    call = RestCall(account, authorization, on_behalf, client_properties, buf[end + 4 : size])
    target = "send" if line.group(3) else "conversation"
    return HotRequest(target, line.group(1).decode("ascii"), block, call, size - at)


def _unfinished(buf: bytes, at: int) -> int | None:
    """recognise() for a head not whole yet: :data:`WAIT` while what is there may still
    become a hot head, else ``None``."""
    if len(buf) - at >= MAX_HEAD + 4 or not buf.startswith(_PREFIX[: len(buf) - at], at):
        return None
    line_end = buf.find(b"\r\n", at, at + MAX_HEAD + 2)
    if line_end >= 0 and _REQUEST_LINE.fullmatch(buf, at, line_end) is None:
        return None
    return WAIT


def head(status: int, headers: dict[str, str], length: int) -> bytes:
    """A JSON answer's status line and headers, byte for byte as aiohttp writes them for a
    ``web.Response(body=..., headers=headers, content_type="application/json",
    charset="utf-8")`` to an HTTP/1.1 keep-alive request."""
    out = f"HTTP/1.1 {status} {REASON_PHRASES.get(status, '')}\r\n"
    for name, value in headers.items():
        out += f"{name}: {value}\r\n"
    out += f"Content-Type: {JSON_CONTENT_TYPE}\r\nContent-Length: {length}\r\n"
    return (out + f"Date: {rfc822_formatted_time()}").encode() + _SERVER_TAIL


def answer(runtime: Runtime, request: HotRequest) -> bytes:
    """What the generic route, the gateway and the journal together do for ``request``: the
    core's reply (its effects dispatched), the journal's entry and log line, the bytes to
    write."""
    start = perf_counter()
    try:
        reply = connector_call(runtime, request.target, request.call)
        body = rest_body(reply)
        headers = rest_headers(reply)
        status = reply.status
        ms = (perf_counter() - start) * 1000
        entry = journaling.recorded(
            runtime.journal, request.target, request.call.account, "POST", request.path,
            request.headers, journaling.kept(request.call.body), status, journaling.kept(body),
            ms, log=False,
        )  # fmt: skip
        journaling.finish(entry, headers.get(HINT_HEADER), reply)
    except Exception:  # a bug: as the gateway answers one
        refused = bug(runtime, "POST", request.path.partition("?")[0])
        assert isinstance(refused.body, bytes)
        return head(refused.status, {}, len(refused.body)) + refused.body
    return head(status, headers, len(body)) + body


class FastFront:
    """The protocol factory of mockle's listening socket: a :class:`FastConnection` per
    connection, which hands over to ``fallback`` (aiohttp's ``web.Server``) when it must."""

    def __init__(self, runtime: Runtime, fallback: Callable[[], asyncio.Protocol]) -> None:
        self.runtime = runtime
        self.fallback = fallback
        self.connections: set[FastConnection] = set()  # not handed over (closed on shutdown)
        self.keepalive_timeout = KEEPALIVE_TIMEOUT

    def __call__(self) -> FastConnection:
        return FastConnection(self)

    def close_all(self) -> list[asyncio.Transport]:
        """Close the connections still here (nothing is ever in flight on one: each request is
        answered inside ``data_received``); their transports, for a caller that must abort
        TLS ones."""
        transports = [c.transport for c in self.connections if c.transport is not None]
        for transport in transports:
            transport.close()
        self.connections.clear()
        return transports


class FastConnection(asyncio.Protocol):
    """One connection while its requests are hot ones (see the module's docstring)."""

    __slots__ = ("front", "transport", "_buf", "_paused", "_last", "_idle")

    # _buf holds what has arrived and is not answered yet, as bytes: a request that comes in one
    # piece (the usual case) is read from the data as received, with no copy into a buffer

    def __init__(self, front: FastFront) -> None:
        self.front = front
        self.transport: asyncio.Transport | None = None
        self._buf = b""
        self._paused = False  # the transport's write buffer is full: answer nothing more
        self._last = 0.0
        self._idle: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.front.connections.add(self)
        loop = asyncio.get_running_loop()
        self._last = loop.time()
        self._idle = loop.call_at(self._last + self.front.keepalive_timeout, self._idle_check)

    def connection_lost(self, exc: BaseException | None) -> None:
        self._forget()

    def _forget(self) -> None:
        self.front.connections.discard(self)
        self.transport = None
        if self._idle is not None:
            self._idle.cancel()
            self._idle = None

    def data_received(self, data: bytes) -> None:
        self._serve(self._buf + data if self._buf else data)

    def eof_received(self) -> bool | None:
        return None  # the transport closes: a head cut short was not a request yet

    def pause_writing(self) -> None:
        self._paused = True
        if self.transport is not None:
            self.transport.pause_reading()

    def resume_writing(self) -> None:
        self._paused = False
        if self.transport is not None:
            self.transport.resume_reading()
            self._serve(self._buf)

    def _serve(self, data: bytes) -> None:
        """Answer the whole hot requests at the head of ``data`` (what is buffered and what
        came), in order; keep what is left, or hand the connection over at the first request
        that is not hot."""
        runtime = self.front.runtime
        max_body = runtime.settings.max_body_size
        at = 0  # each request is read where it starts: no copy of the rest per request
        while at < len(data) and not self._paused and self.transport is not None:
            request = recognise(data, max_body, at) if not runtime.world.faults else None
            if request is None:
                transport = self.transport
                self._buf = data[at:]
                self._forget()  # aiohttp tracks the connection from now on
                self._hand_over(transport)
                return
            if not isinstance(request, HotRequest):  # WAIT: the rest has not arrived
                break
            at += request.size
            self.transport.write(answer(runtime, request))
        else:
            self._last = asyncio.get_running_loop().time()
        self._buf = data[at:]

    def _hand_over(self, transport: asyncio.Transport) -> Any:
        """aiohttp's handler, which serves ``transport`` from now on, starting with what is
        buffered (the caller has forgotten the connection here)."""
        handler: Any = self.front.fallback()
        transport.set_protocol(handler)
        handler.connection_made(transport)
        if self._paused:
            transport.resume_reading()
            handler.pause_writing()
        data, self._buf = self._buf, b""
        if data:
            handler.data_received(data)
        return handler

    def _idle_check(self) -> None:
        self._idle = None
        if self.transport is None:
            return
        loop = asyncio.get_running_loop()
        due = self._last + self.front.keepalive_timeout
        if loop.time() >= due and not self._buf:
            self.transport.close()
        else:
            self._idle = loop.call_at(max(due, loop.time() + 1), self._idle_check)
