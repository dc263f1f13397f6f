"""The test toolkit's hooks into the UMS socket: journal entries and ``ws_request`` faults.

Every frame in and out goes to the journal; a ``ws_request`` fault may delay a request, answer
it with an error ``resp`` (the socket stays open), close the socket with a code, or drop the
connection. With no fault registered the check costs one truth test. (The webhook worker applies
``webhook`` faults and journals its attempts itself, through ``runtime.extras``.)
"""

from __future__ import annotations

import asyncio
from typing import Any, Protocol

import orjson

from mockle.core import dialects
from mockle.core.dialects import Dialect
from mockle.core.faults import FaultPlan
from mockle.core.requests import request_id
from mockle.web.app import Runtime
from mockle.web.journal import Journal, journal_of


class _Session(Protocol):
    @property
    def id(self) -> str: ...

    @property
    def account(self) -> str: ...

    @property
    def consumer_id(self) -> str | None: ...


class _Socket(Protocol):
    def send_frame(self, frame: dict[str, Any]) -> None: ...

    def close(self, code: int, reason: str) -> None: ...


def _plan(runtime: Runtime) -> FaultPlan | None:
    plan = runtime.extras.get("faults")
    return plan if isinstance(plan, FaultPlan) else None


def _error_type(type_name: Any) -> str:
    """The ``type`` of an error ``resp``: the operation's answer type in the caller's dialect."""
    found = dialects.lookup(type_name) if isinstance(type_name, str) else None
    if found is not None:
        return dialects.response_type(*found)
    if isinstance(type_name, str) and type_name.startswith("."):
        return dialects.STRING_RESPONSE[Dialect.AMS]
    return dialects.STRING_RESPONSE[Dialect.SHORT]


def _conversation_of(doc: dict[str, Any]) -> str | None:
    body = doc.get("body")
    if isinstance(body, dict):
        value = body.get("conversationId") or body.get("dialogId")
        if isinstance(value, str | int) and not isinstance(value, bool):
            return str(value)
    return None


class SocketHooks:
    """One UMS socket's hooks. ``transport`` is set by the route so ``drop`` can abort it."""

    def __init__(self, runtime: Runtime, session: _Session) -> None:
        self.session = session
        self.journal: Journal | None = journal_of(runtime)
        self.plan = _plan(runtime)
        self.transport: asyncio.Transport | None = None

    def inbound(self, text: str) -> None:
        j = self.journal
        if j is not None:
            s = self.session
            j.ws_frame("in", text, account=s.account, session=s.id, consumer_id=s.consumer_id)

    def outbound(self, frame: dict[str, Any]) -> None:
        j = self.journal
        if j is not None:
            s = self.session
            j.ws_frame("out", frame, account=s.account, session=s.id, consumer_id=s.consumer_id)

    @property
    def armed(self) -> bool:
        plan = self.plan
        return plan is not None and plan.armed("ws_request", self.session.account)

    async def intercept(self, socket: _Socket, text: str) -> bool:
        """Apply a ``ws_request`` fault to this frame; ``True`` when the frame is consumed."""
        assert self.plan is not None
        try:
            doc = orjson.loads(text)
        except orjson.JSONDecodeError:
            return False
        if not isinstance(doc, dict):
            return False
        s = self.session
        fault = self.plan.match(
            "ws_request",
            account=s.account,
            consumer_id=s.consumer_id,
            conversation_id=_conversation_of(doc),
            type=doc.get("type") if isinstance(doc.get("type"), str) else None,
        )
        if fault is None:
            return False
        if fault.delay_ms:
            await asyncio.sleep(fault.delay_ms / 1000)
        if fault.drop:
            if self.transport is not None:
                self.transport.abort()
            socket.close(1006, "dropped by a fault")
            return True
        if fault.close_code is not None:
            socket.close(fault.close_code, fault.reason)
            return True
        if fault.status is not None:
            resp = {
                "kind": "resp",
                "reqId": request_id(doc) or "0",
                "code": fault.status,
                "body": fault.ws_body(),
                "type": _error_type(doc.get("type")),
            }
            socket.send_frame(resp)
            return True
        return False
