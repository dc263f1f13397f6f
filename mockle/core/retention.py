"""Retry by time to live is app-wide: the delivery state of one app installation, sans I/O.

connector-api.md §4.7 (LivePerson's "Retry policy" page): when an app installation has
``capabilities.webhooks.retry.retention_time``, a failure of any of its webhooks puts the whole
installation in **FAILED**: from then on every event of every webhook of the app is stored, and
retried with back-off. When the endpoints answer again the installation is **IN TRANSITION**:
stored events are resent, in order within each conversation, and new events go out too; a new
failure makes it FAILED again. Once nothing is stored it is **UP** again.

mockle's reading, where the page leaves room:

* While FAILED one delivery at a time is attempted: the *prober*, the one that failed (or, when
  it is settled, the next stored one to ask). Every other delivery of the app waits, stored.
* Any delivered attempt while FAILED means the endpoints answer again: IN TRANSITION.
* A webhook that opts out (an explicit ``"max_retries": 0``) never makes the app FAILED, but its
  events are stored like the others while the app is FAILED.
* RECOVERED (the page's "drain period", where a new event of a drained conversation waits 4 s)
  is not told apart: the installation is UP as soon as nothing is stored.

The worker asks :meth:`may_send` before each attempt and reports each attempt's outcome and each
delivery's end; ``who`` is any hashable id of a delivery. No clock, no I/O: the caller decides
how long a stored delivery may wait (its own time to live).
"""

from __future__ import annotations

from collections.abc import Hashable

UP = "UP"
FAILED = "FAILED"
IN_TRANSITION = "IN TRANSITION"


class AppRetention:
    """The delivery state of one app installation that retries by time to live."""

    __slots__ = ("state", "prober", "pending", "failures")

    def __init__(self) -> None:
        self.state = UP
        self.prober: Hashable | None = None  # the one delivery that may be tried while FAILED
        self.pending = 0  # deliveries of the app not settled yet (queued, stored or in flight)
        self.failures = 0  # how many times the app went FAILED (for the control API)

    @property
    def stored(self) -> bool:
        return self.state == FAILED

    def queued(self) -> None:
        self.pending += 1

    def may_send(self, who: Hashable) -> bool:
        """May ``who`` make an attempt now? While FAILED only the prober may (the first to ask
        becomes the prober when there is none)."""
        if self.state != FAILED:
            return True
        if self.prober is None:
            self.prober = who
        return self.prober == who

    def attempted(self, who: Hashable, delivered: bool, counts: bool = True) -> bool:
        """An attempt of ``who`` ended; ``counts`` is False for a webhook that opts out.
        Returns True when the state changed."""
        before = self.state
        if delivered:
            if self.state == FAILED:
                self.state = IN_TRANSITION
                self.prober = None
        elif counts:
            if self.state != FAILED:
                self.state = FAILED
                self.failures += 1
                self.prober = who
            elif self.prober is None:
                self.prober = who
        return self.state != before

    def settled(self, who: Hashable) -> bool:
        """The delivery ``who`` is over (delivered, dropped or abandoned). Returns True when
        something changed that a stored delivery waits for (the prober's place, the state)."""
        self.pending = max(self.pending - 1, 0)
        changed = False
        if self.prober == who:
            self.prober = None
            changed = True
        if self.state == IN_TRANSITION and self.pending == 0:
            self.state = UP
            changed = True
        return changed

    def as_json(self) -> dict[str, object]:
        return {"state": self.state, "pending": self.pending, "failures": self.failures}
