"""The Login Service (``agentVep``), sans I/O: agent login, session refresh and logout.

``POST /api/account/{acc}/login?v=1.3`` takes one of three bodies (protocol.md §9.1, the Login
Service API pages "User Login" and "Application Login"; agent-sdk.md §3):
``{"username", "password"}``, the OAuth1 body ``{"username", "appKey", "secret", "accessToken",
"accessTokenSecret"}``, or ``{"jwt", "assertion"}``. It answers the documented body (``csrf``,
``wsuk``, ``config``, ``csdsCollectionResponse``, ``accountData``, ``sessionTTl``, ``bearer``)
plus ``config.userPid``, which the agent SDK reads and the docs' example lacks, and sets the
``session_id`` cookie. ``refresh`` and ``logout`` take ``{"csrf"}`` with that cookie and answer
200 with an empty body.

Lenient by default, like Sentinel: any username logs in and becomes an agent of the account (a
defined agent's credentials are checked); ``strict`` accepts only defined agents. A bearer is a
token of the :class:`~mockle.core.tokens.TokenService` (kind ``AGENT``): it expires after the
session time to live, a refresh extends it, and a logout (or ``tokens/expire``) revokes it, which
closes the agent's sockets with 4401 (the engine's listeners hear it).

Errors use the Login Service's documented error body ``{"error": {"time", "message",
"internalCode", "responseStatus"}}`` with real HTTP statuses (newer SDKs treat > 299 as an error).
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from mockle.core import agents, errors
from mockle.core.effects import Effects
from mockle.core.engine import Engine
from mockle.core.identity import csds_all
from mockle.core.jsondoc import load_json
from mockle.core.model import Agent
from mockle.core.tokens import TokenInfo

SESSION_COOKIE = "session_id"
# internal codes: 10 is documented (invalid csrf); the others are mockle's
CSRF_INVALID, BAD_CREDENTIALS, UNKNOWN_AGENT, NO_SESSION, BAD_BODY = 10, 20, 21, 22, 30
CSRF_MESSAGE = (
    "CSRF token invalid! The CSRF token on request does not match the CSRF token on the session"
)
OAUTH1 = ("appKey", "secret", "accessToken", "accessTokenSecret")
PRIVILEGES = [100, 101, 1730, 1731, 1732, 1733, 1734, 1735]  # the documented example's


@dataclass(slots=True)
class LoginReply:
    """What the web layer writes: a status, a JSON body (``None``: empty), cookies to set."""

    status: int
    body: Any = None
    cookies: dict[str, str] = field(default_factory=dict)
    agent: Agent | None = None


@dataclass(slots=True, eq=False)
class LoginSession:
    session_id: str
    csrf: str
    token: TokenInfo  # the bearer
    agent: Agent

    @property
    def bearer(self) -> str:
        return str(self.token.claims["bearer"])


class LoginError(errors.AuthError):
    """A Login Service refusal, with its ``internalCode``."""

    def __init__(self, message: str, internal_code: int, status: int = 401) -> None:
        super().__init__(message)
        self.internal_code = internal_code
        self.http_status = status


class LoginService:
    def __init__(self, engine: Engine, *, ttl_s: int = 28_800, strict: bool = False) -> None:
        self.engine = engine
        self.ttl_s = ttl_s
        self.strict = strict
        self._sessions: dict[str, LoginSession] = {}

    # -- the three requests ---------------------------------------------------------------

    def login(self, account: str, raw: bytes, base_uri: str) -> LoginReply:
        """``POST /api/account/{account}/login``: the documented body, or an error."""
        try:
            agent = self._authenticate(account, _object(raw))
        except LoginError as exc:
            return self._error(exc)
        engine = self.engine
        token = engine.tokens.mint_agent_bearer(
            account, agent.pid, self.ttl_s, {"loginName": agent.login_name}
        )
        session = LoginSession(engine.ids.hex(20), engine.ids.hex(32), token, agent)
        self._sessions[session.session_id] = session
        body = self._body(session, base_uri)
        return LoginReply(200, body, {SESSION_COOKIE: session.session_id}, agent)

    def refresh(self, account: str, raw: bytes, cookie: str | None) -> LoginReply:
        """``POST .../refresh``: the session lives another ``ttl_s`` seconds (empty 200)."""
        try:
            session = self._session(account, raw, cookie)
        except LoginError as exc:
            return self._error(exc)
        session.token.expires_ms = self.engine.clock.now_ms() + self.ttl_s * 1000
        return LoginReply(200, None, agent=session.agent)

    def logout(self, account: str, raw: bytes, cookie: str | None, fx: Effects) -> LoginReply:
        """``POST .../logout``: the bearer stops working; the agent's sockets close 4401."""
        try:
            session = self._session(account, raw, cookie)
        except LoginError as exc:
            return self._error(exc)
        del self._sessions[session.session_id]
        self.engine.revoke(account, [session.token], fx)
        return LoginReply(200, None, agent=session.agent)

    def reset(self, account: str | None) -> None:
        self._sessions = {
            k: s
            for k, s in self._sessions.items()
            if account is not None and s.agent.account != account
        }

    # -- helpers --------------------------------------------------------------------------

    def _authenticate(self, account: str, body: dict[str, Any]) -> Agent:
        if "assertion" in body:
            name = "assertion:" + _digest(str(body["assertion"]))
            return self._agent(account, name, "assertion", str(body["assertion"]))
        username = body.get("username")
        if not isinstance(username, str) or not username:
            raise LoginError(
                "the login body needs a username (with a password, or appKey, secret, "
                "accessToken and accessTokenSecret), or an assertion",
                BAD_BODY,
                400,
            )
        if "password" in body:
            return self._agent(account, username, "password", str(body["password"]))
        missing = [k for k in OAUTH1 if not isinstance(body.get(k), str)]
        if missing:
            raise LoginError(
                f"the login body has no password, and the OAuth1 form lacks {', '.join(missing)}",
                BAD_BODY,
                400,
            )
        agent = self._agent(account, username, "appKey", str(body["appKey"]))
        for key in OAUTH1[1:]:
            _check(agent, key, str(body[key]))
        return agent

    def _agent(self, account: str, login_name: str, kind: str, given: str) -> Agent:
        agent = agents.by_login(self.engine, account, login_name)
        if agent is None or not agent.defined:
            if self.strict:
                raise LoginError(
                    f"no agent {login_name!r} is defined on account {account} (mockle runs "
                    "with --strict-agents: define it with --agents or POST /_mockle/agents)",
                    UNKNOWN_AGENT,
                )
            agent = agents.lenient(self.engine, account, login_name)
        _check(agent, kind, given)
        return agent

    def _session(self, account: str, raw: bytes, cookie: str | None) -> LoginSession:
        session = self._sessions.get(cookie or "")
        if session is None or session.agent.account != account:
            raise LoginError(
                "no login session: the session_id cookie of the login is missing or unknown",
                NO_SESSION,
            )
        token = session.token
        if token.revoked or (token.expires_ms or 0) <= self.engine.clock.now_ms():
            raise LoginError("the login session has expired: log in again", NO_SESSION)
        csrf = _object(raw).get("csrf")
        if not isinstance(csrf, str) or not hmac.compare_digest(csrf, session.csrf):
            raise LoginError(CSRF_MESSAGE, CSRF_INVALID)
        return session

    def _body(self, session: LoginSession, base_uri: str) -> dict[str, Any]:
        agent, now = session.agent, self.engine.clock.now_ms()
        return {
            "csrf": session.csrf,
            "wsuk": self.engine.ids.digits(18),
            "config": {
                "loginName": agent.login_name,
                "userId": agent.user_id,
                "userPid": agent.pid,
                "userPrivileges": PRIVILEGES,
                "serverCurrentTime": now,
                "timeDiff": 0,
                "serverTimeZoneName": "UTC",
                "serverTimeGMTDiff": 0,
                "isLPA": False,
                "isAdmin": agent.is_manager,
                "accountTimeZoneId": "UTC",
                "userTypeId": 1,
            },
            "csdsCollectionResponse": csds_all(agent.account, base_uri),
            "accountData": {
                "agentGroupsData": {
                    "items": [{"id": -1, "deleted": False, "name": "Main Group"}],
                    "revision": 1,
                }
            },
            "sessionTTl": str(self.ttl_s * 1000),
            "bearer": session.bearer,
        }

    def _error(self, exc: LoginError) -> LoginReply:
        status = exc.http_status
        body = {
            "error": {
                "time": _java_time(self.engine.clock.now_ms()),
                "message": exc.details,
                "internalCode": exc.internal_code,
                "responseStatus": "BAD_REQUEST" if status == 400 else "UNAUTHORIZED",
            }
        }
        return LoginReply(status, body)


def _object(raw: bytes) -> dict[str, Any]:
    try:
        doc = load_json(raw) if raw.strip() else None
    except errors.InvalidRequest as exc:
        raise LoginError(exc.details, BAD_BODY, 400) from None
    if not isinstance(doc, dict):
        raise LoginError("the body must be a JSON object", BAD_BODY, 400)
    return doc


def _check(agent: Agent, kind: str, given: str) -> None:
    expected = agent.credentials.get(kind)
    if expected is None:
        return  # nothing defined for this form: any value is accepted
    if not hmac.compare_digest(
        expected.encode("utf-8", "surrogatepass"), given.encode("utf-8", "surrogatepass")
    ):
        raise LoginError(f"wrong {kind} for agent {agent.login_name!r}", BAD_CREDENTIALS)


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:16]


def _java_time(ms: int) -> str:
    """The documented error time format, e.g. ``Sep 22, 2016 4:10:15 PM``."""
    t = datetime.fromtimestamp(ms / 1000, UTC)
    return f"{t:%b} {t.day}, {t.year} {t.hour % 12 or 12}:{t:%M:%S} {'AM' if t.hour < 12 else 'PM'}"
