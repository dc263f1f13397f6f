"""A small SMS-gateway connector for LiveEngage: the kind of code mockle exists to test.

Inbound SMS -> the Connector API (CONVERSATION, SEND); agent messages arrive as webhooks and go
out as SMS. It is a real client: it discovers the services through the Domain API (CSDS), gets
an AppJWT from Sentinel and a ConsumerJWS per phone number from the IDP, and runs a real HTTP
receiver for webhooks that checks every signature. It copes with what LiveEngage does on a bad
day: 429 with Retry-After, 5xx and dropped connections (retried), expired tokens (401 40102 /
40103: fetched again), and conversations closed by the agent (a new one is opened).

Nothing here knows about mockle: point ``domain`` at LiveEngage and it runs there too.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web

log = logging.getLogger("sms_bridge")

SmsSender = Callable[[str, str], Awaitable[None]]


class DeliveryFailed(Exception):
    """LiveEngage did not take the message after every retry."""


@dataclass
class Config:
    domain: str  # the Domain API host: http://host:port (mockle) or https://api.liveperson.net
    account: str
    client_id: str
    client_secret: str
    max_attempts: int = 4
    max_retry_after: float = 2.0  # cap on Retry-After, so a test never waits long


@dataclass
class _Phone:
    jws: str | None = None
    conversation_id: str | None = None


@dataclass
class SmsBridge:
    config: Config
    send_sms: SmsSender
    webhook_path: str = "/webhooks/liveperson"
    _http: aiohttp.ClientSession | None = None
    _runner: web.AppRunner | None = None
    _services: dict[str, str] = field(default_factory=dict)
    _app_jwt: str | None = None
    _phones: dict[str, _Phone] = field(default_factory=dict)
    _by_conversation: dict[str, str] = field(default_factory=dict)
    webhook_url: str = ""

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self._http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))
        app = web.Application()
        app.router.add_post(self.webhook_path, self._on_webhook)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        bound = self._runner.addresses[0]
        self.webhook_url = f"http://{bound[0]}:{bound[1]}{self.webhook_path}"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        if self._http is not None:
            await self._http.close()

    # -- inbound SMS -> LiveEngage ------------------------------------------------------------

    async def receive_sms(self, phone: str, text: str) -> int:
        """Forward an inbound SMS; the sequence LiveEngage gave the message."""
        state = self._phones.setdefault(phone, _Phone())
        for _ in range(3):  # a conversation closed meanwhile: open a new one and resend
            if state.conversation_id is None:
                await self._open_conversation(phone, state)
            assert state.conversation_id is not None
            status, doc = await self._consumer_call(phone, state, "send", _publish(state, text))
            if status == 200:
                return int(doc["body"]["sequence"])
            if status == 400 and "close" in str(doc).lower():
                self._forget(state)
                continue
            raise DeliveryFailed(f"SEND answered {status}: {doc}")
        raise DeliveryFailed("the conversation kept closing")

    async def _open_conversation(self, phone: str, state: _Phone) -> None:
        batch = [
            {"kind": "req", "id": "1,", "type": "userprofile.SetUserProfile", "body": {}},
            {
                "kind": "req",
                "id": "2,",
                "type": "cm.ConsumerRequestConversation",
                "body": {"brandId": self.config.account},
            },
        ]
        status, doc = await self._consumer_call(phone, state, "conversation", batch)
        if status != 200:
            raise DeliveryFailed(f"CONVERSATION answered {status}: {doc}")
        state.conversation_id = str(doc[1]["body"]["conversationId"])
        self._by_conversation[state.conversation_id] = phone

    def _forget(self, state: _Phone) -> None:
        if state.conversation_id is not None:
            self._by_conversation.pop(state.conversation_id, None)
        state.conversation_id = None

    async def _consumer_call(
        self, phone: str, state: _Phone, what: str, body: Any
    ) -> tuple[int, Any]:
        """CONVERSATION or SEND with fresh tokens, retrying what a connector should retry."""
        path = "/conversation" if what == "conversation" else "/conversation/send"
        for attempt in range(1, self.config.max_attempts + 1):
            url = await self._service_url("asyncMessagingEnt")
            app_jwt = await self._get_app_jwt()
            if state.jws is None:
                state.jws = await self._get_consumer_jws(phone, app_jwt)
            headers = {"Authorization": app_jwt, "X-LP-ON-BEHALF": state.jws}
            full = f"{url}/api/account/{self.config.account}/messaging/consumer{path}?v=3"
            try:
                status, doc, retry_after = await self._post_json(full, body, headers)
            except (TimeoutError, aiohttp.ClientConnectionError) as exc:
                log.info("%s: connection problem (%s), retrying", what, exc)
                await asyncio.sleep(0.01 * attempt)
                continue
            if status == 401:
                code = _error_code(doc)
                if code == 40103:
                    state.jws = None
                else:
                    self._app_jwt = None
                continue
            if status == 429 or status >= 500:
                await asyncio.sleep(min(retry_after or 0.01 * attempt, self.config.max_retry_after))
                continue
            return status, doc
        raise DeliveryFailed(f"{what}: gave up after {self.config.max_attempts} attempts")

    # -- LiveEngage plumbing ------------------------------------------------------------------

    @property
    def http(self) -> aiohttp.ClientSession:
        assert self._http is not None, "call start() first"
        return self._http

    async def _service_url(self, service: str) -> str:
        if service not in self._services:
            url = f"{self.config.domain}/api/account/{self.config.account}/service/baseURI.json"
            async with self.http.get(url, params={"version": "1.0"}) as resp:
                resp.raise_for_status()
                doc = await resp.json()
            scheme = self.config.domain.split("://", 1)[0]
            for entry in doc["baseURIs"]:
                self._services[entry["service"]] = f"{scheme}://{entry['baseURI']}"
        return self._services[service]

    async def _get_app_jwt(self) -> str:
        if self._app_jwt is None:
            url = await self._service_url("sentinel")
            form = {
                "client_id": self.config.client_id,
                "client_secret": self.config.client_secret,
            }
            token_url = f"{url}/sentinel/api/account/{self.config.account}/app/token"
            params = {"v": "1.0", "grant_type": "client_credentials"}
            async with self.http.post(token_url, params=params, data=form) as resp:
                if resp.status != 200:
                    raise DeliveryFailed(f"Sentinel answered {resp.status}: {await resp.text()}")
                self._app_jwt = str((await resp.json())["access_token"])
        return self._app_jwt

    async def _get_consumer_jws(self, phone: str, app_jwt: str) -> str:
        url = await self._service_url("idp")
        full = f"{url}/api/account/{self.config.account}/consumer?v=1.0"
        status, doc, _ = await self._post_json(
            full, {"ext_consumer_id": phone}, {"Authorization": app_jwt}
        )
        if status != 201:
            raise DeliveryFailed(f"IDP answered {status}: {doc}")
        return str(doc["token"])

    async def _post_json(
        self, url: str, body: Any, headers: dict[str, str]
    ) -> tuple[int, Any, float | None]:
        async with self.http.post(url, json=body, headers=headers) as resp:
            try:
                doc = await resp.json(content_type=None)
            except ValueError:
                doc = await resp.text()
            retry = resp.headers.get("Retry-After")
            return resp.status, doc, float(retry) if retry and retry.isdigit() else None

    # -- webhooks -> outbound SMS --------------------------------------------------------------

    def _signed(self, body: bytes, signature: str) -> bool:
        algorithm, _, _ = signature.partition("=")
        digest = {"sha1": hashlib.sha1, "sha256": hashlib.sha256}.get(algorithm)
        if digest is None:
            return False
        mac = hmac.new(self.config.client_secret.encode(), body, digest).digest()
        return hmac.compare_digest(f"{algorithm}={base64.b64encode(mac).decode()}", signature)

    async def _on_webhook(self, request: web.Request) -> web.Response:
        body = await request.read()
        if not self._signed(body, request.headers.get("x-liveperson-signature", "")):
            return web.Response(status=401, text="bad signature")
        doc = await request.json()
        for change in doc.get("body", {}).get("changes", []):
            if doc.get("type") == "cqm.ExConversationChangeNotification":
                self._conversation_changed(change)
            else:
                await self._message(change)
        return web.Response(status=200)

    def _conversation_changed(self, change: dict[str, Any]) -> None:
        result = change.get("result", {})
        if result.get("conversationDetails", {}).get("state") == "CLOSE":
            phone = self._by_conversation.get(str(result.get("convId")))
            if phone is not None:
                self._forget(self._phones[phone])

    async def _message(self, change: dict[str, Any]) -> None:
        event = change.get("event", {})
        role = change.get("originatorMetadata", {}).get("role")
        if event.get("type") != "ContentEvent" or role == "CONSUMER":
            return
        phone = self._by_conversation.get(str(change.get("conversationId")))
        if phone is not None:
            await self.send_sms(phone, str(event.get("message", "")))


def _publish(state: _Phone, text: str) -> dict[str, Any]:
    return {
        "kind": "req",
        "id": "1",
        "type": "ms.PublishEvent",
        "body": {
            "dialogId": state.conversation_id,
            "event": {"type": "ContentEvent", "contentType": "text/plain", "message": text},
        },
    }


def _error_code(doc: Any) -> int | None:
    if isinstance(doc, dict) and isinstance(doc.get("body"), dict):
        code = doc["body"].get("errorCode")
        return int(code) if isinstance(code, int) else None
    return None
