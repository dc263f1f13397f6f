"""Waiting on a conversation without sleeping: a long-poll backed by an engine listener.

``GET /_mockle/conversations/{id}/events?after=<n>&version=<v>&wait=<seconds>[&account=A]``
answers ``{"conversationId", "account", "state", "stage", "participants", "version", "next",
"events"}``: ``events`` are the change items of the conversation's timeline from index ``after``
on (chat states included), ``next`` the index to ask from next time, and ``version`` a counter
that moves on every change of the conversation (participants, state, fields, events). With
``wait``, the answer comes as soon as there is an event past ``after`` (or the version moved past
``version``), or when the wait is over; the listener wakes exactly the waiters of that
conversation, so nobody polls.
"""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web

from mockle.core.engine import Effects, Engine, Listener
from mockle.core.model import Conversation, Dialog, StoredEvent
from mockle.web.app import RUNTIME, Runtime, error_response, json_response


class ConversationWatch(Listener):
    """Counts changes per conversation and wakes whoever waits on one."""

    def __init__(self) -> None:
        self.versions: dict[str, int] = {}
        self._waiters: dict[str, list[asyncio.Future[None]]] = {}

    def _bump(self, conv_id: str) -> None:
        self.versions[conv_id] = self.versions.get(conv_id, 0) + 1
        waiters = self._waiters.pop(conv_id, None)
        if waiters:
            for fut in waiters:
                if not fut.done():
                    fut.set_result(None)

    def on_conversation(self, conv: Conversation, fx: Effects) -> None:
        self._bump(conv.conv_id)

    def on_event(self, conv: Conversation, dialog: Dialog, ev: StoredEvent, fx: Effects) -> None:
        self._bump(conv.conv_id)

    def on_reset(self, account: str | None) -> None:
        waiters, self._waiters = self._waiters, {}
        for futs in waiters.values():
            for fut in futs:
                if not fut.done():
                    fut.set_result(None)
        if account is None:
            self.versions.clear()

    def version(self, conv_id: str) -> int:
        return self.versions.get(conv_id, 0)

    async def changed(self, conv_id: str, timeout: float) -> None:
        """Return when the conversation changes next, or after ``timeout`` seconds."""
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.setdefault(conv_id, []).append(fut)
        try:
            await asyncio.wait_for(fut, timeout)
        except TimeoutError:
            waiters = self._waiters.get(conv_id)
            if waiters and fut in waiters:
                waiters.remove(fut)
                if not waiters:
                    del self._waiters[conv_id]


WATCH = web.AppKey("conversation_watch", ConversationWatch)


def find_conversation(engine: Engine, conv_id: str, account: str | None) -> Conversation | None:
    if account is not None:
        acc = engine.accounts.get(account)
        return acc.conversations.get(conv_id) if acc is not None else None
    for acc in engine.accounts.values():
        conv = acc.conversations.get(conv_id)
        if conv is not None:
            return conv
    return None


def _snapshot(conv: Conversation, after: int, version: int) -> dict[str, Any]:
    timeline = conv.timeline
    return {
        "conversationId": conv.conv_id,
        "account": conv.account,
        "state": conv.state,
        "stage": conv.stage,
        "participants": [{"id": p.id, "role": p.role} for p in conv.participants],
        "version": version,
        "next": len(timeline),
        "events": [ev.change for ev in timeline[after:]],
    }


def _number(request: web.Request, name: str, cast: type[int] | type[float]) -> Any:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return None
    try:
        value = cast(raw)
    except ValueError:
        raise ValueError(f"query parameter {name!r} must be a number, got {raw!r}") from None
    if value < 0 or (name == "wait" and value > 300):
        raise ValueError(f"query parameter {name!r} is out of range (got {raw!r})")
    return value


async def conversation_events(request: web.Request) -> web.Response:
    runtime = request.app[RUNTIME]
    watch = request.app[WATCH]
    conv_id = request.match_info["id"]
    try:
        after = _number(request, "after", int) or 0
        since = _number(request, "version", int)
        wait = _number(request, "wait", float) or 0.0
    except ValueError as exc:
        return error_response(400, "Bad Request", str(exc))
    account = request.query.get("account") or None
    conv = find_conversation(runtime.engine, conv_id, account)
    if conv is None:
        where = f" on account {account}" if account else ""
        return error_response(404, "Not Found", f"conversation {conv_id!r} does not exist{where}")
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait
    while True:
        version = watch.version(conv_id)
        ready = len(conv.timeline) > after or (since is not None and version > since)
        left = deadline - loop.time()
        if ready or left <= 0:
            return json_response(_snapshot(conv, after, version))
        await watch.changed(conv_id, left)
        current = find_conversation(runtime.engine, conv_id, conv.account)
        if current is None:  # reset while waiting
            return error_response(404, "Not Found", f"conversation {conv_id!r} was reset")
        conv = current


def setup(app: web.Application, runtime: Runtime) -> None:
    watch = ConversationWatch()
    app[WATCH] = watch
    runtime.extras["conversation_watch"] = watch
    runtime.engine.listeners.append(watch)
    app.router.add_get("/_mockle/conversations/{id}/events", conversation_events)
