from __future__ import annotations

import subprocess
import sys

import pytest

from mockle.cli import build_parser, main, settings_from


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
    ):
        assert flag in out


def test_top_level_help_runs() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "mockle", "--help"], capture_output=True, text=True, timeout=30
    )
    assert out.returncode == 0 and "serve" in out.stdout


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


def test_bad_configuration_is_reported_not_raised(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", "--port", "99999"]) == 2
    assert "invalid configuration" in capsys.readouterr().err
