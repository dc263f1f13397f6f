"""The Agent Workspace's web side: the redirect, the static files, and the admin-token cookie."""

from __future__ import annotations

import re
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from mockle.settings import Settings
from mockle.web.app import create_app
from mockle.web.ui import COOKIE, UI_DIR, session_value

TOKEN = "s3cret-admin"


@pytest.fixture
async def client(aiohttp_client: Any) -> TestClient:
    return await aiohttp_client(create_app(Settings(port=0, agent="manual")))


@pytest.fixture
async def locked(aiohttp_client: Any) -> TestClient:
    return await aiohttp_client(create_app(Settings(port=0, agent="manual", admin_token=TOKEN)))


@pytest.mark.parametrize(
    ("path", "where"),
    [
        ("/", "/_mockle/ui/"),
        ("/?account=le1", "/_mockle/ui/?account=le1"),
        ("/_mockle/ui", "/_mockle/ui/"),
        ("/_mockle/ui?account=x", "/_mockle/ui/?account=x"),
    ],
)
async def test_root_redirects_to_the_workspace(client: TestClient, path: str, where: str) -> None:
    r = await client.get(path, allow_redirects=False)
    assert r.status == 302 and r.headers["Location"] == where


async def test_the_page_and_every_file_it_loads_are_served(client: TestClient) -> None:
    r = await client.get("/_mockle/ui/")
    html = await r.text()
    assert r.status == 200 and r.content_type == "text/html"
    assert "Agent Workspace" in html
    assert "default-src 'self'" in r.headers["Content-Security-Policy"]
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    loaded = re.findall(r'(?:src|href)="([^"]+)"', html)
    modules: list[str] = []
    for name in loaded:
        assert "//" not in name, f"the page loads {name} from elsewhere"
        r = await client.get("/_mockle/ui/" + name)
        assert r.status == 200, name
        if name.endswith(".js"):
            assert r.content_type == "text/javascript"
            modules.append(await r.text())
    # every module imported by a module is there too (nothing comes from the internet)
    seen = set()
    while modules:
        for dep in re.findall(r'from "\./([^"]+)"', modules.pop()):
            if dep in seen:
                continue
            seen.add(dep)
            r = await client.get("/_mockle/ui/" + dep)
            assert r.status == 200, dep
            modules.append(await r.text())
    assert {"agent.js", "store.js", "vlist.js", "inspector.js", "workspace.js"} <= seen


async def test_every_shipped_file_is_one_the_page_may_load(client: TestClient) -> None:
    for path in UI_DIR.iterdir():
        r = await client.get("/_mockle/ui/" + path.name)
        assert r.status == 200, path.name


@pytest.mark.parametrize(
    "name", ["../ui.py", "..%2fui.py", "nope.js", "%2e%2e/app.py", "style.css/x", "ui.py"]
)
async def test_nothing_else_is_served(client: TestClient, name: str) -> None:
    r = await client.get("/_mockle/ui/" + name)
    assert r.status == 404
    assert (await r.json())["body"]["title"] == "Not Found"


async def test_without_admin_token_the_session_says_so(client: TestClient) -> None:
    r = await client.get("/_mockle/ui/session")
    assert await r.json() == {"adminToken": False, "authenticated": True}
    r = await client.post("/_mockle/ui/session", json={"token": "anything"})
    assert r.status == 200 and COOKIE not in r.cookies


async def test_with_admin_token_the_page_still_loads(locked: TestClient) -> None:
    assert (await locked.get("/_mockle/ui/")).status == 200
    assert (await locked.get("/_mockle/ui/main.js")).status == 200
    r = await locked.get("/_mockle/ui/session")
    assert await r.json() == {"adminToken": True, "authenticated": False}
    assert (await locked.get("/_mockle/requests")).status == 401


async def test_the_token_posted_once_becomes_an_httponly_strict_cookie(locked: TestClient) -> None:
    r = await locked.post("/_mockle/ui/session", json={"token": TOKEN})
    assert r.status == 200 and await r.json() == {"adminToken": True, "authenticated": True}
    cookie = r.headers["Set-Cookie"]
    assert f"{COOKIE}={session_value(TOKEN)}" in cookie
    assert TOKEN not in cookie  # the cookie carries an HMAC, not the token
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/_mockle" in cookie
    assert "Secure" not in cookie  # plain HTTP here; under TLS it is Secure
    r = await locked.get("/_mockle/requests")  # the client's jar sends the cookie back
    assert r.status == 200
    r = await locked.get("/_mockle/ui/session")
    assert (await r.json())["authenticated"] is True
    r = await locked.delete("/_mockle/ui/session")
    assert r.status == 200 and (await r.json())["authenticated"] is False
    locked.session.cookie_jar.clear()
    assert (await locked.get("/_mockle/requests")).status == 401


async def test_a_wrong_token_gets_401_and_no_cookie(locked: TestClient) -> None:
    r = await locked.post("/_mockle/ui/session", json={"token": "guess"})
    assert r.status == 401 and "Set-Cookie" not in r.headers
    assert (await r.json())["body"]["path"] == "$.token"
    assert (await locked.get("/_mockle/requests")).status == 401


@pytest.mark.parametrize(
    ("body", "where"), [({}, "$.token"), ({"token": ""}, "$.token"), ([], "$"), ("x", "$")]
)
async def test_a_bad_session_body_is_a_400(locked: TestClient, body: Any, where: str) -> None:
    r = await locked.post("/_mockle/ui/session", json=body)
    assert r.status == 400 and (await r.json())["body"]["path"] == where


async def test_a_forged_cookie_is_refused(locked: TestClient) -> None:
    headers = {"Cookie": f"{COOKIE}={session_value('other-token')}"}
    assert (await locked.get("/_mockle/requests", headers=headers)).status == 401
    headers = {"Cookie": f"{COOKIE}={session_value(TOKEN)}"}
    assert (await locked.get("/_mockle/requests", headers=headers)).status == 200
    # the header still works as before
    headers = {"Authorization": f"Bearer {TOKEN}"}
    assert (await locked.get("/_mockle/requests", headers=headers)).status == 200


@pytest.mark.parametrize(
    ("host", "shown"),
    [("127.0.0.1", "127.0.0.1"), ("0.0.0.0", "127.0.0.1"), ("::", "[::1]"), ("::1", "[::1]")],
)
def test_the_banner_ends_with_an_address_a_browser_can_open(host: str, shown: str) -> None:
    from mockle.server import MockleServer

    server = MockleServer(Settings(host=host, port=0, agent="manual"))
    server.port = 8080
    assert server.banner()[-1] == (
        f"Agent Workspace (open it in a browser): http://{shown}:8080/_mockle/ui/"
    )
