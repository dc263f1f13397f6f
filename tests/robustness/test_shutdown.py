"""Graceful shutdown under load: ``mockle serve`` gets SIGTERM with sockets connected, SENDs
pouring in, a request in flight and webhook deliveries pending.

* every socket, consumer and agent (one of them rung for a conversation), is closed with 1001
  (going away) and the close handshake (a dropped connection would read as 1006);
* the request in flight completes (its answer arrives);
* the SENDs under way get whole 200 answers, then refused or dropped connections, never a 5xx;
* a delivery that ends within the grace is delivered, one that does not is reported in the log;
* the process exits 0, in bounded time.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import orjson
import pytest
from aiohttp import web

from tests.robustness.conftest import ws_answer
from tests.robustness.helpers import (
    ACC,
    CONV,
    SEND,
    profile_request,
    request_conversation,
    subscribe_events,
    text_event,
)

pytestmark = pytest.mark.timeout(60)

SOCKETS = 20
AGENT_SOCKETS = 5
LOAD_WORKERS = 10
LOAD_WARMUP = 100  # SENDs answered before the signal
LOAD_ACC = "le-load"  # no apps there: the load adds no webhook deliveries
CONNECTION_ERRORS = {"ClientConnectorError", "ServerDisconnectedError", "ClientOSError"}


class Load:
    """Workers sending SENDs on keep-alive connections until mockle stops answering."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.statuses: list[int] = []
        self.errors: set[str] = set()
        self.early_errors: list[str] = []  # errors before the signal (there must be none)
        self.signalled = False
        self.answered_before = 0
        self._warm = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._http: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        self._http = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=LOAD_WORKERS))
        self._tasks = [asyncio.create_task(self._worker(i)) for i in range(LOAD_WORKERS)]
        await asyncio.wait_for(self._warm.wait(), 20)

    async def _worker(self, i: int) -> None:
        assert self._http is not None
        http = self._http
        base = f"{self.url}/api/account/{LOAD_ACC}"
        try:
            async with http.post(
                f"{self.url}/sentinel/api/account/{LOAD_ACC}/app/token"
                "?grant_type=client_credentials&client_id=load&client_secret=load"
            ) as r:
                app = {"Authorization": (await r.json())["access_token"]}
            async with http.post(
                f"{base}/consumer?v=1.0", json={"ext_consumer_id": f"load-{i}"}, headers=app
            ) as r:
                headers = {**app, "X-LP-ON-BEHALF": (await r.json())["token"]}
            batch = [profile_request(), request_conversation()]
            async with http.post(
                f"{base}/messaging/consumer/conversation", json=batch, headers=headers
            ) as r:
                conv = (await r.json())[1]["body"]["conversationId"]
            while True:
                body = text_event(conv, f"load {i}")
                async with http.post(
                    f"{base}/messaging/consumer/conversation/send", json=body, headers=headers
                ) as r:
                    await r.read()
                    self.statuses.append(r.status)
                if not self.signalled:
                    self.answered_before += 1
                    if self.answered_before >= LOAD_WARMUP:
                        self._warm.set()
        except aiohttp.ClientError as exc:
            name = type(exc).__name__
            self.errors.add(name)
            if not self.signalled:
                self.early_errors.append(repr(exc))
                self._warm.set()

    async def stop(self) -> None:
        for task in self._tasks:
            if not task.done():
                task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._http is not None:
            await self._http.close()


@dataclass
class Receiver:
    """A webhook endpoint: ``/quick`` answers after a moment, ``/stuck`` never answers."""

    url: str = ""
    quick: list[bytes] = field(default_factory=list)
    arrived: dict[str, asyncio.Event] = field(
        default_factory=lambda: {"quick": asyncio.Event(), "stuck": asyncio.Event()}
    )
    release: asyncio.Event = field(default_factory=asyncio.Event)


@asynccontextmanager
async def running_receiver() -> AsyncIterator[Receiver]:
    rec = Receiver()

    async def quick(request: web.Request) -> web.Response:
        rec.arrived["quick"].set()
        await asyncio.sleep(0.3)
        rec.quick.append(await request.read())
        return web.Response(status=200)

    async def stuck(request: web.Request) -> web.Response:
        rec.arrived["stuck"].set()
        await rec.release.wait()
        return web.Response(status=200)

    app = web.Application()
    app.router.add_post("/quick", quick)
    app.router.add_post("/stuck", stuck)
    runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    rec.url = f"http://127.0.0.1:{port}"
    try:
        yield rec
    finally:
        rec.release.set()
        await runner.cleanup()


async def _serve() -> tuple[asyncio.subprocess.Process, str]:
    env = {**os.environ, "MOCKLE_LOG_LEVEL": "warning"}
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "mockle",
        "serve",
        "--port",
        "0",
        "--agent",
        "manual",
        "--webhook-timeout",
        "30",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )
    assert proc.stdout is not None
    line = (await asyncio.wait_for(proc.stdout.readline(), 20)).decode()
    assert line.startswith("mockle listening on http://127.0.0.1:"), line
    return proc, line.split(" on ", 1)[1].strip()


def _app(receiver: Receiver, name: str, path: str) -> dict[str, Any]:
    hook = {"endpoint": receiver.url + path, "max_retries": 0}
    return {
        "account": ACC,
        "client_name": name,
        "client_id": name,
        "client_secret": f"{name}-secret",
        "capabilities": {"webhooks": {"ms.MessagingEventNotification.ContentEvent": hook}},
    }


@dataclass
class Outcome:
    answer: bytes  # what the request in flight got
    close_codes: list[int | None]
    agent_close_codes: list[int | None]
    exit_code: int
    elapsed: float  # seconds from SIGTERM to the exit
    stderr: str
    delivered: list[bytes]  # bodies the quick endpoint received
    load: Load


@pytest.fixture(scope="module")
def outcome() -> Outcome:
    """Run the scenario once (its own loop); the tests below read what happened."""

    async def scenario() -> Outcome:
        async with running_receiver() as receiver:
            proc, url = await _serve()
            try:
                return await _run(proc, url, receiver)
            finally:
                if proc.returncode is None:
                    proc.kill()
                    await proc.wait()

    return asyncio.run(asyncio.wait_for(scenario(), 50))


def test_sockets_close_with_1001(outcome: Outcome) -> None:
    assert outcome.close_codes == [1001] * SOCKETS


def test_agent_sockets_close_with_1001(outcome: Outcome) -> None:
    assert outcome.agent_close_codes == [1001] * AGENT_SOCKETS


def test_requests_under_load_get_whole_answers_or_a_refused_connection(outcome: Outcome) -> None:
    """Until the listener closes every SEND is answered 200; then connections are refused or
    dropped between requests, never answered with a 5xx or a truncated body."""
    load = outcome.load
    assert load.answered_before >= LOAD_WARMUP
    assert set(load.statuses) == {200}, load.statuses
    assert not load.early_errors, load.early_errors
    assert load.errors <= CONNECTION_ERRORS, load.errors


def test_the_request_in_flight_completes(outcome: Outcome) -> None:
    assert outcome.answer.startswith(b"HTTP/1.1 200"), outcome.answer[:300]
    assert b'"reqId":"flight"' in outcome.answer


def test_the_process_exits_0_in_bounded_time(outcome: Outcome) -> None:
    assert outcome.exit_code == 0, outcome.stderr
    assert outcome.elapsed < 10, outcome.elapsed


def test_deliveries_ending_within_the_grace_are_delivered(outcome: Outcome) -> None:
    delivered = b"".join(outcome.delivered)  # the in-flight message too
    assert b"to the hooks" in delivered and b"in flight" in delivered, outcome.delivered


def test_deliveries_still_pending_are_reported_in_the_log(outcome: Outcome) -> None:
    assert "stuck-app" in outcome.stderr and "/stuck" in outcome.stderr, outcome.stderr


async def _run(proc: asyncio.subprocess.Process, url: str, receiver: Receiver) -> Outcome:
    async with aiohttp.ClientSession() as http:
        for name, path in (("quick-app", "/quick"), ("stuck-app", "/stuck")):
            async with http.post(url + "/_mockle/apps", json=_app(receiver, name, path)) as r:
                assert r.status == 201, await r.text()
        tokens = {}
        async with http.post(
            f"{url}/sentinel/api/account/{ACC}/app/token?grant_type=client_credentials",
            data={"client_id": "quick-app", "client_secret": "quick-app-secret"},
        ) as r:
            app_jwt = (await r.json())["access_token"]
        for ext in ["alice"] + [f"c{i}" for i in range(SOCKETS - 1)]:
            async with http.post(
                f"{url}/api/account/{ACC}/consumer?v=1.0",
                json={"ext_consumer_id": ext},
                headers={"Authorization": app_jwt},
            ) as r:
                tokens[ext] = (await r.json())["token"]
        headers = {"Authorization": app_jwt, "X-LP-ON-BEHALF": tokens["alice"]}
        async with http.post(
            url + CONV, json=[profile_request(), request_conversation()], headers=headers
        ) as r:
            conv = (await r.json())[1]["body"]["conversationId"]

        # connected consumer sockets, one subscribed to the conversation
        sockets = []
        ws_url = url.replace("http://", "ws://") + f"/ws_api/account/{ACC}/messaging/consumer?v=3"
        for ext in tokens:
            ws = await http.ws_connect(ws_url, headers={"Authorization": f"jwt {tokens[ext]}"})
            sockets.append(ws)
        await sockets[0].send_str(orjson.dumps(subscribe_events(conv)).decode())
        assert (await ws_answer(sockets[0]))["code"] == 200

        # agent sockets: logged-in agents; the first subscribed to routing, with a ring waiting
        agent_sockets = []
        ws_base = url.replace("http://", "ws://")
        for i in range(AGENT_SOCKETS):
            async with http.post(
                f"{url}/api/account/{ACC}/login?v=1.3",
                json={"username": f"bot-{i}", "password": "pw"},
            ) as r:
                assert r.status == 200, await r.text()
                bearer = (await r.json())["bearer"]
            agent_sockets.append(
                await http.ws_connect(f"{ws_base}/ws_api/account/{ACC}/messaging/brand/{bearer}")
            )
        routing = {"kind": "req", "id": "r", "type": ".ams.routing.SubscribeRoutingTasks"}
        await agent_sockets[0].send_str(orjson.dumps(routing).decode())
        assert (await ws_answer(agent_sockets[0]))["code"] == 200
        headers_b = {"Authorization": app_jwt, "X-LP-ON-BEHALF": tokens["c0"]}
        async with http.post(
            url + CONV, json=[profile_request(), request_conversation()], headers=headers_b
        ) as r:
            assert r.status == 200
        while True:  # the ring reached the agent
            note = orjson.loads((await agent_sockets[0].receive(timeout=10)).data)
            if (
                note.get("type") == ".ams.routing.RoutingTaskNotification"
                and note["body"]["changes"]
            ):
                break

        # webhook deliveries under way: one about to succeed, one that will never end
        async with http.post(url + SEND, json=text_event(conv, "to the hooks"), headers=headers):
            pass
        await asyncio.wait_for(receiver.arrived["quick"].wait(), 10)
        await asyncio.wait_for(receiver.arrived["stuck"].wait(), 10)

        # a request in flight: its head is read (the server said 100 Continue), no body yet
        body = orjson.dumps(text_event(conv, "in flight", rid="flight"))
        host, port = url.removeprefix("http://").split(":")
        reader, writer = await asyncio.open_connection(host, int(port))
        head = (
            f"POST {SEND} HTTP/1.1\r\nHost: {host}\r\nAuthorization: {app_jwt}\r\n"
            f"X-LP-ON-BEHALF: {tokens['alice']}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n"
        ).encode()
        writer.write(head)
        await writer.drain()
        interim = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
        assert interim.startswith(b"HTTP/1.1 100"), interim

        load = Load(url)
        await load.start()

        started = time.monotonic()
        load.signalled = True
        proc.send_signal(signal.SIGTERM)
        writer.write(body)
        await writer.drain()
        answer = await asyncio.wait_for(reader.read(), 10)
        writer.close()

        codes = []
        for ws in sockets:
            while True:
                msg = await ws.receive(timeout=10)
                if msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED):
                    codes.append(ws.close_code)
                    break
        agent_codes = []
        for ws in agent_sockets:
            while True:
                msg = await ws.receive(timeout=10)
                if msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED):
                    agent_codes.append(ws.close_code)
                    break
        code = await asyncio.wait_for(proc.wait(), 20)
        elapsed = time.monotonic() - started
        await load.stop()
    assert proc.stderr is not None
    stderr = (await proc.stderr.read()).decode()
    return Outcome(answer, codes, agent_codes, code, elapsed, stderr, list(receiver.quick), load)


def test_stopping_with_an_idle_tls_keep_alive_connection_leaks_no_transport(
    tmp_path: Any,
) -> None:
    """A browser keeps its HTTPS connection open; stopping a ThreadedMockle then closes its loop
    at once, which used to leave the TLS transport (mid close_notify) unclosed."""
    import gc
    import http.client
    import warnings

    from mockle.server import ThreadedMockle
    from mockle.settings import Settings

    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always", ResourceWarning)
        m = ThreadedMockle(Settings(port=0, tls=True, tls_dir=tmp_path)).start()
        conn = http.client.HTTPSConnection(
            "127.0.0.1", m.server.port, context=m.client_ssl_context(), timeout=10
        )
        try:
            conn.request("GET", "/_mockle/health")
            assert conn.getresponse().read() == b'{"status":"ok"}'
            m.stop()  # the connection is still open (keep-alive)
            gc.collect()
        finally:
            conn.close()
    leaks = [str(w.message) for w in seen if issubclass(w.category, ResourceWarning)]
    assert not leaks, leaks
