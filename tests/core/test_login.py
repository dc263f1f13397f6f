"""The Login Service and agent definitions in the core (no server)."""

from __future__ import annotations

import orjson
import pytest

from mockle.core import agents, errors
from mockle.core.closecodes import CloseCode
from mockle.core.effects import CoreConfig, Effects
from mockle.core.schemas import SchemaSet

from .agentside import ACCOUNT, BASE, Stage


def _json(**body: object) -> bytes:
    return orjson.dumps(body)


def test_the_login_answer_is_the_documented_body_with_user_pid() -> None:
    stage = Stage()
    reply = stage.world.login.login(ACCOUNT, _json(username="alice", password="x"), BASE)
    assert reply.status == 200
    SchemaSet.default().validate("login/loginResponse.json", reply.body)
    config = reply.body["config"]
    assert config["loginName"] == "alice" and config["userTypeId"] == 1
    assert reply.body["sessionTTl"] == "28800000"
    services = {
        u["service"]: u["baseURI"] for u in reply.body["csdsCollectionResponse"]["baseURIs"]
    }
    assert services["agentVep"] == BASE and services["asyncMessagingEnt"] == BASE
    assert reply.cookies["session_id"]
    # the bearer is one the token service issued, for this agent
    assert stage.engine.tokens.issued(reply.body["bearer"])


def test_ids_are_stable_per_login_name_and_account() -> None:
    one, two = Stage(), Stage()
    a = one.login("alice")["config"]
    assert two.login("alice")["config"]["userPid"] == a["userPid"]
    assert one.login("alice")["config"]["userId"] == a["userId"]
    assert one.login("bob")["config"]["userId"] != a["userId"]
    assert one.login("alice", account="other")["config"]["userPid"] != a["userPid"]


@pytest.mark.parametrize(
    ("body", "status", "needle"),
    [
        (b"{", 400, "JSON"),
        (b"[]", 400, "JSON object"),
        (_json(password="x"), 400, "username"),
        (_json(username="a", appKey="k"), 400, "secret, accessToken, accessTokenSecret"),
    ],
)
def test_bad_login_bodies_get_the_documented_error_body(
    body: bytes, status: int, needle: str
) -> None:
    stage = Stage()
    reply = stage.world.login.login(ACCOUNT, body, BASE)
    assert reply.status == status
    SchemaSet.default().validate("login/loginError.json", reply.body)
    assert needle in reply.body["error"]["message"]


def test_defined_agents_need_their_credentials_and_strict_mode_refuses_strangers() -> None:
    stage = Stage(CoreConfig(agent_mode="manual", strict_agents=True))
    stage.define(loginName="alice", password="secret", role="MANAGER")
    ok = stage.world.login.login(ACCOUNT, _json(username="alice", password="secret"), BASE)
    assert ok.status == 200 and ok.body["config"]["isAdmin"] is True
    wrong = stage.world.login.login(ACCOUNT, _json(username="alice", password="nope"), BASE)
    assert wrong.status == 401 and "wrong password" in wrong.body["error"]["message"]
    stranger = stage.world.login.login(ACCOUNT, _json(username="eve", password="x"), BASE)
    assert stranger.status == 401 and "strict-agents" in stranger.body["error"]["message"]


def test_oauth1_and_assertion_forms() -> None:
    stage = Stage()
    stage.define(loginName="app", appKey="k", secret="s", accessToken="t", accessTokenSecret="ts")
    good = {"username": "app", "appKey": "k", "secret": "s", "accessToken": "t"}
    ok = stage.world.login.login(ACCOUNT, orjson.dumps({**good, "accessTokenSecret": "ts"}), BASE)
    assert ok.status == 200
    bad = stage.world.login.login(ACCOUNT, orjson.dumps({**good, "accessTokenSecret": "x"}), BASE)
    assert bad.status == 401 and "accessTokenSecret" in bad.body["error"]["message"]
    saml = stage.world.login.login(ACCOUNT, _json(jwt="dummy", assertion="<saml/>"), BASE)
    assert saml.status == 200 and saml.body["config"]["loginName"].startswith("assertion:")


def test_refresh_extends_the_session_and_logout_closes_the_agent_socket_4401() -> None:
    stage = Stage()
    service = stage.world.login
    reply = service.login(ACCOUNT, _json(username="alice", password="x"), BASE)
    cookie, csrf = reply.cookies["session_id"], reply.body["csrf"]
    sock = stage.open_agent(reply.body["bearer"])
    assert sock.closed is None
    stage.clock.advance(8 * 3600 * 1000 - 1000)
    assert service.refresh(ACCOUNT, _json(csrf=csrf), cookie).status == 200
    stage.clock.advance(2000)  # beyond the first TTL, within the refreshed one
    assert sock.ok(".GetClock")["currentTime"] == stage.clock.now_ms()
    wrong = service.refresh(ACCOUNT, _json(csrf="x"), cookie)
    assert wrong.status == 401 and wrong.body["error"]["internalCode"] == 10
    assert service.refresh(ACCOUNT, _json(csrf=csrf), None).status == 401
    fx = Effects()
    assert service.logout(ACCOUNT, _json(csrf=csrf), cookie, fx).status == 200
    stage.deliver(fx)
    assert sock.closed is not None and sock.closed[0] == CloseCode.FRESH_TOKEN
    assert service.refresh(ACCOUNT, _json(csrf=csrf), cookie).status == 401


def test_an_expired_session_closes_the_socket_and_refuses_refresh() -> None:
    stage = Stage(CoreConfig(agent_mode="manual", agent_session_ttl_s=60))
    reply = stage.world.login.login(ACCOUNT, _json(username="a", password="x"), BASE)
    sock = stage.open_agent(reply.body["bearer"])
    stage.clock.advance(61_000)
    stage.deliver(stage.world.ums.check_expiry(sock.session))
    assert sock.closed is not None and sock.closed[0] == CloseCode.FRESH_TOKEN
    refused = stage.world.login.refresh(
        ACCOUNT, _json(csrf=reply.body["csrf"]), reply.cookies["session_id"]
    )
    assert refused.status == 401 and "expired" in refused.body["error"]["message"]


@pytest.mark.parametrize("kind", ["garbage", "consumer", "other-account"])
def test_the_agent_socket_takes_only_a_bearer_mockle_issued_for_the_account(kind: str) -> None:
    stage = Stage()
    if kind == "garbage":
        bearer = "0" * 64
    elif kind == "consumer":
        bearer = stage.engine.tokens.mint_signup(ACCOUNT, 60)
    else:
        bearer = stage.login("a", account="other")["bearer"]
    sock = stage.open_agent(bearer)
    assert sock.closed is not None and sock.closed[0] == CloseCode.FRESH_TOKEN


def test_agent_definitions_validate_and_survive_a_reset() -> None:
    doc = {"account": ACCOUNT, "loginName": "alice", "skills": "sales", "maxConversations": 2}
    stage = Stage(CoreConfig(agent_mode="manual", agent_definitions=(doc,)))
    alice = agents.by_login(stage.engine, ACCOUNT, "alice")
    assert alice is not None and alice.skills == frozenset({"sales"}) and alice.defined
    stage.world.reset(ACCOUNT)
    again = agents.by_login(stage.engine, ACCOUNT, "alice")
    assert again is not None and again.pid == alice.pid
    with pytest.raises(errors.InvalidRequest, match="BOSS") as bad_role:
        agents.define(stage.engine, {"account": ACCOUNT, "loginName": "x", "role": "BOSS"})
    assert bad_role.value.where == "$.role"
    with pytest.raises(errors.InvalidRequest, match="nickName"):
        agents.define(stage.engine, {"account": ACCOUNT, "loginName": "x", "nickName": "typo"})
    assert agents.definitions({"agents": [doc]}) == [doc]
