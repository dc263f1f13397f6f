"""The SMS bridge's test suite, written the way a connector team would, with mockle's fixture.

Each test gets a fresh mockle (``mockle`` fixture: in-process, already listening; or, with
``--mockle-url``, a fresh account on a running mockle such as the container). Nothing sleeps:
the tests wait on the SMS outbox, on webhook deliveries and on the journal.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from sms_bridge import Config, SmsBridge

from mockle.client import AsyncMockleClient
from mockle.pytest_plugin import MockleHandle

PHONE = "+15550100"
CLIENT_ID, CLIENT_SECRET = "sms-bridge", "bridge-secret"


@dataclass
class World:
    bridge: SmsBridge
    m: AsyncMockleClient
    outbox: asyncio.Queue[tuple[str, str]]

    async def next_sms(self) -> tuple[str, str]:
        return await asyncio.wait_for(self.outbox.get(), 5)


@pytest.fixture
async def world(mockle: MockleHandle) -> AsyncIterator[World]:
    outbox: asyncio.Queue[tuple[str, str]] = asyncio.Queue()

    async def send_sms(phone: str, text: str) -> None:
        outbox.put_nowait((phone, text))

    config = Config(mockle.url, mockle.account, CLIENT_ID, CLIENT_SECRET)
    bridge = SmsBridge(config, send_sms)
    await bridge.start()
    async with mockle.aclient() as m:
        await m.install_app(
            {
                "ms.MessagingEventNotification.ContentEvent": bridge.webhook_url,
                "cqm.ExConversationChangeNotification": bridge.webhook_url,
            },
            client_id=CLIENT_ID,
            client_secret=CLIENT_SECRET,
            max_retries=2,
        )
        try:
            yield World(bridge, m, outbox)
        finally:
            await bridge.stop()


async def _conversation(m: AsyncMockleClient) -> str:
    (conv,) = await m.conversations(state="OPEN")
    return str(conv["conversationId"])


async def test_an_inbound_sms_opens_a_conversation_and_is_sent(world: World) -> None:
    assert await world.bridge.receive_sms(PHONE, "Hi, my order is late") == 0
    assert await world.bridge.receive_sms(PHONE, "Order 1234") == 1
    conv = await _conversation(world.m)
    await world.m.assert_sent(text="Hi, my order is late", conversation_id=conv)
    await world.m.assert_sent(type="ms.PublishEvent", count=2)
    # the bridge discovered the services and authenticated once
    assert len(await world.m.journal(target="csds")) == 1
    assert len(await world.m.journal(target="sentinel")) == 1


async def test_an_agent_reply_comes_back_as_an_sms(world: World) -> None:
    await world.bridge.receive_sms(PHONE, "hello?")
    conv = await _conversation(world.m)
    await world.m.agent.join(conv)
    await world.m.agent.typing(conv)
    await world.m.agent.say(conv, "Hello! Let me check.")
    assert await world.next_sms() == (PHONE, "Hello! Let me check.")
    await world.m.assert_webhook(
        event_type="ms.MessagingEventNotification.ContentEvent", text="Hello! Let me check."
    )


async def test_rate_limited_send_is_retried_after_retry_after(world: World) -> None:
    await world.m.faults.add("send", status=429, headers={"Retry-After": "0"}, times=2)
    assert await world.bridge.receive_sms(PHONE, "are you there?") == 0
    sends = await world.m.journal(target="send")
    assert [e["status"] for e in sends] == [429, 429, 200]


async def test_server_errors_and_dropped_connections_are_retried(world: World) -> None:
    await world.m.faults.add("conversation", status=503)
    await world.m.faults.add("send", drop=True)
    assert await world.bridge.receive_sms(PHONE, "still there?") == 0
    convs = await world.m.journal(target="conversation")
    assert [e["status"] for e in convs] == [503, 200]
    sends = await world.m.journal(target="send")
    assert [(e["status"], e.get("error")) for e in sends] == [
        (None, "dropped by a fault"),
        (200, None),
    ]


async def test_expired_tokens_are_fetched_again(world: World) -> None:
    await world.bridge.receive_sms(PHONE, "first")
    assert await world.m.expire_tokens() == 2  # the AppJWT and the ConsumerJWS
    assert await world.bridge.receive_sms(PHONE, "second") == 1
    sends = await world.m.journal(target="send")
    # the AppJWT is checked first (40102, renewed), then the ConsumerJWS (40103, renewed)
    assert [e["status"] for e in sends] == [200, 401, 401, 200]
    assert [e["response"]["body"]["errorCode"] for e in sends[1:3]] == [40102, 40103]
    assert len(await world.m.journal(target="sentinel")) == 2
    assert len(await world.m.journal(target="idp")) == 2


async def test_an_expired_consumer_token_alone_is_renewed(world: World) -> None:
    await world.bridge.receive_sms(PHONE, "first")
    consumer = await world.m.consumer(PHONE)  # the same consumer id as the bridge's
    await world.m.expire_tokens(consumer.consumer_id)
    assert await world.bridge.receive_sms(PHONE, "second") == 1
    sends = await world.m.journal(target="send")
    assert sends[1]["response"]["body"]["errorCode"] == 40103


async def test_a_conversation_closed_by_the_agent_gets_a_new_one(world: World) -> None:
    await world.bridge.receive_sms(PHONE, "thanks, bye")
    first = await _conversation(world.m)
    await world.m.agent.close(first)
    await world.m.assert_webhook(
        event_type="cqm.ExConversationChangeNotification",
        body={"body": {"changes": [{"result": {"conversationDetails": {"state": "CLOSE"}}}]}},
        timeout=5,
    )
    assert await world.bridge.receive_sms(PHONE, "one more thing") == 0
    second = await _conversation(world.m)
    assert second != first


async def test_a_failing_webhook_endpoint_is_retried_by_liveengage(world: World) -> None:
    await world.bridge.receive_sms(PHONE, "hello")
    conv = await _conversation(world.m)
    await world.m.faults.add(
        "webhook", status=500, type="ms.MessagingEventNotification.ContentEvent"
    )
    await world.m.agent.say(conv, "sorry for the wait")
    assert await world.next_sms() == (PHONE, "sorry for the wait")
    (delivery,) = await world.m.assert_webhook(text="sorry for the wait")
    assert [a["status"] for a in delivery["attempts"]] == [500, 200]
