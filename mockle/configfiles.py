"""Files named by the settings (app manifests, the agent script, agent definitions, the signing
key): read and parsed once at start-up; a file that cannot be used is a :class:`ConfigError`
naming it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey

from mockle.core import agents, errors
from mockle.core.agent_script import AgentScript, load_script
from mockle.core.jsondoc import load_json_or_yaml
from mockle.core.tokens import load_key
from mockle.settings import ConfigError


def _read(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{what} {path}: cannot read it: {exc.strerror or exc}") from None


def load_document(path: Path, what: str) -> Any:
    """A JSON or YAML file's document."""
    raw = _read(path, what)
    try:
        return load_json_or_yaml(raw)
    except errors.InvalidRequest as exc:
        raise ConfigError(f"{what} {path}: {exc.details}") from None


def read_script(path: Path) -> AgentScript:
    """``--agent-script FILE``: the simulated agent's rules."""
    raw = _read(path, "agent script")
    try:
        return load_script(raw)
    except errors.InvalidRequest as exc:
        raise ConfigError(f"agent script {path}: {exc.message}") from None


def read_agents(paths: list[Path]) -> tuple[dict[str, Any], ...]:
    """``--agents FILE`` (repeatable): every agent definition, checked against its schema."""
    out: list[dict[str, Any]] = []
    for path in paths:
        doc = load_document(path, "agents file")
        try:
            out.extend(agents.definitions(doc))
        except errors.InvalidRequest as exc:
            raise ConfigError(f"agents file {path}: {exc.message}") from None
    return tuple(out)


def read_signing_key(path: Path) -> RSAPrivateKey:
    """``--signing-key FILE``: the PEM RSA private key tokens are signed with."""
    raw = _read(path, "--signing-key")
    try:
        return load_key(raw)
    except (ValueError, TypeError) as exc:  # TypeError: an encrypted key (no password here)
        raise ConfigError(f"--signing-key {path}: not a PEM RSA private key: {exc}") from None
