"""The client commands (``mockle conversations``, ``mockle agent ...``, ``mockle tail``) against
a real listening mockle (:class:`mockle.server.MockleServer` in the test's loop; the command
runs in a thread, or as a real subprocess where it must be interrupted)."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import ssl
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import orjson
import pytest
from aiohttp import web

from mockle import commands
from mockle.cli import main
from mockle.client import AsyncMockleClient, Consumer
from mockle.server import MockleServer
from mockle.settings import Settings

ACC = "le12345678"
WAIT = 15.0  # every wait on a subprocess is bounded


@pytest.fixture
async def server() -> AsyncIterator[MockleServer]:
    async with MockleServer(Settings(port=0, agent="manual")) as s:
        yield s


@pytest.fixture
async def client(server: MockleServer) -> AsyncIterator[AsyncMockleClient]:
    async with AsyncMockleClient(server.url, account=ACC) as c:
        yield c


async def cli(*argv: str, env: dict[str, str] | None = None) -> int:
    """``mockle *argv`` in a thread (it runs its own event loop), environment cleared of
    MOCKLE_* variables unless ``env`` gives some."""
    saved = {k: v for k, v in os.environ.items() if k.startswith("MOCKLE_")}
    for key in saved:
        del os.environ[key]
    os.environ.update(env or {})
    try:
        return await asyncio.to_thread(main, list(argv))
    finally:
        for key in env or {}:
            os.environ.pop(key, None)
        os.environ.update(saved)


async def conversation(client: AsyncMockleClient, ext: str = "alice") -> tuple[Consumer, str]:
    who = await client.consumer(ext)
    return who, await client.open_conversation(who)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# -- conversations --------------------------------------------------------------------------


async def test_conversations_table(
    server: MockleServer, client: AsyncMockleClient, capsys: pytest.CaptureFixture[str]
) -> None:
    alice, first = await conversation(client, "alice-ext")
    profile = {"firstName": "Alice", "lastName": "Liddell"}
    await client.send(
        alice, {"kind": "req", "id": "1", "type": "userprofile.SetUserProfile", "body": profile}
    )
    await client.send_text(alice, first, "where is my order?\nit is late")
    bob, second = await conversation(client, "bob-ext")
    await client.agent.join(second)
    await client.agent.say(second, "hello Bob, " + "x" * 60)
    assert await cli("conversations", "--url", server.url) == 0
    header, row1, row2 = capsys.readouterr().out.splitlines()
    assert header.split() == [
        "ID", "ACCOUNT", "CONSUMER", "STATE", "SKILL", "AGENT", "LAST", "MESSAGE", "AGE"
    ]  # fmt: skip
    assert row1.startswith(first) and row2.startswith(second)  # oldest first
    message = r"consumer: where is my order\? it is late"  # on one line
    assert re.search(rf"Alice Liddell +OPEN +-1 +- +{message} +\d+s$", row1), row1
    agent = (await client.conversation(second))["assignedAgent"]["agentId"]
    assert re.search(rf"bob-ext +OPEN +-1 +{agent} +agent: hello Bob, x+… +\d+s$", row2), row2
    # the columns line up
    assert header.index("CONSUMER") == row1.index("Alice") == row2.index("bob-ext")


async def test_conversations_filters_and_json(
    server: MockleServer, client: AsyncMockleClient, capsys: pytest.CaptureFixture[str]
) -> None:
    _, open_one = await conversation(client, "a")
    _, closed_one = await conversation(client, "b")
    await client.agent.close(closed_one)
    other = AsyncMockleClient(server.url, account="le999")
    async with other:
        await conversation(other, "c")
    assert await cli("conversations", "--url", server.url, "--state", "open", "--account", ACC) == 0
    (row,) = capsys.readouterr().out.splitlines()[1:]
    assert row.startswith(open_one)
    assert await cli("conversations", "--url", server.url, "--json", "--state", "CLOSE") == 0
    (doc,) = orjson.loads(capsys.readouterr().out)
    assert doc["conversationId"] == closed_one and doc["state"] == "CLOSE"
    assert doc["consumerName"] == "b" and doc["extConsumerId"] == "b"
    assert await cli("conversations", "--url", server.url, "--account", "nobody") == 0
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == "no conversations on account nobody\n"


# -- agent ------------------------------------------------------------------------------------


async def test_agent_join_say_transfer_close(
    server: MockleServer, client: AsyncMockleClient, capsys: pytest.CaptureFixture[str]
) -> None:
    _, conv = await conversation(client)
    url = ("--url", server.url)
    assert await cli("agent", "join", conv, *url) == 0
    joined = (await client.conversation(conv))["assignedAgent"]["agentId"]
    assert capsys.readouterr().out == f"{conv}: agent {joined} joined\n"

    assert await cli("agent", "say", conv, "Hi, I am here to help", *url) == 0
    assert capsys.readouterr().out == f"{conv}: sent (sequence 0)\n"
    event = await client.wait_for_text(conv, "Hi, I am here to help")
    assert event["originatorId"] == joined  # said by the agent who joined

    assert await cli("agent", "transfer", conv, "--skill", "1234", *url) == 0
    assert capsys.readouterr().out == f"{conv}: transferred to skill 1234\n"
    detail = await client.conversation(conv)
    assert detail["skillId"] == "1234" and detail["assignedAgent"] is None

    assert await cli("agent", "close", conv, "--json", *url) == 0
    closed = orjson.loads(capsys.readouterr().out)
    assert closed["state"] == "CLOSE" and closed["closeReason"] == "AGENT"

    assert await cli("agent", "close", conv, *url) == 1  # a closed one
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == f"mockle: {conv}: Bad Request, Conversation is close (400)\n"


async def test_agent_say_reads_stdin_and_names_the_agent(
    server: MockleServer,
    client: AsyncMockleClient,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _, conv = await conversation(client)
    monkeypatch.setattr(sys, "stdin", __import__("io").StringIO("from a pipe\n"))
    agent = f"{ACC}.4711"
    assert await cli("agent", "say", conv, "-", "--agent-id", agent, "--url", server.url) == 0
    capsys.readouterr()
    event = await client.wait_for_text(conv, "from a pipe")  # without the final newline
    detail = await client.conversation(conv)
    assert detail["assignedAgent"]["legacyId"] == agent
    assert event["originatorId"] == detail["assignedAgent"]["agentId"]


async def test_unknown_conversation_is_one_line(
    server: MockleServer, capsys: pytest.CaptureFixture[str]
) -> None:
    for argv in (
        ("agent", "say", "nope", "hi"),
        ("agent", "join", "nope"),
        ("agent", "close", "nope"),
        ("agent", "transfer", "nope", "--skill", "1"),
    ):
        assert await cli(*argv, "--url", server.url) == 1
        captured = capsys.readouterr()
        assert captured.err == "mockle: conversation 'nope' does not exist (404)\n", argv
        assert captured.out == ""


async def test_bad_input_is_refused(
    server: MockleServer, client: AsyncMockleClient, capsys: pytest.CaptureFixture[str]
) -> None:
    _, conv = await conversation(client)
    assert await cli("agent", "say", conv, "   ", "--url", server.url) == 1
    assert capsys.readouterr().err == "mockle: the message is empty\n"
    with pytest.raises(SystemExit) as exc:  # argparse: usage errors exit 2
        await cli("agent", "transfer", conv, "--url", server.url)
    assert exc.value.code == 2
    assert "--skill" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        await cli("agent")
    assert exc.value.code == 2
    assert await cli("conversations", "--url", "ftp://example") == 1
    assert "is not an http:// or https:// URL" in capsys.readouterr().err
    assert await cli("tail", "--url", server.url, "-n", "-1") == 1
    assert capsys.readouterr().err == "mockle: --lines must be 0 or more\n"


# -- errors: the server is not there, the admin token ------------------------------------------


async def test_server_not_reachable(capsys: pytest.CaptureFixture[str]) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    for argv in (("conversations",), ("agent", "close", "c1"), ("tail", "--no-follow")):
        assert await cli(*argv, "--url", url) == 1
        err = capsys.readouterr().err
        assert err == (
            f"mockle: cannot reach mockle at {url}: connection refused "
            "(is `mockle serve` running?)\n"
        ), err


async def test_default_url_and_mockle_url(
    server: MockleServer, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert await cli("conversations", env={"MOCKLE_URL": server.url}) == 0
    assert capsys.readouterr().err == "no conversations\n"
    assert await cli("conversations", "--url", server.url + "/") == 0  # a trailing slash is fine
    capsys.readouterr()
    assert commands.DEFAULT_URL == "http://localhost:8080"  # mockle serve's own port
    monkeypatch.setattr(commands, "DEFAULT_URL", server.url)  # no --url, no MOCKLE_URL
    assert await cli("conversations") == 0
    assert capsys.readouterr().err == "no conversations\n"


async def test_admin_token(capsys: pytest.CaptureFixture[str]) -> None:
    async with MockleServer(Settings(port=0, agent="manual", admin_token="s3cret")) as s:
        assert await cli("conversations", "--url", s.url) == 1
        assert capsys.readouterr().err == (
            f"mockle: {s.url} requires the admin token: pass --admin-token or set "
            "MOCKLE_ADMIN_TOKEN\n"
        )
        assert await cli("agent", "close", "c1", "--url", s.url, "--admin-token", "wrong") == 1
        assert capsys.readouterr().err == f"mockle: {s.url} refused the admin token (401)\n"
        assert await cli("conversations", "--url", s.url, "--admin-token", "s3cret") == 0
        token = {"MOCKLE_ADMIN_TOKEN": "s3cret"}
        assert await cli("tail", "--no-follow", "--url", s.url, env=token) == 0
        assert "Traceback" not in capsys.readouterr().err


async def test_not_a_mockle(capsys: pytest.CaptureFixture[str]) -> None:
    async def hello(request: web.Request) -> web.Response:
        return web.Response(text="<html>hello</html>", status=404)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", hello)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        assert await cli("conversations", "--url", f"http://127.0.0.1:{port}") == 1
        err = capsys.readouterr().err
        url = f"http://127.0.0.1:{port}"
        assert err == f"mockle: GET /_mockle/conversations answered 404; is {url} a mockle?\n"
    finally:
        await runner.cleanup()


# -- tail ----------------------------------------------------------------------------------


async def test_tail_prints_the_latest_entries(
    server: MockleServer, client: AsyncMockleClient, capsys: pytest.CaptureFixture[str]
) -> None:
    who, conv = await conversation(client)
    await client.send_text(who, conv, "first")
    await client.send_text(who, conv, "second")
    other = AsyncMockleClient(server.url, account="le999")
    async with other:
        await conversation(other, "z")
    url = ("--url", server.url)
    assert await cli("tail", "--no-follow", "-n", "3", *url) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[1:3] for line in lines] == [
        ["le999", "sentinel"], ["le999", "idp"], ["le999", "conversation"]
    ]  # fmt: skip

    assert await cli("tail", "--no-follow", "--conversation", conv, "--target", "send", *url) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 and all(f"conv={conv}" in line and " send " in line for line in lines)

    assert await cli("tail", "--no-follow", "--account", ACC, "-n", "1", "--json", *url) == 0
    (entry,) = [orjson.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert entry["target"] == "send" and entry["body"]["body"]["event"]["message"] == "second"
    assert entry["status"] == 200 and isinstance(entry["ms"], float)

    assert await cli("tail", "--no-follow", "-n", "0", *url) == 0
    assert capsys.readouterr().out == ""


async def follow(*argv: str, env: dict[str, str] | None = None) -> asyncio.subprocess.Process:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("MOCKLE_", "SSL_CERT"))}
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "mockle",
        "tail",
        *argv,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**base, **(env or {})},
    )


async def next_line(proc: asyncio.subprocess.Process) -> str:
    assert proc.stdout is not None
    line = await asyncio.wait_for(proc.stdout.readline(), WAIT)
    assert line, await proc.stderr.read() if proc.stderr else b""
    return line.decode().rstrip("\n")


async def interrupt(proc: asyncio.subprocess.Process) -> tuple[int, bytes]:
    proc.send_signal(signal.SIGINT)
    code = await asyncio.wait_for(proc.wait(), WAIT)
    assert proc.stderr is not None
    return code, await proc.stderr.read()


async def test_tail_follows_new_entries(server: MockleServer, client: AsyncMockleClient) -> None:
    """Like ``kubectl logs -f``: the last entry, then each new one as it comes (the test
    waits on the command's output, never on time), until Ctrl-C."""
    who, conv = await conversation(client)
    proc = await follow("--url", server.url, "-n", "1", "--conversation", conv)
    try:
        first = await next_line(proc)  # the CONVERSATION: tail is up and has its place
        assert " conversation " in first and f"conv={conv}" in first
        await client.send_text(who, conv, "live")
        assert " send " in await next_line(proc)
        other, conv2 = await conversation(client, "someone-else")
        await client.send_text(other, conv2, "not this conversation")  # filtered out
        await client.agent.say(conv, "agent side")  # control API: not journaled ...
        await client.send_text(who, conv, "again")  # ... so the next line is this SEND
        line = await next_line(proc)
        assert " send " in line and f"conv={conv}" in line
    finally:
        code, err = await interrupt(proc)
    assert code == 130 and b"Traceback" not in err, err


async def test_tail_follows_as_json(server: MockleServer, client: AsyncMockleClient) -> None:
    who, conv = await conversation(client)
    await client.send_text(who, conv, "before")
    proc = await follow("--url", server.url, "-n", "1", "--json", "--target", "send")
    try:
        assert orjson.loads(await next_line(proc))["body"]["body"]["event"]["message"] == "before"
        await client.send_text(who, conv, "after")
        entry = orjson.loads(await next_line(proc))
        assert entry["target"] == "send" and entry["body"]["body"]["event"]["message"] == "after"
    finally:
        code, err = await interrupt(proc)
    assert code == 130, err


async def test_tail_ends_when_mockle_stops() -> None:
    """A stopping mockle answers the long-poll at once (its shutdown does not wait for the
    rest of the wait); the next call finds nobody: one line, exit 1."""
    async with MockleServer(Settings(port=0, agent="manual")) as other:
        async with AsyncMockleClient(other.url, account=ACC) as c:
            await conversation(c)
        proc = await follow("--url", other.url, "-n", "1")
        assert " conversation " in await next_line(proc)
        loop = asyncio.get_running_loop()
        started = loop.time()
    assert loop.time() - started < 4.0  # the shutdown did not wait out the 25 s long-poll
    code = await asyncio.wait_for(proc.wait(), WAIT)
    assert proc.stderr is not None
    err = (await proc.stderr.read()).decode()
    assert code == 1 and err.startswith(f"mockle: cannot reach mockle at {other.url}"), err


# -- tail over TLS ------------------------------------------------------------------------------


@pytest.fixture
async def tls(tmp_path: Path) -> AsyncIterator[tuple[str, Path]]:
    """A mockle started with ``--tls`` (its own local CA): its URL and the CA to trust."""
    async with MockleServer(Settings(port=0, agent="manual", tls=True, tls_dir=tmp_path)) as s:
        assert s.ca_file is not None
        yield s.url, s.ca_file


async def test_tail_over_tls(tls: tuple[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    url, cert = tls
    trusted = ssl.create_default_context(cafile=str(cert))
    async with AsyncMockleClient(url, account=ACC, ssl_context=trusted) as client:
        who, conv = await conversation(client)
        assert await cli("tail", "--no-follow", "--url", url) == 1  # not trusted
        err = capsys.readouterr().err
        assert err.startswith(f"mockle: {url}: its TLS certificate is not trusted (")
        assert err.endswith("pass --cacert FILE or set SSL_CERT_FILE\n")
        assert await cli("tail", "--no-follow", "--url", url, "--cacert", str(cert)) == 0
        assert f"conv={conv}" in capsys.readouterr().out
        assert await cli("tail", "--no-follow", "--url", url.replace("https", "http")) == 1
        assert "closed the connection unanswered (an https server? use https://)" in (
            capsys.readouterr().err
        )
        missing = str(cert.parent / "nope.pem")
        assert await cli("conversations", "--url", url, "--cacert", missing) == 1
        assert capsys.readouterr().err.startswith(f"mockle: --cacert {missing}: cannot load it")

        proc = await follow("--url", url, "-n", "1", env={"SSL_CERT_FILE": str(cert)})
        try:
            assert f"conv={conv}" in await next_line(proc)
            await client.send_text(who, conv, "secure")
            assert " send " in await next_line(proc)
        finally:
            code, err_bytes = await interrupt(proc)
        assert code == 130, err_bytes


def test_every_command_has_help(capsys: pytest.CaptureFixture[str]) -> None:
    for argv in (["conversations"], ["agent"], ["agent", "say"], ["tail"]):
        with pytest.raises(SystemExit) as exc:
            main([*argv, "--help"])
        assert exc.value.code == 0
        out = capsys.readouterr().out
        assert "usage: mockle" in out
        if argv != ["agent"]:
            assert "--url" in out and "MOCKLE_URL" in out and "--admin-token" in out
