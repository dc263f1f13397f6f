"""The first user journey, as a connector does it, against `mockle serve` over real HTTP.

CSDS -> Sentinel -> IDP consumer -> CONVERSATION -> SEND text, typing, accept/read, close, CSAT.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import jwt
import pytest

from tests.integration.served import mockle_serve

ACC = "le81823118"


@pytest.fixture
async def served() -> AsyncIterator[str]:
    async with mockle_serve(env={"MOCKLE_AGENT": "manual"}) as url:
        yield url


async def _json(resp: aiohttp.ClientResponse, status: int) -> Any:
    assert resp.status == status, await resp.text()
    return await resp.json()


async def test_token_flow_end_to_end(served: str) -> None:
    async with aiohttp.ClientSession() as http:
        doc = await _json(
            await http.get(f"{served}/api/account/{ACC}/service/baseURI.json?version=1.0"), 200
        )
        domains = {e["service"]: e["baseURI"] for e in doc["baseURIs"]}
        sentinel, idp, messaging = (
            f"http://{domains[s]}" for s in ("sentinel", "idp", "asyncMessagingEnt")
        )

        tok = await _json(
            await http.post(
                f"{sentinel}/sentinel/api/account/{ACC}/app/token?v=1.0&grant_type=client_credentials",
                data={
                    "client_id": "75588e18-0213-4e33-8174-883acac7e3c4",
                    "client_secret": "kgvbkk7glku72jgtmpi6l4a872",
                },
            ),
            200,
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

        items = await _json(
            await http.post(
                f"{base}?v=3",
                json=[
                    {"kind": "req", "id": "1,", "type": "userprofile.SetUserProfile", "body": {}},
                    {
                        "kind": "req",
                        "id": "2,",
                        "type": "cm.ConsumerRequestConversation",
                        "body": {"brandId": ACC},
                    },
                ],
                headers=headers,
            ),
            200,
        )
        conv = items[1]["body"]["conversationId"]

        async def send(rid: str, body: dict[str, Any], status: int = 200) -> Any:
            return await _json(
                await http.post(
                    f"{base}/send?v=3", json={"kind": "req", "id": rid, **body}, headers=headers
                ),
                status,
            )

        def publish(event: dict[str, Any]) -> dict[str, Any]:
            return {"type": "ms.PublishEvent", "body": {"dialogId": conv, "event": event}}

        assert await send(
            "1", publish({"type": "ContentEvent", "contentType": "text/plain", "message": "hi"})
        ) == {"reqId": "1", "code": "OK", "body": {"sequence": 0}}
        assert (await send("2", publish({"type": "ChatStateEvent", "chatState": "COMPOSING"})))[
            "body"
        ] == {"sequence": 0}
        assert (
            await send(
                "3", publish({"type": "AcceptStatusEvent", "status": "READ", "sequenceList": [0]})
            )
        )["body"] == {"sequence": 1}
        close = {
            "type": "cm.UpdateConversationField",
            "body": {
                "conversationId": conv,
                "conversationField": {
                    "field": "ConversationStateField",
                    "conversationState": "CLOSE",
                },
            },
        }
        assert (await send("4", close))["body"] == {"msg": "OK Conversation resolved successfully"}
        csat = {
            "type": "cm.UpdateConversationField",
            "body": {
                "conversationId": conv,
                "conversationField": {
                    "field": "CSATRate",
                    "csatRate": 5,
                    "csatResolutionConfirmation": True,
                    "status": "FILLED",
                },
            },
        }
        assert (await send("5", csat))["code"] == "OK"
        failed = await send(
            "6",
            publish({"type": "ContentEvent", "contentType": "text/plain", "message": "late"}),
            400,
        )
        assert failed == {
            "code": "BAD_REQUEST",
            "body": {"msg": "Bad Request, Conversation is close"},
            "reqId": "6",
        }
        assert len(consumer) == 64
