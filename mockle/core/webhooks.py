"""Webhooks of the Connector API, sans I/O: which POSTs to send, with which bytes and headers.

The :class:`Webhooks` listener hears every change of every conversation, whichever path caused
it (REST, WebSocket, control API, simulated agent), and turns it into :class:`WebhookJob` items
for every enabled app of the conversation's account that has an endpoint for the event type
(connector-api.md §4.2):

* a conversation change -> ``cqm.ExConversationChangeNotification`` (the complete conversation);
* a published event -> ``ms.MessagingEventNotification``, routed by the key
  ``ms.MessagingEventNotification.<event type>``; only events of audience ``ALL``.

Each body holds exactly one change and no ``subscriptionId`` (§4.3). It is serialised once, as
compact UTF-8 JSON; those exact bytes are signed (§4.5) and sent. Delivery (HTTP, retries, the
delivery log) is the web layer's business: see :mod:`mockle.web.webhooks`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, Literal

import orjson

from mockle.core import render
from mockle.core.apps import App
from mockle.core.engine import Effects, Engine, Listener
from mockle.core.model import Conversation, Dialog, StoredEvent

CONVERSATION_TYPE = "cqm.ExConversationChangeNotification"
MESSAGING_TYPE = "ms.MessagingEventNotification"

Algorithm = Literal["sha1", "sha256"]

# The headers mockle always sends; a manifest header with one of these names is ignored.
STANDARD_HEADERS = frozenset(
    {"content-type", "x-liveperson-account-id", "x-liveperson-client-id", "x-liveperson-signature"}
)

_DIGESTS = {"sha1": hashlib.sha1, "sha256": hashlib.sha256}


def sign(body: bytes, secret: str, algorithm: Algorithm = "sha1") -> str:
    """``x-liveperson-signature``: ``<algorithm>=`` + base64(HMAC(client_secret, body))."""
    digest = hmac.new(secret.encode("utf-8"), body, _DIGESTS[algorithm]).digest()
    return f"{algorithm}={base64.b64encode(digest).decode('ascii')}"


def verify(body: bytes, secret: str, signature: str) -> bool:
    """What a receiver does (for tests and the Python client): check a signature header."""
    algorithm = signature.split("=", 1)[0]
    if algorithm not in _DIGESTS:
        return False
    expected = sign(body, secret, algorithm)  # type: ignore[arg-type]
    return hmac.compare_digest(expected, signature)


@dataclass(frozen=True, slots=True)
class WebhookJob:
    """One POST to make: everything the delivery worker needs, already signed."""

    account: str
    client_id: str
    event_type: str  # the webhook key, e.g. ms.MessagingEventNotification.ContentEvent
    endpoint: str
    headers: tuple[tuple[str, str], ...]
    body: bytes
    conversation_id: str
    max_retries: int = 0
    retention_ms: int | None = None  # the app retries by time to live (connector-api.md §4.7)
    opts_out: bool = False  # this webhook does not (an explicit max_retries 0): one attempt

    @property
    def by_time_to_live(self) -> bool:
        return self.retention_ms is not None and not self.opts_out

    @property
    def key(self) -> tuple[str, str, str]:
        """Deliveries with the same key go out one after another, in order."""
        return (self.account, self.client_id, self.conversation_id)


def encode(notification: dict[str, Any]) -> bytes:
    """The exact bytes of a webhook body: compact JSON, raw UTF-8 (what JSON.stringify gives)."""
    return orjson.dumps(notification)


def conversation_body(conv: Conversation) -> bytes:
    return encode(render.notification(CONVERSATION_TYPE, [render.conversation_change(conv)]))


def event_body(ev: StoredEvent) -> bytes:
    return encode(render.notification(MESSAGING_TYPE, [ev.json()]))


def event_key(event_type: str) -> str:
    return f"{MESSAGING_TYPE}.{event_type}"


class Webhooks(Listener):
    """Engine listener: appends a :class:`WebhookJob` per interested app to the call's Effects."""

    def __init__(self, engine: Engine, algorithm: Algorithm = "sha1") -> None:
        self.engine = engine
        self.algorithm = algorithm

    def on_conversation(self, conv: Conversation, fx: Effects) -> None:
        if self.engine.apps.has_account(conv.account):
            self._emit(conv, CONVERSATION_TYPE, lambda: conversation_body(conv), fx)

    def on_event(self, conv: Conversation, dialog: Dialog, ev: StoredEvent, fx: Effects) -> None:
        # the hot path: an account without apps (the usual load test) costs one lookup
        if ev.audience != "ALL" or not self.engine.apps.has_account(conv.account):
            return
        self._emit(conv, event_key(ev.event_type), lambda: event_body(ev), fx)

    def _emit(
        self, conv: Conversation, key: str, make_body: Callable[[], bytes], fx: Effects
    ) -> None:
        body: bytes | None = None
        for app in self.engine.apps.of_account(conv.account):
            hook = app.webhooks.get(key)
            if hook is None or not app.enabled:
                continue
            if body is None:
                body = make_body()  # serialised once, shared by every app
            job = self._job(app, key, hook.endpoint, hook.max_retries, hook.headers, body, conv)
            if app.retention_s is not None:
                job = replace(job, retention_ms=app.retention_s * 1000, opts_out=hook.opts_out)
            fx.webhooks.append(job)

    def _job(
        self,
        app: App,
        key: str,
        endpoint: str,
        max_retries: int,
        extra: list[tuple[str, str]],
        body: bytes,
        conv: Conversation,
    ) -> WebhookJob:
        headers = (
            ("Content-Type", "application/json"),
            ("x-liveperson-account-id", app.account),
            ("x-liveperson-client-id", app.client_id),
            ("x-liveperson-signature", sign(body, app.client_secret, self.algorithm)),
            *((name, value) for name, value in extra if name.lower() not in STANDARD_HEADERS),
        )
        return WebhookJob(
            app.account, app.client_id, key, endpoint, headers, body, conv.conv_id, max_retries
        )
