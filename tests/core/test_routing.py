"""Routing and rings in the core: who is rung, when, and what the agent sees."""

from __future__ import annotations

from mockle.core.effects import CoreConfig
from mockle.core.schemas import SchemaSet

from .agentside import RING, Stage, content, request_conversation, rings

STATE = ".ams.routing.AgentStateNotification"


def _accept(agent, ring_id: str) -> None:  # type: ignore[no-untyped-def]
    resp = agent.req(
        {
            "id": 9,
            "type": ".ams.routing.UpdateRingState",
            "body": {"ringId": ring_id, "ringState": "ACCEPTED"},
        }
    )
    assert resp == {
        "kind": "resp",
        "reqId": "9",
        "code": 202,
        "body": "Ring state updated successfully",
        "type": ".ReqBody$StringResp",
    }


def test_subscribe_answers_generic_subscribe_then_an_empty_first_notification() -> None:
    stage = Stage()
    agent = stage.agent(route=False)
    got = agent.send(
        {
            "kind": "req",
            "id": "4",
            "type": ".ams.routing.SubscribeRoutingTasks",
            "body": {
                "brandId": stage.world.engine.account("le12345678").account_id,
                "channelType": "MESSAGING",
            },
        }
    )
    assert got[0]["type"] == ".ams.GenericSubscribe$Response" and got[0]["code"] == 200
    sub_id = got[0]["body"]["subscriptionId"]
    assert got[1] == {
        "kind": "notification",
        "type": RING,
        "body": {"subscriptionId": sub_id, "changes": []},
    }


def test_a_new_conversation_rings_an_online_agent_who_accepts_it() -> None:
    stage = Stage()
    agent = stage.agent()
    consumer = stage.consumer()
    conv = request_conversation(consumer)
    [ring] = rings(agent)
    assert ring["ringState"] == "WAITING" and ring["convId"] == conv
    assert ring["ringId"].startswith(f"{conv}_le12345678_")
    assert ring["ringExpiration"] == 60_000 and ring["taskCompleted"] is False
    _accept(agent, ring["ringId"])
    [done] = rings(agent)
    assert done["ringState"] == "ACCEPTED" and done["taskCompleted"] is True
    assert stage.engine.conversation("le12345678", conv).assigned_agent() == agent.pid


def test_a_rejected_ring_goes_to_the_next_agent_and_not_back() -> None:
    stage = Stage()
    first, second = stage.agent("a"), stage.agent("b")
    request_conversation(stage.consumer())
    [ring] = rings(first)
    assert rings(second) == []
    first.ok(
        ".ams.routing.UpdateRingState", {"ringId": ring["ringId"], "ringState": "REJECTED"}, 202
    )
    assert [r["ringState"] for r in rings(first)] == ["REJECTED"]
    [other] = rings(second)
    second.ok(
        ".ams.routing.UpdateRingState", {"ringId": other["ringId"], "ringState": "REJECTED"}, 202
    )
    assert rings(first) == []  # both declined: the task waits
    # a declined ring cannot be answered again
    resp = first.req(
        {
            "id": 1,
            "type": ".ams.routing.UpdateRingState",
            "body": {"ringId": ring["ringId"], "ringState": "ACCEPTED"},
        }
    )
    assert resp["code"] == 400 and "REJECTED" in resp["body"]


def test_an_expired_ring_rings_the_next_agent() -> None:
    stage = Stage(CoreConfig(agent_mode="manual", ring_timeout_ms=5_000))
    first, second = stage.agent("a"), stage.agent("b")
    request_conversation(stage.consumer())
    [ring] = rings(first)
    assert ring["ringExpiration"] == 5_000
    stage.advance(4_999)
    assert rings(second) == []
    stage.advance(1)
    assert [r["ringState"] for r in rings(first)] == ["EXPIRED"]
    assert [r["ringState"] for r in rings(second)] == ["WAITING"]


def test_only_online_agents_with_the_skill_and_room_are_rung() -> None:
    stage = Stage()
    stage.define(loginName="sales", skills=["7"], maxConversations=1)
    away, sales = stage.agent("away"), stage.agent("sales")
    away.ok(".ams.routing.SetAgentState", {"availability": "AWAY"}, 202)
    consumer = stage.consumer()
    conv = request_conversation(consumer, skillId="7")
    assert rings(away) == []
    [ring] = rings(sales)
    _accept(sales, ring["ringId"])
    rings(sales)
    # a second conversation on the skill: sales is full, away is away: nobody is rung
    other = stage.consumer()
    request_conversation(other, skillId="7")
    assert rings(sales) == [] and rings(away) == []
    # the first conversation closes: sales has room again and is rung
    consumer.ok(
        "cm.UpdateConversationField",
        {
            "conversationId": conv,
            "conversationField": [
                {"field": "ConversationStateField", "conversationState": "CLOSE"}
            ],
        },
    )
    assert [r["ringState"] for r in rings(sales)] == ["WAITING"]
    # coming ONLINE makes an agent eligible
    away.ok(".ams.routing.SetAgentState", {"availability": "ONLINE"}, 202)
    assert rings(away) == []  # the task already rings sales


def test_going_away_or_closing_the_socket_moves_the_ring_on() -> None:
    stage = Stage()
    first, second = stage.agent("a"), stage.agent("b")
    request_conversation(stage.consumer())
    [ring] = rings(first)
    first.ok(".ams.routing.SetAgentState", {"availability": "AWAY"}, 202)
    assert [r["ringState"] for r in rings(first)] == ["CANCELLED"]
    [moved] = rings(second)
    stage.close(second)
    third = stage.agent("c")
    assert [r["ringState"] for r in rings(third)] == ["WAITING"]
    assert moved["ringId"] != ring["ringId"]


def test_waiting_rings_are_in_the_first_notification_of_a_new_subscription() -> None:
    stage = Stage()
    agent = stage.agent()
    request_conversation(stage.consumer())
    [ring] = rings(agent)
    again = stage.open_agent(agent.login["bearer"])
    again.req({"id": 1, "type": ".ams.routing.SubscribeRoutingTasks", "body": {}})
    [first] = again.take(RING)
    assert first["body"]["changes"][0]["result"]["ringsDetails"][0]["ringId"] == ring["ringId"]


def test_transfers_ring_again() -> None:
    stage = Stage()
    stage.define(loginName="billing", skills=["9"])
    agent, billing = stage.agent("a"), stage.agent("billing")
    consumer = stage.consumer()
    conv = request_conversation(consumer)
    [ring] = rings(agent)
    _accept(agent, ring["ringId"])
    rings(agent)
    rings(billing)
    # back to the queue of skill 9: only billing has it besides the all-skills agent
    agent.ok(
        ".ams.cm.UpdateConversationField",
        {
            "conversationId": conv,
            "conversationField": [
                {"field": "ParticipantsChange", "type": "REMOVE", "role": "ASSIGNED_AGENT"},
                {"field": "Skill", "type": "UPDATE", "skill": "9"},
            ],
        },
    )
    # the least busy eligible agent is rung: both hold nothing now, billing subscribed later
    # than the all-skills agent, so the all-skills agent is rung first
    assert [(r["skillId"], r["ringState"]) for r in rings(agent)] == [("9", "WAITING")]
    assert rings(billing) == []


def test_a_transfer_to_an_agent_rings_that_agent_only() -> None:
    stage = Stage()
    a, b, c = stage.agent("a"), stage.agent("b"), stage.agent("c")
    conv = request_conversation(stage.consumer())
    [ring] = rings(a)
    _accept(a, ring["ringId"])
    rings(a)
    a.ok(
        ".ams.cm.UpdateConversationField",
        {
            "conversationId": conv,
            "conversationField": [
                {
                    "field": "ParticipantsChange",
                    "type": "SUGGEST",
                    "userId": c.legacy,
                    "role": "ASSIGNED_AGENT",
                }
            ],
        },
    )
    assert rings(b) == []
    [suggested] = rings(c)
    _accept(c, suggested["ringId"])
    assert stage.engine.conversation("le12345678", conv).assigned_agent() == c.pid


def test_agent_state_subscriptions_see_every_change() -> None:
    stage = Stage()
    watcher, other = stage.agent("w"), stage.agent("o")
    got = watcher.send(
        {"id": 1, "type": ".ams.routing.SubscribeAgentsState", "body": {"agentId": other.legacy}}
    )
    assert got[0]["type"] == ".ams.GenericSubscribe$Response"
    SchemaSet.default().validate("routing/agentStateNotification.json", got[1])
    assert got[1]["body"]["changes"][0]["result"]["availability"] == "ONLINE"
    other.ok(
        ".ams.routing.SetAgentState", {"availability": "AWAY", "agentUserId": other.legacy}, 202
    )
    [change] = watcher.take(STATE)
    assert change["body"]["changes"][0]["result"] == {
        "channels": ["MESSAGING"],
        "availability": "AWAY",
        "description": "",
        "agentUserId": other.legacy,
    }
    resp = watcher.req(
        {"id": 1, "type": ".ams.routing.SubscribeAgentsState", "body": {"agentId": "le12345678.1"}}
    )
    assert resp["code"] == 400 and "Agent does not exist" in resp["body"]


def test_an_agent_may_not_set_another_agents_state() -> None:
    stage = Stage()
    a, b = stage.agent("a"), stage.agent("b")
    resp = a.req(
        {
            "id": 1,
            "type": ".ams.routing.SetAgentState",
            "body": {"availability": "AWAY", "agentUserId": b.legacy},
        }
    )
    assert resp["code"] == 403 and "acts for itself" in resp["body"]


def test_the_simulated_agent_answers_only_what_no_real_agent_could_take() -> None:
    stage = Stage(CoreConfig(agent_mode="echo", agent_delay_ms=10))
    consumer = stage.consumer()
    conv = request_conversation(consumer)
    consumer.ok("ms.PublishEvent", content(conv, "nobody here", "ms.PublishEvent")["body"])
    stage.advance(1_000)
    texts = [
        c["event"].get("message")
        for f in consumer.take("ms.MessagingEventNotification")
        for c in f["body"]["changes"]
    ]
    assert texts == []  # the consumer did not subscribe: look at the state instead
    events = [
        e.change["event"].get("message")
        for e in stage.engine.conversation("le12345678", conv).main.events
    ]
    assert "echo: nobody here" in events
    # with a routable ONLINE agent, a new conversation is left to it
    agent = stage.agent()
    other = stage.consumer()
    conv2 = request_conversation(other)
    other.ok("ms.PublishEvent", content(conv2, "hello", "ms.PublishEvent")["body"])
    stage.advance(1_000)
    events2 = [
        e.change["event"].get("message")
        for e in stage.engine.conversation("le12345678", conv2).main.events
    ]
    assert events2 == ["hello"]
    [ring] = rings(agent)
    _accept(agent, ring["ringId"])
    other.ok("ms.PublishEvent", content(conv2, "still there?", "ms.PublishEvent")["body"])
    stage.advance(1_000)
    events2 = [
        e.change["event"].get("message")
        for e in stage.engine.conversation("le12345678", conv2).main.events
    ]
    assert not any(str(m).startswith("echo:") for m in events2)


def test_reset_forgets_tasks_and_rings() -> None:
    stage = Stage()
    agent = stage.agent()
    request_conversation(stage.consumer())
    assert rings(agent)
    stage.world.reset("le12345678")
    assert stage.world.routing.tasks("le12345678") == []
    stage.advance(120_000)  # the ring's expiry finds nothing
    assert rings(agent) == []


def test_answering_a_ring_of_a_completed_task_says_its_state() -> None:
    """An SDK retrying its accept, or a bot accepting after the consumer closed: a 400 that
    says the ring is no longer WAITING (docs/fidelity.md), not a 404 "not a ring of this
    agent"; another agent asking about it still gets the 404."""
    stage = Stage()
    agent, other = stage.agent("a"), stage.agent("b", route=False)
    consumer = stage.consumer()
    conv = request_conversation(consumer)
    [ring] = rings(agent)
    _accept(agent, ring["ringId"])
    again = {"ringId": ring["ringId"], "ringState": "ACCEPTED"}
    resp = agent.req({"id": 1, "type": ".ams.routing.UpdateRingState", "body": again})
    assert resp["code"] == 400 and "is ACCEPTED, no longer WAITING" in resp["body"], resp
    resp = other.req({"id": 1, "type": ".ams.routing.UpdateRingState", "body": again})
    assert resp["code"] == 404 and "not a ring of this agent" in resp["body"], resp

    assert stage.engine.conversation("le12345678", conv).assigned_agent() == agent.pid
    bob = stage.consumer()
    request_conversation(bob)
    [waiting] = [r for r in rings(agent) if r["ringState"] == "WAITING"]
    bob.ok(
        "cm.UpdateConversationField",
        {
            "conversationId": waiting["convId"],
            "conversationField": [
                {"field": "ConversationStateField", "conversationState": "CLOSE"}
            ],
        },
    )
    assert [r["ringState"] for r in rings(agent)] == ["CANCELLED"]
    late = {"ringId": waiting["ringId"], "ringState": "ACCEPTED"}
    resp = agent.req({"id": 2, "type": ".ams.routing.UpdateRingState", "body": late})
    assert resp["code"] == 400 and "is CANCELLED, no longer WAITING" in resp["body"], resp
    stage.world.reset("le12345678")
    assert stage.world.routing._finished == {}
