"""The control API over HTTP: every route, good and bad requests (aiohttp test client)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, TypeAlias

import jwt
import pytest
from aiohttp.test_utils import TestClient

from mockle.settings import ConfigError, Settings
from mockle.web.app import create_app

Client: TypeAlias = "TestClient[Any, Any]"

ACC = "le12345678"
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
CONV = f"/api/account/{ACC}/messaging/consumer/conversation?v=3"
SEND = f"/api/account/{ACC}/messaging/consumer/conversation/send?v=3"


def settings(**kw: Any) -> Settings:
    return Settings(port=0, agent="manual", agent_delay_ms=0, webhook_retry_interval=0.01, **kw)


@pytest.fixture
async def client(aiohttp_client: Any) -> Client:
    made: Client = await aiohttp_client(create_app(settings()))
    return made


async def ok(resp: Any, status: int = 200) -> Any:
    assert resp.status == status, await resp.text()
    return await resp.json()


async def bad(resp: Any, status: int, path: str | None, *words: str) -> None:
    assert resp.status == status, await resp.text()
    doc = await resp.json()
    assert doc["kind"] == "resp" and doc["code"] == status and doc["type"] == ".ReqBody$ErrorResp"
    assert doc["body"].get("path") == path, doc
    for word in words:
        assert word in doc["body"]["details"], doc


async def consumer_headers(client: Client, ext: str = "ext", account: str = ACC) -> dict[str, str]:
    r = await client.post(
        f"/sentinel/api/account/{account}/app/token?v=1.0&grant_type=client_credentials",
        data={"client_id": "cid", "client_secret": "sec"},
    )
    app = (await ok(r))["access_token"]
    r = await client.post(
        f"/api/account/{account}/consumer?v=1.0",
        json={"ext_consumer_id": ext},
        headers={"Authorization": app},
    )
    return {"Authorization": app, "X-LP-ON-BEHALF": (await ok(r, 201))["token"]}


async def open_conversation(
    client: Client, ext: str = "ext", account: str = ACC
) -> tuple[str, dict[str, str]]:
    headers = await consumer_headers(client, ext, account)
    body = [
        {"kind": "req", "id": "1,", "type": "userprofile.SetUserProfile", "body": {}},
        {
            "kind": "req",
            "id": "2,",
            "type": "cm.ConsumerRequestConversation",
            "body": {"brandId": account},
        },
    ]
    url = f"/api/account/{account}/messaging/consumer/conversation?v=3"
    items = await ok(await client.post(url, json=body, headers=headers))
    return items[1]["body"]["conversationId"], headers


def manifest(**kw: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "account": ACC,
        "client_name": "my connector",
        "capabilities": {
            "webhooks": {
                "ms.MessagingEventNotification.ContentEvent": {
                    "endpoint": "http://127.0.0.1:1/hooks",
                    "max_retries": 1,
                    "headers": [{"header_name": "X-Test", "header_value": "yes"}],
                },
                "retry": {"retention_time": 3600},
            }
        },
    }
    doc.update(kw)
    return doc


# -- health and apps ---------------------------------------------------------------------------


async def test_health(client: Client) -> None:
    assert await ok(await client.get("/_mockle/health")) == {"status": "ok"}


async def test_install_an_app_generates_credentials_that_sentinel_accepts(
    aiohttp_client: Any,
) -> None:
    client = await aiohttp_client(create_app(settings(strict_apps=True)))
    created = await ok(await client.post("/_mockle/apps", json=manifest()), 201)
    assert set(created) == {"client_id", "client_secret"}
    assert UUID.match(created["client_id"]) and len(created["client_secret"]) == 26
    token_url = f"/sentinel/api/account/{ACC}/app/token?v=1.0&grant_type=client_credentials"
    r = await client.post(token_url, data=created)
    claims = jwt.decode((await ok(r))["access_token"], options={"verify_signature": False})
    assert claims["azp"] == created["client_id"]
    r = await client.post(token_url, data={**created, "client_secret": "wrong"})
    assert r.status == 401
    listed = await ok(await client.get(f"/_mockle/apps?account={ACC}"))
    assert listed["apps"] == [
        {
            "account": ACC,
            "client_id": created["client_id"],
            "client_secret": created["client_secret"],
            "client_name": "my connector",
            "enabled": True,
            "installed": True,
            "webhooks": {
                "ms.MessagingEventNotification.ContentEvent": {
                    "endpoint": "http://127.0.0.1:1/hooks",
                    "max_retries": 1,
                    "headers": [{"header_name": "X-Test", "header_value": "yes"}],
                }
            },
            # retry by time to live: the app-wide state, UP while nothing fails
            "retry": {"retention_time": 3600, "state": "UP", "pending": 0, "failures": 0},
        }
    ]


async def test_install_with_given_credentials_and_reinstall_replaces(client: Client) -> None:
    doc = manifest(client_id="my-id", client_secret="my-secret")
    assert await ok(await client.post("/_mockle/apps", json=doc), 201) == {
        "client_id": "my-id",
        "client_secret": "my-secret",
    }
    doc["client_name"] = "renamed"
    await ok(await client.post("/_mockle/apps", json=doc), 201)
    apps = (await ok(await client.get("/_mockle/apps")))["apps"]
    assert [(a["client_id"], a["client_name"]) for a in apps] == [("my-id", "renamed")]


@pytest.mark.parametrize(
    ("body", "path", "words"),
    [
        (b"", "$", ("empty",)),
        (b"{nope", "$", ("not valid JSON",)),
        (b"[]", "$", ("object",)),
        (json.dumps({"client_name": "x"}).encode(), "$", ("'account'",)),
        (json.dumps(manifest(account="")).encode(), "$.account", ()),
        (
            json.dumps(
                manifest(
                    capabilities={
                        "webhooks": {
                            "cqm.ExConversationChangeNotification": {"endpoint": "ftp://x"}
                        }
                    }
                )
            ).encode(),
            "$.capabilities.webhooks['cqm.ExConversationChangeNotification'].endpoint",
            ("ftp://x",),
        ),
        (
            json.dumps(
                manifest(
                    capabilities={
                        "webhooks": {
                            "cqm.ExConversationChangeNotification": {
                                "endpoint": "https://x",
                                "max_retries": 9,
                            }
                        }
                    }
                )
            ).encode(),
            "$.capabilities.webhooks['cqm.ExConversationChangeNotification'].max_retries",
            ("9",),
        ),
    ],
)
async def test_bad_app_manifests(
    client: Client, body: bytes, path: str, words: tuple[str, ...]
) -> None:
    r = await client.post("/_mockle/apps", data=body, headers={"Content-Type": "application/json"})
    await bad(r, 400, path, *words)


async def test_app_files_install_at_start_up_and_survive_a_reset(
    aiohttp_client: Any, tmp_path: Path
) -> None:
    path = tmp_path / "app.json"
    path.write_text(json.dumps(manifest(client_id="file-id", client_secret="file-secret")))
    yaml_path = tmp_path / "app.yaml"
    yaml_path.write_text(f"account: {ACC}\nclient_name: from yaml\n")
    client = await aiohttp_client(create_app(settings(app=[path, yaml_path], strict_apps=True)))
    apps = (await ok(await client.get(f"/_mockle/apps?account={ACC}")))["apps"]
    assert [a["client_name"] for a in apps] == ["my connector", "from yaml"]
    await ok(await client.post("/_mockle/apps", json=manifest(client_id="posted")), 201)
    assert await ok(await client.post("/_mockle/reset")) == {"reset": "all"}
    apps = (await ok(await client.get("/_mockle/apps")))["apps"]
    assert [a["client_id"] for a in apps] == ["file-id", apps[1]["client_id"]]
    r = await client.post(
        f"/sentinel/api/account/{ACC}/app/token?v=1.0&grant_type=client_credentials",
        data={"client_id": "file-id", "client_secret": "file-secret"},
    )
    await ok(r)


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (None, "cannot read"),
        ("{", "neither JSON nor YAML"),
        (json.dumps({"account": ACC}), "'client_name' is a required property"),
    ],
)
def test_bad_app_files_stop_start_up(tmp_path: Path, content: str | None, words: str) -> None:
    path = tmp_path / "app.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(ConfigError, match=re.escape(words)) as info:
        create_app(settings(app=[path]))
    assert str(path) in str(info.value)


def test_bad_agent_scripts_stop_start_up(tmp_path: Path) -> None:
    path = tmp_path / "script.yaml"
    path.write_text("rules:\n  - match: '('\n")
    with pytest.raises(ConfigError, match=re.escape("$.rules[0].match")):
        create_app(settings(agent_script=path))
    with pytest.raises(ConfigError, match="cannot read"):
        create_app(settings(agent_script=tmp_path / "missing.yaml"))


# -- conversations -----------------------------------------------------------------------------


async def test_list_and_detail_shapes(client: Client) -> None:
    conv, headers = await open_conversation(client)
    send = {
        "kind": "req",
        "id": "1",
        "type": "ms.PublishEvent",
        "body": {
            "dialogId": conv,
            "event": {"type": "ContentEvent", "contentType": "text/plain", "message": "hi"},
        },
    }
    await ok(await client.post(SEND, json=send, headers=headers))
    listed = (await ok(await client.get(f"/_mockle/conversations?account={ACC}")))["conversations"]
    (item,) = listed
    consumer = jwt.decode(headers["X-LP-ON-BEHALF"], options={"verify_signature": False})[
        "lp_consumer_id"
    ]
    assert item["conversationId"] == conv and item["account"] == ACC
    assert item["consumerId"] == consumer
    assert (item["state"], item["stage"]) == ("OPEN", "OPEN")
    assert item["participants"] == [{"id": consumer, "role": "CONSUMER"}]
    assert item["ttr"] == {"ttrType": "PRIORITIZED", "value": 600}
    assert item["skillId"] == "-1" and item["endTs"] is None and item["closeReason"] is None
    assert isinstance(item["startTs"], int) and item["assignedAgent"] is None
    assert item["dialogs"][0]["dialogId"] == conv
    detail = await ok(await client.get(f"/_mockle/conversations/{conv}"))
    events = detail.pop("events")
    assert detail == item
    assert [e["event"]["message"] for e in events] == ["hi"]
    assert events[0]["sequence"] == 0 and events[0]["originatorMetadata"]["role"] == "CONSUMER"
    assert (await ok(await client.get(f"/_mockle/conversations/{conv}?account={ACC}")))[
        "conversationId"
    ] == conv


async def test_consumer_name_and_last_message(client: Client) -> None:
    """``consumerName``: the profile's names, else the ext consumer id; ``lastMessage``: the
    latest message's change item (not a chat state or a receipt)."""
    conv, headers = await open_conversation(client, ext="sms:+15550100")

    async def item() -> dict[str, Any]:
        listed = await ok(await client.get(f"/_mockle/conversations?account={ACC}"))
        return dict(listed["conversations"][0])

    first = await item()
    assert first["extConsumerId"] == "sms:+15550100" and first["consumerName"] == "sms:+15550100"
    assert first["lastMessage"] is None

    def req(type_: str, body: dict[str, Any]) -> dict[str, Any]:
        return {"kind": "req", "id": "1", "type": type_, "body": body}

    profile = req("userprofile.SetUserProfile", {"firstName": " Ada ", "lastName": "Lovelace"})
    await ok(await client.post(SEND, json=profile, headers=headers))
    text = {"type": "ContentEvent", "contentType": "text/plain", "message": "hello"}
    await ok(
        await client.post(
            SEND, json=req("ms.PublishEvent", {"dialogId": conv, "event": text}), headers=headers
        )
    )
    typing = {"type": "ChatStateEvent", "chatState": "COMPOSING"}
    await ok(
        await client.post(
            SEND, json=req("ms.PublishEvent", {"dialogId": conv, "event": typing}), headers=headers
        )
    )
    later = await item()
    assert later["consumerName"] == "Ada Lovelace"
    assert later["lastMessage"]["event"] == text and later["lastMessage"]["sequence"] == 0
    assert later["lastMessage"]["originatorMetadata"]["role"] == "CONSUMER"
    await ok(
        await client.post(
            f"/_mockle/conversations/{conv}/agent/publish",
            json={"event": {**text, "message": "agent"}},
        )
    )
    assert (await item())["lastMessage"]["event"]["message"] == "agent"


async def test_list_filters_by_state_and_account(client: Client) -> None:
    first, _ = await open_conversation(client, "a")
    second, _ = await open_conversation(client, "b")
    other, _ = await open_conversation(client, "c", account="le-other")
    await ok(await client.post(f"/_mockle/conversations/{first}/close", json={"by": "consumer"}))

    async def ids(query: str) -> list[str]:
        doc = await ok(await client.get(f"/_mockle/conversations{query}"))
        return [c["conversationId"] for c in doc["conversations"]]

    assert await ids(f"?account={ACC}") == [first, second]
    assert await ids(f"?account={ACC}&state=OPEN") == [second]
    assert await ids(f"?account={ACC}&state=close") == [first]
    assert await ids("") == [first, second, other]
    assert await ids("?account=le-nobody") == []
    await bad(
        await client.get("/_mockle/conversations?state=LOCKED"), 400, "$.query.state", "'LOCKED'"
    )


async def test_unknown_conversations_are_404(client: Client) -> None:
    conv, _ = await open_conversation(client)
    await bad(await client.get("/_mockle/conversations/nope"), 404, None, "'nope'")
    await bad(
        await client.get(f"/_mockle/conversations/{conv}?account=le-other"), 404, None, "le-other"
    )
    for route in ("agent/join", "agent/publish", "close", "transfer"):
        await bad(
            await client.post(f"/_mockle/conversations/nope/{route}", json={}), 404, None, "'nope'"
        )


async def test_agent_join_default_and_named(client: Client) -> None:
    conv, _ = await open_conversation(client)
    joined = await ok(await client.post(f"/_mockle/conversations/{conv}/agent/join"))
    assert UUID.match(joined["agentId"]) and re.fullmatch(rf"{ACC}\.\d+", joined["legacyId"])
    again = await ok(await client.post(f"/_mockle/conversations/{conv}/agent/join", json={}))
    assert again != joined  # a new agent replaces the first
    named = await ok(
        await client.post(
            f"/_mockle/conversations/{conv}/agent/join", json={"agentId": f"{ACC}.42"}
        )
    )
    assert named["legacyId"] == f"{ACC}.42" and UUID.match(named["agentId"])
    same = await ok(
        await client.post(
            f"/_mockle/conversations/{conv}/agent/join", json={"agentId": named["agentId"]}
        )
    )
    assert same == named
    detail = await ok(await client.get(f"/_mockle/conversations/{conv}"))
    assert detail["participants"][0] == {"id": named["agentId"], "role": "ASSIGNED_AGENT"}
    assert [p["role"] for p in detail["participants"]].count("ASSIGNED_AGENT") == 1
    assert detail["assignedAgent"] == named


@pytest.mark.parametrize(
    ("body", "path", "words"),
    [
        (b"[1]", "$", ("object",)),
        (b"{x", "$", ("not valid JSON",)),
        (b'{"agentId": 5}', "$.agentId", ("string",)),
        (b'{"agentId": ""}', "$.agentId", ()),
        (b'{"agentID": "x"}', "$.agentID", ("unknown field",)),
    ],
)
async def test_agent_join_bad_bodies(
    client: Client, body: bytes, path: str, words: tuple[str, ...]
) -> None:
    conv, _ = await open_conversation(client)
    r = await client.post(f"/_mockle/conversations/{conv}/agent/join", data=body)
    await bad(r, 400, path, *words)


async def test_agent_publish_every_event_type(client: Client) -> None:
    conv, _ = await open_conversation(client)
    url = f"/_mockle/conversations/{conv}/agent/publish"
    text = {"type": "ContentEvent", "contentType": "text/plain", "message": "Hello from the Agent"}
    assert await ok(await client.post(url, json={"event": text})) == {"sequence": 0}
    detail = await ok(await client.get(f"/_mockle/conversations/{conv}"))
    agent = detail["assignedAgent"]["agentId"]  # joined first
    typing = {"type": "ChatStateEvent", "chatState": "COMPOSING"}
    assert await ok(await client.post(url, json={"event": typing})) == {"sequence": 0}
    read = {"type": "AcceptStatusEvent", "status": "READ", "sequenceList": 0}
    assert await ok(await client.post(url, json={"event": read})) == {"sequence": 1}
    rich = {"type": "RichContentEvent", "message": {"type": "vertical", "elements": []}}
    assert await ok(
        await client.post(
            url, json={"event": rich, "metadata": [{"type": "ExternalId", "id": "x"}]}
        )
    ) == {"sequence": 2}
    note = {"event": text, "messageAudience": "AGENTS_AND_MANAGERS"}
    assert await ok(await client.post(url, json=note)) == {"sequence": 3}
    events = (await ok(await client.get(f"/_mockle/conversations/{conv}")))["events"]
    assert {e["originatorId"] for e in events} == {agent}
    assert [e["event"]["type"] for e in events] == [
        "ContentEvent",
        "ChatStateEvent",
        "AcceptStatusEvent",
        "RichContentEvent",
        "ContentEvent",
    ]
    assert events[2]["event"]["sequenceList"] == [0]
    assert events[3]["event"]["content"] == {"type": "vertical", "elements": []}
    assert events[3]["metadata"] == [{"type": "ExternalId", "id": "x"}]
    assert events[4]["messageAudience"] == "AGENTS_AND_MANAGERS"
    other = await ok(await client.post(url, json={"event": text, "agentId": f"{ACC}.9"}))
    assert other == {"sequence": 4}
    detail = await ok(await client.get(f"/_mockle/conversations/{conv}"))
    assert detail["assignedAgent"]["legacyId"] == f"{ACC}.9"


@pytest.mark.parametrize(
    ("body", "path", "words"),
    [
        (b"", "$", ("empty",)),
        (b"{}", "$.event", ("required",)),
        (b'{"event": "hi"}', "$.event", ("dictionary",)),
        (b'{"event": {"type": "Smoke"}}', "$.event.type", ("'Smoke'",)),
        (
            b'{"event": {"type": "ContentEvent", "contentType": "text/plain"}}',
            "$.event",
            ("'message'",),
        ),
        (
            b'{"event": {"type": "ChatStateEvent", "chatState": "PAUSE"}, "messageAudience": "ME"}',
            "$.messageAudience",
            (),
        ),
        (
            b'{"event": {"type": "ChatStateEvent", "chatState": "COMPOSING"}, "extra": 1}',
            "$.extra",
            ("unknown field",),
        ),
    ],
)
async def test_agent_publish_bad_bodies(
    client: Client, body: bytes, path: str, words: tuple[str, ...]
) -> None:
    conv, _ = await open_conversation(client)
    r = await client.post(f"/_mockle/conversations/{conv}/agent/publish", data=body)
    await bad(r, 400, path, *words)
    assert (await ok(await client.get(f"/_mockle/conversations/{conv}")))["events"] == []


@pytest.mark.parametrize(
    ("by", "reason", "closed_by"),
    [("agent", "AGENT", "AGENT"), ("CONSUMER", "CONSUMER", "CONSUMER"), ("system", "SYSTEM", None)],
)
async def test_close_by_each_side(
    client: Client, by: str, reason: str, closed_by: str | None
) -> None:
    conv, headers = await open_conversation(client)
    doc = await ok(await client.post(f"/_mockle/conversations/{conv}/close", json={"by": by}))
    assert (doc["state"], doc["stage"], doc["closeReason"]) == ("CLOSE", "CLOSE", reason)
    assert doc["dialogs"][0].get("closedBy") == closed_by and isinstance(doc["endTs"], int)
    assert doc["effectiveTTR"] == -1
    # closed: the consumer may open a new one, and the control API refuses to act on this one
    await open_conversation(client)
    await bad(
        await client.post(f"/_mockle/conversations/{conv}/close", json={"by": by}),
        400,
        None,
        "close",
    )
    await bad(await client.post(f"/_mockle/conversations/{conv}/agent/join"), 400, None, "close")
    text = {"type": "ContentEvent", "contentType": "text/plain", "message": "x"}
    await bad(
        await client.post(f"/_mockle/conversations/{conv}/agent/publish", json={"event": text}),
        400,
        None,
        "close",
    )
    await bad(
        await client.post(f"/_mockle/conversations/{conv}/transfer", json={"skill": "1"}),
        400,
        None,
        "close",
    )


async def test_close_defaults_to_the_agent_and_refuses_bad_sides(client: Client) -> None:
    conv, _ = await open_conversation(client)
    await bad(
        await client.post(f"/_mockle/conversations/{conv}/close", json={"by": "bot"}),
        400,
        "$.by",
        "'agent'",
    )
    await bad(
        await client.post(f"/_mockle/conversations/{conv}/close", json={"by": 1}), 400, "$.by"
    )
    doc = await ok(await client.post(f"/_mockle/conversations/{conv}/close"))
    assert doc["closeReason"] == "AGENT"


async def test_transfer(client: Client) -> None:
    conv, _ = await open_conversation(client)
    await ok(await client.post(f"/_mockle/conversations/{conv}/agent/join"))
    doc = await ok(
        await client.post(f"/_mockle/conversations/{conv}/transfer", json={"skill": 99999999})
    )
    assert doc["skillId"] == "99999999" and doc["assignedAgent"] is None
    await bad(
        await client.post(f"/_mockle/conversations/{conv}/transfer", json={}),
        400,
        "$.skill",
        "required",
    )


# -- reset -------------------------------------------------------------------------------------


async def test_reset_one_account_or_everything(client: Client) -> None:
    mine, _ = await open_conversation(client, "a")
    other, _ = await open_conversation(client, "b", account="le-other")
    await ok(await client.post("/_mockle/apps", json=manifest()), 201)
    assert await ok(await client.post(f"/_mockle/reset?account={ACC}")) == {"reset": ACC}
    left = (await ok(await client.get("/_mockle/conversations")))["conversations"]
    assert [c["conversationId"] for c in left] == [other]
    assert (await ok(await client.get(f"/_mockle/apps?account={ACC}")))["apps"] == []
    await bad(await client.get(f"/_mockle/conversations/{mine}"), 404, None)
    assert await ok(await client.post("/_mockle/reset")) == {"reset": "all"}
    assert (await ok(await client.get("/_mockle/conversations")))["conversations"] == []


async def test_reset_wipes_the_state_behind_tokens(client: Client) -> None:
    conv, headers = await open_conversation(client)
    await ok(await client.post("/_mockle/reset"))
    send = {
        "kind": "req",
        "id": "1",
        "type": "ms.PublishEvent",
        "body": {
            "dialogId": conv,
            "event": {"type": "ContentEvent", "contentType": "text/plain", "message": "hi"},
        },
    }
    r = await client.post(SEND, json=send, headers=headers)
    assert r.status == 400 and "does not exist" in (await r.json())["body"]["msg"]
    # tokens are signed JWTs: they keep working, the consumer simply starts afresh
    await open_conversation(client)


# -- webhook deliveries ------------------------------------------------------------------------


async def test_deliveries_record_failed_attempts_and_wait_without_sleeping(
    client: Client,
) -> None:
    by_number = manifest(client_id="cid1", client_secret="s")
    del by_number["capabilities"]["webhooks"]["retry"]  # retry by number: max_retries 1
    await ok(await client.post("/_mockle/apps", json=by_number), 201)
    conv, headers = await open_conversation(client)
    send = {
        "kind": "req",
        "id": "1",
        "type": "ms.PublishEvent",
        "body": {
            "dialogId": conv,
            "event": {"type": "ContentEvent", "contentType": "text/plain", "message": "hi"},
        },
    }
    await ok(await client.post(SEND, json=send, headers=headers))
    doc = await ok(await client.get(f"/_mockle/webhooks/deliveries?account={ACC}&wait=10&min=1"))
    (d,) = doc["deliveries"]
    assert d["eventType"] == "ms.MessagingEventNotification.ContentEvent"
    assert d["endpoint"] == "http://127.0.0.1:1/hooks"
    assert d["body"]["body"]["changes"][0]["event"]["message"] == "hi"
    assert d["delivered"] is False and d["state"] == "failed"
    assert d["conversationId"] == conv and d["clientId"] == "cid1" and d["account"] == ACC
    assert d["headers"]["X-Test"] == "yes" and d["headers"]["x-liveperson-client-id"] == "cid1"
    assert len(d["attempts"]) == 2  # max_retries 1
    for attempt in d["attempts"]:
        assert attempt["status"] is None and "Connect" in attempt["error"]
        assert isinstance(attempt["time"], int)
    filtered = await ok(
        await client.get(f"/_mockle/webhooks/deliveries?conversationId={conv}&eventType=x")
    )
    assert filtered["deliveries"] == []
    assert len((await ok(await client.get("/_mockle/webhooks/deliveries")))["deliveries"]) == 1
    assert (await ok(await client.get("/_mockle/webhooks/deliveries?account=le-other")))[
        "deliveries"
    ] == []
    await ok(await client.post(f"/_mockle/reset?account={ACC}"))
    assert (await ok(await client.get(f"/_mockle/webhooks/deliveries?account={ACC}")))[
        "deliveries"
    ] == []


@pytest.mark.parametrize(
    ("query", "path"),
    [
        ("wait=soon", "$.query.wait"),
        ("wait=-1", "$.query.wait"),
        ("wait=61", "$.query.wait"),
        ("min=x", "$.query.min"),
    ],
)
async def test_deliveries_bad_queries(client: Client, query: str, path: str) -> None:
    await bad(await client.get(f"/_mockle/webhooks/deliveries?{query}"), 400, path)


async def test_deliveries_wait_gives_up_at_the_deadline(client: Client) -> None:
    doc = await ok(await client.get("/_mockle/webhooks/deliveries?wait=0.05&min=1"))
    assert doc == {"deliveries": []}
