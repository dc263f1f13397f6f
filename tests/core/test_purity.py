"""The core is sans-I/O: no aiohttp, no asyncio, no sockets, no wall clock, no global random."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

CORE = Path(__file__).resolve().parents[2] / "mockle" / "core"
MODULES = sorted(p.stem for p in CORE.glob("*.py") if p.stem != "__init__")
FORBIDDEN_IMPORTS = {"aiohttp", "asyncio", "socket", "time", "random", "threading"}
# clock.py is the one reader of the wall clock and of randomness; faults.py keeps one seeded
# random.Random per chaos fault; tokens.py and schemas.py guard process-wide caches (the
# signing key, the compiled validators) with a lock.
ALLOWED = {
    "clock": {"time", "random"},
    "faults": {"random"},
    "tokens": {"threading"},
    "schemas": {"threading"},
}


@pytest.mark.parametrize("module", MODULES)
def test_core_module_imports_nothing_of_the_io_world(module: str) -> None:
    tree = ast.parse((CORE / f"{module}.py").read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    bad = (names & FORBIDDEN_IMPORTS) - ALLOWED.get(module, set())
    assert not bad, f"mockle.core.{module} imports {sorted(bad)}"
    assert "mockle.web" not in {n for n in names} and not any(
        isinstance(n, ast.ImportFrom) and (n.module or "").startswith("mockle.web")
        for n in ast.walk(tree)
    )


def test_importing_the_core_loads_neither_aiohttp_nor_asyncio() -> None:
    code = (
        "import sys\n"
        + "".join(f"import mockle.core.{m}\n" for m in MODULES)
        + "print(sorted({'aiohttp', 'asyncio'} & set(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
