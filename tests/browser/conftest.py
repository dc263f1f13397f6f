"""Browser tests: the Agent Workspace in a real headless Chromium, driven by Playwright.

Chromium is Debian's (``apt-get install chromium``; ``.ci/run`` installs it), launched by
path: Playwright's own browser downloads are not used. Without Chromium these tests skip,
saying so. Each test gets a fresh in-process mockle on a free port and a fresh browser
context; every wait is on something the page shows (Playwright's ``expect``), bounded by
``TIMEOUT_MS``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright

from mockle.client import MockleClient
from mockle.server import ThreadedMockle
from mockle.settings import Settings
from tests.integration.webhook_receiver import Receiver

from .helpers import ACC, CHROMIUM_ARGS, chromium

TIMEOUT_MS = 10_000
expect.set_options(timeout=TIMEOUT_MS)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """One Chromium per test module. Not per session: while Playwright's sync API is active
    its event loop counts as running in this thread, which the asyncio tests of other
    modules cannot share."""
    path = chromium()
    if path is None:
        pytest.skip("Chromium is not installed: apt-get install chromium (or set MOCKLE_CHROMIUM)")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=path, args=CHROMIUM_ARGS, timeout=30_000)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    ctx = browser.new_context(viewport={"width": 1440, "height": 900}, ignore_https_errors=True)
    ctx.set_default_timeout(TIMEOUT_MS)
    try:
        yield ctx
    finally:
        ctx.close()


@pytest.fixture
def page(context: BrowserContext) -> Iterator[Page]:
    """A page that fails the test on any uncaught script error. Tests name it after their
    server fixture, so that the page closes first: a server that stops under an open page
    waits (up to 2 s) for the close handshake of its agent socket."""
    errors: list[str] = []
    pg = context.new_page()
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    yield pg
    assert not errors, f"the page raised: {errors}"


def settings(**overrides: object) -> Settings:
    base = {"port": 0, "agent": "manual", "webhook_retry_interval": 0.05}
    base.update(overrides)
    return Settings.model_validate(base)


@pytest.fixture
def served() -> Iterator[ThreadedMockle]:
    with ThreadedMockle(settings()) as m:
        yield m


@pytest.fixture
def client(served: ThreadedMockle) -> Iterator[MockleClient]:
    """The Python client on the test account: the consumer's side (and the control API)."""
    c = MockleClient(served.url, account=ACC)
    yield c
    c.close()


@pytest.fixture
def receiver(served: ThreadedMockle) -> Iterator[Receiver]:
    """A webhook receiver (secret ``hook-secret``) on the server's loop; answers 200."""
    hooks = Receiver("hook-secret")
    asyncio.run_coroutine_threadsafe(hooks.start(), served.loop).result(10)
    yield hooks
    asyncio.run_coroutine_threadsafe(hooks.stop(), served.loop).result(10)
