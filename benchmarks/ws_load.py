"""WebSocket load for benchmarks/run.py (runs on its own CPU). Prints one JSON line.

ws_load.py mockle URL SECONDS CLIENTS   consumers publish a text and wait for its notification
ws_load.py bare   URL SECONDS CLIENTS   the same round trip against a bare echo server
ws_load.py fanout URL 0 N               one publish reaching N sockets + a webhook
ws_load.py idle   URL 0 N TOKENS PID    N idle sockets; the server's RSS once all are open
"""

from __future__ import annotations

import asyncio
import json
import re
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

ACC = "le-bench"


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p))] if ordered else 0.0


def ws_url(url: str) -> str:
    return url.replace("http://", "ws://") + f"/ws_api/account/{ACC}/messaging/consumer?v=3"


async def consumer_socket(
    http: aiohttp.ClientSession, url: str, token: str | None = None
) -> aiohttp.ClientWebSocketResponse:
    if token is None:
        async with http.post(f"{url}/api/account/{ACC}/signup") as r:
            token = (await r.json())["jwt"]
    return await http.ws_connect(
        ws_url(url), headers={"Authorization": f"jwt {token}"}, max_msg_size=0
    )


async def request(
    ws: aiohttp.ClientWebSocketResponse, rid: str, type_: str, body: dict[str, Any]
) -> dict[str, Any]:
    await ws.send_str(json.dumps({"kind": "req", "id": rid, "type": type_, "body": body}))
    while True:
        msg = json.loads((await ws.receive(timeout=10)).data)
        if msg.get("kind") == "resp" and msg.get("reqId") == rid:
            return msg  # type: ignore[no-any-return]


async def open_and_subscribe(ws: aiohttp.ClientWebSocketResponse, conv: str | None = None) -> str:
    if conv is None:
        resp = await request(ws, "c", "cm.ConsumerRequestConversation", {})
        conv = resp["body"]["conversationId"]
    await request(ws, "s", "ms.SubscribeMessagingEvents", {"dialogId": conv, "fromSeq": 0})
    return conv


def text_event(message: str) -> dict[str, Any]:
    return {"type": "ContentEvent", "contentType": "text/plain", "message": message}


async def wait_message(ws: aiohttp.ClientWebSocketResponse, message: str) -> None:
    while True:
        msg = json.loads((await ws.receive(timeout=10)).data)
        if msg.get("kind") == "notification":
            for change in msg["body"].get("changes", []):
                if change.get("event", {}).get("message") == message:
                    return


async def mockle_client(
    http: aiohttp.ClientSession, url: str, deadline: float, lat: list[float], n: int
) -> None:
    ws = await consumer_socket(http, url)
    conv = await open_and_subscribe(ws)
    k = 0
    while time.perf_counter() < deadline:
        k += 1
        message = f"m{n}-{k}"
        t = time.perf_counter()
        body = {"dialogId": conv, "event": text_event(message)}
        await ws.send_str(
            json.dumps({"kind": "req", "id": str(k), "type": "ms.PublishEvent", "body": body})
        )
        await wait_message(ws, message)
        lat.append((time.perf_counter() - t) * 1000)
    await ws.close()


async def bare_client(
    http: aiohttp.ClientSession, url: str, deadline: float, lat: list[float], n: int
) -> None:
    ws = await http.ws_connect(url.replace("http://", "ws://") + "/ws")
    payload = json.dumps(
        {"kind": "req", "id": "1", "type": "ms.PublishEvent", "body": {"event": text_event("x")}}
    )
    while time.perf_counter() < deadline:
        t = time.perf_counter()
        await ws.send_str(payload)
        await ws.receive(timeout=10)
        lat.append((time.perf_counter() - t) * 1000)
    await ws.close()


async def round_trips(mode: str, url: str, seconds: float, clients: int) -> dict[str, Any]:
    lat: list[float] = []
    conn = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=conn) as http:
        client = mockle_client if mode == "mockle" else bare_client
        start = time.perf_counter()
        deadline = start + seconds
        await asyncio.gather(*(client(http, url, deadline, lat, n) for n in range(clients)))
        elapsed = time.perf_counter() - start
    return {
        "clients": clients,
        "messages": len(lat),
        "msgs_per_s": len(lat) / elapsed,
        "p50_ms": statistics.median(lat) if lat else 0.0,
        "p99_ms": pct(lat, 0.99),
    }


async def fanout(url: str, n: int, rounds: int = 30) -> dict[str, Any]:
    hooks: asyncio.Queue[str] = asyncio.Queue()

    async def receive(request: web.Request) -> web.Response:
        body = await request.json()
        for change in body["body"]["changes"]:
            hooks.put_nowait(change.get("event", {}).get("message", ""))
        return web.Response(text="OK")

    app = web.Application()
    app.router.add_post("/hook", receive)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    lat: list[float] = []
    webhook = False
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:
        manifest = {
            "account": ACC,
            "client_name": "bench",
            "capabilities": {
                "webhooks": {
                    "ms.MessagingEventNotification.ContentEvent": {
                        "endpoint": f"http://127.0.0.1:{port}/hook"
                    }
                }
            },
        }
        async with http.post(f"{url}/_mockle/apps", json=manifest) as r:
            webhook = r.status == 201
        async with http.post(f"{url}/api/account/{ACC}/signup") as r:
            token = (await r.json())["jwt"]
        sockets = [await consumer_socket(http, url, token) for _ in range(n)]
        conv = await open_and_subscribe(sockets[0])
        for ws in sockets[1:]:
            await open_and_subscribe(ws, conv)
        publisher = await consumer_socket(http, url, token)
        for k in range(rounds):
            message = f"fan-{k}"
            t = time.perf_counter()
            await request(
                publisher,
                str(k),
                "ms.PublishEvent",
                {"dialogId": conv, "event": text_event(message)},
            )
            waits = [wait_message(ws, message) for ws in sockets]
            if webhook:
                waits.append(_wait_hook(hooks, message))
            await asyncio.wait_for(asyncio.gather(*waits), 10)
            lat.append((time.perf_counter() - t) * 1000)
        for ws in sockets + [publisher]:
            await ws.close()
    await runner.cleanup()
    return {
        "subscribers": n,
        "webhook": webhook,
        "rounds": rounds,
        "p50_ms": statistics.median(lat),
        "p99_ms": pct(lat, 0.99),
    }


async def _wait_hook(hooks: asyncio.Queue[str], message: str) -> None:
    while await hooks.get() != message:
        pass


async def idle(url: str, n: int, tokens_file: str, pid: int) -> dict[str, Any]:
    tokens = json.loads(Path(tokens_file).read_text())
    conn = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=conn) as http:
        sockets = []
        for start in range(0, n, 200):
            batch = [
                consumer_socket(http, url, tokens[i % len(tokens)])
                for i in range(start, min(n, start + 200))
            ]
            sockets += await asyncio.gather(*batch)
        await asyncio.sleep(1.0)  # let the server settle before reading its memory
        status = Path(f"/proc/{pid}/status").read_text()
        rss = int(re.search(r"VmRSS:\s+(\d+)", status).group(1)) / 1024  # type: ignore[union-attr]
        open_now = sum(1 for ws in sockets if not ws.closed)
        await asyncio.gather(*(ws.close() for ws in sockets))
    return {"connected": open_now, "rss_mib": rss}


def main() -> None:
    mode, url, seconds, clients = sys.argv[1], sys.argv[2], float(sys.argv[3]), int(sys.argv[4])
    if mode in ("mockle", "bare"):
        result = asyncio.run(round_trips(mode, url, seconds, clients))
    elif mode == "fanout":
        result = asyncio.run(fanout(url, clients))
    else:
        result = asyncio.run(idle(url, clients, sys.argv[5], int(sys.argv[6])))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
