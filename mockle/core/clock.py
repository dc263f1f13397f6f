"""The only sources of time and randomness in the core.

The core never reads the wall clock or a global random generator: it asks a :class:`Clock`
and an :class:`Ids` it was given. Tests pass a :class:`FakeClock` and a seeded :class:`Ids`.
"""

from __future__ import annotations

import random
import time
from typing import Protocol


class Clock(Protocol):
    def now_ms(self) -> int:
        """Milliseconds since the epoch."""
        ...


class SystemClock:
    """The real clock (the only wall-clock reader of the core)."""

    def now_ms(self) -> int:
        return time.time_ns() // 1_000_000


class FakeClock:
    """A clock that moves only when told to."""

    def __init__(self, start_ms: int = 1_700_000_000_000) -> None:
        self._now = start_ms

    def now_ms(self) -> int:
        return self._now

    def advance(self, ms: int) -> None:
        self._now += ms


_UUID_CLEAR = ~((0xC000 << 48) | (0xF000 << 64))  # RFC 4122: the variant and version bits
_UUID_SET = (0x8000 << 48) | (4 << 76)  # variant 10, version 4


class Ids:
    """Identifier source; seeded for reproducible runs, random otherwise."""

    def __init__(self, seed: int | None = None) -> None:
        self._rng = random.Random(seed) if seed is not None else random.SystemRandom()

    def uuid(self) -> str:
        """A version-4 UUID from 128 random bits: the text ``str(uuid.UUID(int=bits,
        version=4))`` gives, without building the object (two per CONVERSATION)."""
        bits = self._rng.getrandbits(128) & _UUID_CLEAR | _UUID_SET
        h = f"{bits:032x}"
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"

    def hex(self, nbytes: int) -> str:
        return self._rng.getrandbits(nbytes * 8).to_bytes(nbytes, "big").hex()

    def digits(self, n: int) -> str:
        return "".join(str(self._rng.randrange(10)) for _ in range(n))

    def random(self) -> float:
        return self._rng.random()
