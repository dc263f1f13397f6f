#!/usr/bin/env python3
"""Screenshots of the Agent Workspace for the README and docs, taken from a real run.

A mockle server on a free loopback port, Debian's Chromium driven by Playwright, and consumers
played through the Connector API: the pictures show what the page really draws, so they stay
true as the page changes. Run it again after changing the page:

    python scripts/screenshots.py            # writes docs/images/workspace.png, inspector.png
    python scripts/screenshots.py --out /tmp  # somewhere else

Needs the test extra (``pip install -e ".[test]"``, for Playwright) and Chromium
(``apt-get install chromium``; ``--chromium PATH`` or ``MOCKLE_CHROMIUM`` for another one).
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from playwright.sync_api import Page, expect, sync_playwright

from mockle.client import Consumer, MockleClient

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the browser tests' helpers
from mockle.server import ThreadedMockle
from mockle.settings import Settings
from tests.browser.helpers import CHROMIUM_ARGS
from tests.browser.helpers import chromium as find_chromium

ACC = "le81823118"
OUT = Path(__file__).resolve().parent.parent / "docs" / "images"
VIEWPORT = {"width": 1440, "height": 860}


def _conversation(client: MockleClient, consumer: Consumer, first: str, last: str) -> str:
    profile = {
        "firstName": first,
        "lastName": last,
        "privateData": {"mobileNum": consumer.ext_id, "mail": f"{first.lower()}@example.com"},
        "authenticatedData": {
            "lp_sdes": [{"type": "ctmrinfo", "info": {"customerId": f"cust-{last.lower()}"}}]
        },
    }
    return client.open_conversation(consumer, profile=profile)


def _scene(page: Page, url: str, client: MockleClient) -> None:
    page.goto(f"{url}/?account={ACC}")
    expect(page.locator("html")).to_have_attribute("data-ready", "true")
    page.get_by_label("Agent name").fill("alice")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("status").filter(has_text="Connected")).to_be_visible()

    # a conversation that is over
    katherine = client.consumer("+15550161")
    conv = _conversation(client, katherine, "Katherine", "Johnson")
    client.send_text(katherine, conv, "All sorted, thank you.")
    client.agent.close(conv)

    # Ada rings; alice takes it and answers
    ada = client.consumer("+15550118")
    ada_conv = _conversation(client, ada, "Ada", "Lovelace")
    client.send_text(ada, ada_conv, "Hi! My order #1815 hasn't arrived yet.")
    ring = page.get_by_role("list", name="Rings").get_by_role("listitem").filter(has_text="Ada")
    ring.get_by_role("button", name="Accept").click()
    transcript = page.get_by_role("log", name="Transcript")
    expect(transcript).to_contain_text("order #1815")
    box = page.get_by_role("textbox", name="Message")
    box.press_sequentially("Sorry to hear that, Ada! Let me look it up.")
    box.press("Enter")
    reply = transcript.get_by_role("article").filter(has_text="Let me look it up")
    expect(reply).to_be_visible()
    seq = int((reply.get_attribute("aria-label") or "#0").rsplit("#", 1)[1])
    client.send_event(
        ada,
        ada_conv,
        {"type": "AcceptStatusEvent", "status": "READ", "sequenceList": [seq]},
    )
    expect(reply).to_contain_text("Read")
    page.get_by_text("Quick replies and structured content").click()
    page.get_by_label("Quick replies").fill("Track it, Cancel it")
    box.fill("It left our warehouse yesterday. What would you like to do?")
    box.press("Enter")
    expect(transcript).to_contain_text("What would you like to do?")
    page.get_by_text("Quick replies and structured content").click()

    # Grace is waiting: her ring stays up
    grace = client.consumer("+15550106")
    grace_conv = _conversation(client, grace, "Grace", "Hopper")
    client.send_text(grace, grace_conv, "Can I change my delivery address?")
    rings = page.get_by_role("list", name="Rings").get_by_role("listitem")
    expect(rings.filter(has_text="change my delivery address")).to_be_visible()
    expect(page.get_by_role("list", name="Conversations").get_by_role("listitem")).to_have_count(3)

    # the inspector: a 429 armed with a click, fired by Ada's next SEND
    page.get_by_role("button", name="Arm 429 on next SEND").click()
    expect(page.get_by_role("list", name="Armed faults")).to_contain_text("fired 0 of 1")
    try:
        client.send_text(ada, ada_conv, "Track it")
    except Exception:  # the 429, on purpose
        pass
    client.send_text(ada, ada_conv, "Track it")
    expect(page.get_by_role("list", name="Armed faults")).to_contain_text("fired 1 of 1")
    client.send_event(ada, ada_conv, {"type": "ChatStateEvent", "chatState": "COMPOSING"})
    expect(page.get_by_text("Consumer is typing…")).to_be_visible()


def _inspector(page: Page) -> None:
    page.get_by_label("Filter journal").fill("send POST")
    entries = page.get_by_role("list", name="Journal").get_by_role("listitem")
    refused = entries.filter(has_text=re.compile(r"^send POST .* 429"))
    refused.get_by_role("button").click()
    expect(refused.get_by_role("group", name=re.compile(r"^Entry \d+$"))).to_be_visible()


def chromium(given: str | None) -> str:
    path = given or find_chromium()
    if not path:
        raise SystemExit(
            "screenshots: Chromium not found (apt-get install chromium, or --chromium)"
        )
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=OUT, help=f"folder for the PNGs ({OUT})")
    parser.add_argument("--chromium", help="the Chromium to drive (default: chromium on PATH)")
    args = parser.parse_args(argv)
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    settings = Settings(port=0, agent="manual", seed=1815)
    with ThreadedMockle(settings) as m, MockleClient(m.url, account=ACC) as client:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium(args.chromium), args=CHROMIUM_ARGS)
            try:
                context = browser.new_context(viewport=VIEWPORT, color_scheme="light")
                context.set_default_timeout(15_000)
                page = context.new_page()
                _scene(page, m.url, client)
                page.screenshot(path=str(out / "workspace.png"))
                _inspector(page)
                page.get_by_role("region", name="Inspector").screenshot(
                    path=str(out / "inspector.png")
                )
                context.close()
            finally:
                browser.close()
    for name in ("workspace.png", "inspector.png"):
        print(out / name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
