"""The agents who log in: definitions (``--agents FILE``, ``POST /_mockle/agents``) and the
lenient directory that makes an agent of any login name.

Every agent has two ids (protocol.md §9.5, agent-sdk.md §7): a PID (a UUID, in
``participantsPId``, ``originatorPId``, ``originatorMetadata.id``) and a legacy id
``<account>.<userId>`` (``participants[ROLE]`` on v2 sockets, the agent's own ``originatorId``,
``agentUserId``). Both derive from the account and the login name unless a definition pins
them, so the same agent has the same ids on every login and every run.
"""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

from mockle.core import errors
from mockle.core.engine import Engine
from mockle.core.model import Agent
from mockle.core.schemas import SchemaSet

DEFINITION_SCHEMA = "control/agentDefinition.json"
FILE_SCHEMA = "control/agents.json"
CREDENTIALS = ("password", "appKey", "secret", "accessToken", "accessTokenSecret", "assertion")


def stable_ids(account: str, login_name: str) -> tuple[str, str]:
    """(userId, PID) of a login name on an account: 10 digits and a version-4 UUID."""
    digest = hashlib.sha256(f"mockle-agent\x00{account}\x00{login_name}".encode()).digest()
    user_id = str(1_000_000_000 + int.from_bytes(digest[:8], "big") % 9_000_000_000)
    pid = str(uuid.UUID(bytes=digest[8:24], version=4))
    return user_id, pid


def _skills(value: Any) -> frozenset[str]:
    if value is None:
        return frozenset()
    items = value if isinstance(value, list) else [value]
    return frozenset(str(s) for s in items)


def _put(engine: Engine, agent: Agent) -> Agent:
    acc = engine.account(agent.account)
    if agent.login_name is not None:
        old = acc.logins.get(agent.login_name)
        if old is not None and old.pid != agent.pid:
            del acc.agents[old.pid]
        acc.logins[agent.login_name] = agent
    acc.agents[agent.pid] = agent
    return agent


def define(engine: Engine, doc: Any, *, prefix: str = "$") -> Agent:
    """Define (or redefine) an agent from a definition document; its :class:`Agent`."""
    SchemaSet.default().validate(DEFINITION_SCHEMA, doc, prefix=prefix)
    account, login = str(doc["account"]), str(doc["loginName"])
    user_id, pid = stable_ids(account, login)
    user_id, pid = str(doc.get("userId") or user_id), str(doc.get("pid") or pid).lower()
    clash = engine.find_agent(account, pid) or engine.find_agent(account, f"{account}.{user_id}")
    if clash is not None and clash.login_name != login:
        raise errors.InvalidRequest(
            f"agent {clash.login_name or clash.pid!r} already has this userId or pid",
            where=f"{prefix}.userId" if doc.get("userId") else f"{prefix}.pid",
        )
    agent = Agent(
        account,
        pid,
        user_id,
        nickname=str(doc.get("nickname") or login),
        login_name=login,
        role=str(doc.get("role") or "AGENT"),
        full_name=doc.get("fullName"),
        employee_id=doc.get("employeeId"),
        picture_url=doc.get("pictureUrl"),
        skills=_skills(doc.get("skills")),
        max_conversations=doc.get("maxConversations"),
        credentials={k: str(doc[k]) for k in CREDENTIALS if k in doc},
        defined=True,
    )
    return _put(engine, agent)


def definitions(doc: Any) -> list[Any]:
    """The definitions of an ``--agents`` document (a list, one, or ``{"agents": [...]}``)."""
    SchemaSet.default().validate(FILE_SCHEMA, doc)
    if isinstance(doc, dict):
        return list(doc["agents"]) if "agents" in doc else [doc]
    return list(doc)


def by_login(engine: Engine, account: str, login_name: str) -> Agent | None:
    acc = engine.accounts.get(account)
    return acc.logins.get(login_name) if acc is not None else None


def pid_of_login(engine: Engine, account: str, login_name: str) -> str:
    """The PID a login with ``login_name`` is (or would be, on first sight) the agent of."""
    found = by_login(engine, account, login_name)
    return found.pid if found is not None else stable_ids(account, login_name)[1]


def lenient(engine: Engine, account: str, login_name: str) -> Agent:
    """The agent of a login name, made on first sight (an AGENT with every skill)."""
    found = by_login(engine, account, login_name)
    if found is not None:
        return found
    user_id, pid = stable_ids(account, login_name)
    agent = Agent(account, pid, user_id, nickname=login_name, login_name=login_name)
    return _put(engine, agent)


def remove(engine: Engine, account: str, login_name: str) -> Agent | None:
    """Forget an agent's definition; it can no longer log in in strict mode (its conversations
    keep it as a participant)."""
    agent = by_login(engine, account, login_name)
    if agent is None:
        return None
    acc = engine.account(account)
    del acc.logins[login_name]
    agent.defined = False
    return agent


def logins(engine: Engine, account: str | None = None) -> list[Agent]:
    """The agents who may log in (defined, or met through a lenient login)."""
    accounts = [engine.accounts.get(account)] if account else list(engine.accounts.values())
    return [a for acc in accounts if acc is not None for a in acc.logins.values()]


def as_json(agent: Agent) -> dict[str, Any]:
    """An agent as the control API shows it (credentials are never shown)."""
    return {
        "account": agent.account,
        "loginName": agent.login_name,
        "userId": agent.user_id,
        "legacyId": agent.legacy_id,
        "pid": agent.pid,
        "nickname": agent.nickname,
        "fullName": agent.full_name,
        "role": agent.role,
        "skills": sorted(agent.skills),
        "maxConversations": agent.max_conversations,
        "defined": agent.defined,
    }


def public_profile(agent: Agent) -> dict[str, Any]:
    """``GET /api/account/{acc}/configuration/le-users/users/{agentPid}`` (protocol.md §2.6)."""
    return {
        "pictureUrl": agent.picture_url or "",
        "employeeId": agent.employee_id or "Dont-Have-One",
        "nickname": agent.nickname,
        "fullName": agent.full_name or agent.nickname,
    }
