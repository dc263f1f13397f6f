"""RSS of mockle's core under a long run of conversations that are opened, written to and closed.

No server and no network: the core (a World, every listener on) driven directly, so the figure
is the state's own growth, not the transport's. A pool of consumers each opens a conversation,
publishes ``--messages`` texts and closes it, over and over; RSS is sampled every ``--every``
conversations. With the default bounds the closed conversations beyond
``--max-closed-conversations`` are forgotten, so RSS rises until the cap is reached and then
stays flat.

    python benchmarks/memory_bounds.py --conversations 200000 --max-closed 20000

``--tracemalloc 200000,1000000`` also traces Python allocations (several times slower) and, at
the second count, prints what grew since the first, by the line that allocated it: after the
caps are reached that is whatever still grows with the number of conversations.
"""

from __future__ import annotations

import argparse
import ctypes
import gc
import re
import sys
import time
import tracemalloc
from pathlib import Path

from mockle.core.clock import Ids, SystemClock
from mockle.core.effects import Actor, CoreConfig, Effects
from mockle.core.model import CONSUMER
from mockle.core.world import World

ACCOUNT = "le-memory"


def rss_mib() -> float:
    status = Path("/proc/self/status").read_text()
    match = re.search(r"VmRSS:\s+(\d+)", status)
    assert match
    return int(match.group(1)) / 1024


class _Mallinfo2(ctypes.Structure):
    _fields_ = [
        (name, ctypes.c_size_t)
        for name in (
            "arena",
            "ordblks",
            "smblks",
            "hblks",
            "hblkhd",
            "usmblks",
            "fsmblks",
            "uordblks",
            "fordblks",
            "keepcost",
        )
    ]


def heap_mib() -> tuple[float, float, float]:
    """Python objects alive (pymalloc blocks, counted), and glibc malloc's bytes in use and free
    but kept (fragmentation), in MiB. RSS minus the first two is what neither accounts for."""
    blocks = sys.getallocatedblocks()
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallinfo2.restype = _Mallinfo2
        info = libc.mallinfo2()
        used, free = info.uordblks + info.hblkhd, info.fordblks
    except (OSError, AttributeError):
        used = free = 0
    return blocks / 1e6, used / 2**20, free / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=int, default=200_000)
    parser.add_argument("--messages", type=int, default=2)
    parser.add_argument("--consumers", type=int, default=500)
    parser.add_argument("--max-closed", type=int, default=100_000)
    parser.add_argument("--every", type=int, default=20_000)
    parser.add_argument(
        "--tracemalloc",
        metavar="A,B",
        help="trace allocations; print what grew between A and B conversations",
    )
    parser.add_argument("--top", type=int, default=15, help="lines of the --tracemalloc diff")
    args = parser.parse_args()
    marks = [int(x) for x in args.tracemalloc.split(",")] if args.tracemalloc else []
    if marks and (len(marks) != 2 or not 0 < marks[0] < marks[1] <= args.conversations):
        parser.error("--tracemalloc wants A,B with 0 < A < B <= --conversations")

    config = CoreConfig(agent_mode="manual", max_closed_conversations=args.max_closed)
    world = World.build(config, clock=SystemClock(), ids=Ids(1))
    engine = world.engine
    tokens = [engine.tokens.mint_signup(ACCOUNT, 86_400) for _ in range(args.consumers)]
    consumers = [engine.consumer(engine.tokens.verify(t)) for t in tokens]
    gc.collect()
    if marks:
        tracemalloc.start(4)
    first: tracemalloc.Snapshot | None = None
    start_rss, start = rss_mib(), time.perf_counter()
    print(
        "conversations  sends      RSS MiB  stored closed  evicted  s"
        "    Mblocks  malloc used/free MiB"
    )
    print(f"{0:>13,}  {0:>9,}  {start_rss:7.1f}  {0:>13,}  {0:>7,}  0  {_heap()}")
    sends = 0
    for n in range(1, args.conversations + 1):
        consumer = consumers[n % len(consumers)]
        fx = Effects()
        conv = engine.request_conversation(consumer, {"brandId": ACCOUNT}, fx)
        actor = Actor(ACCOUNT, consumer.consumer_id, CONSUMER)
        for i in range(args.messages):
            event = {"type": "ContentEvent", "contentType": "text/plain", "message": f"m{i}"}
            engine.publish(actor, {"dialogId": conv.conv_id, "event": event}, fx)
            sends += 1
        engine.close(conv, "CONSUMER", fx)
        if n % args.every == 0:
            stats = engine.stats()
            print(
                f"{n:>13,}  {sends:>9,}  {rss_mib():7.1f}  {stats['closedConversations']:>13,}"
                f"  {stats['evictedConversations']:>7,}  {time.perf_counter() - start:.0f}"
                f"  {_heap()}"
            )
        if marks and n == marks[0]:
            gc.collect()
            first = tracemalloc.take_snapshot()
        elif first is not None and n == marks[1]:
            gc.collect()
            grown(first, tracemalloc.take_snapshot(), marks, args.top)
            first = None


def _heap() -> str:
    blocks, used, free = heap_mib()
    return f"{blocks:9.2f}  {used:7.1f} / {free:.1f}"


def grown(
    first: tracemalloc.Snapshot, second: tracemalloc.Snapshot, marks: list[int], top: int
) -> None:
    """What the traced heap gained between the two snapshots, largest first."""
    keep = [tracemalloc.Filter(False, tracemalloc.__file__)]
    first, second = first.filter_traces(keep), second.filter_traces(keep)
    total = sum(s.size for s in second.statistics("filename")) - sum(
        s.size for s in first.statistics("filename")
    )
    print(f"\ntraced heap grew by {total / 2**20:.1f} MiB from {marks[0]:,} to {marks[1]:,}")
    print("conversations; the largest changes by allocating line (size, blocks, traceback):")
    for diff in second.compare_to(first, "traceback")[:top]:
        print(f"{diff.size_diff / 2**20:+8.2f} MiB  {diff.count_diff:+9,} blocks")
        for line in diff.traceback.format()[-8:]:
            print(f"        {line.strip()}")


if __name__ == "__main__":
    main()
