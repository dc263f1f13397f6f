"""UMS frame builders: the one place that shapes a ``resp`` and the socket notifications.

Every ``resp`` mockle writes on a WebSocket (an answer, an error, an injected fault) comes from
:func:`resp` or :func:`error_resp`; every messaging notification from :func:`messaging` or
:func:`online_event`. The type of an error ``resp`` is the type the operation's answer has in
the caller's dialect, so a client's response matching keeps working on errors too.
"""

from __future__ import annotations

from typing import Any

from mockle.core import dialects, render
from mockle.core.dialects import Dialect


def resp(req_id: str, code: int, body: Any, type_name: str) -> dict[str, Any]:
    """``{"kind": "resp", "reqId", "code", "body", "type"}`` (protocol.md §3.6)."""
    return {"kind": "resp", "reqId": req_id, "code": code, "body": body, "type": type_name}


def error_type(type_name: Any, fallback: Dialect) -> str:
    """The ``type`` of an error ``resp`` to a request of type ``type_name``.

    A known operation answers with its own response type in the request's dialect; an unknown
    ``.``-prefixed name with the ``.ams`` string response; anything else with the string
    response of ``fallback`` (the dialect the socket spoke last)."""
    found = dialects.lookup(type_name) if isinstance(type_name, str) else None
    if found is not None:
        return dialects.response_type(*found)
    if isinstance(type_name, str) and type_name.startswith("."):
        return dialects.STRING_RESPONSE[Dialect.AMS]
    return dialects.STRING_RESPONSE[fallback]


def error_resp(
    req_id: str, type_name: Any, code: int, body: Any, fallback: Dialect
) -> dict[str, Any]:
    """An error ``resp``: ``code`` 4xx/5xx, the answer type of the failed request."""
    return resp(req_id, code, body, error_type(type_name, fallback))


def with_key(change: dict[str, Any], key: str) -> dict[str, Any]:
    """A copy of a shared change item that also carries its originator under ``key``
    (``originatorPId`` / ``originatorPid``); the stored item is never mutated."""
    out = dict(change)
    out[key] = change["originatorId"]
    return out


def messaging(changes: list[dict[str, Any]], dialect: Dialect) -> dict[str, Any]:
    """A ``ms.MessagingEventNotification`` (``.ams`` dialect: with ``originatorPid``)."""
    if dialect is Dialect.AMS:
        changes = [with_key(c, "originatorPid") for c in changes]
    return render.notification(dialects.MESSAGING_NOTIFICATION[dialect], changes)


def online_event(change: dict[str, Any], legacy_id: str | None = None) -> dict[str, Any]:
    """The v2 single-event form ``.ams.ms.OnlineEventDistribution``: the body is the change
    itself, with ``originatorPId`` (protocol.md §6.3). Agents see an agent's own events with
    ``originatorId`` in the legacy ``<account>.<userId>`` form (``legacy_id``), as the agent
    SDK expects (agent-sdk.md §7)."""
    body = with_key(change, "originatorPId")
    if legacy_id is not None:
        body["originatorId"] = legacy_id
    return {"kind": "notification", "type": dialects.ONLINE_EVENT_DISTRIBUTION, "body": body}
