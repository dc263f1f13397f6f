"""The container's contract, without a container engine: the Dockerfile says what the issue
asks, and the wheel it builds, installed into a clean virtual environment, starts with the
Dockerfile's CMD and ENV and passes its HEALTHCHECK command, exactly as the Dockerfile states
them (only MOCKLE_PORT and MOCKLE_HOST are set, as `docker run -e` would). The image itself is
built and run for real by scripts/container-check.sh (podman), which .ci/run calls."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"


def instruction(name: str) -> str:
    """The last ``name`` instruction of the Dockerfile, continuation lines joined."""
    text = DOCKERFILE.read_text().replace("\\\n", " ")
    found = [line for line in text.splitlines() if line.strip().startswith(name + " ")]
    assert found, f"the Dockerfile has no {name} instruction"
    return found[-1].strip()[len(name) + 1 :].strip()


def env_defaults() -> dict[str, str]:
    """The ENV of the Dockerfile's last stage (``ENV K=V \\ K=V`` form)."""
    text = DOCKERFILE.read_text().replace("\\\n", " ")
    last_stage = text.rsplit("\nFROM ", 1)[1]
    env: dict[str, str] = {}
    for line in last_stage.splitlines():
        if line.startswith("ENV "):
            env.update(pair.split("=", 1) for pair in line[4:].split())
    return env


def exec_form(text: str) -> list[str]:
    """A JSON exec form (``["a", "b"]``) as the list of its arguments."""
    start = text.index("[")
    args = json.loads(text[start:])
    assert isinstance(args, list) and all(isinstance(a, str) for a in args)
    return args


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_dockerfile_states_what_the_issue_asks() -> None:
    text = DOCKERFILE.read_text()
    assert re.search(r"^FROM python:3\.11-slim AS build$", text, re.M)
    assert re.search(r"^FROM python:3\.11-slim$", text, re.M)
    assert instruction("EXPOSE") == "8080"
    assert instruction("USER") not in ("root", "0")
    # the address and port are ENV defaults that `-e MOCKLE_PORT=...` overrides (a flag in
    # CMD would win over the variable and silently ignore it)
    assert exec_form(instruction("CMD")) == ["mockle", "serve"]
    assert env_defaults()["MOCKLE_HOST"] == "0.0.0.0"
    assert env_defaults()["MOCKLE_PORT"] == "8080"
    health = instruction("HEALTHCHECK")
    assert health.startswith("--interval=")
    # no --port: python -m mockle.healthcheck follows MOCKLE_PORT (and MOCKLE_HOST, MOCKLE_TLS*)
    assert exec_form(health) == ["python", "-m", "mockle.healthcheck"]
    # every stage installs the known-good versions CI tested; the wheel leaves no layer behind
    runs = [line for line in text.replace("\\\n", " ").splitlines() if line.startswith("RUN ")]
    pip_runs = [r for r in runs if " pip " in r]
    assert len(pip_runs) == 2
    assert all("constraints.txt" in r for r in pip_runs), pip_runs
    assert "COPY --from=build" not in text and "type=bind,from=build" in text


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_the_built_wheel_serves_and_passes_its_health_check(
    tmp_path: Path, wheel_venv: Path
) -> None:
    bindir = wheel_venv
    port = str(free_port())
    cmd = exec_form(instruction("CMD"))
    health_cmd = exec_form(instruction("HEALTHCHECK"))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MOCKLE_", "PYTHON"))}
    env.update(env_defaults())
    env.update(MOCKLE_PORT=port, MOCKLE_HOST="127.0.0.1")  # as `docker run -e` would
    env["PATH"] = f"{bindir}{os.pathsep}{env.get('PATH', '')}"
    assert shutil.which(cmd[0], path=env["PATH"]) == str(bindir / cmd[0])
    server = subprocess.Popen(
        cmd, env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert server.stdout is not None
        line = server.stdout.readline()
        assert f":{port}" in line and line.startswith("mockle listening on"), line
        probe = subprocess.run(health_cmd, env=env, cwd=tmp_path, timeout=30, capture_output=True)
        assert probe.returncode == 0, probe.stderr
        # the Agent Workspace ships in the wheel: every file of the page is served from it
        workspace = server.stdout.readline()
        # --host 0.0.0.0, but a browser is pointed at loopback
        expected = f"Agent Workspace (open it in a browser): http://127.0.0.1:{port}/_mockle/ui/"
        assert workspace.rstrip() == expected
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10) as page:
            assert page.url.endswith("/_mockle/ui/") and b"Agent Workspace" in page.read()
        for path in sorted((ROOT / "mockle" / "web" / "ui").iterdir()):
            url = f"http://127.0.0.1:{port}/_mockle/ui/{path.name}"
            with urllib.request.urlopen(url, timeout=10) as served:
                assert served.read() == path.read_bytes(), path.name
    finally:
        server.terminate()
        server.wait(timeout=15)
        for stream in (server.stdout, server.stderr):
            if stream is not None:
                stream.close()
    assert server.returncode == 0  # SIGTERM stops it cleanly
    # once it is gone, the same health check fails
    probe = subprocess.run(health_cmd, env=env, cwd=tmp_path, timeout=30, capture_output=True)
    assert probe.returncode != 0
