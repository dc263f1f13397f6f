"""Hypothesis strategies: JSON values, near-valid request frames, bodies, headers, queries.

Near-valid frames follow the documented shapes (protocol.md §4, connector-api.md §3) but any
member may be dropped, replaced by an arbitrary JSON value, or given the wrong type. Ids of
conversations are placeholders resolved when the request is sent (:data:`OWN`, :data:`OTHER`,
:data:`CLOSED`), so a generated SEND can aim at the consumer's own open conversation, another
consumer's, or a closed one.
"""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import quote

import orjson
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

OWN = "$own"  # the sending consumer's open conversation
OTHER = "$other"  # the victim consumer's open conversation (never the sender's)
CLOSED = "$closed"  # a closed conversation of the sending consumer
PLACEHOLDERS = (OWN, OTHER, CLOSED)


def fuzz_settings(max_examples: int) -> settings:
    """Deterministic, bounded hypothesis settings for the robustness suite.

    For a deeper hunt by hand: ``MOCKLE_FUZZ_SCALE=20`` multiplies the example counts and
    ``MOCKLE_FUZZ_RANDOM=1`` draws new examples on every run (CI sets neither).
    """
    scale = int(os.environ.get("MOCKLE_FUZZ_SCALE", "1"))
    return settings(
        max_examples=max_examples * max(scale, 1),
        deadline=None,
        derandomize=os.environ.get("MOCKLE_FUZZ_RANDOM") != "1",
        database=None,
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.function_scoped_fixture,
            HealthCheck.data_too_large,
            HealthCheck.filter_too_much,
        ],
    )


def pick(n: int) -> st.SearchStrategy[int]:
    """0..n-1, each about equally often (``integers`` favours the bounds)."""
    return st.sampled_from(range(n))


# -- JSON values -----------------------------------------------------------------------------------

int64 = st.integers(min_value=-(2**63), max_value=2**63 - 1)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20),
)

json_values: st.SearchStrategy[Any] = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


def maybe(valid: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Mostly ``valid``, sometimes any JSON value (the wrong type, null, a container)."""
    return st.one_of(valid, valid, valid, json_values)


def shaped(required: dict[str, Any], optional: dict[str, Any] | None = None) -> Any:
    """A JSON object of the documented shape: the required members, some optional ones."""
    return st.fixed_dictionaries(required, optional=optional or {})


def _paths(doc: Any, here: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [here]
    if isinstance(doc, dict):
        for key, value in doc.items():
            out += _paths(value, (*here, key))
    elif isinstance(doc, list):
        for i, value in enumerate(doc):
            out += _paths(value, (*here, i))
    return out


def _swap_type(value: Any) -> Any:
    """Numbers where strings go and the reverse; containers become scalars."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, str):
        return int(value[:18]) if value.isascii() and value.isdigit() else len(value)
    return None if value else {}


@st.composite
def mutated(draw: st.DrawFn, docs: st.SearchStrategy[Any], most: int = 3) -> Any:
    """A document of ``docs`` with up to ``most`` mutations: a member dropped, replaced by any
    JSON value or by null, its type swapped, wrapped in an array, or an undocumented member
    added. A third of the documents are left exactly as drawn."""
    doc = draw(docs)
    for _ in range(draw(st.integers(1, most)) if draw(st.booleans()) else 0):
        path = draw(st.sampled_from(_paths(doc)))
        how = draw(pick(6))
        if not path:
            doc = draw(json_values) if how == 0 else [doc] if how == 1 else doc
            continue
        parent = doc
        for key in path[:-1]:
            parent = parent[key]
        key = path[-1]
        if how == 0 and isinstance(parent, dict):
            del parent[key]
        elif how == 1:
            parent[key] = draw(json_values)
        elif how == 2:
            parent[key] = None
        elif how == 3:
            parent[key] = _swap_type(parent[key])
        elif how == 4:
            parent[key] = [parent[key]]
        elif isinstance(parent, dict):
            parent[draw(st.text(max_size=8))] = draw(json_values)
    return doc


conv_ref = st.one_of(
    st.just(OWN),
    st.just(OWN),
    st.sampled_from(PLACEHOLDERS),
    st.text(max_size=40),
    st.uuids().map(str),
)
ids = st.one_of(
    st.text(min_size=1, max_size=64),
    st.integers(min_value=-(2**53), max_value=2**53),
    st.sampled_from(["1", "1,", "2,", "abc"]),
)

# -- events ----------------------------------------------------------------------------------------

content_event = shaped(
    {
        "type": st.just("ContentEvent"),
        "message": st.text(max_size=60),
    },
    {
        "contentType": st.sampled_from(
            ["text/plain", "hosted/file", "forms/secure-invitation", "text/html", ""]
        ),
        "quickReplies": json_values,
    },
)
rich_event = shaped(
    {"type": st.just("RichContentEvent"), "content": json_values},
    {"message": json_values},
)
chat_state = shaped(
    {
        "type": st.just("ChatStateEvent"),
        "chatState": st.sampled_from(["COMPOSING", "ACTIVE", "PAUSE", "GONE", "INACTIVE", "X"]),
    }
)
accept_status = shaped(
    {
        "type": st.just("AcceptStatusEvent"),
        "status": st.sampled_from(["ACCEPT", "READ", "ACTION", "NACK", "Y"]),
        "sequenceList": st.one_of(
            st.lists(st.integers(min_value=-5, max_value=2**40), max_size=5),
            st.integers(min_value=0, max_value=10),
        ),
    }
)
events = st.one_of(content_event, rich_event, chat_state, accept_status, json_values)

metadata = st.one_of(
    st.lists(
        shaped({"type": st.sampled_from(["ExternalId", "BotResponse", "ActionReason"])}, {}),
        max_size=3,
    ),
    json_values,
)

# -- request bodies --------------------------------------------------------------------------------

publish_body = shaped(
    {"dialogId": conv_ref, "event": events},
    {
        "conversationId": conv_ref,
        "messageAudience": st.sampled_from(["ALL", "AGENTS_AND_MANAGERS", "Z"]),
    },
)

conversation_field = st.one_of(
    shaped(
        {
            "field": st.sampled_from(["ConversationStateField", "Stage"]),
            "conversationState": st.sampled_from(["CLOSE", "OPEN", "LOCKED"]),
        }
    ),
    shaped(
        {
            "field": st.just("DialogChange"),
            "type": st.sampled_from(["UPDATE", "ADD"]),
            "dialog": shaped(
                {"dialogId": conv_ref, "state": st.sampled_from(["CLOSE", "OPEN"])},
                {"closedCause": st.text(max_size=20)},
            ),
        }
    ),
    shaped(
        {"field": st.just("CSATRate"), "csatRate": st.integers(min_value=-1, max_value=6)},
        {
            "csatResolutionConfirmation": st.booleans(),
            "status": st.sampled_from(["FILLED", "SKIPPED"]),
        },
    ),
    shaped(
        {
            "field": st.just("TTRField"),
            "ttrType": st.sampled_from(["URGENT", "NORMAL", "PRIORITIZED", "CUSTOM", "Q"]),
            "value": st.integers(min_value=-(2**40), max_value=2**40),
        }
    ),
    shaped(
        {
            "field": st.sampled_from(["Skill", "ParticipantsChange", "ManualETTR", "Nope"]),
            "skill": st.text(max_size=10),
        },
        {"type": st.sampled_from(["ADD", "REMOVE"]), "userId": st.text(max_size=10)},
    ),
    json_values,
)
update_body = shaped(
    {
        "conversationId": conv_ref,
        "conversationField": st.one_of(
            conversation_field, st.lists(conversation_field, max_size=3)
        ),
    }
)

sde = shaped(
    {"type": st.sampled_from(["ctmrinfo", "personal", "purchase", "lead"])},
    {"info": json_values, "personal": json_values},
)
profile_body = shaped(
    {},
    {
        "firstName": st.text(max_size=20),
        "lastName": st.text(max_size=20),
        "userId": st.text(max_size=20),
        "avatarUrl": st.text(max_size=20),
        "authenticatedData": shaped({}, {"lp_sdes": st.one_of(sde, st.lists(sde, max_size=3))}),
        "privateData": shaped({}, {"mobileNum": st.text(max_size=12), "mail": st.text()}),
    },
)
upload_body = shaped(
    {
        "fileSize": st.one_of(
            st.integers(min_value=-10, max_value=2**40), st.from_regex(r"\A[0-9]{1,12}\Z")
        ),
        "fileType": st.sampled_from(["JPG", "png", "GIF", "PDF", "EXE", ""]),
    }
)
download_body = shaped(
    {
        "relativePath": st.one_of(
            st.just("/v1/AUTH_async-images/le-robust/f.PNG"), st.text(max_size=60)
        )
    }
)
request_body = shaped(
    {},
    {
        "brandId": st.text(max_size=12),
        "skillId": st.one_of(st.text(max_size=6), int64),
        "ttrDefName": st.sampled_from(["NORMAL", "URGENT", "PRIORITIZED", "CUSTOM", None, "W"]),
        "channelType": st.just("MESSAGING"),
        "campaignInfo": shaped({}, {"campaignId": int64, "engagementId": st.text()}),
        "conversationContext": shaped(
            {},
            {
                "type": st.sampled_from(["SharkContext", "CustomContext"]),
                "features": st.one_of(st.text(max_size=15), st.lists(st.text(max_size=15))),
                "lang": st.just("en-US"),
                "clientProperties": json_values,
            },
        ),
    },
)

TYPES: dict[str, Any] = {
    "ms.PublishEvent": publish_body,
    ".ams.ms.PublishEvent": publish_body,
    "cm.UpdateConversationField": update_body,
    ".ams.cm.UpdateConversationField": update_body,
    "userprofile.SetUserProfile": profile_body,
    "ms.GenerateURLForUploadFile": upload_body,
    "ms.GenerateURLForDownloadFile": download_body,
    "cm.ConsumerRequestConversation": request_body,
    "GetClock": st.builds(dict),
    "KeepAlive": st.builds(dict),
}


@st.composite
def valid_frame(draw: st.DrawFn, types: tuple[str, ...] = tuple(TYPES)) -> Any:
    """A request frame of the documented envelope (``kind`` and ``id`` optional)."""
    type_name = draw(st.sampled_from(types))
    frame: dict[str, Any] = {}
    if draw(st.booleans()):
        frame["kind"] = "req"
    if draw(pick(5)):
        frame["id"] = draw(ids)
    frame["type"] = type_name
    if draw(pick(10)) != 9:
        frame["body"] = draw(TYPES[type_name])
    if draw(pick(6)) == 5:
        frame["metadata"] = draw(metadata)
    return frame


SEND_TYPES = (
    "ms.PublishEvent",
    "ms.PublishEvent",
    "ms.PublishEvent",
    ".ams.ms.PublishEvent",
    "cm.UpdateConversationField",
    ".ams.cm.UpdateConversationField",
    "userprofile.SetUserProfile",
    "ms.GenerateURLForUploadFile",
    "ms.GenerateURLForDownloadFile",
    "cm.ConsumerRequestConversation",
    "GetClock",
)


def request_frame(types: tuple[str, ...] = SEND_TYPES) -> st.SearchStrategy[Any]:
    """Near-valid request frames of ``types``: documented shapes with a few mutations."""
    return mutated(valid_frame(types))


@st.composite
def conversation_batch(draw: st.DrawFn) -> Any:
    """A CONVERSATION body: mostly ``[SetUserProfile, ConsumerRequestConversation, ...]``."""
    shape = draw(pick(10))
    if shape == 9:
        return draw(json_values)
    first = draw(request_frame(("userprofile.SetUserProfile",)))
    second = draw(request_frame(("cm.ConsumerRequestConversation",)))
    items = [first, second]
    if shape == 8:
        items.reverse()
    extra = draw(st.lists(request_frame(), max_size=2))
    return items + extra if shape != 7 else items[:1]


# -- raw bodies ------------------------------------------------------------------------------------


@st.composite
def encoded(draw: st.DrawFn, docs: st.SearchStrategy[Any]) -> bytes:
    """The JSON of a document, damaged: random bytes, truncated, invalid UTF-8, or empty."""
    raw = orjson.dumps(draw(docs))
    how = draw(pick(4))
    if how == 0:
        return draw(st.binary(max_size=200))
    if how == 1 and raw:
        return raw[: draw(st.integers(0, len(raw) - 1))]
    if how == 2:
        cut = draw(st.integers(0, len(raw)))
        bad = draw(st.sampled_from([b"\xff", b"\xc3", b"\xed\xa0\x80", b"\x00"]))
        return raw[:cut] + bad + raw[cut:]
    return b""


# -- headers and queries ---------------------------------------------------------------------------


def header_safe(raw: bytes) -> bytes:
    """Keep the bytes HTTP allows in a header value (HTAB, visible ASCII, obs-text)."""
    return bytes(c for c in raw if c == 0x09 or 0x20 <= c <= 0x7E or c >= 0x80).strip()


# Header values are well-formed HTTP (malformed framing is the hostile catalogue's business).
header_text = st.binary(max_size=60).map(header_safe)

CONTENT_TYPES = (
    "application/json",
    "application/json; charset=utf-8",
    "text/plain",
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=xyz",
    "application/octet-stream",
    "",
    "garbage/////",
)
content_types = st.one_of(st.sampled_from(CONTENT_TYPES), st.none(), header_text)

client_properties = st.one_of(
    st.none(),
    st.just(b'{"type":".ClientProperties","features":["AUTO_MESSAGES","RICH_CONTENT"]}'),
    st.just(b"[object Object]"),
    json_values.map(orjson.dumps).map(header_safe),
    header_text,
)

queries = st.one_of(
    st.just("?v=3"),
    st.just(""),
    st.lists(st.tuples(st.text(max_size=8), st.text(max_size=12)), max_size=3).map(
        lambda pairs: "?" + "&".join(f"{quote(k)}={quote(v)}" for k, v in pairs)
    ),
)

path_segments = st.one_of(
    st.sampled_from(["le-robust", "le-other", "0", "%ff", "%2F", "..", "le-robust%00"]),
    st.text(min_size=1, max_size=20).map(lambda t: quote(t, safe="")),
)


# -- UMS WebSocket frames --------------------------------------------------------------------------

JWT = "$jwt"  # the socket's own consumer token, resolved when sent

states = st.sampled_from(["OPEN", "CLOSE", "LOCKED", "Q"])
UMS_TYPES: dict[str, Any] = {
    **TYPES,
    "ms.SubscribeMessagingEvents": shaped(
        {"dialogId": conv_ref},
        {"fromSeq": st.integers(min_value=0, max_value=5), "conversationId": conv_ref},
    ),
    ".ams.ms.QueryMessages": shaped(
        {"dialogId": conv_ref},
        {
            "fromSeq": st.integers(min_value=0, max_value=5),
            "newerThanSequence": st.integers(min_value=0, max_value=5),
        },
    ),
    "cqm.SubscribeExConversations": shaped(
        {},
        {
            "convState": st.one_of(states, st.lists(states, max_size=3)),
            "stage": st.one_of(states, st.lists(states, max_size=2)),
            "agentIds": st.one_of(st.text(max_size=10), st.lists(st.text(max_size=10))),
            "consumerId": st.text(max_size=64),
            "brandId": st.sampled_from(["le-robust", "le-other"]),
            "minLastUpdatedTime": st.integers(min_value=0, max_value=2**41),
            "maxLastUpdatedTime": st.integers(min_value=0, max_value=2**41),
        },
    ),
    "cqm.UnsubscribeExConversations": shaped({"subscriptionId": st.text(min_size=1, max_size=64)}),
    "userprofile.GetUserProfile": st.one_of(shaped({}, {"userId": st.text()}), st.text()),
    "InitConnection": st.builds(dict),
}
UMS_FRAME_TYPES = tuple(UMS_TYPES) + ("ms.PublishEvent",) * 3 + (".ams.ms.PublishEvent",)


@st.composite
def valid_ws_frame(draw: st.DrawFn) -> Any:
    type_name = draw(st.sampled_from(UMS_FRAME_TYPES))
    frame: dict[str, Any] = {"kind": "req", "id": draw(ids), "type": type_name}
    if draw(pick(10)) != 9:
        frame["body"] = draw(UMS_TYPES[type_name])
    if type_name == "InitConnection":
        auth = {"type": ".ams.headers.ConsumerAuthentication", "jwt": JWT}
        props = {"type": ".ams.headers.ClientProperties", "deviceFamily": "DESKTOP"}
        frame["headers"] = [auth, props][: draw(st.integers(1, 2))]
    if draw(pick(6)) == 5:
        frame["metadata"] = draw(metadata)
    return frame


ws_frames = mutated(valid_ws_frame())

WS_SIZE_LIMIT = 1_048_576  # the default --ws-max-frame


@st.composite
def ws_messages(draw: st.DrawFn) -> tuple[str, Any]:
    """One message a client may send: a near-valid frame, other text, binary, or a huge one."""
    kind = draw(pick(12))
    if kind <= 8:
        return ("json", draw(ws_frames))
    if kind == 9:
        return ("text", draw(st.text(max_size=80)))
    if kind == 10:
        return ("binary", draw(st.binary(max_size=80)))
    return ("huge", WS_SIZE_LIMIT + 1)


# -- agent socket frames ---------------------------------------------------------------------------

RING_ID = "$ring"  # the last ring id the fuzzing agent socket was given (else a made-up one)
CONSUMERS = ("$consumer:fuzz-0", "$consumer:fuzz-1", "$consumer:victim", "$consumer:nobody")
AGENT_IDS = ("$self", "$self", "$agent:watch-bot", "$agent:nobody")  # the socket's own, others

agent_ref = st.one_of(st.sampled_from(AGENT_IDS), st.text(max_size=20))
availability = st.sampled_from(["ONLINE", "ONLINE", "OCCUPIED", "AWAY", "OFFLINE", ""])
participants_change = shaped(
    {
        "field": st.just("ParticipantsChange"),
        "type": st.sampled_from(["ADD", "REMOVE", "SUGGEST", "UPDATE", "X"]),
    },
    {
        "role": st.sampled_from(["ASSIGNED_AGENT", "MANAGER", "READER", "AGENT", "CONSUMER", "Z"]),
        "userId": agent_ref,
    },
)
skill_change = shaped(
    {"field": st.just("Skill"), "skill": st.one_of(st.text(max_size=6), int64)},
    {"type": st.just("UPDATE")},
)
agent_field = st.one_of(participants_change, skill_change, conversation_field)
agent_update_body = shaped(
    {
        "conversationId": conv_ref,
        "conversationField": st.one_of(agent_field, st.lists(agent_field, max_size=3)),
    }
)
AGENT_TYPES: dict[str, Any] = {
    ".ams.routing.SetAgentState": shaped(
        {"availability": availability},
        {
            "channels": st.one_of(st.just(["MESSAGING"]), st.text(max_size=10)),
            "agentUserId": agent_ref,
            "description": st.text(max_size=20),
        },
    ),
    ".ams.routing.SubscribeRoutingTasks": shaped(
        {},
        {
            "channelType": st.just("MESSAGING"),
            "agentId": agent_ref,
            "brandId": st.sampled_from(["le-robust", "le-other", ""]),
        },
    ),
    ".ams.routing.UpdateRoutingTaskSubscription": shaped(
        {}, {"agentId": agent_ref, "subscriptionId": st.text(max_size=40)}
    ),
    ".ams.routing.UpdateRingState": shaped(
        {
            "ringId": st.one_of(st.just(RING_ID), st.just(RING_ID), st.text(max_size=80)),
            "ringState": st.sampled_from(["ACCEPTED", "ACCEPTED", "REJECTED", "WAITING", "X"]),
        }
    ),
    ".ams.routing.SubscribeAgentsState": shaped(
        {}, {"agentId": agent_ref, "brandId": st.sampled_from(["le-robust", "le-other"])}
    ),
    ".ams.aam.SubscribeExConversations": shaped(
        {},
        {
            "convState": st.one_of(states, st.lists(states, max_size=3)),
            "agentIds": st.one_of(agent_ref, st.lists(agent_ref, max_size=3)),
            "skillIds": st.one_of(st.text(max_size=5), st.lists(st.text(max_size=5), max_size=3)),
            "minLastUpdatedTime": st.integers(min_value=0, max_value=2**41),
        },
    ),
    ".ams.aam.UnsubscribeExConversations": shaped(
        {"subscriptionId": st.text(min_size=1, max_size=64)}
    ),
    ".ams.ms.QueryMessages": shaped(
        {"dialogId": conv_ref},
        {
            "newerThanSequence": st.integers(min_value=0, max_value=2**40),
            "maxQuantity": st.integers(min_value=-3, max_value=50),
        },
    ),
    ".ams.ms.SubscribeMessagingEvents": shaped(
        {"dialogId": conv_ref}, {"fromSeq": st.integers(min_value=0, max_value=5)}
    ),
    ".ams.ms.PublishEvent": publish_body,
    ".ams.cm.UpdateConversationField": agent_update_body,
    ".ams.cm.AgentRequestConversation": shaped(
        {"consumerId": st.one_of(st.sampled_from(CONSUMERS), st.text(max_size=64))},
        {
            "channelType": st.just("MESSAGING"),
            "skillId": st.one_of(st.text(max_size=5), int64),
            "conversationContext": shaped({}, {"type": st.just("ProactiveContext")}),
        },
    ),
    ".ams.userprofile.GetUserProfile": st.one_of(
        st.sampled_from(CONSUMERS), shaped({}, {"userId": st.sampled_from(CONSUMERS)}), st.text()
    ),
    ".ams.ms.GenerateURLForUploadFile": upload_body,
    ".ams.ms.GenerateURLForDownloadFile": download_body,
    ".GetClock": st.builds(dict),
    ".KeepAlive": st.builds(dict),
    # requests of the other role
    "cm.ConsumerRequestConversation": request_body,
    "userprofile.SetUserProfile": profile_body,
}
AGENT_FRAME_TYPES = tuple(AGENT_TYPES) + (".ams.routing.UpdateRingState", ".ams.ms.PublishEvent")


@st.composite
def valid_agent_frame(draw: st.DrawFn) -> Any:
    type_name = draw(st.sampled_from(AGENT_FRAME_TYPES))
    frame: dict[str, Any] = {"kind": "req", "id": draw(ids), "type": type_name}
    if draw(pick(10)) != 9:
        frame["body"] = draw(AGENT_TYPES[type_name])
    if draw(pick(6)) == 5:
        frame["metadata"] = draw(metadata)
    return frame


agent_frames = mutated(valid_agent_frame())


@st.composite
def agent_messages(draw: st.DrawFn) -> tuple[str, Any]:
    """One message an agent client may send: mostly near-valid agent frames."""
    kind = draw(pick(12))
    if kind <= 8:
        return ("json", draw(agent_frames))
    if kind == 9:
        return ("text", draw(st.text(max_size=80)))
    if kind == 10:
        return ("binary", draw(st.binary(max_size=80)))
    return ("huge", WS_SIZE_LIMIT + 1)
