"""The pytest plugin: registered through the ``pytest11`` entry point of ``mockle[pytest]``.

Fixtures:

* ``mockle`` -- a fresh in-process mockle for one test: already listening on a port the OS
  picked (mockle binds port 0 itself and keeps the socket, so there is no port race), stopped
  after the test. The test fails if the server hit a bug (a 500) while it ran.
* ``mockle_server`` -- one mockle for the whole session; ``mockle_account`` gives each test its
  own account on it (reset after the test) and ``mockle_shared`` the same handle as ``mockle``
  for that account. Accounts are tenants: tests never see each other's state.
* ``mockle_settings`` / ``mockle_session_settings`` -- the servers' :class:`~mockle.Settings`;
  an override replaces them whole, except that a ``port`` it does not set explicitly is 0.

Markers:

* ``@pytest.mark.mockle(agent="echo", ...)`` -- options of this test's ``mockle`` server,
  merged over ``mockle_settings`` (the closest marker wins). Such a test needs an in-process
  server: with ``--mockle-url`` it is skipped, saying why.
* ``@pytest.mark.mockle_in_process(reason)`` -- the test only holds in-process (it touches the
  engine, or expects a journal nobody else writes to): skipped with ``--mockle-url``.

With ``--mockle-url URL`` (or ``MOCKLE_URL``) every fixture drives that external mockle (e.g.
the container) instead: each test gets a fresh account there, reset afterwards, so the same
suite runs both ways. ``--mockle-admin-token`` / ``MOCKLE_ADMIN_TOKEN`` pass its admin token,
``--mockle-ca`` / ``MOCKLE_CA`` the CA file of an ``https://`` one.

TLS: ``Settings(tls=True, ...)`` in ``mockle_settings`` serves HTTPS and WSS; the handle's
``url`` is then ``https://...``, ``ca_file`` the CA to trust, ``ssl_context`` a client context
that verifies the server, and its clients use it.
"""

from __future__ import annotations

import os
import ssl
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from pydantic import ValidationError

from mockle.client import DEFAULT_ACCOUNT, AsyncMockleClient, MockleClient
from mockle.core.engine import Engine
from mockle.options import option_errors
from mockle.server import ThreadedMockle
from mockle.settings import Settings

MARKER = "mockle"
IN_PROCESS = "mockle_in_process"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("mockle", "mockle LiveEngage emulator")
    group.addoption(
        "--mockle-url",
        default=None,
        help="drive this running mockle (e.g. http://localhost:8080) instead of in-process "
        "servers [env MOCKLE_URL]",
    )
    group.addoption(
        "--mockle-admin-token",
        default=None,
        help="admin token of the external mockle [env MOCKLE_ADMIN_TOKEN]",
    )
    group.addoption(
        "--mockle-ca",
        default=None,
        help="CA file to verify an https:// external mockle with (what 'mockle serve --tls' "
        "prints) [env MOCKLE_CA]",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{MARKER}(**options): options of the test's `mockle` server (mockle.Settings fields), "
        "merged over the mockle_settings fixture; skipped with --mockle-url",
    )
    config.addinivalue_line(
        "markers",
        f"{IN_PROCESS}(reason): the test only holds against an in-process mockle; "
        "skipped with --mockle-url",
    )


def pytest_runtest_setup(item: pytest.Item) -> None:
    url = external_url(item.config)
    if url is None:
        return
    mark = item.get_closest_marker(IN_PROCESS)
    if mark is not None:
        reason = mark.args[0] if mark.args else mark.kwargs.get("reason", "")
        pytest.skip(f"only holds in-process ({reason}), not against {url}")
    mark = item.get_closest_marker(MARKER)
    if mark is not None:
        pytest.skip(f"@pytest.mark.{MARKER}{_options(mark.kwargs)} needs an in-process mockle")


def _options(kwargs: Mapping[str, object]) -> str:
    return "(" + ", ".join(f"{k}={v!r}" for k, v in kwargs.items()) + ")"


def external_url(config: pytest.Config) -> str | None:
    url = config.getoption("mockle_url", None) or os.environ.get("MOCKLE_URL") or None
    return str(url).rstrip("/") if url else None


def _admin_token(config: pytest.Config) -> str | None:
    token = config.getoption("mockle_admin_token", None) or os.environ.get("MOCKLE_ADMIN_TOKEN")
    return str(token) if token else None


def _external_ca(config: pytest.Config) -> Path | None:
    ca = config.getoption("mockle_ca", None) or os.environ.get("MOCKLE_CA")
    return Path(ca) if ca else None


def fresh_account() -> str:
    """An account name no other test uses (tests in parallel against one mockle stay apart)."""
    return "le" + uuid.uuid4().hex[:12]


@dataclass
class MockleHandle:
    """What the fixtures give a test: where mockle is, the test's account, and clients."""

    url: str
    account: str
    server: ThreadedMockle | None = None
    admin_token: str | None = None
    #: the CA that signed the server's certificate (TLS only)
    ca_file: Path | None = None
    #: a client context that verifies the server (TLS only; None: the system's roots)
    ssl_context: ssl.SSLContext | None = field(default=None, repr=False)
    _client: MockleClient | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.ssl_context is None and self.ca_file is not None:
            self.ssl_context = ssl.create_default_context(cafile=str(self.ca_file))

    @property
    def external(self) -> bool:
        return self.server is None

    @property
    def address(self) -> str:
        """host:port, as the Domain API hands it out."""
        return self.url.split("://", 1)[-1]

    @property
    def ws_url(self) -> str:
        """``ws://host:port`` (``wss://`` over TLS): the base of the UMS socket URLs."""
        return ("wss://" if self.url.startswith("https://") else "ws://") + self.address

    @property
    def engine(self) -> Engine:
        """The engine of an in-process mockle (not available in external mode)."""
        if self.server is None:
            raise RuntimeError("the engine is only reachable in-process (not with --mockle-url)")
        return self.server.engine

    @property
    def client(self) -> MockleClient:
        """A synchronous client bound to this test's account (created on first use)."""
        if self._client is None:
            self._client = MockleClient(
                self.url,
                account=self.account,
                admin_token=self.admin_token,
                ssl_context=self.ssl_context,
            )
        return self._client

    def aclient(self) -> AsyncMockleClient:
        """A new async client for this test's account: ``async with mockle.aclient() as m:``."""
        return AsyncMockleClient(
            self.url,
            account=self.account,
            admin_token=self.admin_token,
            ssl_context=self.ssl_context,
        )

    def bugs(self) -> list[str]:
        if self.server is None:
            return []
        return list(self.server.server.runtime.bugs)

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None


def _fail_on_bugs(handle: MockleHandle, before: int) -> None:
    bugs = handle.bugs()[before:]
    if bugs:
        pytest.fail(
            "mockle hit a bug (answered 500) during this test: " + "; ".join(bugs[:5]),
            pytrace=False,
        )


def _reset_account(handle: MockleHandle) -> None:
    try:
        handle.client.reset(account=handle.account)
    finally:
        handle.close()


TEST_DEFAULTS: dict[str, object] = {
    "port": 0,
    "agent": "manual",
    "agent_delay_ms": 0,
    "webhook_retry_interval": 0.01,
}
"""The fixtures' own settings: a free port, no simulated agent, no delays."""


@pytest.fixture
def mockle_settings() -> Settings:
    """Settings of the ``mockle`` fixture's server.

    Override it to replace them whole (``return Settings(agent="echo")``: Settings' own
    defaults for the rest, e.g. the echo agent's 200 ms delay); a ``port`` the override does
    not set explicitly is 0 all the same, so a fixture never binds 8080 by surprise. To change
    a few options and keep these defaults, mark the test: ``@pytest.mark.mockle(agent="echo")``.
    """
    return Settings.model_validate(TEST_DEFAULTS)


@pytest.fixture(scope="session")
def mockle_session_settings() -> Settings:
    """Settings of the ``mockle_server`` fixture's server; override to replace them (a
    ``port`` not set explicitly is 0)."""
    return Settings.model_validate(TEST_DEFAULTS)


def _free_port(settings: Settings) -> Settings:
    """The settings with port 0 unless they name a port explicitly."""
    if "port" in settings.model_fields_set:
        return settings
    return settings.model_copy(update={"port": 0})


def _marked(request: pytest.FixtureRequest, settings: Settings) -> Settings:
    """``settings`` with the options of the test's ``mockle`` markers (the closest wins)."""
    marks = list(request.node.iter_markers(MARKER))
    if not marks:
        return settings
    options: dict[str, object] = {}
    for mark in reversed(marks):  # iter_markers yields the closest first
        if mark.args:
            pytest.fail(
                f"@pytest.mark.{MARKER} takes options by name, e.g. "
                f"@pytest.mark.{MARKER}(agent='echo'); got {mark.args!r}",
                pytrace=False,
            )
        options.update(mark.kwargs)
    unknown = sorted(set(options) - set(Settings.model_fields))
    if unknown:
        pytest.fail(
            f"@pytest.mark.{MARKER}: no option {', '.join(map(repr, unknown))}; the options are "
            f"the fields of mockle.Settings: {', '.join(Settings.model_fields)}",
            pytrace=False,
        )
    values = {**settings.model_dump(exclude_unset=True), **options}
    if "port" not in values:
        values["port"] = 0
    try:
        return Settings.model_validate(values)
    except ValidationError as exc:
        lines = option_errors(exc, options, lambda name: f"@pytest.mark.{MARKER}: {name}")
        pytest.fail("\n".join(lines), pytrace=False)


@pytest.fixture
def mockle(request: pytest.FixtureRequest, mockle_settings: Settings) -> Iterator[MockleHandle]:
    """A fresh mockle for this test, listening before the test starts; stopped afterwards."""
    url = external_url(request.config)
    if url is not None:
        handle = MockleHandle(
            url,
            fresh_account(),
            admin_token=_admin_token(request.config),
            ca_file=_external_ca(request.config),
        )
        yield handle
        _reset_account(handle)
        return
    settings = _marked(request, _free_port(mockle_settings))
    server = ThreadedMockle(settings).start()
    handle = MockleHandle(
        server.url,
        DEFAULT_ACCOUNT,
        server,
        settings.admin_token,
        ca_file=server.ca_file,
        ssl_context=server.client_ssl_context(),
    )
    try:
        yield handle
    finally:
        handle.close()
        server.stop()
    _fail_on_bugs(handle, 0)


@dataclass
class SharedMockle:
    """The session's mockle: in-process (``server``) or external (``url``)."""

    url: str
    server: ThreadedMockle | None
    admin_token: str | None
    ca_file: Path | None = None
    ssl_context: ssl.SSLContext | None = None

    def handle(self, account: str) -> MockleHandle:
        return MockleHandle(
            self.url,
            account,
            self.server,
            self.admin_token,
            ca_file=self.ca_file,
            ssl_context=self.ssl_context,
        )


@pytest.fixture(scope="session")
def mockle_server(
    request: pytest.FixtureRequest, mockle_session_settings: Settings
) -> Iterator[SharedMockle]:
    """One mockle for the whole session (in-process, or the ``--mockle-url`` one)."""
    url = external_url(request.config)
    if url is not None:
        yield SharedMockle(url, None, _admin_token(request.config), _external_ca(request.config))
        return
    settings = _free_port(mockle_session_settings)
    server = ThreadedMockle(settings).start()
    try:
        yield SharedMockle(
            server.url,
            server,
            settings.admin_token,
            server.ca_file,
            server.client_ssl_context(),
        )
    finally:
        server.stop()


@pytest.fixture
def mockle_shared(
    request: pytest.FixtureRequest, mockle_server: SharedMockle
) -> Iterator[MockleHandle]:
    """This test's own account on the session's mockle; the account is reset afterwards."""
    if request.node.get_closest_marker(MARKER) is not None:
        pytest.fail(
            f"@pytest.mark.{MARKER} configures the `mockle` fixture's own server; "
            "mockle_shared uses the session's server (override mockle_session_settings)",
            pytrace=False,
        )
    handle = mockle_server.handle(fresh_account())
    before = len(handle.bugs())
    yield handle
    _reset_account(handle)
    _fail_on_bugs(handle, before)


@pytest.fixture
def mockle_account(mockle_shared: MockleHandle) -> str:
    """The account of this test on the session's mockle (reset after the test)."""
    return mockle_shared.account


def pytest_report_header(config: pytest.Config) -> list[str] | None:
    url = external_url(config)
    return [f"mockle: external server {url}"] if url else None


__all__ = [
    "IN_PROCESS",
    "MARKER",
    "TEST_DEFAULTS",
    "MockleHandle",
    "SharedMockle",
    "external_url",
    "fresh_account",
    "mockle",
    "mockle_account",
    "mockle_server",
    "mockle_session_settings",
    "mockle_settings",
    "mockle_shared",
]
