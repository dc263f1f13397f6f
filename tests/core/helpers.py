"""Small helpers for core tests: tokens and Connector API calls without a server."""

from __future__ import annotations

from typing import Any

import orjson

from mockle.core import connector
from mockle.core.connector import RestCall, RestReply
from mockle.core.engine import Effects, Engine

ACCOUNT = "le12345678"


def tokens(engine: Engine, ext_id: str = "ext-1", account: str = ACCOUNT) -> tuple[str, str]:
    app = engine.tokens.mint_app_jwt(account, "client-1", 3600)
    jws = engine.tokens.mint_consumer_jws(account, ext_id, 0)
    return app, jws


def call(
    engine: Engine,
    body: Any,
    *,
    app: str | None,
    jws: str | None,
    props: str | None = None,
    account: str = ACCOUNT,
) -> RestCall:
    raw = body if isinstance(body, bytes) else orjson.dumps(body)
    return RestCall(account, app, jws, props, raw)


def open_conversation(
    engine: Engine, ext_id: str = "ext-1", props: str | None = None
) -> tuple[str, str, str]:
    app, jws = tokens(engine, ext_id)
    reply, _ = connector.conversation(engine, call(engine, batch(), app=app, jws=jws, props=props))
    assert reply.status == 200, reply.body
    return app, jws, reply.body[1]["body"]["conversationId"]


def batch(request_body: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    return [
        {"kind": "req", "id": "1,", "type": "userprofile.SetUserProfile", "body": {}},
        {
            "kind": "req",
            "id": "2,",
            "type": "cm.ConsumerRequestConversation",
            "body": request_body or {"brandId": ACCOUNT},
        },
    ]


def text(conv_id: str, message: str = "hello", rid: Any = "1") -> dict[str, Any]:
    return {
        "kind": "req",
        "id": rid,
        "type": "ms.PublishEvent",
        "body": {
            "dialogId": conv_id,
            "event": {"type": "ContentEvent", "contentType": "text/plain", "message": message},
        },
    }


def send(
    engine: Engine, body: Any, app: str, jws: str, props: str | None = None
) -> tuple[RestReply, Effects]:
    return connector.send(engine, call(engine, body, app=app, jws=jws, props=props))
