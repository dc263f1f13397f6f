"""The hub: the only way out of mockle. It carries out the :class:`Effects` of engine calls.

* frames go to the send queue of their WebSocket session (one writer per socket keeps order),
  consecutive frames for one session in one hand-off;
* webhook jobs go to the webhook sink (the delivery worker);
* ``later`` actions run on the event loop after their delay, and their own effects come back here;
* closes go to their session.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from itertools import groupby
from operator import itemgetter
from typing import Any, Protocol

from mockle.core.effects import Effects, Later
from mockle.core.errors import MockleError

log = logging.getLogger("mockle.hub")

_session_of = itemgetter(0)


class Session(Protocol):
    def send_frames(self, frames: list[dict[str, Any]]) -> None: ...

    def close(self, code: int, reason: str) -> None: ...


class Hub:
    def __init__(self) -> None:
        self.sessions: dict[str, Session] = {}
        self.webhook_sink: Callable[[list[Any]], None] | None = None
        self._timers: set[asyncio.TimerHandle] = set()

    def register(self, session_id: str, session: Session) -> None:
        self.sessions[session_id] = session

    def unregister(self, session_id: str) -> None:
        self.sessions.pop(session_id, None)

    def dispatch(self, fx: Effects) -> None:
        sessions = self.sessions
        # consecutive frames for one session go in one hand-off (a ``resp`` and the
        # notification it caused: one journal call, one writer wake-up); the order of the
        # frames, across sessions too, is the order of fx.frames. A Connector API call
        # without sockets to tell has none: no groupby is built for it.
        if fx.frames:
            for session_id, run in groupby(fx.frames, _session_of):
                s = sessions.get(session_id)
                if s is not None:
                    s.send_frames([frame for _, frame in run])
        if fx.webhooks and self.webhook_sink is not None:
            self.webhook_sink(fx.webhooks)
        for later in fx.later:
            self._schedule(later)
        for session_id, code, reason in fx.closes:
            s = sessions.get(session_id)
            if s is not None:
                s.close(code, reason)

    def _schedule(self, later: Later) -> None:
        loop = asyncio.get_running_loop()
        handle: asyncio.TimerHandle | None = None

        def run() -> None:
            if handle is not None:
                self._timers.discard(handle)
            fx = Effects()
            try:
                later.action(fx)
            except MockleError as exc:  # the state moved on (e.g. the conversation closed)
                log.debug("scheduled action skipped: %s", exc.message)
            self.dispatch(fx)

        handle = loop.call_later(later.delay_ms / 1000, run)
        self._timers.add(handle)

    def cancel_pending(self) -> None:
        for handle in self._timers:
            handle.cancel()
        self._timers.clear()

    @property
    def pending(self) -> int:
        return len(self._timers)
