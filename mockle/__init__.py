"""mockle: a high-fidelity local emulator of LivePerson LiveEngage consumer messaging.

The public names live here, so that a test needs one import::

    from mockle import MockleClient, Settings, ThreadedMockle

* :class:`Settings` -- every option of ``mockle serve`` (also ``MOCKLE_<OPTION>``);
* :class:`MockleServer` (in your event loop) and :class:`ThreadedMockle` (in a thread);
* :class:`AsyncMockleClient` and :class:`MockleClient` -- the control API and the LiveEngage
  flows a test needs, with their records (:class:`Consumer`, :class:`AppCredentials`) and
  errors (:class:`MockleClientError`, :class:`WaitTimeout`);
* :data:`ANY` for partial patterns in ``assert_sent`` / ``assert_webhook``.

The pytest fixtures come from :mod:`mockle.pytest_plugin` (installed as a pytest plugin).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# Imported on first use, so that ``import mockle.core.engine`` (the sans-I/O core) or
# ``import mockle.settings`` does not pull in aiohttp and the servers.
_WHERE = {
    "ANY": "mockle.assertions",
    "DEFAULT_ACCOUNT": "mockle.client",
    "AppCredentials": "mockle.client",
    "AsyncMockleClient": "mockle.client",
    "Consumer": "mockle.client",
    "MockleClient": "mockle.client",
    "MockleClientError": "mockle.client",
    "WaitTimeout": "mockle.client",
    "text_event": "mockle.client",
    "MockleServer": "mockle.server",
    "ThreadedMockle": "mockle.server",
    "ConfigError": "mockle.settings",
    "Settings": "mockle.settings",
}

if TYPE_CHECKING:
    from mockle.assertions import ANY
    from mockle.client import (
        DEFAULT_ACCOUNT,
        AppCredentials,
        AsyncMockleClient,
        Consumer,
        MockleClient,
        MockleClientError,
        WaitTimeout,
        text_event,
    )
    from mockle.server import MockleServer, ThreadedMockle
    from mockle.settings import ConfigError, Settings


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'mockle' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


__all__ = [
    "ANY",
    "DEFAULT_ACCOUNT",
    "AppCredentials",
    "AsyncMockleClient",
    "ConfigError",
    "Consumer",
    "MockleClient",
    "MockleClientError",
    "MockleServer",
    "Settings",
    "ThreadedMockle",
    "WaitTimeout",
    "__version__",
    "text_event",
]
