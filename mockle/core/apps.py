"""Installed apps: Sentinel credentials and the webhooks of the Connector API.

An app installation follows LivePerson's manifest (connector-api.md §4.1):
``capabilities.webhooks`` maps an event type to ``{"endpoint", "max_retries", "headers"}``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

WEBHOOK_EVENT_TYPES = (
    "cqm.ExConversationChangeNotification",
    "ms.MessagingEventNotification.ContentEvent",
    "ms.MessagingEventNotification.RichContentEvent",
    "ms.MessagingEventNotification.AcceptStatusEvent",
    "ms.MessagingEventNotification.ChatStateEvent",
)


@dataclass(slots=True)
class Webhook:
    event_type: str
    endpoint: str
    max_retries: int = 0
    headers: list[tuple[str, str]] = field(default_factory=list)
    opts_out: bool = False  # an explicit "max_retries": 0: never retried by time to live


@dataclass(slots=True)
class App:
    account: str
    client_id: str
    client_secret: str
    client_name: str = "mockle app"
    enabled: bool = True
    webhooks: dict[str, Webhook] = field(default_factory=dict)
    manifest: dict[str, Any] = field(default_factory=dict)
    registered: bool = True  # False: remembered from a Sentinel call, not installed
    retention_s: int | None = None  # capabilities.webhooks.retry.retention_time


# The docs misspell one key once (connector-api.md §4.2); a manifest copied from there still works.
KEY_ALIASES = {
    "ms.MessagingEventNotification.AccpetStatusEvent": (
        "ms.MessagingEventNotification.AcceptStatusEvent"
    ),
}


def app_from_manifest(manifest: dict[str, Any], client_id: str, client_secret: str) -> App:
    """Build an :class:`App` from a manifest that already passed its schema."""
    hooks: dict[str, Webhook] = {}
    caps = manifest.get("capabilities") or {}
    for key, conf in (caps.get("webhooks") or {}).items():
        if key == "retry" or not isinstance(conf, dict) or "endpoint" not in conf:
            continue
        headers = [(h["header_name"], h["header_value"]) for h in conf.get("headers") or []]
        key = KEY_ALIASES.get(key, key)
        retries = conf.get("max_retries")
        hooks[key] = Webhook(key, conf["endpoint"], int(retries or 0), headers, retries == 0)
    retry = (caps.get("webhooks") or {}).get("retry")
    retention = retry.get("retention_time") if isinstance(retry, dict) else None
    return App(
        account=str(manifest["account"]),
        client_id=client_id,
        client_secret=client_secret,
        client_name=str(manifest.get("client_name") or "mockle app"),
        enabled=bool(manifest.get("enabled", True)),
        webhooks=hooks,
        manifest=manifest,
        retention_s=int(retention) if retention else None,
    )


class AppRegistry:
    """Apps by account and client id."""

    def __init__(self) -> None:
        self._apps: dict[str, dict[str, App]] = {}

    def add(self, app: App) -> None:
        self._apps.setdefault(app.account, {})[app.client_id] = app

    def get(self, account: str, client_id: str) -> App | None:
        return self._apps.get(account, {}).get(client_id)

    def has_account(self, account: str) -> bool:
        """Whether ``account`` has any installed app."""
        return bool(self._apps.get(account))

    def of_account(self, account: str) -> list[App]:
        return list(self._apps.get(account, {}).values())

    def all(self) -> list[App]:
        return [app for apps in self._apps.values() for app in apps.values()]

    def reset(self, account: str | None = None) -> None:
        if account is None:
            self._apps.clear()
        else:
            self._apps.pop(account, None)
