"""The request journal: what a client sent and what mockle answered, for tests to assert on.

A bounded ring buffer (``--journal-size`` entries, default 10,000): the oldest entry goes when a
new one comes, so memory stays flat however long mockle runs. Three kinds of entry:

* every LiveEngage REST request with its response (``target`` as in faults: ``csds``,
  ``sentinel``, ``idp``, ``conversation``, ``send``, ``ws_connect``; ``other`` for the rest);
* every WebSocket frame (``target`` ``ws``, ``direction`` ``in`` or ``out``);
* every webhook delivery attempt (``target`` ``webhook``).

Every entry is also a log line (:mod:`mockle.logs`), built only when the ``mockle.requests``
logger is enabled. The control API is not journaled; its calls are ``mockle.control`` debug
lines, timed here only when that logger is enabled.

Recording is cheap: an entry keeps references to the bytes and dicts that were on the wire and
is rendered (JSON parsed, tokens shortened, bodies truncated) only when someone reads it.
``GET /_mockle/requests`` filters and, with ``wait``, long-polls: it answers as soon as ``min``
matching entries exist, so clients wait on the entry itself instead of sleeping.
"""

from __future__ import annotations

import asyncio
import itertools
import re
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from aiohttp import web

from mockle import logs
from mockle.core.connector import RestReply
from mockle.core.dialects import lookup
from mockle.core.effects import Listener
from mockle.core.sessions import Session
from mockle.logs import CONTROL, DEBUG, INFO, REQUESTS, WARNING, shorten
from mockle.logs import shorten_jwts as _shorten_jwts
from mockle.web.responses import HINT_HEADER, RestResponse

BODY_LIMIT = 16_384  # bytes of a body kept per entry (and shown)
SECRET_HEADERS = frozenset({"authorization", "x-lp-on-behalf", "x-liveperson-signature"})
_ACCOUNT_IN_PATH = re.compile(r"/account/([^/]+)")
__all__ = ["shorten"]  # re-exported: the journal shortens secrets as the log does


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
    ms: float | None = None  # how long mockle took to answer (REST), or the attempt (webhook)

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
        _collect_conversations(_plain(self.body_value()), found, 0)
        _collect_conversations(_plain(self.response_value()), found, 0)
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
        if self.conversation_id is not None:
            out["conversation_id"] = self.conversation_id
        if self.error is not None:
            out["error"] = self.error
        if self.hint is not None:
            out["hint"] = self.hint
        if self.ms is not None:
            out["ms"] = round(self.ms, 3)
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


def _plain(value: Any) -> Any:
    """A frame as plain JSON values: an outgoing frame embeds stored change items as
    ``orjson.Fragment`` (pre-serialised bytes), which only serialising looks into."""
    if isinstance(value, dict | list):
        return orjson.loads(orjson.dumps(value))
    return value


def _shown(raw: Any) -> Any:
    value = _value(raw)
    if isinstance(value, str) and len(value) > BODY_LIMIT:
        return value[:BODY_LIMIT] + "…"
    return value


def _header_pairs(block: bytes) -> list[tuple[str, str]]:
    """The header block of a request as sent (``Name: value`` lines, printable ASCII, as the
    fast path takes it) as aiohttp's multidict holds it: names as written, values stripped."""
    pairs = []
    for line in block.split(b"\r\n"):
        name, _, value = line.partition(b":")
        pairs.append((name.decode("ascii"), value.strip(b" \t").decode("ascii")))
    return pairs


def _headers(headers: Any) -> dict[str, str]:
    if headers is None:
        return {}
    pairs: Iterable[tuple[str, str]]
    if isinstance(headers, bytes):
        pairs = _header_pairs(headers)
    elif isinstance(headers, Mapping):
        pairs = headers.items()
    else:
        pairs = list(headers)
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
        self.now_ms = now_ms
        self._waiters: list[asyncio.Future[None]] = []
        self.closing = False  # mockle is shutting down: long-polls answer at once

    def __len__(self) -> int:
        return len(self.entries)

    def record(self, target: str, account: str | None, log: bool = True, **fields: Any) -> Entry:
        """Add an entry (and log it, unless ``log`` is false: the caller logs it later)."""
        entry = Entry(
            next(self._ids),
            self.now_ms(),
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
        if log and REQUESTS.isEnabledFor(INFO):
            logs.emit(REQUESTS, INFO, LogLine(entry))
        return entry

    def log(self, entry: Entry, reply: RestReply | None = None) -> None:
        """Log an entry recorded with ``log=False``, now that it is complete (``reply``: the
        core's answer to a Connector API call, which says what was asked)."""
        if REQUESTS.isEnabledFor(INFO):
            logs.emit(REQUESTS, INFO, LogLine(entry, reply))

    def ws_frame(self, direction: str, frame: Any, session: Session) -> None:
        """A WebSocket frame: ``in`` (the text the client sent) or ``out`` (a frame dict)."""
        self.ws_frames(direction, (frame,), session)

    def ws_frames(self, direction: str, frames: Sequence[Any], session: Session) -> None:
        """Frames of one socket in one go (a ``resp`` and the notifications it caused): the
        entries :meth:`ws_frame` would record one by one, in order, with the session's fields
        read once -- the socket's hot path records references, nothing is copied. Each entry
        is logged as :meth:`record` logs it."""
        account, sid = session.account, session.id
        consumer_id, agent_id = session.consumer_id, session.agent_id
        now, ids, append = self.now_ms(), self._ids, self.entries.append
        logged = REQUESTS.isEnabledFor(INFO)
        for frame in frames:
            entry = Entry(next(ids), now, "ws", account, None, None, None, frame, None, None)
            entry.direction, entry.session = direction, sid
            entry.consumer_id, entry.agent_id = consumer_id, agent_id
            append(entry)
            if logged:
                logs.emit(REQUESTS, INFO, LogLine(entry))
        if self._waiters:
            self._wake()

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


# -- log lines ----------------------------------------------------------------------------------


_CREDENTIAL_IN_PATH = re.compile(r"(/messaging/(?:consumer|brand)/)([^/?]+)")
KIND_WIDTH = 12
_KINDS = {
    k: k.ljust(KIND_WIDTH)
    for k in ("csds", "sentinel", "idp", "login", "conversation", "send", "ws_connect")
    + ("webhook", "control", "other")
}
_WS_KINDS = {"in": "ws in".ljust(KIND_WIDTH), "out": "ws out".ljust(KIND_WIDTH)}
_STATUSES = {n: str(n).rjust(3) for n in range(100, 600)}
# what a log line reads from a payload: type, event, request id, status (a resp's code), conv
Read = tuple[str | None, str | None, str | None, int | None, str | None]


def log_path(target: str, path: str | None) -> str | None:
    """A path as a log line shows it: without its query (it may hold client secrets), and a
    socket's token (``.../messaging/consumer/<jwt>``, ``.../brand/<bearer>``) shortened."""
    if path is None:
        return None
    cut = path.find("?")
    if cut >= 0:
        path = path[:cut]
    if target == "ws_connect" or target == "other":
        path = _CREDENTIAL_IN_PATH.sub(lambda m: m.group(1) + shorten(m.group(2)), path)
        path = _shorten_jwts(path)
    return path


class LogLine(logs.Line):
    """A journal entry as a log line: made only when the ``mockle.requests`` logger is on,
    rendered only when a handler writes it. A Connector API call is read from the core's
    ``reply`` (its request is parsed already); socket frames, and calls refused before they
    were parsed, from the entry's payload."""

    __slots__ = ("entry", "reply")

    def __init__(self, entry: Entry, reply: RestReply | None = None) -> None:
        self.entry = entry
        self.reply = reply

    def read(self) -> Read:
        e = self.entry
        target = e.target
        reply = self.reply
        req = reply.request if reply is not None else None
        if req is not None:  # a Connector API call the core parsed (and validated): read it
            body = req.body
            event = body.get("event") if type(body) is dict else None
            event = event.get("type") if type(event) is dict else None
            conv = reply.conversation_id  # type: ignore[union-attr]
            return req.type, event if type(event) is str else None, None, e.status, conv
        if target == "ws":
            body = e.body
            return _frame(body if type(body) is dict else _parsed(body), e.status)
        if target == "send":
            req_doc = _parsed(e.body)
            if type(req_doc) is list and req_doc:
                req_doc = req_doc[0]
            if type(req_doc) is dict:
                typ, event, conv = _request(req_doc.get("type"), req_doc.get("body"))
                return typ, event, None, e.status, conv
        elif target == "conversation":
            return _conversation_call(_parsed(e.body), _parsed(e.response), e.status)
        return e.type, None, None, e.status, e.conversation_id

    def text(self) -> str:
        """``12:00:01.234 le12345678 send         200    1.2ms POST /api/... ms.PublishEvent``

        Columns: time, account, what kind of call or frame, status (HTTP, or a ``resp``'s
        code), how long mockle took; then method and path, type, event, ``#<request id>``,
        ``conv=<conversation>``, ``agent=<agent>``, ``(<error>)`` and ``hint: <hint>`` (mockle's
        explanation of a refusal, the ``x-mockle-hint`` header) where there is one.
        Written for speed (it runs per request at the default level): one f-string, no list."""
        e = self.entry
        reply = self.reply
        req = reply.request if reply is not None else None
        if req is not None:  # a Connector API call the core parsed (and validated): read it
            typ: str | None = req.type
            body = req.body
            event = body.get("event") if type(body) is dict else None
            event = event.get("type") if type(event) is dict else None
            if type(event) is not str:
                event = None
            conv = reply.conversation_id  # type: ignore[union-attr]
            req_id, status = None, e.status
        else:
            typ, event, req_id, status, conv = self.read()
        direction, ms, target, path, t, account = (
            e.direction, e.ms, e.target, e.path, e.time, e.account
        )  # fmt: skip
        if direction is None:
            kind = _KINDS.get(target) or target.ljust(KIND_WIDTH)
        else:
            kind = _WS_KINDS.get(direction) or f"ws {direction}".ljust(KIND_WIDTH)
        if path is not None:
            path = _SHOWN_PATHS.get(path) or _shown_path(target, path)
        if ms is None:
            ms_text = "       -"
        else:
            tenths = int(ms * 10 + 0.5)
            ms_text = _MS_TEXTS.get(tenths) or _ms_text(tenths)
        second = t // 1000
        clock = logs.LOCAL_SECOND
        if clock[0] != second:
            logs.set_local_second(second)
        agent, error, hint = e.agent_id, e.error, e.hint
        return (
            f"{clock[1]}.{logs.MILLIS[t - second * 1000]} "
            f"{_ACCOUNT_TEXTS.get(account) or _account_text(account)} {kind} "
            f"{'  -' if status is None else (_STATUSES.get(status) or status)} {ms_text}"
            f"{' ' + e.method if e.method else ''}{' ' + path if path else ''}"
            f"{' ' + typ if typ else ''}{' ' + event if event else ''}"
            f"{'' if req_id is None else ' #' + req_id}{'' if conv is None else ' conv=' + conv}"
            f"{'' if agent is None else ' agent=' + agent}{'' if error is None else f' ({error})'}"
            f"{'' if hint is None else ' hint: ' + hint}"
        )

    def as_json(self, level: int = INFO, logger: str = "mockle.requests") -> dict[str, Any]:
        e = self.entry
        typ, event, req_id, status, conv = self.read()
        path = e.path
        if path is not None:
            path = _SHOWN_PATHS.get(path) or _shown_path(e.target, path)
        return {
            "time": logs.iso_time(e.time),
            "level": "info" if level == INFO else logs.level_name(level),
            "logger": logger,
            "id": e.id or None,
            "account": e.account,
            "target": e.target,
            "direction": e.direction,
            "method": e.method,
            "path": path,
            "type": typ,
            "event": event,
            "req_id": req_id,
            "status": status,
            "ms": None if e.ms is None else round(e.ms, 3),
            "conversation_id": conv,
            "agent_id": e.agent_id,
            "error": e.error,
            "hint": e.hint,
        }


# What text() asks again and again, formatted once: a request's path as shown, a duration,
# an account padded to its column. Small and bounded (cleared when full).
_SHOWN_PATHS: dict[str, str] = {}
_MS_TEXTS: dict[int, str] = {}
_ACCOUNT_TEXTS: dict[str | None, str] = {}
_CACHE_SIZE = 4096


def _shown_path(target: str, path: str) -> str:
    shown = log_path(target, path) or ""
    if len(_SHOWN_PATHS) >= _CACHE_SIZE:
        _SHOWN_PATHS.clear()
    _SHOWN_PATHS[path] = shown
    return shown


def _ms_text(tenths: int) -> str:
    text = f"{tenths // 10}.{tenths % 10}ms".rjust(8)
    if len(_MS_TEXTS) >= _CACHE_SIZE:
        _MS_TEXTS.clear()
    _MS_TEXTS[tenths] = text
    return text


def _account_text(account: str | None) -> str:
    text = (account or "-").ljust(10)
    if len(_ACCOUNT_TEXTS) >= _CACHE_SIZE:
        _ACCOUNT_TEXTS.clear()
    _ACCOUNT_TEXTS[account] = text
    return text


def _parsed(raw: Any) -> Any:
    """``_value`` with a fast way for bytes (what REST bodies are)."""
    if type(raw) is bytes:
        try:
            return orjson.loads(raw) if raw else None
        except orjson.JSONDecodeError:
            return None
    return _value(raw)


def _text(value: Any) -> str | None:
    """A non-empty string, or an integer as one (ids may be numbers); else None."""
    kind = type(value)
    if kind is str:
        return value or None
    if kind is int:
        return str(value)
    return None


def _conversation_of(body: Any) -> str | None:
    if type(body) is not dict:
        return None
    return _text(body.get("conversationId")) or _text(body.get("dialogId"))


def _request(type_name: Any, body: Any) -> tuple[str | None, str | None, str | None]:
    """A request's type, its event's type and its conversation (``conversationId`` or
    ``dialogId``)."""
    if type(body) is not dict:
        return _text(type_name), None, None
    event = body.get("event")
    event_type = _text(event.get("type")) if type(event) is dict else None
    conv = _text(body.get("conversationId")) or _text(body.get("dialogId"))
    return _text(type_name), event_type, conv


def _frame(frame: Any, status: int | None) -> Read:
    """A UMS frame: a request (type, ``#id``), a ``resp`` (its code) or a notification."""
    if type(frame) is list and frame:
        frame = frame[0]
    if type(frame) is not dict:
        return ("(not a JSON object)" if frame is not None else None), None, None, status, None
    kind = frame.get("kind")
    typ = _text(frame.get("type"))
    body = frame.get("body")
    if kind == "notification":
        changes = body.get("changes") if type(body) is dict else None
        first = changes[0] if type(changes) is list and changes else body
        if type(first) is orjson.Fragment:  # a stored change item, pre-serialised
            first = orjson.loads(orjson.dumps(first))
        if type(first) is not dict:
            return typ, None, None, status, None
        event = first.get("event")
        result = first.get("result")
        conv = (
            _conversation_of(first)
            or _text(first.get("convId"))
            or (_text(result.get("convId")) if type(result) is dict else None)
        )
        return typ, _text(event.get("type")) if type(event) is dict else None, None, status, conv
    if kind == "resp" or "reqId" in frame:
        code = frame.get("code")
        code = code if type(code) is int else status
        return typ, None, _text(frame.get("reqId")), code, _conversation_of(body)
    _, event_type, conv = _request(typ, body)
    return typ, event_type, _text(frame.get("id")), status, conv


def _conversation_call(body: Any, response: Any, status: int | None) -> Read:
    """CONVERSATION: the batch's last request type; the new conversation from the answer."""
    reqs = body if type(body) is list else [body]
    typ = _text(reqs[-1].get("type")) if reqs and type(reqs[-1]) is dict else None
    for item in response if type(response) is list else [response]:
        conv = _conversation_of(item.get("body")) if type(item) is dict else None
        if conv is not None:
            return typ, None, None, status, conv
    return typ, None, None, status, None


def entry_of_json(doc: dict[str, Any]) -> Entry:
    """An entry as ``GET /_mockle/requests`` shows it, back as an :class:`Entry` (its bodies
    parsed already): how ``mockle tail`` prints the very lines the server logs."""

    def get(key: str, kind: type[Any]) -> Any:
        value = doc.get(key)
        return value if type(value) is kind else None

    ms = doc.get("ms")
    return Entry(
        get("id", int) or 0,
        get("time", int) or 0,
        get("target", str) or "other",
        get("account", str),
        get("method", str),
        get("path", str),
        doc.get("headers"),
        doc.get("body"),
        get("status", int),
        doc.get("response"),
        direction=get("direction", str),
        consumer_id=get("consumer_id", str),
        session=get("session", str),
        conversation_id=get("conversation_id", str),
        agent_id=get("agent_id", str),
        type=get("type", str),
        error=get("error", str),
        ms=float(ms) if isinstance(ms, int | float) and not isinstance(ms, bool) else None,
    )


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


def kept(body: bytes) -> bytes:
    """What an entry keeps of a body: its first ``BODY_LIMIT`` bytes."""
    return body[:BODY_LIMIT] if len(body) > BODY_LIMIT else body


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
    return kept(data)


def is_upgrade(request: web.Request) -> bool:
    return request.headers.get("Upgrade", "").lower() == "websocket"


def _response_body(resp: web.StreamResponse) -> bytes | None:
    body = resp.body if isinstance(resp, web.Response) else None
    if not isinstance(body, bytes):
        return None
    return kept(body)


_perf = time.perf_counter
UPGRADE = web.RequestKey("mockle.journal.upgrade", tuple[Entry, float])


async def answered(
    journal: Journal, request: web.Request, target: str, resp: web.StreamResponse, start: float
) -> None:
    """Record (and log) a LiveEngage request with its answer and how long mockle took (``ms``,
    from ``start``, a ``perf_counter`` reading). The gateway calls it for every request but the
    control API's, so it stays lean: references instead of copies, the log line built only when
    its logger is on.

    The path is the request target as the client sent it (``raw_path``: still percent-encoded,
    with its query string)."""
    ms = (_perf() - start) * 1000
    reply: RestReply | None = None
    if type(resp) is RestResponse:  # SEND, CONVERSATION: the body the handler read
        body = kept(resp.request_body)
        reply = resp.reply
    else:
        body = await _request_body(request)
    response = _response_body(resp)
    entry = _record(journal, request, target, body, resp.status, response, ms, log=False)
    finish(entry, resp.headers.get(HINT_HEADER), reply)


def recorded(
    journal: Journal,
    target: str,
    account: str | None,
    method: str,
    path: str,
    headers: Any,
    body: bytes | None,
    status: int | None,
    response: bytes | None,
    ms: float | None,
    error: str | None = None,
    log: bool = True,
) -> Entry:
    """Record a LiveEngage request (``headers``: a mapping, pairs, or the header block as sent,
    which is parsed only when someone reads the entry; a Login Service body without its
    credentials). With ``log`` false the caller logs it later, by :func:`finish` or
    :meth:`Journal.log`."""
    if target == "login":
        body = mask_login_secrets(body)
    return journal.record(
        target, account, log, ms=ms, method=method, path=path, headers=headers, body=body,
        status=status, response=response, error=error,
    )  # fmt: skip


def finish(entry: Entry, hint: str | None, reply: RestReply | None) -> None:
    """Log an answered request's entry. ``hint`` is the answer's x-mockle-hint header: on a
    refusal (status >= 400) the entry keeps it and the line is a warning, which shows at
    ``--log-level warning`` too."""
    level = INFO
    if hint is not None and entry.status is not None and entry.status >= 400:
        entry.hint = hint
        level = WARNING
    if REQUESTS.isEnabledFor(level):
        logs.emit(REQUESTS, level, LogLine(entry, reply))


async def unanswered(
    journal: Journal,
    request: web.Request,
    target: str,
    start: float,
    status: int | None,
    error: str,
) -> None:
    """Record a request that got no answer of its own: dropped by a fault (``status`` None), or
    refused by aiohttp (an HTTP exception: 404/405 for unknown routes, 413): still what was
    sent."""
    ms = (_perf() - start) * 1000
    body = await _request_body(request)
    _record(journal, request, target, body, status, None, ms, error)


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


async def control_call(journal: Journal, request: web.Request, handler: Any) -> web.StreamResponse:
    """A control API call as a ``mockle.control`` debug line (never a journal entry)."""
    start = _perf()
    status: int | None = None
    try:
        resp: web.StreamResponse = await handler(request)
        status = resp.status
        return resp
    except web.HTTPException as exc:
        status = exc.status
        raise
    finally:
        account = request.query.get("account") or None
        ms = (_perf() - start) * 1000
        entry = Entry(
            0, journal.now_ms(), "control", account, request.method, request.path, None, None,
            status, None, ms=ms,
        )  # fmt: skip
        logs.emit(CONTROL, DEBUG, LogLine(entry))


def _record(
    journal: Journal,
    request: web.Request,
    target: str,
    body: bytes | None,
    status: int | None,
    response: bytes | None,
    ms: float | None,
    error: str | None = None,
    log: bool = True,
) -> Entry:
    """:func:`recorded` for an aiohttp request (its account, method, raw path and headers)."""
    return recorded(
        journal, target, account_of(request), request.method, request.raw_path, request.headers,
        body, status, response, ms, error, log,
    )  # fmt: skip


async def upgrade(journal: Journal, request: web.Request, handler: Any) -> web.StreamResponse:
    """A WebSocket upgrade is recorded as 101 at once (the handler returns only when the socket
    ends); a refusal (a fault's status, a bad version, no such route) replaces it. Its log
    line waits for the outcome: the socket route calls :func:`upgraded` once the 101 is out; a
    refusal or a drop is logged here."""
    start = _perf()
    entry = _record(journal, request, "ws_connect", None, 101, None, None, log=False)
    request[UPGRADE] = (entry, start)
    try:
        resp = await handler(request)
    except Dropped:
        entry.status, entry.error = None, "dropped by a fault"
        raise
    except web.HTTPException as exc:  # 404/405: no socket route matched the path
        entry.status, entry.error = exc.status, exc.reason
        raise
    else:
        if not isinstance(resp, web.WebSocketResponse):
            entry.status = resp.status
            entry.response = resp.body if isinstance(resp, web.Response) else None
    finally:
        if UPGRADE in request:  # never upgraded: refused, dropped or broken
            upgraded(request, journal)
    return resp  # type: ignore[no-any-return]


def upgraded(request: web.Request, journal: Journal) -> None:
    """The socket route's word that the 101 went out: the upgrade's entry is logged now, with
    the time the handshake took."""
    pending = request.get(UPGRADE)
    if pending is not None:
        del request[UPGRADE]
        entry, start = pending
        entry.ms = (_perf() - start) * 1000
        journal.log(entry)
