"""One UMS WebSocket on the aiohttp side, for both roles: the hub's session object.

Per socket: one reader loop, one writer task fed by a queue (frames keep their order, a close
waits for the frames queued before it), and three timers -- idle (reset by any frame, pings
included), the InitConnection window (consumer sockets without a token), and the credential's
expiry. The protocol itself is the core's (:class:`mockle.core.ums.Ums`); this module only
moves frames and keeps time.

A batch -- a ``resp`` and the notifications it caused -- is one hand-off. When nothing waits
before it (the writer is idle, its queue empty, the transport's buffer empty) and the socket
is not compressed, the batch is written at once, all its frames in one transport write
(:func:`wire_frames`), with no writer wake-up; otherwise it is queued for the writer, which
sends frame by frame through aiohttp (permessage-deflate, flow control). The bytes on the
wire are the same either way.
"""

from __future__ import annotations

import asyncio
import logging
import struct
from collections import deque
from collections.abc import Sequence
from contextlib import suppress
from dataclasses import dataclass
from typing import Any

import orjson
from aiohttp import WSMsgType, web

from mockle.core.clock import Clock
from mockle.core.closecodes import CloseCode
from mockle.core.sessions import Session
from mockle.core.ums import Ums
from mockle.web.framepath import FramePath
from mockle.web.hooks import SocketHooks
from mockle.web.hub import Hub

log = logging.getLogger("mockle.ums")

SHUTDOWN_WAIT_S = 5.0
# how long a close asked for by the server waits for the client's close frame before dropping
# the connection: a client that gets its answer sees a clean close (RFC 6455 7.1.1) with the
# server's code, instead of a dropped connection (aiohttp's client reports that as 1006)
CLOSE_HANDSHAKE_S = 2.0
MAX_REASON_BYTES = 123  # RFC 6455: the close reason fits in a control frame
MAX_PENDING_FRAMES = 10_000  # a client this far behind is closed (1013), not buffered forever


_FIN_TEXT = 0x81  # FIN, opcode 1 (text), no RSV bit: an uncompressed final text frame
_HEAD_SHORT = struct.Struct("!BB").pack
_HEAD_16 = struct.Struct("!BBH").pack
_HEAD_64 = struct.Struct("!BBQ").pack


def frame_head(size: int) -> bytes:
    """The head of an unmasked (server) text frame with a ``size``-byte payload (RFC 6455
    5.2): what aiohttp's writer puts before an uncompressed payload."""
    if size < 126:
        return _HEAD_SHORT(_FIN_TEXT, size)
    if size < 65536:
        return _HEAD_16(_FIN_TEXT, 126, size)
    return _HEAD_64(_FIN_TEXT, 127, size)


def wire_frames(payloads: Sequence[bytes]) -> bytes:
    """Uncompressed text frames, one per payload, as one run of bytes for one transport write."""
    parts: list[bytes] = []
    for data in payloads:
        parts.append(frame_head(len(data)))
        parts.append(data)
    return b"".join(parts)


@dataclass(slots=True)
class _Close:
    code: int
    reason: str
    graceful: bool = True  # wait (CLOSE_HANDSHAKE_S at most) for the client's close frame


def _reason(text: str) -> bytes:
    raw = text.encode()
    if len(raw) <= MAX_REASON_BYTES:
        return raw
    return raw[: MAX_REASON_BYTES - 3].decode(errors="ignore").encode() + b"..."


@dataclass(slots=True)
class SocketTimers:
    """The timeouts of a socket (seconds)."""

    idle: float
    auth: float


class UmsSocket:
    """One UMS socket: the hub's session (``send_frame`` / ``close`` / ``drop``)."""

    def __init__(
        self,
        ws: web.WebSocketResponse,
        session: Session,
        ums: Ums,
        hub: Hub,
        hooks: SocketHooks,
        timers: SocketTimers,
        clock: Clock,
        transport: asyncio.Transport | None = None,
    ) -> None:
        self.ws = ws
        self.session = session
        self.ums = ums
        self.hub = hub
        self.hooks = hooks  # journal and ws_request faults
        self.clock = clock
        self.finished = asyncio.Event()
        self._queue: deque[dict[str, Any] | _Close | None] = deque()
        self._wake: asyncio.Future[None] | None = None  # the idle writer waits on it
        self._transport = transport  # the connection's: batches written at once go to it
        self._direct: asyncio.Transport | None = None  # set by the writer unless compressed
        self._closing = False
        self._loop = asyncio.get_running_loop()
        self._last = self._loop.time()
        self._idle = timers.idle
        self._auth = timers.auth
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self._expiry_for: int | None = None
        #: the connection's fast path for text frames, once installed (:meth:`use_path`)
        self.path: FramePath | None = None

    @property
    def account(self) -> str:
        return self.session.account

    # -- the hub's session interface ------------------------------------------------------------

    def send_frame(self, frame: dict[str, Any]) -> None:
        self.send_frames((frame,))

    def send_frames(self, frames: Sequence[dict[str, Any]]) -> None:
        """Queue frames in order: journalled together, written after one writer wake-up."""
        if self._closing:
            return
        queue = self._queue
        room = MAX_PENDING_FRAMES - len(queue)
        if len(frames) > room:  # the frames that fit are queued, then the backlog goes
            if room > 0:
                self.send_frames(frames[:room])
            self._overflow()
            return
        self.hooks.outbound(frames)
        if not queue and self._wake is not None and self._writable_now():
            self._write_now(frames)
            return
        queue.extend(frames)
        self._notify()

    def _writable_now(self) -> bool:
        """Whether a batch may skip the writer: the socket is uncompressed, aiohttp has not
        begun a close, and the transport holds nothing unsent (no flow control to wait on)."""
        transport = self._direct
        return (
            transport is not None
            and not self.ws.closed
            and not transport.is_closing()
            and not transport.get_write_buffer_size()
        )

    def _write_now(self, frames: Sequence[dict[str, Any]]) -> None:
        """Write a batch in one transport write (only when :meth:`_writable_now`)."""
        assert self._direct is not None
        self._direct.write(wire_frames([d for d in map(self._serialised, frames) if d]))

    def _serialised(self, frame: dict[str, Any]) -> bytes | None:
        """The frame's JSON (its UTF-8 bytes are the text frame's payload, as is)."""
        try:
            return orjson.dumps(frame)
        except orjson.JSONEncodeError:  # a bug: never kill the socket for it
            log.exception("%s: frame not serialisable", self.session.id)
            return None

    def _push(self, item: _Close | None) -> None:
        self._queue.append(item)
        self._notify()

    def _notify(self) -> None:
        wake = self._wake
        if wake is not None:
            self._wake = None
            if not wake.done():
                wake.set_result(None)

    def _overflow(self) -> None:
        """The client reads slower than mockle writes: drop the backlog and close (1013)."""
        log.warning("%s: %d frames unread; closing", self.session.id, len(self._queue))
        self._queue.clear()
        self._closing = True
        reason = f"the client is {MAX_PENDING_FRAMES} frames behind; reconnect and resubscribe"
        self._push(_Close(CloseCode.TRY_AGAIN_LATER, reason, graceful=False))

    def close(self, code: int, reason: str) -> None:
        if not self._closing:
            self._closing = True
            self._push(_Close(code, reason))

    def drop(self) -> None:
        """The connection was aborted (a ``drop`` fault): end without a close frame."""
        self._closing = True
        self._push(None)

    def shutdown(self) -> None:
        """Server shutdown: the close frame (1001) goes after the queued frames; the client's
        answer is awaited (``CLOSE_HANDSHAKE_S`` at most), as for every close mockle asks for."""
        if not self._closing:
            self._closing = True
            self._push(_Close(CloseCode.GOING_AWAY, "server shutdown"))

    # -- running ----------------------------------------------------------------------------

    async def run(self) -> None:
        """Read and write until the socket ends. A close asked for by the server (through
        :meth:`close`) is made here, once the frames queued before it are sent and the reader
        has stopped, so that aiohttp waits for the client's close frame (a clean close)."""
        reader = asyncio.create_task(self._read(), name=f"{self.session.id}-reader")
        writer = asyncio.create_task(self._write(), name=f"{self.session.id}-writer")
        self._arm("idle", self._idle, self._on_idle)
        if not self.session.authenticated:
            self._arm("auth", self._auth, self._on_auth_timeout)
        self._arm_expiry()
        try:
            await asyncio.wait({reader, writer}, return_when=asyncio.FIRST_COMPLETED)
            request = writer.result() if writer.done() and not writer.exception() else None
            if request is not None:
                if request.graceful:
                    await _stop(reader)
                with suppress(ConnectionError, RuntimeError, TimeoutError):
                    await self.ws.close(code=request.code, message=_reason(request.reason))
            elif not reader.done():
                await reader  # the peer is gone: the reader sees the end of the stream
        finally:
            for handle in self._timers.values():
                handle.cancel()
            self._timers.clear()
            self._closing = True
            self._push(None)
            await _stop(reader)
            await _stop(writer)

    def take_text(self, text: str) -> bool:
        """A text frame from the fast path (:mod:`mockle.web.framepath`), handled now as
        :meth:`_read` handles one; ``False`` when it must go through :meth:`_read` instead: a
        ``ws_request`` fault may apply (it may delay the frame), or a close is under way."""
        if self._closing or self.hooks.armed:
            return False
        self._last = self._loop.time()
        self.hooks.inbound(text)
        self._request(text)
        return True

    def _request(self, text: str) -> None:
        """A text frame the faults let through: the core's answer, carried out."""
        self.hub.dispatch(self.ums.frame(self.session, text))
        if self.session.expires_ms != self._expiry_for:
            self._arm_expiry()

    async def _read(self) -> None:
        ws, hub, hooks, path = self.ws, self.hub, self.hooks, self.path
        while True:
            if path is None:
                msg = await ws.receive()
            else:
                path.parked = True  # nothing waits in aiohttp's queue while this awaits it
                try:
                    msg = await ws.receive()
                finally:
                    path.parked = False
            kind = msg.type
            if kind is WSMsgType.TEXT:
                self._last = self._loop.time()
                hooks.inbound(msg.data)
                if hooks.armed and await hooks.intercept(self, msg.data):
                    continue
                self._request(msg.data)
            elif kind is WSMsgType.BINARY:
                self._last = self._loop.time()
                hub.dispatch(self.ums.binary(self.session))
            elif kind is WSMsgType.PING:
                self._last = self._loop.time()
                with suppress(ConnectionError, RuntimeError):
                    await ws.pong(msg.data)
            elif kind is WSMsgType.PONG:
                self._last = self._loop.time()
            else:  # CLOSE, CLOSING, CLOSED, ERROR (too big: aiohttp closed it with 1009)
                return

    async def _write(self) -> _Close | None:
        """Send queued frames in order; return the close request that ends the queue."""
        ws, queue, loop = self.ws, self._queue, self._loop
        if not ws.compress:  # permessage-deflate frames go through aiohttp's writer
            self._direct = self._transport
        while True:
            if not queue:
                self._wake = wake = loop.create_future()
                await wake
                continue
            item = queue.popleft()
            if item is None or isinstance(item, _Close):
                return item
            data = self._serialised(item)
            if data is None:
                continue
            try:
                await ws.send_frame(data, WSMsgType.TEXT)
            except (ConnectionError, RuntimeError):  # the peer is gone
                return None

    # -- timers -------------------------------------------------------------------------------

    def _arm(self, name: str, delay: float, callback: Any) -> None:
        old = self._timers.pop(name, None)
        if old is not None:
            old.cancel()
        self._timers[name] = self._loop.call_later(max(delay, 0.0), callback)

    def _on_idle(self) -> None:
        self._timers.pop("idle", None)
        silent = self._loop.time() - self._last
        if silent >= self._idle:
            self.close(CloseCode.IDLE, f"idle for more than {self._idle:g} s")
        else:
            self._arm("idle", self._idle - silent, self._on_idle)

    def _on_auth_timeout(self) -> None:
        self._timers.pop("auth", None)
        self.hub.dispatch(self.ums.auth_timeout(self.session))

    def _arm_expiry(self) -> None:
        expires = self.session.expires_ms
        self._expiry_for = expires
        if expires is None:
            old = self._timers.pop("expiry", None)
            if old is not None:
                old.cancel()
            return
        delay = (expires - self.clock.now_ms()) / 1000
        self._arm("expiry", delay, self._on_expiry)

    def _on_expiry(self) -> None:
        self._timers.pop("expiry", None)
        self.hub.dispatch(self.ums.check_expiry(self.session))
        if not self.session.closing:
            self._arm_expiry()


async def _stop(task: asyncio.Task[Any]) -> None:
    """Cancel a task unless it has ended, wait for it (bounded), log a bug it ended with."""
    if not task.done():
        task.cancel()
    done, _ = await asyncio.wait({task}, timeout=SHUTDOWN_WAIT_S)
    if task in done and not task.cancelled():
        exc = task.exception()
        if exc is not None:
            log.error("%s ended with an error", task.get_name(), exc_info=exc)


async def close_all(sockets: set[UmsSocket]) -> None:
    """Server shutdown: every socket is closed with 1001 (going away)."""
    live = list(sockets)
    for sock in live:
        sock.shutdown()
    if live:
        waits = [asyncio.ensure_future(s.finished.wait()) for s in live]
        _, pending = await asyncio.wait(waits, timeout=SHUTDOWN_WAIT_S)
        for task in pending:
            task.cancel()
