"""The names a user imports from ``mockle`` (pinned: removing one breaks users' tests)."""

from __future__ import annotations

import tomllib
from pathlib import Path

import mockle
from mockle.client import AsyncMockleClient, MockleClient, MockleClientError, WaitTimeout
from mockle.server import MockleServer, ThreadedMockle
from mockle.settings import ConfigError, Settings

ROOT = Path(__file__).resolve().parents[1]


def test_the_public_names_are_exported_from_mockle() -> None:
    assert sorted(mockle.__all__) == sorted(
        [
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
    )
    for name in mockle.__all__:
        assert hasattr(mockle, name), name
    assert mockle.Settings is Settings and mockle.ConfigError is ConfigError
    assert mockle.MockleServer is MockleServer and mockle.ThreadedMockle is ThreadedMockle
    assert mockle.MockleClient is MockleClient and mockle.AsyncMockleClient is AsyncMockleClient
    assert mockle.MockleClientError is MockleClientError and mockle.WaitTimeout is WaitTimeout


def test_the_pytest_extra_carries_pytest_and_pytest_asyncio() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extra = project["optional-dependencies"]["pytest"]
    names = sorted(req.split(">")[0].split("<")[0].split("=")[0] for req in extra)
    assert names == ["pytest", "pytest-asyncio"]
    assert all("<" in req and ">=" in req for req in extra), "known-good ranges, both ends"
    assert "mockle[pytest]" in project["optional-dependencies"]["test"]
    entry = project["entry-points"]["pytest11"]
    assert entry == {"mockle": "mockle.pytest_plugin"}
