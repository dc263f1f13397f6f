"""Concurrency: many writers into one conversation, many consumers at once (bounded)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import aiohttp
import orjson
import pytest

from tests.robustness.conftest import Served, ws_answer
from tests.robustness.helpers import ACC, SEND, state_violations, subscribe_events, text_event

pytestmark = pytest.mark.timeout(120)


async def test_1000_concurrent_sends_take_sequences_0_to_999_and_a_subscriber_sees_them_all(
    serve: Any,
) -> None:
    s: Served = await serve()
    headers = s.headers("writer")
    conv = await s.open_conversation(headers)
    watcher = await s.ws(s.jws("writer"))
    await watcher.send_str(orjson.dumps(subscribe_events(conv)).decode())
    assert (await ws_answer(watcher))["code"] == 200
    seen: list[int] = []
    done = asyncio.Event()

    async def watch() -> None:
        while len(seen) < 1000:
            doc = orjson.loads((await watcher.receive(timeout=60)).data)
            if doc.get("type") == "ms.MessagingEventNotification":
                seen.extend(c["sequence"] for c in doc["body"]["changes"] if "sequence" in c)
        done.set()

    watching = asyncio.create_task(watch())
    connector = aiohttp.TCPConnector(limit=100)
    async with aiohttp.ClientSession(connector=connector) as http:

        async def one(i: int) -> int:
            body = orjson.dumps(text_event(conv, f"m{i}", rid=str(i)))
            async with http.post(s.server.url + SEND, data=body, headers=headers) as r:
                doc = await r.json()
                assert r.status == 200, doc
                assert doc["reqId"] == str(i)
                return int(doc["body"]["sequence"])

        seqs = await asyncio.wait_for(asyncio.gather(*(one(i) for i in range(1000))), 90)
    await asyncio.wait_for(done.wait(), 30)
    await watching
    assert sorted(seqs) == list(range(1000))
    assert seen == list(range(1000)), "the subscriber saw every sequence once, in order"
    stored = s.engine.conversation(ACC, conv).main.events
    assert [e.sequence for e in stored] == list(range(1000))
    by_seq = {seq: i for i, seq in enumerate(seqs)}
    assert all(stored[q].change["event"]["message"] == f"m{by_seq[q]}" for q in range(1000))
    await watcher.close()
    assert not s.problems(), s.problems()


async def test_500_consumers_with_sockets_and_conversations_at_once(serve: Any) -> None:
    s: Served = await serve()
    count = 500
    tokens = [s.jws(f"crowd-{i}") for i in range(count)]
    connector = aiohttp.TCPConnector(limit=0)
    start = time.monotonic()
    async with aiohttp.ClientSession(connector=connector) as http:
        url = s.ws_url

        async def consumer(i: int) -> tuple[str, int]:
            ws = await http.ws_connect(url, headers={"Authorization": f"jwt {tokens[i]}"})
            try:
                ask = {"kind": "req", "id": "c", "type": "cm.ConsumerRequestConversation"}
                await ws.send_str(orjson.dumps(ask).decode())
                answer = await ws_answer(ws, 60)
                assert answer["code"] == 200, answer
                conv = str(answer["body"]["conversationId"])
                await ws.send_str(orjson.dumps(subscribe_events(conv)).decode())
                assert (await ws_answer(ws, 60))["code"] == 200
                await ws.send_str(orjson.dumps(text_event(conv, f"hello {i}", rid="p")).decode())
                answer = await ws_answer(ws, 60)
                assert answer["code"] == 200, answer
                while True:  # our own message comes back to us
                    doc = orjson.loads((await ws.receive(timeout=60)).data)
                    changes = doc.get("body", {}).get("changes", [])
                    if any(c.get("event", {}).get("message") == f"hello {i}" for c in changes):
                        break
                return conv, int(answer["body"]["sequence"])
            finally:
                await ws.close()

        results = await asyncio.wait_for(asyncio.gather(*(consumer(i) for i in range(count))), 90)
    elapsed = time.monotonic() - start
    convs = {conv for conv, _ in results}
    assert len(convs) == count, "one conversation each"
    assert all(seq == 0 for _, seq in results)
    acc = s.engine.accounts[ACC]
    assert len(acc.conversations) == count
    assert not state_violations(s.engine)
    assert elapsed < 60, f"500 consumers took {elapsed:.1f} s"
    assert not s.problems(), s.problems()
