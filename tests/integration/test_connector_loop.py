"""The issue's full connector loop against ``mockle serve`` over real HTTP.

Install an app (``--app FILE``) whose webhooks point at a real receiver, get tokens, open a
conversation, send text; the default echo agent joins, reads, types and answers; the receiver
gets every webhook in order, each with a signature it verifies; the consumer closes; the
receiver gets the closing UPSERT.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import jwt
import pytest

from tests.integration.served import mockle_serve

from .webhook_receiver import Receiver

ACC = "le81823118"
CLIENT_ID = "75588e18-0213-4e33-8174-883acac7e3c4"
SECRET = "kgvbkk7glku72jgtmpi6l4a872"
ROUTES = {
    "cqm.ExConversationChangeNotification": "ExConversationChangeNotification",
    "ms.MessagingEventNotification.ContentEvent": "contentevent",
    "ms.MessagingEventNotification.RichContentEvent": "richcontentevent",
    "ms.MessagingEventNotification.AcceptStatusEvent": "AcceptStatusEvent",
    "ms.MessagingEventNotification.ChatStateEvent": "chatstateevent",
}


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    async with Receiver(SECRET) as r:
        yield r


@pytest.fixture
async def served(receiver: Receiver, tmp_path: Path) -> AsyncIterator[str]:
    manifest = {
        "account": ACC,
        "client_name": "loop test connector",
        "client_id": CLIENT_ID,
        "client_secret": SECRET,
        "capabilities": {
            "webhooks": {
                key: {
                    "endpoint": f"{receiver.url}/api/LivePerson/{route}",
                    "max_retries": 2,
                    "headers": [{"header_name": "X-Connector", "header_value": "loop"}],
                }
                for key, route in ROUTES.items()
            }
        },
    }
    app_file = tmp_path / "app.json"
    app_file.write_text(json.dumps(manifest))
    args = ("--strict-apps", "--app", str(app_file))
    async with mockle_serve(*args, env={"MOCKLE_AGENT_DELAY_MS": "0"}) as url:
        yield url


async def _json(resp: aiohttp.ClientResponse, status: int) -> Any:
    assert resp.status == status, await resp.text()
    return await resp.json()


async def test_full_connector_loop(served: str, receiver: Receiver) -> None:
    async with aiohttp.ClientSession() as http:
        health = await _json(await http.get(f"{served}/_mockle/health"), 200)
        assert health == {"status": "ok"}
        doc = await _json(
            await http.get(f"{served}/api/account/{ACC}/service/baseURI.json?version=1.0"), 200
        )
        domains = {e["service"]: e["baseURI"] for e in doc["baseURIs"]}
        sentinel, idp, messaging = (
            f"http://{domains[s]}" for s in ("sentinel", "idp", "asyncMessagingEnt")
        )
        token_url = (
            f"{sentinel}/sentinel/api/account/{ACC}/app/token?v=1.0&grant_type=client_credentials"
        )
        tok = await _json(
            await http.post(token_url, data={"client_id": CLIENT_ID, "client_secret": SECRET}), 200
        )
        app = tok["access_token"]
        jws = (
            await _json(
                await http.post(
                    f"{idp}/api/account/{ACC}/consumer?v=1.0",
                    json={"ext_consumer_id": "John_Doe_facebook12345"},
                    headers={"Authorization": app},
                ),
                201,
            )
        )["token"]
        consumer = jwt.decode(jws, options={"verify_signature": False})["lp_consumer_id"]
        headers = {"Authorization": app, "X-LP-ON-BEHALF": jws}
        base = f"{messaging}/api/account/{ACC}/messaging/consumer/conversation"
        batch = [
            {"kind": "req", "id": "1,", "type": "userprofile.SetUserProfile", "body": {}},
            {
                "kind": "req",
                "id": "2,",
                "type": "cm.ConsumerRequestConversation",
                "body": {"brandId": ACC},
            },
        ]
        conv = (await _json(await http.post(f"{base}?v=3", json=batch, headers=headers), 200))[1][
            "body"
        ]["conversationId"]
        text = {
            "type": "ContentEvent",
            "contentType": "text/plain",
            "message": "Hello from Consumer",
        }
        send = {
            "kind": "req",
            "id": "1",
            "type": "ms.PublishEvent",
            "body": {"dialogId": conv, "event": text},
        }
        assert (await _json(await http.post(f"{base}/send?v=3", json=send, headers=headers), 200))[
            "body"
        ] == {"sequence": 0}

        hits = await receiver.take(7)
        for hit in hits:
            assert hit.signed, hit
            assert hit.headers["X-Liveperson-Account-Id"] == ACC
            assert hit.headers["X-Liveperson-Client-Id"] == CLIENT_ID
            assert hit.headers["X-Liveperson-Signature"].startswith("sha1=")
            assert hit.headers["Content-Type"] == "application/json"
            assert hit.headers["X-Connector"] == "loop"
            assert hit.conversation_id == conv
        assert [h.path.rsplit("/", 1)[1] for h in hits] == [
            "ExConversationChangeNotification",
            "contentevent",
            "ExConversationChangeNotification",
            "AcceptStatusEvent",
            "chatstateevent",
            "chatstateevent",
            "contentevent",
        ]
        created, mine, joined, read, composing, active, answer = (h.change for h in hits)
        assert created["result"]["conversationDetails"]["participants"] == [
            {"id": consumer, "role": "CONSUMER"}
        ]
        assert mine["sequence"] == 0 and mine["originatorId"] == consumer
        agent = joined["result"]["conversationDetails"]["participants"][0]
        assert agent["role"] == "ASSIGNED_AGENT"
        assert read["sequence"] == 1 and read["event"] == {
            "type": "AcceptStatusEvent",
            "status": "READ",
            "sequenceList": [0],
        }
        assert composing["event"] == {"type": "ChatStateEvent", "chatState": "COMPOSING"}
        assert active["event"] == {"type": "ChatStateEvent", "chatState": "ACTIVE"}
        assert "sequence" not in composing and "sequence" not in active
        assert answer["sequence"] == 2
        assert answer["event"] == {
            "type": "ContentEvent",
            "contentType": "text/plain",
            "message": "echo: Hello from Consumer",
        }
        for ch in (read, composing, active, answer):
            assert ch["originatorMetadata"] == {"id": agent["id"], "role": "ASSIGNED_AGENT"}
            assert ch["conversationId"] == ch["dialogId"] == conv

        close = {
            "kind": "req",
            "id": "2",
            "type": "cm.UpdateConversationField",
            "body": {
                "conversationId": conv,
                "conversationField": [
                    {"field": "ConversationStateField", "conversationState": "CLOSE"}
                ],
            },
        }
        reply = await _json(await http.post(f"{base}/send?v=3", json=close, headers=headers), 200)
        assert reply["body"] == {"msg": "OK Conversation resolved successfully"}
        closing = await receiver.next()
        assert closing.signed and closing.path.endswith("/ExConversationChangeNotification")
        result = closing.change["result"]
        assert result["convId"] == conv and result["effectiveTTR"] == -1
        details = result["conversationDetails"]
        assert (details["state"], details["stage"], details["closeReason"]) == (
            "CLOSE",
            "CLOSE",
            "CONSUMER",
        )
        assert details["dialogs"][0]["closedBy"] == "CONSUMER"

        log = await _json(
            await http.get(f"{served}/_mockle/webhooks/deliveries?account={ACC}&wait=5&min=8"), 200
        )
        assert [d["delivered"] for d in log["deliveries"]] == [True] * 8
        assert all(
            len(d["attempts"]) == 1 and d["attempts"][0]["status"] == 200 for d in log["deliveries"]
        )
        assert receiver.hits.empty()
