"""The asynchronous client (aiohttp): the real one."""

from __future__ import annotations

import asyncio
import os
import ssl
import weakref
from collections.abc import Callable
from types import TracebackType
from typing import Any
from urllib.parse import urlencode

import aiohttp
import orjson

from mockle import assertions
from mockle.client._agent import AsyncAgentSocket
from mockle.client._base import (
    DEFAULT_ACCOUNT,
    AppCredentials,
    Consumer,
    Event,
    MockleClientError,
    Predicate,
    WaitTimeout,
    _camel,
    _claims,
    _drop_none,
    _short,
    text_event,
)


class AsyncFaults:
    """``client.faults``: add, list and delete faults (scoped to the client's account)."""

    def __init__(self, client: AsyncMockleClient) -> None:
        self._c = client

    async def add(
        self,
        target: str,
        *,
        status: int | None = None,
        body: Any = None,
        headers: dict[str, str] | None = None,
        delay_ms: int | None = None,
        close_code: int | None = None,
        reason: str | None = None,
        drop: bool = False,
        times: int | None = None,
        probability: float | None = None,
        seed: int | None = None,
        consumer_id: str | None = None,
        conversation_id: str | None = None,
        type: str | None = None,
        account: str | None = None,
    ) -> str:
        """Register a fault; its id. ``match.account`` is the client's account by default."""
        match = _drop_none(
            account=account or self._c.account,
            consumer_id=consumer_id,
            conversation_id=conversation_id,
            type=type,
        )
        spec = _drop_none(
            target=target,
            match=match,
            status=status,
            body=body,
            headers=headers,
            delay_ms=delay_ms,
            close_code=close_code,
            reason=reason,
            drop=drop or None,
            times=times,
            probability=probability,
            seed=seed,
        )
        doc = await self._c.call("POST", "/_mockle/faults", spec, expect=201)
        return str(doc["id"])

    async def list(self, *, account: str | None = None) -> list[dict[str, Any]]:
        doc = await self._c.call(
            "GET", "/_mockle/faults", params={"account": self._c._acc(account)}
        )
        return list(doc["faults"])

    async def delete(self, fault_id: str) -> None:
        await self._c.call("DELETE", f"/_mockle/faults/{fault_id}")

    async def clear(self, *, account: str | None = None) -> int:
        doc = await self._c.call(
            "DELETE", "/_mockle/faults", params={"account": self._c._acc(account)}
        )
        return int(doc["deleted"])


class AsyncAgent:
    """``client.agent``: the agent side of a conversation, through the control API."""

    def __init__(self, client: AsyncMockleClient) -> None:
        self._c = client

    async def join(self, conversation_id: str, agent_id: str | None = None) -> str:
        body = _drop_none(agentId=agent_id)
        doc = await self._c.call(
            "POST", f"/_mockle/conversations/{conversation_id}/agent/join", body
        )
        return str(doc["agentId"])

    async def publish(self, conversation_id: str, event: Event, **extra: Any) -> int:
        doc = await self._c.call(
            "POST",
            f"/_mockle/conversations/{conversation_id}/agent/publish",
            {"event": event, **extra},
        )
        return int(doc.get("sequence") or 0)

    async def say(self, conversation_id: str, text: str) -> int:
        return await self.publish(conversation_id, text_event(text))

    async def typing(self, conversation_id: str, typing: bool = True) -> None:
        state = "COMPOSING" if typing else "ACTIVE"
        await self.publish(conversation_id, {"type": "ChatStateEvent", "chatState": state})

    async def read(self, conversation_id: str, *sequences: int) -> int:
        event = {"type": "AcceptStatusEvent", "status": "READ", "sequenceList": list(sequences)}
        return await self.publish(conversation_id, event)

    async def close(self, conversation_id: str) -> None:
        await self._c.call(
            "POST", f"/_mockle/conversations/{conversation_id}/close", {"by": "agent"}
        )


def client_ssl_context(
    ssl_context: ssl.SSLContext | None, ca_file: str | os.PathLike[str] | None
) -> ssl.SSLContext | None:
    """The context a client verifies an ``https://`` mockle with: ``ssl_context`` as given, else
    one that trusts only ``ca_file``, else None (the system's roots, which honour
    ``SSL_CERT_FILE``). Verification is never turned off here."""
    if ssl_context is not None:
        return ssl_context
    if ca_file is not None:
        return ssl.create_default_context(cafile=os.fspath(ca_file))
    return None


class AsyncMockleClient:
    """``async with AsyncMockleClient(url, account="le1") as m: ...``

    For an ``https://`` mockle, pass ``ca_file`` (the CA that ``mockle serve --tls`` prints) or
    an ``ssl_context`` (e.g. ``server.client_ssl_context()``); without either the system's roots
    are used. Certificates are always verified."""

    def __init__(
        self,
        url: str,
        *,
        account: str = DEFAULT_ACCOUNT,
        admin_token: str | None = None,
        timeout: float = 30.0,
        ca_file: str | os.PathLike[str] | None = None,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self.account = account
        self.admin_token = admin_token
        self.timeout = timeout
        #: the context that verifies an https:// mockle (None: the system's roots)
        self.ssl_context = client_ssl_context(ssl_context, ca_file)
        self.faults = AsyncFaults(self)
        self.agent = AsyncAgent(self)
        self._session: aiohttp.ClientSession | None = None
        self._apps: dict[str, AppCredentials] = {}
        self._sockets: weakref.WeakSet[AsyncAgentSocket] = weakref.WeakSet()

    # -- plumbing ---------------------------------------------------------------------------

    def _acc(self, account: str | None) -> str:
        return account or self.account

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(ssl=self.ssl_context or True),
                timeout=aiohttp.ClientTimeout(total=self.timeout + 60),
            )
        return self._session

    async def close(self) -> None:
        for sock in list(self._sockets):  # agent sockets first: they live on the session
            await sock.close()
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None

    async def __aenter__(self) -> AsyncMockleClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        params: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        data: Any = None,
    ) -> tuple[int, Any, dict[str, str]]:
        """Any call to mockle: (status, parsed body, headers). Nothing is raised for a status."""
        query = {k: str(v) for k, v in (params or {}).items() if v is not None}
        url = self.url + path + (("&" if "?" in path else "?") + urlencode(query) if query else "")
        hdrs = dict(headers or {})
        if self.admin_token and path.startswith("/_mockle/"):
            hdrs.setdefault("Authorization", f"Bearer {self.admin_token}")
        payload = orjson.dumps(body) if body is not None else None
        if payload is not None:
            hdrs.setdefault("Content-Type", "application/json")
        async with self.session.request(
            method, url, data=payload if payload is not None else data, headers=hdrs
        ) as resp:
            raw = await resp.read()
            try:
                doc: Any = orjson.loads(raw) if raw else None
            except orjson.JSONDecodeError:
                doc = raw.decode("utf-8", "replace")
            return resp.status, doc, dict(resp.headers)

    async def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        params: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        data: Any = None,
        expect: int | tuple[int, ...] = 200,
    ) -> Any:
        """A call whose status must be ``expect``; its parsed body (else MockleClientError)."""
        status, doc, _ = await self.request(
            method, path, body, params=params, headers=headers, data=data
        )
        wanted = (expect,) if isinstance(expect, int) else expect
        if status not in wanted:
            raise MockleClientError(method, path, status, doc)
        return doc

    # -- control API ------------------------------------------------------------------------

    async def health(self) -> dict[str, Any]:
        return dict(await self.call("GET", "/_mockle/health"))

    async def reset(self, *, everything: bool = False, account: str | None = None) -> None:
        """Reset the client's account (or ``everything``: every account)."""
        params = {} if everything else {"account": self._acc(account)}
        await self.call("POST", "/_mockle/reset", params=params)
        if everything:
            self._apps.clear()
        else:
            self._apps.pop(self._acc(account), None)

    async def install_app(
        self,
        webhooks: dict[str, str] | None = None,
        *,
        client_id: str | None = None,
        client_secret: str | None = None,
        max_retries: int = 0,
        account: str | None = None,
        client_name: str = "mockle client app",
    ) -> AppCredentials:
        """Install an app (with webhooks: event type -> endpoint URL); its credentials."""
        acc = self._acc(account)
        hooks = {
            event: {"endpoint": endpoint, "max_retries": max_retries}
            for event, endpoint in (webhooks or {}).items()
        }
        manifest: dict[str, Any] = {
            "account": acc,
            "client_name": client_name,
            **_drop_none(client_id=client_id, client_secret=client_secret),
        }
        if hooks:
            manifest["capabilities"] = {"webhooks": hooks}
        doc = await self.call("POST", "/_mockle/apps", manifest, expect=(200, 201))
        creds = AppCredentials(acc, str(doc["client_id"]), str(doc["client_secret"]))
        self._apps[acc] = creds
        return creds

    async def define_agent(
        self, login_name: str, *, account: str | None = None, **fields: Any
    ) -> dict[str, Any]:
        """``POST /_mockle/agents``: an agent who may log in (``password=``, ``nickname=``,
        ``role="MANAGER"``, ``skills=[...]``, ``max_conversations=``, ...: the definition's
        members, camelCase or snake_case); the agent as mockle lists it."""
        doc = {"account": self._acc(account), "loginName": login_name}
        doc.update({_camel(k): v for k, v in fields.items() if v is not None})
        made = await self.call("POST", "/_mockle/agents", doc, expect=201)
        return dict(made["agents"][0])

    async def agents(self, *, account: str | None = None) -> list[dict[str, Any]]:
        """The agents of the account (defined, and those who logged in leniently)."""
        doc = await self.call("GET", "/_mockle/agents", params={"account": self._acc(account)})
        return list(doc["agents"])

    async def delete_agent(self, login_name: str, *, account: str | None = None) -> None:
        await self.call("DELETE", f"/_mockle/agents/{self._acc(account)}/{login_name}")

    def agent_socket(
        self,
        login_name: str,
        password: str | None = None,
        *,
        account: str | None = None,
        version: str = "2.1",
    ) -> AsyncAgentSocket:
        """An agent over the real agent socket: ``async with m.agent_socket("bot") as a:``
        logs in through the Login Service and opens the agent UMS socket (see
        :class:`~mockle.client.AsyncAgentSocket`)."""
        sock = AsyncAgentSocket(
            self, login_name, password, account=self._acc(account), version=version
        )
        self._sockets.add(sock)
        return sock

    async def conversations(
        self, *, state: str | None = None, account: str | None = None
    ) -> list[dict[str, Any]]:
        params = _drop_none(account=self._acc(account), state=state)
        return list(
            (await self.call("GET", "/_mockle/conversations", params=params))["conversations"]
        )

    async def conversation(self, conversation_id: str) -> dict[str, Any]:
        return dict(await self.call("GET", f"/_mockle/conversations/{conversation_id}"))

    async def expire_tokens(
        self, consumer: Consumer | str | None = None, *, account: str | None = None
    ) -> int:
        """Expire the tokens issued so far (of one consumer, or of the whole account)."""
        body = {"account": self._acc(account)}
        if isinstance(consumer, Consumer):
            body = {"account": consumer.account, "consumer_id": consumer.consumer_id}
        elif consumer is not None:
            body["consumer_id"] = consumer
        return int((await self.call("POST", "/_mockle/tokens/expire", body))["expired"])

    async def close_connections(
        self,
        code: int,
        *,
        consumer_id: str | None = None,
        reason: str | None = None,
        account: str | None = None,
    ) -> int:
        body = _drop_none(
            account=self._acc(account), consumer_id=consumer_id, code=code, reason=reason
        )
        return int((await self.call("POST", "/_mockle/connections/close", body))["closed"])

    # -- journal and deliveries ---------------------------------------------------------------

    def _journal_params(self, filters: dict[str, Any]) -> dict[str, Any]:
        params = {"account": self._acc(filters.pop("account", None))}
        params.update({k: v for k, v in filters.items() if v is not None})
        return params

    async def journal(
        self,
        *,
        target: str | None = None,
        conversation_id: str | None = None,
        type: str | None = None,
        direction: str | None = None,
        consumer_id: str | None = None,
        after: int | None = None,
        limit: int | None = None,
        account: str | None = None,
    ) -> list[dict[str, Any]]:
        """The journal entries of the client's account (oldest first) that match."""
        params = self._journal_params(
            dict(
                target=target,
                conversation_id=conversation_id,
                type=type,
                direction=direction,
                consumer_id=consumer_id,
                after=after,
                limit=limit,
                account=account,
            )
        )
        return list((await self.call("GET", "/_mockle/requests", params=params))["requests"])

    async def clear_journal(self, *, account: str | None = None) -> int:
        doc = await self.call("DELETE", "/_mockle/requests", params={"account": self._acc(account)})
        return int(doc["deleted"])

    async def wait_for_requests(
        self, count: int = 1, *, timeout: float = 5.0, **filters: Any
    ) -> list[dict[str, Any]]:
        """Journal entries once ``count`` match (a long-poll); what there is after ``timeout``."""
        params = self._journal_params(dict(filters))
        params.update(wait=timeout, min=count)
        return list((await self.call("GET", "/_mockle/requests", params=params))["requests"])

    async def webhook_deliveries(
        self,
        *,
        conversation_id: str | None = None,
        event_type: str | None = None,
        wait: float | None = None,
        count: int | None = None,
        account: str | None = None,
    ) -> list[dict[str, Any]]:
        """The webhook delivery log; with ``wait``, once ``count`` deliveries have settled."""
        params = _drop_none(
            account=self._acc(account),
            conversationId=conversation_id,
            eventType=event_type,
            wait=wait,
            min=count,
        )
        doc = await self.call("GET", "/_mockle/webhooks/deliveries", params=params)
        return list(doc["deliveries"])

    # -- waiting on a conversation -------------------------------------------------------------

    async def events(self, conversation_id: str, *, after: int = 0) -> dict[str, Any]:
        """A snapshot: state, participants, ``events`` from ``after`` on, ``next``, ``version``."""
        path = f"/_mockle/conversations/{conversation_id}/events"
        return dict(await self.call("GET", path, params={"after": after}))

    async def wait_for_event(
        self,
        conversation_id: str,
        predicate: Predicate | None = None,
        timeout: float = 5.0,
        *,
        after: int = 0,
    ) -> Event:
        """The first event (a change item) of the conversation, from index ``after``, for which
        ``predicate`` holds; waits on the server for it (no polling)."""
        __tracebackhide__ = True
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        path = f"/_mockle/conversations/{conversation_id}/events"
        seen: list[Event] = []
        while True:
            left = max(0.0, deadline - loop.time())
            snap = await self.call("GET", path, params={"after": after, "wait": round(left, 3)})
            for event in snap["events"]:
                if predicate is None or predicate(event):
                    return dict(event)
                seen.append(event)
            after = int(snap["next"])
            if loop.time() >= deadline:
                raise WaitTimeout(_no_event(conversation_id, timeout, seen))

    async def wait_for_text(
        self, conversation_id: str, text: str, timeout: float = 5.0, *, after: int = 0
    ) -> Event:
        return await self.wait_for_event(
            conversation_id,
            lambda e: e.get("event", {}).get("message") == text,
            timeout,
            after=after,
        )

    async def wait_for_conversation(
        self,
        conversation_id: str,
        predicate: Callable[[dict[str, Any]], bool],
        timeout: float = 5.0,
    ) -> dict[str, Any]:
        """The conversation snapshot once ``predicate(snapshot)`` holds (e.g. state CLOSE)."""
        __tracebackhide__ = True
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        path = f"/_mockle/conversations/{conversation_id}/events"
        snap = await self.call("GET", path, params={"after": 0})
        while not predicate(snap):
            left = deadline - loop.time()
            if left <= 0:
                raise WaitTimeout(
                    f"conversation {conversation_id} did not reach the expected state in "
                    f"{timeout:g} s; it is {snap['state']} with participants "
                    f"{[p['role'] for p in snap['participants']]}"
                )
            params = {"after": snap["next"], "version": snap["version"], "wait": round(left, 3)}
            snap = await self.call("GET", path, params=params)
        return dict(snap)

    # -- LiveEngage flows ----------------------------------------------------------------------

    async def app_credentials(self, account: str | None = None) -> AppCredentials:
        acc = self._acc(account)
        creds = self._apps.get(acc)
        if creds is None:
            creds = await self.install_app(account=acc)
        return creds

    async def app_jwt(self, account: str | None = None) -> str:
        creds = await self.app_credentials(account)
        doc = await self.call(
            "POST",
            f"/sentinel/api/account/{creds.account}/app/token",
            params={"v": "1.0", "grant_type": "client_credentials"},
            data={"client_id": creds.client_id, "client_secret": creds.client_secret},
        )
        return str(doc["access_token"])

    async def consumer(self, ext_id: str = "consumer-1", *, account: str | None = None) -> Consumer:
        """A consumer's tokens, the way a connector gets them: Sentinel, then the IDP."""
        acc = self._acc(account)
        app = await self.app_jwt(acc)
        doc = await self.call(
            "POST",
            f"/api/account/{acc}/consumer",
            {"ext_consumer_id": ext_id},
            params={"v": "1.0"},
            headers={"Authorization": app},
            expect=201,
        )
        jws = str(doc["token"])
        return Consumer(acc, ext_id, app, jws, str(_claims(jws)["lp_consumer_id"]))

    async def open_conversation(
        self, consumer: Consumer, *, profile: dict[str, Any] | None = None, **request: Any
    ) -> str:
        """CONVERSATION: a new conversation of ``consumer``; its id. ``profile`` is the
        SetUserProfile body sent with it (``firstName``, ``lastName``, ``authenticatedData``...,
        as connectors send it); ``request`` adds fields to ConsumerRequestConversation."""
        batch = [
            {
                "kind": "req",
                "id": "1,",
                "type": "userprofile.SetUserProfile",
                "body": profile or {},
            },
            {
                "kind": "req",
                "id": "2,",
                "type": "cm.ConsumerRequestConversation",
                "body": {"brandId": consumer.account, **request},
            },
        ]
        doc = await self.call(
            "POST",
            f"/api/account/{consumer.account}/messaging/consumer/conversation",
            batch,
            params={"v": "3"},
            headers=consumer.headers(),
        )
        return str(doc[1]["body"]["conversationId"])

    async def send(self, consumer: Consumer, request: dict[str, Any]) -> Any:
        """SEND one request as ``consumer``; the reply body."""
        return await self.call(
            "POST",
            f"/api/account/{consumer.account}/messaging/consumer/conversation/send",
            request,
            params={"v": "3"},
            headers=consumer.headers(),
        )

    async def send_event(self, consumer: Consumer, conversation_id: str, event: Event) -> Any:
        """SEND one event (``ms.PublishEvent``: text, a chat state, a read receipt...) as
        ``consumer``; the reply body."""
        req = {
            "kind": "req",
            "id": "1",
            "type": "ms.PublishEvent",
            "body": {"dialogId": conversation_id, "event": event},
        }
        return await self.send(consumer, req)

    async def send_text(self, consumer: Consumer, conversation_id: str, text: str) -> int:
        """SEND a text message; its sequence."""
        reply = await self.send_event(consumer, conversation_id, text_event(text))
        return int(reply["body"]["sequence"])

    async def close_conversation(self, consumer: Consumer, conversation_id: str) -> None:
        """Close as the consumer (cm.UpdateConversationField over SEND)."""
        field = {"field": "ConversationStateField", "conversationState": "CLOSE"}
        req = {
            "kind": "req",
            "id": "1",
            "type": "cm.UpdateConversationField",
            "body": {"conversationId": conversation_id, "conversationField": [field]},
        }
        await self.send(consumer, req)

    # -- assertions ----------------------------------------------------------------------------

    async def assert_sent(
        self,
        *,
        target: str = "send",
        type: str | None = None,
        text: str | None = None,
        body: Any = None,
        conversation_id: str | None = None,
        count: int | None = None,
        timeout: float = 0.0,
        account: str | None = None,
    ) -> list[dict[str, Any]]:
        """The journal entries of ``target`` that match; an explaining AssertionError if none.

        With ``timeout``, waits (server-side) for the matching entry before judging."""
        __tracebackhide__ = True
        filters: dict[str, Any] = {
            "target": target,
            "conversation_id": conversation_id,
            "account": account,
        }
        entries = await self.journal(**filters)
        if timeout > 0 and not _passes(entries, type, text, body, count):
            entries = await self._wait_matching(filters, type, text, body, count, timeout)
        what = f"a {target!r} request" if target != "ws" else "a WebSocket frame"
        return assertions.check(entries, what=what, type=type, text=text, body=body, count=count)

    async def _wait_matching(
        self,
        filters: dict[str, Any],
        type_: str | None,
        text: str | None,
        body: Any,
        count: int | None,
        timeout: float,
    ) -> list[dict[str, Any]]:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        entries = await self.journal(**filters)
        while not _passes(entries, type_, text, body, count):
            left = deadline - loop.time()
            if left <= 0:
                break
            await self.wait_for_requests(len(entries) + 1, timeout=left, **filters)
            entries = await self.journal(**filters)
        return entries

    async def assert_webhook(
        self,
        *,
        event_type: str | None = None,
        text: str | None = None,
        body: Any = None,
        delivered: bool | None = True,
        conversation_id: str | None = None,
        count: int | None = None,
        timeout: float = 0.0,
        account: str | None = None,
    ) -> list[dict[str, Any]]:
        """Webhook deliveries that match (event type, text, body pattern, delivered or not)."""
        __tracebackhide__ = True
        want = count or 1
        deliveries = await self.webhook_deliveries(
            conversation_id=conversation_id,
            account=account,
            wait=timeout if timeout > 0 else None,
            count=want if timeout > 0 else None,
        )
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout

        def where(d: dict[str, Any]) -> bool:
            if event_type is not None and d.get("eventType") != event_type:
                return False
            return delivered is None or bool(d.get("delivered")) == delivered

        while timeout > 0 and not _passes(deliveries, None, text, body, count, where):
            left = deadline - loop.time()
            if left <= 0:
                break
            deliveries = await self.webhook_deliveries(
                conversation_id=conversation_id,
                account=account,
                wait=left,
                count=len([d for d in deliveries if _settled(d)]) + 1,
            )
        shown = [_delivery_entry(i, d) for i, d in enumerate(deliveries, 1)]
        what = "a webhook delivery" + (f" of {event_type!r}" if event_type else "")
        if delivered is not None:
            what += " that was delivered" if delivered else " that failed"
        found = assertions.check(shown, what=what, text=text, body=body, where=where, count=count)
        return [deliveries[int(e["id"]) - 1] for e in found]


def _settled(delivery: dict[str, Any]) -> bool:
    return bool(delivery.get("delivered")) or delivery.get("state", "") not in (
        "pending",
        "PENDING",
    )


def _delivery_entry(index: int, d: dict[str, Any]) -> dict[str, Any]:
    attempts = d.get("attempts") or []
    last = attempts[-1] if attempts else {}
    return {
        "id": index,
        "type": d.get("eventType"),
        "method": "POST",
        "path": d.get("endpoint"),
        "body": d.get("body"),
        "status": last.get("status"),
        "error": last.get("error"),
        "eventType": d.get("eventType"),
        "delivered": d.get("delivered"),
    }


def _passes(
    entries: list[dict[str, Any]],
    type_: str | None,
    text: str | None,
    body: Any,
    count: int | None,
    where: Callable[[dict[str, Any]], bool] | None = None,
) -> bool:
    shown = entries
    if where is not None:
        shown = [e for e in (_delivery_entry(i, d) for i, d in enumerate(entries, 1)) if where(e)]
    try:
        assertions.check(shown, what="", type=type_, text=text, body=body, count=count)
    except AssertionError:
        return False
    return True


def _no_event(conversation_id: str, timeout: float, seen: list[Event]) -> str:
    lines = [f"no matching event in conversation {conversation_id} within {timeout:g} s"]
    if not seen:
        lines.append("arrived: no event at all")
        return "\n".join(lines)
    lines.append(f"arrived: {len(seen)} event(s) that did not match:")
    for e in seen[-10:]:
        ev = e.get("event", {})
        detail = ev.get("message") or ev.get("chatState") or ev.get("status") or ""
        lines.append(
            f"  seq {e.get('sequence', '-')}  {e.get('originatorMetadata', {}).get('role')}  "
            f"{ev.get('type')}  {_short(detail, 60) if detail else ''}".rstrip()
        )
    return "\n".join(lines)
