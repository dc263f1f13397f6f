"""The pytest plugin, run by pytester: in-process fixtures and the external-URL mode."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from collections.abc import Iterator

import pytest

pytest_plugins = ["pytester"]

SUITE = """
import pytest

def test_fixture_is_listening_and_fresh(mockle):
    m = mockle.client
    assert m.health() == {"status": "ok"}
    assert m.conversations() == []
    c = m.consumer("alice")
    conv = m.open_conversation(c)
    m.send_text(c, conv, "hello")
    m.agent.say(conv, "hi")
    assert m.wait_for_text(conv, "hi")["event"]["message"] == "hi"
    m.assert_sent(text="hello")

def test_next_test_sees_nothing_of_the_previous(mockle):
    assert mockle.client.conversations() == []
    assert mockle.client.journal() == []

def test_shared_server_accounts(mockle_shared, mockle_account):
    assert mockle_shared.account == mockle_account
    m = mockle_shared.client
    c = m.consumer("bob")
    m.open_conversation(c)
    assert len(m.conversations()) == 1

def test_shared_server_next_account_is_clean(mockle_shared):
    assert mockle_shared.client.conversations() == []

def test_mode(mockle, request):
    assert mockle.external is bool(request.config.getoption("mockle_url"))
"""


@pytest.fixture(autouse=True)
def _ini(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")


def test_in_process_fixtures(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_suite=SUITE)
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", "-q")
    result.assert_outcomes(passed=5)


def test_settings_override_and_engine_access(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(
        """
import pytest
from mockle.settings import Settings

@pytest.fixture
def mockle_settings():
    return Settings(port=0, agent="manual", journal_size=3)
"""
    )
    pytester.makepyfile(
        test_cfg="""
def test_journal_cap(mockle):
    assert mockle.server.server.settings.journal_size == 3
    for _ in range(5):
        mockle.client.request("GET", f"/api/account/{mockle.account}/service/baseURI.json")
    assert len(mockle.client.journal()) == 3
    assert mockle.engine is not None
"""
    )
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", "-q")
    result.assert_outcomes(passed=1)


def test_the_marker_changes_options_and_keeps_the_fixture_defaults(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        test_marked="""
import pytest

@pytest.mark.mockle(agent="echo", journal_size=50)
def test_echo_at_once(mockle):
    settings = mockle.server.server.settings
    assert settings.agent == "echo" and settings.journal_size == 50
    # the fixture's own defaults stay: a free port, no agent delay, quick webhook retries
    assert settings.port == 0 and settings.agent_delay_ms == 0
    assert settings.webhook_retry_interval == 0.01
    m = mockle.client
    c = m.consumer("alice")
    conv = m.open_conversation(c)
    m.send_text(c, conv, "ping")
    m.wait_for_text(conv, "echo: ping", timeout=2)

@pytest.mark.mockle(agent="echo", journal_size=7)
class TestClosestMarkerWins:
    @pytest.mark.mockle(journal_size=9)
    def test_method_marker_over_class_marker(self, mockle):
        settings = mockle.server.server.settings
        assert settings.agent == "echo" and settings.journal_size == 9

def test_unmarked_test_keeps_the_defaults(mockle):
    assert mockle.server.server.settings.agent == "manual"
"""
    )
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", "-q", "--strict-markers")
    result.assert_outcomes(passed=3)


def test_a_bad_marker_says_what_is_wrong(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_bad="""
import pytest

@pytest.mark.mockle(agnet="echo")
def test_typo(mockle):
    pass

@pytest.mark.mockle(port=99999)
def test_bad_value(mockle):
    pass

@pytest.mark.mockle(agent="echo")
def test_marker_on_the_shared_server(mockle_shared):
    pass
"""
    )
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", "-q")
    result.assert_outcomes(errors=3)
    result.stdout.fnmatch_lines(
        [
            "*@pytest.mark.mockle: no option 'agnet'; the options are the fields of "
            "mockle.Settings: host, port*",
            "*@pytest.mark.mockle: port is 99999; allowed: an integer from 0 to 65535*",
            "*@pytest.mark.mockle configures the `mockle` fixture's own server; mockle_shared*",
        ]
    )


def test_an_override_without_a_port_takes_a_free_one(pytester: pytest.Pytester) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        chosen = s.getsockname()[1]
    pytester.makeconftest(
        f"""
import pytest
from mockle import Settings

@pytest.fixture
def mockle_settings(request):
    if "explicit" in request.node.name:
        return Settings(port={chosen}, agent="echo")
    return Settings(agent="echo")
"""
    )
    pytester.makepyfile(
        test_port="""
def test_no_port_given(mockle):
    settings = mockle.server.server.settings
    assert settings.port == 0 and not mockle.url.endswith(":8080")
    # an override is a full replacement: Settings' own defaults for the rest
    assert settings.agent == "echo" and settings.agent_delay_ms == 200

def test_explicit_port(mockle):
    assert mockle.url.endswith(":%d" % mockle.server.server.settings.port)
    assert mockle.server.server.settings.port != 0
"""
    )
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", "-q")
    result.assert_outcomes(passed=2)


def test_a_server_bug_fails_the_test(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_bug="""
def test_records_a_bug(mockle):
    mockle.server.server.runtime.bugs.append("POST /x")
"""
    )
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", "-q")
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["*mockle hit a bug*POST /x*"])


@pytest.fixture
def serve() -> Iterator[str]:
    """A ``mockle serve`` subprocess on a port the OS picked; its URL."""
    env = {**os.environ, "MOCKLE_AGENT": "manual"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "mockle", "serve", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        m = re.search(r"mockle listening on (http://\S+)", line)
        assert m, (
            f"unexpected first line {line!r}; stderr: {proc.stderr.read() if proc.stderr else ''}"
        )
        yield m.group(1)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()


def test_external_url_mode_drives_a_running_mockle(pytester: pytest.Pytester, serve: str) -> None:
    pytester.makepyfile(test_suite=SUITE)
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", f"--mockle-url={serve}")
    result.assert_outcomes(passed=5)
    result.stdout.fnmatch_lines([f"mockle: external server {serve}"])


def test_external_mode_skips_in_process_tests_saying_why(
    pytester: pytest.Pytester, serve: str
) -> None:
    pytester.makepyfile(
        test_local="""
import pytest

@pytest.mark.mockle(agent="echo")
def test_needs_options(mockle):
    pass

@pytest.mark.mockle_in_process("touches the engine")
def test_touches_the_engine(mockle):
    assert mockle.engine

def test_runs_anywhere(mockle):
    assert mockle.client.health()["status"] == "ok"
"""
    )
    inside = pytester.runpytest_inprocess("-p", "no:cacheprovider", "-q", "--strict-markers")
    inside.assert_outcomes(passed=3)
    outside = pytester.runpytest_inprocess(
        "-p", "no:cacheprovider", "-rs", "--strict-markers", f"--mockle-url={serve}"
    )
    outside.assert_outcomes(passed=1, skipped=2)
    outside.stdout.fnmatch_lines(
        [
            "*@pytest.mark.mockle(agent='echo') needs an in-process mockle*",
            f"*only holds in-process (touches the engine), not against {serve}*",
        ]
    )


def test_mockle_url_environment_variable(
    pytester: pytest.Pytester, serve: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MOCKLE_URL", serve)
    pytester.makepyfile(
        test_env="""
def test_external(mockle):
    assert mockle.external and mockle.account.startswith("le")
    assert mockle.client.health()["status"] == "ok"
"""
    )
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", "-q")
    result.assert_outcomes(passed=1)
