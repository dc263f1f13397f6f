"""The agent socket's requests in the core: one conversation held between a consumer and an
agent, the shapes node-agent-sdk needs, permissions and bad input."""

from __future__ import annotations

from typing import Any

import pytest

from mockle.core.schemas import SchemaSet

from .agentside import ACCOUNT, Sock, Stage, content, request_conversation, rings

EX = ".ams.aam.ExConversationChangeNotification"
ONLINE = ".ams.ms.OnlineEventDistribution"


def _accepted(stage: Stage, agent: Sock, consumer: Sock) -> str:
    conv = request_conversation(consumer)
    [ring] = rings(agent)
    agent.ok(
        ".ams.routing.UpdateRingState", {"ringId": ring["ringId"], "ringState": "ACCEPTED"}, 202
    )
    rings(agent)
    return conv


def test_a_consumer_and_an_agent_hold_one_conversation() -> None:
    stage = Stage()
    agent = stage.agent()
    consumer = stage.consumer()
    sub = agent.ok(
        ".ams.aam.SubscribeExConversations", {"agentIds": [agent.legacy], "convState": ["OPEN"]}
    )
    assert agent.take(EX)[0]["body"] == {"subscriptionId": sub["subscriptionId"], "changes": []}
    conv = _accepted(stage, agent, consumer)

    # the SDK's view: a v2 conversation with participants maps (agent-sdk.md §7)
    [change] = [c for f in agent.take(EX) for c in f["body"]["changes"]]
    details = change["result"]["conversationDetails"]
    assert change["type"] == "UPSERT" and change["result"]["convId"] == conv
    assert details["participants"]["ASSIGNED_AGENT"] == [agent.legacy]
    assert details["participantsPId"]["ASSIGNED_AGENT"] == [agent.pid]
    assert isinstance(details["dialogs"], list) and "participantsDetails" in details["dialogs"][0]

    # the consumer's message reaches the agent as an OnlineEventDistribution
    consumer.ok("ms.PublishEvent", content(conv, "hi agent", "ms.PublishEvent")["body"])
    [pushed] = agent.take(ONLINE)
    SchemaSet.default().validate("ms/onlineEventDistribution.json", pushed)
    assert pushed["body"]["event"]["message"] == "hi agent"

    # QueryMessages (the SDK's subscribeMessagingEvents) answers an array, from 0 inclusive
    history = agent.ok(".ams.ms.QueryMessages", {"dialogId": conv, "newerThanSequence": 0})
    assert [h["event"]["message"] for h in history] == ["hi agent"]
    assert history[0]["originatorPId"] and history[0]["sequence"] == 0

    # the agent answers; its own event carries its legacy id and its PID
    consumer.ok("ms.SubscribeMessagingEvents", {"dialogId": conv})
    consumer.take()
    assert agent.ok(".ams.ms.PublishEvent", content(conv, "hello consumer")["body"]) == {
        "sequence": 1
    }
    [mine] = agent.take(ONLINE)
    assert mine["body"]["originatorId"] == agent.legacy
    assert mine["body"]["originatorPId"] == agent.pid
    assert mine["body"]["originatorMetadata"] == {"id": agent.pid, "role": "ASSIGNED_AGENT"}
    [seen] = consumer.take("ms.MessagingEventNotification")
    assert seen["body"]["changes"][0]["event"]["message"] == "hello consumer"

    # the agent closes it: the subscription hears a DELETE (it no longer matches OPEN)
    closed = agent.ok(
        ".ams.cm.UpdateConversationField",
        {
            "conversationId": conv,
            "conversationField": [
                {"field": "ConversationStateField", "conversationState": "CLOSE"}
            ],
        },
    )
    assert closed == "OK Conversation resolved successfully"
    assert [c["type"] for f in agent.take(EX) for c in f["body"]["changes"]] == ["DELETE"]
    assert stage.engine.conversation(ACCOUNT, conv).close_reason == "AGENT"


def test_a_manager_sees_the_accounts_open_conversations_an_agent_only_its_own() -> None:
    stage = Stage()
    stage.define(loginName="boss", role="MANAGER")
    one, two = stage.consumer(), stage.consumer()
    c1, c2 = request_conversation(one), request_conversation(two)
    elsewhere = stage.consumer(account="other")
    request_conversation(elsewhere, brandId="other")
    boss = stage.agent("boss", route=False)
    boss.ok(".ams.aam.SubscribeExConversations", {})
    [snapshot] = boss.take(EX)
    assert sorted(c["result"]["convId"] for c in snapshot["body"]["changes"]) == sorted([c1, c2])
    # a plain agent's subscription lists what it takes part in and the queue (conversations
    # without an agent): both waiting ones now; one goes when another agent takes it
    agent = stage.agent("plain")
    agent.ok(".ams.aam.SubscribeExConversations", {})
    listed = agent.take(EX)[0]["body"]["changes"]
    assert sorted(c["result"]["convId"] for c in listed) == sorted([c1, c2])
    ring, _ = rings(agent)  # each waiting conversation rings it
    agent.ok(
        ".ams.routing.UpdateRingState", {"ringId": ring["ringId"], "ringState": "ACCEPTED"}, 202
    )
    [upsert] = agent.take(EX)
    assert upsert["body"]["changes"][0]["type"] == "UPSERT"
    assert upsert["body"]["changes"][0]["result"]["convId"] == ring["convId"]
    taken = c2 if ring["convId"] == c1 else c1
    boss.ok(
        ".ams.cm.UpdateConversationField",
        {
            "conversationId": taken,
            "conversationField": [
                {"field": "ParticipantsChange", "type": "ADD", "role": "ASSIGNED_AGENT"}
            ],
        },
    )
    gone = [c for f in agent.take(EX) for c in f["body"]["changes"]]
    assert [(c["type"], c["result"]["convId"]) for c in gone] == [("DELETE", taken)]
    # another skill's queue is not listed
    stage.define(loginName="billing", skills=["9"])
    billing = stage.agent("billing", route=False)
    billing.ok(".ams.aam.SubscribeExConversations", {})
    three = stage.consumer()
    request_conversation(three, skillId="5")
    frames = billing.take(EX)
    assert frames and all(f["body"]["changes"] == [] for f in frames)


def test_an_agent_reads_its_own_the_queue_and_its_rings_not_another_agents() -> None:
    stage = Stage()
    stage.define(loginName="billing", skills=["9"])
    consumer = stage.consumer()
    conv = request_conversation(consumer, skillId="5")
    consumer.ok("ms.PublishEvent", content(conv, "first words", "ms.PublishEvent")["body"])
    rung, other = stage.agent("rung"), stage.agent("other", route=False)
    billing = stage.agent("billing", route=False)  # another skill: not its queue
    [ring] = rings(rung)
    query = {"dialogId": conv, "newerThanSequence": 0}
    # being rung, or the queue of one's skills: the consumer's first message can be read
    assert [h["event"]["message"] for h in rung.ok(".ams.ms.QueryMessages", query)] == [
        "first words"
    ]
    assert other.ok(".ams.ms.QueryMessages", query)[0]["event"]["message"] == "first words"
    denied = billing.req({"id": 1, "type": ".ams.ms.QueryMessages", "body": query})
    assert denied["code"] == 403 and "queue of its skills" in denied["body"], denied
    rung.ok(
        ".ams.routing.UpdateRingState", {"ringId": ring["ringId"], "ringState": "ACCEPTED"}, 202
    )
    # now it is rung's conversation: out of reach for the other AGENT, both reads
    for type_name in (".ams.ms.QueryMessages", ".ams.ms.SubscribeMessagingEvents"):
        refused = other.req({"id": 1, "type": type_name, "body": query})
        assert refused["code"] == 403 and "MANAGER" in refused["body"], refused


def test_an_agent_must_take_part_before_it_publishes_and_managers_join_first() -> None:
    stage = Stage()
    stage.define(loginName="boss", role="MANAGER")
    consumer = stage.consumer()
    conv = request_conversation(consumer)
    agent = stage.agent("plain", route=False)
    resp = agent.req(content(conv, "sneaky"))
    assert resp["code"] == 403 and "does not take part" in resp["body"]
    join = {
        "conversationId": conv,
        "conversationField": [{"field": "ParticipantsChange", "type": "ADD", "role": "MANAGER"}],
    }
    denied = agent.req({"id": 1, "type": ".ams.cm.UpdateConversationField", "body": join})
    assert denied["code"] == 403 and "MANAGER" in denied["body"]
    boss = stage.agent("boss", route=False)
    boss.ok(".ams.cm.UpdateConversationField", join)
    assert (
        boss.ok(".ams.ms.PublishEvent", content(conv, "welcome from bot")["body"])["sequence"] == 0
    )
    events = stage.engine.conversation(ACCOUNT, conv).main.events
    assert events[-1].role == "MANAGER"


def test_get_user_profile_answers_consumers_by_bare_id_and_the_agent_itself() -> None:
    stage = Stage()
    consumer = stage.consumer()
    consumer.ok("userprofile.SetUserProfile", {"firstName": "Ada", "lastName": "L"})
    agent = stage.agent(route=False)
    consumer_id = consumer.session.consumer_id
    got = agent.req({"id": 1, "type": ".ams.userprofile.GetUserProfile", "body": consumer_id})
    assert got["type"] == ".ams.userprofile.GetUserProfile$Response"
    assert got["body"]["firstName"] == "Ada" and got["body"]["userId"] == consumer_id
    assert agent.ok(".ams.userprofile.GetUserProfile", {}) == {"userId": agent.legacy}
    missing = agent.req({"id": 1, "type": ".ams.userprofile.GetUserProfile", "body": "nobody"})
    assert missing["code"] == 404 and "nobody" in missing["body"]


def test_agent_request_conversation_opens_a_proactive_conversation() -> None:
    stage = Stage()
    consumer = stage.consumer()
    consumer.ok("userprofile.SetUserProfile", {"firstName": "Ada"})  # a consumer the account knows
    consumer_id = consumer.session.consumer_id
    other_agent = stage.agent("other")
    agent = stage.agent("me", route=False)
    got = agent.req(
        {
            "id": 1,
            "type": ".ams.cm.AgentRequestConversation",
            "body": {
                "channelType": "MESSAGING",
                "consumerId": consumer_id,
                "conversationContext": {"type": "ProactiveContext"},
            },
        }
    )
    assert got["type"] == ".ams.cm.types.RequestConversation$Response", got
    conv = stage.engine.conversation(ACCOUNT, got["body"]["conversationId"])
    assert conv.assigned_agent() == agent.pid
    assert rings(other_agent) == []  # nothing to route: it has its agent
    unknown = agent.req(
        {"id": 2, "type": ".ams.cm.AgentRequestConversation", "body": {"consumerId": "x"}}
    )
    assert unknown["code"] == 400 and "not known" in unknown["body"]


def test_an_agent_cannot_reach_another_accounts_conversation() -> None:
    stage = Stage()
    elsewhere = stage.consumer(account="other")
    conv = request_conversation(elsewhere, brandId="other")
    agent = stage.agent(route=False)
    for frame in (
        {"id": 1, "type": ".ams.ms.QueryMessages", "body": {"dialogId": conv}},
        content(conv, "x"),
        {
            "id": 1,
            "type": ".ams.cm.UpdateConversationField",
            "body": {
                "conversationId": conv,
                "conversationField": [
                    {"field": "ConversationStateField", "conversationState": "CLOSE"}
                ],
            },
        },
    ):
        resp = agent.req(frame)
        assert resp["code"] in (400, 404) and conv in resp["body"], resp


@pytest.mark.parametrize(
    ("frame", "needle"),
    [
        ({"id": 1, "type": "cm.ConsumerRequestConversation", "body": {}}, "consumer request"),
        ({"id": 1, "type": ".ams.routing.UpdateRingState", "body": {"ringId": "x"}}, "ringState"),
        (
            {
                "id": 1,
                "type": ".ams.routing.UpdateRingState",
                "body": {"ringId": "x", "ringState": "ACCEPTED"},
            },
            "not a ring",
        ),
        (
            {"id": 1, "type": ".ams.routing.SetAgentState", "body": {"availability": 3}},
            "availability",
        ),
        (
            {"id": 1, "type": ".ams.routing.SubscribeRoutingTasks", "body": {"brandId": "other"}},
            "brandId",
        ),
        (
            {
                "id": 1,
                "type": ".ams.aam.UnsubscribeExConversations",
                "body": {"subscriptionId": "nope"},
            },
            "nope",
        ),
        ({"id": 1, "type": ".ams.routing.Nonsense", "body": {}}, "unknown request type"),
    ],
)
def test_bad_agent_requests_get_a_4xx_resp_that_says_why(
    frame: dict[str, Any], needle: str
) -> None:
    stage = Stage()
    agent = stage.agent(route=False)
    resp = agent.req(frame)
    assert 400 <= resp["code"] < 500 and needle in str(resp["body"]), resp
    assert resp["reqId"] == "1"
    assert agent.ok(".GetClock")["currentTime"]  # the socket lives on


def test_a_ring_state_other_than_accepted_or_rejected_is_refused() -> None:
    stage = Stage()
    agent = stage.agent()
    request_conversation(stage.consumer())
    [ring] = rings(agent)
    resp = agent.req(
        {
            "id": 1,
            "type": ".ams.routing.UpdateRingState",
            "body": {"ringId": ring["ringId"], "ringState": "MAYBE"},
        }
    )
    assert resp["code"] == 400 and "ACCEPTED or REJECTED" in resp["body"]


def test_files_chat_states_readers_and_dialog_changes_from_the_agent_side() -> None:
    stage = Stage()
    stage.define(loginName="boss", role="MANAGER")
    agent = stage.agent()
    consumer = stage.consumer()
    conv = _accepted(stage, agent, consumer)
    agent.take()
    up = agent.ok(".ams.ms.GenerateURLForUploadFile", {"fileSize": 5020, "fileType": "JPEG"})
    assert up["relativePath"].endswith(".JPEG")
    assert set(up["queryParams"]) == {"temp_url_sig", "temp_url_expires"}
    down = agent.ok(".ams.ms.GenerateURLForDownloadFile", {"relativePath": up["relativePath"]})
    assert down["relativePath"] == up["relativePath"]
    hosted = {
        "type": "ContentEvent",
        "contentType": "hosted/file",
        "message": {"caption": "a receipt", "relativePath": up["relativePath"], "fileType": "JPEG"},
    }
    assert agent.ok(".ams.ms.PublishEvent", {"dialogId": conv, "event": hosted})["sequence"] == 0
    [own] = agent.take(".ams.ms.OnlineEventDistribution")  # its own event comes back to it
    assert own["body"]["event"]["message"]["caption"] == "a receipt"
    # a chat state is published without a sequence and reaches the agent without one
    consumer.ok(
        "ms.PublishEvent",
        {"dialogId": conv, "event": {"type": "ChatStateEvent", "chatState": "COMPOSING"}},
    )
    [typing] = agent.take(".ams.ms.OnlineEventDistribution")
    assert "sequence" not in typing["body"] and typing["body"]["event"]["chatState"] == "COMPOSING"
    # a MANAGER adds a READER; the reader may read but not publish
    boss = stage.agent("boss", route=False)
    reader = stage.agent("reader", route=False)
    boss.ok(
        ".ams.cm.UpdateConversationField",
        {
            "conversationId": conv,
            "conversationField": [
                {
                    "field": "ParticipantsChange",
                    "type": "ADD",
                    "role": "READER",
                    "userId": reader.legacy,
                }
            ],
        },
    )
    assert (
        reader.ok(".ams.ms.QueryMessages", {"dialogId": conv})[0]["event"]["contentType"]
        == "hosted/file"
    )
    refused = reader.req(content(conv, "can I?"))
    assert refused["code"] == 403 and "READER" in refused["body"]
    # the assigned agent closes the dialog with DialogChange
    agent.ok(
        ".ams.cm.UpdateConversationField",
        {
            "conversationId": conv,
            "conversationField": [
                {
                    "field": "DialogChange",
                    "type": "UPDATE",
                    "dialog": {"dialogId": conv, "state": "CLOSE", "closedCause": "done"},
                }
            ],
        },
    )
    assert stage.engine.conversation(ACCOUNT, conv).state == "CLOSE"
