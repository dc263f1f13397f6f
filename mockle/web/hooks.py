"""The test toolkit's hooks into a UMS socket: journal entries and ``ws_request`` faults.

Every frame in and out goes to the journal; a ``ws_request`` fault may delay a request, answer
it with an error ``resp`` (the socket stays open), close the socket with a code, or drop the
connection. With no fault registered the check costs one truth test.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any, Protocol

import orjson

from mockle.core import frames
from mockle.core.faults import FaultPlan
from mockle.core.requests import conversation_id_of, request_id
from mockle.core.sessions import Session
from mockle.web.journal import Journal


class _Socket(Protocol):
    def send_frame(self, frame: dict[str, Any]) -> None: ...

    def close(self, code: int, reason: str) -> None: ...

    def drop(self) -> None: ...


class SocketHooks:
    """One UMS socket's hooks. ``transport`` is set by the route so ``drop`` can abort it."""

    def __init__(self, session: Session, journal: Journal | None, plan: FaultPlan) -> None:
        self.session = session
        self.journal = journal
        self.plan = plan
        self.transport: asyncio.Transport | None = None

    def inbound(self, text: str) -> None:
        j = self.journal
        if j is not None:
            j.ws_frames("in", (text,), self.session)

    def outbound(self, frames: Sequence[dict[str, Any]]) -> None:
        """Frames queued for the client, in order (one journal call per batch)."""
        j = self.journal
        if j is not None:
            j.ws_frames("out", frames, self.session)

    @property
    def armed(self) -> bool:
        return self.plan.armed("ws_request", self.session.account)

    async def intercept(self, socket: _Socket, text: str) -> bool:
        """Apply a ``ws_request`` fault to this frame; ``True`` when the frame is consumed."""
        try:
            doc = orjson.loads(text)
        except orjson.JSONDecodeError:
            return False
        if not isinstance(doc, dict):
            return False
        s = self.session
        type_name = doc.get("type") if isinstance(doc.get("type"), str) else None
        fault = self.plan.match(
            "ws_request",
            account=s.account,
            consumer_id=s.consumer_id,
            agent_id=s.agent_id,
            conversation_id=conversation_id_of(doc.get("body")),
            type=type_name,
        )
        if fault is None:
            return False
        if fault.delay_ms:
            await asyncio.sleep(fault.delay_ms / 1000)
        if fault.drop:
            if self.transport is not None:
                self.transport.abort()
            socket.drop()
            return True
        if fault.close_code is not None:
            socket.close(fault.close_code, fault.reason)
            return True
        if fault.status is not None:
            rid = request_id(doc) or "0"
            resp = frames.error_resp(rid, type_name, fault.status, fault.ws_body(), s.dialect)
            socket.send_frame(resp)
            return True
        return False
