"""The baseline: a bare aiohttp app that does no work (the limit for an aiohttp service here).

POST .../send and .../conversation answer a constant JSON; GET /ws echoes every text frame.
Prints ``bare listening on http://HOST:PORT`` once it accepts connections.
"""

from __future__ import annotations

import asyncio
import signal
import sys

from aiohttp import WSMsgType, web

SEND_REPLY = b'{"reqId":"1","code":"OK","body":{"sequence":0}}'
CONV_REPLY = (
    b'[{"reqId":"1,","code":"OK","body":{"msg":"OK User Profile set successfully"}},'
    b'{"reqId":"2,","code":"OK","body":{"conversationId":"8602832d-dce1-446b-8445-0d51f5926a42"}}]'
)


async def send(request: web.Request) -> web.Response:
    await request.read()
    return web.Response(body=SEND_REPLY, content_type="application/json")


async def conversation(request: web.Request) -> web.Response:
    await request.read()
    return web.Response(body=CONV_REPLY, content_type="application/json")


async def echo(request: web.Request) -> web.WebSocketResponse:
    ws = web.WebSocketResponse()
    await ws.prepare(request)
    async for msg in ws:
        if msg.type == WSMsgType.TEXT:
            await ws.send_str(msg.data)
    return ws


async def main(port: int) -> None:
    app = web.Application()
    app.router.add_post("/api/account/{acc}/messaging/consumer/conversation/send", send)
    app.router.add_post("/api/account/{acc}/messaging/consumer/conversation", conversation)
    app.router.add_get("/ws", echo)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    actual = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    print(f"bare listening on http://127.0.0.1:{actual}", flush=True)
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set)
    await stop.wait()
    await runner.cleanup()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 0))
