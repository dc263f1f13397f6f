"""UMS frame builders: the one place that shapes a ``resp`` and the socket notifications.

Every ``resp`` mockle writes on a WebSocket (an answer, an error, an injected fault) comes from
:func:`resp` or :func:`error_resp`; every messaging notification from :func:`messaging` or
:func:`online_event`, which embed each stored event's change item as the JSON bytes it was
stored as (``orjson.Fragment``): a notification never rebuilds the item's dicts. The type of
an error ``resp`` is the type the operation's answer has in the caller's dialect, so a client's
response matching keeps working on errors too.
"""

from __future__ import annotations

from typing import Any

import orjson

from mockle.core import dialects, render
from mockle.core.dialects import AMS, Dialect
from mockle.core.model import StoredEvent


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


_ORIGINATOR_ID = b'"originatorId":'


def with_key(data: bytes, key: str, value: str) -> bytes:
    """A stored change item's JSON with one more string member at its end (``originatorPId`` /
    ``originatorPid``): the bytes a copy of the item with ``key`` added serialises to."""
    return b"".join((data[:-1], b",", orjson.dumps(key), b":", orjson.dumps(value), b"}"))


def with_originator(data: bytes, old: str, new: str) -> bytes:
    """A stored change item's JSON with ``originatorId`` ``old`` replaced by ``new`` in its place
    (the item's first string member: only ``sequence``, a number, comes before it)."""
    start = data.index(_ORIGINATOR_ID) + len(_ORIGINATOR_ID)
    end = start + len(orjson.dumps(old))
    return b"".join((data[:start], orjson.dumps(new), data[end:]))


def messaging(events: list[StoredEvent], dialect: Dialect) -> dict[str, Any]:
    """A ``ms.MessagingEventNotification`` of stored events, their change items embedded as
    stored (``.ams`` dialect: with ``originatorPid``)."""
    if dialect is AMS:
        changes = [
            orjson.Fragment(with_key(ev.data, "originatorPid", ev.originator_id)) for ev in events
        ]
    else:
        changes = [ev.json() for ev in events]
    return render.notification(dialects.MESSAGING_NOTIFICATION[dialect], changes)


def online_body(ev: StoredEvent, legacy_id: str | None = None) -> orjson.Fragment:
    """The body of a v2 ``.ams.ms.OnlineEventDistribution``: the change item with
    ``originatorPId``; ``originatorId`` in the legacy form when ``legacy_id`` is given."""
    data, pid = ev.data, ev.originator_id
    if legacy_id is not None:
        data = with_originator(data, pid, legacy_id)
    return orjson.Fragment(with_key(data, "originatorPId", pid))


def online_event(ev: StoredEvent, legacy_id: str | None = None) -> dict[str, Any]:
    """The v2 single-event form ``.ams.ms.OnlineEventDistribution``: the body is the change
    itself, with ``originatorPId`` (protocol.md §6.3). Agents see an agent's own events with
    ``originatorId`` in the legacy ``<account>.<userId>`` form (``legacy_id``), as the agent
    SDK expects (agent-sdk.md §7)."""
    body = online_body(ev, legacy_id)
    return {"kind": "notification", "type": dialects.ONLINE_EVENT_DISTRIBUTION, "body": body}
