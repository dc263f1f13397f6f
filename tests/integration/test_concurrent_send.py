"""Sequences stay gap-free and ordered under many concurrent SENDs over real HTTP."""

from __future__ import annotations

import asyncio

import aiohttp

from mockle.server import MockleServer
from mockle.settings import Settings

ACC = "le1000"


async def test_concurrent_sends_take_every_sequence_once() -> None:
    async with MockleServer(Settings(port=0, agent="manual")) as server:
        engine = server.engine
        app = engine.tokens.mint_app_jwt(ACC, "c", 3600)
        jws = engine.tokens.mint_consumer_jws(ACC, "x", 0)
        headers = {"Authorization": app, "X-LP-ON-BEHALF": jws}
        base = f"{server.url}/api/account/{ACC}/messaging/consumer/conversation"
        conn = aiohttp.TCPConnector(limit=50)
        async with aiohttp.ClientSession(connector=conn) as http:
            batch = [
                {"id": "1", "type": "userprofile.SetUserProfile", "body": {}},
                {"id": "2", "type": "cm.ConsumerRequestConversation", "body": {}},
            ]
            async with http.post(f"{base}?v=3", json=batch, headers=headers) as r:
                conv = (await r.json())[1]["body"]["conversationId"]

            async def one(i: int) -> int:
                event = {"type": "ContentEvent", "contentType": "text/plain", "message": f"m{i}"}
                body = {
                    "id": str(i),
                    "type": "ms.PublishEvent",
                    "body": {"dialogId": conv, "event": event},
                }
                async with http.post(f"{base}/send?v=3", json=body, headers=headers) as r:
                    assert r.status == 200
                    doc = await r.json()
                    assert doc["reqId"] == str(i)
                    return int(doc["body"]["sequence"])

            seqs = await asyncio.wait_for(asyncio.gather(*(one(i) for i in range(300))), 60)
        assert sorted(seqs) == list(range(300))
        stored = engine.conversation(ACC, conv).main.events
        assert [e.sequence for e in stored] == list(range(300))
        by_seq = {s: i for i, s in enumerate(seqs)}
        assert all(stored[s].change["event"]["message"] == f"m{by_seq[s]}" for s in range(300))
