"""``mockle.client`` playing an agent over the real agent socket (Login Service login, the agent
UMS WebSocket) against a listening mockle, with a consumer of the same client on the Connector
API: rings, accepting, history, answering, reading, transfers, closing; sync, async and TLS."""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import pytest

from mockle.client import (
    AgentRequestError,
    AgentSocketClosed,
    AsyncAgentSocket,
    AsyncMockleClient,
    MockleClientError,
    WaitTimeout,
)
from mockle.pytest_plugin import MockleHandle
from mockle.server import MockleServer
from mockle.settings import Settings

pytestmark = pytest.mark.timeout(30)
pytest_plugins = ["pytester"]


async def _hold_a_conversation(m: AsyncMockleClient, agent: AsyncAgentSocket) -> str:
    """A consumer opens a conversation; the agent is rung, accepts, reads, answers, closes."""
    assert await agent.set_state("ONLINE") == "Agent state updated successfully"
    await agent.subscribe_routing()
    sub = await agent.subscribe_conversations(agent_ids=[agent.legacy_id], conv_state=["OPEN"])
    assert sub

    alice = await m.consumer("alice")
    conv = await m.open_conversation(alice)
    assert await m.send_text(alice, conv, "hello, anyone there?") == 0

    ring = await agent.wait_for_ring(conversation_id=conv)
    assert ring["ringState"] == "WAITING" and ring["consumerId"] == alice.consumer_id
    assert await agent.accept(ring) == "Ring state updated successfully"
    assert (await agent.wait_for_ring(conversation_id=conv, state="ACCEPTED"))["taskCompleted"]
    joined = await agent.wait_for_conversation(conv)
    details = joined["result"]["conversationDetails"]
    assert details["participantsPId"]["ASSIGNED_AGENT"] == [agent.pid]
    assert details["participants"]["ASSIGNED_AGENT"] == [agent.legacy_id]
    assert agent.conversations[conv]["conversationDetails"]["state"] == "OPEN"

    # the consumer's earlier message, through QueryMessages
    history = await agent.messages(conv)
    assert [h["event"]["message"] for h in history] == ["hello, anyone there?"]
    assert history[0]["originatorMetadata"]["role"] == "CONSUMER"
    assert await agent.read(conv, 0) == 1
    await agent.typing(conv)
    assert await agent.say(conv, "hi, I am the bot") == 2

    # the consumer sees the answer; the agent its own event, with its ids
    seen = await m.wait_for_text(conv, "hi, I am the bot")
    assert seen["originatorMetadata"] == {"id": agent.pid, "role": "ASSIGNED_AGENT"}
    mine = await agent.wait_for_text(conv, "hi, I am the bot")
    assert mine["originatorId"] == agent.legacy_id and mine["originatorPId"] == agent.pid

    # a live message of the consumer reaches the agent
    await m.send_text(alice, conv, "please close it")
    live = await agent.wait_for_text(conv, "please close it")
    assert live["sequence"] == 3 and live["originatorMetadata"]["role"] == "CONSUMER"
    assert (await agent.profile(alice.consumer_id))["userId"] == alice.consumer_id

    assert await agent.close_conversation(conv) == "OK Conversation resolved successfully"
    await agent.wait_for_conversation(conv, change="DELETE")
    assert conv not in agent.conversations
    snap = await m.wait_for_conversation(conv, lambda s: s["state"] == "CLOSE")
    assert snap["state"] == "CLOSE"
    assert (await m.conversation(conv))["closeReason"] == "AGENT"
    return conv


async def test_an_agent_on_the_socket_holds_a_conversation_with_a_consumer() -> None:
    # the echo agent is on: it leaves the conversation to the logged-in, routed agent
    async with MockleServer(Settings(port=0, agent="echo", agent_delay_ms=0)) as server:
        async with AsyncMockleClient(server.url) as m:
            defined = await m.define_agent("bot", password="s3cret", nickname="Bot")
            assert defined["nickname"] == "Bot" and defined["role"] == "AGENT"
            async with m.agent_socket("bot", "s3cret") as agent:
                assert agent.pid == defined["pid"] and agent.legacy_id == defined["legacyId"]
                conv = await _hold_a_conversation(m, agent)
            assert agent.closed
            events = (await m.events(conv))["events"]
            assert not [e for e in events if str(e["event"].get("message", "")).startswith("echo")]
            with pytest.raises(MockleClientError) as info:  # a defined agent's password counts
                await m.agent_socket("bot", "wrong").open()
            assert info.value.status == 401 and "wrong password" in str(info.value)


async def test_over_tls_the_agent_socket_is_wss_verified_with_the_ca(tmp_path: Path) -> None:
    settings = Settings(port=0, agent="manual", tls=True, tls_dir=tmp_path / "tls")
    async with MockleServer(settings) as server:
        assert server.url.startswith("https://")
        async with AsyncMockleClient(server.url, ca_file=server.ca_file) as m:
            async with m.agent_socket("tls-bot") as agent:
                await _hold_a_conversation(m, agent)
        async with AsyncMockleClient(server.url) as untrusting:  # the system's roots only
            with pytest.raises(Exception, match="CERTIFICATE_VERIFY_FAILED"):
                await untrusting.agent_socket("tls-bot").open()


async def test_request_errors_carry_the_code_and_mockles_message() -> None:
    async with MockleServer(Settings(port=0, agent="manual")) as server:
        async with AsyncMockleClient(server.url) as m:
            async with m.agent_socket("plain") as agent:
                alice = await m.consumer("alice")
                conv = await m.open_conversation(alice)
                with pytest.raises(AgentRequestError) as info:
                    await agent.say(conv, "not mine")
                err = info.value
                assert err.code == 403 and err.status == 403
                assert err.type == ".ams.ms.PublishEvent" and "does not take part" in err.body
                assert (
                    "-> 403: $.body.dialogId: agent " in str(err)
                    and err.resp["reqId"] == err.req_id
                )
                with pytest.raises(AgentRequestError) as info:
                    await agent.accept("no-such-ring")
                assert info.value.code == 404 and "no-such-ring" in str(info.value)
                with pytest.raises(AgentRequestError) as info:  # joining needs MANAGER
                    await agent.join(conv)
                assert info.value.code == 403 and "MANAGER" in info.value.body
                with pytest.raises(AgentRequestError) as info:
                    await agent.request(".ams.nope.Nothing", {})
                assert info.value.code == 400 and "unknown request type" in info.value.body
                # a whole resp, without raising
                resp = await agent.send({"type": ".GetClock", "body": {}, "id": "own"})
                assert resp["reqId"] == "own" and resp["code"] == 200
                with pytest.raises(WaitTimeout) as timed_out:
                    await agent.wait_for_ring(timeout=0.1)
                assert "no WAITING ring within 0.1 s" in str(timed_out.value)


async def test_a_kicked_agent_sees_the_close_logs_in_again_and_keeps_its_conversation() -> None:
    async with MockleServer(Settings(port=0, agent="manual")) as server:
        async with AsyncMockleClient(server.url) as m:
            agent = m.agent_socket("kicked")
            async with agent:
                await agent.subscribe_routing()
                alice = await m.consumer("alice")
                conv = await m.open_conversation(alice)
                await agent.accept(await agent.wait_for_ring())
                pid = agent.pid
                assert await m.expire_tokens(account=m.account) >= 1
                assert await agent.wait_closed() == 4401
                assert "log in again" in agent.close_reason
                with pytest.raises(AgentSocketClosed) as info:
                    await agent.say(conv, "into the void")
                assert info.value.code == 4401
                with pytest.raises(AgentSocketClosed):
                    await agent.wait_for_event(conv)
                await agent.open()  # a new login, a new socket
                assert agent.pid == pid and not agent.closed
                assert await agent.say(conv, "back again") == 0
                assert (await m.wait_for_text(conv, "back again"))["originatorId"] == pid
                await agent.refresh()  # the login session's cookie and csrf
                await agent.logout()
                assert await agent.wait_closed() == 4401
                with pytest.raises(MockleClientError) as gone:
                    await agent.refresh()
                assert gone.value.status == 401


async def test_a_manager_joins_and_transfers_to_a_skill_and_another_agent_is_rung() -> None:
    async with MockleServer(Settings(port=0, agent="manual")) as server:
        async with AsyncMockleClient(server.url) as m:
            await m.define_agent("boss", role="MANAGER")
            await m.define_agent("sales", skills=["7"], max_conversations=1)
            async with m.agent_socket("boss") as boss, m.agent_socket("sales") as sales:
                alice = await m.consumer("alice")
                conv = await m.open_conversation(alice)  # nobody is routed yet: it waits
                assert await boss.join(conv) == "OK Agent added successfully"
                assert await boss.say(conv, "a manager here") == 0
                moved = await boss.transfer(conv, 7, leave=False)
                assert moved == "OK Conversation updated successfully"
                await sales.subscribe_routing()
                await sales.set_state("ONLINE")
                ring = await sales.wait_for_ring(conversation_id=conv)
                assert ring["skillId"] == "7"
                await sales.reject(ring)
                assert (await sales.wait_for_ring(state="REJECTED"))["ringId"] == ring["ringId"]
                listed = {a["loginName"]: a for a in await m.agents()}
                assert listed["sales"]["connected"] and listed["sales"]["skills"] == ["7"]
                await m.delete_agent("boss")
                assert "boss" not in {a["loginName"] for a in await m.agents()}


def test_the_sync_agent_socket_takes_a_ring_after_another_rejects_it(
    mockle: MockleHandle,
) -> None:
    m = mockle.client
    with m.agent_socket("first") as first, m.agent_socket("second") as second:
        first.subscribe_routing()
        alice = m.consumer("alice")
        conv = m.open_conversation(alice)
        m.send_text(alice, conv, "hi")
        ring = first.wait_for_ring(conversation_id=conv)
        first.reject(ring["ringId"])
        second.subscribe_routing()  # subscribing late still rings: the task waited
        taken = second.wait_for_ring(conversation_id=conv)
        assert taken["ringId"] != ring["ringId"]
        second.accept(taken)
        assert [e["event"]["message"] for e in second.messages(conv)] == ["hi"]
        assert second.say(conv, "hello from second") == 1
        assert m.wait_for_text(conv, "hello from second")["originatorId"] == second.pid
        frame = second.wait_for_notification(
            ".ams.routing.RoutingTaskNotification", lambda f: bool(f["body"]["changes"])
        )
        assert frame["body"]["changes"][0]["result"]["ringsDetails"][0]["ringState"] == "WAITING"
        second.close_conversation(conv)
    assert first.closed and second.closed


def test_an_agent_socket_left_open_is_closed_with_its_client_without_warnings(
    mockle: MockleHandle,
) -> None:
    from mockle.client import MockleClient

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        m = MockleClient(mockle.url, account=mockle.account)
        agent = m.agent_socket("forgetful").open()
        assert agent.get_clock() > 0
        m.close()  # the socket is closed first, then the session
        assert agent.closed


def test_the_docs_agent_socket_example_passes(pytester: pytest.Pytester) -> None:
    docs = Path(__file__).resolve().parents[2] / "docs" / "testing.md"
    heading = "## Playing the agent over the agent socket"
    section = docs.read_text().split(heading, 1)[1].split("\n## ", 1)[0]
    match = re.search(r"```python\n(.*?)```", section, re.S)
    assert match, "docs/testing.md lost its agent socket example"
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    pytester.makepyfile(test_docs_agent=match.group(1))
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", "-q")
    result.assert_outcomes(passed=1)
