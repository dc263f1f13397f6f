"""Wiring of the simulated agent (:mod:`mockle.core.agent`): mode, delay and script from settings.

The agent's steps come back as ``Later`` effects, which the hub runs on the event loop.
"""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from mockle.core import errors
from mockle.core.agent import AgentScript, SimulatedAgent, load_script
from mockle.settings import ConfigError
from mockle.web.app import Runtime


def read_script(path: Path) -> AgentScript:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"agent script {path}: cannot read it: {exc.strerror or exc}") from None
    try:
        return load_script(raw)
    except errors.InvalidRequest as exc:
        raise ConfigError(f"agent script {path}: {exc.message}") from None


def setup(app: web.Application, runtime: Runtime) -> None:
    settings = runtime.settings
    script = read_script(settings.agent_script) if settings.agent_script else None
    agent = SimulatedAgent(runtime.engine, settings.agent, settings.agent_delay_ms, script)
    runtime.engine.listeners.append(agent)
    runtime.extras["agent"] = agent
