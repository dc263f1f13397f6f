"""mockle's configuration: one pydantic model, filled from CLI flags and ``MOCKLE_*`` variables.

Each field is one option: ``--<name-with-dashes>`` on the command line and ``MOCKLE_<NAME>`` in
the environment (the flag wins). The CLI builds its parser from these fields, so adding a field
here adds the option everywhere.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator


class ConfigError(ValueError):
    """A configuration file named by the settings (app manifest, agent script) is unusable."""


_PER_SECOND = re.compile(r"\s*([0-9.eE+-]+)\s*(?:/\s*s)?\s*")


class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    host: str = Field("127.0.0.1", description="address to bind (loopback unless told otherwise)")
    port: int = Field(8080, ge=0, le=65535, description="port to bind; 0 takes a free port")
    public_address: str | None = Field(
        None,
        description="host:port the Domain API (CSDS) hands out for every service "
        "(default: the Host header the client used)",
    )
    tls: bool = Field(
        False,
        description="serve HTTPS and WSS on the port, with a certificate of mockle's local CA "
        "unless --tls-cert is given",
    )
    tls_cert: Path | None = Field(
        None, description="PEM certificate (chain) to serve instead; implies --tls"
    )
    tls_key: Path | None = Field(
        None, description="PEM private key of --tls-cert (default: the --tls-cert file itself)"
    )
    tls_dir: Path | None = Field(
        None,
        description="folder of the local CA and its certificate, reused across runs "
        "(default: $XDG_DATA_HOME/mockle/tls, else ~/.local/share/mockle/tls)",
    )
    tls_names: list[str] = Field(
        default_factory=list,
        description="more host names or IPs for the generated certificate (it always names "
        "localhost, 127.0.0.1, ::1, --host and the --public-address host); repeatable",
    )
    strict_apps: bool = Field(
        False, description="accept only apps installed in advance (POST /_mockle/apps or --app)"
    )
    app: list[Path] = Field(
        default_factory=list,
        description="app installation manifest (JSON or YAML) to install at start-up; repeatable",
    )
    app_jwt_ttl: int = Field(3600, ge=1, description="AppJWT lifetime in seconds")
    consumer_jws_ttl: int = Field(
        0, ge=0, description="ConsumerJWS lifetime in seconds (0: never expires)"
    )
    signup_jwt_ttl: int = Field(86400, ge=1, description="IDP signup JWT lifetime in seconds")
    signing_key: Path | None = Field(
        None, description="PEM RSA private key to sign tokens with (default: generated)"
    )
    max_body_size: int = Field(
        1_048_576, ge=1024, description="largest accepted HTTP body in bytes (413 above)"
    )
    send_max_chars: int = Field(
        5000,
        ge=0,
        description="documented SEND size limit in characters (0: off; hosted files exempt)",
    )
    rate_limit: float | None = Field(
        None,
        gt=0,
        description="requests per second each consumer may make, as N or N/s (429 above)",
    )

    @field_validator("rate_limit", mode="before")
    @classmethod
    def _per_second(cls, value: Any) -> Any:
        """``N`` or ``N/s``: requests per second, per consumer."""
        if isinstance(value, str):
            m = _PER_SECOND.fullmatch(value)
            if m is None:
                raise ValueError(f"{value!r} is not N or N/s")
            return m.group(1)
        return value

    ws_auth_timeout: float = Field(
        5.0, gt=0, description="seconds a socket without a token has to send InitConnection"
    )
    ws_idle_timeout: float = Field(
        60.0, gt=0, description="seconds of silence after which a socket is closed"
    )
    ws_max_frame: int = Field(
        1_048_576, ge=1024, description="largest accepted WebSocket frame in bytes"
    )
    agent: Literal["echo", "manual"] = Field(
        "echo",
        description="simulated agent: 'echo' answers every consumer message, "
        "'manual' waits for the control API",
    )
    agent_script: Path | None = Field(
        None, description="YAML or JSON rules for the simulated agent"
    )
    agent_delay_ms: int = Field(
        200, ge=0, description="delay between the simulated agent's steps, in ms"
    )
    agents: list[Path] = Field(
        default_factory=list,
        description="agents who may log in (YAML or JSON: loginName, password, nickname, role "
        "AGENT/MANAGER, skills, maxConversations); repeatable",
    )
    strict_agents: bool = Field(
        False,
        description="accept only agents defined in advance (--agents or POST /_mockle/agents) "
        "at the Login Service",
    )
    agent_session_ttl: int = Field(
        28_800, ge=1, description="Login Service session lifetime in seconds (refresh extends it)"
    )
    ring_timeout: float = Field(
        60.0, gt=0, description="seconds a ring waits for UpdateRingState before the next agent"
    )
    max_closed_conversations: int = Field(
        100_000,
        ge=1,
        description="closed conversations kept; older ones are forgotten (a later request for one "
        "answers not found, saying so)",
    )
    max_events_per_conversation: int = Field(
        10_000,
        ge=10,
        description="events kept per conversation (the newest); older ones leave the history",
    )
    auto_messages: list[str] = Field(
        default_factory=lambda: ["Welcome! An agent will be with you shortly."],
        description="texts published when AUTO_MESSAGES applies; repeatable",
    )
    webhook_timeout: float = Field(
        5.0, gt=0, description="seconds a webhook endpoint has to answer"
    )
    webhook_retry_interval: float = Field(30.0, ge=0, description="seconds between webhook retries")
    webhook_backoff: float = Field(
        2.0, ge=0, description="first retry delay (s) of apps with retry.retention_time; doubles"
    )
    webhook_backoff_cap: float = Field(
        300.0, ge=0, description="longest retry delay (s) of apps with retry.retention_time"
    )
    webhook_signature: Literal["sha1", "sha256"] = Field(
        "sha1", description="x-liveperson-signature algorithm"
    )
    journal_size: int = Field(
        10_000, ge=1, description="entries kept by the request journal (a ring buffer)"
    )
    admin_token: str | None = Field(
        None, description="require 'Authorization: Bearer <token>' on /_mockle/*"
    )
    seed: int | None = Field(None, description="seed for ids and chaos faults (reproducible runs)")
    log_level: Literal["debug", "info", "warning", "error"] = Field(
        "info",
        description="log level: 'info' logs every LiveEngage call and socket frame, "
        "'warning' only problems, 'debug' also the control API",
    )
    log_format: Literal["text", "json"] = Field(
        "text", description="log lines as text, or as one JSON object per line"
    )
    log_control: bool = Field(
        False, description="log control API calls (/_mockle/...) too, as --log-level debug does"
    )
