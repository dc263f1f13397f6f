"""AUTO_MESSAGES (protocol.md §5.4): the feature on CONVERSATION and the first SEND, within 10 s."""

from __future__ import annotations

import orjson
import pytest

from mockle.core import connector
from mockle.core.clock import FakeClock, Ids
from mockle.core.engine import CoreConfig, Engine
from mockle.core.webhooks import Webhooks

from .helpers import ACCOUNT, batch, call, send, text, tokens
from .test_webhooks import install

AUTO = '{"type": ".ClientProperties", "features": ["AUTO_MESSAGES"]}'
OTHER = '{"type": "ClientProperties", "features": ["RICH_CONTENT"]}'
WELCOME = "Welcome! An agent will be with you shortly."


def open_conv(engine: Engine, props: str | None) -> tuple[str, str, str]:
    app, jws = tokens(engine)
    reply, _ = connector.conversation(engine, call(engine, batch(), app=app, jws=jws, props=props))
    assert reply.status == 200, reply.body
    return app, jws, reply.body[1]["body"]["conversationId"]


def auto_messages(engine: Engine, conv_id: str) -> list[str]:
    conv = engine.conversation(ACCOUNT, conv_id)
    return [ev.change["event"]["message"] for ev in conv.timeline if ev.role == "CONTROLLER"]


@pytest.mark.parametrize("after_ms", [0, 9_999, 10_000])
def test_inside_the_window_a_controller_publishes_the_welcome(
    engine: Engine, clock: FakeClock, after_ms: int
) -> None:
    app, jws, conv = open_conv(engine, AUTO)
    clock.advance(after_ms)
    reply, _ = send(engine, text(conv, "hi"), app, jws, props=AUTO)
    assert reply.body["body"] == {"sequence": 0}
    assert auto_messages(engine, conv) == [WELCOME]
    c = engine.conversation(ACCOUNT, conv)
    controller = engine.controller_id(ACCOUNT)
    assert c.participants[0].id == controller and c.participants[0].role == "CONTROLLER"
    assert [(p.role) for p in c.main.participants] == ["CONSUMER", "CONTROLLER"]
    auto = c.timeline[-1].change
    assert auto["sequence"] == 1 and auto["originatorMetadata"] == {
        "id": controller,
        "role": "CONTROLLER",
    }
    assert auto["event"] == {
        "type": "ContentEvent",
        "message": WELCOME,
        "contentType": "text/plain",
    }


@pytest.mark.parametrize("after_ms", [10_001, 60_000])
def test_outside_the_window_none(engine: Engine, clock: FakeClock, after_ms: int) -> None:
    app, jws, conv = open_conv(engine, AUTO)
    clock.advance(after_ms)
    send(engine, text(conv, "hi"), app, jws, props=AUTO)
    assert auto_messages(engine, conv) == []


@pytest.mark.parametrize(
    ("on_conversation", "on_send"),
    [(None, AUTO), (AUTO, None), (OTHER, AUTO), (AUTO, OTHER), ("[object Object]", AUTO)],
)
def test_feature_missing_on_either_request_none(
    engine: Engine, on_conversation: str | None, on_send: str | None
) -> None:
    app, jws, conv = open_conv(engine, on_conversation)
    send(engine, text(conv, "hi"), app, jws, props=on_send)
    assert auto_messages(engine, conv) == []


def test_only_the_first_message_counts(engine: Engine, clock: FakeClock) -> None:
    app, jws, conv = open_conv(engine, AUTO)
    send(engine, text(conv, "one"), app, jws, props=None)  # first SEND without the header
    send(engine, text(conv, "two"), app, jws, props=AUTO)
    assert auto_messages(engine, conv) == []
    app2, jws2 = tokens(engine, "ext-2")
    reply, _ = connector.conversation(engine, call(engine, batch(), app=app2, jws=jws2, props=AUTO))
    conv2 = reply.body[1]["body"]["conversationId"]
    send(engine, text(conv2, "one"), app2, jws2, props=AUTO)
    send(engine, text(conv2, "two"), app2, jws2, props=AUTO)
    assert auto_messages(engine, conv2) == [WELCOME]


def test_features_given_as_a_bare_string_count(engine: Engine) -> None:
    bare = '{"type": ".ClientProperties", "features": "AUTO_MESSAGES"}'
    app, jws, conv = open_conv(engine, bare)
    send(engine, text(conv, "hi"), app, jws, props=bare)
    assert auto_messages(engine, conv) == [WELCOME]


def test_configured_texts_in_order_and_none_configured_means_none(clock: FakeClock) -> None:
    engine = Engine(CoreConfig(auto_messages=("Hi!", "Queue position: 1")), clock=clock, ids=Ids(3))
    app, jws, conv = open_conv(engine, AUTO)
    send(engine, text(conv, "hi"), app, jws, props=AUTO)
    assert auto_messages(engine, conv) == ["Hi!", "Queue position: 1"]
    silent = Engine(CoreConfig(auto_messages=()), clock=clock, ids=Ids(3))
    app, jws, conv = open_conv(silent, AUTO)
    send(silent, text(conv, "hi"), app, jws, props=AUTO)
    assert auto_messages(silent, conv) == []


def test_webhooks_see_the_consumer_message_the_controller_join_then_the_welcome(
    engine: Engine,
) -> None:
    engine.listeners.append(Webhooks(engine))
    install(engine)
    app, jws, conv = open_conv(engine, AUTO)
    _, fx = send(engine, text(conv, "hi"), app, jws, props=AUTO)
    kinds = [j.event_type.rsplit(".", 1)[-1] for j in fx.webhooks]
    assert kinds == ["ContentEvent", "ExConversationChangeNotification", "ContentEvent"]
    joined = orjson.loads(fx.webhooks[1].body)["body"]["changes"][0]["result"][
        "conversationDetails"
    ]
    assert [p["role"] for p in joined["participants"]] == ["CONTROLLER", "CONSUMER"]
    welcome = orjson.loads(fx.webhooks[2].body)["body"]["changes"][0]
    assert welcome["originatorMetadata"]["role"] == "CONTROLLER" and welcome["sequence"] == 1
