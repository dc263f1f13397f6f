"""The control API under ``/_mockle/``: a public contract (documented in docs/control-api.md).

Routes here: health, reset, app installation, agent definitions (``/_mockle/agents``),
conversations (list, detail, agent join and publish, close, transfer). The journal, the long-poll
on a conversation and the webhook delivery log are in :mod:`mockle.web.inspect`. Bodies are JSON
objects checked by pydantic models (unknown fields are refused: a typo must not be silently
ignored); a bad body answers 400 naming the field, an unknown conversation 404, a closed one 400.
Errors use the same ``.ReqBody$ErrorResp`` envelope as the rest of mockle.
"""

from __future__ import annotations

from typing import Any, Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, field_validator

from mockle.core import agents, errors, render
from mockle.core.apps import App, app_from_manifest
from mockle.core.effects import Effects
from mockle.core.engine import Engine
from mockle.core.model import Consumer, Conversation
from mockle.core.retention import AppRetention
from mockle.core.schemas import SchemaSet
from mockle.settings import ConfigError
from mockle.web.bodies import read_json, read_model
from mockle.web.responses import error_of, error_response, json_response
from mockle.web.runtime import RUNTIME, Runtime
from mockle.web.webhooks import WebhookWorker

APP_SCHEMA = "control/appInstallation.json"
EVENT_SCHEMA = "ms/events/event.json"


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


MESSAGE_EVENTS = frozenset({"ContentEvent", "RichContentEvent"})


def consumer_name(consumer: Consumer | None, consumer_id: str) -> str:
    """How a person names the consumer: the profile's first and last name (SetUserProfile),
    else the ext consumer id, else the LivePerson consumer id."""
    if consumer is not None:
        profile = consumer.profile
        parts = [profile.get("firstName"), profile.get("lastName")]
        name = " ".join(p.strip() for p in parts if isinstance(p, str) and p.strip())
        if name:
            return name
        if consumer.ext_id:
            return consumer.ext_id
    return consumer_id


def last_message(conv: Conversation) -> dict[str, Any] | None:
    """The change item of the conversation's latest message (text, rich content, file)."""
    for stored in reversed(conv.timeline):
        if stored.event_type in MESSAGE_EVENTS:
            return stored.change
    return None


def conversation_json(engine: Engine, conv: Conversation) -> dict[str, Any]:
    account = engine.accounts[conv.account]
    agent_pid = conv.assigned_agent()
    agent = account.agents.get(agent_pid) if agent_pid else None
    consumer = account.consumers.get(conv.consumer_id)
    return {
        "conversationId": conv.conv_id,
        "account": conv.account,
        "consumerId": conv.consumer_id,
        "extConsumerId": consumer.ext_id if consumer is not None else None,
        "consumerName": consumer_name(consumer, conv.consumer_id),
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
        "lastMessage": last_message(conv),
    }


def find_conversation(engine: Engine, conv_id: str, account: str | None = None) -> Conversation:
    conv = engine.find(conv_id, account)
    if conv is None:
        where = f" on account {account}" if account else ""
        why = (
            " any more: it was closed and forgotten to bound memory (--max-closed-conversations)"
            if engine.forgotten(conv_id, account)
            else ""
        )
        raise errors.NotFound(f"conversation {conv_id!r} does not exist{where}{why}")
    return conv


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
        for conv in engine.conversations(acc)
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
    doc["events"] = [ev.json() for ev in conv.timeline]
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
            raise errors.conversation_closed(conv.conv_id, conv.close_reason)
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


def app_json(app: App, worker: WebhookWorker | None = None) -> dict[str, Any]:
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
    return json_response({"apps": [app_json(app, runtime.webhooks) for app in apps]})


def install_startup_apps(runtime: Runtime, manifests: list[tuple[str, Any]]) -> None:
    """``--app FILE`` (repeatable): install each manifest; a bad one stops mockle."""
    for path, manifest in manifests:
        try:
            runtime.startup_apps.append(install_app(runtime.engine, manifest))
        except errors.MockleError as exc:
            raise ConfigError(f"app manifest {path}: {exc.message}") from None


# -- agents -----------------------------------------------------------------------------


def agent_json(runtime: Runtime, agent: Any) -> dict[str, Any]:
    world = runtime.world
    online = bool(world.subscriptions.of(agent.account, agent.pid))
    return {
        **agents.as_json(agent),
        "availability": world.routing.availability(agent.account, agent.pid),
        "connected": online,
    }


async def post_agents(request: web.Request) -> web.Response:
    """One definition or a list of them (``control/agentDefinition.json``); all or nothing."""
    runtime = request.app[RUNTIME]
    try:
        doc = await read_json(request)
        docs = doc if isinstance(doc, list) else [doc]
        for i, one in enumerate(docs):  # check every one before defining any
            SchemaSet.default().validate(agents.DEFINITION_SCHEMA, one, prefix=f"$[{i}]")
        made = [agents.define(runtime.engine, one, prefix=f"$[{i}]") for i, one in enumerate(docs)]
    except errors.MockleError as exc:
        return error_of(exc)
    return json_response({"agents": [agent_json(runtime, a) for a in made]}, 201)


async def list_agents(request: web.Request) -> web.Response:
    runtime = request.app[RUNTIME]
    found = agents.logins(runtime.engine, request.query.get("account") or None)
    return json_response({"agents": [agent_json(runtime, a) for a in found]})


async def delete_agent(request: web.Request) -> web.Response:
    runtime = request.app[RUNTIME]
    account, login = request.match_info["account"], request.match_info["login"]
    agent = agents.remove(runtime.engine, account, login)
    if agent is None:
        return error_response(404, "Not Found", f"no agent {login!r} on account {account}")
    return json_response({"deleted": agents.as_json(agent)})


# -- reset and health -----------------------------------------------------------------


async def reset(request: web.Request) -> web.Response:
    runtime = request.app[RUNTIME]
    account = request.query.get("account") or None
    runtime.hub.dispatch(runtime.world.reset(account))
    for app in runtime.startup_apps:  # --app installations survive a reset
        if account is None or app.account == account:
            runtime.engine.apps.add(app)
    return json_response({"reset": account or "all"})


async def stats(request: web.Request) -> web.Response:
    """What mockle holds now, and what it forgot to stay within its memory bounds."""
    runtime = request.app[RUNTIME]
    world = runtime.world
    return json_response(
        {
            **world.engine.stats(),
            "sockets": world.subscriptions.sizes(),
            "journalEntries": len(runtime.journal.entries),
            "journalSize": runtime.settings.journal_size,
        }
    )


async def health(request: web.Request) -> web.Response:
    runtime = request.app[RUNTIME]
    if not runtime.ready:
        return json_response({"status": "starting"}, 503)
    return json_response({"status": "ok"})


def setup(app: web.Application) -> None:
    r = app.router
    r.add_get("/_mockle/health", health)
    r.add_get("/_mockle/stats", stats)
    r.add_post("/_mockle/reset", reset)
    r.add_post("/_mockle/apps", post_app)
    r.add_get("/_mockle/apps", list_apps)
    r.add_post("/_mockle/agents", post_agents)
    r.add_get("/_mockle/agents", list_agents)
    r.add_delete("/_mockle/agents/{account}/{login}", delete_agent)
    r.add_get("/_mockle/conversations", list_conversations)
    r.add_get("/_mockle/conversations/{id}", get_conversation)
    r.add_post("/_mockle/conversations/{id}/agent/join", join_agent)
    r.add_post("/_mockle/conversations/{id}/agent/publish", agent_publish)
    r.add_post("/_mockle/conversations/{id}/close", close_conversation)
    r.add_post("/_mockle/conversations/{id}/transfer", transfer_conversation)
