"""The inspector pane in a real browser: the journal live, entries expanded, the conversation
filter, faults armed with a click and seen firing, and the account reset."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from mockle.client import MockleClient, MockleClientError
from mockle.server import ThreadedMockle
from tests.integration.webhook_receiver import Receiver

from .conftest import settings
from .helpers import ACC, SEND_OK, journal, open_workspace


def test_the_journal_is_live_and_shows_target_method_path_status(
    served: ThreadedMockle, client: MockleClient, page: Page
) -> None:
    open_workspace(page, served.url)
    consumer = client.consumer("+15550100")
    conv = client.open_conversation(consumer)
    client.send_text(consumer, conv, "hello from the consumer")
    entries = journal(page).get_by_role("listitem")
    expect(entries.filter(has_text=SEND_OK)).to_have_count(1)
    expect(entries.filter(has_text="conversation POST")).to_have_count(1)
    expect(entries.filter(has_text=re.compile(r"sentinel POST .* 200"))).to_have_count(1)
    # an entry opens to its full JSON
    entry = entries.filter(has_text=SEND_OK)
    entry.get_by_role("button").click()
    expect(entry.get_by_role("button")).to_have_attribute("aria-expanded", "true")
    detail = entry.get_by_role("group", name=re.compile(r"^Entry \d+$"))
    expect(detail).to_contain_text('code: "OK"')
    expect(detail).not_to_contain_text("hello from the consumer")  # deeper levels start closed
    detail.get_by_text("body: {dialogId, event}").click()
    detail.get_by_text("event: {type, contentType, message}").click()
    expect(detail).to_contain_text("hello from the consumer")


def test_the_journal_filters_by_the_text_typed(
    served: ThreadedMockle, client: MockleClient, page: Page
) -> None:
    open_workspace(page, served.url)
    consumer = client.consumer("+15550100")
    conv = client.open_conversation(consumer)
    client.send_text(consumer, conv, "one")
    entries = journal(page).get_by_role("listitem")
    expect(entries.filter(has_text=SEND_OK)).to_have_count(1)
    page.get_by_label("Filter journal").fill("sentinel")
    expect(entries).to_have_count(1)
    expect(entries.first).to_contain_text("sentinel POST")
    page.get_by_label("Filter journal").fill("")
    expect(entries.filter(has_text=SEND_OK)).to_have_count(1)


def test_a_fault_armed_with_a_click_makes_the_next_send_answer_429(
    served: ThreadedMockle, client: MockleClient, page: Page
) -> None:
    open_workspace(page, served.url)
    consumer = client.consumer("+15550100")
    conv = client.open_conversation(consumer)
    page.get_by_role("button", name="Arm 429 on next SEND").click()
    faults = page.get_by_role("list", name="Armed faults")
    expect(faults.get_by_role("listitem")).to_have_text(re.compile(r"send 429 · fired 0 of 1"))
    with pytest.raises(MockleClientError) as refused:
        client.send_text(consumer, conv, "refused")
    assert refused.value.status == 429
    client.send_text(consumer, conv, "accepted")  # the fault fired once
    expect(faults.get_by_role("listitem")).to_have_text(re.compile(r"send 429 · fired 1 of 1"))
    entries = journal(page).get_by_role("listitem")
    expect(entries.filter(has_text=re.compile(r"^send POST .*/send 429"))).to_have_count(1)
    expect(entries.filter(has_text=SEND_OK)).to_have_count(1)
    faults.get_by_role("button", name=re.compile("^Remove")).click()
    expect(faults.get_by_role("listitem")).to_have_count(0)


def test_a_delay_fault_and_a_401_fault(
    served: ThreadedMockle, client: MockleClient, page: Page
) -> None:
    open_workspace(page, served.url)
    consumer = client.consumer("+15550100")
    conv = client.open_conversation(consumer)
    page.get_by_role("button", name="Arm 401 on next SEND").click()
    faults = page.get_by_role("list", name="Armed faults")
    expect(faults).to_contain_text("send 401")
    with pytest.raises(MockleClientError) as refused:
        client.send_text(consumer, conv, "refused")
    assert refused.value.status == 401
    page.get_by_role("button", name="Arm 2 s delay on next SEND").click()
    expect(faults).to_contain_text("send delay 2000 ms · fired 0 of 1")
    doc = client.faults.list()
    assert [f["delay_ms"] for f in doc if f.get("delay_ms")] == [2000]


def test_webhook_attempts_are_in_the_journal_with_their_status(
    served: ThreadedMockle, client: MockleClient, receiver: Receiver, page: Page
) -> None:
    receiver.behaviour = lambda hit, n: 500 if n == 1 else 200
    client.install_app(
        client_id="hook-app",
        client_secret="hook-secret",
        webhooks={"ms.MessagingEventNotification.ContentEvent": receiver.url + "/hook"},
        max_retries=2,
    )
    open_workspace(page, served.url)
    consumer = client.consumer("+15550100")
    conv = client.open_conversation(consumer)
    client.send_text(consumer, conv, "hello")
    entries = journal(page).get_by_role("listitem")
    for status in (500, 200):  # the first attempt failed, the retry was delivered
        attempt = re.compile(rf"^webhook POST http://.*/hook {status}")
        expect(entries.filter(has_text=attempt)).to_have_count(1)


def test_reset_wipes_the_account_after_a_confirmation(
    served: ThreadedMockle, client: MockleClient, page: Page
) -> None:
    open_workspace(page, served.url)
    consumer = client.consumer("+15550100")
    client.open_conversation(consumer)
    entries = journal(page).get_by_role("listitem")
    expect(entries.filter(has_text="conversation POST")).to_have_count(1)
    page.get_by_role("button", name="Reset account").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text(f"Reset account {ACC}?")
    dialog.get_by_role("button", name="Cancel").click()
    assert client.conversations()  # nothing happened
    page.get_by_role("button", name="Reset account").click()
    dialog.get_by_role("button", name="Yes, reset").click()
    expect(entries).to_have_count(0)
    assert client.conversations() == []


def test_another_account_is_another_journal(
    served: ThreadedMockle, client: MockleClient, page: Page
) -> None:
    open_workspace(page, served.url)
    consumer = client.consumer("+15550100")
    client.open_conversation(consumer)
    entries = journal(page).get_by_role("listitem")
    expect(entries.filter(has_text="conversation POST")).to_have_count(1)
    page.get_by_label("Account").fill("le99999999")
    page.get_by_label("Account").press("Enter")
    page.get_by_label("Account").blur()
    expect(entries).to_have_count(0)
    assert "account=le99999999" in page.url
    other = MockleClient(served.url, account="le99999999")
    try:
        other.open_conversation(other.consumer("+15550199"))
    finally:
        other.close()
    expect(entries.filter(has_text="conversation POST /api/account/le99999999/")).to_have_count(1)


def test_with_an_admin_token_the_page_asks_for_it_once(page: Page) -> None:
    with ThreadedMockle(settings(admin_token="t0ken")) as m:
        c = MockleClient(m.url, account=ACC, admin_token="t0ken")
        try:
            open_workspace(page, m.url)
            token = page.get_by_label("Admin token")
            expect(token).to_be_visible()
            token.fill("wrong")
            page.get_by_role("button", name="Unlock inspector").click()
            expect(page.get_by_role("alert").filter(has_text="not the admin token")).to_be_visible()
            token.fill("t0ken")
            page.get_by_role("button", name="Unlock inspector").click()
            expect(token).to_be_hidden()
            consumer = c.consumer("+15550100")
            conv = c.open_conversation(consumer)
            c.send_text(consumer, conv, "hi")
            expect(journal(page).get_by_role("listitem").filter(has_text=SEND_OK)).to_have_count(1)
            # the token is in no URL and in no script-readable cookie
            assert "t0ken" not in page.url
            assert page.evaluate("document.cookie") == ""
            cookies = page.context.cookies()
            assert [(k["name"], k["httpOnly"], k["sameSite"]) for k in cookies] == [
                ("mockle_admin", True, "Strict")
            ]
            assert all("t0ken" not in k["value"] for k in cookies)
            # a reload does not ask again
            page.reload()
            expect(page.locator("html")).to_have_attribute("data-ready", "true")
            expect(journal(page).get_by_role("listitem").filter(has_text=SEND_OK)).to_have_count(1)
            expect(token).to_be_hidden()
        finally:
            c.close()
