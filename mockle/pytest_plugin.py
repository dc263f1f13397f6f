"""pytest plugin (registered through the ``pytest11`` entry point): mockle fixtures.

``mockle``: a fresh in-process mockle per test, already listening on a port the OS chose.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from mockle.server import ThreadedMockle
from mockle.settings import Settings


@pytest.fixture
def mockle_settings() -> Settings:
    """Override this fixture to configure the ``mockle`` fixture."""
    return Settings(port=0, agent="manual", agent_delay_ms=0, webhook_retry_interval=0.01)


@pytest.fixture
def mockle(mockle_settings: Settings) -> Iterator[ThreadedMockle]:
    """A fresh mockle for this test; stopped afterwards."""
    with ThreadedMockle(mockle_settings) as server:
        yield server
