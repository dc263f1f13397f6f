"""The synchronous wrapper: the async client on a private event loop in a thread."""

from __future__ import annotations

import asyncio
import concurrent.futures
import inspect
import os
import ssl
import threading
import weakref
from collections.abc import Callable, Coroutine
from types import FrameType, TracebackType
from typing import Any

from mockle.client._agent import AsyncAgentSocket
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


class AgentSocket:
    """The blocking form of :class:`~mockle.client.AsyncAgentSocket` (``m.agent_socket(...)``):
    ``with m.agent_socket("bot") as agent: agent.set_state("ONLINE")``. The socket is read on
    the client's private event loop, so notifications arrive while the test thread runs."""

    def __init__(self, client: MockleClient, aio: AsyncAgentSocket) -> None:
        self._c = client
        self.aio = aio

    def _run(self, coro: Coroutine[Any, Any, T]) -> T:
        __tracebackhide__ = True
        return self._c._run(coro)

    # identity and state
    @property
    def login(self) -> dict[str, Any]:
        return self.aio.login

    @property
    def login_name(self) -> str:
        return self.aio.login_name

    @property
    def account(self) -> str:
        return self.aio.account

    @property
    def bearer(self) -> str:
        return self.aio.bearer

    @property
    def user_id(self) -> str:
        return self.aio.user_id

    @property
    def pid(self) -> str:
        return self.aio.pid

    @property
    def legacy_id(self) -> str:
        return self.aio.legacy_id

    @property
    def conversations(self) -> dict[str, dict[str, Any]]:
        return self.aio.conversations

    @property
    def closed(self) -> bool:
        return self.aio.closed

    @property
    def close_code(self) -> int | None:
        return self.aio.close_code

    # opening and closing
    def open(self) -> AgentSocket:
        self._run(self.aio.open())
        return self

    def connect(self) -> None:
        self._run(self.aio.connect())

    def close(self) -> None:
        self._run(self.aio.close())

    def __enter__(self) -> AgentSocket:
        try:
            return self.open()
        except BaseException:
            self.close()
            raise

    def __exit__(self, *exc: object) -> None:
        self.close()

    def refresh(self) -> None:
        self._run(self.aio.refresh())

    def logout(self) -> None:
        self._run(self.aio.logout())

    # requests
    def send(self, frame: dict[str, Any], *, timeout: float | None = None) -> Any:
        return self._run(self.aio.send(frame, timeout=timeout))

    def request(self, type_name: str, body: Any = None, **frame: Any) -> Any:
        return self._run(self.aio.request(type_name, body, **frame))

    def get_clock(self) -> int:
        return self._run(self.aio.get_clock())

    def set_state(self, availability: str = "ONLINE") -> str:
        return self._run(self.aio.set_state(availability))

    def subscribe_agent_state(self, agent_id: str | None = None) -> str:
        return self._run(self.aio.subscribe_agent_state(agent_id))

    def subscribe_routing(self) -> str:
        return self._run(self.aio.subscribe_routing())

    def accept(self, ring: str | dict[str, Any]) -> str:
        return self._run(self.aio.accept(ring))

    def reject(self, ring: str | dict[str, Any]) -> str:
        return self._run(self.aio.reject(ring))

    def subscribe_conversations(self, **filters: Any) -> str:
        return self._run(self.aio.subscribe_conversations(**filters))

    def unsubscribe_conversations(self, subscription_id: str) -> None:
        self._run(self.aio.unsubscribe_conversations(subscription_id))

    def messages(
        self, conversation_id: str, *, newer_than: int = 0, max_quantity: int | None = None
    ) -> list[Event]:
        return self._run(
            self.aio.messages(conversation_id, newer_than=newer_than, max_quantity=max_quantity)
        )

    def subscribe_messages(self, conversation_id: str, from_seq: int = 0) -> None:
        self._run(self.aio.subscribe_messages(conversation_id, from_seq))

    def publish(self, conversation_id: str, event: Event, **kw: Any) -> int:
        return self._run(self.aio.publish(conversation_id, event, **kw))

    def say(self, conversation_id: str, text: str) -> int:
        return self._run(self.aio.say(conversation_id, text))

    def read(self, conversation_id: str, *sequences: int) -> int:
        return self._run(self.aio.read(conversation_id, *sequences))

    def typing(self, conversation_id: str, typing: bool = True) -> None:
        self._run(self.aio.typing(conversation_id, typing))

    def update_fields(self, conversation_id: str, *fields: dict[str, Any]) -> str:
        return self._run(self.aio.update_fields(conversation_id, *fields))

    def join(self, conversation_id: str, role: str = "MANAGER") -> str:
        return self._run(self.aio.join(conversation_id, role))

    def leave(self, conversation_id: str, role: str | None = None) -> str:
        return self._run(self.aio.leave(conversation_id, role))

    def transfer(self, conversation_id: str, skill: str | int | None = None, **kw: Any) -> str:
        return self._run(self.aio.transfer(conversation_id, skill, **kw))

    def close_conversation(self, conversation_id: str) -> str:
        return self._run(self.aio.close_conversation(conversation_id))

    def request_conversation(self, consumer_id: str, **body: Any) -> str:
        return self._run(self.aio.request_conversation(consumer_id, **body))

    def profile(self, consumer_id: str | None = None) -> Any:
        return self._run(self.aio.profile(consumer_id))

    # waiting
    def wait_for_notification(
        self,
        type_name: str | None = None,
        predicate: Callable[[dict[str, Any]], bool] | None = None,
        timeout: float = 5.0,
    ) -> dict[str, Any]:
        __tracebackhide__ = True
        return self._run(self.aio.wait_for_notification(type_name, predicate, timeout))

    def wait_for_ring(self, timeout: float = 5.0, **kw: Any) -> dict[str, Any]:
        __tracebackhide__ = True
        return self._run(self.aio.wait_for_ring(timeout, **kw))

    def wait_for_conversation(
        self,
        conversation_id: str | None = None,
        predicate: Callable[[dict[str, Any]], bool] | None = None,
        timeout: float = 5.0,
        **kw: Any,
    ) -> dict[str, Any]:
        __tracebackhide__ = True
        return self._run(self.aio.wait_for_conversation(conversation_id, predicate, timeout, **kw))

    def wait_for_event(
        self,
        conversation_id: str | None = None,
        predicate: Predicate | None = None,
        timeout: float = 5.0,
    ) -> Event:
        __tracebackhide__ = True
        return self._run(self.aio.wait_for_event(conversation_id, predicate, timeout))

    def wait_for_text(self, conversation_id: str | None, text: str, timeout: float = 5.0) -> Event:
        __tracebackhide__ = True
        return self._run(self.aio.wait_for_text(conversation_id, text, timeout))

    def wait_closed(self, timeout: float = 5.0) -> int | None:
        __tracebackhide__ = True
        return self._run(self.aio.wait_closed(timeout))


class MockleClient:
    """The synchronous client: every method of :class:`AsyncMockleClient`, blocking.

    ``with MockleClient(url, account="le1") as m: m.consumer("alice")``

    ``ca_file`` / ``ssl_context`` verify an ``https://`` mockle, as for the async client.
    """

    def __init__(
        self,
        url: str,
        *,
        account: str = DEFAULT_ACCOUNT,
        admin_token: str | None = None,
        timeout: float = 30.0,
        ca_file: str | os.PathLike[str] | None = None,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.aio = AsyncMockleClient(
            url,
            account=account,
            admin_token=admin_token,
            timeout=timeout,
            ca_file=ca_file,
            ssl_context=ssl_context,
        )
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

    def define_agent(self, login_name: str, **fields: Any) -> dict[str, Any]:
        return self._run(self.aio.define_agent(login_name, **fields))

    def agents(self, *, account: str | None = None) -> list[dict[str, Any]]:
        return self._run(self.aio.agents(account=account))

    def delete_agent(self, login_name: str, *, account: str | None = None) -> None:
        self._run(self.aio.delete_agent(login_name, account=account))

    def agent_socket(
        self,
        login_name: str,
        password: str | None = None,
        *,
        account: str | None = None,
        version: str = "2.1",
    ) -> AgentSocket:
        """An agent over the real agent socket: ``with m.agent_socket("bot") as agent:``."""
        aio = self.aio.agent_socket(login_name, password, account=account, version=version)
        return AgentSocket(self, aio)

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

    def open_conversation(
        self, consumer: Consumer, *, profile: dict[str, Any] | None = None, **request: Any
    ) -> str:
        return self._run(self.aio.open_conversation(consumer, profile=profile, **request))

    def send(self, consumer: Consumer, request: dict[str, Any]) -> Any:
        return self._run(self.aio.send(consumer, request))

    def send_event(self, consumer: Consumer, conversation_id: str, event: Event) -> Any:
        return self._run(self.aio.send_event(consumer, conversation_id, event))

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
