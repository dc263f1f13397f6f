"""Request type names, their three dialects, and the response type each dialect expects.

Clients spell the same operation three ways (protocol.md §3.7): short "v3/doc" names
(``cm.ConsumerRequestConversation``), full ``.ams`` names (``.ams.cm.ConsumerRequestConversation``)
and the Connector API names (the short names, inside CONVERSATION/SEND). A response answers in
the dialect of its request. These tables are the single place that knows the spellings.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable

from mockle.core.keyenum import KeyEnum


class Op(KeyEnum):
    INIT_CONNECTION = "InitConnection"
    GET_CLOCK = "GetClock"
    KEEP_ALIVE = "KeepAlive"
    REQUEST_CONVERSATION = "ConsumerRequestConversation"
    UPDATE_CONVERSATION_FIELD = "UpdateConversationField"
    PUBLISH_EVENT = "PublishEvent"
    SUBSCRIBE_MESSAGING_EVENTS = "SubscribeMessagingEvents"
    QUERY_MESSAGES = "QueryMessages"
    SUBSCRIBE_EX_CONVERSATIONS = "SubscribeExConversations"
    UNSUBSCRIBE_EX_CONVERSATIONS = "UnsubscribeExConversations"
    SET_USER_PROFILE = "SetUserProfile"
    GET_USER_PROFILE = "GetUserProfile"
    GENERATE_UPLOAD_URL = "GenerateURLForUploadFile"
    GENERATE_DOWNLOAD_URL = "GenerateURLForDownloadFile"
    # agent side (protocol.md §9.3, agent-sdk.md §5)
    SET_AGENT_STATE = "SetAgentState"
    SUBSCRIBE_ROUTING_TASKS = "SubscribeRoutingTasks"
    UPDATE_ROUTING_TASK_SUBSCRIPTION = "UpdateRoutingTaskSubscription"
    UPDATE_RING_STATE = "UpdateRingState"
    SUBSCRIBE_AGENTS_STATE = "SubscribeAgentsState"
    AGENT_REQUEST_CONVERSATION = "AgentRequestConversation"


class Dialect(KeyEnum):
    SHORT = "short"  # cm.X / ms.X / cqm.X / userprofile.X, also the Connector API names
    AMS = "ams"  # .ams.cm.X / .ams.ms.X / .ams.aam.X / .GetClock


SHORT, AMS = Dialect.SHORT, Dialect.AMS  # for hot paths (see keyenum.py)
PUBLISH_EVENT = Op.PUBLISH_EVENT  # SEND's usual operation, for hot paths (see keyenum.py)


# Every spelling a client may send -> (operation, dialect).
_SPELLINGS: dict[Op, tuple[tuple[str, ...], tuple[str, ...]]] = {
    Op.INIT_CONNECTION: (("InitConnection",), (".InitConnection",)),
    Op.GET_CLOCK: (("GetClock",), (".GetClock",)),
    Op.KEEP_ALIVE: (("KeepAlive",), (".KeepAlive",)),
    Op.REQUEST_CONVERSATION: (
        ("cm.ConsumerRequestConversation",),
        (".ams.cm.ConsumerRequestConversation",),
    ),
    Op.UPDATE_CONVERSATION_FIELD: (
        ("cm.UpdateConversationField",),
        (".ams.cm.UpdateConversationField",),
    ),
    Op.PUBLISH_EVENT: (("ms.PublishEvent",), (".ams.ms.PublishEvent",)),
    Op.SUBSCRIBE_MESSAGING_EVENTS: (
        ("ms.SubscribeMessagingEvents",),
        (".ams.ms.SubscribeMessagingEvents",),
    ),
    Op.QUERY_MESSAGES: (("ms.QueryMessages",), (".ams.ms.QueryMessages",)),
    Op.SUBSCRIBE_EX_CONVERSATIONS: (
        ("cqm.SubscribeExConversations", "aam.SubscribeExConversations"),
        (".ams.aam.SubscribeExConversations",),
    ),
    Op.UNSUBSCRIBE_EX_CONVERSATIONS: (
        ("cqm.UnsubscribeExConversations", "aam.UnsubscribeExConversations"),
        (".ams.aam.UnsubscribeExConversations",),
    ),
    Op.SET_USER_PROFILE: (("userprofile.SetUserProfile",), (".ams.userprofile.SetUserProfile",)),
    Op.GET_USER_PROFILE: (
        ("userprofile.GetUserProfile", "up.GetUserProfile"),
        (".ams.userprofile.GetUserProfile",),
    ),
    Op.GENERATE_UPLOAD_URL: (
        ("ms.GenerateURLForUploadFile",),
        (".ams.ms.GenerateURLForUploadFile",),
    ),
    Op.GENERATE_DOWNLOAD_URL: (
        ("ms.GenerateURLForDownloadFile",),
        (".ams.ms.GenerateURLForDownloadFile",),
    ),
    Op.SET_AGENT_STATE: (("routing.SetAgentState",), (".ams.routing.SetAgentState",)),
    Op.SUBSCRIBE_ROUTING_TASKS: (
        ("routing.SubscribeRoutingTasks",),
        (".ams.routing.SubscribeRoutingTasks",),
    ),
    Op.UPDATE_ROUTING_TASK_SUBSCRIPTION: (
        ("routing.UpdateRoutingTaskSubscription",),
        (".ams.routing.UpdateRoutingTaskSubscription",),
    ),
    Op.UPDATE_RING_STATE: (("routing.UpdateRingState",), (".ams.routing.UpdateRingState",)),
    Op.SUBSCRIBE_AGENTS_STATE: (
        ("routing.SubscribeAgentsState",),
        (".ams.routing.SubscribeAgentsState",),
    ),
    Op.AGENT_REQUEST_CONVERSATION: (
        ("cm.AgentRequestConversation",),
        (".ams.cm.AgentRequestConversation",),
    ),
}

TYPES: dict[str, tuple[Op, Dialect]] = {}
for _op, (_short, _ams) in _SPELLINGS.items():
    for _name in _short:
        TYPES[_name] = (_op, Dialect.SHORT)
    for _name in _ams:
        TYPES[_name] = (_op, Dialect.AMS)

# Response `type` per operation and dialect (protocol.md §3.7). Operations answering a
# plain string use the string-response type.
STRING_RESPONSE = {Dialect.SHORT: "StringResponse", Dialect.AMS: ".ReqBody$StringResp"}
_GENERIC_SUBSCRIBE = ("GenericSubscribeResponse", ".ams.GenericSubscribe$Response")
_RESPONSES: dict[Op, tuple[str, str]] = {
    Op.GET_CLOCK: ("GetClockResponse", ".GetClock$Response"),
    Op.REQUEST_CONVERSATION: (
        "cm.RequestConversationResponse",
        ".ams.cm.types.RequestConversation$Response",
    ),
    Op.PUBLISH_EVENT: ("ms.PublishEventResponse", ".ams.ms.PublishEvent$Response"),
    Op.SUBSCRIBE_MESSAGING_EVENTS: _GENERIC_SUBSCRIBE,
    Op.QUERY_MESSAGES: ("ms.QueryMessagesResponse", ".ams.ms.QueryMessages$Response"),
    Op.SUBSCRIBE_EX_CONVERSATIONS: (
        "cqm.SubscribeExConversationsResponse",
        ".ams.aam.SubscribeExConversations$Response",
    ),
    Op.GET_USER_PROFILE: (
        "userprofile.GetUserProfileResponse",
        ".ams.userprofile.GetUserProfile$Response",
    ),
    Op.GENERATE_UPLOAD_URL: ("ms.GenerateURLResponse", ".ams.ms.GenerateURLForUploadFile$Response"),
    Op.SUBSCRIBE_ROUTING_TASKS: _GENERIC_SUBSCRIBE,
    Op.UPDATE_ROUTING_TASK_SUBSCRIPTION: _GENERIC_SUBSCRIBE,
    Op.SUBSCRIBE_AGENTS_STATE: _GENERIC_SUBSCRIBE,
    Op.AGENT_REQUEST_CONVERSATION: (
        "cm.RequestConversationResponse",
        ".ams.cm.types.RequestConversation$Response",
    ),
    Op.GENERATE_DOWNLOAD_URL: (
        "ms.GenerateURLResponse",
        ".ams.ms.GenerateURLForDownloadFile$Response",
    ),
}

# Notification `type` per dialect.
MESSAGING_NOTIFICATION = {
    Dialect.SHORT: "ms.MessagingEventNotification",
    Dialect.AMS: ".ams.ms.MessagingEventNotification",
}
CONVERSATION_NOTIFICATION = {
    Dialect.SHORT: "cqm.ExConversationChangeNotification",
    Dialect.AMS: ".ams.aam.ExConversationChangeNotification",
}
ONLINE_EVENT_DISTRIBUTION = ".ams.ms.OnlineEventDistribution"
ROUTING_TASK_NOTIFICATION = {
    Dialect.SHORT: "routing.RoutingTaskNotification",
    Dialect.AMS: ".ams.routing.RoutingTaskNotification",
}
AGENT_STATE_NOTIFICATION = {
    Dialect.SHORT: "routing.AgentStateNotification",
    Dialect.AMS: ".ams.routing.AgentStateNotification",
}

# The routing updates the docs answer with 202 (DC-id agent-int-getting-started).
ACCEPTED_CODE: dict[Op, int] = {Op.SET_AGENT_STATE: 202, Op.UPDATE_RING_STATE: 202}


lookup: Callable[[str], tuple[Op, Dialect] | None] = TYPES.get
"""The operation and dialect of a request type name, or ``None`` if unknown (the table's own
``get``, called directly: a request looks its type up once or twice, socket frames too)."""


_AMS_NAMES = tuple(sorted(name for name in TYPES if name.startswith(".")))
_SHORT_NAMES = tuple(sorted(name for name in TYPES if not name.startswith(".")))


def nearest(type_name: str) -> str | None:
    """The known request type most like ``type_name`` (a typo, a wrong service prefix), in
    the same dialect when one is close enough: ``.ams.cm.SubscribeExConversations`` ->
    ``.ams.aam.SubscribeExConversations``. ``None`` when nothing is close."""
    if len(type_name) > 120:  # nobody mistypes a name this long; keep hostile input cheap
        return None
    same, other = (
        (_AMS_NAMES, _SHORT_NAMES) if type_name.startswith(".") else (_SHORT_NAMES, _AMS_NAMES)
    )
    for names in (same, other):
        found = difflib.get_close_matches(type_name, names, n=1, cutoff=0.6)
        if found:
            return found[0]
    return None


def response_type(op: Op, dialect: Dialect) -> str:
    pair = _RESPONSES.get(op)
    if pair is None:
        return STRING_RESPONSE[dialect]
    return pair[0] if dialect is SHORT else pair[1]


def response_code(op: Op) -> int:
    """The ``code`` of a successful ``resp``: 202 for the routing updates the docs answer with
    202 (``SetAgentState``, ``UpdateRingState``; protocol.md §9.3), else 200."""
    return ACCEPTED_CODE.get(op, 200)
