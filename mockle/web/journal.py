"""The request journal: what a client sent and what mockle answered, for tests to assert on.

A bounded ring buffer (``--journal-size`` entries, default 10,000): the oldest entry goes when a
new one comes, so memory stays flat however long mockle runs. Three kinds of entry:

* every LiveEngage REST request with its response (``target`` as in faults: ``csds``,
  ``sentinel``, ``idp``, ``conversation``, ``send``, ``ws_connect``; ``other`` for the rest);
* every WebSocket frame (``target`` ``ws``, ``direction`` ``in`` or ``out``);
* every webhook delivery attempt (``target`` ``webhook``).

Recording is cheap: an entry keeps references to the bytes and dicts that were on the wire and
is rendered (JSON parsed, tokens shortened, bodies truncated) only when someone reads it.
``GET /_mockle/requests`` filters and, with ``wait``, long-polls: it answers as soon as ``min``
matching entries exist, so clients wait on the entry itself instead of sleeping.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import re
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson
from aiohttp import web

from mockle.core.dialects import lookup
from mockle.core.effects import Listener
from mockle.core.sessions import Session
from mockle.web.responses import HINT_HEADER

log = logging.getLogger("mockle")

BODY_LIMIT = 16_384  # bytes of a body kept per entry (and shown)
SECRET_HEADERS = frozenset({"authorization", "x-lp-on-behalf", "x-liveperson-signature"})
_ACCOUNT_IN_PATH = re.compile(r"/account/([^/]+)")
_JWT = re.compile(r"[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}")


def shorten(value: str) -> str:
    """A secret as the journal shows it: its first 10 characters and an ellipsis."""
    return value if len(value) <= 12 else value[:10] + "…"


def _shorten_jwts(text: str) -> str:
    return _JWT.sub(lambda m: shorten(m.group(0)), text)


class Dropped(asyncio.CancelledError):
    """Raised after a ``drop`` fault aborted the connection: nothing more is written."""


@dataclass(slots=True, eq=False)
class Entry:
    """One journal entry, as recorded (references, not copies)."""

    id: int
    time: int
    target: str
    account: str | None
    method: str | None
    path: str | None
    headers: Any  # a mapping or a list of (name, value) pairs
    body: Any  # bytes, str or a JSON value
    status: int | None
    response: Any  # bytes, str, a JSON value or None
    direction: str | None = None
    consumer_id: str | None = None
    session: str | None = None
    conversation_id: str | None = None
    agent_id: str | None = None
    type: str | None = None
    error: str | None = None
    hint: str | None = None  # mockle's explanation of a refusal (the x-mockle-hint header)

    # -- lazy views (computed on read) ----------------------------------------------------

    def body_value(self) -> Any:
        return _value(self.body)

    def response_value(self) -> Any:
        return _value(self.response)

    def types(self) -> list[str]:
        found = _types(self.body_value())
        return [self.type, *found] if self.type is not None else found

    def conversation_ids(self) -> set[str]:
        found: set[str] = set()
        if self.conversation_id is not None:
            found.add(self.conversation_id)
        _collect_conversations(self.body_value(), found, 0)
        _collect_conversations(self.response_value(), found, 0)
        return found

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "time": self.time,
            "target": self.target,
            "account": self.account,
        }
        if self.direction is not None:
            out["direction"] = self.direction
        if self.session is not None:
            out["session"] = self.session
        if self.consumer_id is not None:
            out["consumer_id"] = self.consumer_id
        if self.agent_id is not None:
            out["agent_id"] = self.agent_id
        out["method"] = self.method
        out["path"] = _shorten_jwts(self.path) if self.path else self.path
        out["headers"] = _headers(self.headers)
        out["body"] = _shown(self.body)
        out["status"] = self.status
        out["response"] = _shown(self.response)
        if self.type is not None:
            out["type"] = self.type
        if self.error is not None:
            out["error"] = self.error
        if self.hint is not None:
            out["hint"] = self.hint
        return out


def _value(raw: Any) -> Any:
    """Bytes or text parsed as JSON when they are JSON; other values as they are."""
    if isinstance(raw, bytes | bytearray | memoryview | str):
        data = bytes(raw) if not isinstance(raw, str) else raw
        if not data:
            return None
        try:
            return orjson.loads(data)
        except orjson.JSONDecodeError:
            text = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
            return text
    return raw


def _shown(raw: Any) -> Any:
    value = _value(raw)
    if isinstance(value, str) and len(value) > BODY_LIMIT:
        return value[:BODY_LIMIT] + "…"
    return value


def _headers(headers: Any) -> dict[str, str]:
    if headers is None:
        return {}
    pairs: Iterable[tuple[str, str]] = (
        headers.items() if isinstance(headers, Mapping) else list(headers)
    )
    out: dict[str, str] = {}
    for key, value in pairs:
        name = str(key)
        shown = shorten(value) if name.lower() in SECRET_HEADERS else value
        out[name] = f"{out[name]}, {shown}" if name in out else shown
    return out


def _types(doc: Any) -> list[str]:
    if isinstance(doc, dict):
        t = doc.get("type")
        return [t] if isinstance(t, str) else []
    if isinstance(doc, list):
        return [t for item in doc for t in _types(item) if not isinstance(item, list)]
    return []


def _collect_conversations(doc: Any, found: set[str], depth: int) -> None:
    """Conversation and dialog ids anywhere a request, a response or a notification names them."""
    if depth > 6:
        return
    if isinstance(doc, dict):
        for key in ("conversationId", "dialogId", "convId"):
            value = doc.get(key)
            if isinstance(value, str) and value:
                found.add(value)
        for value in doc.values():
            if isinstance(value, dict | list):
                _collect_conversations(value, found, depth + 1)
    elif isinstance(doc, list):
        for item in doc:
            _collect_conversations(item, found, depth + 1)


def type_matches(wanted: str, names: Iterable[str]) -> bool:
    """Whether ``wanted`` names one of ``names`` in any dialect.

    ``ms.PublishEvent`` matches ``.ams.ms.PublishEvent``, and ``ContentEvent`` matches the webhook
    key ``ms.MessagingEventNotification.ContentEvent``.
    """
    op = lookup(wanted)
    last = wanted.rsplit(".", 1)[-1]
    for name in names:
        if name == wanted or name.rsplit(".", 1)[-1] == last:
            return True
        if op is not None:
            other = lookup(name)
            if other is not None and other[0] is op[0]:
                return True
    return False


@dataclass(slots=True)
class Query:
    target: str | None = None
    account: str | None = None
    conversation_id: str | None = None
    type: str | None = None
    direction: str | None = None
    consumer_id: str | None = None
    agent_id: str | None = None
    after: int = 0

    def __call__(self, e: Entry) -> bool:
        if e.id <= self.after:
            return False
        if self.target is not None and e.target != self.target:
            return False
        if self.account is not None and e.account != self.account:
            return False
        if self.direction is not None and e.direction != self.direction:
            return False
        if self.consumer_id is not None and e.consumer_id != self.consumer_id:
            return False
        if self.agent_id is not None and e.agent_id != self.agent_id:
            return False
        if self.type is not None and not type_matches(self.type, e.types()):
            return False
        return self.conversation_id is None or self.conversation_id in e.conversation_ids()


class Journal(Listener):
    """The ring of entries; as an engine listener it forgets an account that is reset."""

    def __init__(self, size: int, now_ms: Callable[[], int]) -> None:
        self.entries: deque[Entry] = deque(maxlen=size)
        self._ids = itertools.count(1)
        self._now = now_ms
        self._waiters: list[asyncio.Future[None]] = []
        self.closing = False  # mockle is shutting down: long-polls answer at once

    def __len__(self) -> int:
        return len(self.entries)

    def record(self, target: str, account: str | None, **fields: Any) -> Entry:
        entry = Entry(
            next(self._ids),
            self._now(),
            target,
            account,
            fields.pop("method", None),
            fields.pop("path", None),
            fields.pop("headers", None),
            fields.pop("body", None),
            fields.pop("status", None),
            fields.pop("response", None),
            **fields,
        )
        self.entries.append(entry)
        if self._waiters:
            self._wake()
        return entry

    def ws_frame(self, direction: str, frame: Any, session: Session) -> None:
        """A WebSocket frame: ``in`` (the text the client sent) or ``out`` (a frame dict)."""
        self.record(
            "ws",
            session.account,
            body=frame,
            direction=direction,
            session=session.id,
            consumer_id=session.consumer_id,
            agent_id=session.agent_id,
        )

    def close(self) -> None:
        """Shutdown: every waiting long-poll answers now with what there is."""
        self.closing = True
        self._wake()

    def _wake(self) -> None:
        waiters, self._waiters = self._waiters, []
        for fut in waiters:
            if not fut.done():
                fut.set_result(None)

    def select(self, query: Callable[[Entry], bool], limit: int | None = None) -> list[Entry]:
        found = [e for e in self.entries if query(e)]
        if limit is not None and len(found) > limit:
            found = found[len(found) - limit :]
        return found

    async def wait_for(
        self, query: Callable[[Entry], bool], count: int = 1, timeout: float = 5.0
    ) -> list[Entry]:
        """The matching entries once there are ``count`` of them, or what there is at timeout."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            found = self.select(query)
            left = deadline - loop.time()
            if len(found) >= count or left <= 0 or self.closing:
                return found
            fut: asyncio.Future[None] = loop.create_future()
            self._waiters.append(fut)
            try:
                await asyncio.wait_for(fut, left)
            except TimeoutError:
                return self.select(query)

    def on_reset(self, account: str | None) -> None:
        self.clear(account)

    def clear(self, account: str | None = None) -> int:
        before = len(self.entries)
        if account is None:
            self.entries.clear()
        else:
            kept = [e for e in self.entries if e.account != account]
            self.entries.clear()
            self.entries.extend(kept)
        return before - len(self.entries)


# -- which LiveEngage service a route belongs to --------------------------------------------


def target_of_path(path: str) -> str | None:
    """The fault/journal target of a request path; ``None`` for the control API."""
    if path.startswith("/_mockle"):
        return None
    if path.startswith("/ws_api/"):
        return "ws_connect"
    if path.startswith("/sentinel/"):
        return "sentinel"
    if "/service/" in path and "baseURI" in path:
        return "csds"
    if path.startswith("/api/account/") and path.endswith(("/login", "/refresh", "/logout")):
        return "login"
    if path.endswith("/messaging/consumer/conversation/send"):
        return "send"
    if path.endswith("/messaging/consumer/conversation"):
        return "conversation"
    if path.startswith("/api/account/") and (
        path.endswith(("/consumer", "/signup")) or "/authorize" in path or "/authenticate" in path
    ):
        return "idp"
    return "other"


_TARGETS: dict[str, str | None] = {}


def target_of(request: web.Request) -> str | None:
    route = request.match_info.route
    resource = route.resource
    if resource is None:  # no route matched: judge by the path
        return target_of_path(request.path)
    key = resource.canonical
    target = _TARGETS.get(key, "")
    if target == "":
        target = _TARGETS[key] = target_of_path(key)
    return target


def account_of(request: web.Request) -> str | None:
    account = request.match_info.get("account")
    if account is not None:
        return account
    m = _ACCOUNT_IN_PATH.search(request.path)
    return m.group(1) if m else None


# -- middleware and routes --------------------------------------------------------------------


async def _request_body(request: web.Request) -> bytes:
    if not request.body_exists:
        return b""
    declared = request.content_length
    if declared is not None and declared > request.client_max_size:
        return b""  # refused for its size: waiting for the rest would hold the 413 back
    try:
        data = await request.read()  # the handler has read it already: this is its cached copy
    except Exception:  # too large or a broken stream: the handler already answered
        return b""
    return data[:BODY_LIMIT] if len(data) > BODY_LIMIT else data


def _is_upgrade(request: web.Request) -> bool:
    return request.headers.get("Upgrade", "").lower() == "websocket"


def _response_body(resp: web.StreamResponse) -> bytes | None:
    body = resp.body if isinstance(resp, web.Response) else None
    if not isinstance(body, bytes):
        return None
    return body[:BODY_LIMIT] if len(body) > BODY_LIMIT else body


def middleware(journal: Journal) -> Any:
    """Record every LiveEngage request (not the control API's) with its answer.

    The path is the request target as the client sent it (``raw_path``: still percent-encoded,
    with its query string). This wraps every request, so it stays lean: no closures, no URL
    objects, references instead of copies."""

    @web.middleware
    async def journal_requests(request: web.Request, handler: Any) -> web.StreamResponse:
        target = target_of(request)
        if target is None:
            return await handler(request)  # type: ignore[no-any-return]
        if target == "ws_connect" and _is_upgrade(request):
            return await _journal_upgrade(journal, request, handler)
        try:
            resp: web.StreamResponse = await handler(request)
        except Dropped:
            body = await _request_body(request)
            _record(journal, request, target, body, None, None, "dropped by a fault")
            raise
        except web.HTTPException as exc:  # 404/405 for unknown routes: still what was sent
            body = await _request_body(request)
            _record(journal, request, target, body, exc.status, None, exc.reason)
            raise
        body = await _request_body(request)
        entry = _record(journal, request, target, body, resp.status, _response_body(resp))
        if resp.status >= 400 and (hint := resp.headers.get(HINT_HEADER)) is not None:
            entry.hint = hint  # the refusal's explanation: in the journal and in the log
            log.warning("%s %s -> %d: %s", request.method, request.raw_path, resp.status, hint)
        return resp

    return journal_requests


LOGIN_SECRETS = ("password", "secret", "accessTokenSecret", "assertion")


def mask_login_secrets(body: bytes | None) -> bytes | None:
    """A Login Service body with its credentials replaced by ``***`` (the journal shows who
    logged in, never a password)."""
    try:
        doc = orjson.loads(body) if body else None
    except orjson.JSONDecodeError:
        return body
    if not isinstance(doc, dict) or not any(k in doc for k in LOGIN_SECRETS):
        return body
    return orjson.dumps({k: "***" if k in LOGIN_SECRETS else v for k, v in doc.items()})


def _record(
    journal: Journal,
    request: web.Request,
    target: str,
    body: bytes | None,
    status: int | None,
    response: bytes | None,
    error: str | None = None,
) -> Entry:
    if target == "login":
        body = mask_login_secrets(body)
    return journal.record(
        target,
        account_of(request),
        method=request.method,
        path=request.raw_path,
        headers=request.headers,
        body=body,
        status=status,
        response=response,
        error=error,
    )


async def _journal_upgrade(
    journal: Journal, request: web.Request, handler: Any
) -> web.StreamResponse:
    """A WebSocket upgrade is recorded as 101 at once (the handler returns only when the socket
    ends); a refusal (a fault's status, a bad version, no such route) replaces it."""
    entry = _record(journal, request, "ws_connect", None, 101, None)
    try:
        resp = await handler(request)
    except Dropped:
        entry.status, entry.error = None, "dropped by a fault"
        raise
    except web.HTTPException as exc:  # 404/405: no socket route matched the path
        entry.status, entry.error = exc.status, exc.reason
        raise
    if not isinstance(resp, web.WebSocketResponse):
        entry.status = resp.status
        entry.response = resp.body if isinstance(resp, web.Response) else None
    return resp  # type: ignore[no-any-return]
