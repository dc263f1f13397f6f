"""The workspace against whatever mockle the ``mockle`` fixture gives: a fresh in-process one,
or, with ``--mockle-url``, a running one; scripts/container-check.sh runs this file against
the container, so the page is checked as a container serves it (from the installed wheel,
through a published port), on a fresh account of a server others share."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from mockle.pytest_plugin import MockleHandle

from .helpers import (
    SEND_OK,
    journal_entries,
    log_in,
    open_workspace,
    rings,
    transcript,
)


def test_the_workspace_works_wherever_mockle_runs(mockle: MockleHandle, page: Page) -> None:
    open_workspace(page, mockle.url, mockle.account)
    if mockle.admin_token:
        page.get_by_label("Admin token").fill(mockle.admin_token)
        page.get_by_role("button", name="Unlock inspector").click()
    log_in(page, "workspace-check")
    c = mockle.client
    consumer = c.consumer("+15550177")
    conv = c.open_conversation(consumer, profile={"firstName": "Check", "lastName": "Point"})
    c.send_text(consumer, conv, "is anyone there?")
    ring = rings(page).filter(has_text="Check Point")
    ring.get_by_role("button", name="Accept").click()
    expect(transcript(page)).to_contain_text("is anyone there?")
    box = page.get_by_role("textbox", name="Message")
    box.fill("Yes: the Agent Workspace.")
    box.press("Enter")
    said = c.wait_for_text(conv, "Yes: the Agent Workspace.")
    assert said["originatorMetadata"]["role"] == "ASSIGNED_AGENT"
    expect(journal_entries(page, "send POST").filter(has_text=SEND_OK)).to_have_count(1)
