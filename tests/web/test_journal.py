"""The request journal over HTTP: entries, filters, the cap, long-polls, per-account state."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from mockle.core.sessions import Session
from mockle.settings import Settings
from mockle.web.app import create_app
from mockle.web.journal import Journal, shorten, target_of_path
from mockle.web.runtime import RUNTIME

from .toolkit_helpers import ACC, consumer, open_conversation, send_text


@pytest.fixture
async def client(aiohttp_client: Any) -> TestClient:
    return await aiohttp_client(create_app(Settings(port=0, agent="manual")))


async def entries(client: TestClient, query: str = "") -> list[dict[str, Any]]:
    r = await client.get(f"/_mockle/requests{query}")
    assert r.status == 200, await r.text()
    return list((await r.json())["requests"])


async def test_each_rest_request_is_recorded_with_its_response(client: TestClient) -> None:
    who = await consumer(client)
    conv = await open_conversation(client, who)
    r = await send_text(client, who, conv, "hi there")
    assert r.status == 200
    found = await entries(client)
    assert [e["target"] for e in found] == ["sentinel", "idp", "conversation", "send"]
    assert [e["id"] for e in found] == sorted(e["id"] for e in found)
    send = found[-1]
    assert send["account"] == ACC and send["method"] == "POST"
    assert send["path"].endswith("/messaging/consumer/conversation/send?v=3")
    assert send["body"]["body"]["event"]["message"] == "hi there"
    assert send["status"] == 200 and send["response"]["body"] == {"sequence": 0}
    assert send["headers"]["Authorization"] == shorten(who.app)
    assert send["headers"]["X-LP-ON-BEHALF"].endswith("…")
    assert len(send["headers"]["X-LP-ON-BEHALF"]) == 11
    assert isinstance(send["time"], int)


async def test_filters_target_type_conversation_limit(client: TestClient) -> None:
    who = await consumer(client)
    conv = await open_conversation(client, who)
    for i in range(3):
        await send_text(client, who, conv, f"m{i}")
    assert len(await entries(client, "?target=send")) == 3
    assert len(await entries(client, f"?conversation_id={conv}")) == 4  # CONVERSATION too
    assert len(await entries(client, "?type=.ams.ms.PublishEvent")) == 3
    assert len(await entries(client, "?type=cm.ConsumerRequestConversation")) == 1
    last = await entries(client, "?target=send&limit=2")
    assert [e["body"]["body"]["event"]["message"] for e in last] == ["m1", "m2"]
    first_id = last[0]["id"]
    assert len(await entries(client, f"?target=send&after={first_id}")) == 1
    assert await entries(client, "?account=nobody") == []
    r = await client.get("/_mockle/requests?limit=x")
    assert r.status == 400 and "'limit'" in (await r.json())["body"]["details"]
    r = await client.get("/_mockle/requests?direction=up")
    assert r.status == 400


async def test_control_api_calls_are_not_journaled(client: TestClient) -> None:
    await client.get("/_mockle/health")
    await client.get("/_mockle/faults")
    assert await entries(client) == []


async def test_unknown_routes_are_journaled_as_other(client: TestClient) -> None:
    r = await client.get(f"/api/account/{ACC}/nothing/here")
    assert r.status == 404
    (e,) = await entries(client)
    assert e["target"] == "other" and e["account"] == ACC and e["status"] == 404


async def test_a_refused_socket_upgrade_is_journaled_with_its_status(client: TestClient) -> None:
    # a WebSocket upgrade to a path no socket route serves: answered 404, recorded as 404 (it
    # was recorded as 101, the status an upgrade gets before its handler runs)
    headers = {
        "Upgrade": "websocket",
        "Connection": "Upgrade",
        "Sec-WebSocket-Version": "13",
        "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
    }
    r = await client.get(f"/ws_api/account/{ACC}/messaging/nowhere?v=2.1", headers=headers)
    assert r.status == 404
    (e,) = await entries(client, "?limit=1")
    assert e["target"] == "ws_connect" and e["status"] == 404 and e["error"] == "Not Found"


async def test_journal_is_a_ring_buffer_memory_stays_flat(aiohttp_client: Any) -> None:
    client = await aiohttp_client(create_app(Settings(port=0, journal_size=5)))
    for _ in range(12):
        await client.get(f"/api/account/{ACC}/service/baseURI.json")
    found = await entries(client)
    assert len(found) == 5
    assert [e["id"] for e in found] == list(range(8, 13))


def test_cap_holds_for_many_entries() -> None:
    journal = Journal(1000, lambda: 0)
    for _i in range(50_000):
        journal.record("send", "a", body=b"{}", status=200)
    assert len(journal) == 1000
    assert journal.entries[0].id == 49_001


async def test_delete_clears_all_or_one_account(client: TestClient) -> None:
    await client.get("/api/account/A/service/baseURI.json")
    await client.get("/api/account/B/service/baseURI.json")
    r = await client.delete("/_mockle/requests?account=A")
    assert (await r.json()) == {"deleted": 1}
    assert [e["account"] for e in await entries(client)] == ["B"]
    await client.delete("/_mockle/requests")
    assert await entries(client) == []


async def test_engine_reset_of_an_account_clears_its_entries(client: TestClient) -> None:
    await client.get("/api/account/A/service/baseURI.json")
    await client.get("/api/account/B/service/baseURI.json")
    client.server.app[RUNTIME].engine.reset("A")
    assert [e["account"] for e in await entries(client)] == ["B"]


async def test_long_poll_answers_when_the_entry_arrives(client: TestClient) -> None:
    waiting = asyncio.ensure_future(entries(client, "?target=csds&wait=10&min=2"))
    await asyncio.sleep(0)  # let the poll start; the answer must wait for the requests
    await client.get(f"/api/account/{ACC}/service/baseURI.json")
    assert not waiting.done()
    await client.get(f"/api/account/{ACC}/service/baseURI.json")
    found = await asyncio.wait_for(waiting, 5)
    assert len(found) == 2


async def test_long_poll_times_out_with_what_there_is(client: TestClient) -> None:
    found = await entries(client, "?target=send&wait=0.05")
    assert found == []
    r = await client.get("/_mockle/requests?wait=9999")
    assert r.status == 400


async def test_ws_frames_and_webhook_attempts_are_entries_too(client: TestClient) -> None:
    journal = client.server.app[RUNTIME].journal
    session = Session("s1", ACC)
    journal.ws_frame(
        "in",
        '{"kind":"req","id":"1","type":".ams.ms.PublishEvent","body":{"dialogId":"c1"}}',
        session,
    )
    journal.ws_frame(
        "out", {"kind": "resp", "reqId": "1", "code": 200, "body": {"sequence": 0}}, session
    )
    journal.record(
        "webhook",
        ACC,
        method="POST",
        path="https://hook.example/x",
        body={"type": "ms.MessagingEventNotification", "body": {"changes": []}},
        status=500,
        type="ms.MessagingEventNotification.ContentEvent",
    )
    ws = await entries(client, "?target=ws")
    assert [e["direction"] for e in ws] == ["in", "out"]
    assert ws[0]["body"]["type"] == ".ams.ms.PublishEvent"
    assert len(await entries(client, "?target=ws&direction=in&type=ms.PublishEvent")) == 1
    assert len(await entries(client, "?conversation_id=c1")) == 1
    hooks = await entries(client, "?target=webhook&type=ContentEvent")
    assert hooks[0]["status"] == 500


def test_targets_of_paths() -> None:
    assert target_of_path("/api/account/a/service/baseURI.json") == "csds"
    assert target_of_path("/csdr/account/a/service/idp/baseURI.json") == "csds"
    assert target_of_path("/sentinel/api/account/a/app/token") == "sentinel"
    assert target_of_path("/api/account/a/consumer") == "idp"
    assert target_of_path("/api/account/a/signup") == "idp"
    assert target_of_path("/api/account/a/messaging/consumer/conversation") == "conversation"
    assert target_of_path("/api/account/a/messaging/consumer/conversation/send") == "send"
    assert target_of_path("/ws_api/account/a/messaging/consumer") == "ws_connect"
    assert target_of_path("/_mockle/faults") is None
    assert target_of_path("/v1/AUTH_async-images/a/x.PNG") == "other"


def test_bodies_are_shown_parsed_or_as_truncated_text() -> None:
    journal = Journal(10, lambda: 0)
    e = journal.record("send", "a", body=b"x" * 20_000, response=b'{"a": 1}', status=200)
    shown = e.as_json()
    assert shown["body"].endswith("…") and len(shown["body"]) == 16_385
    assert shown["response"] == {"a": 1}


async def test_a_journal_long_poll_answers_at_once_when_mockle_shuts_down() -> None:
    import aiohttp

    from mockle.server import MockleServer

    server = MockleServer(Settings(port=0, agent="manual"))
    await server.start()
    async with aiohttp.ClientSession() as http:
        journal = server.runtime.journal
        waiting = asyncio.Event()
        wait_for = journal.wait_for

        async def spy(*args: Any, **kwargs: Any) -> Any:
            waiting.set()  # wait_for registers its waiter before it first yields
            return await wait_for(*args, **kwargs)

        journal.wait_for = spy  # type: ignore[method-assign]
        poll = asyncio.create_task(http.get(f"{server.url}/_mockle/requests?wait=60&after=999"))
        await asyncio.wait_for(waiting.wait(), 5)
        loop = asyncio.get_running_loop()
        began = loop.time()
        await server.stop()
        resp = await asyncio.wait_for(poll, 5)
        assert resp.status == 200 and (await resp.json()) == {"requests": []}
        assert loop.time() - began < 2  # not the 5 s shutdown timeout
