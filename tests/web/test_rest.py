"""The REST services over HTTP (aiohttp test client): CSDS, Sentinel, IDP, Connector API."""

from __future__ import annotations

from typing import Any

import jwt
import pytest
from aiohttp.test_utils import TestClient

from mockle.settings import Settings
from mockle.web.app import create_app

ACC = "le12345678"
CONV = f"/api/account/{ACC}/messaging/consumer/conversation?v=3"
SEND = f"/api/account/{ACC}/messaging/consumer/conversation/send?v=3"


@pytest.fixture
async def client(aiohttp_client: Any) -> TestClient:
    return await aiohttp_client(create_app(Settings(port=0, agent="manual")))


async def app_jwt(client: TestClient, client_id: str = "cid", secret: str = "sec") -> str:
    r = await client.post(
        f"/sentinel/api/account/{ACC}/app/token?v=1.0&grant_type=client_credentials",
        data={"client_id": client_id, "client_secret": secret},
    )
    assert r.status == 200, await r.text()
    return str((await r.json())["access_token"])


async def consumer_jws(client: TestClient, app: str, ext: str = "ext") -> str:
    r = await client.post(
        f"/api/account/{ACC}/consumer?v=1.0",
        json={"ext_consumer_id": ext},
        headers={"Authorization": app},
    )
    assert r.status == 201, await r.text()
    return str((await r.json())["token"])


@pytest.mark.parametrize(
    "path",
    [
        f"/api/account/{ACC}/service/baseURI.json?version=1.0",
        f"/api/account/{ACC}/service/baseURI?version=1.0",
        f"/csdr/account/{ACC}/service/baseURI.json?version=1.0",
    ],
)
async def test_csds_all_services_point_at_the_host_used(client: TestClient, path: str) -> None:
    r = await client.get(path, headers={"Host": "mock.example:1234"})
    assert r.status == 200
    doc = await r.json()
    services = {e["service"]: e for e in doc["baseURIs"]}
    for name in (
        "asyncMessagingEnt",
        "idp",
        "sentinel",
        "agentVep",
        "facadeMsg",
        "swift",
        "accountConfigReadWrite",
    ):
        assert services[name] == {"service": name, "account": ACC, "baseURI": "mock.example:1234"}


async def test_csds_single_service_any_name(client: TestClient) -> None:
    r = await client.get(
        f"/api/account/{ACC}/service/someNewService/baseURI.json?version=1.0",
        headers={"Host": "h:1"},
    )
    assert await r.json() == {"service": "someNewService", "account": ACC, "baseURI": "h:1"}


async def test_csds_public_address(aiohttp_client: Any) -> None:
    client = await aiohttp_client(create_app(Settings(port=0, public_address="mockle:8080")))
    r = await client.get(f"/api/account/{ACC}/service/idp/baseURI.json?version=1.0")
    assert (await r.json())["baseURI"] == "mockle:8080"


async def test_sentinel_form_body_and_query_forms(client: TestClient) -> None:
    token = await app_jwt(client)
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["aud"] == ACC and claims["azp"] == "cid" and claims["scope"] == "msg.consumer"
    assert claims["iss"] == "Sentinel" and claims["exp"] - claims["iat"] == 3600
    assert jwt.get_unverified_header(token)["alg"] == "RS256"
    r = await client.post(
        f"/sentinel/api/account/{ACC}/app/token?v=1.0&grant_type=client_credentials&client_id=cid&client_secret=sec",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert r.status == 200 and (await r.json())["token_type"] == "Bearer"
    assert r.headers["Content-Type"].startswith("application/json")
    r = await client.post(
        f"/sentinel/api/account/{ACC}/app/token?v=1.0",
        data={"grant_type": "client_credentials", "client_id": "cid", "client_secret": "sec"},
    )
    assert r.status == 200


@pytest.mark.parametrize(
    ("query", "data", "status", "fragment"),
    [
        (
            "v=1.0&grant_type=password",
            {"client_id": "a", "client_secret": "b"},
            400,
            "grant_type 'password'",
        ),
        ("v=1.0", {"client_id": "a", "client_secret": "b"}, 400, "grant_type is missing"),
        (
            "v=1.0&grant_type=client_credentials",
            {"client_secret": "b"},
            401,
            "client_id is missing",
        ),
        (
            "v=1.0&grant_type=client_credentials",
            {"client_id": "a"},
            401,
            "client_secret is missing",
        ),
    ],
)
async def test_sentinel_errors_say_which(
    client: TestClient, query: str, data: dict[str, str], status: int, fragment: str
) -> None:
    r = await client.post(f"/sentinel/api/account/{ACC}/app/token?{query}", data=data)
    assert r.status == status
    assert fragment in (await r.json())["error_description"]


async def test_sentinel_remembers_the_pair_and_strict_mode_refuses_strangers(
    client: TestClient, aiohttp_client: Any
) -> None:
    await app_jwt(client, "cid", "sec")
    r = await client.post(
        f"/sentinel/api/account/{ACC}/app/token?v=1.0&grant_type=client_credentials",
        data={"client_id": "cid", "client_secret": "other"},
    )
    assert r.status == 401
    strict = await aiohttp_client(create_app(Settings(port=0, strict_apps=True)))
    r = await strict.post(
        f"/sentinel/api/account/{ACC}/app/token?v=1.0&grant_type=client_credentials",
        data={"client_id": "x", "client_secret": "y"},
    )
    assert r.status == 401 and (await r.json())["error"] == "invalid_client"


async def test_consumer_jws_is_stable_per_ext_id(client: TestClient) -> None:
    app = await app_jwt(client)
    one = jwt.decode(await consumer_jws(client, app, "john"), options={"verify_signature": False})
    two = jwt.decode(
        await consumer_jws(client, f"Bearer {app}", "john"), options={"verify_signature": False}
    )
    other = jwt.decode(await consumer_jws(client, app, "jane"), options={"verify_signature": False})
    assert one["lp_consumer_id"] == two["lp_consumer_id"] != other["lp_consumer_id"]
    assert len(one["lp_consumer_id"]) == 64 and int(one["lp_consumer_id"], 16) >= 0
    assert one["account_id"] == ACC and one["ext_consumer_id"] == "john"
    r = await client.post(
        f"/api/account/{ACC}/consumer",
        json={"ext_consumer_id": "x"},
        headers={"Authorization": app},
    )
    assert r.status == 201  # no ?v=1.0 (Botium)


@pytest.mark.parametrize(
    ("headers", "body", "status", "code"),
    [
        ({}, {"ext_consumer_id": "x"}, 401, 40105),
        ({"Authorization": "nope"}, {"ext_consumer_id": "x"}, 401, 40102),
        (None, {"ext": "x"}, 400, 40000),
        (None, "not json", 400, 40000),
    ],
)
async def test_consumer_jws_errors(
    client: TestClient, headers: dict[str, str] | None, body: Any, status: int, code: int
) -> None:
    if headers is None:
        headers = {"Authorization": await app_jwt(client)}
    kwargs: dict[str, Any] = {"data": body} if isinstance(body, str) else {"json": body}
    r = await client.post(f"/api/account/{ACC}/consumer?v=1.0", headers=headers, **kwargs)
    assert r.status == status
    assert (await r.json())["body"]["errorCode"] == code


async def test_signup_jwt_claims(client: TestClient) -> None:
    r = await client.post(f"/api/account/{ACC}/signup")
    token = (await r.json())["jwt"]
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["aud"] == f"acc:{ACC}" and claims["iss"] == "https://idp.liveperson.net"
    assert {"sub", "iat", "exp"} <= set(claims) and len(claims["sub"]) == 36


async def test_conversation_and_send_over_http(client: TestClient) -> None:
    app = await app_jwt(client)
    jws = await consumer_jws(client, app)
    headers = {
        "Authorization": app,
        "X-LP-ON-BEHALF": jws,
        "Client-Properties": '{"type":".ClientProperties","features":["AUTO_MESSAGES"]}',
    }
    body = [
        {"kind": "req", "id": "1,", "type": "userprofile.SetUserProfile", "body": {}},
        {
            "kind": "req",
            "id": "2,",
            "type": "cm.ConsumerRequestConversation",
            "body": {"brandId": ACC},
        },
    ]
    r = await client.post(CONV, json=body, headers=headers)
    assert r.status == 200
    items = await r.json()
    conv = items[1]["body"]["conversationId"]
    msg = {
        "kind": "req",
        "id": "1",
        "type": "ms.PublishEvent",
        "body": {
            "dialogId": conv,
            "event": {"type": "ContentEvent", "contentType": "text/plain", "message": "hi"},
        },
    }
    r = await client.post(SEND, json=msg, headers=headers)
    assert await r.json() == {"reqId": "1", "code": "OK", "body": {"sequence": 0}}


async def test_oversized_body_is_413_with_envelope(aiohttp_client: Any) -> None:
    client = await aiohttp_client(create_app(Settings(port=0, max_body_size=2048)))
    r = await client.post(
        SEND, data=b"x" * 5000, headers={"Authorization": "a", "X-LP-ON-BEHALF": "b"}
    )
    assert r.status == 413
    doc = await r.json()
    assert doc["type"] == ".ReqBody$ErrorResp" and doc["code"] == 413


async def test_unknown_route_and_method_are_json(client: TestClient) -> None:
    r = await client.get("/nope")
    assert r.status == 404 and (await r.json())["type"] == ".ReqBody$ErrorResp"
    r = await client.get(SEND)
    assert r.status == 405 and "POST" in (await r.json())["body"]["details"]
