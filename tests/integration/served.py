"""`mockle serve` as a real subprocess on a free port, for tests that need the real command."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator

STARTUP_S = 20.0


def _command(args: tuple[str, ...]) -> list[str]:
    return [sys.executable, "-m", "mockle", "serve", "--port", "0", *args]


def _env(extra: dict[str, str] | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MOCKLE_")}
    env.update(extra or {})
    return env


def _url(line: str) -> str:
    assert line.startswith(("mockle listening on http://", "mockle listening on https://")), line
    return line.split(" on ", 1)[1].strip()


# the last line `mockle serve --tls` prints (the curl line, or the hint for a certificate whose
# CA mockle does not have)
TLS_BANNER_END = ("curl --cacert ", "# trust the CA that issued it")


@contextlib.asynccontextmanager
async def mockle_serve_banner(
    *args: str, env: dict[str, str] | None = None
) -> AsyncIterator[list[str]]:
    """Run ``mockle serve --port 0 *args``; yield what it printed at start-up (the URL line,
    and with TLS every line up to the trust lines); SIGTERM it and expect exit 0."""
    proc = await asyncio.create_subprocess_exec(
        *_command(args), stdout=asyncio.subprocess.PIPE, env=_env(env)
    )
    assert proc.stdout is not None
    try:
        lines = [(await asyncio.wait_for(proc.stdout.readline(), STARTUP_S)).decode().rstrip()]
        _url(lines[0])
        if lines[0].startswith("mockle listening on https://"):
            while not lines[-1].startswith(TLS_BANNER_END):
                line = await asyncio.wait_for(proc.stdout.readline(), STARTUP_S)
                assert line, f"mockle serve stopped printing after {lines}"
                lines.append(line.decode().rstrip())
        yield lines
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), STARTUP_S) == 0


@contextlib.asynccontextmanager
async def mockle_serve(*args: str, env: dict[str, str] | None = None) -> AsyncIterator[str]:
    """Run ``mockle serve --port 0 *args``; yield its URL; SIGTERM it and expect exit 0."""
    async with mockle_serve_banner(*args, env=env) as lines:
        yield _url(lines[0])


@contextlib.contextmanager
def mockle_serve_sync(*args: str, env: dict[str, str] | None = None) -> Iterator[str]:
    """The same for synchronous tests."""
    proc = subprocess.Popen(_command(args), stdout=subprocess.PIPE, text=True, env=_env(env))
    assert proc.stdout is not None
    try:
        yield _url(proc.stdout.readline())
    finally:
        proc.terminate()
        code = proc.wait(timeout=STARTUP_S)
        proc.stdout.close()
        assert code == 0
