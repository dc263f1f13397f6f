"""Helpers for the test-toolkit web tests: a consumer's tokens and Connector API calls."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import jwt
from aiohttp.test_utils import TestClient

ACC = "le12345678"


@dataclass
class Who:
    account: str
    app: str
    jws: str

    @property
    def consumer_id(self) -> str:
        return str(jwt.decode(self.jws, options={"verify_signature": False})["lp_consumer_id"])

    def headers(self) -> dict[str, str]:
        return {"Authorization": self.app, "X-LP-ON-BEHALF": self.jws}


async def consumer(client: TestClient, ext: str = "ext", account: str = ACC) -> Who:
    r = await client.post(
        f"/sentinel/api/account/{account}/app/token?v=1.0&grant_type=client_credentials",
        data={"client_id": "cid", "client_secret": "sec"},
    )
    assert r.status == 200, await r.text()
    app = str((await r.json())["access_token"])
    r = await client.post(
        f"/api/account/{account}/consumer?v=1.0",
        json={"ext_consumer_id": ext},
        headers={"Authorization": app},
    )
    assert r.status == 201, await r.text()
    return Who(account, app, str((await r.json())["token"]))


def batch() -> list[dict[str, Any]]:
    return [
        {"kind": "req", "id": "1,", "type": "userprofile.SetUserProfile", "body": {}},
        {"kind": "req", "id": "2,", "type": "cm.ConsumerRequestConversation", "body": {}},
    ]


def text(conv_id: str, message: str = "hello") -> dict[str, Any]:
    return {
        "kind": "req",
        "id": "1",
        "type": "ms.PublishEvent",
        "body": {
            "dialogId": conv_id,
            "event": {"type": "ContentEvent", "contentType": "text/plain", "message": message},
        },
    }


def conv_path(account: str = ACC) -> str:
    return f"/api/account/{account}/messaging/consumer/conversation?v=3"


def send_path(account: str = ACC) -> str:
    return f"/api/account/{account}/messaging/consumer/conversation/send?v=3"


async def open_conversation(client: TestClient, who: Who) -> str:
    r = await client.post(conv_path(who.account), json=batch(), headers=who.headers())
    assert r.status == 200, await r.text()
    return str((await r.json())[1]["body"]["conversationId"])


async def send_text(client: TestClient, who: Who, conv_id: str, message: str = "hello") -> Any:
    return await client.post(
        send_path(who.account), json=text(conv_id, message), headers=who.headers()
    )
