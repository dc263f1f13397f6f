"""TLS for real: HTTPS and WSS on one port over loopback, every client verifying the certificate
against the CA mockle made (aiohttp, websockets, the Python client, curl, Python's ssl, node).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import socket
import ssl
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from mockle.client import AsyncMockleClient, MockleClient
from mockle.server import MockleServer, ThreadedMockle
from mockle.settings import Settings
from mockle.tls import prepare
from tests.integration.served import mockle_serve_banner
from tests.test_tls import self_signed

pytestmark = pytest.mark.timeout(60)
pytest_plugins = ["pytester"]

ACC = "le12345678"
WAIT = 10.0
NODE = shutil.which("node")


def tls_settings(tmp_path: Path, **kw: object) -> Settings:
    return Settings(port=0, agent="manual", tls=True, tls_dir=tmp_path / "tls", **kw)  # type: ignore[arg-type]


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[MockleServer]:
    async with MockleServer(tls_settings(tmp_path)) as m:
        yield m


def session(ctx: ssl.SSLContext | None) -> aiohttp.ClientSession:
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(ssl=ctx if ctx is not None else True),
        timeout=aiohttp.ClientTimeout(total=WAIT),
    )


def strict(ctx: ssl.SSLContext | None) -> ssl.SSLContext:
    """The checks Python 3.13 turns on by default (RFC 5280 conformance of the chain)."""
    assert ctx is not None
    ctx.verify_flags |= ssl.VERIFY_X509_STRICT
    return ctx


async def signup(http: aiohttp.ClientSession, url: str) -> str:
    async with http.post(f"{url}/api/account/{ACC}/signup") as r:
        assert r.status == 200, await r.text()
        return str((await r.json())["jwt"])


async def test_rest_and_the_domain_api_over_https(server: MockleServer) -> None:
    assert server.url == f"https://127.0.0.1:{server.port}"
    assert server.ws_url == f"wss://127.0.0.1:{server.port}"
    assert server.ca_file == server.settings.tls_dir / "ca.pem"  # type: ignore[operator]
    async with session(strict(server.client_ssl_context())) as http:
        async with http.get(f"{server.url}/_mockle/health") as r:
            assert r.status == 200 and await r.json() == {"status": "ok"}
        # the Domain API hands out bare host:port, as documented: clients add https:// / wss://
        for host in ("127.0.0.1", "localhost"):
            base = f"https://{host}:{server.port}"
            async with http.get(f"{base}/api/account/{ACC}/service/baseURI.json?version=1.0") as r:
                doc = await r.json()
            assert {u["baseURI"] for u in doc["baseURIs"]} == {f"{host}:{server.port}"}
        assert (await signup(http, server.url)).count(".") == 2
        # the control API over the same port
        async with http.get(f"{server.url}/_mockle/conversations?account={ACC}") as r:
            assert r.status == 200


async def test_consumer_socket_over_wss(server: MockleServer) -> None:
    ctx = strict(server.client_ssl_context())
    async with session(ctx) as http:
        token = await signup(http, server.url)
    url = f"{server.ws_url}/ws_api/account/{ACC}/messaging/consumer?v=3"
    async with connect(url, ssl=ctx, additional_headers={"Authorization": token}) as ws:
        await ws.send('{"kind":"req","id":1,"type":"cm.ConsumerRequestConversation","body":{}}')
        resp = json.loads(await asyncio.wait_for(ws.recv(), WAIT))
        assert resp["code"] == 200, resp
        conv = resp["body"]["conversationId"]
        publish = {
            "kind": "req",
            "id": 2,
            "type": "ms.PublishEvent",
            "body": {
                "dialogId": conv,
                "event": {"type": "ContentEvent", "contentType": "text/plain", "message": "hi"},
            },
        }
        await ws.send(json.dumps(publish))
        resp = json.loads(await asyncio.wait_for(ws.recv(), WAIT))
        assert resp["body"] == {"sequence": 0}, resp
    assert server.runtime.bugs == []


async def test_shutdown_closes_a_wss_socket_with_1001_promptly(tmp_path: Path) -> None:
    m = MockleServer(tls_settings(tmp_path))
    await m.start()
    try:
        ctx = m.client_ssl_context()
        async with session(ctx) as http:
            token = await signup(http, m.url)
        url = f"{m.ws_url}/ws_api/account/{ACC}/messaging/consumer?v=3"
        async with connect(url, ssl=ctx, additional_headers={"Authorization": token}) as ws:
            await ws.send('{"kind":"req","id":"1","type":"GetClock"}')
            assert json.loads(await asyncio.wait_for(ws.recv(), WAIT))["code"] == 200
            loop = asyncio.get_running_loop()
            started = loop.time()
            stopping = asyncio.ensure_future(m.stop())
            with pytest.raises(ConnectionClosed) as info:
                await asyncio.wait_for(ws.recv(), WAIT)
            assert info.value.rcvd is not None and info.value.rcvd.code == 1001
            await asyncio.wait_for(stopping, WAIT)
            assert loop.time() - started < 5.0  # the TLS close does not wait out a timeout
    finally:
        await m.stop()


async def test_a_client_that_does_not_trust_the_ca_is_refused_and_the_server_lives_on(
    server: MockleServer,
) -> None:
    system_roots = ssl.create_default_context()
    async with session(system_roots) as http:
        with pytest.raises(aiohttp.ClientConnectorCertificateError):
            await http.get(f"{server.url}/_mockle/health")
    with pytest.raises(ssl.SSLCertVerificationError):
        async with connect(f"{server.ws_url}/ws_api/account/{ACC}/messaging/consumer?v=3"):
            pass  # pragma: no cover
    # the Python client never turns verification off on its own
    async with AsyncMockleClient(server.url) as m:
        with pytest.raises(aiohttp.ClientConnectorCertificateError):
            await m.health()
    # plain HTTP on the TLS port gets no answer, and breaks nothing
    async with session(None) as http:
        with pytest.raises(aiohttp.ClientError):
            await http.get(f"http://127.0.0.1:{server.port}/_mockle/health")
    async with session(server.client_ssl_context()) as http:
        async with http.get(f"{server.url}/_mockle/health") as r:
            assert r.status == 200
    assert server.runtime.bugs == []


async def test_the_async_client_over_tls(server: MockleServer) -> None:
    async with AsyncMockleClient(server.url, ca_file=server.ca_file) as m:
        alice = await m.consumer("alice")
        conv = await m.open_conversation(alice)
        assert await m.send_text(alice, conv, "hello") == 0
        await m.agent.join(conv)
        await m.agent.say(conv, "hi there")
        reply = await m.wait_for_text(conv, "hi there")
        assert reply["event"]["message"] == "hi there"


def test_threaded_server_and_sync_client_over_tls(tmp_path: Path) -> None:
    with ThreadedMockle(tls_settings(tmp_path)) as server:
        assert server.url.startswith("https://") and server.ca_file is not None
        assert server.tls is not None and server.tls.generated
        with MockleClient(server.url, ssl_context=server.client_ssl_context()) as m:
            bob = m.consumer("bob")
            conv = m.open_conversation(bob)
            m.send_text(bob, conv, "hello")
            m.assert_sent(text="hello")


async def test_a_wildcard_host_gives_a_url_the_certificate_covers(tmp_path: Path) -> None:
    async with MockleServer(tls_settings(tmp_path, host="0.0.0.0")) as m:
        assert m.url == f"https://127.0.0.1:{m.port}"
        async with session(m.client_ssl_context()) as http:
            async with http.get(f"{m.url}/_mockle/health") as r:
                assert r.status == 200


def _ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as s:
            s.bind(("::1", 0))
    except OSError:
        return False
    return True


@pytest.mark.skipif(not _ipv6_loopback(), reason="this machine has no IPv6 loopback (::1)")
async def test_ipv6_loopback_over_tls(tmp_path: Path) -> None:
    async with MockleServer(tls_settings(tmp_path, host="::1")) as m:
        assert m.url == f"https://[::1]:{m.port}"
        async with session(strict(m.client_ssl_context())) as http:
            async with http.get(f"{m.url}/_mockle/health") as r:
                assert r.status == 200


async def test_your_own_certificate_is_served(tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path, ["localhost"])
    async with MockleServer(Settings(port=0, tls_cert=cert, tls_key=key)) as m:
        assert m.url.startswith("https://") and m.ca_file == cert
        ctx = m.client_ssl_context()
        assert ctx is not None
        async with session(ctx) as http:
            async with http.get(f"https://localhost:{m.port}/_mockle/health") as r:
                assert r.status == 200
            # the certificate names only localhost: the loopback IP is refused, as it should be
            with pytest.raises(aiohttp.ClientConnectorCertificateError):
                await http.get(f"https://127.0.0.1:{m.port}/_mockle/health")


def test_the_pytest_plugin_over_tls(pytester: pytest.Pytester, tmp_path: Path) -> None:
    pytester.makeini(
        "[pytest]\nasyncio_mode = auto\nasyncio_default_fixture_loop_scope = function\n"
    )
    pytester.makeconftest(
        f"""
import pytest
from mockle.settings import Settings

@pytest.fixture
def mockle_settings():
    return Settings(port=0, agent="manual", tls=True, tls_dir={str(tmp_path / "tls")!r})

@pytest.fixture(scope="session")
def mockle_session_settings():
    return Settings(port=0, agent="manual", tls=True, tls_dir={str(tmp_path / "tls")!r})
"""
    )
    pytester.makepyfile(
        test_over_tls="""
import ssl

def test_fixture_serves_https(mockle):
    assert mockle.url.startswith("https://") and mockle.ws_url.startswith("wss://")
    assert mockle.ca_file.name == "ca.pem" and isinstance(mockle.ssl_context, ssl.SSLContext)
    m = mockle.client
    c = m.consumer("alice")
    conv = m.open_conversation(c)
    m.send_text(c, conv, "hello")
    m.assert_sent(text="hello")

async def test_async_client_of_the_fixture(mockle):
    async with mockle.aclient() as m:
        assert await m.health() == {"status": "ok"}

def test_shared_server_over_tls(mockle_shared):
    assert mockle_shared.url.startswith("https://")
    assert mockle_shared.client.conversations() == []
"""
    )
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", "-q")
    result.assert_outcomes(passed=3)


# -- `mockle serve --tls`: the printed lines work as printed ------------------------------------

NODE_CLIENT = r"""
const https = require('https');
const base = new URL(process.argv[2]);
const acc = process.argv[3];
function get(path) {
  return new Promise((resolve, reject) => {
    https.get(new URL(path, base), (r) => {
      let body = '';
      r.on('data', (d) => { body += d; });
      r.on('end', () => resolve({status: r.statusCode, body}));
    }).on('error', reject);
  });
}
function upgrade(path) {
  return new Promise((resolve, reject) => {
    const req = https.request(new URL(path, base), {headers: {
      Connection: 'Upgrade', Upgrade: 'websocket', 'Sec-WebSocket-Version': '13',
      'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ=='}});
    req.on('upgrade', (r, sock) => { sock.end(); resolve(r.statusCode); });
    req.on('response', (r) => resolve(r.statusCode));
    req.on('error', reject);
    req.end();
  });
}
(async () => {
  const health = await get('/_mockle/health');
  const csds = await get(`/api/account/${acc}/service/baseURI.json?version=1.0`);
  const ws = await upgrade(`/ws_api/account/${acc}/messaging/consumer?v=3`);
  console.log(JSON.stringify({health, csds: JSON.parse(csds.body), ws}));
})().catch((e) => { console.log(JSON.stringify({error: e.code || String(e)})); process.exit(3); });
"""


def _printed(lines: list[str], prefix: str) -> str:
    [line] = [line for line in lines if line.startswith(prefix)]
    return line


def _run(script: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        capture_output=True,
        text=True,
        timeout=30,
        env=env,
    )


async def test_mockle_serve_tls_prints_lines_that_work_verbatim(tmp_path: Path) -> None:
    folder = tmp_path / "tls dir"
    args = ("--tls", "--tls-dir", str(folder), "--agent", "manual")
    async with mockle_serve_banner(*args) as lines:
        url = lines[0].removeprefix("mockle listening on ")
        port = url.rsplit(":", 1)[1]
        assert lines[0] == f"mockle listening on https://127.0.0.1:{port}"
        assert lines[1].startswith(f"mockle WebSocket on wss://127.0.0.1:{port}")
        assert any("made now: CA and certificate" in line for line in lines)
        node_line = _printed(lines, "export NODE_EXTRA_CA_CERTS=")
        python_line = _printed(lines, "export SSL_CERT_FILE=")
        curl_line = _printed(lines, "curl --cacert ")
        assert f"'{folder}/ca.pem'" in node_line and f"'{folder}/bundle.pem'" in python_line
        assert "REQUESTS_CA_BUNDLE=" in python_line
        # curl, as printed
        if shutil.which("curl"):
            out = await asyncio.to_thread(_run, curl_line + " -sS --fail")
            assert out.returncode == 0 and json.loads(out.stdout) == {"status": "ok"}, out.stderr
        # Python's ssl with the printed variables (the bundle keeps the system's roots too)
        probe = (
            "import json, urllib.request; "
            f"print(urllib.request.urlopen('{url}/_mockle/health', timeout=10).read().decode())"
        )
        out = await asyncio.to_thread(
            _run, f'{python_line}\n{sys.executable} -c "{probe}"', dict(os.environ)
        )
        assert out.returncode == 0 and json.loads(out.stdout) == {"status": "ok"}, out.stderr
        # the health check the container runs follows TLS
        env = {k: v for k, v in os.environ.items() if not k.startswith("MOCKLE_")}
        health = [sys.executable, "-m", "mockle.healthcheck", "--port", port]
        tls_env = {**env, "MOCKLE_TLS": "1", "MOCKLE_TLS_DIR": str(folder)}
        out = await asyncio.to_thread(
            subprocess.run, health, env=tls_env, capture_output=True, text=True, timeout=30
        )
        assert out.returncode == 0, out.stderr
        out = await asyncio.to_thread(
            subprocess.run, health, env=env, capture_output=True, text=True, timeout=30
        )
        assert out.returncode == 1 and out.stderr.startswith("mockle healthcheck: http://")
    # a second start reuses the CA and the certificate
    async with mockle_serve_banner(*args) as again:
        assert not any("made now" in line for line in again)
        assert _printed(again, "export NODE_EXTRA_CA_CERTS=") == node_line


@pytest.mark.skipif(NODE is None, reason="node is not installed (Debian: apt-get install nodejs)")
async def test_node_trusts_mockle_with_the_printed_line(tmp_path: Path) -> None:
    assert NODE is not None
    script = tmp_path / "client.js"
    script.write_text(NODE_CLIENT)
    args = ("--tls", "--tls-dir", str(tmp_path / "tls"), "--agent", "manual")
    async with mockle_serve_banner(*args) as lines:
        url = lines[0].removeprefix("mockle listening on ")
        node_line = _printed(lines, "export NODE_EXTRA_CA_CERTS=")
        env = {k: v for k, v in os.environ.items() if k != "NODE_TLS_REJECT_UNAUTHORIZED"}
        command = f"{node_line}\n{NODE} {script} {url} {ACC}"
        out = await asyncio.to_thread(_run, command, env)
        assert out.returncode == 0, (out.stdout, out.stderr)
        doc = json.loads(out.stdout)
        assert doc["health"] == {"status": 200, "body": '{"status":"ok"}'}
        address = url.removeprefix("https://")
        assert {u["baseURI"] for u in doc["csds"]["baseURIs"]} == {address}
        assert doc["ws"] == 101  # the WebSocket upgrade over TLS, on the same port
        # without the line node refuses the certificate: verification is real
        env["NODE_EXTRA_CA_CERTS"] = os.devnull
        out = await asyncio.to_thread(_run, f"{NODE} {script} {url} {ACC}", env)
        assert out.returncode == 3
        assert json.loads(out.stdout)["error"] in (
            "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
            "SELF_SIGNED_CERT_IN_CHAIN",
            "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
        )


async def test_mockle_serve_with_a_bad_certificate_exits_2_on_one_line(tmp_path: Path) -> None:
    garbage = tmp_path / "cert.pem"
    garbage.write_text("not a certificate\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("MOCKLE_")}
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "mockle",
        "serve",
        "--port",
        "0",
        "--tls-cert",
        str(garbage),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 2 and out == b""
    assert err.decode().splitlines() == [
        f"mockle: invalid configuration: --tls-cert {garbage}: no PEM certificate in it "
        "(expected a '-----BEGIN CERTIFICATE-----' block)"
    ]


async def test_the_pytest_plugin_drives_an_external_tls_mockle(
    pytester: pytest.Pytester, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    pytester.makepyfile(
        test_external="""
def test_external_over_tls(mockle):
    assert mockle.external and mockle.url.startswith("https://")
    m = mockle.client
    c = m.consumer("carol")
    conv = m.open_conversation(c)
    m.send_text(c, conv, "hello")
    m.assert_sent(text="hello")

def test_shared_external_over_tls(mockle_shared):
    assert mockle_shared.client.health() == {"status": "ok"}
"""
    )
    args = ("--tls", "--tls-dir", str(tmp_path / "tls"), "--agent", "manual")
    async with mockle_serve_banner(*args) as lines:
        url = lines[0].removeprefix("mockle listening on ")
        ca = str(tmp_path / "tls" / "ca.pem")
        result = await asyncio.to_thread(
            pytester.runpytest_inprocess,
            "-p",
            "no:cacheprovider",
            f"--mockle-url={url}",
            "-q",
            f"--mockle-ca={ca}",
        )
        result.assert_outcomes(passed=2)
        monkeypatch.setenv("MOCKLE_CA", ca)  # the variable does the same
        result = await asyncio.to_thread(
            pytester.runpytest_inprocess, "-p", "no:cacheprovider", f"--mockle-url={url}", "-q"
        )
        result.assert_outcomes(passed=2)
        monkeypatch.delenv("MOCKLE_CA")  # and without a CA, the certificate is refused
        result = await asyncio.to_thread(
            pytester.runpytest_inprocess,
            "-p",
            "no:cacheprovider",
            f"--mockle-url={url}",
            "-q",
            "--tb=line",
        )
        result.stdout.fnmatch_lines(["*CERTIFICATE_VERIFY_FAILED*"])
        result.assert_outcomes(failed=2, errors=2)  # the tests and their resets


def test_the_docs_tls_pytest_example_passes(
    pytester: pytest.Pytester, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    docs = Path(__file__).resolve().parents[2] / "docs" / "testing.md"
    section = docs.read_text().split("## TLS: https:// and wss://", 1)[1].split("\n## ", 1)[0]
    match = re.search(r"```python\n(.*?)```", section, re.S)
    assert match, "docs/testing.md lost its TLS pytest example"
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))  # the default folder, isolated
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    pytester.makepyfile(
        test_docs_example="import pytest\nfrom mockle.settings import Settings\n\n" + match.group(1)
    )
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", "-q")
    result.assert_outcomes(passed=1)
    assert (tmp_path / "data" / "mockle" / "tls" / "ca.pem").is_file()


async def test_health_check_with_your_own_certificate_and_without_a_ca(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from mockle import healthcheck

    for name in list(os.environ):
        if name.startswith("MOCKLE_"):
            monkeypatch.delenv(name)
    cert, key = self_signed(tmp_path, ["localhost"])  # not 127.0.0.1: the probe still passes
    async with MockleServer(Settings(port=0, tls_cert=cert, tls_key=key)) as m:
        port = str(m.port)
        monkeypatch.setenv("MOCKLE_TLS_CERT", str(cert))
        assert await asyncio.to_thread(healthcheck.main, ["--port", port]) == 0
        monkeypatch.delenv("MOCKLE_TLS_CERT")
        monkeypatch.setenv("MOCKLE_TLS", "1")
        monkeypatch.setenv("MOCKLE_TLS_DIR", str(tmp_path / "no-ca-here"))
        assert await asyncio.to_thread(healthcheck.main, ["--port", port]) == 1
        assert capsys.readouterr().err.startswith(
            "mockle healthcheck: cannot load the CA to verify with: "
        )
        # a CA that did not sign the server's certificate: refused
        assert prepare(tls_settings(tmp_path / "other")) is not None
        monkeypatch.setenv("MOCKLE_TLS_DIR", str(tmp_path / "other" / "tls"))
        assert await asyncio.to_thread(healthcheck.main, ["--port", port]) == 1
        assert "CERTIFICATE_VERIFY_FAILED" in capsys.readouterr().err
