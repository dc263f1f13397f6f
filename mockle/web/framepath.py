"""The UMS socket's fast path: a client's text frames answered inside ``data_received``.

Once a socket is upgraded, aiohttp feeds what arrives to its ``WebSocketReader``, which parses
frames into a queue that the socket's reader task awaits: one task wake-up, one ``WSMessage``
and one trip through ``WebSocketResponse.receive`` per frame. :class:`FramePath` stands in for
that reader as the connection's payload parser (:func:`install`). It cuts what arrives into
whole frames and, for each one:

* a plain text frame -- final, no reserved bit, of a size aiohttp accepts, valid UTF-8 --
  while nothing waits before it (the socket's reader is parked on an empty queue, see
  :attr:`FramePath.parked`) and the socket takes it (:meth:`Sink.take_text`: no fault armed, no
  close under way) is handed to the socket at once, synchronously, which runs exactly what its
  reader task runs for a text message;
* any other frame (ping, pong, close, binary, a fragment, invalid UTF-8, a frame while an
  earlier one still waits in aiohttp's queue) is fed, whole and as received, to aiohttp's
  reader, which does with it what it always does: the socket's reader task receives it;
* bytes that cannot be cut into frames (a reserved bit, an unknown opcode, a control frame
  that is fragmented or longer than 125 bytes, a frame too big for ``--ws-max-frame``) go to
  aiohttp's reader from that frame on, and so does everything after them: aiohttp makes the
  refusal it makes today (the close with 1002 or 1009).

Frames keep their order: a frame goes to the socket at once only when no frame before it waits
in aiohttp's queue. A frame is kept here until it is whole (at most ``--ws-max-frame`` bytes
and its head). A compressed socket (permessage-deflate) keeps aiohttp's reader alone.
tests/web/test_framepath.py proves that both paths answer and journal byte for byte alike.
"""

from __future__ import annotations

from typing import Any, Protocol

try:  # aiohttp >= 3.11
    from aiohttp._websocket.helpers import websocket_mask
except ImportError:  # pragma: no cover - older aiohttp
    from aiohttp.http_websocket import websocket_mask  # type: ignore[attr-defined,no-redef]

_FIN_TEXT = 0x81  # FIN, no reserved bit, opcode 1 (text)
_DATA_OPCODES = (0x0, 0x1, 0x2)  # continuation, text, binary
_CONTROL_OPCODES = (0x8, 0x9, 0xA)  # close, ping, pong
_NOTHING = (False, b"")  # what a payload parser returns when the connection goes on


class Sink(Protocol):
    """The socket the frames are for (:class:`mockle.web.socket.UmsSocket`)."""

    def take_text(self, text: str) -> bool:
        """Handle a text frame now, as the reader task would; ``False`` if it must go the
        reader task's way instead (a fault armed, a close under way)."""
        ...


class FramePath:
    """The payload parser of an upgraded connection (see the module's docstring)."""

    __slots__ = ("reader", "sink", "max_size", "parked", "_buf", "_through", "_fragmented")

    def __init__(self, reader: Any, sink: Sink, max_size: int) -> None:
        self.reader = reader  # aiohttp's WebSocketReader: every frame not taken here
        self.sink = sink
        self.max_size = max_size  # aiohttp's max_msg_size: a frame this big is its to refuse
        # set by the socket's reader just before it awaits aiohttp's queue, cleared as soon as
        # a frame is fed to that queue: True means nothing waits there
        self.parked = False
        self._buf = b""  # the start of a frame not whole yet
        self._through = False  # everything goes to aiohttp's reader from now on
        self._fragmented = False  # a fragmented message is under way: its frames are aiohttp's

    def feed_eof(self) -> None:
        self.reader.feed_eof()

    def feed_data(self, data: bytes | bytearray | memoryview) -> tuple[bool, bytes]:
        if self._through:
            return self.reader.feed_data(data)  # type: ignore[no-any-return]
        buf = self._buf + data if self._buf else bytes(data)
        size = len(buf)
        at = 0
        while size - at >= 2:
            first, second = buf[at], buf[at + 1]
            length = second & 0x7F
            start = at + 2
            if length == 126:
                if size - start < 2:
                    break
                length = int.from_bytes(buf[start : start + 2], "big")
                start += 2
            elif length == 127:
                if size - start < 8:
                    break
                length = int.from_bytes(buf[start : start + 8], "big")
                start += 8
            if not self._cuttable(first, length):
                self._buf = b""
                self._through = True
                return self.reader.feed_data(buf[at:])  # type: ignore[no-any-return]
            mask = None
            if second & 0x80:
                mask = buf[start : start + 4]
                start += 4
            end = start + length
            if end > size:
                break
            if first == _FIN_TEXT and self.parked and not self._fragmented:
                payload = bytearray(buf[start:end])
                if mask is not None:
                    websocket_mask(mask, payload)
                try:
                    text = payload.decode()
                except UnicodeDecodeError:
                    text = None  # aiohttp's to refuse (1007)
                if text is not None and self.sink.take_text(text):
                    at = end
                    continue
            opcode = first & 0x0F
            if opcode in _DATA_OPCODES:
                self._fragmented = not first & 0x80
            self.parked = False  # the reader task has a frame to take from aiohttp's queue
            eof, tail = self.reader.feed_data(buf[at:end])
            at = end
            if eof:
                self._buf = b""
                self._through = True
                return eof, tail
        self._buf = buf[at:]
        return _NOTHING

    def _cuttable(self, first: int, length: int) -> bool:
        """Whether the frame whose head says ``first`` and ``length`` may be cut out here: one
        aiohttp reads without refusing it (see the module's docstring)."""
        if first & 0x70:  # a reserved bit (no extension is in use)
            return False
        opcode = first & 0x0F
        if opcode in _DATA_OPCODES:
            return length < self.max_size
        return opcode in _CONTROL_OPCODES and bool(first & 0x80) and length <= 125


def install(protocol: Any, sink: Sink, max_size: int) -> FramePath | None:
    """Put a :class:`FramePath` in front of the WebSocketReader that ``ws.prepare`` gave the
    connection's ``protocol`` (aiohttp's ``RequestHandler``); ``None`` if there is none."""
    reader = getattr(protocol, "_payload_parser", None)
    if reader is None:
        return None
    path = FramePath(reader, sink, max_size)
    protocol._payload_parser = path
    return path
