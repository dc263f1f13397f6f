"""The Connector API in the core: CONVERSATION and SEND without a server."""

from __future__ import annotations

import jwt
import pytest

from mockle.core import connector
from mockle.core.clock import FakeClock
from mockle.core.engine import Engine, Listener

from .helpers import ACCOUNT, batch, call, open_conversation, send, text, tokens


class Recorder(Listener):
    def __init__(self) -> None:
        self.conversations: list[dict[str, object]] = []
        self.events: list[dict[str, object]] = []

    def on_conversation(self, conv, fx):  # type: ignore[no-untyped-def]
        from mockle.core.render import conversation_change

        self.conversations.append(conversation_change(conv))

    def on_event(self, conv, dialog, ev, fx):  # type: ignore[no-untyped-def]
        self.events.append(ev.change)


def test_conversation_minimal_batch_answers_in_order_with_ids_verbatim(engine: Engine) -> None:
    app, jws = tokens(engine)
    reply, _ = connector.conversation(engine, call(engine, batch(), app=app, jws=jws))
    assert reply.status == 200
    assert reply.body[0] == {
        "reqId": "1,",
        "code": "OK",
        "body": {"msg": "OK User Profile set successfully"},
    }
    assert reply.body[1]["reqId"] == "2,"
    assert reply.body[1]["code"] == "OK"
    conv_id = reply.body[1]["body"]["conversationId"]
    assert len(conv_id) == 36 and conv_id.count("-") == 4


def test_conversation_reversed_and_duplicate_ids_are_echoed(engine: Engine) -> None:
    app, jws = tokens(engine)
    body = batch()
    body[0]["id"], body[1]["id"] = "2,", "1,"
    reply, _ = connector.conversation(engine, call(engine, body, app=app, jws=jws))
    assert [i["reqId"] for i in reply.body] == ["2,", "1,"]
    assert "conversationId" in reply.body[1]["body"]
    app2, jws2 = tokens(engine, "ext-2")
    body[0]["id"] = body[1]["id"] = 7
    reply, _ = connector.conversation(engine, call(engine, body, app=app2, jws=jws2))
    assert [i["reqId"] for i in reply.body] == ["7", "7"]


def test_second_conversation_while_open_is_refused_like_the_real_service(engine: Engine) -> None:
    app, jws, _ = open_conversation(engine)
    reply, _ = connector.conversation(engine, call(engine, batch(), app=app, jws=jws))
    assert reply.status == 400
    assert reply.body[0]["code"] == "OK"
    failed = reply.body[1]
    assert failed["code"] == "BAD_REQUEST" and failed["reqId"] == "2,"
    consumer = jwt.decode(jws, options={"verify_signature": False})["lp_consumer_id"]
    assert failed["body"]["msg"] == (
        f"Consumer request conversation failed: User {consumer} already has open conversation. "
        "Can't open another one."
    )


def test_documented_request_fields_reach_the_conversation(engine: Engine) -> None:
    recorder = Recorder()
    engine.listeners.append(recorder)
    app, jws = tokens(engine)
    body = batch(
        {
            "ttrDefName": "NORMAL",
            "campaignInfo": {"campaignId": 2894629312, "engagementId": "2894629412"},
            "channelType": "MESSAGING",
            "brandId": ACCOUNT,
            "skillId": -1,
            "conversationContext": {
                "visitorId": "v",
                "sessionId": "s",
                "interactionContextId": 2,
                "type": "SharkContext",
                "lang": "en-US",
            },
        }
    )
    reply, _ = connector.conversation(
        engine,
        call(
            engine,
            body,
            app=app,
            jws=jws,
            props='{"type":".ClientProperties","features":["AUTO_MESSAGES"]}',
        ),
    )
    assert reply.status == 200
    details = recorder.conversations[-1]["result"]["conversationDetails"]  # type: ignore[index]
    assert details["ttr"] == {"ttrType": "NORMAL", "value": 3600}
    assert details["skillId"] == "-1"
    assert details["campaignInfo"] == {"campaignId": 2894629312, "engagementId": "2894629412"}
    assert details["context"]["type"] == "SharkContext"
    assert details["context"]["clientProperties"]["features"] == ["AUTO_MESSAGES"]
    assert details["state"] == details["stage"] == "OPEN"
    assert details["dialogs"][0]["dialogId"] == reply.body[1]["body"]["conversationId"]


def test_send_sequences_are_gap_free_and_chat_states_unsequenced(engine: Engine) -> None:
    app, jws, conv = open_conversation(engine)
    seqs = [
        send(engine, text(conv, f"m{i}"), app, jws)[0].body["body"]["sequence"] for i in range(3)
    ]
    assert seqs == [0, 1, 2]
    typing = {
        "kind": "req",
        "id": "1",
        "type": "ms.PublishEvent",
        "body": {"dialogId": conv, "event": {"type": "ChatStateEvent", "chatState": "COMPOSING"}},
    }
    reply, _ = send(engine, typing, app, jws)
    assert reply.body == {"reqId": "1", "code": "OK", "body": {"sequence": 0}}
    accept = {
        "kind": "req",
        "id": "0",
        "type": "ms.PublishEvent",
        "body": {
            "dialogId": conv,
            "event": {"type": "AcceptStatusEvent", "status": "ACCEPT", "sequenceList": [1, 2]},
        },
    }
    reply, _ = send(engine, accept, app, jws)
    assert reply.body["body"]["sequence"] == 3


def test_send_after_close_is_bad_request_and_changes_nothing(engine: Engine) -> None:
    app, jws, conv = open_conversation(engine)
    close = {
        "kind": "req",
        "id": 1,
        "type": "cm.UpdateConversationField",
        "body": {
            "conversationId": conv,
            "conversationField": {"field": "ConversationStateField", "conversationState": "CLOSE"},
        },
    }
    reply, _ = send(engine, close, app, jws)
    assert reply.body == {
        "reqId": "1",
        "code": "OK",
        "body": {"msg": "OK Conversation resolved successfully"},
    }
    reply, fx = send(engine, text(conv), app, jws)
    assert reply.status == 400
    assert reply.body == {
        "code": "BAD_REQUEST",
        "body": {"msg": "Bad Request, Conversation is close"},
        "reqId": "1",
    }
    assert list(engine.account(ACCOUNT).conversations[conv].main.events) == []
    # after close the consumer may open a new one
    reply, _ = connector.conversation(engine, call(engine, batch(), app=app, jws=jws))
    assert reply.status == 200 and reply.body[1]["body"]["conversationId"] != conv


def test_csat_after_close(engine: Engine) -> None:
    recorder = Recorder()
    engine.listeners.append(recorder)
    app, jws, conv = open_conversation(engine)
    engine.close(engine.conversation(ACCOUNT, conv), "AGENT", connector.Effects())
    csat = {
        "kind": "req",
        "id": 5,
        "type": "cm.UpdateConversationField",
        "body": {
            "conversationId": conv,
            "conversationField": {
                "field": "CSATRate",
                "csatRate": 5,
                "csatResolutionConfirmation": True,
                "status": "FILLED",
            },
        },
    }
    reply, _ = send(engine, csat, app, jws)
    assert reply.status == 200
    details = recorder.conversations[-1]["result"]["conversationDetails"]  # type: ignore[index]
    assert details["csat"]["csatRate"] == 5
    assert details["closeReason"] == "AGENT"


@pytest.mark.parametrize(
    ("app_ok", "jws_ok", "code"),
    [(False, True, 40105), (True, False, 40104)],
)
def test_missing_tokens_get_the_documented_envelope(
    engine: Engine, app_ok: bool, jws_ok: bool, code: int
) -> None:
    app, jws = tokens(engine)
    reply, _ = connector.send(
        engine, call(engine, text("x"), app=app if app_ok else None, jws=jws if jws_ok else None)
    )
    assert reply.status == 401
    assert reply.body["kind"] == "resp" and reply.body["code"] == 401
    assert reply.body["type"] == ".ReqBody$ErrorResp"
    assert reply.body["body"]["errorCode"] == code


def test_expired_tampered_and_foreign_tokens_are_refused(engine: Engine, clock: FakeClock) -> None:
    app, jws, conv = open_conversation(engine)
    head, payload, sig = app.split(".")
    tampered = f"{head}.{payload[:-2]}AA.{sig}"
    reply, _ = send(engine, text(conv), tampered, jws)
    assert reply.body["body"]["errorCode"] == 40102
    other_app = engine.tokens.mint_app_jwt("other", "client-1", 3600)
    reply, _ = send(engine, text(conv), other_app, jws)
    assert reply.body["body"]["errorCode"] == 40102
    reply, _ = send(engine, text(conv), app, "garbage")
    assert reply.body["body"]["errorCode"] == 40103
    clock.advance(3600 * 1000)
    reply, _ = send(engine, text(conv), app, jws)
    assert reply.status == 401 and reply.body["body"]["errorCode"] == 40102


def test_another_consumers_conversation_is_401_and_untouched(engine: Engine) -> None:
    app, _, conv = open_conversation(engine, "alice")
    _, mallory = tokens(engine, "mallory")
    reply, _ = send(engine, text(conv), app, mallory)
    assert reply.status == 401 and reply.body["body"]["errorCode"] == 40103
    assert list(engine.account(ACCOUNT).conversations[conv].main.events) == []


@pytest.mark.parametrize(
    ("body", "where", "fragment"),
    [
        (b"{not json", "$", "not valid JSON"),
        (b"", "$", "empty"),
        (
            [{"kind": "req", "id": "1", "type": "userprofile.SetUserProfile", "body": {}}],
            "$",
            "at least two",
        ),
        ({"a": 1}, "$", "at least two"),
        (
            [
                {"id": "1", "type": "cm.ConsumerRequestConversation"},
                {"id": "2", "type": "userprofile.SetUserProfile"},
            ],
            "$[0].type",
            "must be userprofile.SetUserProfile",
        ),
        (
            [{"id": "1", "type": "userprofile.SetUserProfile"}, {"id": "2", "type": "cm.Nope"}],
            "$[1].type",
            "unknown request type",
        ),
        (  # both types are checked before either request is validated
            [
                {"id": "1", "type": "userprofile.SetUserProfile", "body": 5},
                {"id": "2", "type": "userprofile.SetUserProfile"},
            ],
            "$[1].type",
            "must be cm.ConsumerRequestConversation",
        ),
        (
            [{"id": "1", "type": "userprofile.SetUserProfile", "body": 5}, {"id": "2"}],
            "$[0].body",
            "",
        ),
        (
            [
                {"id": "1", "type": "userprofile.SetUserProfile"},
                {"id": "2", "type": "cm.ConsumerRequestConversation", "body": {"campaignInfo": 5}},
            ],
            "$[1].body.campaignInfo",
            "",
        ),
    ],
)
def test_invalid_batches_say_what_and_where(
    engine: Engine, body: object, where: str, fragment: str
) -> None:
    app, jws = tokens(engine)
    reply, _ = connector.conversation(engine, call(engine, body, app=app, jws=jws))
    assert reply.status == 400
    assert reply.body["type"] == ".ReqBody$ErrorResp"
    assert reply.body["body"]["path"] == where
    assert fragment in reply.body["body"]["details"]
    assert engine.account(ACCOUNT).conversations == {}


@pytest.mark.parametrize(
    ("event", "where"),
    [
        (
            {"type": "ContentEvent", "contentType": "text/plain", "message": 5},
            "$.body.event.message",
        ),
        (
            {"type": "AcceptStatusEvent", "status": "READ", "sequenceList": ["a"]},
            "$.body.event.sequenceList",
        ),
        ({"type": "NopeEvent"}, "$.body.event.type"),
    ],
)
def test_schema_violations_on_send_name_the_path(
    engine: Engine, event: dict[str, object], where: str
) -> None:
    app, jws, conv = open_conversation(engine)
    body = {
        "kind": "req",
        "id": "1",
        "type": "ms.PublishEvent",
        "body": {"dialogId": conv, "event": event},
    }
    reply, _ = send(engine, body, app, jws)
    assert reply.status == 400
    assert reply.body["body"]["path"].startswith(where), reply.body
    assert list(engine.account(ACCOUNT).conversations[conv].main.events) == []


def test_bare_element_and_rich_content_message_spelling_are_accepted(engine: Engine) -> None:
    app, jws, conv = open_conversation(engine)
    accept = {
        "id": "1",
        "type": "ms.PublishEvent",
        "body": {
            "dialogId": conv,
            "event": {"type": "AcceptStatusEvent", "status": "READ", "sequenceList": 0},
        },
    }
    assert send(engine, accept, app, jws)[0].status == 200
    rich = {
        "id": "2",
        "type": "ms.PublishEvent",
        "body": {
            "dialogId": conv,
            "event": {"type": "RichContentEvent", "message": {"type": "vertical", "elements": []}},
        },
    }
    assert send(engine, rich, app, jws)[0].status == 200
    stored = engine.account(ACCOUNT).conversations[conv].main.events
    assert stored[0].change["event"]["sequenceList"] == [0]
    assert stored[1].change["event"]["content"] == {"type": "vertical", "elements": []}


def test_client_properties_garbage_never_fails_a_request(engine: Engine) -> None:
    app, jws = tokens(engine)
    reply, _ = connector.conversation(
        engine, call(engine, batch(), app=app, jws=jws, props="[object Object]")
    )
    assert reply.status == 200


def test_upload_url_shape_and_limits(engine: Engine) -> None:
    app, jws, conv = open_conversation(engine)
    reply, _ = send(
        engine,
        {
            "kind": "req",
            "id": 3,
            "body": {"fileSize": "1000", "fileType": "PNG"},
            "type": "ms.GenerateURLForUploadFile",
        },
        app,
        jws,
    )
    assert reply.status == 200 and reply.body["reqId"] == "3"
    path = reply.body["body"]["relativePath"]
    assert path.startswith(f"/v1/AUTH_async-images/{ACCOUNT}/") and path.endswith(".PNG")
    assert set(reply.body["body"]["queryParams"]) == {"temp_url_sig", "temp_url_expires"}
    reply, _ = send(
        engine,
        {
            "id": 4,
            "body": {"fileSize": 99999999, "fileType": "PNG"},
            "type": "ms.GenerateURLForUploadFile",
        },
        app,
        jws,
    )
    assert reply.status == 400


def test_send_size_limit_is_the_documented_bad_request(engine: Engine) -> None:
    app, jws, conv = open_conversation(engine)
    reply, _ = connector.send(
        engine, call(engine, text(conv, "x" * 6000), app=app, jws=jws), max_chars=5000
    )
    assert reply.status == 400 and reply.body == {
        "code": "BAD_REQUEST",
        "body": {"msg": "Bad Request"},
        "reqId": "1",
    }


def test_rate_limit_answers_429_with_retry_after(clock: FakeClock) -> None:
    from mockle.core.clock import Ids
    from mockle.core.engine import CoreConfig

    engine = Engine(CoreConfig(rate_limit=2), clock=clock, ids=Ids(1))
    app, jws, conv = open_conversation(engine)
    assert send(engine, text(conv), app, jws)[0].status == 200
    reply, _ = send(engine, text(conv), app, jws)
    assert reply.status == 429
    assert reply.headers["Retry-After"] == "1"
    assert reply.body["body"]["errorCode"] == 42900
    clock.advance(1000)
    assert send(engine, text(conv), app, jws)[0].status == 200
    _, other = tokens(engine, "someone-else")
    assert send(engine, text(conv), app, other)[0].status == 401  # limits are per consumer


def test_temp_urls_expire_after_a_minute(engine: Engine, clock: FakeClock) -> None:
    from mockle.core.errors import AuthError

    doc = engine.upload_url(ACCOUNT, {"fileSize": "4", "fileType": "PNG"})
    path, q = doc["relativePath"], doc["queryParams"]
    engine.files.put(path, q["temp_url_sig"], q["temp_url_expires"], b"data")
    clock.advance(61_000)
    with pytest.raises(AuthError, match="expired"):
        engine.files.get(path, q["temp_url_sig"], q["temp_url_expires"])
    fresh = engine.download_url(ACCOUNT, {"relativePath": path})["queryParams"]
    assert engine.files.get(path, fresh["temp_url_sig"], fresh["temp_url_expires"]) == b"data"
    engine.reset(ACCOUNT)
    assert not engine.files.exists(path)
