"""The Python client and the assertion helpers against a real listening mockle (the fixtures)."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest

from mockle.client import AsyncMockleClient, MockleClient, MockleClientError, WaitTimeout
from mockle.pytest_plugin import MockleHandle, SharedMockle, fresh_account


def test_sync_client_walks_a_whole_conversation(mockle: MockleHandle) -> None:
    m = mockle.client
    alice = m.consumer("alice")
    assert alice.account == mockle.account and len(alice.consumer_id) == 64
    conv = m.open_conversation(alice)
    assert m.send_text(alice, conv, "hello") == 0
    agent = m.agent.join(conv)
    assert m.agent.read(conv, 0) == 1
    m.agent.typing(conv)
    assert m.agent.say(conv, "hi, how can I help?") == 2
    reply = m.wait_for_text(conv, "hi, how can I help?")
    assert reply["originatorId"] == agent
    typing = m.wait_for_event(conv, lambda e: e["event"]["type"] == "ChatStateEvent")
    assert typing["event"]["chatState"] == "COMPOSING"
    m.close_conversation(alice, conv)
    snap = m.wait_for_conversation(conv, lambda s: s["state"] == "CLOSE")
    assert snap["state"] == "CLOSE"
    assert [e["target"] for e in m.journal()] == ["sentinel", "idp", "conversation", "send", "send"]
    (sent,) = m.assert_sent(text="hello", type="ms.PublishEvent", conversation_id=conv)
    assert sent["status"] == 200


def test_assert_sent_failure_says_expected_arrived_and_nearest_miss(mockle: MockleHandle) -> None:
    m = mockle.client
    c = m.consumer()
    conv = m.open_conversation(c)
    m.send_text(c, conv, "helo wrld")
    with pytest.raises(AssertionError) as info:
        m.assert_sent(text="hello world")
    text = str(info.value)
    assert "expected a 'send' request with text 'hello world'" in text
    assert "arrived: 1 candidate(s)" in text and "ms.PublishEvent" in text
    (sent,) = m.journal(target="send")  # entry ids are server-wide: #4 only in a fresh mockle
    miss = f"nearest miss: #{sent['id']} differs at text: expected 'hello world', got 'helo wrld'"
    assert miss in text
    with pytest.raises(AssertionError) as info:
        m.assert_sent(body={"body": {"event": {"contentType": "text/html"}}})
    assert "differs at $.body.body.event.contentType: expected 'text/html'" in str(info.value)
    with pytest.raises(AssertionError) as info:
        m.assert_sent(text="helo wrld", count=2)
    assert "matched 1 time(s)" in str(info.value)


def test_wait_for_event_fails_with_what_did_arrive(mockle: MockleHandle) -> None:
    m = mockle.client
    c = m.consumer()
    conv = m.open_conversation(c)
    m.send_text(c, conv, "only this")
    with pytest.raises(WaitTimeout) as info:
        m.wait_for_text(conv, "never", timeout=0.2)
    assert "arrived: 1 event(s) that did not match" in str(info.value)
    assert "only this" in str(info.value)


def test_client_errors_carry_status_and_body(mockle: MockleHandle) -> None:
    m = mockle.client
    with pytest.raises(MockleClientError) as info:
        m.conversation("nope")
    assert info.value.status == 404 and "does not exist" in str(info.value)


def test_faults_and_token_expiry_through_the_client(mockle: MockleHandle) -> None:
    m = mockle.client
    c = m.consumer()
    conv = m.open_conversation(c)
    fid = m.faults.add("send", status=429, times=2)
    for _ in range(2):
        with pytest.raises(MockleClientError) as info:
            m.send_text(c, conv, "x")
        assert info.value.status == 429
    assert m.send_text(c, conv, "x") == 0
    (f,) = m.faults.list()
    assert f["id"] == fid and f["fired"] == 2 and f["match"] == {"account": mockle.account}
    assert m.faults.clear() == 1
    assert m.expire_tokens(c) == 1
    with pytest.raises(MockleClientError) as info:
        m.send_text(c, conv, "x")
    assert info.value.status == 401 and info.value.body["body"]["errorCode"] == 40103
    fresh = m.consumer()
    assert m.send_text(fresh, conv, "again") == 1


async def test_async_client_waits_on_the_event(mockle: MockleHandle) -> None:
    async with mockle.aclient() as m:
        c = await m.consumer("bob")
        conv = await m.open_conversation(c)
        waiter = asyncio.ensure_future(m.wait_for_text(conv, "pong", timeout=10))
        await m.send_text(c, conv, "ping")
        await m.agent.say(conv, "pong")
        event = await asyncio.wait_for(waiter, 10)
        assert event["originatorMetadata"]["role"] == "ASSIGNED_AGENT"
        entries = await m.wait_for_requests(2, target="send", timeout=0.2)
        assert len(entries) == 1  # one SEND only: the long-poll answered at the timeout


def test_shared_server_gives_each_test_its_own_account(
    mockle_shared: MockleHandle, mockle_server: SharedMockle
) -> None:
    m = mockle_shared.client
    assert mockle_shared.account.startswith("le") and mockle_shared.account != "le12345678"
    c = m.consumer()
    m.open_conversation(c)
    assert len(m.conversations()) == 1
    other = mockle_server.handle(fresh_account())
    try:
        assert other.client.conversations() == []
        assert other.client.journal() == []
    finally:
        other.close()


def _tenant_work(url: str, account: str, results: dict[str, Any]) -> None:
    with MockleClient(url, account=account) as m:
        m.faults.add("*", status=500, times=0, conversation_id="none-of-mine")
        c = m.consumer("same-ext-id")
        conv = m.open_conversation(c)
        for i in range(5):
            m.send_text(c, conv, f"{account} #{i}")
        results[account] = {
            "conversations": m.conversations(),
            "journal": m.journal(),
            "faults": m.faults.list(),
            "events": m.events(conv)["events"],
        }


def test_accounts_stay_apart_under_parallel_clients(mockle_server: SharedMockle) -> None:
    accounts = [fresh_account() for _ in range(6)]
    results: dict[str, Any] = {}
    threads = [
        threading.Thread(target=_tenant_work, args=(mockle_server.url, a, results))
        for a in accounts
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sorted(results) == sorted(accounts)
    for account, r in results.items():
        assert len(r["conversations"]) == 1
        assert {e["account"] for e in r["journal"]} == {account}
        assert len([e for e in r["journal"] if e["target"] == "send"]) == 5
        assert len(r["faults"]) == 1 and r["faults"][0]["match"]["account"] == account
        assert [e["event"]["message"] for e in r["events"]] == [f"{account} #{i}" for i in range(5)]
    # resetting one account leaves the others untouched
    with MockleClient(mockle_server.url, account=accounts[0]) as m:
        m.reset()
        assert m.conversations() == [] and m.journal() == [] and m.faults.list() == []
    with MockleClient(mockle_server.url, account=accounts[1]) as m:
        assert len(m.conversations()) == 1 and len(m.faults.list()) == 1
        m.reset()


async def test_parallel_async_tenants_on_one_server(mockle_server: SharedMockle) -> None:
    async def tenant(account: str) -> list[dict[str, Any]]:
        async with AsyncMockleClient(mockle_server.url, account=account) as m:
            c = await m.consumer()
            conv = await m.open_conversation(c)
            await m.send_text(c, conv, account)
            got = await m.journal(target="send")
            await m.reset()
            return got

    accounts = [fresh_account() for _ in range(10)]
    journals = await asyncio.gather(*(tenant(a) for a in accounts))
    for account, journal in zip(accounts, journals, strict=True):
        assert [e["body"]["body"]["event"]["message"] for e in journal] == [account]


def test_assert_webhook_failure_lists_the_deliveries(mockle: MockleHandle) -> None:
    m = mockle.client
    m.install_app({"ms.MessagingEventNotification.ContentEvent": "http://127.0.0.1:9/dead"})
    c = m.consumer()
    conv = m.open_conversation(c)
    m.agent.say(conv, "you will not get this")
    (failed,) = m.assert_webhook(delivered=False, text="you will not get this", timeout=5)
    assert failed["attempts"][0]["status"] is None
    with pytest.raises(AssertionError) as info:
        m.assert_webhook(text="you will not get this")
    text = str(info.value)
    assert "expected a webhook delivery that was delivered with text" in text
    assert "arrived: 1 candidate(s)" in text and "/dead" in text


def test_open_conversation_with_a_profile_and_send_event(mockle: MockleHandle) -> None:
    m = mockle.client
    ada = m.consumer("ada")
    profile = {"firstName": "Ada", "lastName": "Lovelace"}
    conv = m.open_conversation(ada, profile=profile, skillId="12")
    (entry,) = [e for e in m.journal() if e["target"] == "conversation"]
    assert [item["body"] for item in entry["body"]] == [
        profile,
        {"brandId": mockle.account, "skillId": "12"},
    ]
    reply = m.send_event(ada, conv, {"type": "ChatStateEvent", "chatState": "COMPOSING"})
    assert reply["code"] == "OK"
    typing = m.wait_for_event(conv, lambda e: e["event"]["type"] == "ChatStateEvent")
    assert typing["originatorId"] == ada.consumer_id
