"""The README's curl walkthrough runs verbatim against `mockle serve` (only the port differs)."""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.served import mockle_serve_sync

README = Path(__file__).resolve().parents[2] / "README.md"


def walkthrough() -> str:
    text = README.read_text()
    section = text.split("## Walkthrough", 1)[1]
    match = re.search(r"```sh\n(.*?)```", section, re.S)
    assert match, "the README lost its walkthrough"
    return match.group(1)


@pytest.fixture
def served() -> Iterator[str]:
    with mockle_serve_sync() as url:  # as the README starts it: the echo agent, its delays
        yield url


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_readme_walkthrough_runs_verbatim(served: str) -> None:
    script = walkthrough().replace("http://127.0.0.1:8080", served)
    out = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith('{"baseURIs"')
    assert re.search(r"}\nconversation [0-9a-f-]{36}\n", out.stdout)  # step 1 ends its line
    assert '{"reqId":"1","code":"OK","body":{"sequence":0}}' in out.stdout
    # the echo agent answered before the conversation was closed, and the reader saw it
    assert '"message":"echo: Hi from Send Message only - Send a line"\n' in out.stdout
    assert '{"reqId":"2","code":"OK","body":{"sequence":3}}' in out.stdout  # after the echo
    assert (
        '{"reqId":"4","code":"OK","body":{"msg":"OK Conversation resolved successfully"}}'
        in out.stdout
    )
    assert '"reqId":"5","code":"OK"' in out.stdout


pytest_plugins = ["pytester"]


def test_readme_pytest_example_passes(pytester: pytest.Pytester) -> None:
    section = README.read_text().split("## Use it from pytest", 1)[1]
    match = re.search(r"```python\n(.*?)```", section, re.S)
    assert match, "the README lost its pytest example"
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    pytester.makepyfile(test_readme_example=match.group(1))
    result = pytester.runpytest_subprocess("-q", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
