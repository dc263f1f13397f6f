"""The Agent Workspace as a person uses it, in a real headless Chromium: the page is an agent
client (Login Service + agent UMS socket), the consumer a Connector API client with a socket.
Every step finds the page's controls by their accessible names."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from mockle.client import MockleClient, MockleClientError
from mockle.core import agents
from mockle.server import ThreadedMockle
from tests.integration.webhook_receiver import Receiver

from .conftest import settings
from .helpers import (
    ACC,
    SEND_OK,
    ConsumerSocket,
    chat_state,
    conversations,
    journal_entries,
    log_in,
    open_workspace,
    rings,
    text,
    transcript,
)

PROFILE = {
    "firstName": "Ada",
    "lastName": "Lovelace",
    "authenticatedData": {
        "lp_sdes": [{"type": "ctmrinfo", "info": {"customerId": "cust-1815", "ctype": "vip"}}]
    },
}


def test_ring_accept_reply_read_transfer_close_and_the_inspector(
    served: ThreadedMockle, client: MockleClient, receiver: Receiver, page: Page
) -> None:
    hooks = {
        "ms.MessagingEventNotification.ContentEvent": receiver.url + "/hook",
        "cqm.ExConversationChangeNotification": receiver.url + "/hook",
    }
    client.install_app(client_id="hook-app", client_secret="hook-secret", webhooks=hooks)
    open_workspace(page, served.url)
    log_in(page, "alice")
    expect(page.get_by_label("Availability")).to_have_value("ONLINE")  # starts ONLINE

    # a consumer opens a conversation through the Connector API: the page rings
    consumer = client.consumer("+15550100")
    conv = client.open_conversation(consumer, profile=PROFILE)
    with ConsumerSocket(served.url, consumer, conv) as socket:
        client.send_text(consumer, conv, "Hello from Consumer")
        ring = rings(page).filter(has_text="Ada Lovelace")
        expect(ring).to_contain_text("Hello from Consumer")  # the consumer's first message
        ring.get_by_role("button", name="Accept").click()
        expect(transcript(page)).to_contain_text("Hello from Consumer")
        expect(transcript(page)).to_contain_text("You joined as ASSIGNED_AGENT")
        item = conversations(page).filter(has_text="Ada Lovelace")
        expect(item).to_contain_text("Hello from Consumer")
        expect(item).to_contain_text("Mine")
        socket.wait_for(lambda c: c["event"].get("type") == "AcceptStatusEvent")  # agent READ

        # typing: COMPOSING reaches the consumer, then the text
        box = page.get_by_role("textbox", name="Message")
        box.press_sequentially("Hi Ada, how can I help?")
        socket.wait_for(chat_state("COMPOSING"))
        box.press("Enter")
        reply = socket.wait_for(text("Hi Ada, how can I help?"))
        socket.wait_for(chat_state("ACTIVE"))
        expect(box).to_have_value("")
        message = transcript(page).get_by_role("article").filter(has_text="Hi Ada, how can I help?")
        expect(message).to_be_visible()

        # the consumer types, then reads the reply: the page shows both
        client.send_event(consumer, conv, {"type": "ChatStateEvent", "chatState": "COMPOSING"})
        expect(page.get_by_text("Consumer is typing…")).to_be_visible()
        client.send_event(consumer, conv, {"type": "ChatStateEvent", "chatState": "ACTIVE"})
        expect(page.get_by_text("Consumer is typing…")).to_be_hidden()
        read = {"type": "AcceptStatusEvent", "status": "READ", "sequenceList": [reply["sequence"]]}
        client.send_event(consumer, conv, read)
        expect(message.get_by_label("Read by the consumer")).to_have_text("✓ Read")

        # the inspector lists the SEND and the webhook attempts
        expect(journal_entries(page, "send POST").filter(has_text=SEND_OK)).to_have_count(4)
        webhook = re.compile(r"^webhook POST http://127\.0\.0\.1:\d+/hook 200")
        expect(journal_entries(page, "webhook").filter(has_text=webhook).first).to_be_visible()
        entries = journal_entries(page, "send POST")

        # a fault armed in the page: the next SEND answers 429
        page.get_by_role("button", name="Arm 429 on next SEND").click()
        expect(page.get_by_role("list", name="Armed faults")).to_contain_text("send 429")
        with pytest.raises(MockleClientError) as refused:
            client.send_text(consumer, conv, "too fast")
        assert refused.value.status == 429
        expect(entries.filter(has_text=re.compile(r"^send POST .*/send 429"))).to_have_count(1)

        # transfer to a skill: the agent leaves and the conversation waits again
        page.get_by_label("Skill").fill("12345")
        page.get_by_role("button", name="Transfer").click()
        expect(transcript(page)).to_contain_text("Transferred to skill 12345")
        expect(transcript(page)).to_contain_text("You left (ASSIGNED_AGENT)")
        doc = client.conversation(conv)
        assert doc["skillId"] == "12345" and doc["assignedAgent"] is None

        # it rings again (alice has every skill); take it and close it, after confirming
        rings(page).filter(has_text="Ada Lovelace").get_by_role("button", name="Accept").click()
        expect(item).to_contain_text("Mine")
        page.get_by_role("button", name="Close conversation").click()
        page.get_by_role("dialog").get_by_role("button", name="Yes, close it").click()
        expect(transcript(page)).to_contain_text("Conversation closed by AGENT")
        expect(item).to_contain_text("Closed")
        assert client.conversation(conv)["closeReason"] == "AGENT"
        expect(page.get_by_role("textbox", name="Message")).to_be_disabled()


def test_reject_a_ring_and_availability(
    served: ThreadedMockle, client: MockleClient, page: Page
) -> None:
    open_workspace(page, served.url)
    log_in(page, "bob")
    consumer = client.consumer("+15550101")
    conv = client.open_conversation(consumer)
    client.send_text(consumer, conv, "anyone there?")
    ring = rings(page).filter(has_text="anyone there?")
    ring.get_by_role("button", name="Reject").click()
    expect(rings(page)).to_have_count(0)
    item = conversations(page).filter(has_text="anyone there?")
    expect(item).to_contain_text("Waiting")  # still in the queue, nobody else to ring
    assert client.conversation(conv)["assignedAgent"] is None
    # AWAY: a new conversation does not ring; ONLINE again: it does
    page.get_by_label("Availability").select_option("AWAY")
    other = client.consumer("+15550102")
    conv2 = client.open_conversation(other)
    client.send_text(other, conv2, "second one")
    expect(conversations(page).filter(has_text="second one")).to_contain_text("Waiting")
    expect(rings(page)).to_have_count(0)
    page.get_by_label("Availability").select_option("ONLINE")
    expect(rings(page).filter(has_text="second one")).to_have_count(1)


def test_composer_new_lines_quick_replies_and_structured_content(
    served: ThreadedMockle, client: MockleClient, page: Page
) -> None:
    open_workspace(page, served.url)
    log_in(page, "carol")
    consumer = client.consumer("+15550103")
    conv = client.open_conversation(consumer, profile={"firstName": "Grace", "lastName": "Hopper"})
    with ConsumerSocket(served.url, consumer, conv) as socket:
        client.send_text(consumer, conv, "menu please")
        rings(page).filter(has_text="Grace Hopper").get_by_role("button", name="Accept").click()
        box = page.get_by_role("textbox", name="Message")
        box.press_sequentially("line one")
        box.press("Shift+Enter")
        box.press_sequentially("line two")
        page.get_by_text("Quick replies and structured content").click()
        page.get_by_label("Quick replies").fill("Yes, No")
        page.get_by_role("button", name="Send", exact=True).click()
        sent = socket.wait_for(text("line one\nline two"))
        replies = sent["event"]["quickReplies"]["replies"]
        assert [r["title"] for r in replies] == ["Yes", "No"]
        assert replies[0]["click"]["actions"] == [{"type": "publishText", "text": "Yes"}]
        # structured content: bad JSON is shown and nothing is sent
        rich = page.get_by_label("Structured content (JSON)")
        rich.fill('{"type": "vertical", "elements": [')
        page.get_by_role("button", name="Publish structured content").click()
        alert = page.get_by_role("alert").filter(has_text="not valid JSON")
        expect(alert).to_be_visible()
        rich.fill('["not", "an object"]')
        page.get_by_role("button", name="Publish structured content").click()
        expect(page.get_by_role("alert").filter(has_text="must be a JSON object")).to_be_visible()
        card = {"type": "vertical", "elements": [{"type": "text", "text": "A card"}]}
        rich.fill('{"type": "vertical", "elements": [{"type": "text", "text": "A card"}]}')
        page.get_by_role("button", name="Publish structured content").click()
        got = socket.wait_for(lambda c: c["event"].get("type") == "RichContentEvent")
        assert got["event"]["content"] == card
        expect(transcript(page).get_by_role("article").last).to_contain_text("Structured content")


def test_a_manager_logs_in_with_a_password_and_joins_as_manager(
    served: ThreadedMockle, client: MockleClient, page: Page
) -> None:
    manager = {"account": ACC, "loginName": "mia", "password": "pw-1", "role": "MANAGER"}
    served.call(agents.define, served.engine, manager)
    consumer = client.consumer("+15550104")
    conv = client.open_conversation(consumer)
    client.send_text(consumer, conv, "I need a manager")
    client.agent.join(conv, f"{ACC}.777")  # another agent has it
    open_workspace(page, served.url)
    page.get_by_label("Agent name").fill("mia")
    page.get_by_label("Password").fill("wrong")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("alert").filter(has_text="Login failed (HTTP 401)")).to_be_visible()
    log_in(page, "mia", "pw-1")
    item = conversations(page).filter(has_text="I need a manager")
    expect(item).to_contain_text("Other agent")
    item.get_by_role("button").click()
    expect(transcript(page)).to_contain_text("I need a manager")
    expect(page.get_by_role("textbox", name="Message")).to_be_disabled()  # not a participant
    page.get_by_role("button", name="Join as manager").click()
    expect(transcript(page)).to_contain_text("You joined as MANAGER")
    expect(page.get_by_role("button", name="Join as manager")).to_be_disabled()
    with ConsumerSocket(served.url, consumer, conv) as socket:
        box = page.get_by_role("textbox", name="Message")
        box.fill("A manager here.")
        box.press("Enter")
        said = socket.wait_for(text("A manager here."))
        assert said["originatorMetadata"]["role"] == "MANAGER"
    roles = {p["role"] for p in client.conversation(conv)["participants"]}
    assert roles == {"CONSUMER", "ASSIGNED_AGENT", "MANAGER"}


def test_a_4401_fault_closes_the_agent_socket_and_the_page_logs_in_again(
    served: ThreadedMockle, client: MockleClient, page: Page
) -> None:
    open_workspace(page, served.url)
    log_in(page, "dave")
    page.get_by_role("button", name="Arm 4401 close on next socket request").click()
    expect(page.get_by_role("list", name="Armed faults")).to_contain_text("ws_request close 4401")
    page.get_by_label("Availability").select_option("AWAY")  # the next socket request
    status = page.get_by_role("status").filter(has_text="Connected")
    expect(status).to_contain_text("again, after 4401")
    expect(page.get_by_role("list", name="Armed faults")).to_contain_text("fired 1 of 1")
    logins = journal_entries(page, "login POST /api/account/")
    expect(logins.filter(has_text="/login 200")).to_have_count(2)
    # and it works: a new conversation rings the new session
    page.get_by_label("Availability").select_option("ONLINE")
    consumer = client.consumer("+15550105")
    conv = client.open_conversation(consumer)
    client.send_text(consumer, conv, "after the reconnect")
    expect(rings(page).filter(has_text="after the reconnect")).to_have_count(1)


def test_a_reset_through_the_inspector_logs_the_agent_in_afresh(
    served: ThreadedMockle, client: MockleClient, page: Page
) -> None:
    open_workspace(page, served.url)
    log_in(page, "erin")
    consumer = client.consumer("+15550106")
    conv = client.open_conversation(consumer)
    client.send_text(consumer, conv, "before the reset")
    expect(conversations(page).filter(has_text="before the reset")).to_have_count(1)
    page.get_by_role("button", name="Reset account").click()
    page.get_by_role("dialog").get_by_role("button", name="Yes, reset").click()
    expect(conversations(page)).to_have_count(0)
    expect(page.get_by_role("status").filter(has_text="Connected as erin")).to_be_visible()
    other = client.consumer("+15550107")
    conv2 = client.open_conversation(other)
    client.send_text(other, conv2, "after the reset")
    expect(rings(page).filter(has_text="after the reset")).to_have_count(1)


def test_consumers_are_named_by_profile_else_by_id(
    served: ThreadedMockle, client: MockleClient, page: Page
) -> None:
    named = client.consumer("+15550108")
    conv1 = client.open_conversation(named, profile={"firstName": "Alan", "lastName": "Turing"})
    client.send_text(named, conv1, "named")
    plain = client.consumer("+15550109")
    conv2 = client.open_conversation(plain)
    client.send_text(plain, conv2, "unnamed")
    open_workspace(page, served.url)
    log_in(page, "frank")
    expect(conversations(page).filter(has_text="named")).to_have_count(2)
    expect(conversations(page).filter(has_text="Alan Turing")).to_contain_text("named")
    expect(conversations(page).filter(has_text=plain.consumer_id[:20])).to_contain_text("unnamed")


@pytest.fixture
def tls_served(tmp_path: Path) -> Iterator[ThreadedMockle]:
    """``--tls --admin-token``. Requested before ``page``, so that the browser's connections
    close before the server stops (a TLS connection still open at shutdown leaks its transport:
    see the report of this branch)."""
    with ThreadedMockle(settings(tls=True, tls_dir=tmp_path, admin_token="t0k3n")) as m:
        yield m


def test_the_workspace_over_tls_with_an_admin_token(tls_served: ThreadedMockle, page: Page) -> None:
    m = tls_served
    assert m.url.startswith("https://")
    with MockleClient(m.url, account=ACC, admin_token="t0k3n", ca_file=m.ca_file) as c:
        open_workspace(page, m.url)
        assert page.evaluate("location.protocol") == "https:"
        # the agent side needs no admin token; the inspector asks for it once
        page.get_by_label("Admin token").fill("t0k3n")
        page.get_by_role("button", name="Unlock inspector").click()
        expect(page.get_by_label("Admin token")).to_be_hidden()
        [cookie] = page.context.cookies()
        assert cookie["name"] == "mockle_admin" and cookie["secure"] and cookie["httpOnly"]
        log_in(page, "tess")
        consumer = c.consumer("+15550110")
        conv = c.open_conversation(consumer, profile={"firstName": "Tess", "lastName": "Tls"})
        with ConsumerSocket(m.url, consumer, conv, m.client_ssl_context()) as socket:
            c.send_text(consumer, conv, "over TLS")
            ring = rings(page).filter(has_text="Tess Tls")
            ring.get_by_role("button", name="Accept").click()
            expect(transcript(page)).to_contain_text("over TLS")
            box = page.get_by_role("textbox", name="Message")
            box.fill("secure reply")
            box.press("Enter")
            socket.wait_for(text("secure reply"))
        upgrade = re.compile(r"^ws_connect GET /ws_api/account/\w+/messaging/brand/\S+ 101")
        expect(journal_entries(page, "ws_connect").filter(has_text=upgrade)).to_have_count(1)
        expect(journal_entries(page, "send POST").filter(has_text=SEND_OK)).to_have_count(1)


def test_the_journal_filtered_by_the_open_conversation(
    served: ThreadedMockle, client: MockleClient, page: Page
) -> None:
    open_workspace(page, served.url)
    log_in(page, "gina")
    one, two = client.consumer("+15550111"), client.consumer("+15550112")
    conv1 = client.open_conversation(one, profile={"firstName": "First", "lastName": "One"})
    conv2 = client.open_conversation(two, profile={"firstName": "Second", "lastName": "Two"})
    client.send_text(one, conv1, "in the first")
    client.send_text(two, conv2, "in the second")
    conversations(page).filter(has_text="Second Two").get_by_role("button").click()
    expect(transcript(page)).to_contain_text("in the second")
    page.get_by_label("Only this conversation").check()
    sends = journal_entries(page, "send POST")
    expect(sends).to_have_count(1)  # the other conversation's SEND is filtered out
    sends.get_by_role("button").click()
    detail = sends.get_by_role("group", name=re.compile(r"^Entry \d+$"))
    detail.get_by_text("body: {dialogId, event}").click()
    expect(detail).to_contain_text(f'dialogId: "{conv2}"')
    page.get_by_label("Only this conversation").uncheck()
    expect(journal_entries(page, "send POST")).to_have_count(2)


def test_the_echo_agent_leaves_conversations_to_a_logged_in_agent(page: Page) -> None:
    with (
        ThreadedMockle(settings(agent="echo", agent_delay_ms=0)) as m,
        MockleClient(m.url, account=ACC) as c,
    ):
        open_workspace(page, m.url)
        log_in(page, "hank")
        consumer = c.consumer("+15550113")
        conv = c.open_conversation(consumer)
        c.send_text(consumer, conv, "a person, please")
        rings(page).filter(has_text="a person, please").get_by_role("button", name="Accept").click()
        expect(transcript(page)).to_contain_text("a person, please")
        texts = [e["event"].get("message") for e in c.conversation(conv)["events"]]
        assert not any(str(t).startswith("echo:") for t in texts), texts
        page.close()  # before the server stops
