"""The UMS consumer WebSocket in the core: sessions driven directly, no server, a FakeClock."""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mockle.core import connector, dialects
from mockle.core.clock import FakeClock, Ids
from mockle.core.closecodes import CloseCode
from mockle.core.engine import CoreConfig, Effects, Engine
from mockle.core.sessions import Session, client_properties_from_query
from mockle.core.tokens import token_from_header
from mockle.core.world import World

from .helpers import ACCOUNT, batch, call, send, text, tokens

CLOSE_FRESH_TOKEN = CloseCode.FRESH_TOKEN
CLOSE_EXTEND_IDENTITY = CloseCode.EXTEND_IDENTITY


class Harness:
    """The core's socket service plus one inbox per session: what each socket received."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.ums = World.build(CoreConfig(agent_mode="manual"), engine=engine).ums
        self.inbox: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self.closes: dict[str, tuple[int, str]] = {}

    def deliver(self, fx: Effects) -> Effects:
        for sid, frame in fx.frames:
            # every frame must survive JSON encoding, as the writer sends it
            self.inbox[sid].append(orjson.loads(orjson.dumps(frame)))
        for sid, code, reason in fx.closes:
            self.closes.setdefault(sid, (code, reason))
        return fx

    def connect(self, token: str | None, **kw: Any) -> Sock:
        session, fx = self.ums.open_consumer(kw.pop("account", ACCOUNT), token=token, **kw)
        sock = Sock(self, session)
        self.deliver(fx)
        return sock

    def signup(self, account: str = ACCOUNT) -> str:
        return self.engine.tokens.mint_signup(account, 3600)


class Sock:
    def __init__(self, world: Harness, session: Session) -> None:
        self.world = world
        self.session = session

    @property
    def id(self) -> str:
        return self.session.id

    def raw(self, data: str | bytes) -> list[dict[str, Any]]:
        """Send one text frame; the frames this socket received because of it."""
        inbox = self.world.inbox[self.id]
        before = len(inbox)
        self.world.deliver(self.world.ums.frame(self.session, data))
        got = inbox[before:]
        del inbox[before:]  # consumed: take() returns only what other calls delivered
        return got

    def send(self, frame: Any) -> list[dict[str, Any]]:
        return self.raw(json.dumps(frame))  # stdlib: also writes big ints and Infinity

    def req(self, frame: Any) -> dict[str, Any]:
        """Send a request; its resp (asserted to be the first frame received)."""
        got = self.send(frame)
        assert got and got[0]["kind"] == "resp", got
        return got[0]

    def take(self) -> list[dict[str, Any]]:
        frames = list(self.world.inbox[self.id])
        self.world.inbox[self.id].clear()
        return frames

    @property
    def closed(self) -> tuple[int, str] | None:
        return self.world.closes.get(self.id)


@pytest.fixture
def world(engine: Engine) -> Harness:
    return Harness(engine)


def sub_of(token: str) -> str:
    import jwt

    claims = jwt.decode(token, options={"verify_signature": False})
    return str(claims.get("sub") or claims.get("lp_consumer_id"))


def publish(dialog: str, message: str = "hi there", rid: Any = 2, **extra: Any) -> dict[str, Any]:
    body = {"dialogId": dialog, **extra}
    body["event"] = {"type": "ContentEvent", "contentType": "text/plain", "message": message}
    return {"kind": "req", "id": rid, "type": "ms.PublishEvent", "body": body}


def new_conversation(sock: Sock, type_name: str = "cm.ConsumerRequestConversation") -> str:
    resp = sock.req({"kind": "req", "id": 1, "type": type_name})
    assert resp["code"] == 200, resp
    return str(resp["body"]["conversationId"])


# -- connection and authentication ------------------------------------------------------------


def test_authorization_header_forms() -> None:
    assert token_from_header("jwt abc") == "abc"
    assert token_from_header("JWT  abc ") == "abc"
    assert token_from_header("Bearer abc") == "abc"
    assert token_from_header("abc") == "abc"
    assert token_from_header("  ") is None
    assert token_from_header(None) is None


def test_client_properties_from_query_parameters() -> None:
    props = client_properties_from_query(
        [("v", "3"), ("deviceFamily", "MOBILE"), ("os", "IOS"), ("features", "A,B"), ("x", "1")]
    )
    assert props == {
        "type": ".ClientProperties",
        "deviceFamily": "MOBILE",
        "os": "IOS",
        "features": ["A", "B"],
    }
    assert client_properties_from_query([("v", "3")]) is None


def test_signup_token_authenticates_and_get_clock_answers_in_each_dialect(
    world: Harness, clock: FakeClock
) -> None:
    sock = world.connect(world.signup())
    assert sock.closed is None and sock.session.authenticated
    assert sock.req({"kind": "req", "id": "1", "type": "GetClock"}) == {
        "kind": "resp",
        "reqId": "1",
        "code": 200,
        "body": {"currentTime": clock.now_ms()},
        "type": "GetClockResponse",
    }
    resp = sock.req({"kind": "req", "id": "1", "body": {}, "type": ".GetClock"})  # S3-1
    assert resp["type"] == ".GetClock$Response" and resp["code"] == 200
    resp = sock.req({"kind": "req", "id": 9, "type": "KeepAlive"})
    assert resp == {
        "kind": "resp",
        "reqId": "9",
        "code": 200,
        "body": "OK",
        "type": "StringResponse",
    }


@pytest.mark.parametrize(
    "token",
    ["not-a-jwt", "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2ln"],
    ids=["garbage", "hs256"],
)
def test_bad_token_closes_4401(world: Harness, token: str) -> None:
    sock = world.connect(token)
    assert sock.closed is not None and sock.closed[0] == CLOSE_FRESH_TOKEN
    assert "token" in sock.closed[1]
    assert sock.send({"id": 1, "type": "GetClock"}) == []  # nothing after the close


def test_app_jwt_and_other_account_tokens_are_refused(world: Harness, engine: Engine) -> None:
    app, _ = tokens(engine)
    sock = world.connect(app)
    assert sock.closed == (
        CLOSE_FRESH_TOKEN,
        "an AppJWT is not a consumer token; use an IDP signup JWT or a ConsumerJWS",
    )
    other = world.connect(world.signup("other-account"))
    assert other.closed is not None and other.closed[0] == CLOSE_FRESH_TOKEN
    assert "issued for account other-account" in other.closed[1]


def test_init_connection_authenticates_and_takes_client_properties(world: Harness) -> None:
    sock = world.connect(None)
    assert not sock.session.authenticated and sock.closed is None
    early = sock.req({"kind": "req", "id": "5", "type": "cm.ConsumerRequestConversation"})
    assert early["code"] == 401 and early["reqId"] == "5"
    assert "before authentication" in early["body"] and "InitConnection" in early["body"]
    assert sock.closed is None  # rejected, not closed
    w13 = {
        "kind": "req",
        "id": "0",
        "type": "InitConnection",
        "headers": [
            {"type": ".ams.headers.ClientProperties", "deviceFamily": "MOBILE", "os": "ANDROID"},
            {"type": ".ams.headers.ConsumerAuthentication", "jwt": world.signup()},
        ],
    }
    assert sock.req(w13) == {
        "kind": "resp",
        "reqId": "0",
        "code": 200,
        "body": "Connection initialized successfully",
        "type": "StringResponse",
    }
    assert sock.session.authenticated
    assert sock.session.client_properties is not None
    assert sock.session.client_properties["deviceFamily"] == "MOBILE"
    assert world.deliver(world.ums.auth_timeout(sock.session)).closes == []
    conv = new_conversation(sock)
    details = world.engine.conversation(ACCOUNT, conv)
    assert details.client_properties is not None
    assert details.client_properties["os"] == "ANDROID"


def test_init_connection_window_closes_4401(world: Harness) -> None:
    sock = world.connect(None)
    world.deliver(world.ums.auth_timeout(sock.session))
    assert sock.closed is not None and sock.closed[0] == CLOSE_FRESH_TOKEN
    assert "InitConnection" in sock.closed[1]


def test_init_connection_with_toy_hs256_jwt_is_401_then_4401(world: Harness) -> None:
    """W14: the docs' HS256 sample JWT, no id, no kind."""
    sock = world.connect(None)
    w14 = {
        "type": "InitConnection",
        "headers": [
            {"type": ".ams.headers.ClientProperties", "deviceFamily": "DESKTOP", "os": "WINDOWS"},
            {
                "type": ".ams.headers.ConsumerAuthentication",
                "jwt": "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9."
                "eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiYWRtaW4iOnRydWV9."
                "TJVA95OrM7E2cBab30RMHrHDcEfxjoYZgeFONFh7HgQ",
            },
        ],
    }
    resp = sock.req(w14)
    assert resp["code"] == 401 and resp["reqId"] == "0" and resp["type"] == "StringResponse"
    assert "token is not accepted" in resp["body"]
    assert sock.closed is not None and sock.closed[0] == CLOSE_FRESH_TOKEN


def test_init_connection_without_token_is_401_then_4401(world: Harness) -> None:
    sock = world.connect(None)
    frame = {"id": "1", "type": "InitConnection", "headers": {"type": ".ClientProperties"}}
    resp = sock.req(frame)
    assert resp["code"] == 401 and "ConsumerAuthentication" in resp["body"]
    assert sock.closed is not None and sock.closed[0] == CLOSE_FRESH_TOKEN


def test_init_connection_after_header_auth_keeps_the_consumer(world: Harness) -> None:
    token = world.signup()
    sock = world.connect(token)
    frame = {
        "id": "1",
        "type": "InitConnection",
        "headers": [{"type": ".ams.headers.ConsumerAuthentication", "jwt": world.signup()}],
    }
    resp = sock.req(frame)
    assert resp["code"] == 400 and "already authenticated" in resp["body"]
    assert resp["body"].startswith("$.headers: ")
    assert sock.session.consumer_id == sub_of(token)


# -- token expiry ------------------------------------------------------------------------------


def test_revoked_tokens_close_4407_for_signup_and_4401_for_connector(
    world: Harness, engine: Engine
) -> None:
    signup = world.connect(world.signup())
    _, jws = tokens(engine)
    connector_sock = world.connect(jws)
    bystander = world.connect(world.signup())
    fx = Effects()
    engine.expire_tokens(ACCOUNT, signup.session.consumer_id, fx)
    engine.expire_tokens(ACCOUNT, connector_sock.session.consumer_id, fx)
    world.deliver(fx)
    assert signup.closed is not None and signup.closed[0] == CLOSE_EXTEND_IDENTITY
    assert connector_sock.closed is not None and connector_sock.closed[0] == CLOSE_FRESH_TOKEN
    assert bystander.closed is None


def test_natural_expiry_closes_on_the_timer_and_before_any_frame(
    world: Harness, engine: Engine, clock: FakeClock
) -> None:
    sock = world.connect(engine.tokens.mint_signup(ACCOUNT, 60))
    assert sock.session.expires_ms == clock.now_ms() + 60_000
    assert world.deliver(world.ums.check_expiry(sock.session)).closes == []
    clock.advance(60_000)
    assert sock.send({"id": 1, "type": "GetClock"}) == []
    assert sock.closed is not None and sock.closed[0] == CLOSE_EXTEND_IDENTITY
    other = world.connect(engine.tokens.mint_signup(ACCOUNT, 1))
    clock.advance(1000)
    world.deliver(world.ums.check_expiry(other.session))
    assert other.closed is not None and other.closed[0] == CLOSE_EXTEND_IDENTITY


# -- conversations -----------------------------------------------------------------------------


def test_request_conversation_in_both_dialects_numeric_id_echoed_as_string(world: Harness) -> None:
    a = world.connect(world.signup())
    resp = a.req(
        {"kind": "req", "id": 1, "type": ".ams.cm.ConsumerRequestConversation", "body": {}}
    )
    assert resp["reqId"] == "1" and resp["code"] == 200
    assert resp["type"] == ".ams.cm.types.RequestConversation$Response"
    conv = world.engine.conversation(ACCOUNT, resp["body"]["conversationId"])
    assert conv.consumer_id == a.session.consumer_id and conv.channel == "ums"
    b = world.connect(world.signup())
    resp = b.req({"kind": "req", "id": 1, "type": "cm.ConsumerRequestConversation"})  # W1
    assert resp["type"] == "cm.RequestConversationResponse" and resp["code"] == 200


def test_second_open_conversation_is_400_with_the_real_text(world: Harness) -> None:
    sock = world.connect(world.signup())
    new_conversation(sock)
    resp = sock.req({"kind": "req", "id": 2, "type": "cm.ConsumerRequestConversation"})
    assert resp["code"] == 400 and resp["type"] == "cm.RequestConversationResponse"
    assert "already has open conversation" in resp["body"]


def test_request_fields_reach_the_conversation(world: Harness) -> None:
    """W20: campaign and SharkContext (numbers for campaign ids)."""
    sock = world.connect(world.signup())
    w20 = {
        "kind": "req",
        "id": "0",
        "type": "cm.ConsumerRequestConversation",
        "body": {
            "channelType": "MESSAGING",
            "ttrDefName": None,
            "campaignInfo": {"campaignId": 418732213, "engagementId": 425842913},
            "conversationContext": {
                "visitorId": "NmNDQ5OWU1MjM1NjBlZTAz",
                "sessionId": "DHE_fICSTZ2gx5IsljFcwQ",
                "interactionContextId": "1",
                "type": "SharkContext",
                "lang": "en-US",
            },
        },
    }
    resp = sock.req(w20)
    assert resp["code"] == 200
    sub, note = sock.send({"id": "3", "type": "cqm.SubscribeExConversations", "body": {}})
    assert sub["code"] == 200
    details = note["body"]["changes"][0]["result"]["conversationDetails"]
    assert details["campaignInfo"] == {"campaignId": 418732213, "engagementId": 425842913}
    assert details["context"]["type"] == "SharkContext"


# -- SubscribeExConversations ------------------------------------------------------------------


def test_subscribe_ex_conversations_resp_then_snapshot_then_live_upserts(world: Harness) -> None:
    sock = world.connect(world.signup())
    w5 = {
        "kind": "req",
        "id": "33",
        "body": {"minLastUpdatedTime": 0, "convState": ["OPEN", "CLOSE"]},
        "type": "cqm.SubscribeExConversations",
    }
    resp, snapshot = sock.send(w5)
    assert resp["type"] == "cqm.SubscribeExConversationsResponse" and resp["reqId"] == "33"
    sub_id = resp["body"]["subscriptionId"]
    assert snapshot == {
        "kind": "notification",
        "body": {"subscriptionId": sub_id, "changes": []},
        "type": "cqm.ExConversationChangeNotification",
    }
    resp, note = sock.send({"kind": "req", "id": 1, "type": "cm.ConsumerRequestConversation"})
    conv_id = resp["body"]["conversationId"]
    assert note["type"] == "cqm.ExConversationChangeNotification"
    assert note["body"]["subscriptionId"] == sub_id
    [change] = note["body"]["changes"]
    assert change["type"] == "UPSERT" and change["result"]["convId"] == conv_id
    details = change["result"]["conversationDetails"]
    me = sock.session.consumer_id
    assert details["participants"] == [{"id": me, "role": "CONSUMER"}]
    assert details["state"] == "OPEN" and details["stage"] == "OPEN"
    assert details["brandId"] == ACCOUNT and details["skillId"] == "-1"
    assert details["ttr"] == {"ttrType": "PRIORITIZED", "value": 600}
    assert details["dialogs"][0]["dialogId"] == conv_id
    assert details["dialogs"][0]["dialogType"] == "MAIN"
    for key in ("startTs", "metaDataLastUpdateTs"):
        assert isinstance(details[key], int)
    # a second subscription sees the existing conversation in its first notification
    resp, snapshot = sock.send(
        {"id": "34", "type": ".ams.aam.SubscribeExConversations", "body": {}}
    )
    assert resp["type"] == ".ams.aam.SubscribeExConversations$Response"
    assert snapshot["type"] == ".ams.aam.ExConversationChangeNotification"
    assert [c["result"]["convId"] for c in snapshot["body"]["changes"]] == [conv_id]


def test_agent_join_and_close_reach_the_subscription(world: Harness, engine: Engine) -> None:
    sock = world.connect(world.signup())
    sock.send({"id": "1", "type": "cqm.SubscribeExConversations", "body": {}})
    conv_id = new_conversation(sock)
    sock.take()
    conv = engine.conversation(ACCOUNT, conv_id)
    fx = Effects()
    agent = engine.join_agent(conv, fx)
    world.deliver(fx)
    [note] = sock.take()
    roles = {
        p["role"]: p["id"]
        for p in note["body"]["changes"][0]["result"]["conversationDetails"]["participants"]
    }
    assert roles["ASSIGNED_AGENT"] == agent.pid
    w8 = {
        "kind": "req",
        "id": "0",
        "type": "cm.UpdateConversationField",
        "body": {
            "conversationId": conv_id,
            "conversationField": [
                {"field": "ConversationStateField", "conversationState": "CLOSE"}
            ],
        },
    }
    resp, note = sock.send(w8)
    assert resp == {
        "kind": "resp",
        "reqId": "0",
        "code": 200,
        "body": "OK Conversation resolved successfully",
        "type": "StringResponse",
    }
    change = note["body"]["changes"][0]
    assert change["type"] == "UPSERT"
    details = change["result"]["conversationDetails"]
    assert details["state"] == "CLOSE" and details["stage"] == "CLOSE"
    assert details["closeReason"] == "CONSUMER" and isinstance(details["endTs"], int)


def test_open_only_subscription_gets_delete_when_the_conversation_closes(
    world: Harness, engine: Engine
) -> None:
    sock = world.connect(world.signup())
    resp, _ = sock.send(
        {"id": "1", "type": "cqm.SubscribeExConversations", "body": {"convState": "OPEN"}}
    )
    conv_id = new_conversation(sock)
    sock.take()
    fx = Effects()
    engine.close(engine.conversation(ACCOUNT, conv_id), "AGENT", fx)
    world.deliver(fx)
    [note] = sock.take()
    [change] = note["body"]["changes"]
    assert change["type"] == "DELETE" and change["result"]["convId"] == conv_id
    assert change["result"]["conversationDetails"]["closeReason"] == "AGENT"
    # a later change of a conversation it no longer lists is not sent
    fx = Effects()
    engine.changed(engine.conversation(ACCOUNT, conv_id), fx)
    world.deliver(fx)
    assert sock.take() == []


def test_snapshot_filters_state_stage_and_update_time(world: Harness, clock: FakeClock) -> None:
    sock = world.connect(world.signup())
    first = new_conversation(sock)
    sock.req(
        {
            "id": "c",
            "type": "cm.UpdateConversationField",
            "body": {
                "conversationId": first,
                "conversationField": {"field": "Stage", "conversationState": "CLOSE"},
            },
        }
    )
    clock.advance(5000)
    second = new_conversation(sock)
    since = clock.now_ms()

    def snapshot(body: dict[str, Any]) -> list[str]:
        got = sock.send({"id": "s", "type": "cqm.SubscribeExConversations", "body": body})
        return [c["result"]["convId"] for c in got[1]["body"]["changes"]]

    assert snapshot({}) == [first, second]
    assert snapshot({"convState": ["OPEN"]}) == [second]
    assert snapshot({"convState": ["CLOSE"]}) == [first]
    assert snapshot({"stage": ["OPEN", "CLOSE"], "convState": ["OPEN", "CLOSE"]}) == [first, second]
    assert snapshot({"stage": ["CLOSE"]}) == [first]
    assert snapshot({"minLastUpdatedTime": since}) == [second]
    assert snapshot({"brandId": "someone-else"}) == []


def test_unsubscribe_stops_notifications_and_unknown_id_is_404(world: Harness) -> None:
    sock = world.connect(world.signup())
    resp, _ = sock.send({"id": "1", "type": "cqm.SubscribeExConversations", "body": {}})
    sub_id = resp["body"]["subscriptionId"]
    w7 = {"id": "0", "type": "cqm.UnsubscribeExConversations", "body": {"subscriptionId": sub_id}}
    assert sock.send(w7) == [
        {"kind": "resp", "reqId": "0", "code": 200, "body": "OK", "type": "StringResponse"}
    ]
    got = sock.send({"id": 1, "type": "cm.ConsumerRequestConversation"})
    assert [f["kind"] for f in got] == ["resp"]
    resp = sock.req(
        {"id": "0", "type": ".ams.aam.UnsubscribeExConversations", "body": {"subscriptionId": "id"}}
    )
    assert resp["code"] == 404 and resp["type"] == ".ReqBody$StringResp"
    assert (
        resp["body"]
        == "$.body.subscriptionId: subscriptionId 'id' is not a subscription of this connection"
    )


def test_consumers_see_only_their_own_conversations(world: Harness) -> None:
    alice = world.connect(world.signup())
    bob = world.connect(world.signup())
    bob.send({"id": "1", "type": "cqm.SubscribeExConversations", "body": {}})
    bob.take()
    conv_id = new_conversation(alice)
    assert bob.take() == []
    assert (
        bob.send({"id": "2", "type": "cqm.SubscribeExConversations", "body": {}})[1]["body"][
            "changes"
        ]
        == []
    )
    for frame, code in (
        ({"id": "3", "type": "ms.SubscribeMessagingEvents", "body": {"dialogId": conv_id}}, 403),
        (publish(conv_id, rid="4"), 403),
        (
            {
                "id": "5",
                "type": "cm.UpdateConversationField",
                "body": {
                    "conversationId": conv_id,
                    "conversationField": {
                        "field": "ConversationStateField",
                        "conversationState": "CLOSE",
                    },
                },
            },
            403,
        ),
        ({"id": "6", "type": "ms.QueryMessages", "body": {"dialogId": conv_id}}, 403),
    ):
        resp = bob.req(frame)
        assert resp["code"] == code and "belongs to another consumer" in resp["body"], resp
    assert world.engine.conversation(ACCOUNT, conv_id).is_open


# -- messaging events --------------------------------------------------------------------------


def test_publish_then_subscribe_history_then_live_one_per_frame(
    world: Harness, engine: Engine
) -> None:
    sock = world.connect(world.signup())
    me = sock.session.consumer_id
    conv_id = new_conversation(sock)
    got = sock.send(publish(conv_id))  # W2: no subscription yet, so no echo
    assert got == [
        {
            "kind": "resp",
            "reqId": "2",
            "code": 200,
            "body": {"sequence": 0},
            "type": "ms.PublishEventResponse",
        }
    ]
    conv = engine.conversation(ACCOUNT, conv_id)
    fx = Effects()
    engine.agent_publish(
        conv, {"type": "ContentEvent", "contentType": "text/plain", "message": "from agent"}, fx
    )
    world.deliver(fx)
    assert sock.take() == []  # not subscribed
    w3 = {
        "kind": "req",
        "id": "22",
        "body": {"fromSeq": 0, "dialogId": conv_id},
        "type": "ms.SubscribeMessagingEvents",
    }
    resp, history = sock.send(w3)
    assert resp == {
        "kind": "resp",
        "reqId": "22",
        "code": 200,
        "body": {},
        "type": "GenericSubscribeResponse",
    }
    assert history["type"] == "ms.MessagingEventNotification"
    changes = history["body"]["changes"]
    assert [c["sequence"] for c in changes] == [0, 1]
    assert changes[0]["originatorId"] == me
    assert changes[0]["originatorMetadata"] == {"id": me, "role": "CONSUMER"}
    assert changes[1]["originatorMetadata"]["role"] == "ASSIGNED_AGENT"
    assert changes[1]["originatorId"] != me
    assert changes[0]["event"] == {
        "type": "ContentEvent",
        "contentType": "text/plain",
        "message": "hi there",
    }
    assert changes[0]["dialogId"] == changes[0]["conversationId"] == conv_id
    assert isinstance(changes[0]["serverTimestamp"], int)
    # live: the publisher's resp first, then its own event back, one change per frame
    resp, echo = sock.send(publish(conv_id, "second", rid="A3FA"))
    assert resp["body"] == {"sequence": 2} and resp["reqId"] == "A3FA"
    assert echo["type"] == "ms.MessagingEventNotification"
    [change] = echo["body"]["changes"]
    assert change["sequence"] == 2 and change["event"]["message"] == "second"
    fx = Effects()
    engine.agent_publish(conv, {"type": "ChatStateEvent", "chatState": "COMPOSING"}, fx)
    world.deliver(fx)
    [typing] = sock.take()
    [change] = typing["body"]["changes"]
    assert "sequence" not in change and "serverTimestamp" not in change
    assert change["event"] == {"type": "ChatStateEvent", "chatState": "COMPOSING"}


def test_from_seq_and_no_gap_no_duplicate_while_others_publish(
    world: Harness, engine: Engine
) -> None:
    sock = world.connect(world.signup())
    conv_id = new_conversation(sock)
    conv = engine.conversation(ACCOUNT, conv_id)
    other = world.connect(None)
    world.ums.closed(other.session)
    for i in range(5):
        sock.send(publish(conv_id, f"m{i}", rid=i))
    seen: list[int] = []
    resp, history = sock.send(
        {
            "id": "s",
            "type": "ms.SubscribeMessagingEvents",
            "body": {"dialogId": conv_id, "fromSeq": 3},
        }
    )
    seen += [c["sequence"] for c in history["body"]["changes"]]
    frames: list[dict[str, Any]] = []
    for i in range(5):
        fx = Effects()
        engine.agent_publish(
            conv, {"type": "ContentEvent", "contentType": "text/plain", "message": f"a{i}"}, fx
        )
        world.deliver(fx)
        frames += sock.take()
        frames += sock.send(publish(conv_id, f"c{i}", rid=f"c{i}"))
    for frame in frames:
        if frame["kind"] == "notification":
            assert len(frame["body"]["changes"]) == 1
            seen += [c["sequence"] for c in frame["body"]["changes"]]
    assert seen == list(range(3, 15))


def test_two_sockets_of_one_consumer_both_receive(world: Harness) -> None:
    token = world.signup()
    a, b = world.connect(token), world.connect(token)
    conv_id = new_conversation(a)
    for s in (a, b):
        s.send({"id": "s", "type": "ms.SubscribeMessagingEvents", "body": {"dialogId": conv_id}})
        s.take()
    got = a.send(publish(conv_id, "both"))
    assert [f["body"]["changes"][0]["event"]["message"] for f in b.take()] == ["both"]
    assert got[1]["body"]["changes"][0]["sequence"] == 0


def test_resubscribe_replaces_and_closed_session_gets_nothing(world: Harness) -> None:
    sock = world.connect(world.signup())
    conv_id = new_conversation(sock)
    sub = {"id": "s", "type": "ms.SubscribeMessagingEvents", "body": {"dialogId": conv_id}}
    sock.send(sub)
    sock.send(sub)
    sock.take()
    assert len(sock.send(publish(conv_id))) == 2  # one resp, one echo: not two echoes
    world.ums.closed(sock.session)
    assert world.ums.sessions == {}
    assert set(world.ums.subscriptions.sizes().values()) == {0}


def test_ams_dialect_types_and_legacy_originator_key(world: Harness) -> None:
    sock = world.connect(world.signup())
    me = sock.session.consumer_id
    conv_id = new_conversation(sock, ".ams.cm.ConsumerRequestConversation")
    resp, history = sock.send(
        {
            "kind": "req",
            "id": "22",
            "type": ".ams.ms.SubscribeMessagingEvents",
            "body": {"dialogId": conv_id},
        }
    )
    assert resp["type"] == ".ams.GenericSubscribe$Response"
    assert history == {
        "kind": "notification",
        "body": {"changes": []},
        "type": ".ams.ms.MessagingEventNotification",
    }
    frame = publish(conv_id)
    frame["type"] = ".ams.ms.PublishEvent"
    resp, echo = sock.send(frame)
    assert resp["type"] == ".ams.ms.PublishEvent$Response"
    assert echo["type"] == ".ams.ms.MessagingEventNotification"
    change = echo["body"]["changes"][0]
    assert change["originatorId"] == change["originatorPid"] == me


def test_v2_ams_socket_gets_online_event_distribution(world: Harness, engine: Engine) -> None:
    sock = world.connect(world.signup(), version="2")
    conv_id = new_conversation(sock, ".ams.cm.ConsumerRequestConversation")
    frame = publish(conv_id, "old")
    frame["type"] = ".ams.ms.PublishEvent"
    sock.send(frame)
    resp, old = sock.send(
        {"id": "s", "type": ".ams.ms.SubscribeMessagingEvents", "body": {"dialogId": conv_id}}
    )
    assert old["type"] == ".ams.ms.OnlineEventDistribution"
    assert old["body"]["sequence"] == 0 and old["body"]["originatorPId"] == sock.session.consumer_id
    fx = Effects()
    engine.agent_publish(
        engine.conversation(ACCOUNT, conv_id),
        {"type": "ContentEvent", "contentType": "text/plain", "message": "new"},
        fx,
    )
    world.deliver(fx)
    [live] = sock.take()
    assert live["type"] == ".ams.ms.OnlineEventDistribution"
    assert live["body"]["event"]["message"] == "new" and live["body"]["sequence"] == 1
    # the same socket subscribing with short names gets the v3 form
    got = sock.send(
        {"id": "t", "type": "ms.SubscribeMessagingEvents", "body": {"dialogId": conv_id}}
    )
    assert got[1]["type"] == "ms.MessagingEventNotification"


def test_agents_only_events_are_not_delivered_to_consumers(world: Harness, engine: Engine) -> None:
    sock = world.connect(world.signup())
    conv_id = new_conversation(sock)
    sock.send({"id": "s", "type": "ms.SubscribeMessagingEvents", "body": {"dialogId": conv_id}})
    sock.take()
    conv = engine.conversation(ACCOUNT, conv_id)
    fx = Effects()
    event = {"type": "ContentEvent", "contentType": "text/plain", "message": "private"}
    engine.agent_publish(conv, event, fx, audience="AGENTS_AND_MANAGERS")
    world.deliver(fx)
    assert sock.take() == []
    resp, history = sock.send(
        {"id": "t", "type": "ms.SubscribeMessagingEvents", "body": {"dialogId": conv_id}}
    )
    assert history["body"]["changes"] == []
    assert (
        sock.req({"id": "q", "type": ".ams.ms.QueryMessages", "body": {"dialogId": conv_id}})[
            "body"
        ]
        == []
    )


def test_chat_state_and_accept_status_and_metadata(world: Harness, engine: Engine) -> None:
    sock = world.connect(world.signup())
    conv_id = new_conversation(sock)
    sock.send(
        {
            "id": "s",
            "type": "ms.SubscribeMessagingEvents",
            "body": {"dialogId": conv_id, "conversationId": conv_id, "fromSeq": 0},
        }
    )
    sock.take()
    w23 = {
        "kind": "req",
        "id": "2",
        "type": "ms.PublishEvent",
        "body": {
            "dialogId": conv_id,
            "conversationId": conv_id,
            "event": {"type": "ChatStateEvent", "chatState": "ACTIVE"},
        },
    }
    resp, echo = sock.send(w23)
    assert resp == {
        "kind": "resp",
        "reqId": "2",
        "code": 200,
        "body": {"sequence": 0},
        "type": "ms.PublishEventResponse",
    }
    assert "sequence" not in echo["body"]["changes"][0]
    fx = Effects()
    engine.agent_publish(
        engine.conversation(ACCOUNT, conv_id),
        {"type": "ContentEvent", "contentType": "text/plain", "message": "q"},
        fx,
    )
    world.deliver(fx)
    sock.take()
    w18 = {
        "kind": "req",
        "id": 2,
        "type": "ms.PublishEvent",
        "body": {
            "dialogId": conv_id,
            "event": {"type": "AcceptStatusEvent", "status": "ACCEPT", "sequenceList": [0]},
        },
    }
    resp, echo = sock.send(w18)
    assert resp["body"] == {"sequence": 1}
    assert echo["body"]["changes"][0]["event"]["sequenceList"] == [0]
    metadata = [{"type": "Answer", "questionId": "3e70da9b", "id": "4f7c6a7b", "provider": "AC"}]
    frame = publish(conv_id, "1😒", rid="3", conversationId=conv_id)
    frame["metadata"] = metadata
    resp, echo = sock.send(frame)
    assert resp["body"] == {"sequence": 2}
    assert echo["body"]["changes"][0]["metadata"] == metadata
    assert echo["body"]["changes"][0]["event"]["message"] == "1😒"


def test_query_messages_answers_an_array_with_legacy_pid(world: Harness) -> None:
    sock = world.connect(world.signup())
    conv_id = new_conversation(sock)
    for i in range(3):
        sock.send(publish(conv_id, f"m{i}", rid=i))
    resp = sock.req(
        {
            "id": "q",
            "type": ".ams.ms.QueryMessages",
            "body": {"dialogId": conv_id, "fromSeq": 1, "newerThanSequence": 1},
        }
    )
    assert resp["type"] == ".ams.ms.QueryMessages$Response" and resp["code"] == 200
    assert [e["sequence"] for e in resp["body"]] == [1, 2]
    assert resp["body"][0]["originatorPId"] == sock.session.consumer_id
    query = {"id": "q", "type": "ms.QueryMessages", "body": {"dialogId": conv_id, "fromSeq": 1}}
    assert sock.send(query) == [{**resp, "type": "ms.QueryMessagesResponse"}]  # nothing follows


def test_publish_errors(world: Harness, engine: Engine) -> None:
    sock = world.connect(world.signup())
    conv_id = new_conversation(sock)
    resp = sock.req(publish("no-such-dialog"))
    assert resp["code"] == 404 and resp["type"] == "ms.PublishEventResponse"
    assert resp["body"] == "$.body.dialogId: dialog 'no-such-dialog' does not exist"
    resp = sock.req(publish(conv_id, conversationId="other"))
    assert resp["code"] == 400 and resp["body"].startswith("$.body.conversationId: ")
    sock.req(
        {
            "id": "c",
            "type": "cm.UpdateConversationField",
            "body": {
                "conversationId": conv_id,
                "conversationField": {"field": "Stage", "conversationState": "CLOSE"},
            },
        }
    )
    resp = sock.req(publish(conv_id))
    assert resp["code"] == 400 and resp["body"] == "Bad Request, Conversation is close"
    resp = sock.req(
        {"id": "s", "type": "ms.SubscribeMessagingEvents", "body": {"dialogId": conv_id}}
    )
    assert resp["code"] == 200  # the history of a closed conversation can still be read


# -- UpdateConversationField variants ----------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "expect"),
    [
        (
            {
                "field": "CSATRate",
                "csatRate": 5,
                "csatResolutionConfirmation": True,
                "status": "FILLED",
            },
            (
                "csat",
                {
                    "field": "CSATRate",
                    "csatRate": 5,
                    "csatResolutionConfirmation": True,
                    "status": "FILLED",
                },
            ),
        ),
        (
            [
                {
                    "field": "CSATRate",
                    "csatRate": 1,
                    "csatResolutionConfirmation": False,
                    "status": "FILLED",
                }
            ],
            (
                "csat",
                {
                    "field": "CSATRate",
                    "csatRate": 1,
                    "csatResolutionConfirmation": False,
                    "status": "FILLED",
                },
            ),
        ),
        (
            [{"field": "TTRField", "ttrType": "URGENT", "value": 300}],
            ("ttr", {"ttrType": "URGENT", "value": 300}),
        ),
        (
            {
                "field": "DialogChange",
                "type": "UPDATE",
                "dialog": {
                    "dialogId": "__CONV__",
                    "state": "CLOSE",
                    "closedCause": "Closed by consumer",
                },
            },
            ("state", "CLOSE"),
        ),
        ({"field": "Stage", "conversationState": "CLOSE"}, ("stage", "CLOSE")),
        (
            {"field": "ConversationStateField", "conversationState": "CLOSE"},
            ("closeReason", "CONSUMER"),
        ),
    ],
    ids=["csat-object", "csat-array", "ttr", "dialog-change", "stage", "state"],
)
def test_update_conversation_field_variants(
    world: Harness, field: Any, expect: tuple[str, Any]
) -> None:
    sock = world.connect(world.signup())
    conv_id = new_conversation(sock)
    sock.send({"id": "s", "type": "cqm.SubscribeExConversations", "body": {}})
    sock.take()
    raw = orjson.dumps(field).decode().replace("__CONV__", conv_id)
    frame = {
        "kind": "req",
        "id": "AHDJE",
        "type": "cm.UpdateConversationField",
        "body": {"conversationId": conv_id, "conversationField": orjson.loads(raw)},
    }
    resp, note = sock.send(frame)
    assert resp["code"] == 200 and resp["type"] == "StringResponse" and resp["reqId"] == "AHDJE"
    assert resp["body"].startswith("OK Conversation")
    key, value = expect
    assert note["body"]["changes"][0]["result"]["conversationDetails"][key] == value


def test_update_conversation_field_errors(world: Harness) -> None:
    sock = world.connect(world.signup())
    conv_id = new_conversation(sock)
    skill = {
        "id": "1",
        "type": "cm.UpdateConversationField",
        "body": {
            "conversationId": conv_id,
            "conversationField": {"field": "Skill", "type": "UPDATE", "skill": "1"},
        },
    }
    resp = sock.req(skill)
    assert resp["code"] == 403 and "for agents" in resp["body"]
    for field in (
        {"field": "ParticipantsChange", "type": "ADD", "role": "READER"},
        {"field": "ManualETTR", "time": 1},
    ):
        frame = {"id": "1", "type": "cm.UpdateConversationField"}
        frame["body"] = {"conversationId": conv_id, "conversationField": field}
        assert sock.req(frame)["code"] == 403
    resp = sock.req(
        {
            "id": "2",
            "type": "cm.UpdateConversationField",
            "body": {
                "conversationId": "hello",
                "conversationField": [{"field": "TTRField", "ttrType": "URGENT", "value": 300}],
            },
        }
    )
    assert resp["code"] == 404 and "'hello' does not exist" in resp["body"]
    resp = sock.req(
        {"id": "3", "type": "cm.UpdateConversationField", "body": {"conversationId": conv_id}}
    )
    assert resp["code"] == 400 and "conversationField" in resp["body"]


# -- profile and files -------------------------------------------------------------------------


def test_set_and_get_user_profile(world: Harness) -> None:
    sock = world.connect(world.signup())
    me = sock.session.consumer_id
    resp = sock.req({"id": "g", "type": "userprofile.GetUserProfile"})
    assert resp == {
        "kind": "resp",
        "reqId": "g",
        "code": 200,
        "body": {"userId": me},
        "type": "userprofile.GetUserProfileResponse",
    }
    profile = {
        "firstName": "John",
        "authenticatedData": {"lp_sdes": [{"type": "personal", "personal": {"firstname": "John"}}]},
    }
    resp = sock.req({"kind": "req", "id": 1, "type": "userprofile.SetUserProfile", "body": profile})
    assert resp["code"] == 200 and resp["body"] == "OK User Profile set successfully"
    assert resp["type"] == "StringResponse"
    resp = sock.req({"id": "g", "type": ".ams.userprofile.GetUserProfile", "body": {"userId": me}})
    assert resp["type"] == ".ams.userprofile.GetUserProfile$Response"
    assert resp["body"] == {**profile, "userId": me}
    resp = sock.req({"id": "g", "type": "userprofile.GetUserProfile", "body": "someone-else"})
    assert resp["code"] == 403


def test_file_urls(world: Harness) -> None:
    sock = world.connect(world.signup())
    for frame in (
        {
            "kind": "req",
            "id": "0",
            "type": "ms.GenerateURLForUploadFile",
            "body": {"fileSize": "1024", "fileType": "JPG"},
        },
        {
            "kind": "req",
            "id": "3",
            "body": {"fileSize": 1000, "fileType": "PNG"},
            "type": "ms.GenerateURLForUploadFile",
        },
    ):
        resp = sock.req(frame)
        assert resp["code"] == 200 and resp["type"] == "ms.GenerateURLResponse"
        assert resp["body"]["relativePath"].startswith(f"/v1/AUTH_async-images/{ACCOUNT}/")
        assert set(resp["body"]["queryParams"]) == {"temp_url_sig", "temp_url_expires"}
    path = resp["body"]["relativePath"]
    resp = sock.req(
        {
            "kind": "req",
            "id": "33",
            "body": {"relativePath": path},
            "type": "ms.GenerateURLForDownloadFile",
        }
    )
    assert resp["code"] == 200 and resp["body"]["relativePath"] == path
    resp = sock.req(
        {
            "kind": "req",
            "id": "33",
            "body": {"relativePath": "__relative_path__"},
            "type": "ms.GenerateURLForDownloadFile",
        }
    )
    assert resp["code"] == 400 and resp["body"].startswith("$.body.relativePath: ")
    resp = sock.req(
        {
            "id": "4",
            "type": "ms.GenerateURLForUploadFile",
            "body": {"fileSize": 10**8, "fileType": "PNG"},
        }
    )
    assert resp["code"] == 400 and "3 MB" in resp["body"]


# -- cross-channel -----------------------------------------------------------------------------


def test_connector_conversation_and_send_reach_the_same_consumers_socket(
    world: Harness, engine: Engine
) -> None:
    app, jws = tokens(engine)
    sock = world.connect(jws)  # a ConsumerJWS is the same consumer on the socket
    sock.send({"id": "1", "type": "cqm.SubscribeExConversations", "body": {}})
    sock.take()
    reply, fx = connector.conversation(engine, call(engine, batch(), app=app, jws=jws))
    world.deliver(fx)
    conv_id = reply.body[1]["body"]["conversationId"]
    [note] = sock.take()
    assert note["body"]["changes"][0]["result"]["convId"] == conv_id
    sock.send({"id": "2", "type": "ms.SubscribeMessagingEvents", "body": {"dialogId": conv_id}})
    sock.take()
    reply, fx = send(engine, text(conv_id, "over REST"), app, jws)
    world.deliver(fx)
    assert reply.status == 200 and reply.body["body"] == {"sequence": 0}
    [note] = sock.take()
    change = note["body"]["changes"][0]
    assert change["event"]["message"] == "over REST" and change["sequence"] == 0
    assert change["originatorId"] == sock.session.consumer_id
    # and the other way round: a socket publish is in the engine, and SEND continues after it
    resp, _ = sock.send(publish(conv_id, "over the socket", rid=3))
    assert resp["body"] == {"sequence": 1}
    dialog = engine.conversation(ACCOUNT, conv_id).main
    assert [e.change["event"]["message"] for e in dialog.events] == ["over REST", "over the socket"]
    reply, fx = send(engine, text(conv_id, "again"), app, jws)
    assert reply.body["body"] == {"sequence": 2}
    # a conversation opened on the socket is the Connector consumer's open conversation
    reply, _ = connector.conversation(engine, call(engine, batch(), app=app, jws=jws))
    assert reply.status == 400 and "already has open conversation" in reply.body[1]["body"]["msg"]


def test_socket_conversation_closes_over_rest(world: Harness, engine: Engine) -> None:
    app, jws = tokens(engine)
    sock = world.connect(jws)
    conv_id = new_conversation(sock)
    sock.send({"id": "1", "type": "cqm.SubscribeExConversations", "body": {"convState": ["OPEN"]}})
    sock.take()
    close = {
        "kind": "req",
        "id": 1,
        "body": {
            "conversationId": conv_id,
            "conversationField": {"field": "ConversationStateField", "conversationState": "CLOSE"},
        },
        "type": "cm.UpdateConversationField",
    }
    reply, fx = send(engine, close, app, jws)
    world.deliver(fx)
    assert reply.status == 200
    [note] = sock.take()
    assert note["body"]["changes"][0]["type"] == "DELETE"


# -- bad input ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "code", "needle"),
    [
        (
            b'{"kind": "req", "id": 2, "type": ".ams.ms.PublishEvent", "body": {"dialogId": "x", "event": {"type": "ContentEvent", "contentType": "text/plain", "message": "hi there"}}',  # noqa: E501 (verbatim)
            400,
            "not valid JSON",
        ),
        (b"", 400, "not valid JSON"),
        (b"\xff\xfe", 400, "not valid JSON"),
        (b"[1, 2]", 400, "must be a JSON object, got an array"),
        (b'"hello"', 400, "must be a JSON object, got a string"),
        (b"42", 400, "must be a JSON object, got a number"),
        (b"null", 400, "must be a JSON object, got null"),
        (b'{"id": "7"}', 400, "'type' is a required property"),
        (b'{"id": "7", "type": 5}', 400, "type"),
        (b'{"id": "7", "type": "cm.NoSuchThing"}', 400, "unknown request type 'cm.NoSuchThing'"),
        (b'{"id": "7", "type": "ms.PublishEvent", "body": []}', 400, "$.body"),
        (
            b'{"id": "7", "type": "ms.PublishEvent", '
            b'"body": {"dialogId": 5, "event": {"type": "ContentEvent"}}}',
            400,
            "$.body",
        ),
        (
            b'{"id": "7", "type": "ms.SubscribeMessagingEvents", '
            b'"body": {"dialogId": "d", "fromSeq": "zero"}}',
            400,
            "$.body.fromSeq",
        ),
        (
            b'{"id": "7", "type": "ms.SubscribeMessagingEvents", '
            b'"body": {"dialogId": "d", "fromSeq": -1}}',
            400,
            "$.body.fromSeq",
        ),
        (
            b'{"id": "7", "type": "cqm.SubscribeExConversations", '
            b'"body": {"minLastUpdatedTime": "x"}}',
            400,
            "$.body.minLastUpdatedTime",
        ),
        (b'{"id": {"x": 1}, "type": "GetClock"}', 400, "$.id"),
        (
            b'{"id": "7", "type": "ms.PublishEvent", '
            b'"body": {"dialogId": "d", "event": {"type": "Bogus"}}}',
            400,
            "Bogus",
        ),
        (b'{"a": ' * 2000 + b"1" + b"}" * 2000, 400, "not valid JSON"),
    ],
    ids=[
        "S3-3-missing-brace",
        "empty",
        "not-utf8",
        "array",
        "string",
        "number",
        "null",
        "no-type",
        "type-not-string",
        "unknown-type",
        "body-array",
        "dialogId-number",
        "fromSeq-string",
        "fromSeq-negative",
        "minLastUpdatedTime-string",
        "id-object",
        "event-type-unknown",
        "too-deep",
    ],
)
def test_bad_frames_get_a_400_and_the_socket_lives_on(
    world: Harness, data: bytes, code: int, needle: str
) -> None:
    sock = world.connect(world.signup())
    [resp] = sock.raw(data)
    assert resp["kind"] == "resp" and resp["code"] == code
    assert needle in resp["body"], resp["body"]
    assert isinstance(resp["reqId"], str) and resp["type"] in (
        "StringResponse",
        "ms.PublishEventResponse",
        "GenericSubscribeResponse",
        "cqm.SubscribeExConversationsResponse",
        "GetClockResponse",
    )
    assert sock.closed is None
    assert sock.req({"id": "ok", "type": "GetClock"})["code"] == 200
    assert world.ums.bugs == 0


def test_error_resp_echoes_the_id_and_the_dialect(world: Harness) -> None:
    sock = world.connect(world.signup())
    resp = sock.req({"id": 12, "type": ".ams.nope.Thing"})
    assert resp == {
        "kind": "resp",
        "reqId": "12",
        "code": 400,
        "body": "$.type: unknown request type '.ams.nope.Thing'",
        "type": ".ReqBody$StringResp",
    }
    resp = sock.req({"id": "x", "type": ".ams.ms.SubscribeMessagingEvents", "body": {}})
    assert resp["type"] == ".ams.GenericSubscribe$Response" and resp["code"] == 400
    assert resp["body"] == "$.body: 'dialogId' is a required property"


def test_binary_frame_is_a_400(world: Harness) -> None:
    sock = world.connect(world.signup())
    world.deliver(world.ums.binary(sock.session))
    [resp] = sock.take()
    assert resp["code"] == 400 and "binary frames are not supported" in resp["body"]
    assert sock.closed is None


def test_tolerances_missing_kind_body_unknown_fields_and_type_inside_body(world: Harness) -> None:
    sock = world.connect(world.signup())
    conv_id = new_conversation(sock)
    w4 = {
        "type": "ms.SubscribeMessagingEvents",
        "id": "2SA2",
        "body": {"fromSeq": 0, "dialogId": conv_id},
        "extra": {"x": 1},
    }
    resp, _ = sock.send(w4)
    assert resp["code"] == 200 and resp["reqId"] == "2SA2"
    resp, _ = sock.send({"id": "s", "type": "cqm.SubscribeExConversations"})  # no body
    assert resp["code"] == 200
    s3_4 = {
        "kind": "req",
        "id": "22",
        "body": {"fromSeq": 0, "dialogId": conv_id, "type": ".ams.ms.SubscribeMessagingEvents"},
    }
    resp, history = sock.send(s3_4)
    assert resp == {
        "kind": "resp",
        "reqId": "22",
        "code": 200,
        "body": {},
        "type": ".ams.GenericSubscribe$Response",
    }
    assert history["type"] == ".ams.ms.MessagingEventNotification"
    # W6: a duplicated "type" key is just JSON (the last one wins)
    w6 = b'{"type":"cqm.SubscribeExConversations","id":"33","body":{"minLastUpdatedTime":1478089679,"convState":["OPEN"]},"type":"cqm.SubscribeExConversations" }'  # noqa: E501 (verbatim)
    resp, snapshot = sock.raw(w6)
    assert resp["code"] == 200 and len(snapshot["body"]["changes"]) == 1


def test_reset_drops_subscriptions(world: Harness, engine: Engine) -> None:
    sock = world.connect(world.signup())
    conv_id = new_conversation(sock)
    sock.send({"id": "s", "type": "ms.SubscribeMessagingEvents", "body": {"dialogId": conv_id}})
    sock.send({"id": "t", "type": "cqm.SubscribeExConversations", "body": {}})
    engine.reset(ACCOUNT)
    assert sock.session.event_subs == {} and sock.session.ex_subs == {}
    assert world.ums.subscriptions.sizes()["dialogs"] == 0
    sock.take()
    assert new_conversation(sock)  # the consumer comes back on first use


# -- any frame at all --------------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
KNOWN_TYPES = st.sampled_from(sorted(dialects.TYPES) + ["", ".x", "nope"])
frames = st.fixed_dictionaries(
    {"type": KNOWN_TYPES},
    optional={
        "id": st.one_of(st.text(max_size=70), st.integers(), st.floats(allow_nan=False)),
        "kind": json_values,
        "body": st.one_of(
            json_values,
            st.fixed_dictionaries(
                {},
                optional={
                    "dialogId": st.one_of(st.just("CONV"), st.text(max_size=5), st.integers()),
                    "conversationId": st.one_of(st.just("CONV"), st.text(max_size=5)),
                    "fromSeq": json_values,
                    "event": json_values,
                    "conversationField": json_values,
                    "convState": json_values,
                    "subscriptionId": json_values,
                    "fileSize": json_values,
                    "fileType": json_values,
                },
            ),
        ),
        "headers": json_values,
        "metadata": json_values,
    },
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(frame=st.one_of(frames, json_values))
def test_any_frame_gets_exactly_one_resp_and_no_bug(frame: Any) -> None:
    engine = Engine(clock=FakeClock(), ids=Ids(3))
    world = Harness(engine)
    sock = world.connect(world.signup())
    conv = new_conversation(sock)
    sock.send({"id": "s", "type": "ms.SubscribeMessagingEvents", "body": {"dialogId": conv}})
    got = sock.raw(json.dumps(frame).replace('"CONV"', json.dumps(conv)))
    resps = [f for f in got if f["kind"] == "resp"]
    assert len(resps) == 1 and got[0] is resps[0], got
    assert isinstance(resps[0]["reqId"], str) and resps[0]["code"] in (200, 400, 401, 403, 404)
    assert world.ums.bugs == 0


def test_rate_limit_answers_429_and_spares_keep_alives(clock: FakeClock) -> None:
    engine = Engine(CoreConfig(rate_limit=2), clock=clock, ids=Ids(5))
    world = Harness(engine)
    sock = world.connect(world.signup())
    conv = new_conversation(sock)
    assert sock.req(publish(conv))["code"] == 200
    resp = sock.req(publish(conv, rid="x"))
    assert resp["code"] == 429 and resp["reqId"] == "x" and "requests per second" in resp["body"]
    assert sock.req({"id": "c", "type": "GetClock"})["code"] == 200
    assert sock.closed is None
    clock.advance(1000)
    assert sock.req(publish(conv))["code"] == 200


def test_v2_ams_socket_gets_participants_as_role_maps(world: Harness, engine: Engine) -> None:
    """protocol.md §6.3: a v2 `.ams` connection sees participants by role, agents by legacy id."""
    token = world.signup()
    sock = world.connect(token, version="2")
    conv_id = new_conversation(sock, ".ams.cm.ConsumerRequestConversation")
    resp, snapshot = sock.send({"id": "x", "type": ".ams.aam.SubscribeExConversations", "body": {}})
    assert snapshot["type"] == ".ams.aam.ExConversationChangeNotification"
    details = snapshot["body"]["changes"][0]["result"]["conversationDetails"]
    me = sock.session.consumer_id
    assert details["participants"] == {"CONSUMER": [me]}
    assert details["participantsPId"] == {"CONSUMER": [me]} and details["convId"] == conv_id
    fx = Effects()
    agent = engine.join_agent(engine.conversation(ACCOUNT, conv_id), fx)
    world.deliver(fx)
    [upsert] = sock.take()
    result = upsert["body"]["changes"][0]["result"]
    assert result["lastUpdateTime"] == result["conversationDetails"]["metaDataLastUpdateTs"]
    details = result["conversationDetails"]
    assert details["participants"]["ASSIGNED_AGENT"] == [agent.legacy_id]
    assert details["participantsPId"]["ASSIGNED_AGENT"] == [agent.pid]
    ids = {p["id"] for p in details["dialogs"][0]["participantsDetails"]}
    assert ids == {me, agent.legacy_id}
    # a v3 socket of the same consumer keeps the documented array form
    v3 = world.connect(token)
    v3_snapshot = v3.send({"id": "y", "type": "cqm.SubscribeExConversations", "body": {}})[1]
    roles = v3_snapshot["body"]["changes"][0]["result"]["conversationDetails"]["participants"]
    assert {"id": agent.pid, "role": "ASSIGNED_AGENT"} in roles


def test_a_request_that_fails_drops_what_its_handler_asked_for(
    world: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The resp goes before a request's effects; a handler that raises leaves none behind."""
    from mockle.core import errors
    from mockle.core.dialects import Op
    from mockle.core.effects import Later
    from mockle.core.sessions import SocketRole

    sock = world.connect(world.signup())

    def half_done(session: Session, req: Any, fx: Effects) -> str:
        fx.frames.append((session.id, {"kind": "notification", "type": "half", "body": {}}))
        fx.webhooks.append("job")
        fx.later.append(Later(10, lambda fx: None))
        fx.closes.append((session.id, 1000, "no"))
        raise errors.RequestFailed("failed half way")

    monkeypatch.setitem(world.ums.handlers[SocketRole.CONSUMER], Op.GET_CLOCK, half_done)
    fx = world.ums.frame(sock.session, json.dumps({"kind": "req", "id": 7, "type": "GetClock"}))
    assert [frame["kind"] for _, frame in fx.frames] == ["resp"]
    assert fx.frames[0][1]["reqId"] == "7" and fx.frames[0][1]["code"] >= 400
    assert (fx.webhooks, fx.later, fx.closes) == ([], [], [])

    def works(session: Session, req: Any, fx: Effects) -> str:
        fx.frames.append((session.id, {"kind": "notification", "type": "after", "body": {}}))
        return "OK"

    monkeypatch.setitem(world.ums.handlers[SocketRole.CONSUMER], Op.GET_CLOCK, works)
    fx = world.ums.frame(sock.session, json.dumps({"kind": "req", "id": 8, "type": "GetClock"}))
    assert [(frame["kind"], frame["type"]) for _, frame in fx.frames] == [
        ("resp", "GetClockResponse"),
        ("notification", "after"),
    ]
