"""What the browser tests share: opening the page, logging in, and a consumer with a socket."""

from __future__ import annotations

import json
import os
import re
import shutil
import ssl
import time
from collections.abc import Callable
from typing import Any

from playwright.sync_api import Locator, Page, expect
from websockets.sync.client import ClientConnection, connect

from mockle.client import Consumer

ACC = "le12345678"
WAIT_S = 10.0
# The flags Chromium needs here: root without a sandbox, no GPU, and no background traffic to
# Google's hosts (this machine's network refuses it, and the attempts slow the start).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
]


def chromium() -> str | None:
    """Debian's Chromium (or ``MOCKLE_CHROMIUM``), if it is installed."""
    wanted = os.environ.get("MOCKLE_CHROMIUM")
    if wanted:
        return wanted if os.access(wanted, os.X_OK) else None
    for name in ("/usr/bin/chromium", "chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    return None


SEND_OK = re.compile(r"^send POST /api/account/\w+/messaging/consumer/conversation/send 200")


def open_workspace(page: Page, url: str, account: str = ACC) -> None:
    page.goto(f"{url}/?account={account}")
    expect(page.locator("html")).to_have_attribute("data-ready", "true")


def log_in(page: Page, name: str = "alice", password: str = "") -> None:
    page.get_by_label("Agent name").fill(name)
    if password:
        page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("status").filter(has_text="Connected")).to_be_visible()


def journal(page: Page) -> Locator:
    return page.get_by_role("region", name="Inspector").get_by_role("list", name="Journal")


def journal_entries(page: Page, only: str) -> Locator:
    """The journal's entries whose line contains ``only`` (typed in the filter box: the list
    is windowed, so an entry scrolled out of view is not in the page)."""
    page.get_by_label("Filter journal").fill(only)
    return journal(page).get_by_role("listitem")


def conversations(page: Page) -> Locator:
    return page.get_by_role("list", name="Conversations").get_by_role("listitem")


def transcript(page: Page) -> Locator:
    return page.get_by_role("log", name="Transcript")


def rings(page: Page) -> Locator:
    return page.get_by_role("list", name="Rings").get_by_role("listitem")


class ConsumerSocket:
    """The consumer's UMS socket (v3), subscribed to one conversation's events:
    ``with ConsumerSocket(url, consumer, conv) as socket: socket.wait_for(...)``."""

    def __init__(
        self,
        url: str,
        consumer: Consumer,
        conversation_id: str,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        ws_url = url.replace("http", "ws", 1)  # https -> wss
        self._connect = connect(
            f"{ws_url}/ws_api/account/{consumer.account}/messaging/consumer?v=3",
            additional_headers={"Authorization": f"jwt {consumer.consumer_jws}"},
            open_timeout=WAIT_S,
            ssl=ssl_context,
        )
        self.conversation_id = conversation_id
        self.changes: list[dict[str, Any]] = []
        self._next = 0

    def __enter__(self) -> ConsumerSocket:
        self.ws: ClientConnection = self._connect.__enter__()
        body = {"dialogId": self.conversation_id, "fromSeq": 0}
        req = {"kind": "req", "id": "s", "type": "ms.SubscribeMessagingEvents", "body": body}
        self.ws.send(json.dumps(req))
        return self

    def __exit__(self, *exc: object) -> None:
        self._connect.__exit__(None, None, None)

    def wait_for(self, predicate: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
        """The next messaging change (after those already returned) that matches."""
        deadline = time.monotonic() + WAIT_S
        while True:
            while self._next < len(self.changes):
                change = self.changes[self._next]
                self._next += 1
                if predicate(change):
                    return change
            left = deadline - time.monotonic()
            assert left > 0, f"no matching event; the consumer saw {self.changes}"
            frame = json.loads(self.ws.recv(timeout=left))
            if frame.get("type") == "ms.MessagingEventNotification":
                self.changes.extend(frame["body"]["changes"])

    def events(self) -> list[dict[str, Any]]:
        return [c["event"] for c in self.changes]


def chat_state(state: str) -> Callable[[dict[str, Any]], bool]:
    return lambda c: (
        c["event"].get("type") == "ChatStateEvent" and c["event"].get("chatState") == state
    )


def text(message: str) -> Callable[[dict[str, Any]], bool]:
    return lambda c: (
        c["event"].get("type") == "ContentEvent" and c["event"].get("message") == message
    )
