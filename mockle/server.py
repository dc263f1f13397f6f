"""Running mockle in your event loop (`MockleServer`) or in a thread (`ThreadedMockle`).

Both bind before they return, read the real port back (port 0 takes a free one, with no race),
and stop cleanly: sockets closed with 1001, pending work cancelled.
"""

from __future__ import annotations

import asyncio
import gc
import socket
import threading
from concurrent.futures import Future
from types import TracebackType
from typing import Any

from aiohttp import web

from mockle.core.engine import Engine
from mockle.core.world import World
from mockle.settings import Settings
from mockle.web.app import create_app
from mockle.web.runtime import RUNTIME, Runtime


def tune_gc() -> None:
    """Garbage-collector settings for a process that is only a mockle server (``mockle serve``).

    mockle keeps every conversation's events, so the heap of long-lived objects grows with use
    and each full collection scans all of it: measured on SEND, the default settings cost about
    15 us per request and ~100 ms p99 pauses. Freezing what exists at start-up (modules,
    schemas, validators) takes it out of every collection, and a higher gen2 threshold makes
    full collections rare; cyclic garbage is still collected. Not used by the in-process
    fixture: a library must not retune its host process.
    """
    gc.collect()
    gc.freeze()
    gen0, gen1, _ = gc.get_threshold()
    gc.set_threshold(gen0, gen1, 100)


class MockleServer:
    """``async with MockleServer(settings) as m:`` -- a listening mockle in the current loop."""

    def __init__(
        self, settings: Settings | None = None, *, world: World | None = None, **overrides: Any
    ) -> None:
        base = settings or Settings(port=0)
        self.settings = base.model_copy(update=overrides) if overrides else base
        self.app = create_app(self.settings, world)
        self._runner: web.AppRunner | None = None
        self.port: int = 0

    @property
    def runtime(self) -> Runtime:
        return self.app[RUNTIME]

    @property
    def world(self) -> World:
        return self.runtime.world

    @property
    def engine(self) -> Engine:
        return self.runtime.engine

    @property
    def host(self) -> str:
        return self.settings.host

    @property
    def url(self) -> str:
        host = self.host if ":" not in self.host else f"[{self.host}]"
        return f"http://{host}:{self.port}"

    @property
    def address(self) -> str:
        """host:port, as the Domain API hands it out."""
        return self.url.removeprefix("http://")

    async def start(self) -> None:
        self._runner = web.AppRunner(
            self.app, access_log=None, handle_signals=False, shutdown_timeout=5.0
        )
        await self._runner.setup()
        try:
            sock = socket.socket(
                socket.AF_INET6 if ":" in self.host else socket.AF_INET, socket.SOCK_STREAM
            )
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                sock.bind((self.host, self.settings.port))
            except BaseException:
                sock.close()
                raise
            self.port = sock.getsockname()[1]
            site = web.SockSite(self._runner, sock)
            await site.start()
        except BaseException:
            # the app has started (webhook worker, HTTP client session): stop it again, so a
            # busy port reports only itself, without an "Unclosed client session" after it
            await self.stop()
            raise

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> MockleServer:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()


class ThreadedMockle:
    """A :class:`MockleServer` in its own thread and loop: for sync tests and any client.

    ``with ThreadedMockle() as m: requests.post(m.url + ...)``
    """

    def __init__(self, settings: Settings | None = None, **overrides: Any) -> None:
        self.server = MockleServer(settings, **overrides)
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name="mockle", daemon=True)
        self._started: Future[None] = Future()

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_until_complete(self.server.start())
        except BaseException as exc:
            self._started.set_exception(exc)
            return
        self._started.set_result(None)
        self.loop.run_forever()
        self.loop.run_until_complete(self.server.stop())
        self.loop.close()

    def start(self) -> ThreadedMockle:
        self._thread.start()
        self._started.result(timeout=30)
        return self

    def stop(self) -> None:
        if self._thread.is_alive():
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(timeout=30)

    def call(self, fn: Any, *args: Any) -> Any:
        """Run ``fn(*args)`` on the server's loop and return its result (thread-safe)."""

        async def run() -> Any:
            return fn(*args)

        return asyncio.run_coroutine_threadsafe(run(), self.loop).result(timeout=30)

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def address(self) -> str:
        return self.server.address

    @property
    def engine(self) -> Engine:
        return self.server.engine

    def __enter__(self) -> ThreadedMockle:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
