"""The fault plan without a server: specs, matching, times, probability, per-account state."""

from __future__ import annotations

from typing import Any

import pytest

from mockle.core import errors
from mockle.core.faults import TARGETS, FaultPlan, default_body


def test_add_validates_and_lists_as_created_with_id_and_fired() -> None:
    plan = FaultPlan()
    spec = {"target": "send", "status": 503, "match": {"account": "a"}}
    fault = plan.add(spec)
    assert [f.as_json() for f in plan.faults()] == [
        {"id": fault.id, **spec, "fired": 0, "active": True}
    ]
    assert plan.match("send", account="a") is fault
    assert plan.faults()[0].as_json()["fired"] == 1


@pytest.mark.parametrize(
    ("spec", "where", "words"),
    [
        ({"target": "nope", "status": 500}, "$.target", "unknown target"),
        ({"target": "send"}, "$", "needs an action"),
        ({"target": "send", "status": 500, "drop": True}, "$", "choose one"),
        ({"target": "send", "close_code": 4401}, "$", "WebSocket targets"),
        ({"target": "send", "status": 99}, "$.status", "greater than or equal"),
        ({"target": "send", "status": 500, "stauts": 1}, "$.stauts", "unknown field"),
        ({"target": "send", "body": {}, "delay_ms": 5}, "$", "go with a status"),
        ({"target": "send", "status": 500, "times": -1}, "$.times", "greater than"),
        ({"target": "send", "status": 500, "probability": 2}, "$.probability", "less than"),
        ({"target": "send", "status": 500, "seed": 3}, "$", "seed goes with probability"),
        ({"target": "send", "status": 500, "match": {"acount": "x"}}, "$.match.acount", "unknown"),
        ([], "$", "JSON object"),
    ],
)
def test_bad_specs_are_refused_with_what_and_where(spec: Any, where: str, words: str) -> None:
    with pytest.raises(errors.InvalidRequest) as info:
        FaultPlan().add(spec)
    assert info.value.where == where
    assert words in info.value.details


@pytest.mark.parametrize("target", TARGETS)
def test_every_target_is_accepted_and_star_matches_every_target(target: str) -> None:
    plan = FaultPlan()
    action: dict[str, Any] = (
        {"close_code": 4401} if target in ("ws_connect", "ws_request") else {"status": 500}
    )
    plan.add({"target": target, **action})
    probe = "send" if target == "*" else target
    assert plan.match(probe, account="a") is not None


def test_times_default_one_then_spent_but_still_listed() -> None:
    plan = FaultPlan()
    f = plan.add({"target": "send", "status": 500})
    assert plan.match("send", account="a") is f
    assert plan.match("send", account="a") is None
    assert not plan  # nothing armed: the hot path is one test
    assert f.as_json()["fired"] == 1 and f.as_json()["active"] is False


def test_times_n_and_zero_means_until_deleted() -> None:
    plan = FaultPlan()
    f = plan.add({"target": "send", "status": 500, "times": 3})
    assert [plan.match("send", account="a") is f for _ in range(4)] == [True, True, True, False]
    g = plan.add({"target": "idp", "delay_ms": 1, "times": 0})
    assert all(plan.match("idp", account="a") is g for _ in range(50))
    plan.delete(g.id)
    assert plan.match("idp", account="a") is None
    with pytest.raises(errors.NotFound):
        plan.delete(g.id)


def test_first_matching_fault_in_creation_order_wins_and_specific_target_before_star() -> None:
    plan = FaultPlan()
    star = plan.add({"target": "*", "status": 502})
    first = plan.add({"target": "send", "status": 500})
    plan.add({"target": "send", "status": 501})
    assert plan.match("send", account="a") is first
    assert plan.match("conversation", account="a") is star


def test_match_keys_account_consumer_conversation() -> None:
    plan = FaultPlan()
    plan.add({"target": "send", "status": 500, "times": 0, "match": {"account": "A"}})
    assert plan.match("send", account="B") is None
    assert plan.match("send", account="A") is not None
    plan.clear()
    f = plan.add(
        {
            "target": "send",
            "status": 500,
            "times": 0,
            "match": {"consumer_id": "c1", "conversation_id": "v1"},
        }
    )
    assert plan.match("send", account="A", consumer_id="c1") is None
    assert plan.match("send", account="A", consumer_id="c2", conversation_id="v1") is None
    assert plan.match("send", account="A", consumer_id="c1", conversation_id="v1") is f


@pytest.mark.parametrize(
    ("fault_type", "request_type", "hit"),
    [
        ("ms.PublishEvent", ".ams.ms.PublishEvent", True),
        (".ams.ms.PublishEvent", "ms.PublishEvent", True),
        ("cqm.SubscribeExConversations", ".ams.aam.SubscribeExConversations", True),
        ("ms.PublishEvent", "cm.UpdateConversationField", False),
        ("GetClock", ".GetClock", True),
        ("x.Unknown", "x.Unknown", True),
        ("x.Unknown", "y.Unknown", False),
    ],
)
def test_type_matches_the_operation_in_any_dialect(
    fault_type: str, request_type: str, hit: bool
) -> None:
    plan = FaultPlan()
    plan.add({"target": "ws_request", "status": 500, "match": {"type": fault_type}})
    assert (plan.match("ws_request", account="a", type=request_type) is not None) is hit


def test_a_batch_matches_when_any_of_its_requests_does() -> None:
    plan = FaultPlan()
    plan.add({"target": "conversation", "status": 500, "match": {"type": "ms.PublishEvent"}})
    batch = ["userprofile.SetUserProfile", "cm.ConsumerRequestConversation"]
    assert plan.match("conversation", account="a", type=batch) is None
    assert plan.match("conversation", account="a", type=[*batch, "ms.PublishEvent"]) is not None
    assert plan.match("conversation", account="a") is None  # no type known: no match


def test_probability_with_seed_is_reproducible() -> None:
    def run() -> list[bool]:
        plan = FaultPlan()
        plan.add({"target": "send", "status": 500, "times": 0, "probability": 0.3, "seed": 42})
        return [plan.match("send", account="a") is not None for _ in range(200)]

    first = run()
    assert first == run()
    assert 30 < sum(first) < 90  # about 30 %


def test_clear_and_listing_per_account_keep_tenants_apart() -> None:
    plan = FaultPlan()
    plan.add({"target": "send", "status": 500, "match": {"account": "A"}})
    plan.add({"target": "send", "status": 500, "match": {"account": "B"}})
    assert len(plan.faults("A")) == 1
    assert plan.clear("A") == 1
    assert [f.account for f in plan.faults()] == ["B"]
    assert plan.match("send", account="A") is None
    assert plan.match("send", account="B") is not None


def test_armed_is_per_target_and_account() -> None:
    plan = FaultPlan()
    assert not plan.armed("send", "A")
    plan.add({"target": "send", "status": 500, "match": {"account": "A"}})
    assert plan.armed("send", "A")
    assert not plan.armed("send", "B")
    assert not plan.armed("idp", "A")


def test_default_bodies_are_the_documented_envelopes() -> None:
    plan = FaultPlan()
    f401 = plan.add({"target": "send", "status": 401})
    status, body, headers = f401.rest_response("send")
    assert status == 401 and headers == {}
    assert body["type"] == ".ReqBody$ErrorResp" and body["body"]["errorCode"] == 40102
    f429 = plan.add({"target": "conversation", "status": 429})
    status, body, headers = f429.rest_response("conversation")
    assert headers == {"Retry-After": "1"} and body["code"] == 429
    custom = plan.add({"target": "send", "status": 429, "headers": {"retry-after": "7"}})
    assert custom.rest_response("send")[2] == {"retry-after": "7"}
    assert default_body("sentinel", 401)["error"] == "invalid_client"
    assert default_body("send", 204) == {}
    given = plan.add({"target": "send", "status": 400, "body": "plain"})
    assert given.rest_response("send")[1] == "plain"
    assert plan.add({"target": "ws_request", "status": 503}).ws_body().startswith("Service")


def test_account_and_global_faults_keep_creation_order() -> None:
    plan = FaultPlan()
    first = plan.add({"target": "send", "status": 500})
    mine = plan.add({"target": "send", "status": 501, "match": {"account": "A"}})
    assert plan.match("send", account="A") is first
    assert plan.match("send", account="A") is mine
    assert plan.match("send", account="A") is None


def test_other_tenants_faults_are_not_even_looked_at() -> None:
    plan = FaultPlan()
    for i in range(50):
        plan.add({"target": "send", "status": 500, "match": {"account": f"other{i}"}})
    assert plan and not plan.armed("send", "mine")
    assert plan.match("send", account="mine") is None
    assert plan.armed("send", "other3")
