"""The agent side over HTTP and a real WebSocket: Login Service routes and cookies, the agent
public profile, the agent socket route, /_mockle/agents, login faults and --agents files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest
from aiohttp.test_utils import TestClient

from mockle.core import agents
from mockle.core.schemas import SchemaSet
from mockle.settings import ConfigError, Settings
from mockle.web.app import create_app

from .ums_client import ACC, Ws, connect, runtime

pytestmark = pytest.mark.timeout(30)
LOGIN = f"/api/account/{ACC}/login?v=1.3"


@pytest.fixture
async def client(aiohttp_client: Any) -> TestClient:
    return await aiohttp_client(create_app(Settings(port=0, agent="manual")))


async def login(client: TestClient, name: str = "alice", password: str = "pw") -> dict[str, Any]:
    r = await client.post(LOGIN, json={"username": name, "password": password})
    assert r.status == 200, await r.text()
    body: dict[str, Any] = await r.json()
    return body


async def test_login_sets_the_session_cookie_and_refresh_and_logout_use_it(
    client: TestClient,
) -> None:
    r = await client.post(LOGIN, json={"username": "alice", "password": "pw"})
    assert r.status == 200 and r.content_type == "application/json"
    body = await r.json()
    SchemaSet.default().validate("login/loginResponse.json", body)
    cookie = r.cookies["session_id"]
    assert cookie["httponly"] and cookie["path"] == "/"
    # the CSDS collection names the host the client used, like the Domain API
    services = {u["service"] for u in body["csdsCollectionResponse"]["baseURIs"]}
    assert {"agentVep", "asyncMessagingEnt", "facadeMsg", "msgHist", "acCdnDomain"} <= services
    refreshed = await client.post(f"/api/account/{ACC}/refresh?v=1.3", json={"csrf": body["csrf"]})
    assert refreshed.status == 200 and await refreshed.read() == b""
    ws = await connect(client, f"/ws_api/account/{ACC}/messaging/brand/{body['bearer']}?v=2.1")
    out = await client.post(f"/api/account/{ACC}/logout?v=1.3", json={"csrf": body["csrf"]})
    assert out.status == 200
    assert (await ws.closed())[0] == 4401
    again = await client.post(f"/api/account/{ACC}/refresh?v=1.3", json={"csrf": body["csrf"]})
    assert again.status == 401
    SchemaSet.default().validate("login/loginError.json", await again.json())


async def test_wrong_credentials_are_a_401_that_says_so(client: TestClient) -> None:
    r = await client.post(
        "/_mockle/agents", json={"account": ACC, "loginName": "bob", "password": "right"}
    )
    assert r.status == 201, await r.text()
    wrong = await client.post(LOGIN, json={"username": "bob", "password": "wrong"})
    assert wrong.status == 401
    assert "wrong password" in (await wrong.json())["error"]["message"]
    bad = await client.post(LOGIN, data=b"{nope")
    assert bad.status == 400 and (await bad.json())["error"]["internalCode"] == 30


@pytest.mark.parametrize("version", ["2", "2.1", "3"])
async def test_the_agent_socket_speaks_every_version(client: TestClient, version: str) -> None:
    body = await login(client)
    ws = await connect(
        client, f"/ws_api/account/{ACC}/messaging/brand/{body['bearer']}?v={version}"
    )
    resp = await ws.req({"kind": "req", "id": "1", "type": ".GetClock", "body": {}})
    assert resp["type"] == ".GetClock$Response" and resp["code"] == 200
    await ws.ws.close()


async def test_a_bad_bearer_or_version_is_refused(client: TestClient) -> None:
    ws = await connect(client, f"/ws_api/account/{ACC}/messaging/brand/{'0' * 64}?v=2.1")
    code, reason = await ws.closed()
    assert code == 4401 and "log in" in reason
    r = await client.get(f"/ws_api/account/{ACC}/messaging/brand/x?v=9")
    assert r.status == 400 and "v=2.1" in await r.text()


async def test_the_agent_public_profile(client: TestClient) -> None:
    r = await client.post(
        "/_mockle/agents",
        json={
            "account": ACC,
            "loginName": "carol",
            "nickname": "Carol",
            "fullName": "Carol C",
            "employeeId": "E7",
        },
    )
    pid = (await r.json())["agents"][0]["pid"]
    got = await client.get(f"/api/account/{ACC}/configuration/le-users/users/{pid}")
    assert got.status == 200
    profile = await got.json()
    SchemaSet.default().validate("login/agentProfile.json", profile)
    assert profile == {
        "pictureUrl": "",
        "employeeId": "E7",
        "nickname": "Carol",
        "fullName": "Carol C",
    }
    missing = await client.get(f"/api/account/{ACC}/configuration/le-users/users/nobody")
    assert missing.status == 404


async def test_the_simulated_agent_has_a_public_profile_once_it_acted(aiohttp_client: Any) -> None:
    client = await aiohttp_client(create_app(Settings(port=0, agent="echo", agent_delay_ms=0)))
    world = runtime(client).world
    pid = world.agent.agent_pid(ACC)
    got = await client.get(f"/api/account/{ACC}/configuration/le-users/users/{pid}")
    assert got.status == 200 and (await got.json())["nickname"] == "mockle agent"


async def test_agents_control_api(client: TestClient) -> None:
    r = await client.post(
        "/_mockle/agents",
        json=[
            {"account": ACC, "loginName": "a1", "role": "MANAGER"},
            {"account": ACC, "loginName": "a2"},
        ],
    )
    assert r.status == 201
    listed = (await (await client.get(f"/_mockle/agents?account={ACC}")).json())["agents"]
    assert {a["loginName"]: a["role"] for a in listed} == {"a1": "MANAGER", "a2": "AGENT"}
    assert all(a["availability"] == "ONLINE" and a["connected"] is False for a in listed)
    assert "password" not in orjson.dumps(listed).decode()
    bad = await client.post(
        "/_mockle/agents", json=[{"account": ACC, "loginName": "ok"}, {"account": ACC}]
    )
    assert bad.status == 400 and "$[1]" in await bad.text()
    assert "ok" not in {
        a["loginName"] for a in (await (await client.get("/_mockle/agents")).json())["agents"]
    }
    gone = await client.delete(f"/_mockle/agents/{ACC}/a2")
    assert gone.status == 200
    assert (await client.delete(f"/_mockle/agents/{ACC}/a2")).status == 404


async def test_strict_agents_refuse_strangers(aiohttp_client: Any) -> None:
    client = await aiohttp_client(create_app(Settings(port=0, agent="manual", strict_agents=True)))
    r = await client.post(LOGIN, json={"username": "stranger", "password": "x"})
    assert r.status == 401 and "--strict-agents" in (await r.json())["error"]["message"]


async def test_login_faults_and_agent_connection_closes(client: TestClient) -> None:
    f = await client.post("/_mockle/faults", json={"target": "login", "status": 503})
    assert f.status == 201, await f.text()
    r = await client.post(LOGIN, json={"username": "a", "password": "x"})
    assert r.status == 503 and "error" in await r.json()
    body = await login(client, "a")
    ws: Ws = await connect(client, f"/ws_api/account/{ACC}/messaging/brand/{body['bearer']}?v=2.1")
    closed = await client.post(
        "/_mockle/connections/close",
        json={"account": ACC, "agent_id": f"{ACC}.{body['config']['userId']}", "code": 4000},
    )
    assert (await closed.json())["closed"] == 1
    assert (await ws.closed())[0] == 4000


async def test_faults_match_an_agent_by_its_pid_at_login_and_at_socket_connect(
    client: TestClient,
) -> None:
    alice, bob = await login(client, "alice"), await login(client, "bob")
    pid = alice["config"]["userPid"]
    spec = {"close_code": 4401, "reason": "alice only", "times": 0, "match": {"agent_id": pid}}
    r = await client.post("/_mockle/faults", json={"target": "ws_connect", **spec})
    assert r.status == 201, await r.text()
    brand = f"/ws_api/account/{ACC}/messaging/brand/%s?v=2.1"
    hit: Ws = await connect(client, brand % alice["bearer"])
    assert await hit.closed() == (4401, "alice only")
    spared: Ws = await connect(client, brand % bob["bearer"])
    resp = await spared.req({"kind": "req", "id": "1", "type": ".GetClock", "body": {}})
    assert resp["code"] == 200
    await spared.ws.close()
    # a login's username names its agent, also one never seen before (its PID is stable)
    dana = agents.stable_ids(ACC, "dana")[1]
    for who in (pid, dana):
        f = {"target": "login", "status": 503, "times": 0, "match": {"agent_id": who}}
        assert (await client.post("/_mockle/faults", json=f)).status == 201
    for name in ("alice", "dana"):
        r = await client.post(LOGIN, json={"username": name, "password": "pw"})
        assert r.status == 503, name
    assert (await login(client, "bob"))["config"]["userPid"] == bob["config"]["userPid"]
    await client.delete("/_mockle/faults")
    assert (await login(client, "dana"))["config"]["userPid"] == dana


def test_an_agents_file_is_read_at_start_up(tmp_path: Path) -> None:
    path = tmp_path / "agents.yaml"
    path.write_text("agents:\n  - {account: le1, loginName: dana, skills: 5}\n")
    app = create_app(Settings(port=0, agents=[path]))
    from mockle.web.runtime import RUNTIME

    engine = app[RUNTIME].world.engine
    assert engine.accounts["le1"].logins["dana"].skills == frozenset({"5"})
    path.write_text("- {account: le1, loginNam: typo}\n")
    with pytest.raises(ConfigError, match="agents file .*loginNam"):
        create_app(Settings(port=0, agents=[path]))


async def test_the_journal_records_logins_without_secrets_and_agent_frames(
    client: TestClient,
) -> None:
    body = await login(client, "journaled", "hunter2")
    ws = await connect(client, f"/ws_api/account/{ACC}/messaging/brand/{body['bearer']}?v=2.1")
    await ws.req({"kind": "req", "id": "1", "type": ".GetClock", "body": {}})
    r = await client.get("/_mockle/requests", params={"target": "login"})
    [entry] = (await r.json())["requests"]
    assert entry["body"] == {"username": "journaled", "password": "***"} and entry["status"] == 200
    assert (
        "hunter2" not in orjson.dumps(await (await client.get("/_mockle/requests")).json()).decode()
    )
    pid = body["config"]["userPid"]
    frames = (await (await client.get("/_mockle/requests", params={"agent_id": pid})).json())[
        "requests"
    ]
    assert [f["direction"] for f in frames if f["target"] == "ws"] == ["in", "out"]
    await ws.ws.close()


async def test_stats_report_the_counts_and_evictions(aiohttp_client: Any) -> None:
    client = await aiohttp_client(
        create_app(Settings(port=0, agent="manual", max_closed_conversations=1))
    )
    engine = runtime(client).world.engine
    from mockle.core.effects import Effects

    for _ in range(3):
        info = engine.tokens.verify(engine.tokens.mint_signup(ACC, 60))
        conv = engine.request_conversation(engine.consumer(info), {"brandId": ACC}, Effects())
        engine.close(conv, "CONSUMER", Effects())
    got = await (await client.get("/_mockle/stats")).json()
    assert got["closedConversations"] == 1 and got["evictedConversations"] == 2
    assert got["maxClosedConversations"] == 1 and got["journalSize"] == 10_000
    assert got["sockets"]["sessions"] == 0
    first = next(iter(engine._evicted))[1]
    missing = await client.get(f"/_mockle/conversations/{first}")
    assert missing.status == 404 and "forgotten" in await missing.text()
