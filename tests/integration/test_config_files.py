"""Configuration files of `mockle serve`: --agent-script and --app, good and bad."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from mockle.server import MockleServer
from mockle.settings import Settings

from .test_webhook_delivery import ACC, CQM, SECRET, Consumer
from .webhook_receiver import Receiver

SCRIPT = """
rules:
  - match: "(?i)\\\\bbye\\\\b"
    typing: false
    reply: "Goodbye, {text}"
    close: true
"""


def serve(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mockle", "serve", "--port", "0", *args],
        capture_output=True,
        text=True,
        timeout=30,
    )


@pytest.mark.parametrize(
    ("flag", "content", "words"),
    [
        ("--agent-script", "rules:\n  - match: '('\n", "$.rules[0].match"),
        ("--app", json.dumps({"account": ACC}), "'client_name' is a required property"),
    ],  # the other bad files are refused in-process (tests/web/test_control.py)
)
def test_a_bad_file_stops_mockle_with_a_message(
    tmp_path: Path, flag: str, content: str | None, words: str
) -> None:
    path = tmp_path / "config.yaml"
    if content is not None:
        path.write_text(content)
    out = serve(flag, str(path))
    assert out.returncode == 2, out
    assert "invalid configuration" in out.stderr and words in out.stderr, out.stderr
    assert str(path) in out.stderr
    assert "Traceback" not in out.stderr


@pytest.fixture
async def scripted(tmp_path: Path) -> AsyncIterator[MockleServer]:
    path = tmp_path / "agent.yaml"
    path.write_text(SCRIPT)
    settings = Settings(port=0, agent="manual", agent_delay_ms=0, agent_script=path)
    async with MockleServer(settings) as server:
        yield server


async def test_a_scripted_agent_answers_and_closes_over_http(scripted: MockleServer) -> None:
    async with aiohttp.ClientSession() as http, Receiver(SECRET) as receiver:
        hooks = {
            CQM: {"endpoint": f"{receiver.url}/cqm"},
            "ms.MessagingEventNotification.ContentEvent": {"endpoint": f"{receiver.url}/text"},
        }
        manifest = {
            "account": ACC,
            "client_name": "script test",
            "client_id": f"app-{ACC}",
            "client_secret": SECRET,
            "capabilities": {"webhooks": hooks},
        }
        async with http.post(f"{scripted.url}/_mockle/apps", json=manifest) as r:
            assert r.status == 201
        consumer = Consumer(http, scripted, ACC, "a")
        await consumer.open()
        await consumer.say("hello?")  # no rule matches and the mode is manual: silence
        await consumer.say("ok bye")
        hits = await receiver.take(6)
        assert [h.path for h in hits] == ["/cqm", "/text", "/text", "/cqm", "/text", "/cqm"]
        assert hits[4].change["event"]["message"] == "Goodbye, ok bye"
        assert hits[4].change["originatorMetadata"]["role"] == "ASSIGNED_AGENT"
        closed = hits[5].change["result"]["conversationDetails"]
        assert (closed["stage"], closed["closeReason"]) == ("CLOSE", "AGENT")
