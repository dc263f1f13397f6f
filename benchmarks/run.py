"""mockle's benchmark: hot paths, fan-out, start-up and scale, on loopback, bounded.

    python benchmarks/run.py            # full run (~5 minutes), table + benchmarks/results/latest.json
    python benchmarks/run.py --quick    # a short smoke run
    python benchmarks/run.py --long     # also the long runs (soak_send, soak_conversations)

The server under test runs on CPU 0 and every load generator on CPU 1 (``taskset``), so the
generator does not steal the server's core. HTTP load comes from ``wrk`` (Debian package
``wrk``); WebSocket throughput from ``benchmarks/ws_load.mjs`` (node + the ``ws`` package, in
light worker processes; ``npm ci`` in benchmarks/ installs it, and this script runs that when
it is missing), fan-out and idle sockets from ``benchmarks/ws_load.py``. Each mockle figure is
compared with a bare aiohttp app answering the same route with a constant
(``benchmarks/bare_app.py``). Every throughput figure carries the generator's own CPU (``gen_cpu_busy``,
1.0 = one core, and per request or message), so that a generator at its limit shows.

The three hot-path ratios (SEND, CONVERSATION, socket publish) are measured in ``--rounds``
alternating rounds (mockle, bare, mockle, bare, ...; both servers stay up, idle while the other
is measured), so that a drift in the host's speed, which on a shared VM reaches 40 % between
runs a minute apart, hits both halves of a ratio alike. The ratio is the summed throughput of
mockle's rounds over the bare app's; every round's figures and its own ratio are kept beside it
(``rounds``), and a latency percentile is the worst round's.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
PY = sys.executable
SERVER_CPU = "0"
LOAD_CPU = "1"


# -- processes ---------------------------------------------------------------------------------


class Proc:
    def __init__(self, args: list[str], cpu: str | None, marker: str) -> None:
        cmd = (["taskset", "-c", cpu] if cpu is not None and shutil.which("taskset") else []) + args
        self.p = subprocess.Popen(
            cmd, stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"}
        )
        assert self.p.stdout is not None
        line = self.p.stdout.readline()
        if marker not in line:
            self.stop()
            raise RuntimeError(f"{args[:3]} did not start: {line!r}")
        self.url = line.split(" on ", 1)[1].strip()

    def rss_mib(self) -> float:
        status = Path(f"/proc/{self.p.pid}/status").read_text()
        kib = int(re.search(r"VmRSS:\s+(\d+)", status).group(1))  # type: ignore[union-attr]
        return kib / 1024

    def cpu_s(self) -> float:
        """CPU seconds (user + system) the process has used so far."""
        fields = Path(f"/proc/{self.p.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        self.p.terminate()
        try:
            self.p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.p.kill()
        if self.p.stdout:
            self.p.stdout.close()


def harness(tmp: Path, name: str, **opts: int) -> tuple[Proc, dict[str, Any]]:
    out = tmp / f"{name}.json"
    args = [PY, str(HERE / "harness.py"), "--out", str(out)]
    for key, value in opts.items():
        args += [f"--{key.replace('_', '-')}", str(value)]
    proc = Proc(args, SERVER_CPU, "listening on")
    return proc, json.loads(out.read_text())


def bare() -> Proc:
    return Proc([PY, str(HERE / "bare_app.py")], SERVER_CPU, "listening on")


# -- wrk ---------------------------------------------------------------------------------------

SEND_LUA = """
local app = %(app)s
local items = %(items)s
local path = %(path)s
local i = 0
request = function()
  i = i + 1
  local it = items[(i %% #items) + 1]
  local body = '{"kind":"req","id":"' .. i .. '","type":"ms.PublishEvent","body":{"dialogId":"' .. it[2] ..
    '","event":{"type":"ContentEvent","contentType":"text/plain","message":"hello from wrk"}}}'
  return wrk.format("POST", path, {["Authorization"] = app, ["X-LP-ON-BEHALF"] = it[1],
    ["Content-Type"] = "application/json"}, body)
end
"""

CONV_LUA = """
local app = %(app)s
local items = %(items)s
local path = %(path)s
local i = 0
local body = '[{"kind":"req","id":"1,","type":"userprofile.SetUserProfile","body":{}},' ..
  '{"kind":"req","id":"2,","type":"cm.ConsumerRequestConversation","body":{"brandId":"le-bench"}}]'
request = function()
  i = i + 1
  local jws = items[((i - 1) %% #items) + 1]
  return wrk.format("POST", path, {["Authorization"] = app, ["X-LP-ON-BEHALF"] = jws,
    ["Content-Type"] = "application/json"}, body)
end
"""


def lua_str(s: str) -> str:
    return json.dumps(s)


def lua_list(values: list[Any]) -> str:
    def one(v: Any) -> str:
        return "{" + ",".join(lua_str(x) for x in v) + "}" if isinstance(v, list) else lua_str(v)

    return "{" + ",\n".join(one(v) for v in values) + "}"


def wrk(
    url: str,
    script: str | None,
    seconds: float,
    conns: int = 50,
    proc: Proc | None = None,
    threads: int = 1,
) -> dict[str, Any]:
    """wrk against ``url``: with a Lua ``script``, or plain GETs of ``url`` when None."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as fh:
        fh.write(script or "")
    lua = ["-s", fh.name] if script else []
    duration = f"-d{max(1, round(seconds))}s"
    cmd = [
        "taskset",
        "-c",
        LOAD_CPU,
        "wrk",
        f"-t{threads}",
        f"-c{conns}",
        duration,
        "--latency",
        *lua,
        url,
    ]
    cpu0 = proc.cpu_s() if proc else 0.0
    gen0 = children_cpu_s()
    t0 = time.perf_counter()
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 60).stdout
    wall = time.perf_counter() - t0
    gen = children_cpu_s() - gen0
    cpu = proc.cpu_s() - cpu0 if proc else 0.0
    os.unlink(fh.name)
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    total = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    lat = {p: _ms(re.search(rf"\s{p}%\s+([\d.]+\w+)", out).group(1)) for p in ("50", "99")}  # type: ignore[union-attr]
    result = {
        "rps": rps,
        "p50_ms": lat["50"],
        "p99_ms": lat["99"],
        "requests": total,
        "non_2xx": int(bad.group(1)) if bad else 0,
        "gen_cpu_busy": gen / wall,
        "gen_cpu_us_per_req": gen / total * 1e6 if total else 0.0,
        "wrk_stdout": out if "SOAK" in out else "",
    }
    if proc is not None and total:
        result["server_cpu_us_per_req"] = cpu / total * 1e6
        result["server_cpu_busy"] = cpu / seconds
    return result


def children_cpu_s() -> float:
    """CPU seconds (user + system) of the finished children of this process (the generators)."""
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def _ms(text: str) -> float:
    value, unit = re.match(r"([\d.]+)(\w+)", text).groups()  # type: ignore[union-attr]
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


def send_script(setup: dict[str, Any]) -> str:
    items = [[c["jws"], c["conversation"]] for c in setup["consumers"]]
    path = f"/api/account/{setup['account']}/messaging/consumer/conversation/send?v=3"
    return SEND_LUA % {
        "app": lua_str(setup["app"]),
        "items": lua_list(items),
        "path": lua_str(path),
    }


def conv_script(setup: dict[str, Any]) -> str:
    path = f"/api/account/{setup['account']}/messaging/consumer/conversation?v=3"
    return CONV_LUA % {
        "app": lua_str(setup["app"]),
        "items": lua_list(setup["fresh"]),
        "path": lua_str(path),
    }


# -- alternating rounds ------------------------------------------------------------------------

ROUNDS = 3


def combined(results: list[dict[str, Any]], unit: str) -> dict[str, Any]:
    """One figure from several rounds of a measurement (``unit`` "req" for wrk, "msg" for the
    socket generator): counts and CPU summed, rates from the sums, percentiles the worst
    round's."""
    count = "requests" if unit == "req" else "messages"
    rate = "rps" if unit == "req" else "msgs_per_s"
    total = sum(r[count] for r in results)
    out: dict[str, Any] = dict(results[-1])
    out[count] = total
    out[rate] = sum(r[rate] for r in results) / len(results)  # rounds of equal length
    for key in ("p50_ms", "p99_ms"):
        out[key] = max(r[key] for r in results)
    for key in ("gen_cpu_busy", "server_cpu_busy"):
        if all(key in r for r in results):
            out[key] = sum(r[key] for r in results) / len(results)
    for key in (f"gen_cpu_us_per_{unit}", f"server_cpu_us_per_{unit}"):
        if all(key in r for r in results):  # weighted by each round's count
            out[key] = sum(r[key] * r[count] for r in results) / total
    if "non_2xx" in out:
        out["non_2xx"] = sum(r["non_2xx"] for r in results)
    out.pop("wrk_stdout", None)
    return out


def alternate(measure_mockle: Any, measure_bare: Any, rounds: int, unit: str) -> dict[str, Any]:
    """``rounds`` x (mockle round, bare round), combined; each round's pair and ratio kept."""
    rate = "rps" if unit == "req" else "msgs_per_s"
    pairs = [(measure_mockle(i), measure_bare(i)) for i in range(rounds)]
    mockle = combined([m for m, _ in pairs], unit)
    bare = combined([b for _, b in pairs], unit)
    cpu = f"server_cpu_us_per_{unit}"
    return {
        "mockle": mockle,
        "bare": bare,
        "ratio": mockle[rate] / bare[rate],
        "cpu_ratio": bare[cpu] / mockle[cpu],
        "round_ratios": [m[rate] / b[rate] for m, b in pairs],
        "rounds": [{"mockle": m, "bare": b} for m, b in pairs],
    }


# -- the measurements --------------------------------------------------------------------------


def bench_send(tmp: Path, seconds: float, rounds: int = ROUNDS) -> dict[str, Any]:
    server, setup = harness(tmp, "send", consumers=500)
    b = bare()
    try:
        wrk(server.url, send_script(setup), 2)  # warm-up
        wrk(b.url, send_script(setup), 2)
        return alternate(
            lambda i: wrk(server.url, send_script(setup), seconds, proc=server),
            lambda i: wrk(b.url, send_script(setup), seconds, proc=b),
            rounds,
            "req",
        )
    finally:
        server.stop()
        b.stop()


def bench_conversation(
    tmp: Path, seconds: float, expected_rps: float, rounds: int = ROUNDS
) -> dict[str, Any]:
    """A new consumer per request: every mockle round takes ConsumerJWSs no round used before
    (a token used twice would be a quick 400, so any non-2xx answer makes the run fail)."""
    per_round = int(expected_rps * (seconds + 1)) + 1000
    server, setup = harness(tmp, "conv", fresh=per_round * rounds)
    b = bare()

    def script(i: int) -> str:
        return conv_script({**setup, "fresh": setup["fresh"][i * per_round : (i + 1) * per_round]})

    try:
        result = alternate(
            lambda i: wrk(server.url, script(i), seconds, proc=server),
            lambda i: wrk(b.url, script(i), seconds, proc=b),
            rounds,
            "req",
        )
    finally:
        server.stop()
        b.stop()
    if result["mockle"]["non_2xx"]:
        raise RuntimeError(
            f"CONVERSATION: {result['mockle']['non_2xx']} answers were not 2xx: tokens ran out "
            f"({per_round} per round for an expected {expected_rps:.0f} req/s)"
        )
    result["fresh_tokens"] = per_round * rounds
    return result


def ws_load(
    url: str,
    mode: str,
    seconds: float,
    clients: int = 100,
    extra: list[str] | None = None,
    proc: Proc | None = None,
) -> dict[str, Any]:
    cmd = [
        "taskset",
        "-c",
        LOAD_CPU,
        PY,
        str(HERE / "ws_load.py"),
        mode,
        url,
        str(seconds),
        str(clients),
    ] + (extra or [])
    cpu0 = proc.cpu_s() if proc else 0.0
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 120)
    if out.returncode != 0:
        raise RuntimeError(f"ws_load {mode} failed: {out.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    if proc is not None and result.get("messages"):
        result["server_cpu_us_per_msg"] = (proc.cpu_s() - cpu0) / result["messages"] * 1e6
    return result


def ensure_node_generator() -> None:
    """``npm ci`` in benchmarks/ when the generator's ``ws`` package is not installed."""
    if (HERE / "node_modules" / "ws" / "package.json").exists():
        return
    if shutil.which("node") is None or shutil.which("npm") is None:
        raise SystemExit(
            "the WebSocket benchmark needs node 18+ and npm (apt-get install nodejs npm)"
        )
    subprocess.run(
        ["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=HERE, check=True
    )


def ws_gen(
    url: str, mode: str, seconds: float, clients: int, procs: int, proc: Proc, warmup: float = 2
) -> dict[str, Any]:
    """ws_load.mjs on the load CPU; the server's CPU is read when its measured window opens
    and closes."""
    ensure_node_generator()
    cmd = ["taskset", "-c", LOAD_CPU, "node", str(HERE / "ws_load.mjs"), mode, url]
    cmd += [str(seconds), str(clients), "--procs", str(procs), "--warmup", str(warmup)]
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    assert p.stdout is not None
    marks: dict[str, float] = {}
    result: dict[str, Any] = {}
    for line in p.stdout:
        msg = json.loads(line)
        if msg.get("event") in ("start", "stop"):
            marks[msg["event"]] = proc.cpu_s()
        else:
            result = msg
    if p.wait(timeout=seconds + warmup + 120) != 0 or not result.get("messages"):
        raise RuntimeError(f"ws_load.mjs {mode} failed: {result}")
    cpu = marks["stop"] - marks["start"]
    result["server_cpu_us_per_msg"] = cpu / result["messages"] * 1e6
    result["server_cpu_busy"] = cpu / result["seconds"]
    return result


def bench_ws(
    tmp: Path, seconds: float, clients: int = 10, procs: int = 2, rounds: int = ROUNDS
) -> dict[str, Any]:
    server, _ = harness(tmp, "ws")
    b = bare()
    try:
        return alternate(
            lambda i: ws_gen(server.url, "mockle", seconds, clients, procs, server),
            lambda i: ws_gen(b.url, "bare", seconds, clients, procs, b),
            rounds,
            "msg",
        )
    finally:
        server.stop()
        b.stop()


def bench_fanout(tmp: Path) -> dict[str, Any]:
    server, _ = harness(tmp, "fanout")
    try:
        return {str(n): ws_load(server.url, "fanout", 0, n) for n in (1, 10, 100)}
    finally:
        server.stop()


def bench_startup(runs: int) -> dict[str, Any]:
    import asyncio

    from mockle.server import MockleServer
    from mockle.settings import Settings

    async def once() -> float:
        t = time.perf_counter()
        async with MockleServer(Settings(port=0, agent="manual")):
            pass
        return (time.perf_counter() - t) * 1000

    async def many() -> list[float]:
        await once()  # the process-wide signing key and validators are built once
        return [await once() for _ in range(runs)]

    fixture = asyncio.run(many())
    serve = []
    for _ in range(max(3, runs // 10)):
        t = time.perf_counter()
        p = subprocess.Popen(
            [PY, "-m", "mockle", "serve", "--port", "0"], stdout=subprocess.PIPE, text=True
        )
        assert p.stdout is not None
        url = p.stdout.readline().split(" on ", 1)[1].strip()
        while True:
            try:
                with urllib.request.urlopen(f"{url}/_mockle/health", timeout=5) as r:
                    if r.status == 200:
                        break
            except OSError:
                time.sleep(0.005)
        serve.append((time.perf_counter() - t) * 1000)
        p.terminate()
        p.wait(timeout=30)
        p.stdout.close()
    return {
        "fixture_start_stop_ms_median": statistics.median(fixture),
        "fixture_start_stop_ms_p90": sorted(fixture)[int(len(fixture) * 0.9) - 1],
        "serve_to_health_ms_median": statistics.median(serve),
    }


def bench_scale(tmp: Path, seconds: float, rounds: int = ROUNDS) -> dict[str, Any]:
    """SEND with 100,000 existing conversations against 10: both servers up, measured in
    alternating rounds as the hot-path ratios are (a sequential pair is at the host's drift)."""
    big, big_setup = harness(tmp, "scale100000", preload=100_000, consumers=500)
    small, small_setup = harness(tmp, "scale10", preload=10, consumers=500)
    try:
        wrk(big.url, send_script(big_setup), 2)  # warm-up
        wrk(small.url, send_script(small_setup), 2)
        pair = alternate(
            lambda i: wrk(big.url, send_script(big_setup), seconds, proc=big),
            lambda i: wrk(small.url, send_script(small_setup), seconds, proc=small),
            rounds,
            "req",
        )
        pair["mockle"]["rss_mib"] = big.rss_mib()
        pair["bare"]["rss_mib"] = small.rss_mib()
    finally:
        big.stop()
        small.stop()
    return {
        "100000": pair["mockle"],
        "10": pair["bare"],
        "ratio": pair["ratio"],
        "round_ratios": pair["round_ratios"],
    }


def bench_idle_sockets(tmp: Path, sockets: int) -> dict[str, Any]:
    server, setup = harness(tmp, "idle", consumers=100)
    try:
        before = server.rss_mib()
        tokens = tmp / "idle-tokens.json"
        tokens.write_text(json.dumps([c["jws"] for c in setup["consumers"]]))
        result = ws_load(server.url, "idle", 0, sockets, [str(tokens), str(server.p.pid)])
        return {
            "sockets": result["connected"],
            "rss_before_mib": before,
            "rss_connected_mib": result["rss_mib"],
        }
    finally:
        server.stop()


def bench_journal(tmp: Path, requests: int) -> dict[str, Any]:
    """Memory with the journal at its default cap: journaled requests that change no state
    (Domain API lookups), twice ``requests`` of them; then what SENDs add (their events are
    conversation state, kept by design)."""
    server, setup = harness(tmp, "journal", consumers=500)
    csds = f"{server.url}/api/account/{setup['account']}/service/baseURI.json?version=1.0"
    try:
        wrk(csds, None, 2)
        before = server.rss_mib()
        done = [0, 0]
        rss = []
        for i in range(2):
            while done[i] < requests:
                done[i] += int(wrk(csds, None, 10)["requests"])
            rss.append(server.rss_mib())
        send = wrk(server.url, send_script(setup), 10)
        after_send = server.rss_mib()
        return {
            "journaled_requests": sum(done),
            "rss_before_mib": before,
            "rss_after_first_mib": rss[0],
            "rss_after_second_mib": rss[1],
            "sends": send["requests"],
            "rss_after_sends_mib": after_send,
            "state_bytes_per_send": (after_send - rss[1]) * 1024 * 1024 / max(1, send["requests"]),
        }
    finally:
        server.stop()


# -- long runs ---------------------------------------------------------------------------------

SOAK_CONV_LUA = """
-- one connection per thread: each thread runs its own consumer through CONVERSATION,
-- %(sends)s SENDs and a close (cm.UpdateConversationField CLOSE), over and over
local app = %(app)s
local tokens = %(tokens)s
local conv_path = %(conv_path)s
local send_path = %(send_path)s
local per_conv = %(sends)s
local threads = {}
local counter = 0
setup = function(thread)
  counter = counter + 1
  thread:set("me", counter)
  table.insert(threads, thread)
end
local jws, conv, state, left, k = nil, nil, "open", 0, 0
sends, convs, closes, errors = 0, 0, 0, 0
init = function(args)
  jws = tokens[tonumber(wrk.thread:get("me"))]
end
local open_body = '[{"kind":"req","id":"1,","type":"userprofile.SetUserProfile","body":{}},' ..
  '{"kind":"req","id":"2,","type":"cm.ConsumerRequestConversation","body":{"brandId":"le-bench"}}]'
request = function()
  local headers = {["Authorization"] = app, ["X-LP-ON-BEHALF"] = jws,
    ["Content-Type"] = "application/json"}
  if state == "open" then
    return wrk.format("POST", conv_path, headers, open_body)
  end
  k = k + 1
  if state == "send" then
    return wrk.format("POST", send_path, headers, '{"kind":"req","id":"' .. k ..
      '","type":"ms.PublishEvent","body":{"dialogId":"' .. conv ..
      '","event":{"type":"ContentEvent","contentType":"text/plain","message":"soak"}}}')
  end
  return wrk.format("POST", send_path, headers, '{"kind":"req","id":"' .. k ..
    '","type":"cm.UpdateConversationField","body":{"conversationId":"' .. conv ..
    '","conversationField":{"field":"ConversationStateField","conversationState":"CLOSE"}}}')
end
response = function(status, headers, body)
  if status ~= 200 then
    errors = errors + 1
    if state ~= "open" then state = "close" end
    return
  end
  if state == "open" then
    conv = string.match(body, '"conversationId"%%s*:%%s*"([^"]+)"')
    if conv then
      convs = convs + 1
      state, left = "send", per_conv
    else
      errors = errors + 1
    end
  elseif state == "send" then
    sends = sends + 1
    left = left - 1
    if left <= 0 then state = "close" end
  else
    closes = closes + 1
    state = "open"
  end
end
done = function(summary, latency, requests)
  local s, c, x, e = 0, 0, 0, 0
  for _, t in ipairs(threads) do
    s = s + t:get("sends"); c = c + t:get("convs"); x = x + t:get("closes"); e = e + t:get("errors")
  end
  io.write(string.format("SOAK sends=%%d convs=%%d closes=%%d errors=%%d\\n", s, c, x, e))
end
"""


def server_stats(server: Proc) -> dict[str, Any]:
    with urllib.request.urlopen(f"{server.url}/_mockle/stats", timeout=30) as r:
        return json.loads(r.read())  # type: ignore[no-any-return]


def bench_soak_send(
    tmp: Path, total: int = 200_000, window: int = 20_000, conversations: int = 10
) -> dict[str, Any]:
    """RSS and latency over ``total`` SENDs to ``conversations`` conversations, sampled about
    every ``window`` SENDs (wrk runs in whole seconds, sized from the rate so far). With 10
    conversations the 10,000-event window of each is full after 100,000 SENDs, so the second
    half shows the bounded steady state; ``storedEvents`` says where it is."""
    server, setup = harness(tmp, "soak-send", consumers=conversations)
    script = send_script(setup)
    windows: list[dict[str, Any]] = []
    done, rate, t0 = 0, 5000.0, time.perf_counter()
    try:
        start_rss = server.rss_mib()
        # the last window may fall short of total by less than half a window
        while total - done > window // 2 and time.perf_counter() - t0 < 600:
            secs = max(1, round(window / rate))
            w = wrk(server.url, script, secs, proc=server)
            done += int(w["requests"])
            rate = max(500.0, w["rps"])
            st = server_stats(server)
            windows.append(
                {
                    "sends": done,
                    "rss_mib": server.rss_mib(),
                    "stored_events": st["storedEvents"],
                    **{k: w[k] for k in ("rps", "p50_ms", "p99_ms", "non_2xx")},
                    "server_cpu_us_per_req": w.get("server_cpu_us_per_req", 0.0),
                    "gen_cpu_busy": w["gen_cpu_busy"],
                }
            )
            print(f"    soak_send {windows[-1]}", file=sys.stderr, flush=True)
    finally:
        server.stop()
    return {"conversations": conversations, "start_rss_mib": start_rss, "windows": windows}


def bench_soak_conversations(
    tmp: Path,
    total: int = 2_000_000,
    per_conv: int = 10,
    threads: int = 16,
    window_s: int = 30,
    limit_s: float = 720,
) -> dict[str, Any]:
    """RSS over ``total`` SENDs spread over new conversations, each opened (CONVERSATION, a
    SetUserProfile + ConsumerRequestConversation batch), given ``per_conv`` SENDs and closed,
    over HTTP at mockle's default bounds (--max-closed-conversations 100,000): wrk with one
    connection per thread, each thread one consumer. Runs in windows of ``window_s`` seconds,
    each with fresh consumers (a window may stop mid-conversation and leave one open), and
    samples RSS and ``/_mockle/stats`` after each; stops at ``total`` SENDs or ``limit_s``."""
    max_windows = int(limit_s // window_s) + 1
    server, setup = harness(tmp, "soak-conv", fresh=threads * max_windows)
    conv_path = f"/api/account/{setup['account']}/messaging/consumer/conversation?v=3"
    send_path = f"{conv_path[: -len('?v=3')]}/send?v=3"
    windows: list[dict[str, Any]] = []
    sends = 0
    t0 = time.perf_counter()
    try:
        start_rss = server.rss_mib()
        for i in range(max_windows):
            if sends >= total or time.perf_counter() - t0 > limit_s:
                break
            tokens = setup["fresh"][i * threads : (i + 1) * threads]
            script = SOAK_CONV_LUA % {
                "app": lua_str(setup["app"]),
                "tokens": lua_list(tokens),
                "conv_path": lua_str(conv_path),
                "send_path": lua_str(send_path),
                "sends": per_conv,
            }
            w = wrk(server.url, script, window_s, conns=threads, proc=server, threads=threads)
            m = re.search(
                r"SOAK sends=(\d+) convs=(\d+) closes=(\d+) errors=(\d+)", w["wrk_stdout"]
            )
            if m is None:
                raise RuntimeError(f"soak wrk printed no counts: {w['wrk_stdout'][-1000:]}")
            n_sends, n_convs, n_closes, n_errors = (int(x) for x in m.groups())
            sends += n_sends
            st = server_stats(server)
            windows.append(
                {
                    "sends": sends,
                    "conversations": st["conversations"] + st["evictedConversations"],
                    "rss_mib": server.rss_mib(),
                    "closed_kept": st["closedConversations"],
                    "open": st["openConversations"],
                    "evicted": st["evictedConversations"],
                    "stored_events": st["storedEvents"],
                    "journal": st["journalEntries"],
                    "errors": n_errors,
                    "req_per_s": w["rps"],
                    "p99_ms": w["p99_ms"],
                    "server_cpu_us_per_req": w.get("server_cpu_us_per_req", 0.0),
                    "gen_cpu_busy": w["gen_cpu_busy"],
                    "elapsed_s": time.perf_counter() - t0,
                }
            )
            print(f"    soak_conversations {windows[-1]}", file=sys.stderr, flush=True)
    finally:
        server.stop()
    return {
        "sends_per_conversation": per_conv,
        "threads": threads,
        "start_rss_mib": start_rss,
        "windows": windows,
    }


# -- report ------------------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    cpu = ""
    try:
        cpu = next(
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        )
    except (OSError, StopIteration):
        pass
    mem = (
        Path("/proc/meminfo").read_text().splitlines()[0] if Path("/proc/meminfo").exists() else ""
    )
    import aiohttp

    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory": mem.split(":", 1)[-1].strip(),
        "python": platform.python_version(),
        "aiohttp": aiohttp.__version__,
        "platform": platform.platform(),
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
    }


def table(r: dict[str, Any]) -> str:
    rows = []

    def row(name: str, value: str, target: str, ok: bool | None) -> None:
        rows.append((name, value, target, "" if ok is None else ("met" if ok else "NOT met")))

    s = r.get("send")
    if s:
        row(
            "SEND req/s (50 conns)",
            f"{s['mockle']['rps']:.0f} (bare {s['bare']['rps']:.0f})",
            "",
            None,
        )
        row(
            "SEND latency p50/p99",
            f"{s['mockle']['p50_ms']:.2f} / {s['mockle']['p99_ms']:.2f} ms",
            "",
            None,
        )
        row("SEND ratio mockle/bare", ratio_text(s), ">= 0.7", s["ratio"] >= 0.7)
        row("SEND generator (wrk) CPU", gen_http(s), "< 0.8 core", None)
        row(
            "SEND server CPU per request",
            f"{s['mockle']['server_cpu_us_per_req']:.0f} us (bare {s['bare']['server_cpu_us_per_req']:.0f} us)",
            "",
            None,
        )
    c = r.get("conversation")
    if c:
        row(
            "CONVERSATION req/s",
            f"{c['mockle']['rps']:.0f} (bare {c['bare']['rps']:.0f})",
            "",
            None,
        )
        row("CONVERSATION ratio", ratio_text(c), ">= 0.5", c["ratio"] >= 0.5)
        row(
            "CONVERSATION server CPU per request",
            f"{c['mockle']['server_cpu_us_per_req']:.0f} us (bare {c['bare']['server_cpu_us_per_req']:.0f} us)",
            "",
            None,
        )
        row(
            "CONVERSATION latency p50/p99",
            f"{c['mockle']['p50_ms']:.2f} / {c['mockle']['p99_ms']:.2f} ms",
            "",
            None,
        )
        row("CONVERSATION generator (wrk) CPU", gen_http(c), "< 0.8 core", None)
    w = r.get("websocket")
    if w:
        clients = w["mockle"]["clients"]
        row(
            f"WS publish->notification msg/s, {clients} consumers",
            f"{w['mockle']['msgs_per_s']:.0f} (bare echo {w['bare']['msgs_per_s']:.0f})",
            "",
            None,
        )
        row("WS ratio mockle/bare", ratio_text(w), ">= 0.6", w["ratio"] >= 0.6)
        row(
            "WS server CPU per message",
            f"{w['mockle']['server_cpu_us_per_msg']:.0f} us (bare {w['bare']['server_cpu_us_per_msg']:.0f} us)",
            "",
            None,
        )
        row(
            "WS latency p50/p99",
            f"{w['mockle']['p50_ms']:.2f} / {w['mockle']['p99_ms']:.2f} ms",
            "p99 < 5 ms",
            w["mockle"]["p99_ms"] < 5,
        )
        row(
            "WS generator (ws_load.mjs) CPU",
            f"{w['mockle']['gen_cpu_busy']:.2f} core, {w['mockle']['gen_cpu_us_per_msg']:.0f} us/msg"
            f" (bare {w['bare']['gen_cpu_busy']:.2f} core, {w['bare']['gen_cpu_us_per_msg']:.0f} us/msg)",
            "< 0.8 core",
            max(w["mockle"]["gen_cpu_busy"], w["bare"]["gen_cpu_busy"]) < 0.8,
        )
    f = r.get("fanout")
    if f:
        row(
            "fan-out to N sockets + webhook, p50",
            ", ".join(f"N={n}: {v['p50_ms']:.2f} ms" for n, v in f.items()),
            "",
            None,
        )
    st = r.get("startup")
    if st:
        row(
            "fixture start+stop median",
            f"{st['fixture_start_stop_ms_median']:.1f} ms",
            "< 20 ms",
            st["fixture_start_stop_ms_median"] < 20,
        )
        row(
            "mockle serve -> health 200",
            f"{st['serve_to_health_ms_median']:.0f} ms",
            "< 1000 ms",
            st["serve_to_health_ms_median"] < 1000,
        )
    sc = r.get("scale")
    if sc:
        row(
            "SEND 100k vs 10 conversations",
            f"{sc['100000']['rps']:.0f} vs {sc['10']['rps']:.0f} = {ratio_text(sc)}",
            ">= 0.9",
            sc["ratio"] >= 0.9,
        )
    i = r.get("idle_sockets")
    if i:
        row(
            f"RSS with {i['sockets']} idle sockets",
            f"{i['rss_connected_mib']:.0f} MiB (before {i['rss_before_mib']:.0f})",
            "< 1024 MiB",
            i["rss_connected_mib"] < 1024,
        )
    j = r.get("journal")
    if j:
        flat = j["rss_after_second_mib"] - j["rss_after_first_mib"] < 10
        row(
            f"RSS over {j['journaled_requests']} journaled requests",
            f"{j['rss_before_mib']:.0f} -> {j['rss_after_first_mib']:.0f} -> {j['rss_after_second_mib']:.0f} MiB",
            "flat",
            flat,
        )
        row("state kept per SEND (its event)", f"{j['state_bytes_per_send']:.0f} bytes", "", None)
    ss = r.get("soak_send")
    if ss and ss["windows"]:
        ws_ = ss["windows"]
        row(
            f"soak: {ws_[-1]['sends']:,} SENDs to {ss['conversations']} conversations, RSS",
            " -> ".join(f"{x['rss_mib']:.0f}" for x in ws_) + " MiB",
            "flat once full",
            None,
        )
        row(
            "soak SEND p99 per window",
            " ".join(f"{x['p99_ms']:.1f}" for x in ws_) + " ms",
            "flat",
            None,
        )
        row(
            "soak stored events per window",
            " ".join(f"{x['stored_events'] // 1000}k" for x in ws_),
            "",
            None,
        )
    sc2 = r.get("soak_conversations")
    if sc2 and sc2["windows"]:
        ws_ = sc2["windows"]
        row(
            f"soak: {ws_[-1]['sends']:,} SENDs over {ws_[-1]['conversations']:,} closed-as-they-go"
            " conversations, RSS",
            " -> ".join(f"{x['rss_mib']:.0f}" for x in ws_) + " MiB",
            "flat after the cap",
            None,
        )
        row(
            "soak conversations kept / forgotten at the end",
            f"{ws_[-1]['closed_kept']:,} / {ws_[-1]['evicted']:,}, errors "
            f"{sum(x['errors'] for x in ws_)}",
            "",
            None,
        )
    width = [max(len(x[k]) for x in rows + [("measure", "value", "target", "")]) for k in range(4)]
    lines = ["  ".join(h.ljust(width[k]) for k, h in enumerate(("measure", "value", "target", "")))]
    lines += ["  ".join(x[k].ljust(width[k]) for k in range(4)) for x in rows]
    return "\n".join(lines)


def ratio_text(r: dict[str, Any]) -> str:
    """A hot-path ratio with its rounds' own ratios beside it."""
    each = ", ".join(f"{x:.2f}" for x in r.get("round_ratios", []))
    return f"{r['ratio']:.2f}" + (f" (rounds {each})" if each else "")


def gen_http(r: dict[str, Any]) -> str:
    m, b = r["mockle"], r["bare"]
    return (
        f"{m['gen_cpu_busy']:.2f} core, {m['gen_cpu_us_per_req']:.0f} us/req"
        f" (bare {b['gen_cpu_busy']:.2f} core, {b['gen_cpu_us_per_req']:.0f} us/req)"
    )


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="short durations (a smoke run)")
    parser.add_argument("--out", default=str(HERE / "results" / "latest.json"))
    parser.add_argument("--only", nargs="*", help="run only these parts")
    parser.add_argument(
        "--long", action="store_true", help="add the long runs: soak_send, soak_conversations"
    )
    parser.add_argument("--ws-clients", type=int, default=10, help="consumers (default 10)")
    parser.add_argument("--ws-procs", type=int, default=2, help="generator processes")
    parser.add_argument(
        "--rounds", type=int, default=ROUNDS, help="alternating rounds per hot-path ratio"
    )
    parser.add_argument("--soak-sends", type=int, default=200_000)
    parser.add_argument("--soak-conv-sends", type=int, default=2_000_000)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print("benchmarks need wrk: apt-get install wrk", file=sys.stderr)
        return 2
    hot = 2.0 if args.quick else 5.0  # seconds per round of a hot-path ratio
    parts = args.only or [
        "send",
        "conversation",
        "websocket",
        "fanout",
        "startup",
        "scale",
        "idle_sockets",
        "journal",
    ] + (["soak_send", "soak_conversations"] if args.long else [])
    results: dict[str, Any] = {"machine": machine(), "quick": args.quick}
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        steps = {
            "send": lambda: bench_send(tmp, hot, args.rounds),
            "conversation": lambda: bench_conversation(
                # SEND's rate bounds CONVERSATION's; alone (--only), assume a fast one: a token
                # used twice would be a quick 400 and inflate the figure
                tmp,
                hot,
                results.get("send", {}).get("mockle", {}).get("rps", 15_000),
                args.rounds,
            ),
            "websocket": lambda: bench_ws(tmp, hot, args.ws_clients, args.ws_procs, args.rounds),
            "fanout": lambda: bench_fanout(tmp),
            "startup": lambda: bench_startup(20 if args.quick else 100),
            "scale": lambda: bench_scale(tmp, hot, args.rounds),
            "idle_sockets": lambda: bench_idle_sockets(tmp, 1000 if args.quick else 10_000),
            "journal": lambda: bench_journal(tmp, 20_000 if args.quick else 100_000),
            "soak_send": lambda: bench_soak_send(
                tmp, args.soak_sends, max(1000, args.soak_sends // 10)
            ),
            "soak_conversations": lambda: bench_soak_conversations(
                tmp, args.soak_conv_sends, window_s=5 if args.quick else 30
            ),
        }
        for name in parts:
            print(f"... {name}", file=sys.stderr, flush=True)
            results[name] = steps[name]()
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(results, indent=2))
    print(table(results))
    print(f"\nJSON: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
