"""Request frames: the envelope tolerances and the per-type schema check.

The docs' own examples omit ``kind`` and ``body``, use numeric ids, and put a bare element
where an array belongs (protocol.md §3.5-3.6). :func:`parse_request` accepts all of that,
validates the frame against the schema of its type, and returns a :class:`Request` whose
``id`` is a string and whose ``body`` is never missing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mockle.core import dialects, errors
from mockle.core.dialects import Dialect, Op
from mockle.core.schemas import SchemaSet

REQUEST_SCHEMAS: dict[Op, str] = {
    Op.INIT_CONNECTION: "infra/initConnection.json",
    Op.GET_CLOCK: "infra/getClock.json",
    Op.KEEP_ALIVE: "infra/keepAlive.json",
    Op.REQUEST_CONVERSATION: "cm/consumerRequestConversation.json",
    Op.UPDATE_CONVERSATION_FIELD: "cm/updateConversationField.json",
    Op.PUBLISH_EVENT: "ms/publishEvent.json",
    Op.SUBSCRIBE_MESSAGING_EVENTS: "ms/subscribeMessagingEvents.json",
    Op.QUERY_MESSAGES: "ms/queryMessages.json",
    Op.SUBSCRIBE_EX_CONVERSATIONS: "aam/subscribeExConversations.json",
    Op.UNSUBSCRIBE_EX_CONVERSATIONS: "aam/unsubscribeExConversations.json",
    Op.SET_USER_PROFILE: "userprofile/setUserProfile.json",
    Op.GET_USER_PROFILE: "userprofile/getUserProfile.json",
    Op.GENERATE_UPLOAD_URL: "ms/generateURLForUploadFile.json",
    Op.GENERATE_DOWNLOAD_URL: "ms/generateURLForDownloadFile.json",
    Op.SET_AGENT_STATE: "routing/setAgentState.json",
    Op.SUBSCRIBE_ROUTING_TASKS: "routing/subscribeRoutingTasks.json",
    Op.UPDATE_ROUTING_TASK_SUBSCRIPTION: "routing/updateRoutingTaskSubscription.json",
    Op.UPDATE_RING_STATE: "routing/updateRingState.json",
    Op.SUBSCRIBE_AGENTS_STATE: "routing/subscribeAgentsState.json",
    Op.AGENT_REQUEST_CONVERSATION: "cm/agentRequestConversation.json",
}

ENVELOPE_SCHEMA = "infra/request.json"


@dataclass(slots=True)
class Request:
    id: str | None
    type: str
    op: Op
    dialect: Dialect
    body: Any
    metadata: Any
    frame: dict[str, Any]


def request_id(frame: object) -> str | None:
    """The request id as a string (numbers are echoed as strings), if there is one."""
    return _id_text(frame.get("id")) if isinstance(frame, dict) else None


def _id_text(rid: object) -> str | None:
    """A frame's ``id`` value as :func:`request_id` gives it."""
    if isinstance(rid, str):
        return rid
    if isinstance(rid, int | float) and not isinstance(rid, bool):
        return str(int(rid)) if float(rid).is_integer() else str(rid)
    return None


def parse_request(
    frame: Any,
    *,
    prefix: str = "$",
    schemas: SchemaSet | None = None,
    found: tuple[Op, Dialect] | None = None,
) -> Request:
    """Validate one request frame and return it normalised; :class:`InvalidRequest` if not.

    ``found``: what :func:`dialects.lookup` gave for the frame's ``type``, when the caller has
    already looked it up (the frame is then an object whose type is a known name), so that
    it is not looked up twice."""
    if found is None:
        if not isinstance(frame, dict):
            raise errors.InvalidRequest(
                f"a request must be a JSON object, got {_json_type(frame)}", where=prefix
            )
        type_name = frame.get("type")
        if not isinstance(type_name, str):
            (schemas or SchemaSet.default()).validate(ENVELOPE_SCHEMA, frame, prefix=prefix)
            raise errors.InvalidRequest("'type' is a required property", where=prefix)
        found = dialects.lookup(type_name)
        if found is None:
            raise _unknown_type(type_name, prefix)
    else:
        type_name = frame["type"]
    op, dialect = found
    (schemas or SchemaSet.default()).validate(REQUEST_SCHEMAS[op], frame, prefix=prefix)
    body = frame.get("body")
    if body is None:
        body = {}
    rid = frame.get("id")
    if rid.__class__ is not str:  # a string id (the common case) is kept as it is
        rid = _id_text(rid)
    return Request(rid, type_name, op, dialect, body, frame.get("metadata"), frame)


def conversation_id_of(body: object) -> str | None:
    """The conversation a request body names: its ``conversationId``, else its ``dialogId``
    (a MAIN dialog's id is its conversation's id). The one place that reads it, for the
    journal, fault matching and the Connector API's replies."""
    if isinstance(body, dict):
        value = body.get("conversationId") or body.get("dialogId")
        if isinstance(value, str | int) and not isinstance(value, bool) and value != "":
            return str(value)
    return None


def _unknown_type(type_name: str, prefix: str) -> errors.InvalidRequest:
    """The documentation gives no wording for an unknown type: the message may suggest one."""
    guess = dialects.nearest(type_name)
    if guess is None:
        return errors.InvalidRequest(f"unknown request type {type_name!r}", where=f"{prefix}.type")
    return errors.InvalidRequest(
        f"unknown request type {type_name!r} (did you mean {guess!r}?)",
        where=f"{prefix}.type",
        hint=f"did you mean {guess!r}?",
    )


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return type(value).__name__
