"""LivePerson's official agent SDK (npm ``node-agent-sdk`` 1.2.0, unmodified) against
``mockle serve --tls``: a bot written on it logs in, takes a ring, holds a conversation with a
consumer on the consumer socket, is kicked with 4401, logs in again and goes on, then closes.

The SDK is installed from ``tests/integration/agent_sdk/package-lock.json`` (``.ci/run`` runs
``npm ci``; the fixture does it when ``node_modules`` is missing). Skipped only where node is
absent. Every wait is on an event (a line the bot prints, a frame the consumer receives), bounded.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import ssl
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest

from tests.integration.served import mockle_serve_banner
from tests.integration.webhook_receiver import Receiver

HERE = Path(__file__).parent / "agent_sdk"
ACCOUNT = "le90210"
WAIT = 20.0

pytestmark = pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")


@pytest.fixture(scope="module")
def sdk() -> Path:
    if not (HERE / "node_modules" / "node-agent-sdk").is_dir():
        subprocess.run(
            ["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=HERE,
            check=True,
            timeout=180,
        )
    return HERE / "bot.js"


class Mockle:
    def __init__(self, banner: list[str]) -> None:
        self.url = banner[0].split(" on ", 1)[1].strip()
        self.address = self.url.removeprefix("https://")
        ca = next(line for line in banner if line.startswith("export NODE_EXTRA_CA_CERTS="))
        self.ca = ca.split("=", 1)[1].strip().strip("'\"")
        self.ssl = ssl.create_default_context(cafile=self.ca)
        self.http = aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=self.ssl))


@contextlib.asynccontextmanager
async def served(tmp_path: Path, *args: str) -> AsyncIterator[Mockle]:
    async with mockle_serve_banner("--tls", "--tls-dir", str(tmp_path / "tls"), *args) as banner:
        m = Mockle(banner)
        try:
            yield m
        finally:
            await m.http.close()


@pytest.fixture
async def mockle(tmp_path: Path) -> AsyncIterator[Mockle]:
    # the simulated agent stays on (echo): it must leave the bot's conversation alone
    async with served(tmp_path, "--agent-delay-ms", "0") as m:
        yield m


@pytest.fixture
async def manual(tmp_path: Path) -> AsyncIterator[Mockle]:
    # no simulated agent: a conversation waits in the queue until a real agent comes
    async with served(tmp_path, "--agent", "manual") as m:
        yield m


class Bot:
    """The node bot as a subprocess; its JSON lines, waited on one by one."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.seen: list[dict[str, Any]] = []

    async def wait(self, event: str, **match: Any) -> dict[str, Any]:
        for line in self.seen:
            if line["event"] == event and all(line.get(k) == v for k, v in match.items()):
                self.seen.remove(line)
                return line
        assert self.proc.stdout is not None
        while True:
            raw = await asyncio.wait_for(self.proc.stdout.readline(), WAIT)
            assert raw, f"the bot exited waiting for {event} {match}; it said {self.seen}"
            line = json.loads(raw)
            if line["event"] == event and all(line.get(k) == v for k, v in match.items()):
                return line
            self.seen.append(line)

    def problems(self) -> list[dict[str, Any]]:
        return [line for line in self.seen if line["event"] in ("error", "warn")]


async def start_bot(sdk: Path, mockle: Mockle, **env: str) -> Bot:
    full = {
        "PATH": os.environ["PATH"],
        "NODE_EXTRA_CA_CERTS": mockle.ca,  # the line mockle printed: verification stays on
        "ACCOUNT": ACCOUNT,
        "CSDS": mockle.address,
        **env,
    }
    proc = await asyncio.create_subprocess_exec(
        "node", str(sdk), stdout=asyncio.subprocess.PIPE, env=full, cwd=HERE
    )
    return Bot(proc)


async def stop(bot: Bot) -> None:
    if bot.proc.returncode is None:
        bot.proc.kill()
    await asyncio.wait_for(bot.proc.wait(), WAIT)


class Consumer:
    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.n = 0

    async def req(self, type_name: str, body: Any) -> dict[str, Any]:
        self.n += 1
        rid = str(self.n)
        await self.ws.send_str(
            orjson.dumps({"kind": "req", "id": rid, "type": type_name, "body": body}).decode()
        )
        while True:
            frame = await self.next()
            if frame.get("reqId") == rid:
                return frame

    async def next(self) -> dict[str, Any]:
        msg = await self.ws.receive(timeout=WAIT)
        assert msg.type is aiohttp.WSMsgType.TEXT, msg
        doc: dict[str, Any] = orjson.loads(msg.data)
        return doc

    async def agent_event(self, kind: str) -> dict[str, Any]:
        """The next event of ``kind`` (ContentEvent, AcceptStatusEvent) not the consumer's own."""
        while True:
            frame = await self.next()
            if frame.get("type") != "ms.MessagingEventNotification":
                continue
            for change in frame["body"]["changes"]:
                if (
                    change["event"]["type"] == kind
                    and change["originatorMetadata"]["role"] != "CONSUMER"
                ):
                    return dict(change)


async def consumer(mockle: Mockle) -> tuple[Consumer, str]:
    r = await mockle.http.post(f"{mockle.url}/api/account/{ACCOUNT}/signup")
    jwt = (await r.json())["jwt"]
    ws = await mockle.http.ws_connect(
        f"wss://{mockle.address}/ws_api/account/{ACCOUNT}/messaging/consumer?v=3",
        headers={"Authorization": f"jwt {jwt}"},
    )
    c = Consumer(ws)
    await c.req("userprofile.SetUserProfile", {"firstName": "Grace", "lastName": "Hopper"})
    got = await c.req("cm.ConsumerRequestConversation", {"brandId": ACCOUNT})
    conv = got["body"]["conversationId"]
    assert (await c.req("ms.SubscribeMessagingEvents", {"dialogId": conv}))["code"] == 200
    return c, conv


async def say(c: Consumer, conv: str, text: str) -> None:
    event = {"type": "ContentEvent", "contentType": "text/plain", "message": text}
    resp = await c.req("ms.PublishEvent", {"dialogId": conv, "event": event})
    assert resp["code"] == 200, resp


async def test_an_sdk_bot_takes_a_ring_answers_survives_4401_and_closes(
    sdk: Path, mockle: Mockle
) -> None:
    bot = await start_bot(sdk, mockle, BOT_USER="echo-bot", BOT_PASSWORD="any", RECONNECT="1")
    try:
        hello = await bot.wait("connected")
        assert hello["agentId"] and hello["userId"]
        assert (await bot.wait("state"))["body"] == "Agent state updated successfully"
        await bot.wait("subscribed", what="routing")

        c, conv = await consumer(mockle)
        ring = await bot.wait("ring", ringState="WAITING")
        assert ring["ringId"].startswith(f"{conv}_{ACCOUNT}_")
        accepted = await bot.wait("accepted", ringId=ring["ringId"])
        assert accepted["err"] is None and accepted["body"] == "Ring state updated successfully"
        joined = await bot.wait("joined", convId=conv)
        assert joined["role"] == "ASSIGNED_AGENT"
        # the SDK turned the consumer's profile into its SDE list
        assert "Grace" in json.dumps(joined["profile"])
        assert (await c.agent_event("ContentEvent"))["event"][
            "message"
        ] == "Just joined to conversation"

        await say(c, conv, "hello bot")
        read = await c.agent_event("AcceptStatusEvent")
        assert read["event"]["status"] == "READ"
        echo = await c.agent_event("ContentEvent")
        assert echo["event"]["message"] == "echo : hello bot"
        assert echo["originatorMetadata"]["id"] == hello["agentId"]

        # the control API revokes the bot's bearer: its socket closes 4401; it logs in again
        r = await mockle.http.post(
            f"{mockle.url}/_mockle/tokens/expire",
            json={"account": ACCOUNT, "agent_id": hello["agentId"]},
        )
        assert (await r.json())["closed"] == 1
        assert (await bot.wait("closed"))["code"] == 4401
        again = await bot.wait("connected")
        assert again["agentId"] == hello["agentId"]  # the same agent: stable ids per login name
        await bot.wait("subscribed", what="conversations")

        await say(c, conv, "still there?")
        assert (await c.agent_event("AcceptStatusEvent"))["event"]["status"] == "READ"
        assert (await c.agent_event("ContentEvent"))["event"]["message"] == "echo : still there?"

        await say(c, conv, "#close")
        closed = await bot.wait("close", convId=conv)
        assert closed["err"] is None and closed["body"] == "OK Conversation resolved successfully"
        await bot.wait("gone", convId=conv)

        r = await mockle.http.get(f"{mockle.url}/_mockle/conversations/{conv}")
        state = await r.json()
        assert state["state"] == "CLOSE" and state["closeReason"] == "AGENT"
        # the simulated echo agent never spoke in the bot's conversation
        r = await mockle.http.get(
            f"{mockle.url}/_mockle/requests", params={"conversation_id": conv, "limit": "1000"}
        )
        assert r.status == 200
        journal = json.dumps(await r.json())
        assert "echo : hello bot" in journal and "echo: " not in journal
        assert bot.problems() == []
        await c.ws.close()
    finally:
        await stop(bot)


async def test_token_auth_needs_a_bearer_mockle_issued(sdk: Path, mockle: Mockle) -> None:
    r = await mockle.http.post(
        f"{mockle.url}/api/account/{ACCOUNT}/login?v=1.3", json={"username": "tok", "password": "x"}
    )
    login = await r.json()
    bot = await start_bot(
        sdk, mockle, BOT_TOKEN=login["bearer"], BOT_USER_ID=login["config"]["userId"]
    )
    try:
        await bot.wait("connected")
        routing = await bot.wait("subscribed", what="routing")  # brandId is missing: accepted
        assert routing["err"] is None and routing["body"]["subscriptionId"]
    finally:
        await stop(bot)
    bad = await start_bot(sdk, mockle, BOT_TOKEN="f" * 64, BOT_USER_ID="1")
    try:
        assert (await bad.wait("closed"))["code"] == 4401
    finally:
        await stop(bad)


SECRET = "sdk-test-secret"
CONTENT_HOOK = "ms.MessagingEventNotification.ContentEvent"
CQM_HOOK = "cqm.ExConversationChangeNotification"


async def connector_consumer(mockle: Mockle, receiver: Receiver) -> tuple[dict[str, str], str]:
    """An app whose webhooks go to ``receiver``; a consumer's tokens; a CONVERSATION."""
    hooks = {k: {"endpoint": f"{receiver.url}/{k}"} for k in (CONTENT_HOOK, CQM_HOOK)}
    manifest = {
        "account": ACCOUNT,
        "client_name": "sdk test connector",
        "client_id": "sdk-connector",
        "client_secret": SECRET,
        "capabilities": {"webhooks": hooks},
    }
    r = await mockle.http.post(f"{mockle.url}/_mockle/apps", json=manifest)
    assert r.status == 201, await r.text()
    r = await mockle.http.post(
        f"{mockle.url}/sentinel/api/account/{ACCOUNT}/app/token?v=1.0&grant_type=client_credentials",
        data={"client_id": "sdk-connector", "client_secret": SECRET},
    )
    app = (await r.json())["access_token"]
    r = await mockle.http.post(
        f"{mockle.url}/api/account/{ACCOUNT}/consumer?v=1.0",
        json={"ext_consumer_id": "+15550100"},
        headers={"Authorization": app},
    )
    jws = (await r.json())["token"]
    headers = {"Authorization": app, "X-LP-ON-BEHALF": jws}
    batch = [
        {
            "kind": "req",
            "id": "1,",
            "type": "userprofile.SetUserProfile",
            "body": {"firstName": "Ada"},
        },
        {
            "kind": "req",
            "id": "2,",
            "type": "cm.ConsumerRequestConversation",
            "body": {"brandId": ACCOUNT},
        },
    ]
    r = await mockle.http.post(
        f"{mockle.url}/api/account/{ACCOUNT}/messaging/consumer/conversation?v=3",
        json=batch,
        headers=headers,
    )
    assert r.status == 200, await r.text()
    return headers, (await r.json())[1]["body"]["conversationId"]


async def send_text(mockle: Mockle, headers: dict[str, str], conv: str, text: str) -> None:
    body = {
        "kind": "req",
        "id": "1",
        "type": "ms.PublishEvent",
        "body": {
            "dialogId": conv,
            "event": {"type": "ContentEvent", "contentType": "text/plain", "message": text},
        },
    }
    r = await mockle.http.post(
        f"{mockle.url}/api/account/{ACCOUNT}/messaging/consumer/conversation/send?v=3",
        json=body,
        headers=headers,
    )
    assert r.status == 200, await r.text()
    assert "sequence" in (await r.json())["body"]


async def agent_text(receiver: Receiver, conv: str) -> str:
    """The next agent text the connector's webhook receives for ``conv`` (signature verified)."""
    while True:
        hit = await receiver.next(WAIT)
        assert hit.signed
        change = hit.change
        if hit.path.endswith(CONTENT_HOOK) and change.get("conversationId") == conv:
            if change["originatorMetadata"]["role"] != "CONSUMER":
                return str(change["event"]["message"])


async def test_an_sdk_bot_answers_a_connector_api_consumer_through_webhooks(
    sdk: Path, manual: Mockle
) -> None:
    mockle = manual
    async with Receiver(SECRET) as receiver:
        headers, conv = await connector_consumer(mockle, receiver)
        # the consumer writes before any agent is there: the conversation waits in the queue
        await send_text(mockle, headers, conv, "anyone there?")
        bot = await start_bot(sdk, mockle, BOT_USER="webhook-bot", BOT_PASSWORD="x")
        try:
            await bot.wait("connected")
            # bots subscribe last: the waiting conversation rings as soon as the bot can take it
            ring = await bot.wait("ring", ringState="WAITING")
            assert ring["ringId"].startswith(f"{conv}_{ACCOUNT}_")
            await bot.wait("joined", convId=conv)
            # QueryMessages gave the bot the consumer's earlier message (sequence 0)
            earlier = await bot.wait("message", text="anyone there?")
            assert earlier["sequence"] == 0 and earlier["role"] == "CONSUMER"
            # the connector sees every step through its signed webhooks
            assert await agent_text(receiver, conv) == "Just joined to conversation"
            assert await agent_text(receiver, conv) == "echo : anyone there?"
            await send_text(mockle, headers, conv, "thanks")
            assert await agent_text(receiver, conv) == "echo : thanks"
            await send_text(mockle, headers, conv, "#close please")
            await bot.wait("close", convId=conv)
            r = await mockle.http.get(f"{mockle.url}/_mockle/conversations/{conv}")
            done = await r.json()
            assert done["state"] == "CLOSE" and done["closeReason"] == "AGENT"
            assert bot.problems() == []
        finally:
            await stop(bot)
