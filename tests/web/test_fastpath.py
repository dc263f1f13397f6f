"""The fast path (mockle/web/fastpath.py): which requests it takes, that it answers them byte for
byte as the generic aiohttp path does, and that every connection it declines reaches aiohttp
intact."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest

from mockle.core.clock import FakeClock, Ids
from mockle.core.engine import Effects
from mockle.server import MockleServer
from mockle.settings import Settings
from mockle.web import fastpath
from mockle.web.app import build_world
from mockle.web.fastpath import WAIT, FastConnection, HotRequest, recognise
from mockle.web.journal import LogLine

ACCOUNT = "le-fast"
SEND = f"/api/account/{ACCOUNT}/messaging/consumer/conversation/send"
CONV = f"/api/account/{ACCOUNT}/messaging/consumer/conversation"
pytestmark = pytest.mark.timeout(30)


def request(path: str, body: bytes, *fields: tuple[str, str], length: bool = True) -> bytes:
    lines = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1"]
    lines += [f"{name}: {value}" for name, value in fields]
    if length:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def publish(conv: str, text: str = "hello", req_id: str = "1") -> bytes:
    event = {"type": "ContentEvent", "contentType": "text/plain", "message": text}
    return orjson.dumps(
        {"kind": "req", "id": req_id, "type": "ms.PublishEvent",
         "body": {"dialogId": conv, "event": event}}
    )  # fmt: skip


CONV_BODY = orjson.dumps(
    [
        {"kind": "req", "id": "1,", "type": "userprofile.SetUserProfile", "body": {}},
        {"kind": "req", "id": "2,", "type": "cm.ConsumerRequestConversation",
         "body": {"brandId": ACCOUNT}},
    ]
)  # fmt: skip


# -- what the recogniser takes ----------------------------------------------------------------

HOT = request(SEND + "?v=3", b"{}", ("Authorization", "app"), ("X-LP-ON-BEHALF", "jws"))


def test_a_plain_send_is_hot_with_its_fields() -> None:
    found = recognise(HOT + b"GET /next", 1000)
    assert isinstance(found, HotRequest)
    assert (found.target, found.path, found.size) == ("send", SEND + "?v=3", len(HOT))
    call = found.call
    assert (call.account, call.authorization, call.on_behalf, call.body) == (
        ACCOUNT, "app", "jws", b"{}",
    )  # fmt: skip
    assert found.headers.startswith(b"Host: 127.0.0.1\r\nAuthorization: app")


def test_conversation_client_properties_and_the_first_of_a_repeated_header() -> None:
    raw = request(
        CONV, b"[]", ("authorization", "one"), ("Authorization", "two"),
        ("Client-Properties", ' {"type":".ClientProperties"} '), ("Connection", "Keep-Alive"),
    )  # fmt: skip
    found = recognise(raw, 1000)
    assert isinstance(found, HotRequest) and found.target == "conversation"
    assert found.call.authorization == "one"  # as aiohttp's headers.get() answers
    assert found.call.client_properties == '{"type":".ClientProperties"}'


@pytest.mark.parametrize("cut", [1, 4, 30, len(HOT) - 3 - 2 - 4])
def test_a_head_not_whole_yet_waits(cut: int) -> None:
    assert recognise(HOT[:cut], 1000) == WAIT


@pytest.mark.parametrize(
    "raw",
    [
        HOT.replace(b"POST", b"PUT"),
        HOT.replace(b"HTTP/1.1", b"HTTP/1.0"),
        HOT.replace(b"/send", b"/sendx"),
        HOT.replace(b"le-fast", b"le%2Dfast"),
        HOT.replace(b"le-fast", b".."),
        HOT.replace(SEND.encode(), b"http://x" + SEND.encode()),
        request(SEND, b"{}", ("Transfer-Encoding", "chunked")),
        request(SEND, b"{}", ("Content-Encoding", "gzip")),
        request(SEND, b"{}", ("Expect", "100-continue")),
        request(SEND, b"{}", ("Upgrade", "websocket")),
        request(SEND, b"{}", ("Connection", "close")),
        request(SEND, b"{}", ("Content-Length", "2")),  # two lengths
        request(SEND, b"{}", ("Content-Length", "+2"), length=False),
        request(SEND, b"{}", length=False),  # no length
        request(SEND, b"x" * 1001),  # over --max-body-size: aiohttp's 413
        request(SEND, b"{}", ("X-Name", "caf\u00e9")),  # not ASCII
        request(SEND, b"{}", ("X-Name", "a\x01b")),  # a control character
        request(SEND, b"{}", ("Bad Name", "x")),
        HOT.replace(b"Host: 127.0.0.1\r\n", b"Host: 127.0.0.1\r\n folded\r\n"),
        HOT[:-1],  # the body has not arrived whole with the head
        b"GET /_mockle/health HTTP/1.1\r\n",  # a head not whole, but already not hot
        b"GE",
        b"POST /_mockle/x",
        request(SEND, b"{}", ("X-Long", "a" * 8200)),
    ],
)
def test_anything_else_goes_to_aiohttp(raw: bytes) -> None:
    assert recognise(raw, 1000) is None


@pytest.mark.parametrize(
    "raw",
    [
        f"POST {SEND} HTTP/1.1\r\n\r\n".encode(),  # an empty header block
        HOT.replace(b"Host: 127.0.0.1", b"Host: 127.0.0.1\r"),  # a lone CR before a CRLF
        HOT.replace(b"Host: 127.0.0.1", b"Host: 127\r.0.0.1"),  # a lone CR inside a value
        HOT.replace(b"Host: 127.0.0.1", b"Host: 127\n.0.0.1"),  # a lone LF inside a value
        HOT.replace(b"Host: 127.0.0.1\r\n", b"Host: 127.0.0.1\n"),  # a line ended by LF alone
        HOT.replace(b"Host: 127.0.0.1\r\n", b"\nHost: 127.0.0.1\r\n"),  # LF after a CRLF
        HOT.replace(b"Host:", b"Ho\rst:"),  # a lone CR inside a name
        HOT.replace(b"HTTP/1.1\r\n", b"HTTP/1.1\n"),  # the request line ended by LF alone
        HOT.replace(b"?v=3", b"?v=\r3"),  # a lone CR in the request line
        HOT.replace(b"Content-Length: 2", b"content-length:2\r\nCONTENT-LENGTH: 2"),
        HOT.replace(b"Host: 127.0.0.1", b"Connection: keep-alive, close"),
        HOT.replace(b"Host: 127.0.0.1", b"Authorization"),  # a known name with no colon
        HOT.replace(b"Host: 127.0.0.1", b": x"),  # an empty name
    ],
)
def test_lone_line_ends_and_odd_fields_go_to_aiohttp(raw: bytes) -> None:
    assert recognise(raw, 1000) is None


@pytest.mark.parametrize("cut", [b"HTTP/1.1\r", b"HTTP/1.1\r\n", b"127.0.0.1\r\n", b"jws\r\n"])
def test_a_head_cut_at_a_line_end_waits(cut: bytes) -> None:
    assert recognise(HOT[: HOT.index(cut) + len(cut)], 1000) == WAIT


def test_a_head_with_a_lone_lf_waits_until_it_is_whole() -> None:
    """Not whole yet, a head is only judged by its request line (as aiohttp gets it whole)."""
    raw = HOT.replace(b"Host: 127.0.0.1\r\n", b"Host: 127.0.0.1\n")
    assert recognise(raw[: raw.index(b"Authorization")], 1000) == WAIT
    assert recognise(raw, 1000) is None
    no_end = HOT.replace(b"\r\n\r\n", b"\r\n\n\r\n")  # LF CRLF is not the end of a head
    assert recognise(no_end, 1000) == WAIT


def test_crlfcrlf_in_the_body_is_the_body_s() -> None:
    body = b'{"a":"\r\n\r\n"}'
    found = recognise(request(SEND, body) + b"POST", 1000)
    assert isinstance(found, HotRequest) and found.call.body == body
    assert found.size == len(request(SEND, body))


def test_a_request_after_another_in_the_same_data() -> None:
    """``at``: the request that starts where the one before it ended, as _serve reads a
    pipelined batch, without a copy of the rest."""
    first, second = request(CONV, b"[]"), request(SEND + "?v=3", b"{}", ("Authorization", "a"))
    found = recognise(first + second, 1000, len(first))
    assert isinstance(found, HotRequest) and found.target == "send"
    assert (found.size, found.call.body, found.call.authorization) == (len(second), b"{}", "a")
    assert found.headers.startswith(b"Host: ") and type(found.call.body) is bytes
    assert recognise(first + second[:-1], 1000, len(first)) is None  # its body cut short
    assert recognise(first + second[:20], 1000, len(first)) == WAIT


@pytest.mark.parametrize("account", [b"le\x01fast", b"le\x7ffast", b"caf\xc3\xa9", b"le\x1f"])
def test_an_account_aiohttp_refuses_goes_to_aiohttp(account: bytes) -> None:
    """aiohttp answers a control byte, DEL or a non-ASCII byte in the path with a 400; the
    recogniser once answered the first two itself and raised on the third."""
    raw = HOT.replace(ACCOUNT.encode(), account)
    assert recognise(raw, 1000) is None
    assert recognise(raw[: raw.index(b"\r\n") + 2], 1000) is None  # already with its line


# -- byte for byte the generic path's answer ------------------------------------------------------


class Wire(asyncio.Transport):
    """An in-memory transport: what a protocol writes, and when a whole answer is out."""

    def __init__(self) -> None:
        super().__init__()
        self.out = bytearray()
        self.protocol: Any = None
        self.closed = False
        self.reading = True
        self.full_at: int | None = None  # call protocol.pause_writing() past this size
        self.changed = asyncio.Event()

    def write(self, data: Any) -> None:
        self.out += data
        self.changed.set()
        if self.full_at is not None and len(self.out) > self.full_at:
            self.full_at = None
            self.protocol.pause_writing()

    def answers(self) -> list[bytes]:
        found, rest = [], bytes(self.out)
        while (end := rest.find(b"\r\n\r\n")) >= 0:
            length = int(re.search(rb"Content-Length: (\d+)", rest[:end]).group(1))  # type: ignore[union-attr]
            if len(rest) < end + 4 + length:
                break
            found.append(rest[: end + 4 + length])
            rest = rest[end + 4 + length :]
        return found

    async def wait_answers(self, n: int) -> list[bytes]:
        while len(self.answers()) < n:
            self.changed.clear()
            await asyncio.wait_for(self.changed.wait(), 5)
        return self.answers()

    def set_protocol(self, protocol: Any) -> None:
        self.protocol = protocol

    def get_protocol(self) -> Any:
        return self.protocol

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True

    def abort(self) -> None:
        self.closed = True

    def pause_reading(self) -> None:
        self.reading = False

    def resume_reading(self) -> None:
        self.reading = True

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": ("127.0.0.1", 40000), "sockname": ("127.0.0.1", 8080)}.get(
            name, default
        )

    def get_write_buffer_size(self) -> int:
        return 0

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        pass

    def can_write_eof(self) -> bool:
        return False


def connect(protocol: Any) -> Wire:
    wire = Wire()
    wire.protocol = protocol
    protocol.connection_made(wire)
    return wire


async def twin() -> MockleServer:
    """A mockle whose clock and ids are fixed: two of them answer the same requests alike."""
    settings = Settings(port=0, agent="manual", seed=7, max_body_size=100_000)
    server = MockleServer(settings, world=build_world(settings, FakeClock(), Ids(7)))
    await server.start()
    return server


@pytest.fixture
async def pair() -> AsyncIterator[tuple[MockleServer, MockleServer]]:
    fast, generic = await twin(), await twin()
    yield fast, generic
    await fast.stop()
    await generic.stop()


def _plain(answer: bytes) -> bytes:
    return re.sub(rb"Date: [^\r]+", b"Date: -", answer)


def _entry(entry: Any) -> tuple[dict[str, Any], str]:
    doc = entry.as_json()
    doc.pop("ms", None)
    return doc, re.sub(r"\s*\d+(\.\d+)? ?ms", "-ms", LogLine(entry).text())


def _scenario(server: MockleServer) -> list[bytes]:
    """Requests covering the Connector API's answers: each twin mints the same tokens."""
    tokens = server.engine.tokens
    app = tokens.mint_app_jwt(ACCOUNT, "fast", 3600)
    jws = tokens.mint_consumer_jws(ACCOUNT, "ext-1", 0)
    auth = (("Authorization", app), ("X-LP-ON-BEHALF", jws))
    opened = server.engine.request_conversation(
        server.engine.consumer(tokens.verify(tokens.mint_consumer_jws(ACCOUNT, "ext-2", 0))),
        {},
        Effects(),
    )
    other = (("Authorization", app), ("X-LP-ON-BEHALF", tokens.mint_consumer_jws(ACCOUNT, "e", 0)))
    props = ("Client-Properties", '{"type":".ClientProperties","features":["AUTO_MESSAGES"]}')
    return [
        request(CONV + "?v=3", CONV_BODY, *auth, props),
        request(CONV, CONV_BODY, *auth),  # a second open conversation: refused
        request(SEND, b"{not json", *auth),
        request(SEND, publish(opened.conv_id), *other),  # not this consumer's conversation
        request(SEND, publish("no-such-conversation"), *auth),
        request(SEND, b"{}", ("Authorization", "Bearer nonsense"), auth[1]),  # 401 with a hint
        request(SEND, publish("x"), auth[1]),  # no AppJWT
        request(SEND, orjson.dumps([1, 2]), *auth),
    ]


async def test_both_paths_answer_and_journal_byte_for_byte_alike(
    pair: tuple[MockleServer, MockleServer],
) -> None:
    fast, generic = pair
    assert fast.front is not None and generic._runner is not None
    raws = _scenario(fast)
    assert raws == _scenario(generic)  # the same tokens, ids and times
    # the conversation id comes from the first answer: then SENDs into it, on both twins
    fast_wire, generic_wire = connect(fast.front()), connect(generic._runner.server())
    for wire in (fast_wire, generic_wire):
        for i, raw in enumerate(raws):
            wire.protocol.data_received(raw)
            await wire.wait_answers(i + 1)
        conv = orjson.loads(wire.answers()[0].partition(b"\r\n\r\n")[2])[1]["body"]
        jws = dict(re.findall(r"(X-LP-ON-BEHALF|Authorization): ([^\r]+)", raws[0].decode()))
        auth = (("Authorization", jws["Authorization"]), ("X-LP-ON-BEHALF", jws["X-LP-ON-BEHALF"]))
        for text in ("one", "two"):
            wire.protocol.data_received(request(SEND, publish(conv["conversationId"], text), *auth))
        await wire.wait_answers(len(raws) + 2)
    assert isinstance(fast_wire.protocol, FastConnection)  # never handed over
    assert not isinstance(generic_wire.protocol, FastConnection)
    fast_answers = [_plain(a) for a in fast_wire.answers()]
    assert fast_answers == [_plain(a) for a in generic_wire.answers()]
    statuses = [int(a.split(b" ", 2)[1]) for a in fast_answers]
    assert 200 in statuses and 400 in statuses and 401 in statuses, statuses
    assert any(b"x-mockle-hint" in a for a in fast_answers)
    entries = list(fast.runtime.journal.entries)
    assert [_entry(e) for e in entries] == [_entry(e) for e in generic.runtime.journal.entries]
    assert any(e.hint for e in entries)
    sent = [orjson.loads(a.partition(b"\r\n\r\n")[2]) for a in fast_answers[-2:]]
    assert [doc["code"] for doc in sent] == ["OK", "OK"], sent
    assert sent[1]["body"]["sequence"] == sent[0]["body"]["sequence"] + 1


async def test_a_bug_is_answered_as_the_gateway_answers_it(
    pair: tuple[MockleServer, MockleServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    fast, generic = pair
    assert fast.front is not None and generic._runner is not None

    def broken(*args: Any) -> Any:
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr(fastpath, "connector_call", broken)
    monkeypatch.setattr("mockle.web.rest.connector_call", broken)
    out = []
    for protocol in (fast.front(), generic._runner.server()):
        wire = connect(protocol)
        protocol.data_received(request(SEND + "?v=3", b"{}"))
        out.append(_plain((await wire.wait_answers(1))[0]))
    assert out[0] == out[1] and out[0].startswith(b"HTTP/1.1 500 Internal Server Error")
    assert fast.runtime.bugs == generic.runtime.bugs == [f"POST {SEND}"]


# -- the connection: order, hand-over, back-pressure, shutdown ----------------------------------


def on_fast_path(pair: tuple[MockleServer, MockleServer]) -> tuple[MockleServer, Wire]:
    """The first twin and an in-memory connection to its fast path."""
    fast = pair[0]
    assert fast.front is not None
    return fast, connect(fast.front())


async def test_pipelined_requests_keep_their_order_across_the_hand_over(
    pair: tuple[MockleServer, MockleServer],
) -> None:
    fast, wire = on_fast_path(pair)
    health = b"GET /_mockle/health HTTP/1.1\r\nHost: x\r\n\r\n"
    wire.protocol.data_received(request(SEND, b"{}") + request(CONV, b"[]") + health)
    assert len(wire.answers()) == 2  # answered at once, before aiohttp takes over
    answers = await wire.wait_answers(4 - 1)
    assert [a.split(b"\r\n", 1)[0] for a in answers] == [
        b"HTTP/1.1 401 Unauthorized", b"HTTP/1.1 401 Unauthorized", b"HTTP/1.1 200 OK",
    ]  # fmt: skip
    assert not isinstance(wire.protocol, FastConnection)
    wire.protocol.data_received(request(SEND, b"{}"))  # later SENDs: aiohttp's, the same answer
    answers = await wire.wait_answers(4)
    assert _plain(answers[3]) == _plain(answers[0])
    assert len(fast.front.connections) == 0


async def test_a_head_in_pieces_is_answered_once_whole(
    pair: tuple[MockleServer, MockleServer],
) -> None:
    fast, wire = on_fast_path(pair)
    raw = request(SEND, b"{}")
    for i in range(len(raw) - 4):  # all but the head's last byte and the body
        wire.protocol.data_received(raw[i : i + 1])
    assert wire.answers() == [] and isinstance(wire.protocol, FastConnection)
    wire.protocol.data_received(raw[-4:])
    assert len(wire.answers()) == 1 and isinstance(wire.protocol, FastConnection)


async def test_pipelined_requests_split_in_a_head_are_all_answered_here(
    pair: tuple[MockleServer, MockleServer],
) -> None:
    """Whatever the cut inside a head (a body in pieces is aiohttp's: see above)."""
    fast = pair[0]
    first, second = request(SEND, b"{}"), request(CONV, b"[]")
    raw = first + second + request(SEND, b'{"a":1}')
    end = len(first) + second.index(b"\r\n\r\n")
    for cut in (1, len(first), len(first) + 1, end, end + 1, end + 2, end + 3):
        assert fast.front is not None
        wire = connect(fast.front())
        wire.protocol.data_received(raw[:cut])
        wire.protocol.data_received(raw[cut:])
        assert len(wire.answers()) == 3 and isinstance(wire.protocol, FastConnection), cut
        assert wire.protocol._buf == b""


async def test_a_full_write_buffer_holds_the_next_answer_back(
    pair: tuple[MockleServer, MockleServer],
) -> None:
    fast, wire = on_fast_path(pair)
    wire.full_at = 10  # the first answer fills it
    wire.protocol.data_received(request(SEND, b"{}") * 3)
    assert len(wire.answers()) == 1 and not wire.reading
    wire.protocol.resume_writing()
    assert len(wire.answers()) == 3 and wire.reading


async def test_an_armed_fault_sends_the_hot_routes_through_the_faults(
    pair: tuple[MockleServer, MockleServer],
) -> None:
    fast, wire = on_fast_path(pair)
    fast.runtime.world.faults.add({"target": "send", "status": 429, "times": 1})
    wire.protocol.data_received(request(SEND, b"{}"))
    answers = await wire.wait_answers(1)
    assert answers[0].startswith(b"HTTP/1.1 429")
    assert not isinstance(wire.protocol, FastConnection)


async def read_answer(reader: asyncio.StreamReader) -> bytes:
    head = await reader.readuntil(b"\r\n\r\n")
    length = int(re.search(rb"Content-Length: (\d+)", head).group(1))  # type: ignore[union-attr]
    return head + await reader.readexactly(length)


async def test_over_sockets_keep_alive_hand_over_and_shutdown() -> None:
    """Real connections: a SEND on the fast path, then a health check and a chunked SEND handed
    to aiohttp on the same connection; a second connection left idle on the fast path is
    closed when mockle stops."""
    server = MockleServer(Settings(port=0, agent="manual"))
    await server.start()
    try:
        assert server.front is not None
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        idle_reader, idle_writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(request(SEND, b"{}"))
        first = await read_answer(reader)
        assert first.startswith(b"HTTP/1.1 401") and len(server.front.connections) == 2
        writer.write(b"GET /_mockle/health HTTP/1.1\r\nHost: x\r\n\r\n")
        assert (await read_answer(reader)).startswith(b"HTTP/1.1 200")
        assert len(server.front.connections) == 1  # the idle one
        chunked = request(SEND, b"", ("Transfer-Encoding", "chunked"), length=False)
        writer.write(chunked + b"2\r\n{}\r\n0\r\n\r\n")
        assert _plain(await read_answer(reader)) == _plain(first)
        writer.close()
        await writer.wait_closed()
    finally:
        await server.stop()
    assert await asyncio.wait_for(idle_reader.read(), 5) == b""  # closed by the stop
    idle_writer.close()


async def test_over_tls_the_fast_path_and_the_hand_over_work_alike() -> None:
    server = MockleServer(Settings(port=0, agent="manual", tls=True))
    await server.start()
    try:
        assert server.front is not None
        ssl_context = server.client_ssl_context()
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port, ssl=ssl_context)
        writer.write(request(SEND, b"{}"))
        first = await read_answer(reader)
        assert first.startswith(b"HTTP/1.1 401") and len(server.front.connections) == 1
        writer.write(b"GET /_mockle/health HTTP/1.1\r\nHost: x\r\n\r\n" + request(SEND, b"{}"))
        assert (await read_answer(reader)).startswith(b"HTTP/1.1 200")
        assert _plain(await read_answer(reader)) == _plain(first)
        assert len(server.front.connections) == 0
        writer.close()
    finally:
        await server.stop()
