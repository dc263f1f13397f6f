"""How the state looks on the wire: change items, conversation details, REST items.

Shapes follow the documented payloads: the messaging change item of events.md and the
webhook examples, and the full conversation of the DEVA / DEMO captures (connector-api.md
§4.3). Key order follows the documented examples, so bodies read like the real ones.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from mockle.core.model import CLOSE, Conversation, Dialog, Participant


def change_item(
    *,
    sequence: int | None,
    originator_id: str,
    role: str,
    server_ts: int,
    event: dict[str, Any],
    conversation_id: str,
    dialog_id: str,
    metadata: Any = None,
    audience: str = "ALL",
    client_properties: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A ``ms.MessagingEventNotification`` change item.

    Chat states carry neither ``sequence`` nor ``serverTimestamp`` (every documented example),
    nor ``messageAudience`` (the signed DEMO capture).
    """
    item: dict[str, Any] = {}
    if sequence is not None:
        item["sequence"] = sequence
    item["originatorId"] = originator_id
    meta: dict[str, Any] = {"id": originator_id, "role": role}
    if client_properties:
        meta["clientProperties"] = client_properties
    item["originatorMetadata"] = meta
    if sequence is not None:
        item["serverTimestamp"] = server_ts
    item["event"] = event
    item["conversationId"] = conversation_id
    item["dialogId"] = dialog_id
    if sequence is not None:
        item["messageAudience"] = audience
    if metadata is not None:
        item["metadata"] = metadata
    return item


def _participants(parts: tuple[Participant, ...]) -> list[dict[str, Any]]:
    return [{"id": p.id, "role": p.role} for p in parts]


def dialog_json(d: Dialog) -> dict[str, Any]:
    out: dict[str, Any] = {
        "dialogId": d.dialog_id,
        "participantsDetails": [
            {"id": p.id, "role": p.role, "state": p.state} for p in d.participants
        ],
        "dialogType": d.dialog_type,
        "channelType": d.channel_type,
        "state": d.state,
        "creationTs": d.creation_ts,
    }
    if d.end_ts is not None:
        out["endTs"] = d.end_ts
    out["metaDataLastUpdateTs"] = d.meta_ts
    if d.closed_by is not None:
        out["closedBy"] = d.closed_by
    if d.closed_cause is not None:
        out["closedCause"] = d.closed_cause
    if d.meta_data is not None:
        out["metaData"] = d.meta_data
    return out


def conversation_details(conv: Conversation) -> dict[str, Any]:
    d: dict[str, Any] = {
        "skillId": conv.skill_id,
        "participants": _participants(conv.participants),
        "dialogs": [dialog_json(x) for x in conv.dialogs],
        "brandId": conv.account,
        "state": conv.state,
        "stage": conv.stage,
    }
    if conv.close_reason is not None:
        d["closeReason"] = conv.close_reason
    d["startTs"] = conv.start_ts
    if conv.end_ts is not None:
        d["endTs"] = conv.end_ts
    d["metaDataLastUpdateTs"] = conv.meta_ts
    d["ttr"] = {"ttrType": conv.ttr_type, "value": conv.ttr_value}
    if conv.csat is not None:
        d["csat"] = conv.csat
    if conv.campaign_info is not None:
        d["campaignInfo"] = conv.campaign_info
    if conv.context is not None:
        d["context"] = conv.context
    d["conversationHandlerDetails"] = {"accountId": conv.account, "skillId": conv.skill_id}
    return d


def effective_ttr(conv: Conversation) -> int:
    if conv.state == CLOSE:
        return -1
    return conv.start_ts + conv.ttr_value * 1000


def conversation_result(conv: Conversation) -> dict[str, Any]:
    """The ``result`` of an ExConversationChangeNotification change: the whole conversation."""
    return {
        "convId": conv.conv_id,
        "effectiveTTR": effective_ttr(conv),
        "conversationDetails": conversation_details(conv),
    }


def _by_role(parts: tuple[Participant, ...], name: Callable[[str], str]) -> dict[str, list[str]]:
    roles: dict[str, list[str]] = {}
    for p in parts:
        roles.setdefault(p.role, []).append(name(p.id))
    return roles


def conversation_result_v2(conv: Conversation, legacy: Callable[[str], str]) -> dict[str, Any]:
    """The ``result`` as v2 ``.ams`` connections get it (protocol.md §6.3): participants as a
    map role -> ids (agents by legacy ``<account>.<userId>`` id), ``participantsPId`` role -> PIDs,
    ``convId`` repeated inside the details, ``lastUpdateTime`` and ``numberOfunreadMessages``."""
    details = conversation_details(conv)
    details["participants"] = _by_role(conv.participants, legacy)
    details["participantsPId"] = _by_role(conv.participants, str)
    for d, out in zip(conv.dialogs, details["dialogs"], strict=True):
        out["participantsDetails"] = [
            {"id": legacy(p.id), "role": p.role, "state": p.state} for p in d.participants
        ]
    return {
        "convId": conv.conv_id,
        "effectiveTTR": effective_ttr(conv),
        "conversationDetails": {"convId": conv.conv_id, **details},
        "numberOfunreadMessages": {},
        "lastUpdateTime": conv.meta_ts,
    }


def conversation_change(conv: Conversation, change_type: str = "UPSERT") -> dict[str, Any]:
    return {"type": change_type, "result": conversation_result(conv)}


def notification(
    type_name: str, changes: list[Any], subscription_id: str | None = None
) -> dict[str, Any]:
    """A notification frame; ``changes`` are dicts, or stored change items as JSON fragments."""
    body: dict[str, Any] = {}
    if subscription_id is not None:
        body["subscriptionId"] = subscription_id
    body["changes"] = changes
    return {"kind": "notification", "body": body, "type": type_name}


def rest_ok(req_id: str, body: Any) -> dict[str, Any]:
    """A Connector API success item (``code`` is the string ``"OK"``, S0-S2)."""
    return {"reqId": req_id, "code": "OK", "body": body}


def rest_failed(req_id: str | None, msg: str) -> dict[str, Any]:
    """A Connector API failure item (connector-api.md §3.4)."""
    out: dict[str, Any] = {"code": "BAD_REQUEST", "body": {"msg": msg}}
    if req_id is not None:
        out["reqId"] = req_id
    return out


def error_envelope(
    status: int, title: str, details: str, error_code: int, where: str | None = None
) -> dict[str, Any]:
    """The ``.ReqBody$ErrorResp`` envelope (connector-api.md §1.4)."""
    body: dict[str, Any] = {"title": title, "details": details, "errorCode": error_code}
    if where is not None:
        body["path"] = where
    return {"kind": "resp", "code": status, "body": body, "type": ".ReqBody$ErrorResp"}
