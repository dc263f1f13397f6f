"""The peripheral services a client calls first: Domain API (CSDS), Sentinel, IDP.

Sans I/O: each function takes what the web layer read and returns ``(status, body)``.
"""

from __future__ import annotations

import secrets
from typing import Any

from mockle.core import errors, render
from mockle.core.apps import App
from mockle.core.connector import verify_app_jwt
from mockle.core.engine import Engine
from mockle.core.jsondoc import load_json
from mockle.core.schemas import SchemaSet

# Service names real clients look up (protocol.md §1.1, connector-api.md §2).
SERVICES = (
    "asyncMessagingEnt",
    "asyncMessaging",
    "facadeMsg",
    "idp",
    "sentinel",
    "agentVep",
    "smt",
    "swift",
    "acCdnDomain",
    "accountConfigReadOnly",
    "accountConfigReadWrite",
    "leDataReporting",
    "msgHist",
    "mtlsGateway",
    "liveEngageUI",
    "visitorFeed",
    "etool",
)


def csds_all(account: str, base: str) -> dict[str, Any]:
    return {"baseURIs": [{"service": s, "account": account, "baseURI": base} for s in SERVICES]}


def csds_one(account: str, service: str, base: str) -> dict[str, Any]:
    return {"service": service, "account": account, "baseURI": base}


def _oauth_error(status: int, error: str, description: str) -> tuple[int, dict[str, Any]]:
    return status, {"error": error, "error_description": description}


def app_token(engine: Engine, account: str, params: dict[str, str]) -> tuple[int, dict[str, Any]]:
    """Sentinel ``client_credentials``: parameters from the query and/or the form body."""
    grant = params.get("grant_type")
    if grant is None:
        return _oauth_error(
            400, "invalid_request", "grant_type is missing (expected client_credentials)"
        )
    if grant != "client_credentials":
        return _oauth_error(
            400,
            "unsupported_grant_type",
            f"grant_type {grant!r} is not supported (expected client_credentials)",
        )
    client_id, secret = params.get("client_id"), params.get("client_secret")
    for name, value in (("client_id", client_id), ("client_secret", secret)):
        if not value:
            return _oauth_error(401, "invalid_client", f"{name} is missing")
    assert client_id is not None and secret is not None
    app = engine.apps.get(account, client_id)
    if app is None:
        if engine.config.strict_apps:
            return _oauth_error(
                401,
                "invalid_client",
                f"no app with client_id {client_id!r} is installed on account {account}",
            )
        engine.apps.add(App(account, client_id, secret, registered=False))
    elif not _same_secret(app.client_secret, secret):
        return _oauth_error(
            401, "invalid_client", f"client_secret does not match client_id {client_id!r}"
        )
    token = engine.tokens.mint_app_jwt(account, client_id, engine.config.app_jwt_ttl)
    return 200, {"access_token": token, "token_type": "Bearer"}


def _same_secret(expected: str, given: str) -> bool:
    """Constant-time comparison that accepts any text (``compare_digest`` refuses non-ASCII)."""
    return secrets.compare_digest(
        expected.encode("utf-8", "surrogatepass"), given.encode("utf-8", "surrogatepass")
    )


def consumer_jws(
    engine: Engine, account: str, authorization: str | None, body: bytes
) -> tuple[int, dict[str, Any]]:
    """IDP ``/consumer``: an AppJWT and ``{"ext_consumer_id"}`` -> 201 ``{"token"}``."""
    try:
        verify_app_jwt(engine, account, authorization)
        doc = load_json(body) if body.strip() else None
        SchemaSet.default().validate("identity/consumerJwsRequest.json", doc)
    except errors.MockleError as exc:
        return exc.http_status, render.error_envelope(
            exc.http_status, exc.title, exc.details, exc.error_code, exc.where
        )
    assert isinstance(doc, dict)
    token = engine.tokens.mint_consumer_jws(
        account, str(doc["ext_consumer_id"]), engine.config.consumer_jws_ttl
    )
    return 201, {"token": token}


def signup(engine: Engine, account: str) -> tuple[int, dict[str, Any]]:
    """IDP ``/signup``: an unauthenticated consumer identity for the WebSocket."""
    return 200, {"jwt": engine.tokens.mint_signup(account, engine.config.signup_jwt_ttl)}
