"""Shared pieces of the client: errors, tokens, small records and helpers."""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import orjson

DEFAULT_ACCOUNT = "le12345678"
T = TypeVar("T")
Event = dict[str, Any]
Predicate = Callable[[Event], bool]


class MockleClientError(Exception):
    """mockle answered a call with an unexpected status."""

    def __init__(self, method: str, path: str, status: int, body: Any) -> None:
        self.method, self.path, self.status, self.body = method, path, status, body
        super().__init__(f"{method} {path} -> {status}: {_short(body)}")


class WaitTimeout(AssertionError):
    """What was awaited did not happen in time (an assertion failure in a test)."""


def _short(body: Any, limit: int = 400) -> str:
    text = body if isinstance(body, str) else orjson.dumps(body).decode()
    return text if len(text) <= limit else text[:limit] + "…"


def _claims(token: str) -> dict[str, Any]:
    part = token.split(".")[1]
    doc = orjson.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    return doc if isinstance(doc, dict) else {}


@dataclass(frozen=True, slots=True)
class Consumer:
    """A Connector API consumer: its AppJWT, ConsumerJWS and LivePerson consumer id."""

    account: str
    ext_id: str
    app_jwt: str
    consumer_jws: str
    consumer_id: str

    def headers(self) -> dict[str, str]:
        return {"Authorization": self.app_jwt, "X-LP-ON-BEHALF": self.consumer_jws}


@dataclass(frozen=True, slots=True)
class AppCredentials:
    account: str
    client_id: str
    client_secret: str


def _camel(name: str) -> str:
    """``max_conversations`` -> ``maxConversations`` (camelCase names pass unchanged)."""
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def _drop_none(**values: Any) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}


def text_event(text: str) -> Event:
    return {"type": "ContentEvent", "contentType": "text/plain", "message": text}
