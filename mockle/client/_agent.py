"""An agent over the real agent socket: Login Service login, then the UMS agent WebSocket.

``async with client.agent_socket("bot") as agent:`` logs in (``POST
/api/account/{acc}/login?v=1.3``), opens ``/ws_api/account/{acc}/messaging/brand/{bearer}?v=2.1``
(``wss://`` for an ``https://`` mockle, verified with the client's CA) and speaks the ``.ams``
requests LivePerson's agent SDK sends. Every request waits for its ``resp`` (matched by
``reqId``); a code of 400 or more raises :class:`AgentRequestError`. Notifications are kept as
they arrive and awaited with bounded ``wait_for_*`` calls that never sleep: each waits on the
arrival of the next frame.
"""

from __future__ import annotations

import asyncio
import itertools
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from http.cookies import SimpleCookie
from types import TracebackType
from typing import Any, Protocol, TypeVar

import aiohttp
import orjson

from mockle.client._base import Event, MockleClientError, WaitTimeout, _camel, _short, text_event

T = TypeVar("T")

LOGIN_VERSION = "1.3"
SOCKET_VERSION = "2.1"
RING = ".ams.routing.RoutingTaskNotification"
CONVERSATIONS = ".ams.aam.ExConversationChangeNotification"
ONLINE_EVENT = ".ams.ms.OnlineEventDistribution"
MESSAGING = ".ams.ms.MessagingEventNotification"
KEPT = 10_000  # notifications of each kind kept until awaited (oldest dropped beyond)


class AgentRequestError(MockleClientError):
    """An agent-socket request was answered with a ``resp`` code of 400 or more: ``code``,
    ``body`` (the ``resp``'s body: mockle's message), ``resp`` (the whole frame)."""

    def __init__(self, type_name: str, resp: dict[str, Any]) -> None:
        code, body, rid = resp.get("code"), resp.get("body"), str(resp.get("reqId"))
        Exception.__init__(self, f"{type_name} (reqId {rid}) -> {code}: {_short(body)}")
        self.method, self.path, self.body = "WS", type_name, body
        self.status = self.code = code if isinstance(code, int) else 0
        self.type, self.req_id, self.resp = type_name, rid, resp


class AgentSocketClosed(MockleClientError):
    """The agent socket is closed (by mockle, with ``code`` and ``reason``, or by the client)."""

    def __init__(self, code: int | None, reason: str, what: str = "the agent socket") -> None:
        Exception.__init__(self, f"{what}: the socket closed ({code} {reason!r})".rstrip())
        self.method, self.path, self.status, self.body = "WS", "agent socket", code or 0, reason
        self.code, self.reason = code, reason


class _Client(Protocol):
    """What the agent socket needs of :class:`~mockle.client.AsyncMockleClient`."""

    url: str
    account: str
    timeout: float

    @property
    def session(self) -> aiohttp.ClientSession: ...

    async def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        params: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        data: Any = None,
    ) -> tuple[int, Any, dict[str, str]]: ...


class _Kept:
    """Items of one kind that arrived and were not awaited yet, and a wake-up per arrival."""

    def __init__(self) -> None:
        self.items: deque[Any] = deque(maxlen=KEPT)
        self.seen = 0  # how many ever arrived (for the timeout's explanation)

    def add(self, item: Any) -> None:
        self.items.append(item)
        self.seen += 1

    def take(self, match: Callable[[Any], bool]) -> tuple[bool, Any]:
        for i, item in enumerate(self.items):
            if match(item):
                del self.items[i]
                return True, item
        return False, None


class AsyncAgentSocket:
    """One logged-in agent and its agent socket (``client.agent_socket(...)``).

    Open it with ``async with`` (or :meth:`open` / :meth:`close`). After opening: ``login``
    (the Login Service's answer), ``bearer``, ``user_id``, ``pid`` (``userPid``, the id in
    ``participantsPId`` and ``originatorMetadata``), ``legacy_id`` (``<account>.<userId>``, the
    id in ``participants``), and ``conversations`` (the latest change of each conversation
    the ``SubscribeExConversations`` subscriptions list, by id).
    """

    def __init__(
        self,
        client: _Client,
        login_name: str,
        password: str | None = None,
        *,
        account: str | None = None,
        version: str = SOCKET_VERSION,
        timeout: float | None = None,
    ) -> None:
        self._client = client
        self.login_name = login_name
        self.password = password
        self.account = account or client.account
        self.version = version
        self.timeout = client.timeout if timeout is None else timeout
        self.login: dict[str, Any] = {}
        self.conversations: dict[str, dict[str, Any]] = {}
        self.close_code: int | None = None
        self.close_reason = ""
        self._cookie: str | None = None
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._reader: asyncio.Task[None] | None = None
        self._ids = itertools.count(1)
        self._pending: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._arrived = asyncio.Event()
        self._frames = _Kept()  # every notification frame
        self._rings = _Kept()  # ring details of routing notifications
        self._changes = _Kept()  # conversation changes
        self._events = _Kept()  # messaging events (OnlineEventDistribution bodies, changes)
        self._closed = False

    # -- identity -----------------------------------------------------------------------------

    @property
    def bearer(self) -> str:
        return str(self.login["bearer"])

    @property
    def user_id(self) -> str:
        return str(self.login["config"]["userId"])

    @property
    def pid(self) -> str:
        return str(self.login["config"]["userPid"])

    @property
    def legacy_id(self) -> str:
        return f"{self.account}.{self.user_id}"

    @property
    def closed(self) -> bool:
        return self._closed

    # -- opening and closing ------------------------------------------------------------------

    async def open(self) -> AsyncAgentSocket:
        """Log in through the Login Service and open the agent socket. After mockle closed it
        (a 4401 kick, an idle close), ``open()`` logs in again and reconnects, as an SDK bot
        does; the agent keeps its conversations (same ``userId`` and ``pid``)."""
        if self._ws is not None and not self._ws.closed and not self._closed:
            return self
        await self._login()
        await self.connect()
        return self

    async def _login(self) -> None:
        path = f"/api/account/{self.account}/login"
        body = {"username": self.login_name, "password": self.password or ""}
        status, doc, headers = await self._client.request(
            "POST", path, body, params={"v": LOGIN_VERSION}
        )
        if status != 200 or not isinstance(doc, dict) or "bearer" not in doc:
            raise MockleClientError("POST", path, status, doc)
        self.login = doc
        cookie: SimpleCookie = SimpleCookie()
        cookie.load(headers.get("Set-Cookie", ""))
        morsel = cookie.get("session_id")
        self._cookie = morsel.value if morsel is not None else None

    async def connect(self) -> None:
        """(Re)open the socket with the bearer of the last login (after a close, a new socket:
        the conversations the agent holds stay its own, as for an SDK bot that reconnects)."""
        if self._ws is not None and not self._ws.closed:
            return
        await self._stop_reader()
        base = self._client.url.replace("https://", "wss://", 1).replace("http://", "ws://", 1)
        url = f"{base}/ws_api/account/{self.account}/messaging/brand/{self.bearer}?v={self.version}"
        self._ws = await self._client.session.ws_connect(
            url, max_msg_size=0, timeout=aiohttp.ClientWSTimeout(ws_close=5.0)
        )
        self._closed = False
        self.close_code, self.close_reason = None, ""
        self._reader = asyncio.create_task(self._read(self._ws), name="mockle-agent-reader")

    async def close(self) -> None:
        """Close the socket (code 1000) and stop reading; the login stays valid."""
        ws = self._ws
        if ws is not None and not ws.closed:
            await ws.close()
        await self._stop_reader()
        self._finish(ws.close_code if ws is not None else None, "closed by the client")

    async def _stop_reader(self) -> None:
        reader, self._reader = self._reader, None
        if reader is not None and not reader.done():
            reader.cancel()
        if reader is not None:
            await asyncio.gather(reader, return_exceptions=True)

    async def __aenter__(self) -> AsyncAgentSocket:
        try:
            return await self.open()
        except BaseException:
            await self.close()
            raise

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def refresh(self) -> None:
        """``POST .../refresh?v=1.3``: the login session lives another session TTL."""
        await self._session_call("refresh")

    async def logout(self) -> None:
        """``POST .../logout?v=1.3``: the bearer stops working; mockle closes the socket 4401."""
        await self._session_call("logout")

    async def _session_call(self, what: str) -> None:
        path = f"/api/account/{self.account}/{what}"
        headers = {"Cookie": f"session_id={self._cookie}"} if self._cookie else {}
        status, doc, _ = await self._client.request(
            "POST",
            path,
            {"csrf": self.login.get("csrf")},
            params={"v": LOGIN_VERSION},
            headers=headers,
        )
        if status != 200:
            raise MockleClientError("POST", path, status, doc)

    # -- reading ------------------------------------------------------------------------------

    async def _read(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        reason = ""
        try:
            while True:
                msg = await ws.receive()
                if msg.type is aiohttp.WSMsgType.TEXT:
                    self._dispatch(orjson.loads(msg.data))
                elif msg.type is aiohttp.WSMsgType.CLOSE:
                    reason = str(msg.extra or "")
                elif msg.type is aiohttp.WSMsgType.ERROR:
                    reason = repr(msg.data)
                    break
                elif msg.type in (aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.CLOSING):
                    break
        finally:
            if self._ws is ws:
                self._finish(ws.close_code, reason)

    def _finish(self, code: int | None, reason: str) -> None:
        if self._closed:
            return
        self._closed = True
        self.close_code, self.close_reason = code, reason
        for rid, waiting in list(self._pending.items()):
            if not waiting.done():
                waiting.set_exception(AgentSocketClosed(code, reason, f"request {rid}"))
        self._pending.clear()
        self._wake()

    def _wake(self) -> None:
        arrived, self._arrived = self._arrived, asyncio.Event()
        arrived.set()

    def _dispatch(self, frame: Any) -> None:
        if not isinstance(frame, dict):
            return
        if frame.get("kind") == "resp":
            waiting = self._pending.pop(str(frame.get("reqId")), None)
            if waiting is not None and not waiting.done():
                waiting.set_result(frame)
            return
        self._frames.add(frame)
        body = frame.get("body")
        kind = frame.get("type")
        if kind == RING and isinstance(body, dict):
            for change in _list(body.get("changes")):
                result = change.get("result", {}) if isinstance(change, dict) else {}
                for ring in _list(result.get("ringsDetails")):
                    extra = {k: result.get(k) for k in ("routingTaskId", "taskCompleted")}
                    self._rings.add({**ring, **extra})
        elif kind == CONVERSATIONS and isinstance(body, dict):
            for change in _list(body.get("changes")):
                if not isinstance(change, dict):
                    continue
                result = change.get("result") or {}
                conv_id = str(result.get("convId", ""))
                if change.get("type") == "DELETE":
                    self.conversations.pop(conv_id, None)
                else:
                    self.conversations[conv_id] = result
                self._changes.add(change)
        elif kind == ONLINE_EVENT and isinstance(body, dict):
            self._events.add(body)
        elif kind == MESSAGING and isinstance(body, dict):
            for change in _list(body.get("changes")):
                self._events.add(change)
        self._wake()

    # -- requests -----------------------------------------------------------------------------

    async def send(self, frame: Mapping[str, Any], *, timeout: float | None = None) -> Any:
        """Send one request frame (its ``id`` is set when it has none); its whole ``resp``
        frame, whatever its code."""
        ws = self._ws
        if ws is None or self._closed:
            raise AgentSocketClosed(self.close_code, self.close_reason)
        doc = dict(frame)
        rid = str(doc.setdefault("id", f"m{next(self._ids)}"))
        waiting: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[rid] = waiting
        try:
            await ws.send_str(orjson.dumps(doc).decode())
            return await asyncio.wait_for(waiting, self.timeout if timeout is None else timeout)
        except TimeoutError:
            raise WaitTimeout(f"no answer to {doc.get('type')} (reqId {rid})") from None
        except (ConnectionError, RuntimeError) as exc:
            raise AgentSocketClosed(self.close_code, str(exc), f"request {rid}") from None
        finally:
            self._pending.pop(rid, None)

    async def request(self, type_name: str, body: Any = None, **frame: Any) -> Any:
        """One request of ``type_name`` (e.g. ``.ams.ms.PublishEvent``): the ``body`` of its
        ``resp``; :class:`AgentRequestError` if the code is 400 or more."""
        resp = await self.send({"kind": "req", "type": type_name, "body": body, **frame})
        code = resp.get("code")
        if not isinstance(code, int) or code > 399:
            raise AgentRequestError(type_name, resp)
        return resp.get("body")

    async def get_clock(self) -> int:
        return int((await self.request(".GetClock", {}))["currentTime"])

    async def set_state(self, availability: str = "ONLINE") -> str:
        """``SetAgentState``: ONLINE (rung for new conversations), OCCUPIED or AWAY."""
        body = {"availability": availability, "channels": ["MESSAGING"]}
        body["agentUserId"] = self.legacy_id
        return str(await self.request(".ams.routing.SetAgentState", body))

    async def subscribe_agent_state(self, agent_id: str | None = None) -> str:
        """``SubscribeAgentsState`` (this agent's, or another's by PID or legacy id)."""
        body = {"agentId": agent_id or self.legacy_id, "brandId": self.account}
        return str(
            (await self.request(".ams.routing.SubscribeAgentsState", body))["subscriptionId"]
        )

    async def subscribe_routing(self) -> str:
        """``SubscribeRoutingTasks``: from now on this agent is rung (when ONLINE)."""
        body = {"channelType": "MESSAGING", "agentId": self.legacy_id, "brandId": self.account}
        doc = await self.request(".ams.routing.SubscribeRoutingTasks", body)
        return str(doc["subscriptionId"])

    async def accept(self, ring: str | Mapping[str, Any]) -> str:
        """``UpdateRingState`` ACCEPTED: the agent joins as the ASSIGNED_AGENT."""
        return await self._ring(ring, "ACCEPTED")

    async def reject(self, ring: str | Mapping[str, Any]) -> str:
        """``UpdateRingState`` REJECTED: the next agent is rung."""
        return await self._ring(ring, "REJECTED")

    async def _ring(self, ring: str | Mapping[str, Any], state: str) -> str:
        ring_id = ring if isinstance(ring, str) else str(ring["ringId"])
        body = {"ringId": ring_id, "ringState": state}
        return str(await self.request(".ams.routing.UpdateRingState", body))

    async def subscribe_conversations(self, **filters: Any) -> str:
        """``SubscribeExConversations``; the filters are the body's members, as keywords
        (``convState=["OPEN", "CLOSE"]``, ``agentIds=[agent.legacy_id]``, ``skillIds=...``;
        snake_case works too: ``conv_state=...``). The matching conversations arrive at once
        (:meth:`wait_for_conversation`), then their changes."""
        body = {_camel(k): v for k, v in filters.items() if v is not None}
        doc = await self.request(".ams.aam.SubscribeExConversations", body)
        return str(doc["subscriptionId"])

    async def unsubscribe_conversations(self, subscription_id: str) -> None:
        body = {"subscriptionId": subscription_id}
        await self.request(".ams.aam.UnsubscribeExConversations", body)

    async def messages(
        self, conversation_id: str, *, newer_than: int = 0, max_quantity: int | None = None
    ) -> list[Event]:
        """``QueryMessages``: the events from sequence ``newer_than`` on (inclusive)."""
        body: dict[str, Any] = {"dialogId": conversation_id, "newerThanSequence": newer_than}
        if max_quantity is not None:
            body["maxQuantity"] = max_quantity
        return list(await self.request(".ams.ms.QueryMessages", body))

    async def subscribe_messages(self, conversation_id: str, from_seq: int = 0) -> None:
        """``SubscribeMessagingEvents``: the history now, then the dialog's live events."""
        body = {"dialogId": conversation_id, "fromSeq": from_seq}
        await self.request(".ams.ms.SubscribeMessagingEvents", body)

    async def publish(
        self,
        conversation_id: str,
        event: Event,
        *,
        audience: str | None = None,
        metadata: Any = None,
    ) -> int:
        """``PublishEvent`` into the conversation's MAIN dialog; its sequence (0 for chat
        states). ``audience="AGENTS_AND_MANAGERS"`` keeps it from the consumer."""
        body: dict[str, Any] = {"dialogId": conversation_id, "event": event}
        if audience is not None:
            body["messageAudience"] = audience
        extra = {"metadata": metadata} if metadata is not None else {}
        doc = await self.request(".ams.ms.PublishEvent", body, **extra)
        return int(doc.get("sequence") or 0) if isinstance(doc, dict) else 0

    async def say(self, conversation_id: str, text: str) -> int:
        return await self.publish(conversation_id, text_event(text))

    async def read(self, conversation_id: str, *sequences: int) -> int:
        event = {"type": "AcceptStatusEvent", "status": "READ", "sequenceList": list(sequences)}
        return await self.publish(conversation_id, event)

    async def typing(self, conversation_id: str, typing: bool = True) -> None:
        state = "COMPOSING" if typing else "ACTIVE"
        await self.publish(conversation_id, {"type": "ChatStateEvent", "chatState": state})

    async def update_fields(self, conversation_id: str, *fields: Mapping[str, Any]) -> str:
        """``UpdateConversationField`` with the array form (the SDK's); the answer's text."""
        body = {"conversationId": conversation_id, "conversationField": [dict(f) for f in fields]}
        return str(await self.request(".ams.cm.UpdateConversationField", body))

    async def join(self, conversation_id: str, role: str = "MANAGER") -> str:
        """``ParticipantsChange ADD`` of this agent (MANAGER, READER, ASSIGNED_AGENT)."""
        change = {"field": "ParticipantsChange", "type": "ADD", "role": role}
        change["userId"] = self.legacy_id
        return await self.update_fields(conversation_id, change)

    async def leave(self, conversation_id: str, role: str | None = None) -> str:
        """``ParticipantsChange REMOVE`` of this agent."""
        change = {"field": "ParticipantsChange", "type": "REMOVE", "userId": self.legacy_id}
        if role is not None:
            change["role"] = role
        return await self.update_fields(conversation_id, change)

    async def transfer(
        self,
        conversation_id: str,
        skill: str | int | None = None,
        *,
        agent: str | None = None,
        leave: bool = True,
    ) -> str:
        """A transfer as in the SDK's README: to a ``skill`` (back to its queue) and/or to an
        ``agent`` (``SUGGEST``, by PID or legacy id); with ``leave`` this agent stops being
        the assigned agent in the same request."""
        if skill is None and agent is None:
            raise ValueError("transfer needs a skill, an agent, or both")
        fields: list[dict[str, Any]] = []
        if leave:
            fields.append(
                {"field": "ParticipantsChange", "type": "REMOVE", "role": "ASSIGNED_AGENT"}
            )
        if agent is not None:
            fields.append(
                {
                    "field": "ParticipantsChange",
                    "type": "SUGGEST",
                    "userId": agent,
                    "role": "ASSIGNED_AGENT",
                }
            )
        if skill is not None:
            fields.append({"field": "Skill", "type": "UPDATE", "skill": str(skill)})
        return await self.update_fields(conversation_id, *fields)

    async def close_conversation(self, conversation_id: str) -> str:
        """``ConversationStateField CLOSE`` (``closeReason`` AGENT)."""
        change = {"field": "ConversationStateField", "conversationState": "CLOSE"}
        return await self.update_fields(conversation_id, change)

    async def request_conversation(self, consumer_id: str, **body: Any) -> str:
        """``AgentRequestConversation``: a proactive conversation with a known consumer."""
        doc = await self.request(
            ".ams.cm.AgentRequestConversation",
            {"channelType": "MESSAGING", "consumerId": consumer_id, **body},
        )
        return str(doc["conversationId"])

    async def profile(self, consumer_id: str | None = None) -> Any:
        """``GetUserProfile`` of a consumer (the SDK sends the bare id); without one, the
        agent's own ``{"userId": <legacy id>}``."""
        body: Any = consumer_id if consumer_id is not None else {}
        return await self.request(".ams.userprofile.GetUserProfile", body)

    # -- waiting ------------------------------------------------------------------------------

    async def _wait(
        self, kept: _Kept, match: Callable[[Any], bool], timeout: float, what: str
    ) -> Any:
        __tracebackhide__ = True
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            found, item = kept.take(match)
            if found:
                return item
            if self._closed:
                raise AgentSocketClosed(self.close_code, self.close_reason, f"waiting for {what}")
            left = deadline - loop.time()
            if left <= 0:
                shown = [_short(x, 160) for x in list(kept.items)[-5:]]
                raise WaitTimeout(
                    f"no {what} within {timeout:g} s on {self.login_name}'s agent socket; "
                    f"{kept.seen} arrived of that kind, unclaimed now: {shown or 'none'}"
                )
            arrived = self._arrived
            try:
                await asyncio.wait_for(arrived.wait(), left)
            except TimeoutError:
                pass

    async def wait_for_notification(
        self,
        type_name: str | None = None,
        predicate: Callable[[dict[str, Any]], bool] | None = None,
        timeout: float = 5.0,
    ) -> dict[str, Any]:
        """The first notification frame (of ``type_name``, for which ``predicate`` holds) not
        awaited before; waits for it."""

        def match(frame: dict[str, Any]) -> bool:
            return (type_name is None or frame.get("type") == type_name) and (
                predicate is None or predicate(frame)
            )

        what = f"{type_name or 'notification'}" + (" that matches" if predicate else "")
        return dict(await self._wait(self._frames, match, timeout, what))

    async def wait_for_ring(
        self,
        timeout: float = 5.0,
        *,
        conversation_id: str | None = None,
        state: str | None = "WAITING",
    ) -> dict[str, Any]:
        """The next ring (``ringsDetails`` entry: ``ringId``, ``ringState``, ``convId``,
        ``consumerId``, ``skillId``, ``ringExpirationTs``, ..., plus ``routingTaskId`` and
        ``taskCompleted``) in ``state`` (None: any), of the conversation if one is given."""

        def match(ring: dict[str, Any]) -> bool:
            return (state is None or ring.get("ringState") == state) and (
                conversation_id is None or ring.get("convId") == conversation_id
            )

        what = f"{state or 'any'} ring" + (f" of {conversation_id}" if conversation_id else "")
        return dict(await self._wait(self._rings, match, timeout, what))

    async def wait_for_conversation(
        self,
        conversation_id: str | None = None,
        predicate: Callable[[dict[str, Any]], bool] | None = None,
        timeout: float = 5.0,
        *,
        change: str | None = "UPSERT",
    ) -> dict[str, Any]:
        """The next conversation change (``{"type": "UPSERT" | "DELETE", "result": {...}}``)
        of a ``SubscribeExConversations`` subscription: of ``change`` type (None: any), of the
        conversation if one is given, for which ``predicate(change)`` holds."""

        def match(item: dict[str, Any]) -> bool:
            result = item.get("result") or {}
            return (
                (change is None or item.get("type") == change)
                and (conversation_id is None or result.get("convId") == conversation_id)
                and (predicate is None or predicate(item))
            )

        what = f"{change or 'any'} conversation change" + (
            f" of {conversation_id}" if conversation_id else ""
        )
        return dict(await self._wait(self._changes, match, timeout, what))

    async def wait_for_event(
        self,
        conversation_id: str | None = None,
        predicate: Callable[[Event], bool] | None = None,
        timeout: float = 5.0,
    ) -> Event:
        """The next messaging event pushed to this agent (an ``OnlineEventDistribution`` body:
        ``sequence``, ``originatorId``, ``originatorPId``, ``originatorMetadata``, ``event``,
        ``dialogId``) of the conversation, for which ``predicate`` holds."""

        def match(ev: Event) -> bool:
            where = ev.get("conversationId") or ev.get("dialogId")
            return (conversation_id is None or where == conversation_id) and (
                predicate is None or predicate(ev)
            )

        what = "messaging event" + (f" in {conversation_id}" if conversation_id else "")
        return dict(await self._wait(self._events, match, timeout, what))

    async def wait_for_text(
        self, conversation_id: str | None, text: str, timeout: float = 5.0
    ) -> Event:
        """The next event whose message is ``text`` (the consumer's, or anyone's)."""
        return await self.wait_for_event(
            conversation_id, lambda e: (e.get("event") or {}).get("message") == text, timeout
        )

    async def wait_closed(self, timeout: float = 5.0) -> int | None:
        """Wait until mockle closes the socket; its close code."""
        reader = self._reader
        if reader is not None and not self._closed:
            try:
                await asyncio.wait_for(asyncio.shield(reader), timeout)
            except TimeoutError:
                raise WaitTimeout(f"the agent socket stayed open for {timeout:g} s") from None
        return self.close_code


def _list(value: Any) -> Iterable[Any]:
    return value if isinstance(value, list) else []
