from __future__ import annotations

import pytest

from mockle.core.clock import FakeClock, Ids
from mockle.core.engine import Engine


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def engine(clock: FakeClock) -> Engine:
    return Engine(clock=clock, ids=Ids(7))
