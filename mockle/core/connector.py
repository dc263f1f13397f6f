"""The Connector API (CONVERSATION and SEND), sans I/O.

The web layer hands over the account, the raw header strings and the raw body; these
functions authenticate, parse, validate, call the engine and render the documented reply
(connector-api.md §1.4, §3). Every failure becomes a :class:`RestReply` here, so the web
layer only writes what it gets.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from mockle.core import errors, fields, render
from mockle.core.dialects import PUBLISH_EVENT, Dialect, Op, lookup
from mockle.core.engine import Actor, Effects, Engine, parse_client_properties
from mockle.core.jsondoc import load_json
from mockle.core.model import CONSUMER, Consumer
from mockle.core.requests import Request, conversation_id_of, parse_request
from mockle.core.tokens import (
    APP_JWT,
    CONSUMER_JWS,
    SENTINEL_ISSUER,
    TokenInfo,
    TokenInvalid,
)

SEND_TYPES = (
    "ms.PublishEvent",
    "cm.UpdateConversationField",
    "userprofile.SetUserProfile",
    "ms.GenerateURLForUploadFile",
    "ms.GenerateURLForDownloadFile",
)
BEARER = ("bearer",)  # the Connector API's tokens come bare or as "Bearer <token>"
# the two requests a CONVERSATION batch starts with: operation, type name, JSON path
FIRST_TWO = (
    (Op.SET_USER_PROFILE, "userprofile.SetUserProfile", "$[0]"),
    (Op.REQUEST_CONVERSATION, "cm.ConsumerRequestConversation", "$[1]"),
)
SEND_OPS = frozenset(
    {
        Op.PUBLISH_EVENT,
        Op.UPDATE_CONVERSATION_FIELD,
        Op.SET_USER_PROFILE,
        Op.GENERATE_UPLOAD_URL,
        Op.GENERATE_DOWNLOAD_URL,
    }
)


@dataclass(slots=True)
class RestReply:
    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)
    consumer_id: str | None = None
    conversation_id: str | None = None
    # mockle's explanation of a refusal, beside the documented body (which stays as the real
    # service words it): the web layer writes it as the x-mockle-hint header
    hint: str | None = None
    request: Request | None = None  # the request as parsed (the journal's log line reads it)


@dataclass(slots=True)
class RestCall:
    """One Connector API call as the web layer read it."""

    account: str
    authorization: str | None
    on_behalf: str | None
    client_properties: str | None
    body: bytes


def error_reply(exc: errors.MockleError) -> RestReply:
    """Render a core error the Connector API way."""
    if isinstance(exc, errors.RequestFailed) and not isinstance(exc, errors.Forbidden):
        return RestReply(exc.http_status, render.rest_failed(None, exc.message), hint=exc.hint)
    body = render.error_envelope(exc.http_status, exc.title, exc.details, exc.error_code, exc.where)
    headers = {}
    if isinstance(exc, errors.RateLimited):
        headers["Retry-After"] = str(exc.retry_after)
    return RestReply(exc.http_status, body, headers, hint=exc.hint)


def verify_app_jwt(engine: Engine, account: str, authorization: str | None) -> TokenInfo:
    if not authorization or not authorization.strip():
        raise errors.app_jwt_missing()
    try:
        info = engine.tokens.verify_header(authorization, BEARER)
    except TokenInvalid as exc:
        raise errors.invalid_app_jwt(str(exc)) from None
    if info.kind is not APP_JWT:
        raise errors.invalid_app_jwt(f"a {info.kind.value} was given where an AppJWT belongs")
    if not info.account or info.claims.get("iss") != SENTINEL_ISSUER:
        raise errors.missing_parameter("the AppJWT lacks the 'aud' account or the Sentinel 'iss'")
    if info.account != account:
        raise errors.invalid_app_jwt(f"issued for account {info.account}, not {account}")
    return info


def verify_consumer(engine: Engine, account: str, on_behalf: str | None) -> Consumer:
    if not on_behalf or not on_behalf.strip():
        raise errors.consumer_jws_missing()
    try:
        info = engine.tokens.verify_header(on_behalf, BEARER)
    except TokenInvalid as exc:
        raise errors.invalid_consumer_jws(str(exc)) from None
    if info.kind is not CONSUMER_JWS:
        raise errors.invalid_consumer_jws(
            f"a {info.kind.value} was given where a ConsumerJWS belongs"
        )
    if info.account != account:
        raise errors.invalid_consumer_jws(f"issued for account {info.account}, not {account}")
    return engine.consumer(info)


def _authenticate(engine: Engine, call: RestCall) -> Consumer:
    verify_app_jwt(engine, call.account, call.authorization)
    consumer = verify_consumer(engine, call.account, call.on_behalf)
    engine.rate_limiter.check(call.account, consumer.consumer_id)
    return consumer


def _load(body: bytes) -> Any:
    if not body.strip():
        raise errors.InvalidRequest(
            "the request body is empty; a JSON document is expected", where="$"
        )
    return load_json(body)


def conversation(engine: Engine, call: RestCall) -> tuple[RestReply, Effects]:
    """CONVERSATION: ``[SetUserProfile, ConsumerRequestConversation, ...]``."""
    fx = Effects()
    try:
        consumer = _authenticate(engine, call)
        reqs = _parse_batch(_load(call.body))
    except errors.MockleError as exc:
        return error_reply(exc), fx
    props = parse_client_properties(call.client_properties)
    items = [
        render.rest_ok(_rid(reqs[0]), {"msg": engine.set_user_profile(consumer, reqs[0].body)})
    ]
    status, conv_id, hint = 200, None, None
    try:
        conv = engine.request_conversation(consumer, reqs[1].body, fx, client_properties=props)
        conv_id = conv.conv_id
        items.append(render.rest_ok(_rid(reqs[1]), {"conversationId": conv_id}))
    except errors.RequestFailed as exc:
        status, hint = 400, exc.hint
        items.append(render.rest_failed(_rid(reqs[1]), exc.message))
    if len(reqs) > 2:  # requests follow (the common batch has none: no Actor built for it)
        actor = Actor(call.account, consumer.consumer_id, CONSUMER, props)
        for req in reqs[2:]:
            body = req.body
            if conv_id is not None and isinstance(body, dict) and body.get("dialogId") == "":
                req.body = {**body, "dialogId": conv_id}
            try:
                items.append(render.rest_ok(_rid(req), _dispatch(engine, consumer, actor, req, fx)))
            except errors.MockleError as exc:
                status, hint = 400, hint or exc.hint
                items.append(render.rest_failed(_rid(req), exc.message))
    reply = RestReply(
        status,
        items,
        consumer_id=consumer.consumer_id,
        conversation_id=conv_id,
        hint=hint,
        request=reqs[1],
    )
    return reply, fx


def _rid(req: Request) -> str:
    return req.id if req.id is not None else "0"


def _parse_batch(doc: Any) -> list[Request]:
    if isinstance(doc, dict):
        doc = [doc]
    if not isinstance(doc, list):
        raise errors.InvalidRequest("the body must be a JSON array of requests", where="$")
    if len(doc) < 2:
        raise errors.InvalidRequest(
            f"CONVERSATION needs at least two requests (userprofile.SetUserProfile, then "
            f"cm.ConsumerRequestConversation); got {len(doc)}",
            where="$",
        )
    # the first two must be SetUserProfile and ConsumerRequestConversation, both checked
    # before either is validated; each type is looked up once (parse_request reuses it)
    found_types: list[tuple[Op, Dialect] | None] = []
    for i, (op, name, _) in enumerate(FIRST_TWO):
        item = doc[i]
        type_name = item.get("type") if isinstance(item, dict) else None
        found = lookup(type_name) if isinstance(type_name, str) else None
        if found is not None and found[0] is not op:
            raise errors.InvalidRequest(
                f"request {i + 1} must be {name}, got {type_name!r} "
                "(order: userprofile.SetUserProfile, then cm.ConsumerRequestConversation)",
                where=f"$[{i}].type",
            )
        found_types.append(found)
    reqs = []
    for (_, _, prefix), found, item in zip(FIRST_TWO, found_types, doc, strict=False):  # doc[:2]
        reqs.append(parse_request(item, prefix=prefix, found=found))
    if len(doc) == 2:  # the common batch: nothing follows
        return reqs
    for i in range(2, len(doc)):
        item = doc[i]
        if isinstance(item, dict) and isinstance(item.get("body"), dict):
            body = item["body"]
            if (
                item.get("type") in ("ms.PublishEvent", ".ams.ms.PublishEvent")
                and "dialogId" not in body
            ):
                item = {**item, "body": {**body, "dialogId": ""}}
        reqs.append(parse_request(item, prefix=f"$[{i}]"))
    for i, req in enumerate(reqs[2:], start=2):
        if req.op not in SEND_OPS:
            raise errors.InvalidRequest(
                f"{req.type!r} cannot follow in a CONVERSATION batch", where=f"$[{i}].type"
            )
    return reqs


def send(engine: Engine, call: RestCall, *, max_chars: int = 0) -> tuple[RestReply, Effects]:
    """SEND: one request (publish, update field, profile, file URLs)."""
    fx = Effects()
    try:
        consumer = _authenticate(engine, call)
        doc = _load(call.body)
        if isinstance(doc, list):
            raise errors.InvalidRequest("SEND takes one request object, not an array", where="$")
        req = parse_request(doc)
        if req.op not in SEND_OPS:
            raise errors.InvalidRequest(
                f"type {req.type!r} is not accepted by SEND (accepted: {', '.join(SEND_TYPES)})",
                where="$.type",
            )
    except errors.MockleError as exc:
        return error_reply(exc), fx
    rid = _rid(req)
    conv_id = conversation_id_of(req.body)
    if max_chars and len(call.body) > max_chars and not _is_file(req):
        hint = (
            f"the SEND body is {len(call.body)} bytes, over the {max_chars} of --send-max-chars "
            "(LiveEngage refuses SEND bodies over 5000 characters; --send-max-chars 0 turns "
            "the check off)"
        )
        reply = RestReply(
            400,
            render.rest_failed(rid, "Bad Request"),
            consumer_id=consumer.consumer_id,
            hint=hint,
            request=req,
        )
        return reply, fx
    actor = Actor(
        call.account,
        consumer.consumer_id,
        CONSUMER,
        parse_client_properties(call.client_properties),
    )
    try:
        body = _dispatch(engine, consumer, actor, req, fx)
    except errors.Forbidden as exc:
        return error_reply(exc), Effects()
    except errors.MockleError as exc:
        failed = render.rest_failed(rid, exc.message)
        reply = RestReply(
            exc.http_status,
            failed,
            consumer_id=consumer.consumer_id,
            conversation_id=conv_id,
            hint=exc.hint,
            request=req,
        )
        return reply, Effects()
    reply = RestReply(
        200,
        render.rest_ok(rid, body),
        consumer_id=consumer.consumer_id,
        conversation_id=conv_id,
        request=req,
    )
    return reply, fx


def _is_file(req: Request) -> bool:
    event = req.body.get("event") if isinstance(req.body, dict) else None
    return isinstance(event, dict) and event.get("contentType") == "hosted/file"


def _dispatch(engine: Engine, consumer: Consumer, actor: Actor, req: Request, fx: Effects) -> Any:
    if req.op is PUBLISH_EVENT:  # the usual SEND first
        return {"sequence": engine.publish(actor, req.body, fx, metadata=req.metadata)}
    if req.op is Op.UPDATE_CONVERSATION_FIELD:
        return {"msg": fields.update(engine, actor, req.body, fx)}
    if req.op is Op.SET_USER_PROFILE:
        return {"msg": engine.set_user_profile(consumer, req.body)}
    if req.op is Op.GENERATE_UPLOAD_URL:
        return engine.upload_url(consumer.account, req.body)
    return engine.download_url(consumer.account, req.body)
