"""The injectable id source: seeded ids repeat, and its UUIDs are the standard library's."""

from __future__ import annotations

import random
import uuid

from hypothesis import given
from hypothesis import strategies as st

from mockle.core.clock import Ids


@given(st.integers(min_value=0, max_value=2**128 - 1))
def test_uuid_is_the_text_of_a_version_4_uuid_from_the_same_bits(bits: int) -> None:
    class Fixed(random.Random):
        def getrandbits(self, k: int) -> int:
            assert k == 128
            return bits

    ids = Ids(0)
    ids._rng = Fixed()
    text = ids.uuid()
    assert text == str(uuid.UUID(int=bits, version=4))
    assert uuid.UUID(text).version == 4 and uuid.UUID(text).variant == uuid.RFC_4122


def test_seeded_ids_repeat() -> None:
    a, b = Ids(42), Ids(42)
    assert [a.uuid() for _ in range(5)] == [b.uuid() for _ in range(5)]
    assert Ids(1).uuid() != Ids(2).uuid()
