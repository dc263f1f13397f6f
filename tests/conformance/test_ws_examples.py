"""Every WebSocket example of the protocol notes (§11.2 W1-W28) and of the seed's tutorials
(S3-1..S3-4), replayed verbatim over a real socket, each with its documented answer.

Placeholders (``__YOUR_CONVERSATION_ID__``, ``"conversationId":"id"``, ``__SEQUENCE__``,
``__YOUR_JWT__`` ...) are replaced with live values; a few are also replayed as written, where the
placeholder itself is what a copy-paste sends. Every replay starts from the same state: a consumer
(IDP signup) with an open conversation holding three sequenced events (two of the consumer, one
of the agent) -- or no conversation, or no authentication, as the example needs.
"""

# ruff: noqa: E501  (the payloads are verbatim)

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from mockle.core.engine import Effects
from mockle.settings import Settings
from mockle.web.app import create_app
from tests.web.ums_client import ACC, WS, Ws, connect, runtime, signup

pytestmark = pytest.mark.timeout(30)

UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")

# protocol.md §11.2 (W25-1 is the §7.4 ACTION publish, W25-2 its companion text publish)
RAW = {
    "W1": '{"kind":"req","id":1,"type":"cm.ConsumerRequestConversation"}',
    "W2": '{"kind":"req","id":2,"type":"ms.PublishEvent","body":{"dialogId":"__YOUR_CONVERSATION_ID__","event":{"type":"ContentEvent","contentType":"text/plain","message":"hi there"}}}',
    "W3": '{"kind":"req","id":"22","body":{"fromSeq":0,"dialogId":"__YOUR_CONVERSATION_ID__"},"type":"ms.SubscribeMessagingEvents"}',
    "W4": '{"type":"ms.SubscribeMessagingEvents","id":"2SA2","body":{"fromSeq":0,"dialogId":"__YOUR_CONVERSATION_ID__"}}',
    "W5": '{"kind":"req","id":"33","body":{"minLastUpdatedTime":0,"convState":["OPEN","CLOSE"]},"type":"cqm.SubscribeExConversations"    }',
    "W6": '{"type":"cqm.SubscribeExConversations","id":"33","body":{"minLastUpdatedTime":1478089679,"convState":["OPEN"]},"type":"cqm.SubscribeExConversations" }',
    "W7": '{"id":"0","type":"cqm.UnsubscribeExConversations","body":{"subscriptionId":"id"}}',
    "W8": '{"kind":"req","id":"0","type":"cm.UpdateConversationField","body":{"conversationId":"id","conversationField":[{"field":"ConversationStateField","conversationState":"CLOSE"}]}}',
    "W9": '{"id":"0","type":"cm.UpdateConversationField","body":{"conversationId":"id","conversationField":[{"field":"CSATRate","csatRate":1,"csatResolutionConfirmation":false,"status":"FILLED"}]}}',
    "W10": '{"kind":"req","id":"AHDJE","type":"cm.UpdateConversationField","body":{"conversationId":"__CONVERSATION_ID__","conversationField":{"field":"CSATRate","csatRate":5,"csatResolutionConfirmation":true,"status":"FILLED"}}}',
    "W11": '{"id":"0","type":"cm.UpdateConversationField","body":{"conversationId":"hello","conversationField":[{"field":"TTRField","ttrType":"URGENT","value":300}]}}',
    "W12": '{"type":"ms.PublishEvent","id":"A3FA","body":{"dialogId":"__YOUR_CONVERSATION_ID__","event":{"type":"ContentEvent","contentType":"text/plain","message":"hi there"}}}',
    "W13": '{"kind":"req","id":"0","type":"InitConnection","headers":[{"type":".ams.headers.ClientProperties","deviceFamily":"MOBILE","os":"ANDROID"},{"type":".ams.headers.ConsumerAuthentication","jwt":"__YOUR_JWT__"}]}',
    "W14": '{"type": "InitConnection","headers":[{"type":".ams.headers.ClientProperties","deviceFamily":"DESKTOP","os":"WINDOWS"},{"type":".ams.headers.ConsumerAuthentication","jwt":"eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiYWRtaW4iOnRydWV9.TJVA95OrM7E2cBab30RMHrHDcEfxjoYZgeFONFh7HgQ"}]}',
    "W15": '{"kind":"req","id":"0","type":"ms.GenerateURLForUploadFile","body":{"fileSize":"1024","fileType":"JPG"}}',
    "W16": '{"kind":"req","id":"3","body":{"fileSize":1000,"fileType":"PNG"},"type":"ms.GenerateURLForUploadFile"    }',
    "W17": '{"kind":"req","id":"33","body":{"relativePath":"__relative_path__"},"type":"ms.GenerateURLForDownloadFile"}',
    "W18": '{"kind":"req","id":2,"type":"ms.PublishEvent","body":{"dialogId":"__DIALOG_ID__","event":{"type" : "AcceptStatusEvent" , "status" : "ACCEPT", "sequenceList" : [ __SEQUENCE__ ]}}}',
    "W19": '{"kind":"req","id":"3","type":"cqm.SubscribeExConversations","body":{"stage":["OPEN","CLOSE"],"convState":["OPEN","CLOSE"]}}',
    "W20": '{"kind":"req","id":"0","type":"cm.ConsumerRequestConversation","body":{"channelType":"MESSAGING","ttrDefName":null,"campaignInfo":{"campaignId":418732213,"engagementId":425842913},"conversationContext":{"visitorId":"NmNDQ5OWU1MjM1NjBlZTAz","sessionId":"DHE_fICSTZ2gx5IsljFcwQ","interactionContextId":"1","type":"SharkContext","lang":"en-US"}}}',
    "W21": '{"kind":"req","id":"2","type":"ms.SubscribeMessagingEvents","body":{"dialogId":"__YOUR_CONVERSATION_ID__","conversationId":"__YOUR_CONVERSATION_ID__","fromSeq":0}}',
    "W22": '{"kind":"req","id":"4","type":"ms.PublishEvent","body":{"dialogId":"__YOUR_CONVERSATION_ID__","conversationId":"__YOUR_CONVERSATION_ID__","event":{"type":"ContentEvent","contentType":"text/plain","message":"Hello from the consumer"}}}',
    "W23": '{"kind":"req","id":"2","type":"ms.PublishEvent","body":{"dialogId":"__YOUR_CONVERSATION_ID__","conversationId":"__YOUR_CONVERSATION_ID__","event":{"type":"ChatStateEvent","chatState":"ACTIVE"}}}',
    "W24": '{"kind":"req","id":"2","type":"cm.UpdateConversationField","body":{"conversationId":"__YOUR_CONVERSATION_ID__","conversationField":{"field":"DialogChange","type":"UPDATE","dialog":{"dialogId":"__YOUR_CONVERSATION_ID__","state":"CLOSE","closedCause":"Closed by consumer"}}}}',
    "W25-1": '{"kind":"req","id":"22","type":"ms.PublishEvent","body":{"dialogId":"__YOUR_POST_SURVEY_DIALOG_ID__","conversationId":"__YOUR_CONVERSATION_ID__","event":{"type":"AcceptStatusEvent","status":"ACTION","sequenceList":[1]}},"metadata":[{"type":"Answer","questionId":"3e70da9b-76de-4c2a-911e-a41aee698b82","id":"4f7c6a7b-033b-4171-a361-abf99e0ea493","provider":"AC"}]}',
    "W25-2": '{"kind":"req","id":"3","type":"ms.PublishEvent","body":{"dialogId":"__YOUR_POST_SURVEY_DIALOG_ID__","conversationId":"__YOUR_CONVERSATION_ID__","event":{"type":"ContentEvent","contentType":"text/plain","message":"1😒"}},"metadata":[{"type":"Answer","questionId":"3e70da9b-76de-4c2a-911e-a41aee698b82","id":"4f7c6a7b-033b-4171-a361-abf99e0ea493","provider":"AC"}]}',
    "W26": '{"kind":"req","id":"11","body":{"conversationId":"__YOUR_CONVERSATION_ID__","conversationField":{"field":"Stage","conversationState":"CLOSE"}},"type":"cm.UpdateConversationField"}',
    "W27": '{"kind":"req","id":"1","type":"GetClock"}',
    "W28": '{"id":"0","type":"InitConnection","headers":[{"type":".ams.headers.ClientProperties","deviceFamily":"DESKTOP","os":"WINDOWS","features":["CO_BROWSE"]},{"type":".ams.headers.ConsumerAuthentication","jwt":"..."}]}',
}

# The seed (003, an old export of the Messaging Window API docs), verbatim
SEED = {
    "S3-1": '{"kind": "req", "id": "1", "body": {}, "type": ".GetClock"}',
    "S3-2": '{"kind":"req","id":1,"type":".ams.cm.ConsumerRequestConversation","body":{}}',
    "S3-3": '{"kind": "req", "id": 2, "type": ".ams.ms.PublishEvent", "body": {"dialogId": "__YOUR_CONVERSATION_ID__", "event": {"type": "ContentEvent", "contentType": "text/plain", "message": "hi there"}}',
    "S3-4": """{
  "kind": "req",
  "id": "22",
  "body": {
    "fromSeq": 0,
    "dialogId": "__YOUR_CONVERSATION_ID__",
    "type": ".ams.ms.SubscribeMessagingEvents"
  }
}""",
}

ANY = object()


def is_uuid(value: Any) -> bool:
    return isinstance(value, str) and bool(UUID.match(value))


def is_file_url(value: Any) -> bool:
    return (
        isinstance(value, dict)
        and str(value.get("relativePath", "")).startswith(f"/v1/AUTH_async-images/{ACC}/")
        and set(value.get("queryParams", {})) == {"temp_url_sig", "temp_url_expires"}
    )


@dataclass
class Case:
    raw: str
    resp: dict[str, Any]  # expected resp fields; a callable value is a predicate
    then: str | None = None  # type of the notification that must follow the resp
    changes: int | None = None  # how many changes that notification carries
    setup: str = "conversation"  # "conversation", "fresh" (no conversation), "unauth"
    close: int | None = None  # close code that must follow
    substitute: bool = True
    extra: dict[str, Any] = field(default_factory=dict)


def ok(type_name: str, body: Any = ANY, **fields: Any) -> dict[str, Any]:
    return {"kind": "resp", "code": 200, "type": type_name, "body": body, **fields}


RESOLVED = "OK Conversation resolved successfully"
UPDATED = "OK Conversation updated successfully"
INIT = "Connection initialized successfully"

CASES: dict[str, Case] = {
    "W1": Case(
        RAW["W1"],
        ok("cm.RequestConversationResponse", lambda b: is_uuid(b["conversationId"]), reqId="1"),
        setup="fresh",
    ),
    "W2": Case(RAW["W2"], ok("ms.PublishEventResponse", {"sequence": 3}, reqId="2")),
    "W3": Case(
        RAW["W3"],
        ok("GenericSubscribeResponse", {}, reqId="22"),
        "ms.MessagingEventNotification",
        3,
    ),
    "W4": Case(
        RAW["W4"],
        ok("GenericSubscribeResponse", {}, reqId="2SA2"),
        "ms.MessagingEventNotification",
        3,
    ),
    "W5": Case(
        RAW["W5"],
        ok(
            "cqm.SubscribeExConversationsResponse",
            lambda b: is_uuid(b["subscriptionId"]),
            reqId="33",
        ),
        "cqm.ExConversationChangeNotification",
        1,
    ),
    "W6": Case(
        RAW["W6"],
        ok("cqm.SubscribeExConversationsResponse", ANY, reqId="33"),
        "cqm.ExConversationChangeNotification",
        1,
    ),
    "W7": Case(RAW["W7"], ok("StringResponse", "OK", reqId="0")),
    "W8": Case(RAW["W8"], ok("StringResponse", RESOLVED, reqId="0")),
    "W9": Case(RAW["W9"], ok("StringResponse", UPDATED, reqId="0")),
    "W10": Case(RAW["W10"], ok("StringResponse", UPDATED, reqId="AHDJE")),
    "W11": Case(RAW["W11"], ok("StringResponse", UPDATED, reqId="0")),
    # → {"reqId":"A3FA","code":200,"body":{"sequence":3}}
    "W12": Case(RAW["W12"], ok("ms.PublishEventResponse", {"sequence": 3}, reqId="A3FA")),
    "W13": Case(RAW["W13"], ok("StringResponse", INIT, reqId="0"), setup="unauth"),
    "W14": Case(
        RAW["W14"],
        {
            "kind": "resp",
            "reqId": "0",
            "code": 401,
            "type": "StringResponse",
            "body": lambda b: "token is not accepted" in b,
        },
        setup="unauth",
        close=4401,
    ),
    "W15": Case(RAW["W15"], ok("ms.GenerateURLResponse", is_file_url, reqId="0")),
    "W16": Case(RAW["W16"], ok("ms.GenerateURLResponse", is_file_url, reqId="3")),
    "W17": Case(RAW["W17"], ok("ms.GenerateURLResponse", is_file_url, reqId="33")),
    "W18": Case(RAW["W18"], ok("ms.PublishEventResponse", {"sequence": 3}, reqId="2")),
    "W19": Case(
        RAW["W19"],
        ok("cqm.SubscribeExConversationsResponse", ANY, reqId="3"),
        "cqm.ExConversationChangeNotification",
        1,
    ),
    "W20": Case(
        RAW["W20"],
        ok("cm.RequestConversationResponse", lambda b: is_uuid(b["conversationId"]), reqId="0"),
        setup="fresh",
    ),
    "W21": Case(
        RAW["W21"],
        ok("GenericSubscribeResponse", {}, reqId="2"),
        "ms.MessagingEventNotification",
        3,
    ),
    "W22": Case(RAW["W22"], ok("ms.PublishEventResponse", {"sequence": 3}, reqId="4")),
    # → {"kind":"resp","reqId":"2","code":200,"body":{"sequence":0},"type":"ms.PublishEventResponse"}
    "W23": Case(
        RAW["W23"],
        {
            "kind": "resp",
            "reqId": "2",
            "code": 200,
            "body": {"sequence": 0},
            "type": "ms.PublishEventResponse",
        },
    ),
    # → {"kind":"resp","reqId":"2","code":200,"body":"OK Conversation resolved successfully","type":"StringResponse"}
    "W24": Case(
        RAW["W24"],
        {"kind": "resp", "reqId": "2", "code": 200, "body": RESOLVED, "type": "StringResponse"},
    ),
    "W25-1": Case(RAW["W25-1"], ok("ms.PublishEventResponse", {"sequence": 3}, reqId="22")),
    "W25-2": Case(RAW["W25-2"], ok("ms.PublishEventResponse", {"sequence": 3}, reqId="3")),
    "W26": Case(RAW["W26"], ok("StringResponse", RESOLVED, reqId="11")),
    "W27": Case(
        RAW["W27"], ok("GetClockResponse", lambda b: isinstance(b["currentTime"], int), reqId="1")
    ),
    "W28": Case(RAW["W28"], ok("StringResponse", INIT, reqId="0"), setup="unauth"),
    # the seed
    "S3-1": Case(
        SEED["S3-1"],
        ok(".GetClock$Response", lambda b: isinstance(b["currentTime"], int), reqId="1"),
    ),
    # → {"kind":"resp","reqId":"1","code":200,"body":{"conversationId":"…"},"type":".ams.cm.types.RequestConversation$Response"}
    "S3-2": Case(
        SEED["S3-2"],
        ok(
            ".ams.cm.types.RequestConversation$Response",
            lambda b: is_uuid(b["conversationId"]),
            reqId="1",
        ),
        setup="fresh",
    ),
    # the missing closing brace: the id cannot be read, so reqId "0" (documented choice)
    "S3-3": Case(
        SEED["S3-3"],
        {
            "kind": "resp",
            "reqId": "0",
            "code": 400,
            "type": "StringResponse",
            "body": lambda b: b.startswith("$: the frame is not valid JSON"),
        },
    ),
    # → {"kind":"resp","reqId":"22","code":200,"body":{},"type":".ams.GenericSubscribe$Response"}
    "S3-4": Case(
        SEED["S3-4"],
        {
            "kind": "resp",
            "reqId": "22",
            "code": 200,
            "body": {},
            "type": ".ams.GenericSubscribe$Response",
        },
        ".ams.ms.MessagingEventNotification",
        3,
    ),
    # placeholders left as written (what a careless copy-paste sends)
    "W7-as-written": Case(
        RAW["W7"],
        {
            "kind": "resp",
            "reqId": "0",
            "code": 404,
            "type": "StringResponse",
            "body": "$.body.subscriptionId: subscriptionId 'id' is not a subscription of this connection",
        },
        substitute=False,
    ),
    "W8-as-written": Case(
        RAW["W8"],
        {
            "kind": "resp",
            "reqId": "0",
            "code": 404,
            "type": "StringResponse",
            "body": "conversation 'id' does not exist",
        },
        substitute=False,
    ),
    "W17-as-written": Case(
        RAW["W17"],
        {
            "kind": "resp",
            "reqId": "33",
            "code": 400,
            "type": "ms.GenerateURLResponse",
            "body": lambda b: b.startswith("$.body.relativePath: "),
        },
        substitute=False,
    ),
    "W28-as-written": Case(
        RAW["W28"],
        {"kind": "resp", "reqId": "0", "code": 401, "type": "StringResponse", "body": ANY},
        setup="unauth",
        close=4401,
        substitute=False,
    ),
}


def test_every_documented_example_is_replayed() -> None:
    assert set(RAW) | set(SEED) <= set(CASES)
    assert len(RAW) == 29  # W1..W28, with W25 in two parts


def matches(expected: Any, actual: Any) -> bool:
    if expected is ANY:
        return True
    if callable(expected):
        return bool(expected(actual))
    return bool(expected == actual)


@dataclass
class Context:
    client: TestClient
    ws: Ws
    token: str
    values: dict[str, str]


async def prepare(client: TestClient, case: Case, name: str) -> Context:
    rt = runtime(client)
    token = await signup(client)
    if case.setup == "unauth":
        return Context(client, await connect(client, WS + "?v=3"), token, {"token": token})
    ws = await connect(client, WS + "?v=3", headers={"Authorization": f"jwt {token}"})
    values = {"token": token}
    if case.setup == "conversation":
        resp = await ws.req({"id": "p1", "type": "cm.ConsumerRequestConversation"})
        conv_id = values["conv"] = resp["body"]["conversationId"]
        for text in ("one", "two"):
            event = {"type": "ContentEvent", "contentType": "text/plain", "message": text}
            frame = {
                "id": "p",
                "type": "ms.PublishEvent",
                "body": {"dialogId": conv_id, "event": event},
            }
            assert (await ws.req(frame))["code"] == 200
        fx = Effects()
        event = {"type": "ContentEvent", "contentType": "text/plain", "message": "three"}
        rt.engine.agent_publish(rt.engine.conversation(ACC, conv_id), event, fx)
        rt.hub.dispatch(fx)
    if name.startswith("W7"):
        resp = await ws.req({"id": "p2", "type": "cqm.SubscribeExConversations", "body": {}})
        values["sub"] = resp["body"]["subscriptionId"]
        await ws.recv()
    if name.startswith("W17"):
        frame = {
            "id": "p3",
            "type": "ms.GenerateURLForUploadFile",
            "body": {"fileSize": 10, "fileType": "PNG"},
        }
        values["path"] = (await ws.req(frame))["body"]["relativePath"]
    return Context(client, ws, token, values)


def fill(raw: str, values: dict[str, str]) -> str:
    conv = values.get("conv", "no-conversation")
    for placeholder in (
        "__YOUR_CONVERSATION_ID__",
        "__CONVERSATION_ID__",
        "__DIALOG_ID__",
        "__YOUR_POST_SURVEY_DIALOG_ID__",
    ):
        raw = raw.replace(placeholder, conv)
    raw = raw.replace('"conversationId":"id"', f'"conversationId":"{conv}"')
    raw = raw.replace('"conversationId":"hello"', f'"conversationId":"{conv}"')
    raw = raw.replace('"subscriptionId":"id"', f'"subscriptionId":"{values.get("sub", "")}"')
    raw = raw.replace("__relative_path__", values.get("path", ""))
    raw = raw.replace("__SEQUENCE__", "2")
    raw = raw.replace("__YOUR_JWT__", values["token"]).replace(
        '"jwt":"..."', f'"jwt":"{values["token"]}"'
    )
    return raw


@pytest.fixture
async def client(aiohttp_client: Callable[..., Any]) -> TestClient:
    return await aiohttp_client(create_app(Settings(port=0, agent="manual")))  # type: ignore[no-any-return]


@pytest.mark.parametrize("name", list(CASES))
async def test_example_gets_its_documented_answer(client: TestClient, name: str) -> None:
    case = CASES[name]
    ctx = await prepare(client, case, name)
    raw = fill(case.raw, ctx.values) if case.substitute else case.raw
    await ctx.ws.ws.send_str(raw)
    resp = await ctx.ws.recv()
    assert set(resp) == {"kind", "reqId", "code", "body", "type"}, resp
    for key, expected in case.resp.items():
        assert matches(expected, resp[key]), (key, resp)
    if case.then is not None:
        note = await ctx.ws.recv()
        assert note["kind"] == "notification" and note["type"] == case.then, note
        if case.changes is not None:
            assert len(note["body"]["changes"]) == case.changes, note
        if "subscriptionId" in note["body"]:
            assert note["body"]["subscriptionId"] == resp["body"]["subscriptionId"]
    if case.close is not None:
        code, _ = await ctx.ws.closed()
        assert code == case.close
    else:  # the socket carries on after every answer, errors included
        assert (await ctx.ws.req({"id": "after", "type": "GetClock"}))["code"] == 200
    assert runtime(client).world.ums.bugs == 0
