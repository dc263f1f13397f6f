"""What stored events cost the cyclic garbage collector: tracked objects per event, and the time
per SEND as the store grows, with the collector on as ``mockle serve`` runs it (``tune_gc``).

    python benchmarks/stored_events.py --sends 200000             # through the core
    python benchmarks/stored_events.py --sends 200000 --via http  # through the aiohttp app

Instructions per SEND over a growing store (valgrind; the difference of two runs, as in
``instructions.py``; ``--key`` keeps RSA key generation out of the count):

    valgrind --tool=callgrind --callgrind-out-file=/dev/null \
        python benchmarks/stored_events.py --sends 20000 --every 20000 --key key.pem

``--via core`` calls ``connector.send`` (parse, validation, tokens, engine, every listener) on a
World; ``--via http`` feeds whole HTTP requests to the app's protocol over an in-memory
transport, as ``instructions.py`` does (journal and fault middlewares included). Consumers
publish round-robin into their open conversations (``--consumers``), so every SEND stores one
event (below the ``--max-events-per-conversation`` window).

Printed per window of ``--every`` SENDs: the stored events, the mean and p99 time per SEND, the
time spent in collections (``gc.callbacks``) and the collections of each generation. At the end:
the RSS growth per SEND and the objects the collector tracks per stored event (``len(gc.get_objects())`` after a full
collection, before and after the run, divided by the SENDs). Times are CPU time of the thread
(``time.thread_time_ns``), so that other processes on a shared machine do not inflate them; they
still swing with cache pressure. The object count is exact.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from gc_pauses import Pauses

HERE = Path(__file__).resolve().parent
ACCOUNT = "le-stored"
_RSS: list[int] = []  # KiB at the start of the measured run


class GcClock:
    """Time spent in collections (ns), and how many of each generation, since the last take
    (the pauses ``gc_pauses.py`` records, summed)."""

    def __init__(self) -> None:
        self._pauses = Pauses()

    def take(self) -> tuple[int, list[int]]:
        pauses = self._pauses.take()
        return round(sum(map(sum, pauses)) * 1e6), [len(p) for p in pauses]


def _send_body(conv_id: str, i: int) -> bytes:
    event = {"type": "ContentEvent", "contentType": "text/plain", "message": f"hello {i}"}
    doc = {"kind": "req", "id": "1", "type": "ms.PublishEvent"}
    doc["body"] = {"dialogId": conv_id, "event": event}  # type: ignore[assignment]
    return json.dumps(doc).encode()


def _report(window: list[int], gc_ns: int, counts: list[int], stored: int) -> None:
    window.sort()
    mean = statistics.fmean(window) / 1000
    p99 = window[int(len(window) * 0.99)] / 1000
    print(
        f"{stored:>9,}  {mean:8.1f}  {p99:8.1f}  {window[-1] / 1000:8.0f}"
        f"  {gc_ns / len(window) / 1000:8.2f}"
        f"  {counts[0]:>6} {counts[1]:>5} {counts[2]:>4}",
        flush=True,
    )


HEADER = "   stored  mean us   p99 us   max us  gc us/op    gen0  gen1 gen2"


def run_core(args: argparse.Namespace) -> None:
    from mockle.core import connector
    from mockle.core.clock import Ids, SystemClock
    from mockle.core.connector import RestCall
    from mockle.core.effects import CoreConfig, Effects
    from mockle.core.world import World

    config = CoreConfig(agent_mode="manual", max_events_per_conversation=args.window)
    world = World.build(config, clock=SystemClock(), ids=Ids(1))
    engine = world.engine
    app = engine.tokens.mint_app_jwt(ACCOUNT, "bench", 86_400)
    calls = []
    for c in range(args.consumers):
        jws = engine.tokens.mint_consumer_jws(ACCOUNT, f"stored-{c}", 0)
        conv = engine.request_conversation(
            engine.consumer(engine.tokens.verify(jws)), {}, Effects()
        )
        calls.append((jws, conv.conv_id))
    bodies = [
        RestCall(ACCOUNT, app, jws, None, _send_body(conv, i))
        for i, (jws, conv) in enumerate(calls)
    ]

    def one(i: int) -> None:
        reply, _ = connector.send(engine, bodies[i % len(bodies)])
        if reply.status != 200:
            raise SystemExit(f"SEND answered {reply.status}: {reply.body}")

    measure(args, one)


def run_http(args: argparse.Namespace) -> None:
    asyncio.run(_run_http(args))


async def _run_http(args: argparse.Namespace) -> None:
    sys.path.insert(0, str(HERE))
    import harness
    from aiohttp import web
    from instructions import MemoryTransport, _requests, answer

    from mockle.server import MockleServer
    from mockle.settings import Settings

    server = MockleServer(
        Settings(port=0, agent="manual", send_max_chars=0, max_events_per_conversation=args.window)
    )
    consumers = harness.consumers(server, args.consumers)
    app_jwt = server.engine.tokens.mint_app_jwt(harness.ACCOUNT, "bench", 86400)
    runner = web.AppRunner(server.app, access_log=None, handle_signals=False)
    await runner.setup()
    assert runner.server is not None
    protocol = runner.server()
    transport = MemoryTransport()
    protocol.connection_made(transport)
    requests = _requests(harness.ACCOUNT, app_jwt, consumers)

    async def one(raw: bytes) -> None:
        await answer(protocol, transport, raw)
        if not transport.out.startswith(b"HTTP/1.1 200"):
            raise SystemExit(f"not answered 200: {bytes(transport.out[:200])!r}")

    await _measure_async(args, lambda i: one(requests[i % len(requests)]))
    protocol.connection_lost(None)
    await runner.cleanup()


def rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def _start() -> tuple[int, GcClock]:
    from mockle.server import tune_gc

    gc.collect()
    _RSS.append(rss_kib())
    tracked = len(gc.get_objects())
    tune_gc()  # as mockle serve does
    return tracked, GcClock()


def _end(args: argparse.Namespace, tracked: int) -> None:
    t0 = time.perf_counter_ns()
    gc.collect()
    full = (time.perf_counter_ns() - t0) / 1e6
    print(f"one full collection now (start-up objects frozen): {full:.1f} ms")
    gc.unfreeze()
    gc.collect()
    grown = len(gc.get_objects()) - tracked
    print(
        f"gc-tracked objects: +{grown:,} over {args.sends:,} SENDs = {grown / args.sends:.3f} each"
    )
    rss = (rss_kib() - _RSS[0]) * 1024
    print(f"RSS: +{rss / 2**20:.1f} MiB = {rss / args.sends:,.0f} bytes per SEND")


def measure(args: argparse.Namespace, one: Any) -> None:
    tracked, clock = _start()
    print(HEADER)
    window: list[int] = []
    for i in range(args.sends):
        t0 = time.thread_time_ns()
        one(i)
        window.append(time.thread_time_ns() - t0)
        if len(window) == args.every:
            _report(window, *clock.take(), i + 1)
            window = []
    _end(args, tracked)


async def _measure_async(args: argparse.Namespace, one: Any) -> None:
    tracked, clock = _start()
    print(HEADER)
    window: list[int] = []
    for i in range(args.sends):
        t0 = time.thread_time_ns()
        await one(i)
        window.append(time.thread_time_ns() - t0)
        if len(window) == args.every:
            _report(window, *clock.take(), i + 1)
            window = []
    _end(args, tracked)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sends", type=int, default=200_000)
    parser.add_argument("--every", type=int, default=20_000)
    parser.add_argument("--consumers", type=int, default=50)
    parser.add_argument("--window", type=int, default=10_000, help="events kept per conversation")
    parser.add_argument("--via", choices=("core", "http"), default="core")
    parser.add_argument(
        "--key",
        type=Path,
        help="an RSA key (PEM) to sign with: no key generation, whose cost "
        "varies from run to run (for instruction counts under valgrind)",
    )
    args = parser.parse_args()
    if args.key is not None:
        from mockle.core import tokens

        tokens._DEFAULT_KEY = tokens.load_key(args.key.read_bytes())
    (run_core if args.via == "core" else run_http)(args)


if __name__ == "__main__":
    main()
