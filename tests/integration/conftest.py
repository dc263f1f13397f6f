"""Fixtures of the integration tests."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def wheel_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A clean virtual environment with the project's wheel and its ``pytest`` extra
    (``pip install "mockle-*.whl[pytest]"``): what a user's project gets. Its ``bin`` folder.

    Building and installing takes tens of seconds: the tests using it are ``slow``."""
    tmp = tmp_path_factory.mktemp("wheel")
    wheels = tmp / "dist"
    pip_wheel = [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--wheel-dir"]
    subprocess.run([*pip_wheel, str(wheels), str(ROOT)], check=True, timeout=240)
    (wheel,) = wheels.glob("mockle-*.whl")
    venv = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    bindir = venv / "bin"
    install = [str(bindir / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    subprocess.run([*install, f"{wheel}[pytest]"], check=True, timeout=300)
    return bindir
