"""docs/control-api.md: its curl walkthrough runs verbatim against `mockle serve --agent manual`."""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from mockle.core.agent_script import load_script
from tests.integration.served import mockle_serve_sync

DOC = Path(__file__).resolve().parents[2] / "docs" / "control-api.md"


def block(heading: str, lang: str) -> str:
    section = DOC.read_text().split(heading, 1)[1]
    match = re.search(rf"```{lang}\n(.*?)```", section, re.S)
    assert match, f"control-api.md lost its {heading!r} {lang} block"
    return match.group(1)


@pytest.fixture
def served() -> Iterator[str]:
    with mockle_serve_sync("--agent", "manual") as url:
        yield url


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_control_api_walkthrough_runs_verbatim(served: str) -> None:
    script = block("## Walkthrough", "sh").replace("http://127.0.0.1:8080", served)
    out = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0] == '{"client_id":"my-connector","client_secret":"my-secret"}'
    assert lines[1] == '{"reqId":"1","code":"OK","body":{"sequence":0}}'
    assert re.fullmatch(r"[0-9a-f-]{36}", lines[2])
    assert re.fullmatch(r'\{"agentId":"[0-9a-f-]{36}","legacyId":"le81823118\.1234"\}', lines[3])
    assert lines[4:6] == ['{"sequence":1}', '{"sequence":2}']
    assert "Hello from the Agent" in lines[6]
    assert lines[7] == "AGENT"
    deliveries = lines[8:13]
    assert [d.split()[0] for d in deliveries] == [
        "cqm.ExConversationChangeNotification",
        "ms.MessagingEventNotification.ContentEvent",
        "cqm.ExConversationChangeNotification",
        "ms.MessagingEventNotification.ContentEvent",
        "cqm.ExConversationChangeNotification",
    ]
    assert all("ClientConnectorError" in d for d in deliveries), deliveries
    assert lines[13:] == ['{"reset":"le81823118"}']


def test_the_documented_agent_script_is_valid() -> None:
    script = load_script(block("### Agent scripts", "yaml"))
    assert len(script.rules) == 5
    assert yaml.safe_load(block("### Agent scripts", "yaml"))["rules"][1]["transfer"] == "12345"
