"""File sharing over HTTP: generate an upload URL, PUT the file, publish it, download it."""

from __future__ import annotations

import io
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from mockle.settings import Settings
from mockle.web.app import create_app
from mockle.web.runtime import RUNTIME

ACC = "le777"
SEND = f"/api/account/{ACC}/messaging/consumer/conversation/send?v=3"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 100


@pytest.fixture
async def client(aiohttp_client: Any) -> TestClient:
    return await aiohttp_client(create_app(Settings(port=0, agent="manual")))


@pytest.fixture
async def headers(client: TestClient) -> dict[str, str]:
    engine = client.server.app[RUNTIME].engine
    return {
        "Authorization": engine.tokens.mint_app_jwt(ACC, "c", 3600),
        "X-LP-ON-BEHALF": engine.tokens.mint_consumer_jws(ACC, "f", 0),
    }


async def _generate(
    client: TestClient, headers: dict[str, str], type_: str, body: dict[str, Any]
) -> dict[str, Any]:
    r = await client.post(
        SEND, json={"kind": "req", "id": 3, "type": type_, "body": body}, headers=headers
    )
    assert r.status == 200, await r.text()
    return (await r.json())["body"]  # type: ignore[no-any-return]


def _url(doc: dict[str, Any]) -> str:
    q = doc["queryParams"]
    query = f"temp_url_sig={q['temp_url_sig']}&temp_url_expires={q['temp_url_expires']}"
    return f"{doc['relativePath']}?{query}"


async def test_upload_then_download_with_temp_urls(
    client: TestClient, headers: dict[str, str]
) -> None:
    up = await _generate(
        client,
        headers,
        "ms.GenerateURLForUploadFile",
        {"fileSize": str(len(PNG)), "fileType": "PNG"},
    )
    r = await client.put(_url(up), data=PNG)
    assert r.status == 201
    down = await _generate(
        client, headers, "ms.GenerateURLForDownloadFile", {"relativePath": up["relativePath"]}
    )
    r = await client.get(_url(down))
    assert r.status == 200 and await r.read() == PNG
    assert r.headers["Content-Type"] == "image/png"


@pytest.mark.parametrize(
    ("mangle", "fragment"),
    [
        (lambda u: u.replace("temp_url_sig=", "temp_url_sig=0"), "does not match"),
        (lambda u: u.split("?")[0], "not a number"),
        (lambda u: u.replace(".PNG", ".GIF"), "does not match"),
    ],
)
async def test_a_bad_temp_url_is_401(
    client: TestClient, headers: dict[str, str], mangle: Any, fragment: str
) -> None:
    up = await _generate(
        client, headers, "ms.GenerateURLForUploadFile", {"fileSize": "10", "fileType": "PNG"}
    )
    r = await client.put(mangle(_url(up)), data=PNG)
    assert r.status == 401
    text = await r.text()
    assert text.startswith("Temp URL invalid") and fragment in text


async def test_download_of_nothing_uploaded_is_404(
    client: TestClient, headers: dict[str, str]
) -> None:
    up = await _generate(
        client, headers, "ms.GenerateURLForUploadFile", {"fileSize": "10", "fileType": "PNG"}
    )
    r = await client.get(_url(up))
    assert r.status == 404


async def test_files_over_3_mb_are_refused(client: TestClient, headers: dict[str, str]) -> None:
    up = await _generate(
        client, headers, "ms.GenerateURLForUploadFile", {"fileSize": "10", "fileType": "PNG"}
    )
    r = await client.put(_url(up), data=io.BytesIO(b"x" * (3 * 1024 * 1024 + 1)))
    assert r.status == 413
