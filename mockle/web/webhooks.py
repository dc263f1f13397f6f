"""Webhook delivery: POST the signed jobs of :mod:`mockle.core.webhooks` to the connector.

* Jobs with the same key (account, app, conversation) go out strictly in order: one queue and
  one task per key, created on demand and dropped when the queue runs dry. Other conversations,
  apps and accounts are delivered in parallel, so a slow or dead endpoint delays nothing else,
  and request handling never waits for a delivery.
* 200 and 201 count as delivered; any other status, a timeout (``--webhook-timeout`` for the
  connection and for the answer) or a connection error is retried up to ``max_retries`` times,
  ``--webhook-retry-interval`` seconds apart; the next job of the queue waits meanwhile.
* Every attempt lands in the :class:`DeliveryLog` (bounded per account), which the control API
  serves and tests wait on without sleeping (:meth:`DeliveryLog.wait_for`).
* An app that retries by time to live (``retry.retention_time``) has one state for all its
  webhooks (:class:`~mockle.core.retention.AppRetention`): while it is FAILED its deliveries are
  stored and only one at a time is tried, with back-off; a stored delivery whose time to live
  runs out is dropped (``failed``).
* At shutdown pending deliveries get a short grace; whatever is still pending then is marked
  ``abandoned`` in the log.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import orjson
from aiohttp import web

from mockle.core.clock import Clock
from mockle.core.effects import Listener
from mockle.core.faults import FaultPlan
from mockle.core.retention import AppRetention
from mockle.core.webhooks import WebhookJob
from mockle.settings import Settings
from mockle.web.journal import Journal

log = logging.getLogger("mockle.webhooks")

DELIVERED_STATUSES = frozenset({200, 201})
SHUTDOWN_GRACE_S = 2.0

PENDING, DELIVERED, FAILED, ABANDONED = "pending", "delivered", "failed", "abandoned"


@dataclass(slots=True)
class Attempt:
    time: int  # ms since the epoch, when the attempt ended
    status: int | None  # the HTTP status, None when the endpoint did not answer
    error: str | None  # why it did not count as delivered, None when it did

    def as_json(self) -> dict[str, Any]:
        return {"time": self.time, "status": self.status, "error": self.error}


@dataclass(slots=True)
class Delivery:
    id: int
    job: WebhookJob
    queued: int  # ms since the epoch
    state: str = PENDING
    attempts: list[Attempt] = field(default_factory=list)

    @property
    def delivered(self) -> bool:
        return self.state == DELIVERED

    @property
    def settled(self) -> bool:
        return self.state != PENDING

    @property
    def expires(self) -> int | None:
        """When its retention time runs out (ms since the epoch), for an app retrying by TTL."""
        retention = self.job.retention_ms
        return None if retention is None else self.queued + retention

    def as_json(self) -> dict[str, Any]:
        job = self.job
        return {
            "id": self.id,
            "account": job.account,
            "clientId": job.client_id,
            "conversationId": job.conversation_id,
            "eventType": job.event_type,
            "endpoint": job.endpoint,
            "headers": dict(job.headers),
            "body": orjson.loads(job.body),
            "delivered": self.delivered,
            "state": self.state,
            "queued": self.queued,
            "attempts": [a.as_json() for a in self.attempts],
        }


class DeliveryLog:
    """Every delivery and its attempts, newest last, at most ``size`` per account."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._by_account: dict[str, deque[Delivery]] = {}
        self._changed = asyncio.Event()

    def add(self, delivery: Delivery) -> None:
        entries = self._by_account.get(delivery.job.account)
        if entries is None:
            entries = self._by_account[delivery.job.account] = deque(maxlen=self.size)
        entries.append(delivery)
        self.notify()

    def deliveries(self, account: str | None = None) -> list[Delivery]:
        if account is not None:
            return list(self._by_account.get(account, ()))
        merged = [d for entries in self._by_account.values() for d in entries]
        return sorted(merged, key=lambda d: d.id)

    def clear(self, account: str | None = None) -> None:
        if account is None:
            self._by_account.clear()
        else:
            self._by_account.pop(account, None)
        self.notify()

    def notify(self) -> None:
        """Wake every waiter (called on every new delivery and every attempt)."""
        self._changed.set()
        self._changed = asyncio.Event()

    async def wait_for(self, predicate: Callable[[], bool], timeout: float) -> bool:
        """Wait until ``predicate()`` holds, re-checking on every change; False on timeout."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not predicate():
            remaining = deadline - loop.time()
            if remaining <= 0:
                return False
            try:
                await asyncio.wait_for(self._changed.wait(), remaining)
            except TimeoutError:
                return predicate()
        return True

    async def wait_settled(self, account: str | None, count: int, timeout: float) -> bool:
        """Wait until at least ``count`` deliveries of ``account`` are settled (not pending)."""

        def done() -> bool:
            return sum(1 for d in self.deliveries(account) if d.settled) >= count

        return await self.wait_for(done, timeout)


class WebhookWorker(Listener):
    """Delivers jobs: one ordered queue per (account, app, conversation). As an engine
    listener it forgets an account that is reset."""

    def __init__(
        self,
        settings: Settings,
        clock: Clock,
        journal: Journal | None = None,
        faults: FaultPlan | None = None,
    ) -> None:
        self.journal = journal
        self.faults = faults
        self.timeout = settings.webhook_timeout
        self.retry_interval = settings.webhook_retry_interval
        self.backoff = settings.webhook_backoff
        self.backoff_cap = settings.webhook_backoff_cap
        self.clock = clock
        self.log = DeliveryLog(settings.journal_size)
        self._ids = itertools.count(1)
        self._queues: dict[tuple[str, str, str], deque[Delivery]] = {}
        self._tasks: dict[tuple[str, str, str], asyncio.Task[None]] = {}
        self._session: aiohttp.ClientSession | None = None
        self._apps: dict[tuple[str, str], AppRetention] = {}  # (account, client_id), TTL apps
        self._wake: dict[tuple[str, str], asyncio.Event] = {}  # set when an app's state moves

    # -- intake (synchronous: called by the hub inside request handling) -------------------

    def submit(self, jobs: list[WebhookJob]) -> None:
        now = self.clock.now_ms()
        for job in jobs:
            delivery = Delivery(next(self._ids), job, now)
            self.log.add(delivery)
            retention = self.retention(job)
            if retention is not None:
                retention.queued()
            queue = self._queues.get(job.key)
            if queue is None:
                queue = self._queues[job.key] = deque()
                self._tasks[job.key] = asyncio.get_running_loop().create_task(
                    self._drain(job.key, queue)
                )
            queue.append(delivery)

    @property
    def pending(self) -> int:
        return sum(len(q) for q in self._queues.values())

    def retention(self, job: WebhookJob) -> AppRetention | None:
        """The app-wide state of the job's app when it retries by time to live."""
        if job.retention_ms is None:
            return None
        key = (job.account, job.client_id)
        state = self._apps.get(key)
        if state is None:
            state = self._apps[key] = AppRetention()
        return state

    def app_state(self, account: str, client_id: str) -> AppRetention | None:
        return self._apps.get((account, client_id))

    def _moved(self, job: WebhookJob) -> None:
        """Wake the deliveries of the job's app that wait while it is FAILED."""
        self._wake_app((job.account, job.client_id))

    def _wake_app(self, key: tuple[str, str]) -> None:
        event = self._wake.pop(key, None)
        if event is not None:
            event.set()

    # -- delivery ----------------------------------------------------------------------------

    async def _drain(self, key: tuple[str, str, str], queue: deque[Delivery]) -> None:
        try:
            while queue:
                delivery = queue[0]
                try:
                    await self._deliver(delivery)
                except Exception as exc:  # a bug: log it, fail this delivery, go on
                    log.exception("webhook delivery %s failed unexpectedly", delivery.id)
                    delivery.attempts.append(
                        Attempt(self.clock.now_ms(), None, f"mockle bug: {exc!r}")
                    )
                    delivery.state = FAILED
                    self.log.notify()
                queue.popleft()
                self._settled(delivery)
        finally:
            if self._queues.get(key) is queue:  # not replaced by a reset meanwhile
                del self._queues[key]
                del self._tasks[key]

    def _settled(self, delivery: Delivery) -> None:
        retention = self.retention(delivery.job)
        if retention is not None and retention.settled(delivery.id):
            self._moved(delivery.job)

    def _delays(self, delivery: Delivery) -> Iterator[float]:
        """The wait before each attempt (0 before the first).

        By number: ``max_retries`` more attempts, ``--webhook-retry-interval`` apart. By time to
        live (``retry.retention_time``): 2, 4, 8, ... s (``--webhook-backoff``), at most
        ``--webhook-backoff-cap`` apart, while the retention time (counted from the moment the
        event was queued) lasts (connector-api.md §4.7).
        """
        job = delivery.job
        deadline = delivery.expires
        yield 0.0
        if deadline is None or not job.by_time_to_live:
            for _ in range(job.max_retries):
                yield self.retry_interval
            return
        delay = self.backoff
        while self.clock.now_ms() + delay * 1000 <= deadline:
            yield delay
            delay = min(delay * 2, self.backoff_cap)

    async def _deliver(self, delivery: Delivery) -> None:
        job = delivery.job
        retention = self.retention(job)
        for delay in self._delays(delivery):
            if delay:
                await asyncio.sleep(delay)
            if retention is not None and not await self._admitted(delivery, retention):
                expired = "not sent: its retention time ran out (the app was FAILED)"
                delivery.attempts.append(Attempt(self.clock.now_ms(), None, expired))
                break
            start = time.perf_counter()
            status, error, final = await self._attempt(job)
            ms = (time.perf_counter() - start) * 1000
            delivery.attempts.append(Attempt(self.clock.now_ms(), status, error))
            self._journal(job, delivery.attempts[-1], ms)
            if retention is not None:
                retention.attempted(delivery.id, error is None, counts=job.by_time_to_live)
                self._moved(job)  # a stored delivery may now go, or must check its deadline
            if error is None:
                delivery.state = DELIVERED
                self.log.notify()
                return
            self.log.notify()
            if final:
                break
        delivery.state = FAILED
        self.log.notify()

    async def _admitted(self, delivery: Delivery, retention: AppRetention) -> bool:
        """Wait while the app is FAILED and another delivery is its prober; False when the
        delivery's retention time runs out meanwhile (it is then dropped)."""
        job = delivery.job
        deadline = delivery.expires
        assert deadline is not None
        key = (job.account, job.client_id)
        while True:
            left = deadline - self.clock.now_ms()
            if left <= 0:
                return False
            if retention.may_send(delivery.id):
                return True
            event = self._wake.get(key)
            if event is None:
                event = self._wake[key] = asyncio.Event()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), left / 1000)

    async def _attempt(self, job: WebhookJob) -> tuple[int | None, str | None, bool]:
        """One attempt: (status, error, final); an injected ``webhook`` fault applies first."""
        plan = self.faults
        fault = None
        if plan is not None:
            fault = plan.match(
                "webhook",
                account=job.account,
                conversation_id=job.conversation_id,
                type=job.event_type,
            )
        if fault is not None:
            if fault.delay_ms:
                await asyncio.sleep(fault.delay_ms / 1000)
            if fault.drop:
                return None, "injected fault: dropped, never sent", True
            if fault.status is not None:
                if fault.status in DELIVERED_STATUSES:
                    return fault.status, None, False
                return fault.status, f"injected fault: HTTP {fault.status}, not sent", False
        status, error = await self._post(job)
        return status, error, False

    def _journal(self, job: WebhookJob, attempt: Attempt, ms: float) -> None:
        journal = self.journal
        if journal is not None:
            journal.record(
                "webhook",
                job.account,
                method="POST",
                path=job.endpoint,
                headers=list(job.headers),
                body=job.body,
                status=attempt.status,
                response=None,
                conversation_id=job.conversation_id,
                type=job.event_type,
                error=attempt.error,
                ms=ms,
            )

    async def _post(self, job: WebhookJob) -> tuple[int | None, str | None]:
        if self._session is None:
            return None, "mockle is not running"
        timeout = aiohttp.ClientTimeout(
            total=2 * self.timeout, sock_connect=self.timeout, sock_read=self.timeout
        )
        try:
            async with self._session.post(
                job.endpoint,
                data=job.body,
                headers=list(job.headers),
                timeout=timeout,
                allow_redirects=False,
            ) as resp:
                status = resp.status
        except TimeoutError:
            return None, f"no answer within {self.timeout:g} s"
        except aiohttp.ClientError as exc:
            return None, f"{type(exc).__name__}: {exc}"
        except Exception as exc:  # never let a bad endpoint kill the queue
            log.debug("webhook POST to %s failed", job.endpoint, exc_info=True)
            return None, f"{type(exc).__name__}: {exc}"
        if status in DELIVERED_STATUSES:
            return status, None
        return status, f"HTTP {status} (only 200 and 201 count as delivered)"

    # -- reset and lifecycle -------------------------------------------------------------------

    def on_reset(self, account: str | None) -> None:
        self.forget(account)

    def forget(self, account: str | None) -> None:
        """Drop the account's queues (or all) and its log entries: what a reset does."""
        for key in [k for k in self._queues if account is None or k[0] == account]:
            for delivery in self._queues.pop(key):
                if not delivery.settled:
                    delivery.state = ABANDONED
            self._tasks.pop(key).cancel()
        for app_key in [k for k in self._apps if account is None or k[0] == account]:
            del self._apps[app_key]
            self._wake_app(app_key)
        self.log.clear(account)

    async def start(self) -> None:
        connector = aiohttp.TCPConnector(limit=0, limit_per_host=0)
        self._session = aiohttp.ClientSession(connector=connector, trust_env=False)

    async def stop(self, grace: float = SHUTDOWN_GRACE_S) -> None:
        """Give pending deliveries ``grace`` seconds, then abandon (and log) the rest."""
        if self._queues:
            await self.log.wait_for(lambda: not self._queues, grace)
        now = self.clock.now_ms()
        tasks = list(self._tasks.values())
        for queue in self._queues.values():
            for delivery in queue:
                delivery.state = ABANDONED
                delivery.attempts.append(Attempt(now, None, "mockle stopped before delivery ended"))
                job = delivery.job
                log.warning(
                    "webhook not delivered before shutdown: account %s app %s %s -> %s "
                    "(conversation %s, %d attempt(s) made)",
                    job.account,
                    job.client_id,
                    job.event_type,
                    job.endpoint,
                    job.conversation_id,
                    len(delivery.attempts) - 1,
                )
        self._queues.clear()
        self._tasks.clear()
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self.log.notify()
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def context(self, app: web.Application) -> AsyncIterator[None]:
        """``app.cleanup_ctx`` entry: a session while the app runs."""
        await self.start()
        yield
        await self.stop(min(SHUTDOWN_GRACE_S, self.timeout))
