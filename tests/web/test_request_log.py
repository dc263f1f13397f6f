"""Request log lines: one per LiveEngage call and per socket frame, as text or JSON; control
API calls only when asked for; nothing built at all while the logger is off."""

from __future__ import annotations

import io
import logging
import re
from collections.abc import Callable, Iterator
from typing import Any

import orjson
import pytest
from aiohttp.test_utils import TestClient

from mockle import logs
from mockle.settings import Settings
from mockle.web import journal
from mockle.web.app import create_app

from .toolkit_helpers import ACC, consumer, open_conversation, send_text
from .ums_client import WS, Ws

Configure = Callable[..., io.StringIO]
TIME = r"\d\d:\d\d:\d\d\.\d\d\d"


@pytest.fixture
def configure() -> Iterator[Configure]:
    """``configure(level=..., fmt=..., control=...)`` as ``mockle serve`` does, into a
    StringIO; the logging configuration is restored afterwards."""
    loggers = (logging.getLogger(), logs.REQUESTS, logs.CONTROL)
    saved = [(lg, lg.level, list(lg.handlers), lg.propagate) for lg in loggers]
    access = logging.getLogger("aiohttp.access")  # the test server's; mockle serve has none
    access_level = access.level
    access.setLevel(logging.WARNING)

    def run(
        level: str = "info", fmt: logs.LogFormat = "text", control: bool = False
    ) -> io.StringIO:
        stream = io.StringIO()
        logs.configure(level, fmt, control=control, stream=stream)
        return stream

    yield run
    for logger, level, handlers, propagate in saved:
        logger.setLevel(level)
        logger.handlers[:] = handlers
        logger.propagate = propagate
    access.setLevel(access_level)


@pytest.fixture
async def client(aiohttp_client: Any) -> TestClient:
    return await aiohttp_client(create_app(Settings(port=0, agent="manual")))


def lines(stream: io.StringIO) -> list[str]:
    return stream.getvalue().splitlines()


async def test_one_text_line_per_liveengage_call(client: TestClient, configure: Configure) -> None:
    out = configure()
    who = await consumer(client)
    conv = await open_conversation(client, who)
    assert (await send_text(client, who, conv, "hi there")).status == 200
    sentinel, idp, conversation, send = lines(out)
    assert re.fullmatch(
        rf"{TIME} {ACC} sentinel +200 +\d+\.\dms POST /sentinel/api/account/{ACC}/app/token",
        sentinel,
    ), sentinel
    assert re.fullmatch(
        rf"{TIME} {ACC} idp +201 +\d+\.\dms POST /api/account/{ACC}/consumer", idp
    ), idp
    assert conversation.endswith(
        f"POST /api/account/{ACC}/messaging/consumer/conversation "
        f"cm.ConsumerRequestConversation conv={conv}"
    ), conversation
    assert re.fullmatch(
        rf"{TIME} {ACC} send +200 +\d+\.\dms POST /api/account/{ACC}/messaging/consumer/"
        rf"conversation/send ms\.PublishEvent ContentEvent conv={conv}",
        send,
    ), send
    # the columns line up: status and ms sit at the same place on every line
    assert len({line.index(" 20") for line in (sentinel, idp, conversation, send)}) == 1


async def test_a_line_never_shows_a_query_or_a_token(
    client: TestClient, configure: Configure
) -> None:
    out = configure()
    r = await client.post(
        f"/sentinel/api/account/{ACC}/app/token?v=1.0&grant_type=client_credentials"
        "&client_id=cid&client_secret=very-secret"
    )
    assert r.status == 200
    jwt = (await r.json())["access_token"]
    r = await client.get(f"/ws_api/account/{ACC}/messaging/consumer/{jwt}?v=3")  # no upgrade
    text = out.getvalue()
    assert "very-secret" not in text and "client_id" not in text
    assert jwt not in text and logs.shorten(jwt) in text


async def test_json_lines_for_machines(client: TestClient, configure: Configure) -> None:
    out = configure(fmt="json")
    who = await consumer(client)
    conv = await open_conversation(client, who)
    await send_text(client, who, conv, "hi")
    docs = [orjson.loads(line) for line in lines(out)]
    assert [d["target"] for d in docs] == ["sentinel", "idp", "conversation", "send"]
    send = docs[-1]
    assert send["level"] == "info" and send["logger"] == "mockle.requests"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", send["time"])
    assert send["account"] == ACC and send["conversation_id"] == conv
    assert send["method"] == "POST" and send["status"] == 200
    assert send["path"] == f"/api/account/{ACC}/messaging/consumer/conversation/send"
    assert send["type"] == "ms.PublishEvent" and send["event"] == "ContentEvent"
    assert isinstance(send["ms"], float) and send["ms"] >= 0
    journal_ids = [
        e["id"] for e in (await (await client.get("/_mockle/requests")).json())["requests"]
    ]
    assert [d["id"] for d in docs] == journal_ids  # a line names its journal entry


async def test_control_api_polling_is_quiet_unless_asked(
    client: TestClient, configure: Configure
) -> None:
    out = configure()
    await client.get("/_mockle/health")
    await client.get("/_mockle/requests?wait=0")
    await client.get("/_mockle/conversations")
    assert out.getvalue() == ""

    out = configure(control=True)
    await client.get("/_mockle/conversations?account=le1")
    await client.get("/_mockle/conversations/nope")
    ok, missing = lines(out)
    assert re.fullmatch(rf"{TIME} le1 +control +200 +\d+\.\dms GET /_mockle/conversations", ok)
    assert "control      404" in missing and missing.endswith("GET /_mockle/conversations/nope")

    out = configure(level="debug")
    await client.get("/_mockle/health")
    assert [line for line in lines(out) if "control" in line][0].endswith("/_mockle/health")
    assert await journal_targets(client) == []  # the control API is never journaled


async def journal_targets(client: TestClient) -> list[str]:
    doc = await (await client.get("/_mockle/requests")).json()
    return [e["target"] for e in doc["requests"]]


async def test_socket_frames_in_and_out(client: TestClient, configure: Configure) -> None:
    who = await consumer(client)
    conv = await open_conversation(client, who)
    out = configure(fmt="text")
    async with client.ws_connect(WS + "?v=3", headers={"Authorization": f"jwt {who.jws}"}) as raw:
        ws = Ws(raw)
        sub = {"dialogId": conv, "fromSeq": 0}
        resp = await ws.req(
            {"kind": "req", "id": "7", "type": "ms.SubscribeMessagingEvents", "body": sub}
        )
        assert resp["code"] == 200
        await send_text(client, who, conv, "hello socket")
        note = await ws.recv()
        assert note["kind"] == "notification"
    connect, frame_in, frame_out, *rest = lines(out)
    assert re.fullmatch(
        rf"{TIME} {ACC} ws_connect +101 +\d+\.\dms GET /ws_api/account/{ACC}/messaging/consumer",
        connect,
    ), connect  # before the socket's first frame
    assert re.fullmatch(
        rf"{TIME} {ACC} ws in +- +- ms\.SubscribeMessagingEvents #7 conv={conv}", frame_in
    ), frame_in
    assert re.fullmatch(rf"{TIME} {ACC} ws out +200 +- GenericSubscribeResponse #7", frame_out)
    pattern = rf"{TIME} {ACC} ws out +- +- ms\.MessagingEventNotification ContentEvent conv={conv}"
    assert [line for line in rest if re.fullmatch(pattern, line)], rest
    # a REST line is written with its answer: after the frames the SEND caused
    assert " send " in rest[-1]


async def test_a_refused_upgrade_logs_its_status_not_101(
    client: TestClient, configure: Configure
) -> None:
    out = configure()
    r = await client.get(
        WS + "?v=9",
        headers={
            "Upgrade": "websocket",
            "Connection": "Upgrade",
            "Sec-WebSocket-Version": "13",
            "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
        },
    )
    assert r.status == 400
    (line,) = lines(out)
    assert " ws_connect   400 " in line and " 101 " not in line


async def test_webhook_attempts_are_lines_too(client: TestClient, configure: Configure) -> None:
    hook = "http://127.0.0.1:9/hook?key=secret"  # nothing listens on the discard port
    manifest = {
        "account": ACC,
        "client_id": "cid",
        "client_secret": "sec",
        "client_name": "log test",
        "capabilities": {
            "webhooks": {"ms.MessagingEventNotification.ContentEvent": {"endpoint": hook}}
        },
    }
    assert (await client.post("/_mockle/apps", json=manifest)).status == 201
    who = await consumer(client)
    conv = await open_conversation(client, who)
    out = configure()
    await send_text(client, who, conv, "to the hook")
    r = await client.get(f"/_mockle/requests?target=webhook&wait=5&account={ACC}")
    assert len((await r.json())["requests"]) == 1
    (line,) = [line for line in lines(out) if " webhook " in line]
    assert "POST http://127.0.0.1:9/hook ms.MessagingEventNotification.ContentEvent" in line
    assert f"conv={conv}" in line and "key=secret" not in line
    assert re.search(r" webhook +- +\d+\.\dms ", line), line  # no answer: no status
    assert "(ClientConnectorError" in line  # why it failed


async def test_disabled_logging_builds_no_line(
    client: TestClient, configure: Configure, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Off (--log-level warning, or a library whose host configured nothing), recording an
    entry builds no line, parses no body and times no control call."""

    def forbidden(*args: Any) -> None:
        raise AssertionError("a log line was built while logging is off")

    monkeypatch.setattr(journal, "LogLine", forbidden)
    monkeypatch.setattr(journal, "control_call", forbidden)
    out = configure(level="warning")
    who = await consumer(client)
    conv = await open_conversation(client, who)
    assert (await send_text(client, who, conv, "quiet")).status == 200
    assert (await client.get("/_mockle/health")).status == 200
    assert out.getvalue() == ""
    assert await journal_targets(client) == ["sentinel", "idp", "conversation", "send"]


async def test_other_handlers_get_ordinary_records(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    """Without mockle's own handler (a test's caplog, a host application's logging), request
    lines are ordinary records of ``mockle.requests`` whose message is the text line."""
    caplog.set_level(logging.INFO, logger="mockle.requests")
    who = await consumer(client)
    conv = await open_conversation(client, who)
    await send_text(client, who, conv, "caught")
    records = [r for r in caplog.records if r.name == "mockle.requests"]
    assert len(records) == 4 and all(r.levelno == logging.INFO for r in records)
    assert records[-1].getMessage().endswith(f"ContentEvent conv={conv}")
    assert isinstance(records[-1].msg, logs.Line)
