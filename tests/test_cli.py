from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from mockle.cli import build_parser, main, settings_from


def run_mockle(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("MOCKLE_")}
    return subprocess.run(
        [sys.executable, "-m", "mockle", *args],
        capture_output=True,
        text=True,
        timeout=30,
        env={**clean, **(env or {})},
    )


def test_help_explains_every_option(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["serve", "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    for flag in (
        "--host",
        "--port",
        "--public-address",
        "--strict-apps",
        "--agent",
        "--rate-limit",
        "MOCKLE_PORT",
        "{echo,manual}",
    ):
        assert flag in out


def test_help_says_an_app_manifest_may_be_json_or_yaml(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["serve", "--help"])
    assert "manifest (JSON or YAML)" in " ".join(capsys.readouterr().out.split())


def test_top_level_help_runs() -> None:
    out = run_mockle("--help")
    assert out.returncode == 0 and "serve" in out.stdout


def test_no_command_prints_the_help_and_exits_2() -> None:
    out = run_mockle()
    assert out.returncode == 2
    assert "usage: mockle" in out.stderr and "serve" in out.stderr
    assert out.stdout == ""


def test_environment_and_flags() -> None:
    parser = build_parser()
    args = parser.parse_args(
        ["serve", "--port", "9001", "--auto-messages", "hi", "--auto-messages", "there"]
    )
    s = settings_from(
        args, {"MOCKLE_PORT": "9000", "MOCKLE_HOST": "0.0.0.0", "MOCKLE_STRICT_APPS": "true"}
    )
    assert s.port == 9001 and s.host == "0.0.0.0" and s.strict_apps is True
    assert s.auto_messages == ["hi", "there"]


@pytest.mark.parametrize(
    ("args", "env", "line"),
    [
        (
            ["--port", "99999"],
            {},
            "mockle: --port (MOCKLE_PORT) is '99999'; allowed: an integer from 0 to 65535",
        ),
        (
            [],
            {"MOCKLE_PORT": "abc"},
            "mockle: MOCKLE_PORT (--port) is 'abc'; allowed: an integer from 0 to 65535",
        ),
        (
            ["--rate-limit", "2/min"],
            {},
            "mockle: --rate-limit (MOCKLE_RATE_LIMIT) is '2/min'; allowed: a number of requests "
            "per second above 0, as N or N/s (e.g. 2 or 2/s)",
        ),
        (
            ["--agent", "robot"],
            {},
            "mockle: --agent (MOCKLE_AGENT) is 'robot'; allowed: one of 'echo', 'manual'",
        ),
        (
            [],
            {"MOCKLE_STRICT_APPS": "maybe"},
            "mockle: MOCKLE_STRICT_APPS (--strict-apps) is 'maybe'; allowed: true or false "
            "(also 1/0, yes/no, on/off)",
        ),
        (
            ["--max-body-size", "10"],
            {},
            "mockle: --max-body-size (MOCKLE_MAX_BODY_SIZE) is '10'; allowed: an integer of "
            "1024 or more",
        ),
        (
            ["--bogus"],
            {},
            "mockle: unrecognized arguments: --bogus (see 'mockle --help')",
        ),
    ],
)
def test_a_bad_option_is_one_line_naming_flag_variable_value_and_what_is_allowed(
    args: list[str], env: dict[str, str], line: str
) -> None:
    out = run_mockle("serve", *args, env=env)
    assert out.returncode == 2
    assert out.stderr == line + "\n"
    assert out.stdout == ""


def test_every_bad_option_gets_its_line() -> None:
    out = run_mockle("serve", "--port", "99999", env={"MOCKLE_WS_IDLE_TIMEOUT": "-1"})
    assert out.returncode == 2
    assert out.stderr.splitlines() == [
        "mockle: --port (MOCKLE_PORT) is '99999'; allowed: an integer from 0 to 65535",
        "mockle: MOCKLE_WS_IDLE_TIMEOUT (--ws-idle-timeout) is '-1'; allowed: a number above 0",
    ]


def test_bad_configuration_is_reported_not_raised(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", "--port", "99999"]) == 2
    assert "pydantic" not in capsys.readouterr().err


@pytest.mark.parametrize(("given", "per_second"), [("2/s", 2.0), ("2", 2.0), ("0.5 / s", 0.5)])
def test_rate_limit_takes_n_and_n_per_second(given: str, per_second: float) -> None:
    args = build_parser().parse_args(["serve", "--rate-limit", given])
    assert settings_from(args, {}).rate_limit == per_second
    assert settings_from(build_parser().parse_args(["serve"]), {"MOCKLE_RATE_LIMIT": given})


def test_a_busy_port_prints_only_its_own_message() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        out = run_mockle("serve", "--port", str(port))
    assert out.returncode == 1
    assert out.stderr == f"mockle: cannot listen on 127.0.0.1:{port}: Address already in use\n"


def test_an_unusable_signing_key_names_the_flag(tmp_path: Path) -> None:
    missing = tmp_path / "missing.pem"
    out = run_mockle("serve", "--port", "0", "--signing-key", str(missing))
    assert out.returncode == 2
    assert out.stderr == (
        f"mockle: invalid configuration: --signing-key {missing}: cannot read it: "
        "No such file or directory\n"
    )
    junk = tmp_path / "junk.pem"
    junk.write_text("not a key")
    out = run_mockle("serve", "--port", "0", "--signing-key", str(junk))
    assert out.returncode == 2 and len(out.stderr.splitlines()) == 1
    assert "not a PEM RSA private key" in out.stderr and "Traceback" not in out.stderr
