"""The example connector copied into a fresh project, run as its users run it.

Nothing of this repository reaches it: the copy lives outside the tree, runs in a clean
virtual environment where only ``mockle[pytest]`` was installed (from the wheel; no
pytest-aiohttp, no test extra), pytest finds the plugin through its entry point, and the
project's own ``pyproject.toml`` is all the configuration there is. That file is also the
block docs/testing.md tells a project to copy.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "connector"
TESTING = ROOT / "docs" / "testing.md"


def setup_block() -> str:
    section = TESTING.read_text().split("## Setting up a project", 1)[1]
    match = re.search(r"```toml\n(.*?)```", section, re.S)
    assert match, "docs/testing.md lost its project set-up block"
    return match.group(1)


def _clean_env(bindir: Path) -> dict[str, str]:
    drop = ("MOCKLE_", "PYTEST_", "PYTHON", "VIRTUAL_ENV")
    env = {k: v for k, v in os.environ.items() if not k.startswith(drop)}
    env["PATH"] = f"{bindir}{os.pathsep}{env.get('PATH', '')}"
    return env


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_the_example_runs_as_a_project_of_its_own(tmp_path: Path, wheel_venv: Path) -> None:
    project = tmp_path / "sms-bridge"
    shutil.copytree(EXAMPLE, project, ignore=shutil.ignore_patterns("__pycache__"))
    out = subprocess.run(
        [str(wheel_venv / "python"), "-m", "pytest", "-p", "no:cacheprovider", "-W", "error"],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=240,
        env=_clean_env(wheel_venv),
    )
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-2000:]
    assert re.search(r"\b8 passed\b", out.stdout), out.stdout[-2000:]
    assert f"rootdir: {project}" in out.stdout  # nothing of ours
    assert "configfile: pyproject.toml" in out.stdout
    assert "aiohttp" not in out.stdout.split("plugins:", 1)[1].splitlines()[0]  # no pytest-aiohttp


def test_the_docs_block_is_the_examples_configuration() -> None:
    assert setup_block() == (EXAMPLE / "pyproject.toml").read_text()
