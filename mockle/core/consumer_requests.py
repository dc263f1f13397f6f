"""The requests of a consumer socket (Messaging Window API, protocol.md §4), sans I/O.

Each handler takes the socket's :class:`~mockle.core.sessions.Session`, the parsed request and
the call's :class:`~mockle.core.effects.Effects`, acts through the engine or the subscriptions,
and returns the ``body`` of the ``resp``. A consumer acts only on its own conversations: the
engine refuses another consumer's (403).
"""

from __future__ import annotations

from typing import Any

from mockle.core import errors, fields
from mockle.core.dialects import Dialect, Op
from mockle.core.effects import Actor, Effects
from mockle.core.engine import Engine
from mockle.core.model import CONSUMER, Consumer, Conversation, Dialog
from mockle.core.requests import Request
from mockle.core.sessions import ExSubscription, Session, merge_properties
from mockle.core.subscriptions import Subscriptions
from mockle.core.ums import Handler, SocketAuth

INIT_OK = "Connection initialized successfully"
UNSUBSCRIBE_OK = "OK"

AUTH_HEADER_TYPES = frozenset(
    {".ams.headers.ConsumerAuthentication", ".ConsumerAuthentication", "ConsumerAuthentication"}
)
PROPS_HEADER_TYPES = frozenset(
    {".ams.headers.ClientProperties", ".ClientProperties", "ClientProperties"}
)


def as_set(value: Any) -> frozenset[str] | None:
    """A filter value as a set of strings (a bare element counts as a one-element array)."""
    if value is None:
        return None
    items = value if isinstance(value, list) else [value]
    return frozenset(str(v) for v in items)


def int_or_none(value: Any) -> int | None:
    return int(value) if isinstance(value, int) and not isinstance(value, bool) else None


def ex_subscription(sub_id: str, session: Session, req: Request, **scope: Any) -> ExSubscription:
    """The filters of a ``SubscribeExConversations`` body (both roles)."""
    body = req.body
    return ExSubscription(
        sub_id,
        req.dialect,
        conv_state=as_set(body.get("convState")),
        stage=as_set(body.get("stage")),
        brand_id=None if body.get("brandId") is None else str(body["brandId"]),
        consumer_id=None if body.get("consumerId") is None else str(body["consumerId"]),
        min_ts=int_or_none(body.get("minLastUpdatedTime")),
        max_ts=int_or_none(body.get("maxLastUpdatedTime")),
        legacy=session.v2 and req.dialect is Dialect.AMS,
        **scope,
    )


def consumer_profile(consumer: Consumer) -> dict[str, Any]:
    """A consumer's ``GetUserProfile`` answer: what SetUserProfile stored, with its id."""
    profile = consumer.profile
    return {**profile, "userId": profile.get("userId") or consumer.consumer_id}


def from_sequence(body: dict[str, Any], *names: str) -> int:
    """The first of ``names`` the body carries, as a sequence (0 when absent)."""
    for name in names:
        value = body.get(name)
        if value is not None:
            return int(value)
    return 0


class ConsumerRequests:
    """The handler table of consumer sockets."""

    def __init__(self, engine: Engine, subscriptions: Subscriptions, auth: SocketAuth) -> None:
        self.engine = engine
        self.subs = subscriptions
        self.auth = auth

    def table(self) -> dict[Op, Handler]:
        return {
            Op.INIT_CONNECTION: self.init_connection,
            Op.REQUEST_CONVERSATION: self.request_conversation,
            Op.UPDATE_CONVERSATION_FIELD: self.update_fields,
            Op.PUBLISH_EVENT: self.publish,
            Op.SUBSCRIBE_MESSAGING_EVENTS: self.subscribe_events,
            Op.QUERY_MESSAGES: self.query_messages,
            Op.SUBSCRIBE_EX_CONVERSATIONS: self.subscribe_conversations,
            Op.UNSUBSCRIBE_EX_CONVERSATIONS: self.unsubscribe_conversations,
            Op.SET_USER_PROFILE: self.set_user_profile,
            Op.GET_USER_PROFILE: self.get_user_profile,
        }

    def _actor(self, session: Session) -> Actor:
        assert session.info is not None
        return Actor(session.account, session.info.subject, CONSUMER, session.client_properties)

    def _dialog(self, session: Session, body: dict[str, Any]) -> tuple[Conversation, Dialog]:
        return self.engine.dialog_of(self._actor(session), body)

    def init_connection(self, session: Session, req: Request, fx: Effects) -> str:
        headers = req.frame.get("headers")
        items = headers if isinstance(headers, list) else [headers]
        token: str | None = None
        for h in items:
            if not isinstance(h, dict):
                continue
            kind = h.get("type")
            if kind in AUTH_HEADER_TYPES:
                token = str(h.get("jwt"))
            elif kind in PROPS_HEADER_TYPES:
                session.client_properties = merge_properties(session.client_properties, h)
        if token is not None:
            self.auth.authenticate(session, self.auth.verify(session.account, token, session.role))
        elif not session.authenticated:
            raise errors.AuthError(
                "InitConnection carries no .ams.headers.ConsumerAuthentication header with a jwt"
            )
        return INIT_OK

    def request_conversation(self, session: Session, req: Request, fx: Effects) -> dict[str, Any]:
        assert session.info is not None
        consumer = self.engine.consumer(session.info)
        conv = self.engine.request_conversation(
            consumer, req.body, fx, client_properties=session.client_properties, channel="ums"
        )
        return {"conversationId": conv.conv_id}

    def update_fields(self, session: Session, req: Request, fx: Effects) -> str:
        return fields.update(self.engine, self._actor(session), req.body, fx)

    def publish(self, session: Session, req: Request, fx: Effects) -> dict[str, Any]:
        seq = self.engine.publish(self._actor(session), req.body, fx, metadata=req.metadata)
        return {"sequence": seq}

    def set_user_profile(self, session: Session, req: Request, fx: Effects) -> str:
        assert session.info is not None
        return self.engine.set_user_profile(self.engine.consumer(session.info), req.body)

    def get_user_profile(self, session: Session, req: Request, fx: Effects) -> dict[str, Any]:
        assert session.info is not None
        me = session.info.subject
        asked = req.body.get("userId") if isinstance(req.body, dict) else req.body
        if asked not in (None, "", me):
            raise errors.Forbidden(
                f"a consumer may read only its own profile ({me}), not {asked!r}",
                where="$.body",
                title="Forbidden",
            )
        return consumer_profile(self.engine.consumer(session.info))

    # -- messaging events ---------------------------------------------------------------------

    def subscribe_events(self, session: Session, req: Request, fx: Effects) -> dict[str, Any]:
        _, dialog = self._dialog(session, req.body)
        from_seq = from_sequence(req.body, "fromSeq")
        self.subs.subscribe_events(session, dialog, from_seq, req.dialect, fx)
        return {}

    def query_messages(self, session: Session, req: Request, fx: Effects) -> list[Any]:
        _, dialog = self._dialog(session, req.body)
        start = from_sequence(req.body, "fromSeq", "newerThanSequence")
        return self.subs.history(session, dialog, start)

    # -- conversation metadata ----------------------------------------------------------------

    def subscribe_conversations(
        self, session: Session, req: Request, fx: Effects
    ) -> dict[str, Any]:
        assert session.info is not None
        sub = ex_subscription(
            self.engine.ids.uuid(),
            session,
            req,
            consumer=session.info.subject,
            agent_ids=_agent_ids(req.body.get("agentIds")),
        )
        self.subs.subscribe_conversations(session, sub, fx)
        return {"subscriptionId": sub.id}

    def unsubscribe_conversations(self, session: Session, req: Request, fx: Effects) -> str:
        sub_id = str(req.body["subscriptionId"])
        if not self.subs.unsubscribe_conversations(session, sub_id):
            raise errors.NotFound(
                f"subscriptionId {sub_id!r} is not a subscription of this connection",
                where="$.body.subscriptionId",
            )
        return UNSUBSCRIBE_OK


def _agent_ids(value: Any) -> frozenset[str] | None:
    ids = as_set(value)
    if ids is None or not ids or ids == frozenset({""}):
        return None
    return ids
