"""scripts/screenshots.py still runs: the README's pictures can always be made again."""

from __future__ import annotations

import importlib.util
import struct
from pathlib import Path

import pytest

from .conftest import chromium

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "screenshots.py"


def test_the_screenshot_script_makes_its_pictures(tmp_path: Path) -> None:
    path = chromium()
    if path is None:
        pytest.skip("Chromium is not installed: apt-get install chromium (or set MOCKLE_CHROMIUM)")
    spec = importlib.util.spec_from_file_location("screenshots", SCRIPT)
    assert spec is not None and spec.loader is not None
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    assert script.main(["--out", str(tmp_path), "--chromium", path]) == 0
    for name, width in (("workspace.png", 1440), ("inspector.png", None)):
        data = (tmp_path / name).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n", name
        w, h = struct.unpack(">II", data[16:24])
        assert h > 300 and (width is None or w == width), (name, w, h)
