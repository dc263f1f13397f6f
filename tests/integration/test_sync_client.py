"""The synchronous client as a user meets it: no warnings at exit, tracebacks of their code."""

from __future__ import annotations

import gc
import re
import subprocess
import sys
import traceback

import pytest

from mockle import MockleClient, MockleClientError, ThreadedMockle

pytest_plugins = ["pytester"]

WITHOUT_WITH = """
from mockle import MockleClient, ThreadedMockle

server = ThreadedMockle().start()
m = MockleClient(server.url)  # no `with`, no close(): as in a quick script
print(m.health()["status"])
c = m.consumer("alice")
m.open_conversation(c)
server.stop()
"""


def test_a_client_used_without_with_leaves_no_warning_at_exit() -> None:
    out = subprocess.run(
        [sys.executable, "-X", "dev", "-c", WITHOUT_WITH],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout == "ok\n"
    # no "Unclosed client session", no "Unclosed connector"; -X dev also reports a callback
    # slower than 100 ms, which a loaded machine causes and which is not what this checks
    slow = re.compile(r"Executing <.*> took [\d.]+ seconds$")
    assert [line for line in out.stderr.splitlines() if not slow.match(line)] == []


def test_close_is_idempotent_and_a_collected_client_closes_itself() -> None:
    with ThreadedMockle() as server:
        m = MockleClient(server.url)
        m.health()
        thread = m._loop._thread
        m.close()
        m.close()
        assert not thread.is_alive()
        other = MockleClient(server.url)
        other.health()
        thread = other._loop._thread
        del other
        gc.collect()  # the client and its helpers (faults, agent) form a cycle
        thread.join(10)
        assert not thread.is_alive()


def test_an_error_traceback_shows_the_callers_code_not_the_thread_plumbing() -> None:
    with ThreadedMockle() as server, MockleClient(server.url) as m:
        with pytest.raises(MockleClientError) as info:
            m.call("GET", "/_mockle/conversations/nope")
    text = "".join(traceback.format_exception(info.value))
    assert "concurrent/futures" not in text and "/asyncio/" not in text
    frames = [f.name for f in traceback.extract_tb(info.value.__traceback__)]
    assert frames[0] == "test_an_error_traceback_shows_the_callers_code_not_the_thread_plumbing"
    assert frames[-1] == "call"  # where the async client raised it
    assert info.value.__context__ is None


def test_pytest_reports_a_failed_wait_without_plumbing(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    pytester.makepyfile(
        test_wait="""
def test_waits_in_vain(mockle):
    m = mockle.client
    c = m.consumer("alice")
    conv = m.open_conversation(c)
    m.wait_for_text(conv, "never said", timeout=0.2)
"""
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--tb=long")
    result.assert_outcomes(failed=1)
    text = result.stdout.str()
    assert "WaitTimeout" in text
    assert "concurrent/futures" not in text and "/asyncio/" not in text
