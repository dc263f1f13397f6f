from __future__ import annotations

import pytest

from mockle.core.clock import FakeClock, Ids
from mockle.core.engine import Engine


@pytest.fixture(autouse=True)
def _inner_pytest_runs_start_in_process(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A test that runs pytest itself (``pytester``) tests the plugin, not a server: the
    outer run's MOCKLE_URL (external mode against the container) must not leak into it. A
    test that wants external mode inside sets it itself."""
    if "pytester" in request.fixturenames:
        monkeypatch.delenv("MOCKLE_URL", raising=False)
        monkeypatch.delenv("MOCKLE_ADMIN_TOKEN", raising=False)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def engine(clock: FakeClock) -> Engine:
    return Engine(clock=clock, ids=Ids(7))
