"""The socket's fast path (mockle/web/framepath.py): which frames it takes, that the frames it
hands to aiohttp's reader come out of aiohttp exactly as if aiohttp had read the stream alone,
and that a real socket answers and journals byte for byte alike on both paths."""

from __future__ import annotations

import asyncio
import re
import struct
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from aiohttp import WSMsgType
from aiohttp._websocket.reader import WebSocketDataQueue, WebSocketReader
from hypothesis import given, settings
from hypothesis import strategies as st

from mockle.core.clock import FakeClock, Ids
from mockle.server import MockleServer
from mockle.settings import Settings
from mockle.web import framepath
from mockle.web.app import build_world
from mockle.web.framepath import FramePath
from mockle.web.journal import LogLine
from mockle.web.socket import UmsSocket

pytestmark = pytest.mark.timeout(60)

MASK = b"\x1f\x8b\x05\xa3"
_LOOP = asyncio.new_event_loop()  # the queues' (only read() would use it); closed below


@pytest.fixture(scope="module", autouse=True)
def _close_loop() -> Iterator[None]:
    yield
    _LOOP.close()


MAX = 4096


def frame(payload: bytes, opcode: int = 1, fin: bool = True, mask: bytes | None = MASK,
          rsv: int = 0) -> bytes:  # fmt: skip
    """A client frame (RFC 6455 5.2), masked unless ``mask`` is None."""
    n = len(payload)
    first = (0x80 if fin else 0) | rsv | opcode
    bit = 0x80 if mask is not None else 0
    if n < 126:
        head = struct.pack("!BB", first, bit | n)
    elif n < 65536:
        head = struct.pack("!BBH", first, bit | 126, n)
    else:
        head = struct.pack("!BBQ", first, bit | 127, n)
    if mask is None:
        return head + payload
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return head + mask + masked


def text(s: str, **kw: Any) -> bytes:
    return frame(s.encode(), **kw)


class _Protocol:
    """What aiohttp's queue asks of the connection's protocol."""

    _reading_paused = False

    def pause_reading(self) -> None:
        self._reading_paused = True

    def resume_reading(self) -> None:
        self._reading_paused = False


class Taker:
    """A sink that takes every text (unless told not to) into ``out``."""

    def __init__(self, out: list[tuple[Any, Any]], takes: bool = True) -> None:
        self.out = out
        self.takes = takes

    def take_text(self, data: str) -> bool:
        if self.takes:
            self.out.append((WSMsgType.TEXT, data))
        return self.takes


class Spy:
    """aiohttp's reader, noting what it is fed."""

    def __init__(self, reader: WebSocketReader, fed: list[bytes]) -> None:
        self.reader, self.fed = reader, fed

    def feed_data(self, data: bytes) -> tuple[bool, bytes]:
        self.fed.append(bytes(data))
        return self.reader.feed_data(data)  # type: ignore[no-any-return]

    def feed_eof(self) -> None:
        self.reader.feed_eof()


def t(data: str) -> tuple[Any, str]:
    return WSMsgType.TEXT, data


class Pair:
    """aiohttp's reader, with a FramePath in front of it; ``out`` is what the socket sees, in
    order: texts taken at once and messages its reader task takes from aiohttp's queue."""

    def __init__(self, takes: bool = True, max_size: int = MAX) -> None:
        self.queue = WebSocketDataQueue(_Protocol(), 2**16, loop=_LOOP)
        self.reader = WebSocketReader(self.queue, max_size, compress=False, decode_text=True)
        self.out: list[tuple[Any, Any]] = []
        self.sink = Taker(self.out, takes)
        self.path = FramePath(self.reader, self.sink, max_size)
        self.fed: list[bytes] = []  # what reached aiohttp's reader
        self.path.reader = Spy(self.reader, self.fed)

    def feed(self, data: bytes) -> tuple[bool, bytes]:
        return self.path.feed_data(data)

    def run_reader(self) -> None:
        """The socket's reader task: take what waits in aiohttp's queue, then park."""
        buffer = self.queue._buffer
        while buffer:
            msg, _ = buffer.popleft()
            self.out.append((msg.type, msg.data))
        self.path.parked = True


def alone(data: list[bytes], max_size: int = MAX) -> tuple[list[tuple[Any, Any]], bool]:
    """What aiohttp's reader alone makes of the chunks: its messages, and whether it failed."""
    queue = WebSocketDataQueue(_Protocol(), 2**16, loop=_LOOP)
    reader = WebSocketReader(queue, max_size, compress=False, decode_text=True)
    failed = False
    for chunk in data:
        failed = reader.feed_data(chunk)[0] or failed
    return [(msg.type, msg.data) for msg, _ in queue._buffer], failed


# -- which frames it takes ------------------------------------------------------------------------


def test_text_frames_in_one_chunk_are_taken_in_order_while_parked() -> None:
    p = Pair()
    p.run_reader()
    assert p.feed(text("a") + text("é" * 100) + text("c" * 300)) == (False, b"")
    assert p.out == [t("a"), t("é" * 100), t("c" * 300)]
    assert p.fed == []


def test_an_unmasked_text_frame_is_taken_as_aiohttp_reads_it() -> None:
    p = Pair()
    p.run_reader()
    p.feed(text("plain", mask=None))
    assert p.out == [(WSMsgType.TEXT, "plain")] == alone([text("plain", mask=None)])[0]


@pytest.mark.parametrize("cut", range(1, 12))
def test_a_frame_in_pieces_is_taken_once_whole(cut: int) -> None:
    p = Pair()
    p.run_reader()
    data = text("x" * 200) + text("y")
    p.feed(data[:cut])
    assert p.out == []
    p.feed(data[cut:])
    assert p.out == [(WSMsgType.TEXT, "x" * 200), (WSMsgType.TEXT, "y")]
    assert p.fed == []


def test_before_the_reader_parks_frames_go_to_aiohttp_whole() -> None:
    p = Pair()
    p.feed(text("early") + text("second"))
    assert p.fed == [text("early"), text("second")] and p.out == []
    p.run_reader()
    p.feed(text("late"))
    assert p.out == [t("early"), t("second"), t("late")]


def test_a_frame_behind_one_in_aiohttp_s_queue_waits_its_turn_there() -> None:
    p = Pair()
    p.run_reader()
    p.feed(frame(b"hi", opcode=9) + text("after the ping"))  # a ping: the reader task's
    assert p.fed == [frame(b"hi", opcode=9), text("after the ping")]
    p.run_reader()
    assert p.out == [(WSMsgType.PING, b"hi"), (WSMsgType.TEXT, "after the ping")]


def test_a_sink_that_declines_sends_the_frame_to_aiohttp() -> None:
    p = Pair(takes=False)
    p.run_reader()
    p.feed(text("a fault is armed"))
    assert p.fed == [text("a fault is armed")]
    assert not p.path.parked


@pytest.mark.parametrize(
    "odd",
    [
        frame(b"\x00\x01", opcode=2),  # binary
        frame(b"", opcode=10),  # pong
        frame(struct.pack("!H", 1000), opcode=8),  # close
        frame(b"\xff\xfe", opcode=1),  # not UTF-8: 1007
    ],
)
def test_frames_other_than_plain_text_go_to_aiohttp_whole(odd: bytes) -> None:
    p = Pair()
    p.run_reader()
    p.feed(odd)
    assert p.fed == [odd]
    p.run_reader()
    assert p.out == alone([odd])[0]


def test_a_fragmented_message_is_aiohttp_s_until_its_last_frame() -> None:
    p = Pair()
    p.run_reader()
    parts = [text("one ", fin=False), frame(b"two ", opcode=0, fin=False),
             frame(b"x", opcode=9), frame(b"three", opcode=0)]  # fmt: skip
    for part in parts:
        p.feed(part)
        p.run_reader()  # parked again, but the message is not over: still aiohttp's
    assert p.fed == parts
    p.feed(text("next"))
    assert p.fed == parts
    assert p.out == [(WSMsgType.PING, b"x"), (WSMsgType.TEXT, "one two three"),
                     (WSMsgType.TEXT, "next")]  # fmt: skip


@pytest.mark.parametrize("start", [b"", b"begun"])
def test_a_text_frame_inside_a_fragmented_message_is_aiohttp_s_to_judge(start: bytes) -> None:
    p = Pair()
    p.run_reader()
    p.feed(frame(start, fin=False))
    p.run_reader()
    p.feed(text("inside"))  # aiohttp refuses it after a payload, takes it after an empty one
    p.run_reader()
    expected, failed = alone([frame(start, fin=False) + text("inside")])
    assert p.fed == [frame(start, fin=False), text("inside")] and p.out == expected
    assert failed == bool(start)


@pytest.mark.parametrize(
    "bad",
    [
        text("reserved", rsv=0x40),  # RSV1 without an extension
        frame(b"", opcode=3),  # an unknown opcode
        frame(b"x" * 126, opcode=9),  # a control frame over 125 bytes
        frame(b"x", opcode=9, fin=False),  # a fragmented control frame
        text("x" * MAX),  # too big for max_msg_size: 1009
    ],
)
def test_what_cannot_be_cut_goes_to_aiohttp_with_all_that_follows(bad: bytes) -> None:
    p = Pair()
    p.run_reader()
    p.feed(text("before") + bad[:5])
    p.feed(bad[5:] + text("after"))
    p.feed(text("later"))
    assert p.out[0] == (WSMsgType.TEXT, "before")
    assert b"".join(p.fed) == bad + text("after") + text("later")
    p.run_reader()
    assert p.out[1:] == alone([bad + text("after") + text("later")])[0]


def test_after_aiohttp_fails_the_stream_it_keeps_the_rest() -> None:
    p = Pair()
    p.run_reader()
    data = text("x", rsv=0x20) + text("never")
    assert p.feed(data) == (True, b"")
    p.feed(text("nor this"))
    assert p.fed == [data, text("nor this")] and p.out == []


# -- the same messages as aiohttp alone ---------------------------------------------------------

_PAYLOADS = st.one_of(
    st.text(max_size=300).map(lambda s: text(s)),
    st.text(max_size=20).map(lambda s: text(s, mask=None)),
    st.binary(max_size=40).map(lambda b: frame(b, opcode=2)),
    st.binary(max_size=20).map(lambda b: frame(b, opcode=9)),
    st.binary(max_size=20).map(lambda b: frame(b, opcode=10)),
    st.just(frame(b"\xc3\x28")),  # invalid UTF-8
    # fragments on their own: a message begun, continued, ended, or a text in its middle
    st.text(max_size=8).map(lambda s: frame(s.encode(), fin=False)),
    st.text(max_size=8).map(lambda s: frame(s.encode(), opcode=0, fin=False)),
    st.text(max_size=8).map(lambda s: frame(s.encode(), opcode=0)),
    st.lists(st.text(min_size=1, max_size=10), min_size=2, max_size=4).map(
        lambda parts: b"".join(
            frame(p.encode(), opcode=1 if i == 0 else 0, fin=i == len(parts) - 1)
            for i, p in enumerate(parts)
        )
    ),
)
_BAD = st.sampled_from(
    [
        b"",
        text("r", rsv=0x40),
        frame(b"", opcode=5),
        frame(b"y" * 130, opcode=10),
        text("z" * MAX),
        frame(b"", opcode=0),
    ]  # fmt: skip
)


@settings(max_examples=300, deadline=None)
@given(
    frames=st.lists(_PAYLOADS, max_size=12),
    bad=_BAD,
    cuts=st.lists(st.integers(min_value=0, max_value=2000), max_size=8),
    runs=st.lists(st.booleans(), min_size=20, max_size=20),
)
def test_the_socket_sees_what_aiohttp_alone_would_give_it(
    frames: list[bytes], bad: bytes, cuts: list[int], runs: list[bool]
) -> None:
    stream = b"".join(frames) + bad
    points = sorted({min(c, len(stream)) for c in cuts})
    chunks = [stream[a:b] for a, b in zip([0, *points], [*points, len(stream)], strict=True)]
    expected, failed = alone(chunks)
    p = Pair()
    eof = False
    for i, chunk in enumerate(chunks):
        if runs[i % len(runs)]:
            p.run_reader()
        eof = p.feed(chunk)[0] or eof
    p.run_reader()
    assert p.out == expected
    assert eof == failed


# -- a real socket, byte for byte on both paths -------------------------------------------------

ACCOUNT = "le-frames"
HANDSHAKE = (
    "GET /ws_api/account/{acc}/messaging/consumer?v=3 HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    "Sec-WebSocket-Version: 13\r\nAuthorization: jwt {jws}\r\n\r\n"
)


def req(rid: str, type_: str, body: Any) -> bytes:
    return text(orjson.dumps({"kind": "req", "id": rid, "type": type_, "body": body}).decode())


def clock(rid: str) -> bytes:
    return req(rid, "GetClock", {})


def server_frames(data: bytes) -> Iterator[tuple[int, bytes]]:
    at = 0
    while len(data) - at >= 2:
        n, start = data[at + 1] & 0x7F, at + 2
        if n == 126:
            n, start = int.from_bytes(data[start : start + 2], "big"), start + 2
        elif n == 127:
            n, start = int.from_bytes(data[start : start + 8], "big"), start + 8
        if len(data) < start + n:
            return
        yield data[at] & 0x0F, data[start : start + n]
        at = start + n


class Raw:
    """One consumer socket over a real connection, driven byte by byte."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.got = b""

    async def until(self, needle: bytes) -> None:
        """Read until a frame holding ``needle`` arrived (or the connection ended)."""
        while not any(needle in p for _, p in server_frames(self.got)):
            chunk = await asyncio.wait_for(self.reader.read(65536), 5)
            if not chunk:
                return
            self.got += chunk

    async def step(self, data: bytes, barrier: str) -> None:
        self.writer.write(data + clock(barrier))
        await self.writer.drain()
        await self.until(f'"reqId":"{barrier}"'.encode())

    async def closed(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()
        while chunk := await asyncio.wait_for(self.reader.read(65536), 5):
            self.got += chunk


async def _twin() -> MockleServer:
    settings = Settings(port=0, agent="echo", seed=7, ws_max_frame=MAX)
    server = MockleServer(settings, world=build_world(settings, FakeClock(), Ids(7)))
    await server.start()
    return server


async def _open(server: MockleServer) -> Raw:
    jws = server.engine.tokens.mint_consumer_jws(ACCOUNT, "ext-1", 0)
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(HANDSHAKE.format(acc=ACCOUNT, jws=jws).encode())
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    assert head.startswith(b"HTTP/1.1 101"), head
    return Raw(reader, writer)


async def _scenario(server: MockleServer, ending: bytes) -> tuple[bytes, list[Any]]:
    raw = await _open(server)
    await raw.step(req("1", "cm.ConsumerRequestConversation", {"brandId": ACCOUNT}), "c1")
    conv = re.search(rb'"conversationId":"([^"]+)"', raw.got)
    assert conv is not None, raw.got
    dialog = conv.group(1).decode()
    sub = {"dialogId": dialog, "fromSeq": 0}
    await raw.step(req("2", "ms.SubscribeMessagingEvents", sub), "c2")
    event = {"type": "ContentEvent", "contentType": "text/plain", "message": "héllo " * 40}
    publish = req("3", "ms.PublishEvent", {"dialogId": dialog, "event": event})
    await raw.step(publish, "c3")
    # several in one write: a publish, bad JSON, an unknown type, a ping, a split request
    many = publish + text("{not json") + req("4", "no.SuchType", {}) + frame(b"p", opcode=9)
    await raw.step(many + text('{"kind":"req","id":"5","type":"GetClock","body":{}}'), "c4")
    half = clock("c5")
    raw.writer.write(half[:7])
    await raw.writer.drain()
    await raw.step(half[7:] + frame(b'{"kind":"req",', fin=False) + frame(b'"id":"6",', opcode=0,
                   fin=False) + frame(b'"type":"GetClock","body":{}}', opcode=0), "c6")  # fmt: skip
    await raw.step(frame(b"\x01\x02", opcode=2), "c7")  # binary: the documented refusal
    await raw.closed(ending)
    raw.writer.close()
    entries = [(orjson.dumps(e.as_json() | {"ms": None}), LogLine(e).text())
               for e in server.runtime.journal.entries]  # fmt: skip
    return raw.got, entries


def _plain(entries: list[Any]) -> list[Any]:
    return [(doc, re.sub(r"\s*\d+(\.\d+)? ?ms", "-ms", line)) for doc, line in entries]


@pytest.mark.parametrize(
    "ending",
    [
        frame(struct.pack("!H", 1000) + b"bye", opcode=8),  # a clean close
        frame(b"\xff\xfe"),  # not UTF-8: aiohttp closes with 1007
        text("x" * (MAX + 1)),  # over --ws-max-frame: 1009
        text("r", rsv=0x40),  # a reserved bit: 1002
    ],
)
async def test_both_paths_answer_and_journal_byte_for_byte_alike(
    ending: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    taken: list[str] = []
    real = UmsSocket.take_text

    def counting(self: UmsSocket, data: str) -> bool:
        took = real(self, data)
        if took:
            taken.append(data)
        return took

    monkeypatch.setattr(UmsSocket, "take_text", counting)
    fast = await _twin()
    try:
        fast_wire, fast_entries = await _scenario(fast, ending)
    finally:
        await fast.stop()
    on_fast_path = len(taken)
    monkeypatch.setattr(framepath, "install", lambda *a: None)
    generic = await _twin()
    try:
        generic_wire, generic_entries = await _scenario(generic, ending)
    finally:
        await generic.stop()
    assert on_fast_path >= 8 and len(taken) == on_fast_path  # none on the generic twin
    assert fast_wire == generic_wire
    assert list(server_frames(fast_wire))[-1][0] == 8  # both end with the server's close frame
    assert _plain(fast_entries) == _plain(generic_entries)
