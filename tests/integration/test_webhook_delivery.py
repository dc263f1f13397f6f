"""Webhook delivery against real receivers: retries, timeouts, ordering, isolation, shutdown.

A listening :class:`MockleServer` in the test's loop, real aiohttp receivers on 127.0.0.1. Every
wait is on an event (a received POST, a settled delivery), bounded; nothing sleeps.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

import mockle.web.webhooks as delivery_module
from mockle.core.clock import FakeClock
from mockle.server import MockleServer
from mockle.settings import Settings
from mockle.web.app import build_world
from mockle.web.webhooks import WebhookWorker

from .webhook_receiver import HANG, Hit, Receiver

ACC = "le-hooks-1"
OTHER = "le-hooks-2"
SECRET = "s3cr3t"
CQM = "cqm.ExConversationChangeNotification"
CONTENT = "ms.MessagingEventNotification.ContentEvent"


@pytest.fixture
async def mockle() -> AsyncIterator[MockleServer]:
    settings = Settings(
        port=0, agent="manual", agent_delay_ms=0, webhook_retry_interval=0.01, webhook_timeout=0.3
    )
    async with MockleServer(settings) as server:
        yield server


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


def worker(server: MockleServer) -> WebhookWorker:
    w = server.runtime.webhooks
    assert isinstance(w, WebhookWorker)
    return w


async def install(
    http: aiohttp.ClientSession,
    server: MockleServer,
    receiver: Receiver,
    keys: tuple[str, ...] = (CQM, CONTENT),
    *,
    account: str = ACC,
    max_retries: int = 0,
) -> None:
    hooks = {k: {"endpoint": f"{receiver.url}/{k}", "max_retries": max_retries} for k in keys}
    manifest = {
        "account": account,
        "client_name": "delivery test",
        "client_id": f"app-{account}",
        "client_secret": SECRET,
        "capabilities": {"webhooks": hooks},
    }
    async with http.post(f"{server.url}/_mockle/apps", json=manifest) as r:
        assert r.status == 201, await r.text()


class Consumer:
    def __init__(
        self, http: aiohttp.ClientSession, server: MockleServer, account: str, ext: str
    ) -> None:
        self.http, self.server, self.account, self.ext = http, server, account, ext
        self.headers: dict[str, str] = {}
        self.conv = ""

    @property
    def base(self) -> str:
        return f"{self.server.url}/api/account/{self.account}/messaging/consumer/conversation"

    async def _json(self, method: str, url: str, status: int, **kw: Any) -> Any:
        async with self.http.request(method, url, **kw) as r:
            assert r.status == status, await r.text()
            return await r.json()

    async def open(self) -> str:
        acc = self.account
        tok = await self._json(
            "POST",
            f"{self.server.url}/sentinel/api/account/{acc}/app/token?v=1.0&grant_type=client_credentials",
            200,
            data={"client_id": f"app-{acc}", "client_secret": SECRET},
        )
        app = tok["access_token"]
        jws = await self._json(
            "POST",
            f"{self.server.url}/api/account/{acc}/consumer?v=1.0",
            201,
            json={"ext_consumer_id": self.ext},
            headers={"Authorization": app},
        )
        self.headers = {"Authorization": app, "X-LP-ON-BEHALF": jws["token"]}
        batch = [
            {"kind": "req", "id": "1", "type": "userprofile.SetUserProfile", "body": {}},
            {"kind": "req", "id": "2", "type": "cm.ConsumerRequestConversation", "body": {}},
        ]
        items = await self._json("POST", f"{self.base}?v=3", 200, json=batch, headers=self.headers)
        self.conv = items[1]["body"]["conversationId"]
        return self.conv

    async def say(self, message: str) -> int:
        event = {"type": "ContentEvent", "contentType": "text/plain", "message": message}
        req = {
            "kind": "req",
            "id": "1",
            "type": "ms.PublishEvent",
            "body": {"dialogId": self.conv, "event": event},
        }
        reply = await self._json(
            "POST", f"{self.base}/send?v=3", 200, json=req, headers=self.headers
        )
        return int(reply["body"]["sequence"])


async def settled(server: MockleServer, count: int, account: str = ACC) -> list[dict[str, Any]]:
    log = worker(server).log
    assert await log.wait_settled(account, count, 10), [
        d.as_json() for d in log.deliveries(account)
    ]
    return [d.as_json() for d in log.deliveries(account)]


# -- retries -----------------------------------------------------------------------------------


async def test_a_receiver_that_fails_twice_then_succeeds(
    mockle: MockleServer, http: aiohttp.ClientSession
) -> None:
    statuses = {1: 500, 2: 503}
    async with Receiver(SECRET, lambda hit, n: statuses.get(n, 200)) as receiver:
        await install(http, mockle, receiver, (CQM,), max_retries=3)
        conv = await Consumer(http, mockle, ACC, "a").open()
        hits = await receiver.take(3)
        assert len({h.raw for h in hits}) == 1 and all(h.signed for h in hits)
        assert len({h.headers["X-Liveperson-Signature"] for h in hits}) == 1
        (d,) = await settled(mockle, 1)
        assert d["delivered"] is True and d["state"] == "delivered"
        assert d["conversationId"] == conv
        assert [a["status"] for a in d["attempts"]] == [500, 503, 200]
        assert [a["error"] is None for a in d["attempts"]] == [False, False, True]
        assert "HTTP 500" in d["attempts"][0]["error"]
        times = [a["time"] for a in d["attempts"]]
        assert times == sorted(times)
        assert receiver.hits.empty()


async def test_200_and_201_count_as_delivered_anything_else_does_not(
    mockle: MockleServer, http: aiohttp.ClientSession
) -> None:
    answers = {CQM: 201, CONTENT: 302}
    async with Receiver(SECRET, lambda hit, n: answers[hit.path.lstrip("/")]) as receiver:
        await install(http, mockle, receiver, max_retries=0)
        consumer = Consumer(http, mockle, ACC, "a")
        await consumer.open()
        await consumer.say("hi")
        created, message = await settled(mockle, 2)
        assert created["delivered"] and [a["status"] for a in created["attempts"]] == [201]
        assert not message["delivered"] and [a["status"] for a in message["attempts"]] == [302]
        assert message["state"] == "failed"


async def test_exhausted_retries_are_logged_and_later_events_still_go_out_in_order(
    mockle: MockleServer, http: aiohttp.ClientSession
) -> None:
    async with Receiver(SECRET, lambda hit, n: 500 if hit.path == f"/{CQM}" else 200) as receiver:
        await install(http, mockle, receiver, max_retries=1)
        consumer = Consumer(http, mockle, ACC, "a")
        await consumer.open()
        await consumer.say("after the failure")
        hits = await receiver.take(3)
        assert [h.path for h in hits] == [f"/{CQM}", f"/{CQM}", f"/{CONTENT}"]
        created, message = await settled(mockle, 2)
        assert created["state"] == "failed" and [a["status"] for a in created["attempts"]] == [
            500,
            500,
        ]
        assert message["delivered"]


# -- slow and dead receivers -------------------------------------------------------------------


async def test_a_receiver_that_never_answers_delays_nothing_else(
    mockle: MockleServer, http: aiohttp.ClientSession
) -> None:
    async with Receiver(SECRET, lambda hit, n: HANG) as dead, Receiver(SECRET) as alive:
        await install(http, mockle, dead, max_retries=1)
        await install(http, mockle, alive, account=OTHER)
        stuck = Consumer(http, mockle, ACC, "a")
        await stuck.open()  # answered at once although its webhook hangs
        await dead.next()  # the first attempt is in the dead receiver's hands
        await stuck.say("still answered")
        fine = Consumer(http, mockle, OTHER, "b")
        await fine.open()
        hit = await alive.next()
        assert hit.conversation_id == fine.conv
        pending = worker(mockle).log.deliveries(ACC)
        assert [d.state for d in pending] == ["pending", "pending"]
        created, message = await settled(mockle, 2)
        assert created["state"] == "failed" and len(created["attempts"]) == 2
        for attempt in created["attempts"]:
            assert attempt["status"] is None and attempt["error"] == "no answer within 0.3 s"
        assert message["state"] == "failed"  # it waited its turn, then met the same dead end


async def test_a_refused_connection_is_a_failed_attempt(
    mockle: MockleServer, http: aiohttp.ClientSession
) -> None:
    receiver = await Receiver(SECRET).start()
    await receiver.stop()  # nobody listens there any more
    await install(http, mockle, receiver, (CQM,), max_retries=2)
    await Consumer(http, mockle, ACC, "a").open()
    (d,) = await settled(mockle, 1)
    assert d["state"] == "failed" and len(d["attempts"]) == 3
    assert all(a["status"] is None and "Connect" in a["error"] for a in d["attempts"])


# -- ordering ----------------------------------------------------------------------------------


async def test_events_of_one_conversation_arrive_in_order_while_others_flow(
    mockle: MockleServer, http: aiohttp.ClientSession
) -> None:
    def hold_first(hit: Hit, n: int) -> int:
        return HANG if n == 1 else 200

    mockle.runtime.webhooks.timeout = 10.0  # the held POST must not time out
    async with Receiver(SECRET, hold_first) as receiver:
        await install(http, mockle, receiver)
        held = Consumer(http, mockle, ACC, "held")
        await held.open()
        assert (await receiver.next()).conversation_id == held.conv  # held at the receiver
        for i in range(3):
            assert await held.say(f"m{i}") == i
        other = Consumer(http, mockle, ACC, "other")
        await other.open()
        await other.say("meanwhile")
        flowing = await receiver.take(2)
        assert [h.conversation_id for h in flowing] == [other.conv, other.conv]
        receiver.release.set()
        rest = await receiver.take(3)
        assert [h.change["event"]["message"] for h in rest] == ["m0", "m1", "m2"]
        assert [h.change["sequence"] for h in rest] == [0, 1, 2]


async def test_control_api_and_agent_events_are_delivered_too(
    mockle: MockleServer, http: aiohttp.ClientSession
) -> None:
    async with Receiver(SECRET) as receiver:
        await install(http, mockle, receiver)
        consumer = Consumer(http, mockle, ACC, "a")
        await consumer.open()
        await receiver.next()
        text = {
            "type": "ContentEvent",
            "contentType": "text/plain",
            "message": "from the control API",
        }
        url = f"{mockle.url}/_mockle/conversations/{consumer.conv}/agent/publish"
        async with http.post(url, json={"event": text}) as r:
            assert r.status == 200, await r.text()
        joined, message = await receiver.take(2)
        assert (
            joined.change["result"]["conversationDetails"]["participants"][0]["role"]
            == "ASSIGNED_AGENT"
        )
        assert message.change["event"]["message"] == "from the control API"
        assert message.change["originatorMetadata"]["role"] == "ASSIGNED_AGENT"


# -- lifecycle ---------------------------------------------------------------------------------


async def test_pending_deliveries_at_shutdown_are_reported_as_abandoned(
    http: aiohttp.ClientSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(delivery_module, "SHUTDOWN_GRACE_S", 0.05)
    settings = Settings(port=0, agent="manual", webhook_timeout=10, webhook_retry_interval=0.01)
    server = MockleServer(settings)
    await server.start()
    async with Receiver(SECRET, lambda hit, n: HANG) as receiver:
        await install(http, server, receiver)
        consumer = Consumer(http, server, ACC, "a")
        await consumer.open()
        await receiver.next()
        await consumer.say("queued behind")
        log = worker(server).log
        await server.stop()
        states = [(d.state, d.attempts[-1].error) for d in log.deliveries(ACC)]
        assert states == [("abandoned", "mockle stopped before delivery ended")] * 2
        assert worker(server).pending == 0


async def test_reset_drops_queued_deliveries_of_the_account(
    mockle: MockleServer, http: aiohttp.ClientSession
) -> None:
    mockle.runtime.webhooks.timeout = 10.0
    async with Receiver(SECRET, lambda hit, n: HANG if n == 1 else 200) as receiver:
        await install(http, mockle, receiver)
        consumer = Consumer(http, mockle, ACC, "a")
        await consumer.open()
        await receiver.next()
        await consumer.say("never sent")
        async with http.post(f"{mockle.url}/_mockle/reset?account={ACC}") as r:
            assert r.status == 200
        assert worker(mockle).pending == 0 and worker(mockle).log.deliveries(ACC) == []
        # a fresh start on the same account delivers normally
        await install(http, mockle, receiver, (CQM,))
        await Consumer(http, mockle, ACC, "b").open()
        assert (await receiver.next()).change["result"]["conversationDetails"]["state"] == "OPEN"
        assert receiver.hits.empty()


async def test_a_bug_fails_one_delivery_and_the_queue_goes_on(
    mockle: MockleServer, http: aiohttp.ClientSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    w = worker(mockle)
    real = w._attempt
    calls: list[str] = []

    async def flaky(job: Any) -> Any:
        calls.append(job.event_type)
        if len(calls) == 1:
            raise RuntimeError("boom")
        return await real(job)

    monkeypatch.setattr(w, "_attempt", flaky)
    async with Receiver(SECRET) as receiver:
        await install(http, mockle, receiver)
        consumer = Consumer(http, mockle, ACC, "a")
        await consumer.open()
        await consumer.say("still delivered")
        hit = await receiver.next()
        assert hit.change["event"]["message"] == "still delivered"
        created, message = await settled(mockle, 2)
        assert (
            created["state"] == "failed"
            and "RuntimeError('boom')" in created["attempts"][0]["error"]
        )
        assert message["delivered"]


# -- retry by time to live (capabilities.webhooks.retry.retention_time) -------------------------


async def install_ttl(
    http: aiohttp.ClientSession, server: MockleServer, receiver: Receiver, **hook: Any
) -> None:
    manifest = {
        "account": ACC,
        "client_name": "ttl test",
        "client_id": f"app-{ACC}",
        "client_secret": SECRET,
        "capabilities": {
            "webhooks": {
                CQM: {"endpoint": f"{receiver.url}/{CQM}", **hook},
                "retry": {"retention_time": 60},
            }
        },
    }
    async with http.post(f"{server.url}/_mockle/apps", json=manifest) as r:
        assert r.status == 201, await r.text()


@pytest.fixture
async def ttl_mockle() -> AsyncIterator[tuple[MockleServer, FakeClock]]:
    clock = FakeClock()
    settings = Settings(port=0, agent="manual", webhook_backoff=0.001, webhook_backoff_cap=0.004)
    world = build_world(settings, clock=clock)
    async with MockleServer(settings, world=world) as server:
        yield server, clock


async def test_retention_time_retries_with_backoff_until_delivered(
    ttl_mockle: tuple[MockleServer, FakeClock], http: aiohttp.ClientSession
) -> None:
    server, _ = ttl_mockle
    failures = 6  # more than any max_retries allows: the time to live governs
    async with Receiver(SECRET, lambda hit, n: 500 if n <= failures else 200) as receiver:
        await install_ttl(http, server, receiver)
        await Consumer(http, server, ACC, "a").open()
        (d,) = await settled(server, 1)
        assert d["delivered"] is True
        assert [a["status"] for a in d["attempts"]] == [500] * failures + [200]


async def test_retention_time_expiry_drops_the_event(
    ttl_mockle: tuple[MockleServer, FakeClock], http: aiohttp.ClientSession
) -> None:
    server, clock = ttl_mockle

    def answer(hit: Hit, n: int) -> int:
        if n == 3:
            clock.advance(60_000)  # the retention time runs out while the endpoint is down
        return 503

    async with Receiver(SECRET, answer) as receiver:
        await install_ttl(http, server, receiver)
        await Consumer(http, server, ACC, "a").open()
        (d,) = await settled(server, 1)
        assert d["delivered"] is False and d["state"] == "failed"
        assert [a["status"] for a in d["attempts"]] == [503, 503, 503]


async def test_an_explicit_max_retries_0_opts_out_of_the_time_to_live(
    ttl_mockle: tuple[MockleServer, FakeClock], http: aiohttp.ClientSession
) -> None:
    server, _ = ttl_mockle
    async with Receiver(SECRET, lambda hit, n: 500) as receiver:
        await install_ttl(http, server, receiver, max_retries=0)
        await Consumer(http, server, ACC, "a").open()
        (d,) = await settled(server, 1)
        assert [a["status"] for a in d["attempts"]] == [500]
        assert (await app_retry(http, server))["state"] == "UP"  # its failure does not count


# -- the app-wide state of retry by time to live (UP, FAILED, IN TRANSITION) -------------------


async def app_retry(http: aiohttp.ClientSession, server: MockleServer) -> dict[str, Any]:
    async with http.get(f"{server.url}/_mockle/apps?account={ACC}") as r:
        (app,) = (await r.json())["apps"]
    retry = app["retry"]
    assert isinstance(retry, dict)
    return retry


def deliveries(server: MockleServer) -> dict[str, dict[str, Any]]:
    """The account's deliveries by conversation id (one CQM event per conversation here)."""
    return {d.job.conversation_id: d.as_json() for d in worker(server).log.deliveries(ACC)}


async def until(server: MockleServer, predicate: Any) -> None:
    assert await worker(server).log.wait_for(predicate, 10), deliveries(server)


async def test_one_failing_conversation_holds_back_the_events_of_every_other(
    ttl_mockle: tuple[MockleServer, FakeClock], http: aiohttp.ClientSession
) -> None:
    server, _ = ttl_mockle
    down = True
    async with Receiver(SECRET, lambda hit, n: 503 if down else 200) as receiver:
        await install_ttl(http, server, receiver)
        a = await Consumer(http, server, ACC, "a").open()
        await until(server, lambda: len(deliveries(server)[a]["attempts"]) >= 1)
        assert (await app_retry(http, server))["state"] == "FAILED"

        b = await Consumer(http, server, ACC, "b").open()  # a new conversation: stored
        tried = len(deliveries(server)[a]["attempts"])
        await until(server, lambda: len(deliveries(server)[a]["attempts"]) >= tried + 2)
        assert deliveries(server)[b]["attempts"] == []  # only the failing one is retried
        assert (await app_retry(http, server)) == {
            "retention_time": 60,
            "state": "FAILED",
            "pending": 2,
            "failures": 1,
        }

        down = False  # the endpoint answers again: A goes through, then the stored B
        await settled(server, 2)
        done = deliveries(server)
        assert done[a]["delivered"] and done[a]["attempts"][-1]["status"] == 200
        assert [x["status"] for x in done[b]["attempts"]] == [200]
        hits = [receiver.hits.get_nowait() for _ in range(receiver.hits.qsize())]
        assert hits[-1].conversation_id == b  # B only once A was delivered
        assert {h.conversation_id for h in hits[:-1]} == {a}
        assert await app_retry(http, server) == {
            "retention_time": 60,
            "state": "UP",
            "pending": 0,
            "failures": 1,
        }


async def test_a_stored_event_is_dropped_when_its_retention_time_runs_out(
    ttl_mockle: tuple[MockleServer, FakeClock], http: aiohttp.ClientSession
) -> None:
    server, clock = ttl_mockle
    async with Receiver(SECRET, lambda hit, n: 503) as receiver:
        await install_ttl(http, server, receiver)
        a = await Consumer(http, server, ACC, "a").open()
        await until(server, lambda: len(deliveries(server)[a]["attempts"]) >= 1)
        b = await Consumer(http, server, ACC, "b").open()
        clock.advance(61_000)  # both outlive the 60 s retention time while the app is FAILED
        await settled(server, 2)
        done = deliveries(server)
        assert not done[a]["delivered"] and not done[b]["delivered"]
        (stored,) = done[b]["attempts"]
        assert stored["status"] is None and "retention time ran out" in stored["error"]
        hits = [receiver.hits.get_nowait() for _ in range(receiver.hits.qsize())]
        assert {h.conversation_id for h in hits} == {a}  # B was never sent
