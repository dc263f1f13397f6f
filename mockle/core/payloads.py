"""Small rules about payloads: request fields, client properties, event normalisation."""

from __future__ import annotations

from typing import Any

import orjson

from mockle.core.jsondoc import too_deep
from mockle.core.model import NO_FEATURES, TTR_SECONDS, Conversation


def features_of(props: Any) -> frozenset[str]:
    """The ``features`` of client properties or a conversation context (none: the shared
    :data:`~mockle.core.model.NO_FEATURES`, so that a conversation without any adds no set)."""
    if not isinstance(props, dict):
        return NO_FEATURES
    feats = props.get("features")
    if isinstance(feats, str):
        return frozenset({feats})
    if isinstance(feats, list):
        return frozenset(f for f in feats if isinstance(f, str)) or NO_FEATURES
    return NO_FEATURES


def apply_request_fields(conv: Conversation, body: dict[str, Any]) -> None:
    skill = body.get("skillId")
    if skill is not None and str(skill) != "":
        conv.skill_id = str(skill)
    ttr = body.get("ttrDefName")
    if isinstance(ttr, str) and ttr in TTR_SECONDS:
        conv.ttr_type, conv.ttr_value = ttr, TTR_SECONDS[ttr]
    campaign = body.get("campaignInfo")
    if isinstance(campaign, dict):
        conv.campaign_info = dict(campaign)
    context = body.get("conversationContext")
    if isinstance(context, dict):
        conv.context = dict(context)


def normalise_event(event: dict[str, Any]) -> dict[str, Any]:
    """Documented tolerances: RichContentEvent ``message`` -> ``content``; bare sequenceList."""
    etype = event.get("type")
    if etype == "RichContentEvent" and "content" not in event and "message" in event:
        event = {("content" if k == "message" else k): v for k, v in event.items()}
    elif etype == "AcceptStatusEvent" and not isinstance(event.get("sequenceList"), list):
        event = {**event, "sequenceList": [event.get("sequenceList")]}
    return event


def parse_client_properties(raw: str | None) -> dict[str, Any] | None:
    """The ``Client-Properties`` header, parsed leniently: broken values are ignored."""
    if not raw:
        return None
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    return value if isinstance(value, dict) and not too_deep(value, raw) else None
