"""Test-toolkit measurements: fixture start/stop, fault checks on the hot path, journal cost.

    python benchmarks/toolkit.py [--rounds 50] [--out benchmarks/results/toolkit.json]

* ``fixture``: start and stop of the in-process fixture (``ThreadedMockle``, what the ``mockle``
  pytest fixture does per test), first start (key generation, imports) reported apart;
* ``faults``: ``FaultPlan.match`` per request with no fault, and with 100 faults armed for
  other accounts (what parallel tenants cost each other);
* ``journal``: recording one REST entry, and the ring buffer's size after 10x its capacity.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path
from typing import Any

from mockle.core.faults import FaultPlan
from mockle.server import ThreadedMockle
from mockle.settings import Settings
from mockle.web.journal import Journal


def _ms(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "median_ms": round(statistics.median(ordered) * 1000, 3),
        "p95_ms": round(ordered[int(len(ordered) * 0.95) - 1] * 1000, 3),
        "max_ms": round(ordered[-1] * 1000, 3),
    }


def fixture(rounds: int) -> dict[str, Any]:
    settings = Settings(port=0, agent="manual", agent_delay_ms=0)
    t0 = time.perf_counter()
    ThreadedMockle(settings).start().stop()
    first = time.perf_counter() - t0
    starts, stops = [], []
    for _ in range(rounds):
        t0 = time.perf_counter()
        server = ThreadedMockle(settings).start()
        t1 = time.perf_counter()
        server.stop()
        t2 = time.perf_counter()
        starts.append(t1 - t0)
        stops.append(t2 - t1)
    return {
        "first_start_and_stop_ms": round(first * 1000, 1),
        "start": _ms(starts),
        "stop": _ms(stops),
        "rounds": rounds,
    }


def faults(n: int = 200_000) -> dict[str, Any]:
    empty = FaultPlan()
    t0 = time.perf_counter()
    for _ in range(n):
        empty.match("send", account="mine")
    none = (time.perf_counter() - t0) / n
    busy = FaultPlan()
    for i in range(100):
        busy.add({"target": "send", "status": 500, "times": 0, "match": {"account": f"other{i}"}})
    t0 = time.perf_counter()
    for _ in range(n // 10):
        busy.armed("send", "mine")
    armed = (time.perf_counter() - t0) / (n // 10)
    return {
        "match_no_faults_ns": round(none * 1e9),
        "armed_100_other_tenants_ns": round(armed * 1e9),
    }


def journal(n: int = 200_000) -> dict[str, Any]:
    j = Journal(10_000, lambda: 0)
    body, headers = b'{"kind":"req"}', {"Authorization": "x" * 600}
    t0 = time.perf_counter()
    for _ in range(n):
        j.record("send", "acc", method="POST", path="/p", headers=headers, body=body, status=200)
    per = (time.perf_counter() - t0) / n
    return {"record_ns": round(per * 1e9), "entries_after": len(j), "recorded": n}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=50)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    result = {"fixture": fixture(args.rounds), "faults": faults(), "journal": journal()}
    text = json.dumps(result, indent=2)
    print(text)
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
