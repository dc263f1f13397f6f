"""Server work per WebSocket publish in CPU instructions, counted by valgrind (the socket
sibling of ``instructions.py``).

    python benchmarks/ws_instructions.py               # mockle, the bare echo, the ratio
    python benchmarks/ws_instructions.py --consumers 1 # one socket instead of ten

Each of ``--consumers`` consumers (default 10) has its own socket, subscribed to its own
conversation (``SubscribeMessagingEvents``). The driver publishes a text on one socket after
another (round robin) and waits for that socket's ``resp`` and its
``MessagingEventNotification``: one operation is one consumer publish -> own notification,
the measure of issue 11. The bare target is ``bare_app.py``'s echo socket (one frame in, the
same frame out). As in ``instructions.py`` the aiohttp server protocol is fed in-process
through an in-memory transport (no sockets, no kernel), the process runs under valgrind twice
(a short and a long series) and the count per operation is the difference divided by the
difference in operations, so start-up, imports and the handshakes cancel out. The driver's own
work (masking nothing, counting frames) is in both counts.

Variants (``--variant``, comma-separated): ``no-journal`` (no journal entry for frames),
``no-faults`` (no ``ws_request`` fault check), ``no-gc`` (the cyclic collector off).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import gc
import json
import shutil
import struct
import sys
import tempfile
from pathlib import Path
from typing import Any

from aiohttp import web

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from instructions import MemoryTransport, _make_key, callgrind  # noqa: E402

SHORT, LONG = 200, 800
KEY = base64.b64encode(b"0123456789abcdef").decode()


def client_frame(payload: bytes) -> bytes:
    """A masked text frame with the all-zero mask (valid, and the payload stays as it is)."""
    n = len(payload)
    if n < 126:
        head = struct.pack("!BB", 0x81, 0x80 | n)
    elif n < 65536:
        head = struct.pack("!BBH", 0x81, 0x80 | 126, n)
    else:
        head = struct.pack("!BBQ", 0x81, 0x80 | 127, n)
    return head + b"\0\0\0\0" + payload


class FrameTransport(MemoryTransport):
    """Counts the whole server frames written after the handshake's 101."""

    def __init__(self) -> None:
        super().__init__()
        self.upgraded = False
        self.frames: list[bytes] = []
        self.wanted = 0
        self.done: asyncio.Event | None = None

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.out += data
        if not self.upgraded:
            end = self.out.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(self.out[:end])
            if not head.startswith(b"HTTP/1.1 101"):
                raise SystemExit(f"no upgrade: {bytes(self.out[:300])!r}")
            del self.out[: end + 4]
            self.upgraded = True
        out = self.out
        while len(out) >= 2:
            n = out[1] & 0x7F
            start = 2
            if n == 126:
                if len(out) < 4:
                    return
                n, start = int.from_bytes(out[2:4], "big"), 4
            elif n == 127:
                if len(out) < 10:
                    return
                n, start = int.from_bytes(out[2:10], "big"), 10
            if len(out) < start + n:
                return
            self.frames.append(bytes(out[start : start + n]))
            del out[: start + n]
        if self.done is not None and len(self.frames) >= self.wanted:
            self.done.set()


def _upgrade(path: str, headers: dict[str, str]) -> bytes:
    extra = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    return (
        f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Version: 13\r\n"
        f"{extra}\r\n"
    ).encode()


class Socket:
    def __init__(self, protocol: Any, transport: FrameTransport) -> None:
        self.protocol = protocol
        self.transport = transport

    async def exchange(self, data: bytes, frames: int) -> list[bytes]:
        """Feed ``data``; wait until ``frames`` whole frames came back; return them."""
        t = self.transport
        t.frames.clear()
        t.wanted = frames
        t.done = asyncio.Event()
        self.protocol.data_received(data)
        if len(t.frames) < frames:
            await t.done.wait()
        for _ in range(3):  # let the handler go back to reading
            await asyncio.sleep(0)
        return t.frames


async def _open(runner: web.AppRunner, path: str, headers: dict[str, str]) -> Socket:
    assert runner.server is not None
    protocol = runner.server()
    transport = FrameTransport()
    protocol.connection_made(transport)
    transport.done = asyncio.Event()
    protocol.data_received(_upgrade(path, headers))
    while not transport.upgraded:
        await asyncio.sleep(0)
    return Socket(protocol, transport)


def _publish(conv: str, rid: int) -> bytes:
    event = {"type": "ContentEvent", "contentType": "text/plain", "message": "hello"}
    body = {"dialogId": conv, "event": event}
    doc = {"kind": "req", "id": str(rid), "type": "ms.PublishEvent", "body": body}
    return client_frame(json.dumps(doc).encode())


async def _drive(target: str, variants: set[str], count: int, key: Path, consumers: int) -> None:
    import bare_app
    import harness

    from mockle.core import tokens
    from mockle.server import MockleServer, tune_gc
    from mockle.settings import Settings

    tokens._DEFAULT_KEY = tokens.load_key(key.read_bytes())
    server = MockleServer(Settings(port=0, agent="manual", send_max_chars=0))
    people = harness.consumers(server, consumers)
    if target == "bare":
        app = web.Application()
        app.router.add_get("/ws", bare_app.echo)
        runner = web.AppRunner(app, access_log=None)
    else:
        runner = web.AppRunner(server.app, access_log=None, handle_signals=False)
    await runner.setup()
    sockets: list[Socket] = []
    frames: list[bytes] = []
    if target == "bare":
        for i in range(consumers):
            sockets.append(await _open(runner, "/ws", {}))
            frames.append(_publish(people[i]["conversation"], 1))
        per_op = 1
    else:
        path = f"/ws_api/account/{harness.ACCOUNT}/messaging/consumer?v=3"
        for person in people:
            sock = await _open(runner, path, {"Authorization": f"jwt {person['jws']}"})
            conv = person["conversation"]
            sub = {"dialogId": conv, "fromSeq": 0}
            doc = {"kind": "req", "id": "s", "type": "ms.SubscribeMessagingEvents", "body": sub}
            got = await sock.exchange(client_frame(json.dumps(doc).encode()), 2)
            if b'"code":200' not in got[0]:
                raise SystemExit(f"subscribe failed: {got!r}")
            sockets.append(sock)
            frames.append(_publish(conv, 1))
        per_op = 2
    if "no-journal" in variants:  # the sockets' frames only (the upgrades are journalled)
        for sock in server.runtime.sockets:
            sock.hooks.journal = None
    if "no-faults" in variants:
        server.world.faults.armed = lambda *a, **k: False  # type: ignore[method-assign]
    tune_gc()  # as mockle serve does
    if "no-gc" in variants:
        gc.disable()
    last: list[bytes] = []
    for i in range(count):
        n = i % consumers
        last = await sockets[n].exchange(frames[n], per_op)
    if target != "bare":
        resp, note = (json.loads(f) for f in last[:2])
        if resp.get("code") != 200 or note.get("type") != "ms.MessagingEventNotification":
            raise SystemExit(f"unexpected answer: {last!r}")
    for sock in sockets:
        sock.protocol.connection_lost(None)
    await runner.cleanup()


def _count(target: str, variants: str, count: int, key: Path, consumers: int) -> int:
    inner = [target, str(count), str(key), "--variant", variants, "--consumers", str(consumers)]
    return callgrind(__file__, inner, 900, target)


def per_op(target: str, variants: str, key: Path, consumers: int) -> int:
    short = _count(target, variants, SHORT, key, consumers)
    long = _count(target, variants, LONG, key, consumers)
    return (long - short) // (LONG - SHORT)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--variant", default="", help="comma-separated parts to remove")
    parser.add_argument("--consumers", type=int, default=10)
    parser.add_argument("--only", choices=("mockle", "bare"), help="count one target only")
    parser.add_argument(
        "--inner", nargs=3, metavar=("TARGET", "COUNT", "KEY"), help=argparse.SUPPRESS
    )
    parser.add_argument("--out", type=Path, help="write the figures as JSON here")
    args = parser.parse_args()
    variants = {v for v in args.variant.split(",") if v}
    if args.inner:
        target, count, key = args.inner
        asyncio.run(_drive(target, variants, int(count), Path(key), args.consumers))
        return
    if shutil.which("valgrind") is None:
        raise SystemExit("valgrind is needed (Debian package valgrind)")
    result: dict[str, Any] = {"variant": args.variant, "consumers": args.consumers}
    with tempfile.TemporaryDirectory() as tmp:
        key = Path(tmp) / "key.pem"
        _make_key(key)
        if args.only != "bare":
            result["mockle"] = per_op("mockle", args.variant, key, args.consumers)
        if args.only != "mockle":
            result["bare"] = per_op("bare", "", key, args.consumers)
    label = f"mockle ({args.variant})" if args.variant else "mockle"
    if "mockle" in result:
        print(f"{label:<30} {result['mockle']:>9,} instructions per publish -> notification")
    if "bare" in result:
        print(f"{'bare aiohttp echo':<30} {result['bare']:>9,} instructions per echo")
    if "mockle" in result and "bare" in result:
        result["ratio"] = round(result["bare"] / result["mockle"], 3)
        print(f"{'ratio bare / mockle':<30} {result['ratio']:>9.2f}")
    if args.out:
        args.out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
