"""Shared pieces of the robustness suite: tokens, the state invariants, the log trap, answers.

Everything here is synchronous and free of server objects, so the hypothesis tests (sync,
against a :class:`~mockle.server.ThreadedMockle`) and the async tests share it.
"""

from __future__ import annotations

import http.client
import logging
from dataclasses import dataclass, field
from typing import Any

import orjson
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from mockle.core import sealed
from mockle.core.engine import Engine
from mockle.core.model import CONSUMER

ACC = "le-robust"
OTHER_ACC = "le-other"

CONV = f"/api/account/{ACC}/messaging/consumer/conversation?v=3"
SEND = f"/api/account/{ACC}/messaging/consumer/conversation/send?v=3"

HTTP_TIMEOUT_S = 10.0


# -- the log ---------------------------------------------------------------------------------------


class LogTrap(logging.Handler):
    """Collects every record at ERROR or above, and any record carrying a traceback."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.levelno >= logging.ERROR or record.exc_info:
            self.records.append(record)

    def problems(self) -> list[str]:
        return [f"{r.name} {r.levelname}: {r.getMessage()}" for r in self.records]

    def install(self) -> LogTrap:
        logging.getLogger().addHandler(self)
        return self

    def remove(self) -> None:
        logging.getLogger().removeHandler(self)


# -- engine state ----------------------------------------------------------------------------------


def state_violations(engine: Engine) -> list[str]:
    """Every broken invariant of the engine's state (an empty list when all is well).

    * every conversation has its MAIN dialog first and its consumer as a CONSUMER participant,
      in the conversation and in the MAIN dialog;
    * every dialog's sequenced events are numbered 0..n-1 in order (no gap, no duplicate);
    * the account's dialog index points every dialog at its conversation, and only those;
    * a consumer's ``open_conversation`` names an open conversation of that consumer, and a
      consumer has at most one open conversation.
    """
    bad: list[str] = []
    for acc_id, acc in engine.accounts.items():
        open_by_consumer: dict[str, list[str]] = {}
        indexed = 0
        for conv_id, stored in acc.conversations.items():
            conv = sealed.thaw(stored) if isinstance(stored, bytes) else stored
            where = f"{acc_id}/{conv_id}"
            if conv.conv_id != conv_id:
                bad.append(f"{where}: stored under another id ({conv.conv_id})")
            if not conv.dialogs or conv.dialogs[0].dialog_type != "MAIN":
                bad.append(f"{where}: no MAIN dialog first")
                continue
            if not any(p.id == conv.consumer_id and p.role == CONSUMER for p in conv.participants):
                bad.append(f"{where}: the consumer is not a CONSUMER participant")
            main = conv.dialogs[0]
            if not any(p.id == conv.consumer_id and p.role == CONSUMER for p in main.participants):
                bad.append(f"{where}: the consumer is not in the MAIN dialog")
            for d in conv.dialogs:
                indexed += 1
                if acc.dialogs.get(d.dialog_id) is not stored:
                    bad.append(f"{where}: dialog {d.dialog_id} is not indexed to it")
                seqs = [e.sequence for e in d.events]
                if seqs != list(range(d.first_sequence, d.next_sequence)):
                    bad.append(f"{where}/{d.dialog_id}: sequences {seqs[:20]}... not gap-free")
            if conv.is_open:
                open_by_consumer.setdefault(conv.consumer_id, []).append(conv_id)
        if indexed != len(acc.dialogs):
            bad.append(f"{acc_id}: {len(acc.dialogs)} indexed dialogs, {indexed} exist")
        for consumer_id, consumer in acc.consumers.items():
            opened = open_by_consumer.get(consumer_id, [])
            if len(opened) > 1:
                bad.append(f"{acc_id}/{consumer_id}: {len(opened)} open conversations")
            pointer = consumer.open_conversation
            if pointer is None:
                if opened:
                    bad.append(f"{acc_id}/{consumer_id}: open {opened[0]} is not remembered")
                continue
            found = acc.conversations.get(pointer)
            if (
                found is None
                or isinstance(found, bytes)  # sealed: closed
                or not found.is_open
                or found.consumer_id != consumer_id
            ):
                bad.append(f"{acc_id}/{consumer_id}: open_conversation {pointer} is not open")
    return bad


def conversation_count(engine: Engine) -> int:
    return sum(len(acc.conversations) for acc in engine.accounts.values())


# -- answers ---------------------------------------------------------------------------------------


def answer_shape_problem(status: int, body: bytes, *, oauth: bool = False) -> str | None:
    """Why a 4xx answer is not one of the documented error shapes (None when it is).

    Accepted: the ``.ReqBody$ErrorResp`` envelope, the Connector API ``BAD_REQUEST`` item, a
    CONVERSATION batch answer (a list of items), and for Sentinel the OAuth 2.0 error.
    """
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError:
        return f"{status} answer is not JSON: {body[:200]!r}"
    if isinstance(doc, list):
        if all(isinstance(i, dict) and i.get("code") in ("OK", "BAD_REQUEST") for i in doc):
            return None
        return f"{status} list answer with unexpected items: {doc!r:.300}"
    if not isinstance(doc, dict):
        return f"{status} answer is neither an object nor a list: {doc!r:.300}"
    if (
        oauth
        and isinstance(doc.get("error"), str)
        and isinstance(doc.get("error_description"), str)
    ):
        return None
    if doc.get("code") == "BAD_REQUEST":
        msg = doc.get("body", {}).get("msg") if isinstance(doc.get("body"), dict) else None
        return None if isinstance(msg, str) and msg else f"BAD_REQUEST without msg: {doc!r:.300}"
    inner = doc.get("body")
    if (
        doc.get("kind") == "resp"
        and doc.get("code") == status
        and doc.get("type") == ".ReqBody$ErrorResp"
        and isinstance(inner, dict)
        and isinstance(inner.get("title"), str)
        and isinstance(inner.get("details"), str)
        and isinstance(inner.get("errorCode"), int)
    ):
        return None
    return f"{status} answer is not a documented error shape: {doc!r:.300}"


# -- a plain HTTP client (sync, for hypothesis bodies) ---------------------------------------------


@dataclass(slots=True)
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return orjson.loads(self.body)


@dataclass
class Http:
    """One keep-alive HTTP/1.1 connection to mockle; reconnects when the server closed it."""

    host: str
    port: int
    _conn: http.client.HTTPConnection | None = field(default=None, repr=False)

    def _connection(self) -> http.client.HTTPConnection:
        if self._conn is None:
            self._conn = http.client.HTTPConnection(self.host, self.port, timeout=HTTP_TIMEOUT_S)
        return self._conn

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str | bytes] | None = None,
    ) -> Answer:
        for attempt in (1, 2):
            conn = self._connection()
            try:
                skip_host = "Host" in (headers or {})
                conn.putrequest(method, path, skip_host=skip_host, skip_accept_encoding=True)
                for name, value in (headers or {}).items():
                    conn.putheader(name, value)
                if body is not None:
                    conn.putheader("Content-Length", str(len(body)))
                conn.endheaders(body)
                resp = conn.getresponse()
                data = resp.read()
            except (ConnectionError, http.client.RemoteDisconnected, http.client.BadStatusLine):
                self.close()
                if attempt == 2:
                    raise
                continue
            if resp.will_close:
                self.close()
            return Answer(resp.status, {k.lower(): v for k, v in resp.getheaders()}, data)
        raise AssertionError("unreachable")

    def post_json(self, path: str, doc: Any, headers: dict[str, str | bytes]) -> Answer:
        return self.request(
            "POST", path, orjson.dumps(doc), {**headers, "Content-Type": "application/json"}
        )

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


# -- documented request shapes ---------------------------------------------------------------------


def profile_request(rid: str = "1") -> dict[str, Any]:
    return {"kind": "req", "id": rid, "type": "userprofile.SetUserProfile", "body": {}}


def request_conversation(rid: str = "2") -> dict[str, Any]:
    return {"kind": "req", "id": rid, "type": "cm.ConsumerRequestConversation", "body": {}}


def text_event(dialog_id: str, message: str = "hello", rid: str = "1") -> dict[str, Any]:
    event = {"type": "ContentEvent", "contentType": "text/plain", "message": message}
    return {
        "kind": "req",
        "id": rid,
        "type": "ms.PublishEvent",
        "body": {"dialogId": dialog_id, "event": event},
    }


def close_request(conv_id: str, rid: str = "9") -> dict[str, Any]:
    field_ = {"field": "ConversationStateField", "conversationState": "CLOSE"}
    return {
        "kind": "req",
        "id": rid,
        "type": "cm.UpdateConversationField",
        "body": {"conversationId": conv_id, "conversationField": [field_]},
    }


# -- a plain WebSocket client (sync) ---------------------------------------------------------------

WS_TIMEOUT_S = 5.0


class Closed(Exception):
    """The server closed the socket; ``code`` is its close code (None if it just dropped)."""

    def __init__(self, code: int | None, reason: str) -> None:
        super().__init__(f"closed {code} {reason!r}")
        self.code = code
        self.reason = reason


class Ws:
    """One consumer socket (the ``websockets`` sync client), with request/answer helpers;
    with ``path``, any other socket (the agent socket: :func:`agent_path`)."""

    def __init__(
        self,
        port: int,
        token: str | None = None,
        *,
        account: str = ACC,
        how: str = "header",
        query: str = "?v=3",
        headers: dict[str, str] | None = None,
        path: str | None = None,
    ) -> None:
        path = path or f"/ws_api/account/{account}/messaging/consumer"
        extra = dict(headers or {})
        if token is not None and how == "header":
            extra["Authorization"] = f"jwt {token}"
        elif token is not None and how == "path":
            path += f"/{token}"
        opener = connect(
            f"ws://127.0.0.1:{port}{path}{query}",
            additional_headers=extra,
            max_size=None,
            compression=None,
            open_timeout=WS_TIMEOUT_S,
            close_timeout=2,
            ping_interval=None,
        )
        self.conn = opener.__enter__()  # websockets >= 17.1 wants the context-manager form
        self.notifications: list[dict[str, Any]] = []

    def send(self, data: str | bytes) -> None:
        try:
            self.conn.send(data)
        except ConnectionClosed as exc:
            rcvd = exc.rcvd
            raise Closed(rcvd.code if rcvd else None, rcvd.reason if rcvd else "") from None

    def next(self, timeout: float = WS_TIMEOUT_S) -> dict[str, Any]:
        """The next frame; :class:`Closed` when the server closed the socket."""
        try:
            raw = self.conn.recv(timeout=timeout)
        except ConnectionClosed as exc:
            rcvd = exc.rcvd
            raise Closed(rcvd.code if rcvd else None, rcvd.reason if rcvd else "") from None
        doc = orjson.loads(raw)
        assert isinstance(doc, dict), doc
        return doc

    def answer(self, timeout: float = WS_TIMEOUT_S) -> dict[str, Any]:
        """The next ``resp`` (notifications before it are kept in :attr:`notifications`)."""
        while True:
            doc = self.next(timeout)
            if doc.get("kind") == "resp":
                return doc
            self.notifications.append(doc)

    def request(self, frame: dict[str, Any], timeout: float = WS_TIMEOUT_S) -> dict[str, Any]:
        self.send(orjson.dumps(frame).decode())
        return self.answer(timeout)

    def closed_with(self, timeout: float = WS_TIMEOUT_S) -> int | None:
        """Read until the server closes the socket; its close code."""
        while True:
            try:
                self.notifications.append(self.next(timeout))
            except Closed as exc:
                return exc.code

    def close(self) -> None:
        self.conn.close()


def login_path(account: str = ACC) -> str:
    return f"/api/account/{account}/login?v=1.3"


def login_body(name: str) -> dict[str, str]:
    return {"username": name, "password": "pw"}


def agent_path(account: str, bearer: str) -> str:
    return f"/ws_api/account/{account}/messaging/brand/{bearer}"


def get_clock(rid: str = "clock") -> dict[str, Any]:
    return {"kind": "req", "id": rid, "type": "GetClock"}


def subscribe_events(dialog_id: str, rid: str = "sub", from_seq: int = 0) -> dict[str, Any]:
    return {
        "kind": "req",
        "id": rid,
        "type": "ms.SubscribeMessagingEvents",
        "body": {"dialogId": dialog_id, "fromSeq": from_seq},
    }
