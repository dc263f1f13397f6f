"""Control routes that look at what happened: the request journal, a conversation's events
(long-poll) and the webhook delivery log.

* ``GET /_mockle/requests`` filters the journal (``target``, ``account``, ``conversation_id``,
  ``type``, ``direction``, ``consumer_id``, ``agent_id``, ``after``, ``limit``) and, with
  ``wait``, long-polls until ``min`` entries match; ``DELETE`` clears it (or one account).
* ``GET /_mockle/conversations/{id}/events?after=<n>&version=<v>&wait=<seconds>[&account=A]``
  answers ``{"conversationId", "account", "state", "stage", "participants", "version", "next",
  "events"}``: ``events`` are the change items of the conversation's timeline from index
  ``after`` on (chat states included), ``next`` the index to ask from next time, and ``version``
  a counter that moves on every change of the conversation. With ``wait``, the answer comes as
  soon as there is an event past ``after`` (or the version moved past ``version``), or when the
  wait is over.
* ``GET /_mockle/webhooks/deliveries`` lists every attempt (``account``, ``conversationId``,
  ``eventType``); with ``wait`` it long-polls until ``min`` deliveries are settled.
"""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web

from mockle.core import errors
from mockle.core.model import Conversation
from mockle.web.bodies import query_number
from mockle.web.journal import Query
from mockle.web.responses import error_of, error_response, json_response
from mockle.web.runtime import RUNTIME

MAX_WAIT_S = 300.0
MAX_DELIVERY_WAIT_S = 60.0


# -- the journal ------------------------------------------------------------------------------


def query_of(request: web.Request) -> Query:
    q = request.query
    direction = q.get("direction")
    if direction not in (None, "in", "out"):
        raise errors.InvalidRequest(
            f"query parameter 'direction' must be 'in' or 'out', got {direction!r}",
            where="$.query.direction",
        )
    return Query(
        target=q.get("target") or None,
        account=q.get("account") or None,
        conversation_id=q.get("conversation_id") or None,
        type=q.get("type") or None,
        direction=direction,
        consumer_id=q.get("consumer_id") or None,
        agent_id=q.get("agent_id") or None,
        after=query_number(request, "after", 0, integer=True),
    )


async def get_requests(request: web.Request) -> web.Response:
    journal = request.app[RUNTIME].journal
    try:
        query = query_of(request)
        limit = query_number(request, "limit", integer=True)
        wait = query_number(request, "wait", 0.0, high=MAX_WAIT_S)
        count = query_number(request, "min", 1, integer=True) or 1
    except errors.MockleError as exc:
        return error_of(exc)
    if wait > 0:
        found = await journal.wait_for(query, count, wait)
        if limit is not None and len(found) > limit:
            found = found[len(found) - limit :]
    else:
        found = journal.select(query, limit)
    return json_response({"requests": [e.as_json() for e in found]})


async def delete_requests(request: web.Request) -> web.Response:
    journal = request.app[RUNTIME].journal
    removed = journal.clear(request.query.get("account") or None)
    return json_response({"deleted": removed})


# -- a conversation's events -----------------------------------------------------------------


def _snapshot(conv: Conversation, after: int, version: int) -> dict[str, Any]:
    return {
        "conversationId": conv.conv_id,
        "account": conv.account,
        "state": conv.state,
        "stage": conv.stage,
        "participants": [{"id": p.id, "role": p.role} for p in conv.participants],
        "version": version,
        "next": conv.timeline_total,
        "events": [ev.json() for ev in conv.timeline_from(after)],
    }


async def conversation_events(request: web.Request) -> web.Response:
    runtime = request.app[RUNTIME]
    engine, watch = runtime.engine, runtime.watch
    conv_id = request.match_info["id"]
    try:
        after = query_number(request, "after", 0, integer=True)
        since = query_number(request, "version", integer=True)
        wait = query_number(request, "wait", 0.0, high=MAX_WAIT_S)
    except errors.MockleError as exc:
        return error_of(exc)
    account = request.query.get("account") or None
    conv = engine.find(conv_id, account)
    if conv is None:
        where = f" on account {account}" if account else ""
        return error_response(404, "Not Found", f"conversation {conv_id!r} does not exist{where}")
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait
    while True:
        version = watch.version(conv_id)
        ready = conv.timeline_total > after or (since is not None and version > since)
        left = deadline - loop.time()
        if ready or left <= 0:
            return json_response(_snapshot(conv, after, version))
        await watch.changed(conv_id, left)
        current = engine.find(conv_id, conv.account)
        if current is None:  # reset while waiting
            return error_response(404, "Not Found", f"conversation {conv_id!r} was reset")
        conv = current


# -- webhook deliveries ------------------------------------------------------------------------


async def deliveries(request: web.Request) -> web.Response:
    worker = request.app[RUNTIME].webhooks
    account = request.query.get("account") or None
    conv_id = request.query.get("conversationId") or None
    event_type = request.query.get("eventType") or None
    try:
        wait = query_number(request, "wait", 0.0, high=MAX_DELIVERY_WAIT_S)
        count = query_number(request, "min", 1, high=1_000_000, integer=True)
    except errors.MockleError as exc:
        return error_of(exc)

    def selected() -> list[Any]:
        return [
            d
            for d in worker.log.deliveries(account)
            if (conv_id is None or d.job.conversation_id == conv_id)
            and (event_type is None or d.job.event_type == event_type)
        ]

    if wait > 0:
        await worker.log.wait_for(lambda: sum(1 for d in selected() if d.settled) >= count, wait)
    return json_response({"deliveries": [d.as_json() for d in selected()]})


def setup(app: web.Application) -> None:
    r = app.router
    r.add_get("/_mockle/requests", get_requests)
    r.add_delete("/_mockle/requests", delete_requests)
    r.add_get("/_mockle/conversations/{id}/events", conversation_events)
    r.add_get("/_mockle/webhooks/deliveries", deliveries)
