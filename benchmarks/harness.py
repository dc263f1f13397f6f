"""mockle in a process of its own, with state prepared for a benchmark run.

    python benchmarks/harness.py --preload 100000 --consumers 200 --fresh 20000 --out setup.json

* ``--preload N``: N existing conversations (N consumers), created through the engine;
* ``--consumers K``: K consumers with real tokens and an open conversation each (SEND load);
* ``--fresh M``: M more ConsumerJWS of new consumers (CONVERSATION load: one per request).

Writes the tokens to ``--out`` and prints ``mockle listening on http://HOST:PORT``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal

from mockle.core.engine import Effects
from mockle.core.tokens import TokenInfo, TokenKind
from mockle.server import MockleServer, tune_gc
from mockle.settings import Settings

ACCOUNT = "le-bench"


def preload(server: MockleServer, n: int) -> None:
    engine = server.engine
    fx = Effects()
    for i in range(n):
        info = TokenInfo(TokenKind.CONSUMER_JWS, ACCOUNT, f"{i:064x}", {}, None, f"pre-{i}")
        engine.request_conversation(engine.consumer(info), {}, fx)


def consumers(server: MockleServer, k: int) -> list[dict[str, str]]:
    engine = server.engine
    out = []
    for i in range(k):
        jws = engine.tokens.mint_consumer_jws(ACCOUNT, f"bench-{i}", 0)
        consumer = engine.consumer(engine.tokens.verify(jws))
        conv = engine.request_conversation(consumer, {}, Effects())
        out.append({"jws": jws, "conversation": conv.conv_id})
    return out


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--preload", type=int, default=0)
    parser.add_argument("--consumers", type=int, default=0)
    parser.add_argument("--fresh", type=int, default=0)
    parser.add_argument("--journal-size", type=int, default=10_000)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    settings = Settings(port=0, agent="manual", journal_size=args.journal_size, send_max_chars=0)
    server = MockleServer(settings)
    preload(server, args.preload)
    setup = {
        "account": ACCOUNT,
        "app": server.engine.tokens.mint_app_jwt(ACCOUNT, "bench", 86400),
        "consumers": consumers(server, args.consumers),
        "fresh": [
            server.engine.tokens.mint_consumer_jws(ACCOUNT, f"fresh-{i}", 0)
            for i in range(args.fresh)
        ],
    }
    with open(args.out, "w") as fh:
        json.dump(setup, fh)
    await server.start()
    tune_gc()  # as mockle serve does
    print(f"mockle listening on {server.url}", flush=True)
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set)
    await stop.wait()
    await server.stop()


if __name__ == "__main__":
    asyncio.run(main())
