"""benchmarks/run.py's alternating rounds: how rounds combine into one figure and a ratio."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

import run


def wrk_round(rps: float, requests: int, cpu_us: float, p99: float) -> dict[str, Any]:
    return {
        "rps": rps,
        "requests": requests,
        "p50_ms": p99 / 4,
        "p99_ms": p99,
        "non_2xx": 0,
        "gen_cpu_busy": 0.4,
        "gen_cpu_us_per_req": 30.0,
        "server_cpu_us_per_req": cpu_us,
        "server_cpu_busy": 0.9,
        "wrk_stdout": "",
    }


def test_rounds_combine_counts_rates_cpu_and_the_worst_percentile() -> None:
    out = run.combined([wrk_round(100, 500, 10, 5.0), wrk_round(300, 1500, 20, 2.0)], "req")
    assert out["requests"] == 2000 and out["rps"] == 200
    assert out["server_cpu_us_per_req"] == (10 * 500 + 20 * 1500) / 2000
    assert out["p99_ms"] == 5.0 and "wrk_stdout" not in out


def test_alternate_runs_mockle_and_bare_in_turn_and_keeps_each_rounds_ratio() -> None:
    order: list[str] = []

    def mockle(i: int) -> dict[str, Any]:
        order.append(f"m{i}")
        return wrk_round(50 * (i + 1), 250, 40, 3.0)

    def bare(i: int) -> dict[str, Any]:
        order.append(f"b{i}")
        return wrk_round(100 * (i + 1), 500, 20, 1.0)

    result = run.alternate(mockle, bare, 3, "req")
    assert order == ["m0", "b0", "m1", "b1", "m2", "b2"]
    assert result["round_ratios"] == [0.5, 0.5, 0.5]
    assert result["ratio"] == 0.5 and result["cpu_ratio"] == 0.5
    assert len(result["rounds"]) == 3
