"""Security: isolation between consumers over both channels, token checks, the admin token,
the loopback bind, and the request and frame size limits."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import socket
from typing import Any

import aiohttp
import jwt
import orjson
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from mockle.cli import build_parser, settings_from
from mockle.core.tokens import APPJWT_KID
from mockle.server import MockleServer
from mockle.settings import Settings
from tests.robustness.conftest import Served, tamper, ws_answer, ws_closed
from tests.robustness.helpers import (
    ACC,
    CONV,
    OTHER_ACC,
    SEND,
    close_request,
    get_clock,
    profile_request,
    request_conversation,
    subscribe_events,
    text_event,
)

pytestmark = pytest.mark.timeout(60)


def _frame(type_name: str, body: Any, rid: str = "1") -> str:
    return orjson.dumps({"kind": "req", "id": rid, "type": type_name, "body": body}).decode()


async def _two_consumers(s: Served) -> tuple[dict[str, str], str, dict[str, str], str]:
    """Alice and Bob, each with an open conversation with one message in it."""
    alice, bob = s.headers("alice"), s.headers("bob")
    alice_conv, bob_conv = await s.open_conversation(alice), await s.open_conversation(bob)
    for headers, conv in ((alice, alice_conv), (bob, bob_conv)):
        status, doc = await s.post(SEND, text_event(conv, "private"), headers)
        assert status == 200, doc
    return alice, alice_conv, bob, bob_conv


def _snapshot(s: Served, conv_id: str) -> tuple[Any, ...]:
    conv = s.engine.conversation(ACC, conv_id)
    return (
        conv.state,
        conv.stage,
        repr(conv.csat),
        conv.ttr_type,
        len(conv.timeline),
        [(d.state, len(d.events)) for d in conv.dialogs],
    )


# -- isolation over REST ---------------------------------------------------------------------------


async def test_a_consumer_cannot_touch_another_consumers_conversation_over_rest(
    serve: Any,
) -> None:
    s: Served = await serve()
    alice, alice_conv, bob, bob_conv = await _two_consumers(s)
    before = _snapshot(s, alice_conv)
    csat = {"field": "CSATRate", "csatRate": 1}
    ttr = {"field": "TTRField", "ttrType": "URGENT", "value": 1}
    dialog = {"field": "DialogChange", "type": "UPDATE", "dialog": {"dialogId": alice_conv}}
    attempts = [
        text_event(alice_conv, "bob was here"),
        {**text_event(alice_conv), "type": ".ams.ms.PublishEvent"},
        {
            "type": "ms.PublishEvent",
            "body": {
                "dialogId": alice_conv,
                "event": {"type": "AcceptStatusEvent", "status": "READ", "sequenceList": [0]},
            },
        },
        {
            "type": "ms.PublishEvent",
            "body": {
                "dialogId": alice_conv,
                "event": {"type": "ChatStateEvent", "chatState": "COMPOSING"},
            },
        },
        close_request(alice_conv),
        {
            "type": "cm.UpdateConversationField",
            "body": {"conversationId": alice_conv, "conversationField": [csat, ttr]},
        },
        {
            "type": "cm.UpdateConversationField",
            "body": {"conversationId": alice_conv, "conversationField": dialog},
        },
    ]
    for attempt in attempts:
        status, doc = await s.post(SEND, attempt, bob)
        assert status == 401, (attempt, doc)
        assert doc["body"]["errorCode"] == 40103, doc
        assert "belongs to another consumer" in doc["body"]["details"], doc
    # Bob's own dialog with Alice's conversation id next to it is not a way in either
    mixed = text_event(bob_conv)
    mixed["body"]["conversationId"] = alice_conv
    status, doc = await s.post(SEND, mixed, bob)
    assert status == 400 and doc["code"] == "BAD_REQUEST", doc
    # a third item in Bob's CONVERSATION batch aimed at Alice's conversation
    await s.post(SEND, close_request(bob_conv), bob)
    batch = [profile_request(), request_conversation(), text_event(alice_conv, rid="3")]
    status, doc = await s.post(CONV, batch, bob)
    assert status == 400 and doc[2]["code"] == "BAD_REQUEST", doc
    assert _snapshot(s, alice_conv) == before
    assert not s.problems(), s.problems()


async def test_file_urls_of_another_account_are_refused(serve: Any) -> None:
    s: Served = await serve()
    path = f"/v1/AUTH_async-images/{OTHER_ACC}/f.PNG"
    body = {"type": "ms.GenerateURLForDownloadFile", "body": {"relativePath": path}}
    status, doc = await s.post(SEND, body, s.headers("alice"))
    assert status == 400 and "is not a file of account" in doc["body"]["msg"], doc


# -- isolation over the WebSocket ------------------------------------------------------------------


async def test_a_consumer_cannot_read_publish_close_or_subscribe_over_the_socket(
    serve: Any,
) -> None:
    s: Served = await serve()
    alice, alice_conv, bob, bob_conv = await _two_consumers(s)
    before = _snapshot(s, alice_conv)
    ws = await s.ws(s.jws("bob"))
    attempts = [
        ("ms.SubscribeMessagingEvents", {"dialogId": alice_conv, "fromSeq": 0}),
        (".ams.ms.QueryMessages", {"dialogId": alice_conv}),
        (
            "ms.PublishEvent",
            {
                "dialogId": alice_conv,
                "event": {"type": "ContentEvent", "contentType": "text/plain", "message": "bob"},
            },
        ),
        (
            "cm.UpdateConversationField",
            {
                "conversationId": alice_conv,
                "conversationField": [
                    {"field": "ConversationStateField", "conversationState": "CLOSE"}
                ],
            },
        ),
        (
            "userprofile.GetUserProfile",
            {"userId": s.engine.conversation(ACC, alice_conv).consumer_id},
        ),
    ]
    for i, (type_name, body) in enumerate(attempts):
        await ws.send_str(_frame(type_name, body, str(i)))
        resp = await ws_answer(ws)
        assert resp["reqId"] == str(i) and resp["code"] == 403, resp
    # conversation metadata: whatever the filters, only Bob's own conversations
    alice_id = s.engine.conversation(ACC, alice_conv).consumer_id
    bob_id = s.engine.conversation(ACC, bob_conv).consumer_id
    filters = [{}, {"consumerId": alice_id}, {"brandId": ACC, "convState": ["OPEN", "CLOSE"]}]
    for rid, body in enumerate(filters):
        await ws.send_str(_frame("cqm.SubscribeExConversations", body, f"ex{rid}"))
        assert (await ws_answer(ws))["code"] == 200
        first = orjson.loads((await ws.receive(timeout=5)).data)
        assert first["type"] == "cqm.ExConversationChangeNotification", first
        listed = {c["result"]["convId"] for c in first["body"]["changes"]}
        assert listed <= {bob_conv}, (body, listed)
    # Alice talks and closes: nothing of it reaches Bob's socket
    await s.post(SEND, text_event(alice_conv, "still private"), alice)
    await s.post(SEND, close_request(alice_conv), alice)
    await ws.send_str(orjson.dumps(get_clock("last")).decode())
    frames = []
    while True:
        msg = orjson.loads((await ws.receive(timeout=5)).data)
        if msg.get("reqId") == "last":
            break
        frames.append(msg)
    assert frames == [], frames
    assert alice_id != bob_id
    after = _snapshot(s, alice_conv)
    assert after[0] == "CLOSE" and after[4] == before[4] + 1  # Alice's own two actions
    await ws.close()
    assert not s.problems(), s.problems()


# -- tokens ----------------------------------------------------------------------------------------


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _forged_tokens(s: Served) -> dict[str, tuple[str, str]]:
    """(AppJWT, ConsumerJWS) pairs that must be refused, by what is wrong with them."""
    tokens = s.engine.tokens
    app = tokens.mint_app_jwt(ACC, "robust-client", 3600)
    jws = tokens.mint_consumer_jws(ACC, "alice", 0)
    app_claims = jwt.decode(app, options={"verify_signature": False})
    jws_claims = jwt.decode(jws, options={"verify_signature": False})
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    header = {"kid": APPJWT_KID}

    def unsigned(claims: dict[str, Any]) -> str:
        head = _b64(orjson.dumps({"alg": "none", "typ": "JWT"}))
        return f"{head}.{_b64(orjson.dumps(claims))}."

    def hs256_with_public_key(claims: dict[str, Any]) -> str:
        head = _b64(orjson.dumps({"alg": "HS256", "typ": "JWT", "kid": APPJWT_KID}))
        signing = f"{head}.{_b64(orjson.dumps(claims))}"
        sig = hmac.new(tokens.public_pem(), signing.encode(), hashlib.sha256).digest()
        return f"{signing}.{_b64(sig)}"

    return {
        "other-account": (
            tokens.mint_app_jwt(OTHER_ACC, "robust-client", 3600),
            tokens.mint_consumer_jws(OTHER_ACC, "alice", 0),
        ),
        "tampered-signature": (tamper(app), tamper(jws)),
        "tampered-claims": (
            app.split(".")[0]
            + "."
            + _b64(orjson.dumps({**app_claims, "aud": ACC + "x"}))
            + "."
            + app.split(".")[2],
            jws.split(".")[0]
            + "."
            + _b64(orjson.dumps({**jws_claims, "ext_consumer_id": "b"}))
            + "."
            + jws.split(".")[2],
        ),
        "expired": (
            tokens.mint_app_jwt(ACC, "robust-client", -1),
            tokens.mint_consumer_jws(ACC, "alice", -1),
        ),
        "alg-none": (unsigned(app_claims), unsigned(jws_claims)),
        "hs256-with-the-public-key": (
            hs256_with_public_key(app_claims),
            hs256_with_public_key(jws_claims),
        ),
        "another-key": (
            jwt.encode(app_claims, stranger, algorithm="RS256", headers=header),
            jwt.encode(jws_claims, stranger, algorithm="RS256", headers=header),
        ),
        "swapped": (jws, app),
        "signup-jwt": (tokens.mint_signup(ACC, 3600), tokens.mint_signup(ACC, 3600)),
    }


async def test_foreign_tampered_and_expired_tokens_are_refused_over_rest(serve: Any) -> None:
    s: Served = await serve()
    good = s.headers("alice")
    conv = await s.open_conversation(good)
    for name, (app, jws) in _forged_tokens(s).items():
        status, doc = await s.post(SEND, text_event(conv), {**good, "Authorization": app})
        assert status == 401 and doc["body"]["errorCode"] == 40102, (name, doc)
        status, doc = await s.post(SEND, text_event(conv), {**good, "X-LP-ON-BEHALF": jws})
        assert status == 401 and doc["body"]["errorCode"] == 40103, (name, doc)
        status, doc = await s.post(
            f"/api/account/{ACC}/consumer?v=1.0", {"ext_consumer_id": "z"}, {"Authorization": app}
        )
        assert status == 401, (name, doc)
    assert len(s.engine.conversation(ACC, conv).main.events) == 0
    assert not s.problems(), s.problems()


async def test_foreign_tampered_and_expired_tokens_are_refused_over_the_socket(
    serve: Any,
) -> None:
    s: Served = await serve()
    for name, (app, jws) in _forged_tokens(s).items():
        for token in (app, jws):
            if name == "signup-jwt" or (name == "swapped" and token == app):
                continue  # a signup JWT, or a valid ConsumerJWS: both are socket identities
            ws = await s.ws(token)
            assert await ws_closed(ws) == 4401, (name, token)
            ws = await s.ws(None)
            init = {
                "kind": "req",
                "id": "i",
                "type": "InitConnection",
                "headers": [{"type": ".ams.headers.ConsumerAuthentication", "jwt": token}],
            }
            await ws.send_str(orjson.dumps(init).decode())
            assert (await ws_answer(ws))["code"] == 401, name
            assert await ws_closed(ws) == 4401, name
    # a good token presented on another account's path
    other = f"ws://127.0.0.1:{s.server.port}/ws_api/account/{OTHER_ACC}/messaging/consumer?v=3"
    ws = await s.http.ws_connect(other, headers={"Authorization": f"jwt {s.jws('alice')}"})
    assert await ws_closed(ws) == 4401
    assert not s.problems(), s.problems()


# -- the control API -------------------------------------------------------------------------------


async def test_admin_token_protects_the_control_api_but_not_health(serve: Any) -> None:
    s: Served = await serve(admin_token="s3cret-admin")
    url = s.server.url
    async with s.http.get(url + "/_mockle/health") as r:
        assert r.status == 200
    for auth in (None, "", "Bearer", "Bearer wrong", "s3cret-admin", "bearer s3cret-admin"):
        headers = {} if auth is None else {"Authorization": auth}
        for method, path in (
            ("GET", "/_mockle/conversations"),
            ("POST", "/_mockle/reset"),
            ("GET", "/_mockle/requests"),
            ("POST", "/_mockle/faults"),
            ("GET", "/_mockle/%63onversations"),
            ("GET", "/_mockle/nothing-here"),
        ):
            async with s.http.request(method, url + path, headers=headers, data=b"{}") as r:
                assert r.status == 401, (auth, method, path, r.status)
                doc = await r.json()
                assert doc["type"] == ".ReqBody$ErrorResp"
    good = {"Authorization": "Bearer s3cret-admin"}
    async with s.http.get(url + "/_mockle/conversations", headers=good) as r:
        assert r.status == 200
    # the LiveEngage routes themselves never need the admin token
    conv = await s.open_conversation(s.headers("alice"))
    assert conv
    assert not s.problems(), s.problems()


async def test_admin_token_check_survives_a_non_utf8_authorization(serve: Any) -> None:
    s: Served = await serve(admin_token="s3cret-admin")
    request = (
        b"GET /_mockle/conversations HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \xff\r\n"
        b"Connection: close\r\n\r\n"
    )
    reader, writer = await asyncio.open_connection("127.0.0.1", s.server.port)
    writer.write(request)
    answer = await reader.read()
    writer.close()
    assert answer.startswith(b"HTTP/1.1 401"), answer[:100]


# -- binding and limits ----------------------------------------------------------------------------


async def test_mockle_binds_to_loopback_unless_told_otherwise() -> None:
    assert Settings().host == "127.0.0.1"
    args = build_parser().parse_args(["serve"])
    assert settings_from(args, {}).host == "127.0.0.1"
    async with MockleServer(Settings(port=0)) as server:
        probe = socket.create_connection(("127.0.0.1", server.port), timeout=5)
        assert probe.getpeername()[0] == "127.0.0.1"
        probe.close()
        assert [addr[0] for addr in server.addresses] == ["127.0.0.1"]
    assert settings_from(build_parser().parse_args(["serve", "--host", "0.0.0.0"]), {}).host == (
        "0.0.0.0"
    )


async def test_request_size_limit_holds(serve: Any) -> None:
    s: Served = await serve(max_body_size=2048)
    batch = orjson.dumps([profile_request(), request_conversation()])
    status, doc = await s.post(CONV, batch + b" " * (2048 - len(batch)), s.headers("a"), raw=True)
    assert status == 200, doc
    status, doc = await s.post(CONV, batch + b" " * (2049 - len(batch)), s.headers("b"), raw=True)
    assert status == 413 and doc["body"]["errorCode"] == 41300, doc
    for path in (
        f"/api/account/{ACC}/consumer?v=1.0",
        f"/sentinel/api/account/{ACC}/app/token",
        "/_mockle/apps",
        "/_mockle/faults",
    ):
        async with s.http.post(s.server.url + path, data=b"x" * 4096) as r:
            assert r.status == 413, (path, r.status)
            doc = await r.json()
            assert doc["body"]["errorCode"] == 41300, doc
            assert "--max-body-size" in doc["body"]["details"], doc
    assert not s.problems(), s.problems()


def _clock_frame(size: int) -> str:
    """A GetClock frame of exactly ``size`` bytes."""
    frame = orjson.dumps({**get_clock("fits"), "pad": ""})
    frame = frame.replace(b'"pad":""', b'"pad":"' + b"p" * (size - len(frame)) + b'"')
    assert len(frame) == size
    return frame.decode()


async def test_frame_size_limit_holds(serve: Any) -> None:
    s: Served = await serve(ws_max_frame=2048)
    ws = await s.ws(s.jws("a"))
    await ws.send_str(_clock_frame(2047))
    assert (await ws_answer(ws))["code"] == 200
    await ws.send_str(_clock_frame(2049))
    assert await ws_closed(ws) == 1009
    other = await s.ws(s.jws("b"))
    await other.send_str(orjson.dumps(get_clock()).decode())
    assert (await ws_answer(other))["code"] == 200
    await other.close()
    assert not s.problems(), s.problems()


async def test_a_frame_of_exactly_the_limit_is_accepted(serve: Any) -> None:
    s: Served = await serve(ws_max_frame=2048)
    ws = await s.ws(s.jws("a"))
    await ws.send_str(_clock_frame(2048))
    assert (await ws_answer(ws))["code"] == 200


async def test_subscribing_to_a_conversation_needs_its_consumer(serve: Any) -> None:
    """An agent-side or signup identity cannot read a Connector API consumer's conversation."""
    s: Served = await serve()
    alice, alice_conv, _, _ = await _two_consumers(s)
    ws = await s.ws(s.engine.tokens.mint_signup(ACC, 3600))
    await ws.send_str(orjson.dumps(subscribe_events(alice_conv)).decode())
    assert (await ws_answer(ws))["code"] == 403
    await ws.close()
    async with aiohttp.ClientSession() as http:
        app = s.engine.tokens.mint_app_jwt(ACC, "robust-client", 3600)
        async with http.ws_connect(s.ws_url, headers={"Authorization": f"jwt {app}"}) as ws2:
            assert await ws_closed(ws2) == 4401
    assert not s.problems(), s.problems()
