"""The container, without a Docker engine: the wheel the Dockerfile builds, installed into a
clean virtual environment, started with the Dockerfile's CMD and probed with its HEALTHCHECK
command, exactly as the Dockerfile states them (only the port is replaced by a free one)."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
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
    assert exec_form(instruction("CMD")) == [
        "mockle",
        "serve",
        "--host",
        "0.0.0.0",
        "--port",
        "8080",
    ]
    health = instruction("HEALTHCHECK")
    assert health.startswith("--interval=")
    assert exec_form(health) == ["python", "-m", "mockle.healthcheck", "--port", "8080"]


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_the_built_wheel_serves_and_passes_its_health_check(tmp_path: Path) -> None:
    wheels = tmp_path / "dist"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "-q",
            "--no-deps",
            "--wheel-dir",
            str(wheels),
            str(ROOT),
        ],
        check=True,
        timeout=240,
    )
    (wheel,) = wheels.glob("mockle-*.whl")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    bindir = venv / "bin"
    subprocess.run(
        [
            str(bindir / "python"),
            "-m",
            "pip",
            "install",
            "-q",
            "--disable-pip-version-check",
            str(wheel),
        ],
        check=True,
        timeout=240,
    )
    port = str(free_port())
    cmd = [port if a == "8080" else a for a in exec_form(instruction("CMD"))]
    health_cmd = [port if a == "8080" else a for a in exec_form(instruction("HEALTHCHECK"))]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MOCKLE_", "PYTHON"))}
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
        assert workspace.startswith("Agent Workspace") and f":{port}/_mockle/ui/" in workspace
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
