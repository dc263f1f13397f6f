"""mockle's explanation of a refusal: the ``x-mockle-hint`` header, the journal entry and the log
line, beside a documented body that keeps the real service's wording."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from mockle.core import dialects
from mockle.settings import Settings
from mockle.web.app import create_app
from mockle.web.responses import HINT_HEADER, header_text

from .toolkit_helpers import ACC, Who, batch, consumer, conv_path, open_conversation, send_path
from .toolkit_helpers import text as text_frame
from .ums_client import WS, connect, signup


@pytest.fixture
async def client(aiohttp_client: Any) -> TestClient:
    return await aiohttp_client(create_app(Settings(port=0, agent="manual")))


async def last_entry(client: TestClient, target: str) -> dict[str, Any]:
    r = await client.get(f"/_mockle/requests?target={target}&limit=1")
    (entry,) = (await r.json())["requests"]
    assert isinstance(entry, dict)
    return entry


async def close(client: TestClient, who: Who, conv: str) -> None:
    frame = {
        "kind": "req",
        "id": "9",
        "type": "cm.UpdateConversationField",
        "body": {
            "conversationId": conv,
            "conversationField": [
                {"field": "ConversationStateField", "conversationState": "CLOSE"}
            ],
        },
    }
    r = await client.post(send_path(), json=frame, headers=who.headers())
    assert r.status == 200, await r.text()


async def test_a_send_over_the_size_limit_names_the_size_and_the_option(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    who = await consumer(client)
    conv = await open_conversation(client, who)
    caplog.set_level(logging.WARNING, "mockle")
    r = await client.post(send_path(), json=text_frame(conv, "x" * 6000), headers=who.headers())
    assert r.status == 400
    assert await r.json() == {"code": "BAD_REQUEST", "body": {"msg": "Bad Request"}, "reqId": "1"}
    hint = r.headers[HINT_HEADER]
    assert "over the 5000 of --send-max-chars" in hint and "--send-max-chars 0" in hint
    entry = await last_entry(client, "send")
    assert entry["status"] == 400 and entry["hint"] == hint
    (record,) = [r for r in caplog.records if hint in r.getMessage()]
    # the request's own log line carries the hint, as a warning
    assert record.levelno == logging.WARNING and record.name == "mockle.requests"
    assert " send         400 " in record.getMessage()
    assert "/messaging/consumer/conversation/send ms.PublishEvent" in record.getMessage()
    assert record.getMessage().endswith(f" hint: {hint}")


async def test_a_send_to_a_closed_conversation_names_it(client: TestClient) -> None:
    who = await consumer(client)
    conv = await open_conversation(client, who)
    await close(client, who, conv)
    r = await client.post(send_path(), json=text_frame(conv), headers=who.headers())
    assert r.status == 400
    body = await r.json()
    assert body["body"] == {"msg": "Bad Request, Conversation is close"}  # LiveEngage's words
    hint = r.headers[HINT_HEADER]
    assert f"conversation {conv} was closed by CONSUMER" in hint
    assert (await last_entry(client, "send"))["hint"] == hint


async def test_a_second_conversation_names_the_open_one(client: TestClient) -> None:
    who = await consumer(client)
    conv = await open_conversation(client, who)
    r = await client.post(conv_path(), json=batch(), headers=who.headers())
    assert r.status == 400
    items = await r.json()
    assert "already has open conversation. Can't open another one." in items[1]["body"]["msg"]
    assert conv not in str(items)  # the documented body does not say which one
    assert f"conversation {conv} is still open" in r.headers[HINT_HEADER]
    assert (await last_entry(client, "conversation"))["hint"] == r.headers[HINT_HEADER]


async def test_a_request_that_works_has_no_hint(client: TestClient) -> None:
    who = await consumer(client)
    conv = await open_conversation(client, who)
    r = await client.post(send_path(), json=text_frame(conv), headers=who.headers())
    assert r.status == 200 and HINT_HEADER not in r.headers
    assert "hint" not in await last_entry(client, "send")


async def test_an_unknown_type_on_the_socket_suggests_the_nearest(client: TestClient) -> None:
    ws = await connect(client, f"{WS}/{await signup(client)}?v=3")
    resp = await ws.req({"kind": "req", "id": "1", "type": ".ams.cm.SubscribeExConversations"})
    assert resp["code"] == 400
    assert "did you mean '.ams.aam.SubscribeExConversations'?" in str(resp["body"])
    await ws.ws.close()


async def test_an_unknown_type_over_send_suggests_the_nearest(client: TestClient) -> None:
    who = await consumer(client, account=ACC)
    conv = await open_conversation(client, who)
    frame = {**text_frame(conv), "type": "ms.PublishEvnt"}
    r = await client.post(send_path(), json=frame, headers=who.headers())
    assert r.status == 400
    assert "did you mean 'ms.PublishEvent'?" in r.headers[HINT_HEADER]


@pytest.mark.parametrize(
    ("typed", "meant"),
    [
        (".ams.cm.SubscribeExConversations", ".ams.aam.SubscribeExConversations"),
        ("ms.PublishEvnt", "ms.PublishEvent"),
        ("cm.ConsumerRequestConversations", "cm.ConsumerRequestConversation"),
        ("SubscribeExConversations", "cqm.SubscribeExConversations"),
    ],
)
def test_nearest_known_type(typed: str, meant: str) -> None:
    assert dialects.nearest(typed) == meant


def test_nothing_near_is_no_suggestion() -> None:
    assert dialects.nearest("hello") is None
    assert dialects.nearest("x" * 10_000) is None


def test_a_hint_is_a_safe_header_value() -> None:
    assert header_text("naïve\r\nX-Evil: 1") == "na\\xefve\\r\\nX-Evil: 1"
    assert len(header_text("y" * 5000)) == 1000
