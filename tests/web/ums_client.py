"""A small JSON-frame client over aiohttp's WebSocket client, for the UMS socket tests."""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import ClientWebSocketResponse, WSMsgType
from aiohttp.test_utils import TestClient

from mockle.web.runtime import RUNTIME, Runtime

ACC = "le12345678"
WS = f"/ws_api/account/{ACC}/messaging/consumer"
WAIT = 5.0  # every wait is bounded


class Ws:
    def __init__(self, ws: ClientWebSocketResponse) -> None:
        self.ws = ws

    async def send(self, frame: Any) -> None:
        await self.ws.send_str(orjson.dumps(frame).decode())

    async def recv(self) -> dict[str, Any]:
        msg = await self.ws.receive(timeout=WAIT)
        assert msg.type is WSMsgType.TEXT, (msg.type, msg.data, msg.extra)
        doc = orjson.loads(msg.data)
        assert isinstance(doc, dict)
        return doc

    async def req(self, frame: Any) -> dict[str, Any]:
        """Send a request and return the next frame (its resp)."""
        await self.send(frame)
        resp = await self.recv()
        assert resp["kind"] == "resp", resp
        return resp

    async def closed(self) -> tuple[int | None, str]:
        """Wait for the server's close; its code and reason."""
        while True:
            msg = await self.ws.receive(timeout=WAIT)
            if msg.type in (WSMsgType.CLOSE, WSMsgType.CLOSED, WSMsgType.CLOSING):
                return self.ws.close_code, str(msg.extra or "")
            assert msg.type is not WSMsgType.ERROR, msg


async def connect(client: TestClient, path: str = WS + "?v=3", **kw: Any) -> Ws:
    return Ws(await client.ws_connect(path, **kw))


async def signup(client: TestClient, account: str = ACC) -> str:
    r = await client.post(f"/api/account/{account}/signup")
    assert r.status == 200, await r.text()
    return str((await r.json())["jwt"])


def runtime(client: TestClient) -> Runtime:
    return client.server.app[RUNTIME]
