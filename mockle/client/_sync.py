"""The synchronous wrapper: the async client on a private event loop in a thread."""

from __future__ import annotations

import asyncio
import concurrent.futures
import inspect
import os
import threading
import weakref
from collections.abc import Callable, Coroutine
from types import FrameType, TracebackType
from typing import Any

from mockle.client._async import (
    AsyncMockleClient,
)
from mockle.client._base import (
    DEFAULT_ACCOUNT,
    AppCredentials,
    Consumer,
    Event,
    Predicate,
    T,
)

# -- the synchronous wrapper -----------------------------------------------------------------------


_PLUMBING = (
    os.path.dirname(concurrent.futures.__file__) + os.sep,
    os.path.dirname(asyncio.__file__) + os.sep,
)


def _without_plumbing(tb: TracebackType | None, here: FrameType | None) -> TracebackType | None:
    """The traceback without the frames of concurrent.futures and asyncio (nor ``here``, the
    frame that re-raises): what the user called and what failed, not how the result crossed
    from the client's thread."""
    kept: list[TracebackType] = []
    while tb is not None:
        frame = tb.tb_frame
        if frame is not here and not frame.f_code.co_filename.startswith(_PLUMBING):
            kept.append(tb)
        tb = tb.tb_next
    for outer, inner in zip(kept, kept[1:], strict=False):
        outer.tb_next = inner
    if kept:
        kept[-1].tb_next = None
    return kept[0] if kept else None


class _Loop:
    """A private event loop in a daemon thread; runs the async client's coroutines."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self.loop.run_forever, name="mockle-client", daemon=True
        )
        self._thread.start()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float | None) -> T:
        __tracebackhide__ = True
        future = asyncio.run_coroutine_threadsafe(coro, self.loop)
        try:
            return future.result(timeout)
        except BaseException as exc:  # re-raised below, outside this block: no chained context
            error = exc
        future.cancel()  # a timeout or an interrupt: the coroutine must not run on unseen
        raise error.with_traceback(_without_plumbing(error.__traceback__, inspect.currentframe()))

    @property
    def in_loop_thread(self) -> bool:
        return threading.current_thread() is self._thread

    def stop(self) -> None:
        if self._thread.is_alive():
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(timeout=10)
        if not self.loop.is_running():
            self.loop.close()


def _close(aio: AsyncMockleClient, loop: _Loop) -> None:
    """Close the client's HTTP session and stop its loop: at ``close()``, when the client is
    garbage-collected, or at interpreter exit (a client used without ``with`` leaves no
    "Unclosed client session" warning behind)."""
    if loop.in_loop_thread:  # collected on its own loop: cannot wait for itself
        loop.loop.create_task(aio.close())
        loop.loop.call_soon(loop.loop.stop)
        return
    try:
        if loop.loop.is_running():
            loop.run(aio.close(), 10)
    finally:
        loop.stop()


class Faults:
    def __init__(self, client: MockleClient) -> None:
        self._c = client

    def add(self, target: str, **spec: Any) -> str:
        """Register a fault (same keywords as :meth:`AsyncFaults.add`); its id."""
        return self._c._run(self._c.aio.faults.add(target, **spec))

    def list(self, *, account: str | None = None) -> list[dict[str, Any]]:
        return self._c._run(self._c.aio.faults.list(account=account))

    def delete(self, fault_id: str) -> None:
        self._c._run(self._c.aio.faults.delete(fault_id))

    def clear(self, *, account: str | None = None) -> int:
        return self._c._run(self._c.aio.faults.clear(account=account))


class Agent:
    def __init__(self, client: MockleClient) -> None:
        self._c = client

    def join(self, conversation_id: str, agent_id: str | None = None) -> str:
        return self._c._run(self._c.aio.agent.join(conversation_id, agent_id))

    def publish(self, conversation_id: str, event: Event, **extra: Any) -> int:
        return self._c._run(self._c.aio.agent.publish(conversation_id, event, **extra))

    def say(self, conversation_id: str, text: str) -> int:
        return self._c._run(self._c.aio.agent.say(conversation_id, text))

    def typing(self, conversation_id: str, typing: bool = True) -> None:
        self._c._run(self._c.aio.agent.typing(conversation_id, typing))

    def read(self, conversation_id: str, *sequences: int) -> int:
        return self._c._run(self._c.aio.agent.read(conversation_id, *sequences))

    def close(self, conversation_id: str) -> None:
        self._c._run(self._c.aio.agent.close(conversation_id))


class MockleClient:
    """The synchronous client: every method of :class:`AsyncMockleClient`, blocking.

    ``with MockleClient(url, account="le1") as m: m.consumer("alice")``
    """

    def __init__(
        self,
        url: str,
        *,
        account: str = DEFAULT_ACCOUNT,
        admin_token: str | None = None,
        timeout: float = 30.0,
    ) -> None:
        self.aio = AsyncMockleClient(url, account=account, admin_token=admin_token, timeout=timeout)
        self._loop = _Loop()
        self._closer = weakref.finalize(self, _close, self.aio, self._loop)
        self.faults = Faults(self)
        self.agent = Agent(self)

    @property
    def url(self) -> str:
        return self.aio.url

    @property
    def account(self) -> str:
        return self.aio.account

    def _run(self, coro: Coroutine[Any, Any, T]) -> T:
        __tracebackhide__ = True
        return self._loop.run(coro, self.aio.timeout + 90)

    def close(self) -> None:
        """Close the HTTP session and stop the client's thread (also done at exit)."""
        self._closer()

    def __enter__(self) -> MockleClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def request(
        self, method: str, path: str, body: Any = None, **kw: Any
    ) -> tuple[int, Any, dict[str, str]]:
        return self._run(self.aio.request(method, path, body, **kw))

    def call(self, method: str, path: str, body: Any = None, **kw: Any) -> Any:
        return self._run(self.aio.call(method, path, body, **kw))

    def health(self) -> dict[str, Any]:
        return self._run(self.aio.health())

    def reset(self, *, everything: bool = False, account: str | None = None) -> None:
        self._run(self.aio.reset(everything=everything, account=account))

    def install_app(self, webhooks: dict[str, str] | None = None, **kw: Any) -> AppCredentials:
        return self._run(self.aio.install_app(webhooks, **kw))

    def conversations(self, **kw: Any) -> list[dict[str, Any]]:
        return self._run(self.aio.conversations(**kw))

    def conversation(self, conversation_id: str) -> dict[str, Any]:
        return self._run(self.aio.conversation(conversation_id))

    def expire_tokens(self, consumer: Consumer | str | None = None, **kw: Any) -> int:
        return self._run(self.aio.expire_tokens(consumer, **kw))

    def close_connections(self, code: int, **kw: Any) -> int:
        return self._run(self.aio.close_connections(code, **kw))

    def journal(self, **filters: Any) -> list[dict[str, Any]]:
        return self._run(self.aio.journal(**filters))

    def clear_journal(self, **kw: Any) -> int:
        return self._run(self.aio.clear_journal(**kw))

    def wait_for_requests(
        self, count: int = 1, *, timeout: float = 5.0, **filters: Any
    ) -> list[dict[str, Any]]:
        return self._run(self.aio.wait_for_requests(count, timeout=timeout, **filters))

    def webhook_deliveries(self, **kw: Any) -> list[dict[str, Any]]:
        return self._run(self.aio.webhook_deliveries(**kw))

    def events(self, conversation_id: str, *, after: int = 0) -> dict[str, Any]:
        return self._run(self.aio.events(conversation_id, after=after))

    def wait_for_event(
        self,
        conversation_id: str,
        predicate: Predicate | None = None,
        timeout: float = 5.0,
        *,
        after: int = 0,
    ) -> Event:
        __tracebackhide__ = True
        return self._run(self.aio.wait_for_event(conversation_id, predicate, timeout, after=after))

    def wait_for_text(self, conversation_id: str, text: str, timeout: float = 5.0) -> Event:
        __tracebackhide__ = True
        return self._run(self.aio.wait_for_text(conversation_id, text, timeout))

    def wait_for_conversation(
        self,
        conversation_id: str,
        predicate: Callable[[dict[str, Any]], bool],
        timeout: float = 5.0,
    ) -> dict[str, Any]:
        __tracebackhide__ = True
        return self._run(self.aio.wait_for_conversation(conversation_id, predicate, timeout))

    def app_jwt(self, account: str | None = None) -> str:
        return self._run(self.aio.app_jwt(account))

    def consumer(self, ext_id: str = "consumer-1", *, account: str | None = None) -> Consumer:
        return self._run(self.aio.consumer(ext_id, account=account))

    def open_conversation(self, consumer: Consumer, **request: Any) -> str:
        return self._run(self.aio.open_conversation(consumer, **request))

    def send(self, consumer: Consumer, request: dict[str, Any]) -> Any:
        return self._run(self.aio.send(consumer, request))

    def send_text(self, consumer: Consumer, conversation_id: str, text: str) -> int:
        return self._run(self.aio.send_text(consumer, conversation_id, text))

    def close_conversation(self, consumer: Consumer, conversation_id: str) -> None:
        self._run(self.aio.close_conversation(consumer, conversation_id))

    def assert_sent(self, **kw: Any) -> list[dict[str, Any]]:
        __tracebackhide__ = True
        return self._run(self.aio.assert_sent(**kw))

    def assert_webhook(self, **kw: Any) -> list[dict[str, Any]]:
        __tracebackhide__ = True
        return self._run(self.aio.assert_webhook(**kw))
