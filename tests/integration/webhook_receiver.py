"""A real webhook receiver for integration tests: an aiohttp server on 127.0.0.1, port 0.

It verifies every POST like LivePerson's sample connectors do (the three ``x-liveperson-*``
headers, then the signature over the raw body), records it, and answers what the test's
``behaviour`` says: a status, or ``HANG`` (no answer until the test ends).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson
from aiohttp import web
from multidict import CIMultiDict

from mockle.core.webhooks import verify

HANG = -1


@dataclass
class Hit:
    path: str
    headers: CIMultiDict[str]  # case-insensitive, as receivers read them
    raw: bytes
    signed: bool

    @property
    def doc(self) -> dict[str, Any]:
        value = orjson.loads(self.raw)
        assert isinstance(value, dict)
        return value

    @property
    def change(self) -> dict[str, Any]:
        changes = self.doc["body"]["changes"]
        assert len(changes) == 1
        return dict(changes[0])

    @property
    def conversation_id(self) -> str:
        ch = self.change
        return str(ch["result"]["convId"] if "result" in ch else ch["conversationId"])


class Receiver:
    def __init__(self, secret: str, behaviour: Callable[[Hit, int], int] | None = None) -> None:
        self.secret = secret
        self.behaviour = behaviour or (lambda hit, n: 200)
        self.hits: asyncio.Queue[Hit] = asyncio.Queue()
        self.count = 0
        self.release = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self.url = ""

    async def _handle(self, request: web.Request) -> web.Response:
        raw = await request.read()
        headers = request.headers.copy()
        signature = request.headers.get("X-Liveperson-Signature", "")
        signed = verify(raw, self.secret, signature)
        hit = Hit(request.path, headers, raw, signed)
        self.count += 1
        status = self.behaviour(hit, self.count)
        await self.hits.put(hit)
        if status == HANG:
            await self.release.wait()
            return web.Response(status=200)
        if not signed or "X-Liveperson-Account-Id" not in request.headers:
            return web.Response(status=401, text="bad signature")
        return web.Response(status=status, text="OK")

    async def start(self) -> Receiver:
        app = web.Application()
        app.router.add_post("/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}"
        return self

    async def stop(self) -> None:
        self.release.set()
        if self._runner is not None:
            await self._runner.cleanup()

    async def next(self, timeout: float = 10.0) -> Hit:
        return await asyncio.wait_for(self.hits.get(), timeout)

    async def take(self, n: int, timeout: float = 10.0) -> list[Hit]:
        return [await self.next(timeout) for _ in range(n)]

    async def __aenter__(self) -> Receiver:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()
