"""Webhook jobs in the core: bodies, routing per event type, headers and signatures (no server)."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from mockle.core import connector
from mockle.core.apps import App, Webhook
from mockle.core.clock import FakeClock
from mockle.core.engine import Effects, Engine
from mockle.core.model import StoredEvent
from mockle.core.render import change_item
from mockle.core.webhooks import (
    CONVERSATION_TYPE,
    WebhookJob,
    Webhooks,
    event_body,
    sign,
    verify,
)

from .helpers import ACCOUNT, batch, call, send, text, tokens

# The two signed fixtures of LivePerson's demo connector (connector-api.md §4.5 / §4.8), verbatim.
SECRET = "rl9hacst6kqilbofup64n11ga3"
PAUSE_BODY = (
    b'{"kind":"notification","body":{"changes":[{"originatorId":"2969e404f3be1c8cdda63f0b72d205ab5afb3fe3e3d7d72ab58245f564fdfd91",'
    b'"originatorMetadata":{"id":"2969e404f3be1c8cdda63f0b72d205ab5afb3fe3e3d7d72ab58245f564fdfd91","role":"CONSUMER"},'
    b'"event":{"type":"ChatStateEvent","chatState":"PAUSE"},"conversationId":"b8b83fe9-75f0-46f2-baaa-2930f7192cfb",'
    b'"dialogId":"b8b83fe9-75f0-46f2-baaa-2930f7192cfb"}]},"type":"ms.MessagingEventNotification"}'
)
PAUSE_SIGNATURE = "sha1=e/TfS0wv1HbvEsMqcBMmFLcMslI="
CLOSED_BODY = (
    b'{"kind":"notification","body":{"changes":[{"type":"UPSERT","result":{"convId":"b8b83fe9-75f0-46f2-baaa-2930f7192cfb",'
    b'"effectiveTTR":-1,"conversationDetails":{"skillId":"-1","participants":[{"id":"52e05c00-d5e4-5823-acf7-62570b939a63",'
    b'"role":"CONTROLLER"},{"id":"2969e404f3be1c8cdda63f0b72d205ab5afb3fe3e3d7d72ab58245f564fdfd91","role":"CONSUMER"}],'
    b'"dialogs":[{"dialogId":"b8b83fe9-75f0-46f2-baaa-2930f7192cfb","participantsDetails":[{"id":"2969e404f3be1c8cdda63f0b72d205ab5afb3fe3e3d7d72ab58245f564fdfd91",'
    b'"role":"CONSUMER"},{"id":"52e05c00-d5e4-5823-acf7-62570b939a63","role":"CONTROLLER"}],"dialogType":"MAIN",'
    b'"channelType":"MESSAGING","state":"CLOSE","creationTs":1545398580042,"endTs":1545399379370,'
    b'"metaDataLastUpdateTs":1545399379370,"closedBy":"CONSUMER"}],"brandId":"42257269","state":"CLOSE","stage":"CLOSE",'
    b'"closeReason":"CONSUMER","startTs":1545398580042,"endTs":1545399379370,"metaDataLastUpdateTs":1545399379370,'
    b'"ttr":{"ttrType":"PRIORITIZED","value":600}}}}]},"type":"cqm.ExConversationChangeNotification"}'
)
CLOSED_SIGNATURE = "sha1=CKiT6u4nb4Mpi0tdbCbgBXKAF1E="

ALL_KEYS = (
    "cqm.ExConversationChangeNotification",
    "ms.MessagingEventNotification.ContentEvent",
    "ms.MessagingEventNotification.RichContentEvent",
    "ms.MessagingEventNotification.AcceptStatusEvent",
    "ms.MessagingEventNotification.ChatStateEvent",
)


def install(
    engine: Engine,
    keys: tuple[str, ...] = ALL_KEYS,
    *,
    client_id: str = "app-1",
    secret: str = SECRET,
    account: str = ACCOUNT,
    enabled: bool = True,
    headers: list[tuple[str, str]] | None = None,
    max_retries: int = 0,
) -> App:
    hooks = {k: Webhook(k, f"https://hooks.example/{k}", max_retries, headers or []) for k in keys}
    app = App(account, client_id, secret, enabled=enabled, webhooks=hooks)
    engine.apps.add(app)
    return app


@pytest.fixture
def hooked(engine: Engine) -> Engine:
    engine.listeners.append(Webhooks(engine))
    return engine


def body(job: WebhookJob) -> dict[str, Any]:
    doc = orjson.loads(job.body)
    assert isinstance(doc, dict)
    return doc


def change(job: WebhookJob) -> dict[str, Any]:
    changes = body(job)["body"]["changes"]
    assert len(changes) == 1
    return dict(changes[0])


def open_conv(engine: Engine, ext: str = "ext-1") -> tuple[str, str, str, list[WebhookJob]]:
    app, jws = tokens(engine, ext)
    reply, fx = connector.conversation(engine, call(engine, batch(), app=app, jws=jws))
    assert reply.status == 200, reply.body
    return app, jws, reply.body[1]["body"]["conversationId"], fx.webhooks


# -- signatures --------------------------------------------------------------------------------


def test_signature_reproduces_the_verified_vectors_of_the_demo_connector() -> None:
    assert sign(PAUSE_BODY, SECRET) == PAUSE_SIGNATURE
    assert sign(CLOSED_BODY, SECRET) == CLOSED_SIGNATURE
    assert verify(PAUSE_BODY, SECRET, PAUSE_SIGNATURE)
    assert not verify(PAUSE_BODY + b" ", SECRET, PAUSE_SIGNATURE)
    assert not verify(PAUSE_BODY, "other", PAUSE_SIGNATURE)


def test_sha256_signature_has_the_documented_form() -> None:
    sig = sign(PAUSE_BODY, SECRET, "sha256")
    assert sig.startswith("sha256=") and len(sig) == len("sha256=") + 44
    assert verify(PAUSE_BODY, SECRET, sig)
    assert not verify(PAUSE_BODY, SECRET, "md5=abc")


def test_a_rendered_chat_state_is_byte_exact_with_the_signed_fixture() -> None:
    consumer = "2969e404f3be1c8cdda63f0b72d205ab5afb3fe3e3d7d72ab58245f564fdfd91"
    conv = "b8b83fe9-75f0-46f2-baaa-2930f7192cfb"
    event = {"type": "ChatStateEvent", "chatState": "PAUSE"}
    item = change_item(
        sequence=None,
        originator_id=consumer,
        role="CONSUMER",
        server_ts=1,
        event=event,
        conversation_id=conv,
        dialog_id=conv,
    )
    ev = StoredEvent.make(None, consumer, "CONSUMER", "ChatStateEvent", 1, item, conv, conv)
    raw = event_body(ev)
    assert raw == PAUSE_BODY
    assert sign(raw, SECRET) == PAUSE_SIGNATURE


def test_bodies_are_compact_raw_utf8_that_json_stringify_reproduces(hooked: Engine) -> None:
    install(hooked)
    app, jws, conv, _ = open_conv(hooked)
    _, fx = send(hooked, text(conv, 'héllo 👋 "quoted"'), app, jws)
    (job,) = fx.webhooks
    assert "héllo 👋".encode() in job.body
    assert b" " not in job.body.replace('héllo 👋 \\"quoted\\"'.encode(), b"")
    assert orjson.dumps(orjson.loads(job.body)) == job.body


# -- bodies and routing ------------------------------------------------------------------------


def test_conversation_created_has_the_deva_shape_without_subscription_id(
    hooked: Engine, clock: FakeClock
) -> None:
    install(hooked)
    _, jws, conv, jobs = open_conv(hooked)
    (job,) = jobs
    assert job.event_type == CONVERSATION_TYPE and job.conversation_id == conv
    doc = body(job)
    assert list(doc) == ["kind", "body", "type"]
    assert doc["kind"] == "notification" and doc["type"] == CONVERSATION_TYPE
    assert list(doc["body"]) == ["changes"]
    ch = change(job)
    assert ch["type"] == "UPSERT"
    result = ch["result"]
    assert list(result) == ["convId", "effectiveTTR", "conversationDetails"]
    assert result["convId"] == conv
    assert result["effectiveTTR"] == clock.now_ms() + 600_000
    details = result["conversationDetails"]
    assert list(details) == [
        "skillId",
        "participants",
        "dialogs",
        "brandId",
        "state",
        "stage",
        "startTs",
        "metaDataLastUpdateTs",
        "ttr",
        "conversationHandlerDetails",
    ]
    consumer = details["participants"][0]["id"]
    assert details["participants"] == [{"id": consumer, "role": "CONSUMER"}]
    assert details["dialogs"] == [
        {
            "dialogId": conv,
            "participantsDetails": [{"id": consumer, "role": "CONSUMER", "state": "ACTIVE"}],
            "dialogType": "MAIN",
            "channelType": "MESSAGING",
            "state": "OPEN",
            "creationTs": clock.now_ms(),
            "metaDataLastUpdateTs": clock.now_ms(),
        }
    ]
    assert (details["brandId"], details["state"], details["stage"]) == (ACCOUNT, "OPEN", "OPEN")
    assert details["ttr"] == {"ttrType": "PRIORITIZED", "value": 600}
    assert details["conversationHandlerDetails"] == {"accountId": ACCOUNT, "skillId": "-1"}


def test_webhook_examples_one_to_seven_in_order(hooked: Engine, clock: FakeClock) -> None:
    """connector-api.md §4.8: created, consumer text, agent joined, READ, typing, ACTIVE, text."""
    install(hooked)
    app, jws, conv, jobs = open_conv(hooked)
    clock.advance(11)
    _, fx = send(hooked, text(conv, "Hello from Consumer"), app, jws)
    jobs += fx.webhooks
    c = hooked.conversation(ACCOUNT, conv)
    clock.advance(1000)
    fx = Effects()
    agent = hooked.join_agent(c, fx)
    for event in (
        {"type": "AcceptStatusEvent", "status": "READ", "sequenceList": [0]},
        {"type": "ChatStateEvent", "chatState": "COMPOSING"},
        {"type": "ChatStateEvent", "chatState": "ACTIVE"},
        {"type": "ContentEvent", "message": "Hello from the Agent\n", "contentType": "text/plain"},
    ):
        clock.advance(1)
        hooked.agent_publish(c, event, fx)
    jobs += fx.webhooks
    assert [j.event_type for j in jobs] == [
        "cqm.ExConversationChangeNotification",
        "ms.MessagingEventNotification.ContentEvent",
        "cqm.ExConversationChangeNotification",
        "ms.MessagingEventNotification.AcceptStatusEvent",
        "ms.MessagingEventNotification.ChatStateEvent",
        "ms.MessagingEventNotification.ChatStateEvent",
        "ms.MessagingEventNotification.ContentEvent",
    ]
    assert {body(j)["type"] for j in jobs[1:2] + jobs[3:]} == {"ms.MessagingEventNotification"}
    consumer = change(jobs[0])["result"]["conversationDetails"]["participants"][0]["id"]
    t0 = clock.now_ms() - 1015
    assert change(jobs[1]) == {
        "sequence": 0,
        "originatorId": consumer,
        "originatorMetadata": {"id": consumer, "role": "CONSUMER"},
        "serverTimestamp": t0 + 11,
        "event": {
            "type": "ContentEvent",
            "message": "Hello from Consumer",
            "contentType": "text/plain",
        },
        "conversationId": conv,
        "dialogId": conv,
        "messageAudience": "ALL",
    }
    joined = change(jobs[2])["result"]["conversationDetails"]
    assert joined["participants"] == [
        {"id": agent.pid, "role": "ASSIGNED_AGENT"},
        {"id": consumer, "role": "CONSUMER"},
    ]
    assert joined["dialogs"][0]["participantsDetails"][1] == {
        "id": agent.pid,
        "role": "ASSIGNED_AGENT",
        "state": "ACTIVE",
    }
    assert joined["metaDataLastUpdateTs"] == t0 + 1011
    meta = {"id": agent.pid, "role": "ASSIGNED_AGENT"}
    read = change(jobs[3])
    assert read["sequence"] == 1 and read["originatorMetadata"] == meta
    assert read["event"] == {"type": "AcceptStatusEvent", "status": "READ", "sequenceList": [0]}
    for job, state in ((jobs[4], "COMPOSING"), (jobs[5], "ACTIVE")):
        assert change(job) == {
            "originatorId": agent.pid,
            "originatorMetadata": meta,
            "event": {"type": "ChatStateEvent", "chatState": state},
            "conversationId": conv,
            "dialogId": conv,
        }
    reply = change(jobs[6])
    assert reply["sequence"] == 2 and reply["originatorId"] == agent.pid
    assert list(reply) == [
        "sequence",
        "originatorId",
        "originatorMetadata",
        "serverTimestamp",
        "event",
        "conversationId",
        "dialogId",
        "messageAudience",
    ]


def test_closed_by_agent_and_by_consumer_and_transfer_have_the_documented_shapes(
    hooked: Engine,
) -> None:
    install(hooked)
    _, _, conv, _ = open_conv(hooked)
    c = hooked.conversation(ACCOUNT, conv)
    fx = Effects()
    agent = hooked.join_agent(c, fx)
    hooked.transfer(c, "99999999", fx)
    moved = change(fx.webhooks[-1])["result"]["conversationDetails"]
    assert moved["skillId"] == "99999999"
    assert moved["conversationHandlerDetails"]["skillId"] == "99999999"
    assert all(p["role"] != "ASSIGNED_AGENT" for p in moved["participants"])
    hooked.join_agent(c, fx, agent.pid)
    hooked.close(c, "AGENT", fx)
    closed = change(fx.webhooks[-1])["result"]
    assert closed["effectiveTTR"] == -1
    details = closed["conversationDetails"]
    assert (details["state"], details["stage"], details["closeReason"]) == (
        "CLOSE",
        "CLOSE",
        "AGENT",
    )
    assert (
        details["dialogs"][0]["state"] == "CLOSE" and details["dialogs"][0]["closedBy"] == "AGENT"
    )
    assert "endTs" in details and "endTs" in details["dialogs"][0]
    assert {"id": agent.pid, "role": "ASSIGNED_AGENT"} in details["participants"]

    app, jws, conv2, _ = open_conv(hooked, "ext-2")
    close = {
        "kind": "req",
        "id": "9",
        "type": "cm.UpdateConversationField",
        "body": {
            "conversationId": conv2,
            "conversationField": [
                {"field": "ConversationStateField", "conversationState": "CLOSE"}
            ],
        },
    }
    _, fx = send(hooked, close, app, jws)
    (job,) = fx.webhooks
    details = change(job)["result"]["conversationDetails"]
    assert details["closeReason"] == "CONSUMER" and details["dialogs"][0]["closedBy"] == "CONSUMER"


def test_each_event_type_goes_only_to_its_own_endpoint(hooked: Engine) -> None:
    install(hooked, ("ms.MessagingEventNotification.ChatStateEvent",))
    app, jws, conv, jobs = open_conv(hooked)
    assert jobs == []
    _, fx = send(hooked, text(conv), app, jws)
    assert fx.webhooks == []
    typing = {
        "kind": "req",
        "id": "2",
        "type": "ms.PublishEvent",
        "body": {"dialogId": conv, "event": {"type": "ChatStateEvent", "chatState": "COMPOSING"}},
    }
    _, fx = send(hooked, typing, app, jws)
    (job,) = fx.webhooks
    assert job.endpoint == "https://hooks.example/ms.MessagingEventNotification.ChatStateEvent"
    assert body(job)["type"] == "ms.MessagingEventNotification"


def test_rich_content_goes_to_its_endpoint_with_content(hooked: Engine) -> None:
    install(hooked, ("ms.MessagingEventNotification.RichContentEvent",))
    _, _, conv, _ = open_conv(hooked)
    fx = Effects()
    card = {"type": "vertical", "elements": [{"type": "text", "text": "Product Name"}]}
    hooked.agent_publish(
        hooked.conversation(ACCOUNT, conv), {"type": "RichContentEvent", "content": card}, fx
    )
    (job,) = fx.webhooks
    assert change(job)["event"] == {"type": "RichContentEvent", "content": card}


def test_headers_carry_account_client_signature_and_configured_extras(hooked: Engine) -> None:
    extras = [("NAME1", "VALUE1"), ("x-liveperson-signature", "forged"), ("NAME2", "VALUE2")]
    install(hooked, headers=extras, max_retries=3)
    _, _, conv, (job,) = open_conv(hooked)
    assert job.headers == (
        ("Content-Type", "application/json"),
        ("x-liveperson-account-id", ACCOUNT),
        ("x-liveperson-client-id", "app-1"),
        ("x-liveperson-signature", sign(job.body, SECRET)),
        ("NAME1", "VALUE1"),
        ("NAME2", "VALUE2"),
    )
    assert job.max_retries == 3 and job.key == (ACCOUNT, "app-1", conv)


def test_sha256_mode(engine: Engine) -> None:
    engine.listeners.append(Webhooks(engine, "sha256"))
    install(engine)
    _, _, _, (job,) = open_conv(engine)
    assert dict(job.headers)["x-liveperson-signature"] == sign(job.body, SECRET, "sha256")


def test_every_app_of_the_account_gets_the_same_bytes_signed_with_its_own_secret(
    hooked: Engine,
) -> None:
    install(hooked, client_id="a", secret="s1")
    install(hooked, client_id="b", secret="s2")
    install(hooked, client_id="off", enabled=False)
    install(hooked, client_id="elsewhere", account="le-other")
    _, _, _, jobs = open_conv(hooked)
    assert [j.client_id for j in jobs] == ["a", "b"]
    assert jobs[0].body is jobs[1].body
    sigs = [dict(j.headers)["x-liveperson-signature"] for j in jobs]
    assert sigs == [sign(jobs[0].body, "s1"), sign(jobs[0].body, "s2")]


def test_private_agent_messages_are_not_sent(hooked: Engine) -> None:
    install(hooked)
    _, _, conv, _ = open_conv(hooked)
    c = hooked.conversation(ACCOUNT, conv)
    fx = Effects()
    hooked.join_agent(c, fx)
    fx = Effects()
    note = {"type": "ContentEvent", "message": "internal note", "contentType": "text/plain"}
    hooked.agent_publish(c, note, fx, audience="AGENTS_AND_MANAGERS")
    assert fx.webhooks == []


def test_conversations_opened_by_any_channel_reach_the_account_apps(hooked: Engine) -> None:
    install(hooked)
    info = hooked.tokens.verify(hooked.tokens.mint_signup(ACCOUNT, 3600))
    consumer = hooked.consumer(info)
    fx = Effects()
    conv = hooked.request_conversation(consumer, {"brandId": ACCOUNT}, fx, channel="ums")
    (job,) = fx.webhooks
    assert change(job)["result"]["convId"] == conv.conv_id


def test_no_apps_no_jobs_and_no_serialisation(
    hooked: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    import mockle.core.webhooks as wh

    def boom(*_: Any) -> bytes:
        raise AssertionError("serialised without a receiver")

    monkeypatch.setattr(wh, "encode", boom)
    app, jws, conv, jobs = open_conv(hooked)
    _, fx = send(hooked, text(conv), app, jws)
    assert jobs == [] and fx.webhooks == []


def test_the_docs_misspelt_accept_status_key_is_understood() -> None:
    from mockle.core.apps import app_from_manifest

    manifest = {
        "account": "a",
        "client_name": "n",
        "capabilities": {
            "webhooks": {
                "ms.MessagingEventNotification.AccpetStatusEvent": {"endpoint": "http://x/h"}
            }
        },
    }
    app = app_from_manifest(manifest, "id", "secret")
    assert list(app.webhooks) == ["ms.MessagingEventNotification.AcceptStatusEvent"]
