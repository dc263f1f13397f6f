"""Fault injection, sans I/O: which request should misbehave, and how.

A fault is a spec ``{"target", "match"?, action..., "times"?, "probability"?, "seed"?}``
(the control API's ``POST /_mockle/faults`` body). :class:`FaultPlan` keeps them per target in
creation order; the transports ask :meth:`FaultPlan.match` on each request and act on the
:class:`Fault` they get back. With no fault registered the check is one truth test.

* ``times`` counts how often a fault fires (default 1; 0 = until deleted); a spent fault stays
  listed (with its ``fired`` count) but never fires again.
* ``probability`` with ``seed`` draws from a per-fault ``random.Random(seed)``: the same
  requests in the same order fire the same way on every run.
* ``type`` matches the operation in any dialect (``ms.PublishEvent`` matches
  ``.ams.ms.PublishEvent``); a Connector API batch matches when any of its requests does.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from mockle.core import errors, render
from mockle.core.closecodes import check_sendable
from mockle.core.dialects import lookup

REST_TARGETS = ("csds", "sentinel", "idp", "login", "conversation", "send")
WS_TARGETS = ("ws_connect", "ws_request")
TARGETS = (*REST_TARGETS, *WS_TARGETS, "webhook", "*")

Target = Literal[
    "csds",
    "sentinel",
    "idp",
    "login",
    "conversation",
    "send",
    "ws_connect",
    "ws_request",
    "webhook",
    "*",
]


class FaultMatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    account: str | None = None
    consumer_id: str | None = None
    agent_id: str | None = None  # an agent's PID (userPid): its login, socket and frames
    conversation_id: str | None = None
    type: str | None = None


class FaultSpec(BaseModel):
    """The body of ``POST /_mockle/faults``; unknown fields are refused (typos would be silent)."""

    model_config = ConfigDict(extra="forbid")

    target: Target
    match: FaultMatch | None = None
    status: int | None = Field(None, ge=100, le=599)
    body: Any = None
    headers: dict[str, str] | None = None
    delay_ms: int | None = Field(None, ge=0, le=600_000)
    close_code: int | None = Field(None, ge=1000, le=4999)
    reason: str | None = Field(None, max_length=120)
    drop: bool = False
    times: int = Field(1, ge=0)
    probability: float | None = Field(None, gt=0, le=1)
    seed: int | None = None

    _sendable = field_validator("close_code")(check_sendable)

    @model_validator(mode="after")
    def _one_action(self) -> FaultSpec:
        ends = [n for n in ("status", "close_code") if getattr(self, n) is not None]
        if self.drop:
            ends.append("drop")
        if len(ends) > 1:
            raise ValueError(f"choose one of status, close_code and drop (got {', '.join(ends)})")
        if not ends and self.delay_ms is None:
            raise ValueError("a fault needs an action: status, delay_ms, close_code or drop")
        if self.close_code is not None and self.target not in ("ws_connect", "ws_request", "*"):
            raise ValueError(
                f"close_code applies to WebSocket targets (ws_connect, ws_request), "
                f"not {self.target!r}"
            )
        if (self.body is not None or self.headers) and self.status is None:
            raise ValueError("body and headers go with a status")
        if self.seed is not None and self.probability is None:
            raise ValueError("seed goes with probability")
        return self


@dataclass(slots=True, eq=False)
class Fault:
    id: str
    spec: FaultSpec
    created: dict[str, Any]  # the spec as the caller sent it
    rng: random.Random | None = None
    fired: int = 0
    seq: int = 0
    ops: frozenset[object] = field(default_factory=frozenset)

    @property
    def target(self) -> str:
        return self.spec.target

    @property
    def account(self) -> str | None:
        return self.spec.match.account if self.spec.match else None

    @property
    def active(self) -> bool:
        return self.spec.times == 0 or self.fired < self.spec.times

    @property
    def delay_ms(self) -> int:
        return self.spec.delay_ms or 0

    @property
    def status(self) -> int | None:
        return self.spec.status

    @property
    def close_code(self) -> int | None:
        return self.spec.close_code

    @property
    def drop(self) -> bool:
        return self.spec.drop

    @property
    def reason(self) -> str:
        return self.spec.reason or "injected fault"

    def as_json(self) -> dict[str, Any]:
        return {"id": self.id, **self.created, "fired": self.fired, "active": self.active}

    def rest_response(self, target: str) -> tuple[int, Any, dict[str, str]]:
        """The (status, body, headers) a REST caller gets; the documented shapes by default."""
        status = self.spec.status or 500
        headers = dict(self.spec.headers or {})
        if status == 429 and not any(k.lower() == "retry-after" for k in headers):
            headers["Retry-After"] = "1"
        body = self.spec.body
        if body is None:
            body = default_body(target, status)
        return status, body, headers

    def ws_body(self) -> Any:
        """The ``body`` of the ``resp`` frame a ``ws_request`` status fault answers with."""
        if self.spec.body is not None:
            return self.spec.body
        return f"{_phrase(self.spec.status or 500)} (injected fault)"


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def default_body(target: str, status: int) -> Any:
    """What the real service answers with that status: OAuth errors at Sentinel, else ErrorResp."""
    if status < 400:
        return {}
    if target == "sentinel":
        error = "invalid_client" if status == 401 else "server_error"
        return {"error": error, "error_description": f"{_phrase(status)} (injected fault)"}
    if target == "login":  # the Login Service's error body (its time is left out)
        return {
            "error": {
                "message": f"{_phrase(status)} (injected fault)",
                "internalCode": status,
                "responseStatus": _phrase(status).upper().replace(" ", "_"),
            }
        }
    if status == 401:
        return render.error_envelope(
            401, "Invalid AppJWT", "AppJWT has expired or is invalid (injected fault)", 40102
        )
    if status == 429:
        return render.error_envelope(
            429, "Too Many Requests", "Too many requests, please try again later.", 42900
        )
    return render.error_envelope(status, _phrase(status), "injected fault", status * 100)


def parse_spec(doc: object) -> tuple[FaultSpec, dict[str, Any]]:
    """Validate a fault spec; :class:`errors.InvalidRequest` names the field that is wrong."""
    if not isinstance(doc, dict):
        raise errors.InvalidRequest("a fault is a JSON object", where="$")
    try:
        spec = FaultSpec.model_validate(doc)
    except ValidationError as exc:
        raise errors.invalid_fields(exc, SPEC_MESSAGES) from None
    return spec, dict(doc)


SPEC_MESSAGES = {
    "extra_forbidden": f"unknown field (fields: {', '.join(FaultSpec.model_fields)})",
    "literal_error": f"unknown target (targets: {', '.join(TARGETS)})",
}


def _ops(type_name: str) -> frozenset[object]:
    found = lookup(type_name)
    return frozenset({found[0] if found else type_name})


class FaultPlan:
    """Every registered fault. Live faults are indexed by (target, account) -- ``None`` for
    faults of every account -- so a request only looks at the faults that could apply to it:
    other tenants' faults cost it nothing."""

    def __init__(self) -> None:
        self._faults: dict[str, Fault] = {}  # every fault, spent ones too (for the listing)
        self._live: dict[tuple[str, str | None], list[Fault]] = {}
        self._armed = 0  # live faults; 0 makes match() a single test
        self._next = 0

    def __bool__(self) -> bool:
        return self._armed > 0

    def add(self, doc: object) -> Fault:
        spec, created = parse_spec(doc)
        self._next += 1
        fault = Fault(f"fault-{self._next}", spec, created, seq=self._next)
        if spec.probability is not None:
            fault.rng = random.Random(spec.seed)
        if spec.match is not None and spec.match.type is not None:
            fault.ops = _ops(spec.match.type)
        self._faults[fault.id] = fault
        self._live.setdefault((spec.target, fault.account), []).append(fault)
        self._armed += 1
        return fault

    def faults(self, account: str | None = None) -> list[Fault]:
        return [f for f in self._faults.values() if account is None or f.account == account]

    def get(self, fault_id: str) -> Fault:
        fault = self._faults.get(fault_id)
        if fault is None:
            raise errors.NotFound(f"fault {fault_id!r} does not exist")
        return fault

    def delete(self, fault_id: str) -> Fault:
        fault = self.get(fault_id)
        self._remove([fault])
        return fault

    def clear(self, account: str | None = None) -> int:
        """Delete every fault (or every fault that matches ``account``); how many went."""
        gone = self.faults(account)
        self._remove(gone)
        return len(gone)

    def _remove(self, gone: Sequence[Fault]) -> None:
        for fault in gone:
            del self._faults[fault.id]
            if fault.active:
                self._retire(fault)

    def _retire(self, fault: Fault) -> None:
        key = (fault.target, fault.account)
        live = self._live[key]
        live.remove(fault)
        if not live:
            del self._live[key]
        self._armed -= 1

    def _candidates(self, target: str, account: str | None) -> list[Fault]:
        """Live faults that may apply, in creation order (``target`` ones before ``*`` ones)."""
        live = self._live
        found: list[Fault] = []
        for t in (target, "*"):
            own = live.get((t, account), ()) if account is not None else ()
            every = live.get((t, None), ())
            if own and every:
                found += sorted((*own, *every), key=lambda f: f.seq)
            else:
                found += own or every
        return found

    def armed(self, target: str, account: str | None = None) -> bool:
        """Whether any live fault could apply to ``target`` on ``account`` (a few lookups)."""
        if not self._armed:
            return False
        live = self._live
        keys = ((target, account), (target, None), ("*", account), ("*", None))
        return any(key in live for key in keys)

    def match(
        self,
        target: str,
        *,
        account: str | None,
        consumer_id: str | None = None,
        conversation_id: str | None = None,
        type: str | Sequence[str] | None = None,
        agent_id: str | None = None,
    ) -> Fault | None:
        """The first live fault that applies (and fires now); it counts as fired."""
        if not self._armed:
            return None
        for fault in self._candidates(target, account):
            if not _applies(fault, account, consumer_id, conversation_id, type, agent_id):
                continue
            if fault.rng is not None and fault.rng.random() >= (fault.spec.probability or 1.0):
                continue
            fault.fired += 1
            if not fault.active:
                self._retire(fault)
            return fault
        return None


def _applies(
    fault: Fault,
    account: str | None,
    consumer_id: str | None,
    conversation_id: str | None,
    type_: str | Sequence[str] | None,
    agent_id: str | None = None,
) -> bool:
    m = fault.spec.match
    if m is None:
        return True
    if m.account is not None and m.account != account:
        return False
    if m.consumer_id is not None and m.consumer_id != consumer_id:
        return False
    if m.agent_id is not None and m.agent_id != agent_id:
        return False
    if m.conversation_id is not None and m.conversation_id != conversation_id:
        return False
    if m.type is not None:
        names = [type_] if isinstance(type_, str) else list(type_ or ())
        return any(_ops(n) & fault.ops for n in names)
    return True
