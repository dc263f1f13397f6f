"""The UMS WebSocket service (Messaging Window API, and the agent socket), sans I/O.

One :class:`Ums` serves both socket roles. A socket is a :class:`~mockle.core.sessions.Session`:
a participant with a role. The roles share everything but their request handlers: opening and
authentication (a consumer token, or an agent's Login Service bearer), the frame envelope and
its tolerances, errors, rate limits, expiry and the subscriptions' fan-out
(:mod:`mockle.core.subscriptions`). The handler tables come from
:mod:`mockle.core.consumer_requests` and :mod:`mockle.core.agent_requests`; the
:class:`~mockle.core.world.World` puts them together.

The web layer calls :meth:`Ums.open_consumer` / :meth:`Ums.open_agent` when a socket opens,
:meth:`Ums.frame` for each text frame, :meth:`Ums.auth_timeout` / :meth:`Ums.check_expiry` from
its timers and :meth:`Ums.closed` at the end, and hands every returned :class:`Effects` to the hub.

Ordering: the ``resp`` of a request is queued before every notification the request causes
(the initial notification of a subscription, the echo of a published event), because the
``resp`` is put before the effects the handler asked for (a request that fails drops them).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from mockle.core import dialects, errors, frames
from mockle.core.closecodes import CloseCode
from mockle.core.dialects import Dialect, Op
from mockle.core.effects import Effects, Listener
from mockle.core.engine import Engine
from mockle.core.jsondoc import load_json
from mockle.core.requests import Request, parse_request, request_id
from mockle.core.sessions import Session, SocketRole
from mockle.core.subscriptions import Subscriptions
from mockle.core.tokens import TokenInfo, TokenInvalid, TokenKind

log = logging.getLogger("mockle.ums")

UNLIMITED = frozenset({Op.INIT_CONNECTION, Op.GET_CLOCK, Op.KEEP_ALIVE})  # not rate limited
KEEP_ALIVE_OK = "OK"

Handler = Callable[[Session, Request, Effects], Any]
"""A request handler: the ``body`` of the ``resp``; effects of the request go to the Effects."""

_ROLE_TOKENS = {
    SocketRole.CONSUMER: frozenset({TokenKind.CONSUMER_JWS, TokenKind.SIGNUP}),
    SocketRole.AGENT: frozenset({TokenKind.AGENT}),
}
_WRONG_TOKEN = {
    SocketRole.CONSUMER: "use an IDP signup JWT or a ConsumerJWS",
    SocketRole.AGENT: "the agent socket takes the bearer of a Login Service login "
    "(POST /api/account/{account}/login?v=1.3)",
}


def common_handlers(engine: Engine) -> dict[Op, Handler]:
    """The requests both roles may send."""

    def get_clock(session: Session, req: Request, fx: Effects) -> dict[str, Any]:
        return {"currentTime": engine.clock.now_ms()}

    def keep_alive(session: Session, req: Request, fx: Effects) -> str:
        return KEEP_ALIVE_OK

    def upload_url(session: Session, req: Request, fx: Effects) -> dict[str, Any]:
        return engine.upload_url(session.account, req.body)

    def download_url(session: Session, req: Request, fx: Effects) -> dict[str, Any]:
        return engine.download_url(session.account, req.body)

    return {
        Op.GET_CLOCK: get_clock,
        Op.KEEP_ALIVE: keep_alive,
        Op.GENERATE_UPLOAD_URL: upload_url,
        Op.GENERATE_DOWNLOAD_URL: download_url,
    }


class SocketAuth:
    """Who a socket is: the credential check of both roles, and the session's registration
    under its participant once it is authenticated."""

    def __init__(self, engine: Engine, subscriptions: Subscriptions) -> None:
        self.engine = engine
        self.subscriptions = subscriptions

    def verify(self, account: str, token: str, role: SocketRole) -> TokenInfo:
        """The verified credential of a socket of ``role``, or :class:`errors.AuthError`."""
        tokens = self.engine.tokens
        if role is SocketRole.AGENT and not tokens.issued(token):
            raise errors.AuthError(
                "the bearer is not one this mockle issued (or it was forgotten by a reset): "
                "log in again (POST /api/account/{account}/login?v=1.3)"
            )
        try:
            info = tokens.verify(token)
        except TokenInvalid as exc:
            raise errors.AuthError(f"the token is not accepted: {exc}") from None
        if info.kind not in _ROLE_TOKENS[role]:
            raise errors.AuthError(
                f"{_a(info.kind.value)} is not {_a(role.value)} token; {_WRONG_TOKEN[role]}"
            )
        if info.account != account:
            raise errors.AuthError(
                f"the token was issued for account {info.account}, not {account}"
            )
        return info

    def authenticate(self, session: Session, info: TokenInfo) -> None:
        if session.info is not None and session.info.subject != info.subject:
            raise errors.InvalidRequest(
                f"the connection is already authenticated as consumer {session.info.subject}; "
                "open a new connection for another consumer",
                where="$.headers",
            )
        session.info = info
        self.subscriptions.attach(session)


class Ums(Listener):
    """Every UMS socket of every account: opening, frames, expiry and closing."""

    def __init__(
        self,
        engine: Engine,
        auth: SocketAuth,
        handlers: Mapping[SocketRole, Mapping[Op, Handler]],
        *,
        auth_timeout_s: float = 5.0,
    ) -> None:
        self.engine = engine
        self.auth = auth
        self.subscriptions = auth.subscriptions
        self.handlers = handlers
        self.auth_timeout_s = auth_timeout_s
        self._counter = 0
        self.bugs = 0  # frames that hit an unexpected exception (should stay 0)
        # told when a socket is gone, after its subscriptions (e.g. routing re-rings)
        self.departures: list[Callable[[Session, Effects], None]] = []

    @property
    def sessions(self) -> dict[str, Session]:
        return self.subscriptions.sessions

    # -- connection lifecycle ---------------------------------------------------------------

    def _new(self, account: str, role: SocketRole, version: str) -> Session:
        self._counter += 1
        prefix = "ums" if role is SocketRole.CONSUMER else "agent"
        dialect = Dialect.AMS if role is SocketRole.AGENT else Dialect.SHORT
        session = Session(f"{prefix}-{self._counter}", account, role, version, dialect=dialect)
        self.subscriptions.add(session)
        return session

    def open_consumer(
        self,
        account: str,
        *,
        token: str | None = None,
        version: str = "3",
        client_properties: dict[str, Any] | None = None,
    ) -> tuple[Session, Effects]:
        """A new consumer socket. With a token it is authenticated now (or closed 4401 if the
        token is bad); without one it waits for ``InitConnection``."""
        session = self._new(account, SocketRole.CONSUMER, version)
        session.client_properties = client_properties
        fx = Effects()
        if token is not None:
            self._open_with(session, token, fx)
        return session, fx

    def open_agent(
        self, account: str, bearer: str, *, version: str = "2.1"
    ) -> tuple[Session, Effects]:
        """A new agent socket: the bearer in its path must be one the Login Service issued for
        this account, else it closes 4401."""
        session = self._new(account, SocketRole.AGENT, version)
        fx = Effects()
        self._open_with(session, bearer, fx)
        return session, fx

    def _open_with(self, session: Session, token: str, fx: Effects) -> None:
        try:
            self.auth.authenticate(session, self.auth.verify(session.account, token, session.role))
        except errors.MockleError as exc:
            self.close(session, CloseCode.FRESH_TOKEN, exc.details, fx)

    def closed(self, session: Session) -> Effects:
        """The socket is gone: forget the session and its subscriptions; what that causes
        (an agent's waiting rings go to another agent)."""
        session.closing = True
        self.subscriptions.detach(session)
        fx = Effects()
        for departure in self.departures:
            departure(session, fx)
        return fx

    def auth_timeout(self, session: Session) -> Effects:
        """The InitConnection window is over: close 4401 unless the socket authenticated."""
        fx = Effects()
        if not session.authenticated and not session.closing:
            reason = (
                f"no token within {self.auth_timeout_s:g} s: send Authorization: jwt <token> "
                "or an InitConnection with a ConsumerAuthentication header"
            )
            self.close(session, CloseCode.FRESH_TOKEN, reason, fx)
        return fx

    def check_expiry(self, session: Session) -> Effects:
        """Close the socket if its credential has expired or been revoked (4401 / 4407)."""
        fx = Effects()
        self._expired(session, fx)
        return fx

    def binary(self, session: Session) -> Effects:
        """A binary frame: answered with a 400 ``resp``; the socket stays open."""
        fx = Effects()
        if session.closing or self._expired(session, fx):
            return fx
        exc = errors.InvalidRequest(
            "binary frames are not supported: send each request as a JSON text frame",
            where="$",
        )
        fx.frames.append((session.id, self.error_frame(session, "0", None, exc)))
        return fx

    # -- frames -------------------------------------------------------------------------------

    def frame(self, session: Session, data: str | bytes) -> Effects:
        """One text frame from the client: its ``resp``, then whatever it caused."""
        fx = Effects()
        if session.closing or self._expired(session, fx):
            return fx
        try:
            doc = load_json(data, "frame")
        except errors.InvalidRequest as bad:
            fx.frames.append((session.id, self.error_frame(session, "0", None, bad)))
            return fx
        rid = request_id(doc) or "0"
        doc = _tolerate(doc)
        try:
            req = parse_request(doc)
            session.dialect = req.dialect
            handler = self._handler(session, req)
            consumer_id = session.consumer_id
            if consumer_id is not None and req.op not in UNLIMITED:
                self.engine.rate_limiter.check(session.account, consumer_id)
            body = handler(session, req, fx)  # fx is empty until the handler runs
        except errors.MockleError as exc:
            fx = Effects()  # what the failed request asked for so far is dropped
            fx.frames.append((session.id, self.error_frame(session, rid, doc, exc)))
            if isinstance(exc, errors.AuthError) and _is_init(doc):
                self.close(session, CloseCode.FRESH_TOKEN, exc.details, fx)
            return fx
        except Exception:  # a bug: answered without details, recorded, the socket lives on
            log.exception("unhandled error on %s for %.200r", session.id, data)
            self.bugs += 1
            fx = Effects()
            bug = frames.resp(
                rid, 500, "mockle hit a bug; see its log", dialects.STRING_RESPONSE[session.dialect]
            )
            fx.frames.append((session.id, bug))
            return fx
        code = dialects.response_code(req.op)
        resp_type = dialects.response_type(req.op, req.dialect)
        fx.frames.insert(0, (session.id, frames.resp(rid, code, body, resp_type)))
        return fx

    def _handler(self, session: Session, req: Request) -> Handler:
        handler = self.handlers[session.role].get(req.op)
        if handler is None:
            other = "an agent" if session.role is SocketRole.CONSUMER else "a consumer"
            raise errors.InvalidRequest(
                f"{req.type!r} is {other} request: this is {_article(session.role)} socket",
                where="$.type",
            )
        if not session.authenticated and req.op is not Op.INIT_CONNECTION:
            raise errors.AuthError(
                f"{req.type} before authentication: send InitConnection with a "
                ".ams.headers.ConsumerAuthentication header first",
                title="Unauthorized",
            )
        return handler

    def error_frame(
        self, session: Session, rid: str, doc: Any, exc: errors.MockleError
    ) -> dict[str, Any]:
        """An error ``resp`` (see :func:`mockle.core.frames.error_resp`)."""
        type_name = doc.get("type") if isinstance(doc, dict) else None
        return frames.error_resp(rid, type_name, exc.ums_code, exc.message, session.dialect)

    def _expired(self, session: Session, fx: Effects) -> bool:
        info = session.info
        if info is None or session.closing:
            return session.closing
        now = self.engine.clock.now_ms()
        if not info.revoked and (info.expires_ms is None or now < info.expires_ms):
            return False
        self._close_expired(session, fx)
        return True

    def _close_expired(self, session: Session, fx: Effects) -> None:
        if session.token_kind is TokenKind.SIGNUP:
            reason = "the identity has expired: extend it at the IDP (signup again) and reconnect"
            self.close(session, CloseCode.EXTEND_IDENTITY, reason, fx)
        elif session.token_kind is TokenKind.AGENT:
            reason = "the login session has expired or was revoked: log in again and reconnect"
            self.close(session, CloseCode.FRESH_TOKEN, reason, fx)
        else:
            reason = "the token has expired: a fresh one is needed"
            self.close(session, CloseCode.FRESH_TOKEN, reason, fx)

    def close(self, session: Session, code: int, reason: str, fx: Effects) -> None:
        if not session.closing:
            session.closing = True
            fx.closes.append((session.id, code, reason))

    # -- listener -----------------------------------------------------------------------------

    def on_tokens_expired(self, account: str, infos: list[TokenInfo], fx: Effects) -> None:
        for info in infos:
            for session in self.subscriptions.of(account, info.subject):
                if session.info is info:
                    self._close_expired(session, fx)


# -- frame helpers -------------------------------------------------------------------------------


def _a(noun: str) -> str:
    return f"an {noun}" if noun[:1].lower() in "aeiou" else f"a {noun}"


def _article(role: SocketRole) -> str:
    return _a(role.value)


def _tolerate(doc: Any) -> Any:
    """Envelope tolerances beyond :func:`parse_request`.

    * a missing ``body`` is an empty one (W1, lp-api), for every type;
    * S3's Get Messages step 4 puts ``type`` inside ``body``: honoured when the top level has
      none and it names a known request (the seed documents that request as a success).
    """
    if not isinstance(doc, dict):
        return doc
    body = doc.get("body")
    if "type" not in doc and isinstance(body, dict):
        inner = body.get("type")
        if isinstance(inner, str) and dialects.lookup(inner) is not None:
            rest = {k: v for k, v in body.items() if k != "type"}
            return {**doc, "type": inner, "body": rest}
    if body is None:
        return {**doc, "body": {}}
    return doc


def _is_init(doc: Any) -> bool:
    type_name = doc.get("type") if isinstance(doc, dict) else None
    found = dialects.lookup(type_name) if isinstance(type_name, str) else None
    return found is not None and found[0] is Op.INIT_CONNECTION
