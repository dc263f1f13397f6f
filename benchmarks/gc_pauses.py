"""What kept closed conversations cost the cyclic garbage collector: the objects it tracks per
kept conversation (by type), and the pause of every collection while conversations are opened,
written to and closed, with the collector tuned as ``mockle serve`` tunes it (``tune_gc``).

    python benchmarks/gc_pauses.py --conversations 200000          # through the core
    python benchmarks/gc_pauses.py --conversations 200000 --via http

Each conversation goes as in ``run.py``'s closed-as-they-go soak: CONVERSATION (a
SetUserProfile + ConsumerRequestConversation batch), ``--sends`` SENDs, and a SEND that closes
it (cm.UpdateConversationField CLOSE), by ``--consumers`` consumers in turn, at the default
bounds (``--max-closed`` kept closed conversations, the oldest forgotten beyond it). ``--via
core`` calls ``connector.conversation`` / ``connector.send`` on a World (parse, validation,
tokens, engine, every listener); ``--via http`` feeds whole HTTP requests to the app over an
in-memory transport, as ``instructions.py`` does (gateway and journal included).

Printed per window of ``--every`` conversations: RSS, the kept closed conversations, the
collections of each generation, the worst gen0/1 pause and every full (gen2) collection's
pause (``gc.callbacks``, CPU time of the thread, so that other processes on a shared machine do
not inflate it; every request waiting behind it sees at least that). At the end: five timed
full collections at the cap, and the GC-tracked objects per kept conversation, by
type (``gc.get_objects()`` after a full collection, minus those before the run).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ACCOUNT = "le-bench"
OPEN_BODY = json.dumps(
    [
        {"kind": "req", "id": "1,", "type": "userprofile.SetUserProfile", "body": {}},
        {
            "kind": "req",
            "id": "2,",
            "type": "cm.ConsumerRequestConversation",
            "body": {"brandId": ACCOUNT},
        },
    ]
).encode()


def send_body(conv_id: str, k: int) -> bytes:
    doc = {
        "kind": "req",
        "id": str(k),
        "type": "ms.PublishEvent",
        "body": {
            "dialogId": conv_id,
            "event": {"type": "ContentEvent", "contentType": "text/plain", "message": "soak"},
        },
    }
    return json.dumps(doc).encode()


def close_body(conv_id: str, k: int) -> bytes:
    doc = {
        "kind": "req",
        "id": str(k),
        "type": "cm.UpdateConversationField",
        "body": {
            "conversationId": conv_id,
            "conversationField": {"field": "ConversationStateField", "conversationState": "CLOSE"},
        },
    }
    return json.dumps(doc).encode()


class Pauses:
    """Every collection's wall time, by generation, since the last :meth:`take`."""

    def __init__(self) -> None:
        self.pauses: list[list[float]] = [[], [], []]
        self._start = 0
        gc.callbacks.append(self._callback)

    def _callback(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._start = time.thread_time_ns()
        else:
            self.pauses[info["generation"]].append((time.thread_time_ns() - self._start) / 1e6)

    def take(self) -> list[list[float]]:
        out, self.pauses = self.pauses, [[], [], []]
        return out

    def stop(self) -> None:
        gc.callbacks.remove(self._callback)


def rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def tracked_by_type() -> Counter[str]:
    return Counter(type(o).__qualname__ for o in gc.get_objects())


Driver = Callable[[int], None]


def core_driver(args: argparse.Namespace) -> tuple[Driver, Any]:
    from mockle.core import connector
    from mockle.core.clock import Ids, SystemClock
    from mockle.core.connector import RestCall
    from mockle.core.effects import CoreConfig
    from mockle.core.world import World

    config = CoreConfig(agent_mode="manual", max_closed_conversations=args.max_closed)
    world = World.build(config, clock=SystemClock(), ids=Ids(1))
    engine = world.engine
    app = engine.tokens.mint_app_jwt(ACCOUNT, "bench", 86_400)
    jwss = [engine.tokens.mint_consumer_jws(ACCOUNT, f"gc-{c}", 0) for c in range(args.consumers)]

    def one(n: int) -> None:
        jws = jwss[n % len(jwss)]
        reply, _ = connector.conversation(engine, RestCall(ACCOUNT, app, jws, None, OPEN_BODY))
        conv_id = reply.conversation_id
        if reply.status != 200 or conv_id is None:
            raise SystemExit(f"CONVERSATION answered {reply.status}: {reply.body}")
        for k in range(args.sends + 1):
            body = (send_body if k < args.sends else close_body)(conv_id, k)
            reply, _ = connector.send(engine, RestCall(ACCOUNT, app, jws, None, body))
            if reply.status != 200:
                raise SystemExit(f"SEND answered {reply.status}: {reply.body}")

    return one, engine


def http_driver(args: argparse.Namespace) -> tuple[Driver, Any]:
    sys.path.insert(0, str(HERE))
    from aiohttp import web
    from instructions import MemoryTransport, answer

    from mockle.server import MockleServer
    from mockle.settings import Settings

    server = MockleServer(
        Settings(port=0, agent="manual", send_max_chars=0, max_closed_conversations=args.max_closed)
    )
    engine = server.engine
    app = engine.tokens.mint_app_jwt(ACCOUNT, "bench", 86400)
    jwss = [engine.tokens.mint_consumer_jws(ACCOUNT, f"gc-{c}", 0) for c in range(args.consumers)]
    loop = asyncio.new_event_loop()
    runner = web.AppRunner(server.app, access_log=None, handle_signals=False)
    loop.run_until_complete(runner.setup())
    assert runner.server is not None
    protocol = runner.server()
    transport = MemoryTransport()
    protocol.connection_made(transport)
    base = f"/api/account/{ACCOUNT}/messaging/consumer/conversation"

    def raw(path: str, jws: str, body: bytes) -> bytes:
        head = (
            f"POST {path} HTTP/1.1\r\nHost: x\r\nAuthorization: {app}\r\n"
            f"X-LP-ON-BEHALF: {jws}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        )
        return head.encode() + body

    def post(path: str, jws: str, body: bytes) -> bytes:
        loop.run_until_complete(answer(protocol, transport, raw(path, jws, body)))
        out = bytes(transport.out)
        if not out.startswith(b"HTTP/1.1 200"):
            raise SystemExit(f"not answered 200: {out[:300]!r}")
        return out

    def one(n: int) -> None:
        jws = jwss[n % len(jwss)]
        out = post(f"{base}?v=3", jws, OPEN_BODY)
        conv_id = json.loads(out.split(b"\r\n\r\n", 1)[1])[1]["body"]["conversationId"]
        for k in range(args.sends + 1):
            body = (send_body if k < args.sends else close_body)(conv_id, k)
            post(f"{base}/send?v=3", jws, body)

    return one, engine


def fmt(pauses: list[float]) -> str:
    return " ".join(f"{p:.0f}" for p in pauses) if pauses else "-"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--conversations", type=int, default=200_000)
    parser.add_argument("--sends", type=int, default=10, help="SENDs per conversation")
    parser.add_argument("--consumers", type=int, default=16)
    parser.add_argument("--max-closed", type=int, default=100_000)
    parser.add_argument("--every", type=int, default=20_000)
    parser.add_argument("--via", choices=("core", "http"), default="core")
    parser.add_argument(
        "--no-tune", action="store_true", help="leave the collector at CPython's defaults"
    )
    parser.add_argument("--types", type=int, default=15, help="tracked types to list")
    args = parser.parse_args()

    from mockle.server import tune_gc

    one, engine = (core_driver if args.via == "core" else http_driver)(args)
    gc.collect()
    before = tracked_by_type()
    rss0 = rss_kib()
    if not args.no_tune:
        tune_gc()  # as mockle serve does
    pauses = Pauses()
    print("conversations  RSS MiB   kept  gen0 gen1 gen2  max gen0/1 ms  gen2 pauses ms")
    all2: list[float] = []
    t0 = time.perf_counter()
    for n in range(args.conversations):
        one(n)
        if (n + 1) % args.every == 0:
            p = pauses.take()
            all2 += p[2]
            worst = max(p[0] + p[1], default=0.0)
            kept = engine.stats()["closedConversations"]
            print(
                f"{n + 1:>13,}  {rss_kib() / 1024:7.1f}  {kept:>6,}  {len(p[0]):>4} {len(p[1]):>4}"
                f" {len(p[2]):>4}  {worst:13.1f}  {fmt(p[2])}",
                flush=True,
            )
    pauses.stop()
    elapsed = time.perf_counter() - t0
    kept = engine.stats()["closedConversations"]
    per_conv = (rss_kib() - rss0) * 1024 / max(kept, 1)
    fulls = []
    for _ in range(5):
        t1 = time.thread_time_ns()
        gc.collect()
        fulls.append((time.thread_time_ns() - t1) / 1e6)
    print(
        f"\n{elapsed:.0f} s; full collections during the run: {len(all2)}, worst {max(all2, default=0):.0f} ms"
    )
    print(
        f"full collections at {kept:,} kept conversations (start-up frozen), ms: "
        + " ".join(f"{f:.1f}" for f in fulls)
    )
    print(f"RSS growth per kept conversation: {per_conv:,.0f} bytes")
    gc.unfreeze()
    gc.collect()
    after = tracked_by_type()
    grown = after - before
    total = sum(grown.values())
    print(f"gc-tracked objects: +{total:,} = {total / max(kept, 1):.2f} per kept conversation")
    for name, count in grown.most_common(args.types):
        print(f"  {name:<28} {count:>9,}  {count / max(kept, 1):6.2f}")


if __name__ == "__main__":
    main()
