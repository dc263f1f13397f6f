"""The control API under ``/_mockle/``: a public contract (documented in docs/control-api.md).

Routes here: health, reset, app installation, conversations (list, detail, agent join and
publish, close, transfer) and the webhook delivery log. Bodies are JSON objects checked by
pydantic models (unknown fields are refused: a typo must not be silently ignored); a bad body
answers 400 naming the field, an unknown conversation 404, a closed one 400. Errors use the
same ``.ReqBody$ErrorResp`` envelope as the rest of mockle.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal, TypeVar

import orjson
import yaml
from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, field_validator

from mockle.core import errors, render
from mockle.core.apps import App, app_from_manifest
from mockle.core.engine import Effects, Engine
from mockle.core.model import Conversation
from mockle.core.retention import AppRetention
from mockle.core.schemas import SchemaSet
from mockle.settings import ConfigError
from mockle.web.app import RUNTIME, Runtime, error_response, json_response
from mockle.web.bodies import error_of, read_json, read_model

APP_SCHEMA = "control/appInstallation.json"
EVENT_SCHEMA = "ms/events/event.json"
STARTUP_APPS = "startup_apps"
MAX_WAIT_S = 60.0

M = TypeVar("M", bound=BaseModel)


# -- bodies ------------------------------------------------------------------------------------


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class JoinBody(_Body):
    agentId: str | None = Field(None, min_length=1)


class PublishBody(_Body):
    event: dict[str, Any]
    agentId: str | None = Field(None, min_length=1)
    metadata: list[Any] | None = None
    messageAudience: Literal["ALL", "AGENTS_AND_MANAGERS"] = "ALL"


class CloseBody(_Body):
    by: Literal["agent", "consumer", "system"] = "agent"

    @field_validator("by", mode="before")
    @classmethod
    def _lower(cls, value: Any) -> Any:
        return value.lower() if isinstance(value, str) else value


class TransferBody(_Body):
    skill: str = Field(min_length=1)

    @field_validator("skill", mode="before")
    @classmethod
    def _text(cls, value: Any) -> Any:
        return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


# -- conversations as the control API shows them ------------------------------------------------


def conversation_json(engine: Engine, conv: Conversation) -> dict[str, Any]:
    agent_pid = conv.assigned_agent()
    agent = engine.accounts[conv.account].agents.get(agent_pid) if agent_pid else None
    return {
        "conversationId": conv.conv_id,
        "account": conv.account,
        "consumerId": conv.consumer_id,
        "state": conv.state,
        "stage": conv.stage,
        "participants": [{"id": p.id, "role": p.role} for p in conv.participants],
        "assignedAgent": {"agentId": agent.pid, "legacyId": agent.legacy_id} if agent else None,
        "dialogs": [render.dialog_json(d) for d in conv.dialogs],
        "ttr": {"ttrType": conv.ttr_type, "value": conv.ttr_value},
        "effectiveTTR": render.effective_ttr(conv),
        "skillId": conv.skill_id,
        "startTs": conv.start_ts,
        "endTs": conv.end_ts,
        "closeReason": conv.close_reason,
        "metaDataLastUpdateTs": conv.meta_ts,
        "channel": conv.channel,
        "features": sorted(conv.features),
        "campaignInfo": conv.campaign_info,
        "context": conv.context,
        "csat": conv.csat,
    }


def find_conversation(engine: Engine, conv_id: str, account: str | None = None) -> Conversation:
    accounts = [engine.accounts.get(account)] if account else list(engine.accounts.values())
    for acc in accounts:
        if acc is not None and conv_id in acc.conversations:
            return acc.conversations[conv_id]
    where = f" on account {account}" if account else ""
    raise errors.NotFound(f"conversation {conv_id!r} does not exist{where}")


def _conversation(request: web.Request) -> Conversation:
    runtime = request.app[RUNTIME]
    return find_conversation(
        runtime.engine, request.match_info["id"], request.query.get("account") or None
    )


async def list_conversations(request: web.Request) -> web.Response:
    runtime = request.app[RUNTIME]
    account = request.query.get("account") or None
    state = request.query.get("state")
    if state is not None and state.upper() not in ("OPEN", "CLOSE"):
        return error_response(
            400, "Bad Request", f"state {state!r} is not 'OPEN' or 'CLOSE'", "$.query.state"
        )
    engine = runtime.engine
    accounts = [engine.accounts.get(account)] if account else list(engine.accounts.values())
    found = [
        conversation_json(engine, conv)
        for acc in accounts
        if acc is not None
        for conv in acc.conversations.values()
        if state is None or conv.state == state.upper()
    ]
    return json_response({"conversations": found})


async def get_conversation(request: web.Request) -> web.Response:
    runtime = request.app[RUNTIME]
    try:
        conv = _conversation(request)
    except errors.MockleError as exc:
        return error_of(exc)
    doc = conversation_json(runtime.engine, conv)
    doc["events"] = [ev.change for ev in conv.timeline]
    return json_response(doc)


async def join_agent(request: web.Request) -> web.Response:
    runtime = request.app[RUNTIME]
    fx = Effects()
    try:
        conv = _conversation(request)
        body = await read_model(request, JoinBody, optional=True)
        agent = runtime.engine.join_agent(conv, fx, body.agentId)
    except errors.MockleError as exc:
        return error_of(exc)
    runtime.hub.dispatch(fx)
    return json_response({"agentId": agent.pid, "legacyId": agent.legacy_id})


async def agent_publish(request: web.Request) -> web.Response:
    runtime = request.app[RUNTIME]
    fx = Effects()
    try:
        conv = _conversation(request)
        body = await read_model(request, PublishBody)
        SchemaSet.default().validate(EVENT_SCHEMA, body.event, prefix="$.event")
        sequence = runtime.engine.agent_publish(
            conv,
            body.event,
            fx,
            agent_id=body.agentId,
            metadata=body.metadata,
            audience=body.messageAudience,
        )
    except errors.MockleError as exc:
        return error_of(exc)
    runtime.hub.dispatch(fx)
    return json_response({"sequence": sequence})


async def close_conversation(request: web.Request) -> web.Response:
    runtime = request.app[RUNTIME]
    fx = Effects()
    try:
        conv = _conversation(request)
        body = await read_model(request, CloseBody, optional=True)
        runtime.engine.close(conv, body.by.upper(), fx)
    except errors.MockleError as exc:
        return error_of(exc)
    runtime.hub.dispatch(fx)
    return json_response(conversation_json(runtime.engine, conv))


async def transfer_conversation(request: web.Request) -> web.Response:
    runtime = request.app[RUNTIME]
    fx = Effects()
    try:
        conv = _conversation(request)
        body = await read_model(request, TransferBody)
        if not conv.is_open:
            raise errors.RequestFailed("Bad Request, Conversation is close")
        runtime.engine.transfer(conv, body.skill, fx)
    except errors.MockleError as exc:
        return error_of(exc)
    runtime.hub.dispatch(fx)
    return json_response(conversation_json(runtime.engine, conv))


# -- apps --------------------------------------------------------------------------------------


def install_app(engine: Engine, manifest: Any) -> App:
    """Validate a manifest and install it (generating client_id / client_secret when absent)."""
    SchemaSet.default().validate(APP_SCHEMA, manifest)
    client_id = str(manifest.get("client_id") or engine.ids.uuid())
    secret = str(manifest.get("client_secret") or engine.ids.hex(13))
    app = app_from_manifest(manifest, client_id, secret)
    engine.apps.add(app)
    return app


def app_json(app: App, worker: Any = None) -> dict[str, Any]:
    """An installed app; ``retry`` is the app-wide state of retry by time to live (or null)."""
    retry: dict[str, Any] | None = None
    if app.retention_s is not None:
        state = worker.app_state(app.account, app.client_id) if worker is not None else None
        retry = {"retention_time": app.retention_s}
        retry.update(state.as_json() if state is not None else AppRetention().as_json())
    return {
        "account": app.account,
        "client_id": app.client_id,
        "client_secret": app.client_secret,
        "client_name": app.client_name,
        "enabled": app.enabled,
        "installed": app.registered,
        "webhooks": {
            key: {
                "endpoint": hook.endpoint,
                "max_retries": hook.max_retries,
                "headers": [{"header_name": n, "header_value": v} for n, v in hook.headers],
            }
            for key, hook in app.webhooks.items()
        },
        "retry": retry,
    }


async def post_app(request: web.Request) -> web.Response:
    runtime = request.app[RUNTIME]
    try:
        app = install_app(runtime.engine, await read_json(request))
    except errors.MockleError as exc:
        return error_of(exc)
    return json_response({"client_id": app.client_id, "client_secret": app.client_secret}, 201)


async def list_apps(request: web.Request) -> web.Response:
    runtime = request.app[RUNTIME]
    account = request.query.get("account") or None
    apps = runtime.engine.apps.of_account(account) if account else runtime.engine.apps.all()
    worker = runtime.extras.get("webhooks")
    return json_response({"apps": [app_json(app, worker) for app in apps]})


def load_manifest(path: Path) -> Any:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"app manifest {path}: cannot read it: {exc.strerror or exc}") from None
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        try:
            return yaml.safe_load(raw)
        except yaml.YAMLError as exc:
            raise ConfigError(f"app manifest {path}: neither JSON nor YAML: {exc}") from None


def install_startup_apps(runtime: Runtime) -> None:
    """``--app FILE`` (repeatable): install each manifest; a bad file stops mockle."""
    apps: list[App] = []
    for path in runtime.settings.app:
        try:
            apps.append(install_app(runtime.engine, load_manifest(path)))
        except errors.MockleError as exc:
            raise ConfigError(f"app manifest {path}: {exc.message}") from None
    runtime.extras[STARTUP_APPS] = apps


# -- reset, deliveries, health -----------------------------------------------------------------


async def reset(request: web.Request) -> web.Response:
    runtime = request.app[RUNTIME]
    account = request.query.get("account") or None
    runtime.engine.reset(account)
    for app in runtime.extras.get(STARTUP_APPS, []):  # --app installations survive a reset
        if account is None or app.account == account:
            runtime.engine.apps.add(app)
    return json_response({"reset": account or "all"})


def _query_number(request: web.Request, name: str, default: float, high: float) -> float:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0 <= value <= high:
        raise errors.InvalidRequest(
            f"{name} must be a number from 0 to {high:g}, got {raw!r}", where=f"$.query.{name}"
        )
    return value


async def deliveries(request: web.Request) -> web.Response:
    runtime = request.app[RUNTIME]
    worker = runtime.extras.get("webhooks")
    account = request.query.get("account") or None
    conv_id = request.query.get("conversationId") or None
    event_type = request.query.get("eventType") or None
    try:
        wait = _query_number(request, "wait", 0.0, MAX_WAIT_S)
        count = int(_query_number(request, "min", 1, 1_000_000))
    except errors.MockleError as exc:
        return error_of(exc)
    if worker is None:
        return json_response({"deliveries": []})

    def selected() -> list[Any]:
        return [
            d
            for d in worker.log.deliveries(account)
            if (conv_id is None or d.job.conversation_id == conv_id)
            and (event_type is None or d.job.event_type == event_type)
        ]

    if wait > 0:
        await worker.log.wait_for(lambda: sum(1 for d in selected() if d.settled) >= count, wait)
    return json_response({"deliveries": [d.as_json() for d in selected()]})


async def health(request: web.Request) -> web.Response:
    runtime = request.app[RUNTIME]
    if not runtime.ready:
        return json_response({"status": "starting"}, 503)
    return json_response({"status": "ok"})


def setup(app: web.Application, runtime: Runtime) -> None:
    install_startup_apps(runtime)
    r = app.router
    r.add_get("/_mockle/health", health)
    r.add_post("/_mockle/reset", reset)
    r.add_post("/_mockle/apps", post_app)
    r.add_get("/_mockle/apps", list_apps)
    r.add_get("/_mockle/conversations", list_conversations)
    r.add_get("/_mockle/conversations/{id}", get_conversation)
    r.add_post("/_mockle/conversations/{id}/agent/join", join_agent)
    r.add_post("/_mockle/conversations/{id}/agent/publish", agent_publish)
    r.add_post("/_mockle/conversations/{id}/close", close_conversation)
    r.add_post("/_mockle/conversations/{id}/transfer", transfer_conversation)
    r.add_get("/_mockle/webhooks/deliveries", deliveries)
