"""Running mockle in your event loop (`MockleServer`) or in a thread (`ThreadedMockle`).

Both bind before they return, read the real port back (port 0 takes a free one, with no race),
and stop cleanly: sockets closed with 1001, pending work cancelled.

With ``Settings(tls=True)`` (or ``tls_cert=...``) they serve HTTPS and WSS: :attr:`MockleServer.url`
is ``https://...``, :attr:`MockleServer.ca_file` the CA to trust and
:meth:`MockleServer.client_ssl_context` an :class:`ssl.SSLContext` that verifies the server.
"""

from __future__ import annotations

import asyncio
import gc
import socket
import ssl
import threading
from concurrent.futures import Future
from pathlib import Path
from types import TracebackType
from typing import Any

from aiohttp import web

from mockle.core.engine import Engine
from mockle.core.world import World
from mockle.settings import Settings
from mockle.tls import WILDCARD_HOSTS, TLSFiles, prepare, startup_lines
from mockle.web.app import create_app
from mockle.web.fastpath import FastFront
from mockle.web.runtime import RUNTIME, Runtime


def tune_gc() -> None:
    """Garbage-collector settings for a process that is only a mockle server (``mockle serve``).

    mockle keeps conversations (up to ``--max-closed-conversations`` closed ones) and the journal,
    so the heap of long-lived objects grows with use and each full collection scans all of it:
    measured on SEND, the default settings cost about 15 us per request and ~100 ms p99 pauses.
    (Stored events are not part of that heap: each is kept as an untracked tuple and bytes, see
    :data:`mockle.core.model.Record`.) Freezing what exists at start-up (modules,
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
        #: the certificate served and the CA to trust (None without TLS); made or checked now,
        #: so that a bad file raises :class:`mockle.tls.TLSError` here
        self.tls: TLSFiles | None = prepare(self.settings)
        self.app = create_app(self.settings, world)
        self._runner: web.AppRunner | None = None
        self._listener: asyncio.Server | None = None
        #: the listening socket's protocol factory: SEND and CONVERSATION on the fast path,
        #: everything else handed to aiohttp (:mod:`mockle.web.fastpath`); None until started
        self.front: FastFront | None = None
        self.port: int = 0

    @property
    def addresses(self) -> list[Any]:
        """The addresses the listening socket is bound to (none before :meth:`start`)."""
        listener = self._listener
        return [sock.getsockname() for sock in listener.sockets] if listener else []

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
        """``http://host:port``, or ``https://`` with TLS (a wildcard host reads as loopback
        there: the URL must name a host the certificate covers)."""
        host = self.host
        if self.tls is not None and host in WILDCARD_HOSTS:
            host = "::1" if ":" in host else "127.0.0.1"
        host = host if ":" not in host else f"[{host}]"
        return f"{'https' if self.tls else 'http'}://{host}:{self.port}"

    @property
    def ws_url(self) -> str:
        """``ws://host:port``, or ``wss://`` with TLS: the base of the UMS socket URLs."""
        return ("wss://" if self.tls else "ws://") + self.address

    @property
    def address(self) -> str:
        """host:port, as the Domain API hands it out."""
        return self.url.split("://", 1)[1]

    @property
    def ca_file(self) -> Path | None:
        """The CA file a client should trust (None without TLS, or when your own
        ``tls_cert`` has no CA in its file)."""
        return self.tls.ca if self.tls else None

    def client_ssl_context(self) -> ssl.SSLContext | None:
        """A new client context that verifies this server (None without TLS)."""
        return self.tls.client_context() if self.tls else None

    def banner(self) -> list[str]:
        """What ``mockle serve`` prints once it listens: the URL first (``mockle listening on
        URL``), with TLS the WebSocket base and the lines to trust the certificate, and last
        the Agent Workspace's address."""
        lines = [f"mockle listening on {self.url}"]
        if self.tls is not None:
            lines += startup_lines(self.tls, self.url)
        lines.append(f"Agent Workspace (open it in a browser): {self.browser_url}/_mockle/ui/")
        return lines

    @property
    def browser_url(self) -> str:
        """:attr:`url`, with a wildcard host (``0.0.0.0``, ``::``) as loopback: browsers refuse
        to open ``http://0.0.0.0/`` (and from a container's published port, loopback is the
        address)."""
        scheme, rest = self.url.split("://", 1)
        host, port = rest.rsplit(":", 1)
        if host.strip("[]") in WILDCARD_HOSTS:
            host = "[::1]" if ":" in host else "127.0.0.1"
        return f"{scheme}://{host}:{port}"

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
            ssl_context = self.tls.server_context() if self.tls else None
            assert self._runner.server is not None
            self.front = FastFront(self.runtime, self._runner.server)
            loop = asyncio.get_running_loop()
            self._listener = await loop.create_server(
                self.front, sock=sock, ssl=ssl_context, backlog=128
            )
        except BaseException:
            # the app has started (webhook worker, HTTP client session): stop it again, so a
            # busy port reports only itself, without an "Unclosed client session" after it
            await self.stop()
            raise

    async def stop(self) -> None:
        if self._listener is not None:  # no new connections from here on
            self._listener.close()
            self._listener = None
        if self._runner is not None:
            server = self._runner.server
            handlers = list(server.connections) if server is not None else []
            transports = [h.transport for h in handlers if h.transport is not None]
            if self.front is not None:  # connections the fast path still serves: idle now
                transports += self.front.close_all()
            await self._runner.cleanup()
            self._runner = None
            # A TLS connection closed by the cleanup is still in its close_notify exchange,
            # which waits for the peer (up to asyncio's 30 s SSL shutdown timeout): drop it,
            # and let the loop close its socket, so that a loop closed right after (as
            # ThreadedMockle does) leaks no transport.
            for transport in transports:
                transport.abort()
            if transports:
                await asyncio.sleep(0)

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
    def ws_url(self) -> str:
        return self.server.ws_url

    @property
    def tls(self) -> TLSFiles | None:
        return self.server.tls

    @property
    def ca_file(self) -> Path | None:
        return self.server.ca_file

    def client_ssl_context(self) -> ssl.SSLContext | None:
        return self.server.client_ssl_context()

    @property
    def engine(self) -> Engine:
        return self.server.engine

    def __enter__(self) -> ThreadedMockle:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
