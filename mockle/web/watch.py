"""Waiting on a conversation without polling: an engine listener that counts each
conversation's changes and wakes exactly the waiters of that conversation.

``GET /_mockle/conversations/{id}/events`` (:mod:`mockle.web.inspect`) long-polls on it.
"""

from __future__ import annotations

import asyncio

from mockle.core.effects import Effects, Listener
from mockle.core.model import Conversation, Dialog, StoredEvent


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

    def on_evicted(self, conv: Conversation) -> None:
        self.versions.pop(conv.conv_id, None)

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
