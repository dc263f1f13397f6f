"""Server work per SEND in CPU instructions, counted by valgrind: a steady figure for A/B work.

    python benchmarks/instructions.py                      # mockle, the bare app, the ratio
    python benchmarks/instructions.py --variant no-gateway # mockle without a part, to price it
    python benchmarks/instructions.py --mode conversation  # per CONVERSATION instead of SEND

Time-based figures on a shared VM swing by +-25 % between identical runs; an instruction count
repeats to about 0.1 %. Each target is driven in-process: the server's aiohttp protocol is fed
whole SEND requests through an in-memory transport (no sockets, no kernel), one after another,
and the same driver serves both targets, so its own cost cancels out of the difference. The
process runs under ``valgrind --tool=callgrind`` twice, with a short and a long series of
requests, and the count per request is the difference divided by the difference in requests
(start-up, imports and key loading cancel out). The RSA key comes from a file made once and
``PYTHONHASHSEED`` is fixed, so that runs are comparable.

What it does not see: kernel and socket costs (the same for both targets) and time lost to
cache misses; ``run.py`` measures those, with wrk over loopback.

``--mode conversation`` counts CONVERSATION requests instead (a SetUserProfile +
ConsumerRequestConversation batch, as ``run.py`` sends): each request is a new consumer, whose
ConsumerJWS is minted before the count starts (as many in the short series as in the long one,
so that minting cancels out); the bare app answers its constant. The default (SEND) is unchanged.

Variants (``--variant``, comma-separated): ``generic`` (every request through aiohttp's
request machinery, the fast path of ``mockle/web/fastpath.py`` off), ``no-gateway`` (the one middleware removed: no
journal, faults, admin check or last resort; see ``mockle/web/gateway.py``), ``no-listeners`` (no webhooks, UMS subscriptions, agent or waiters on the engine),
``no-gc`` (the cyclic garbage collector off), ``log`` / ``log-json`` (request log lines on, as
``mockle serve`` writes them by default / with ``--log-format json``, to /dev/null, line-buffered
as stderr is). Without
``log`` nothing configures logging, as when mockle runs in a test process: request logging is
off.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from aiohttp import web

HERE = Path(__file__).resolve().parent
SHORT, LONG = 100, 400
CONSUMERS = 50


class MemoryTransport(asyncio.Transport):
    """Collects what the server writes; tells the driver when a whole response is out."""

    def __init__(self) -> None:
        super().__init__()
        self.out = bytearray()
        self.answered: asyncio.Event | None = None

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.out += data
        if self.answered is not None and b"\r\n\r\n" in self.out:
            self.answered.set()

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def is_closing(self) -> bool:
        return False

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": ("127.0.0.1", 40000), "sockname": ("127.0.0.1", 8080)}.get(
            name, default
        )

    def close(self) -> None:
        pass

    def abort(self) -> None:
        pass

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        pass

    def get_write_buffer_size(self) -> int:
        return 0

    def can_write_eof(self) -> bool:
        return False


CONV_BODY = json.dumps(
    [
        {"kind": "req", "id": "1,", "type": "userprofile.SetUserProfile", "body": {}},
        {
            "kind": "req",
            "id": "2,",
            "type": "cm.ConsumerRequestConversation",
            "body": {"brandId": "le-bench"},
        },
    ]
).encode()


def _conv_requests(account: str, app_jwt: str, fresh: list[str]) -> list[bytes]:
    path = f"/api/account/{account}/messaging/consumer/conversation?v=3"
    out = []
    for jws in fresh:
        head = (
            f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nAuthorization: {app_jwt}\r\n"
            f"X-LP-ON-BEHALF: {jws}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(CONV_BODY)}\r\n\r\n"
        )
        out.append(head.encode() + CONV_BODY)
    return out


async def answer(protocol: Any, transport: MemoryTransport, raw: bytes) -> None:
    """Feed one whole request to the server's protocol and wait until its answer is out."""
    transport.out.clear()
    transport.answered = asyncio.Event()
    protocol.data_received(raw)
    await transport.answered.wait()
    for _ in range(3):  # let the handler finish its response
        await asyncio.sleep(0)


def _requests(account: str, app_jwt: str, consumers: list[dict[str, str]]) -> list[bytes]:
    path = f"/api/account/{account}/messaging/consumer/conversation/send?v=3"
    out = []
    for c in consumers:
        event = {"type": "ContentEvent", "contentType": "text/plain", "message": "hello"}
        body = json.dumps(
            {
                "kind": "req",
                "id": "1",
                "type": "ms.PublishEvent",
                "body": {"dialogId": c["conversation"], "event": event},
            }
        ).encode()
        head = (
            f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nAuthorization: {app_jwt}\r\n"
            f"X-LP-ON-BEHALF: {c['jws']}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        )
        out.append(head.encode() + body)
    return out


def _without(app: web.Application, name: str) -> None:
    kept = [m for m in app.middlewares if getattr(m, "__name__", "") != name]
    app.middlewares.clear()
    app.middlewares.extend(kept)


async def _drive(target: str, variants: set[str], count: int, key: Path, mode: str) -> None:
    sys.path.insert(0, str(HERE))
    import harness

    from mockle.core import tokens
    from mockle.server import MockleServer, tune_gc
    from mockle.settings import Settings

    tokens._DEFAULT_KEY = tokens.load_key(key.read_bytes())
    server = MockleServer(Settings(port=0, agent="manual", send_max_chars=0))
    consumers = harness.consumers(server, CONSUMERS)
    app_jwt = server.engine.tokens.mint_app_jwt(harness.ACCOUNT, "bench", 86400)
    if mode == "conversation":  # LONG new consumers whatever the count: minting cancels out
        mint = server.engine.tokens.mint_consumer_jws
        fresh = [mint(harness.ACCOUNT, f"fresh-{i}", 0) for i in range(LONG)]
    if "no-gateway" in variants:
        _without(server.app, "mockle_gateway")
    if "no-listeners" in variants:
        server.engine.listeners.clear()
    if "log" in variants or "log-json" in variants:
        from mockle import logs

        sink = open(os.devnull, "w", buffering=1)  # line-buffered, as stderr is
        logs.configure("info", "json" if "log-json" in variants else "text", stream=sink)
    runner: web.AppRunner
    if target == "bare":
        import bare_app

        app = web.Application()
        app.router.add_post(
            "/api/account/{acc}/messaging/consumer/conversation/send", bare_app.send
        )
        app.router.add_post(
            "/api/account/{acc}/messaging/consumer/conversation", bare_app.conversation
        )
        runner = web.AppRunner(app, access_log=None)
    else:
        runner = web.AppRunner(server.app, access_log=None, handle_signals=False)
    await runner.setup()
    tune_gc()  # as mockle serve does
    if "no-gc" in variants:
        gc.disable()
    assert runner.server is not None
    if target == "bare" or "generic" in variants:
        protocol = runner.server()
    else:  # as MockleServer serves: SEND and CONVERSATION on the fast path
        from mockle.web.fastpath import FastFront

        protocol = FastFront(server.runtime, runner.server)()
    transport = MemoryTransport()
    protocol.connection_made(transport)
    if mode == "conversation":
        requests = _conv_requests(harness.ACCOUNT, app_jwt, fresh)
    else:
        requests = _requests(harness.ACCOUNT, app_jwt, consumers)

    for i in range(count):
        await answer(protocol, transport, requests[i % len(requests)])
    if not transport.out.startswith(b"HTTP/1.1 200"):
        raise SystemExit(f"not answered 200: {bytes(transport.out[:200])!r}")
    protocol.connection_lost(None)
    await runner.cleanup()


def callgrind(script: str, inner: list[str], timeout: float, what: str) -> int:
    """Instructions ``python script --inner *inner`` executes under valgrind's callgrind (a fixed
    ``PYTHONHASHSEED``, so runs compare); ``what`` names the target in a failure."""
    cmd = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null"]
    cmd += [sys.executable, script, "--inner", *inner]
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout)
    m = re.search(r"Collected : (\d+)", done.stderr)
    if done.returncode != 0 or m is None:
        raise SystemExit(f"{what}: valgrind run failed:\n{done.stdout}\n{done.stderr[-2000:]}")
    return int(m.group(1))


def _count(target: str, variants: str, count: int, key: Path, mode: str) -> int:
    inner = [target, str(count), str(key), "--variant", variants, "--mode", mode]
    return callgrind(__file__, inner, 600, target)


def per_request(target: str, variants: str, key: Path, mode: str = "send") -> int:
    short = _count(target, variants, SHORT, key, mode)
    long = _count(target, variants, LONG, key, mode)
    return (long - short) // (LONG - SHORT)


def _make_key(path: Path) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    path.write_bytes(pem)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--variant", default="", help="comma-separated parts to remove")
    parser.add_argument(
        "--inner", nargs=3, metavar=("TARGET", "COUNT", "KEY"), help=argparse.SUPPRESS
    )
    parser.add_argument("--out", type=Path, help="write the figures as JSON here")
    parser.add_argument(
        "--mode",
        choices=("send", "conversation"),
        default="send",
        help="the request counted (default send)",
    )
    args = parser.parse_args()
    variants = {v for v in args.variant.split(",") if v}
    if args.inner:
        target, count, key = args.inner
        asyncio.run(_drive(target, variants, int(count), Path(key), args.mode))
        return
    if shutil.which("valgrind") is None:
        raise SystemExit("valgrind is needed (Debian package valgrind)")
    with tempfile.TemporaryDirectory() as tmp:
        key = Path(tmp) / "key.pem"
        _make_key(key)
        mockle = per_request("mockle", args.variant, key, args.mode)
        bare = per_request("bare", "", key, args.mode)
    label = f"mockle ({args.variant})" if args.variant else "mockle"
    result = {
        "mockle": mockle,
        "bare": bare,
        "ratio": round(bare / mockle, 3),
        "variant": args.variant,
        "mode": args.mode,
    }
    what = args.mode.upper()
    print(f"{label:<30} {mockle:>9,} instructions per {what}")
    print(f"{'bare aiohttp app':<30} {bare:>9,} instructions per {what}")
    print(f"{'ratio bare / mockle':<30} {bare / mockle:>9.2f}")
    if args.out:
        args.out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
