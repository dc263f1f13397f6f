"""The commands that drive a running mockle through its control API (``/_mockle/...``).

* ``mockle conversations``: the conversations as a table (or ``--json``);
* ``mockle agent say|join|close|transfer CONV``: play the agent of a conversation;
* ``mockle tail``: the request journal, then every new entry as it comes (``kubectl logs -f``).

Each takes ``--url`` (``MOCKLE_URL``; default ``http://localhost:8080``), ``--admin-token``
(``MOCKLE_ADMIN_TOKEN``, the variable ``mockle serve`` reads too) and, for an ``https`` URL,
``--cacert FILE`` (otherwise the system's trust store, which honours ``SSL_CERT_FILE``). A
failure is one line on stderr and exit status 1; a bad command line is argparse's exit 2.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import ssl
import sys
import time
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import quote, urlsplit

import aiohttp
import orjson

from mockle.client import AsyncMockleClient
from mockle.web.journal import LogLine, entry_of_json

NAMES = frozenset({"conversations", "agent", "tail"})
DEFAULT_URL = "http://localhost:8080"
POLL_WAIT_S = 25.0  # one long-poll of ``mockle tail``; the server answers as soon as one comes
MESSAGE_WIDTH = 40


class CommandError(Exception):
    """What went wrong, as the one line the user sees."""


# -- the command line ---------------------------------------------------------------------------


def _common() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    group = common.add_argument_group("connection")
    group.add_argument("--url", help=f"the mockle to drive [env MOCKLE_URL; default {DEFAULT_URL}]")
    group.add_argument(
        "--admin-token",
        help="the token of a mockle started with --admin-token [env MOCKLE_ADMIN_TOKEN]",
    )
    group.add_argument(
        "--cacert",
        type=Path,
        help="CA certificate(s), PEM, to trust for an https URL "
        "[default: the system's, or SSL_CERT_FILE]",
    )
    group.add_argument(
        "--timeout", type=float, default=10.0, help="seconds to wait for an answer [10]"
    )
    return common


def add_parsers(sub: Any) -> None:
    """The client commands, on the ``mockle`` parser's subcommands."""
    common = _common()

    conv = sub.add_parser(
        "conversations",
        parents=[common],
        help="list the conversations as a table",
        description="List the conversations of a running mockle: id, account, consumer, "
        "state, skill, assigned agent, last message and age.",
    )
    conv.add_argument("--account", help="only this account's")
    conv.add_argument(
        "--state", type=str.upper, choices=["OPEN", "CLOSE"], help="only OPEN or CLOSE ones"
    )
    conv.add_argument("--json", action="store_true", help="the control API's JSON instead")

    agent = sub.add_parser(
        "agent",
        help="play the agent of a conversation (say, join, close, transfer)",
        description="Play the agent of a conversation of a running mockle.",
    )
    actions = agent.add_subparsers(dest="action", metavar="ACTION", required=True)
    say = actions.add_parser("say", parents=[common], help="publish a text message as the agent")
    say.add_argument("conversation", metavar="CONV", help="the conversation id")
    say.add_argument("text", metavar="TEXT", help="the message ('-' reads it from stdin)")
    join = actions.add_parser(
        "join", parents=[common], help="make an agent the conversation's assigned agent"
    )
    join.add_argument("conversation", metavar="CONV", help="the conversation id")
    close = actions.add_parser("close", parents=[common], help="close the conversation")
    close.add_argument("conversation", metavar="CONV", help="the conversation id")
    transfer = actions.add_parser(
        "transfer", parents=[common], help="transfer the conversation to a skill"
    )
    transfer.add_argument("conversation", metavar="CONV", help="the conversation id")
    transfer.add_argument("--skill", required=True, help="the skill id to transfer to")
    for action in (say, join):
        action.add_argument(
            "--agent-id",
            help="the agent (PID or legacy id <account>.<userId>; default: "
            "the assigned one, else a new one)",
        )
    for action in (say, join, close, transfer):
        action.add_argument("--account", help="the conversation's account (optional)")
        action.add_argument("--json", action="store_true", help="print the answer as JSON")

    tail = sub.add_parser(
        "tail",
        parents=[common],
        help="follow the request journal live (like kubectl logs -f)",
        description="Print the latest journal entries (REST calls, socket frames, webhook "
        "attempts), then each new one as it comes, until interrupted.",
    )
    tail.add_argument("--account", help="only this account's entries")
    tail.add_argument(
        "--conversation", metavar="CONV", help="only entries that name this conversation"
    )
    tail.add_argument(
        "--target", help="only this target (send, conversation, ws, ws_connect, webhook, ...)"
    )
    tail.add_argument("--type", help="only this request or notification type (any dialect)")
    tail.add_argument(
        "-n", "--lines", type=int, default=10, help="how many past entries to show first [10]"
    )
    tail.add_argument("--no-follow", action="store_true", help="print the past entries and stop")
    tail.add_argument("--json", action="store_true", help="each entry as one line of JSON")


# -- running ----------------------------------------------------------------------------------


def run(args: argparse.Namespace, environ: dict[str, str] | None = None) -> int:
    """Run a client command; its exit status."""
    env = dict(os.environ) if environ is None else environ
    try:
        return asyncio.run(_run(args, env))
    except CommandError as exc:
        print(f"mockle: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `mockle tail | head`: the reader is gone; so are we, quietly
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0


async def _run(args: argparse.Namespace, env: dict[str, str]) -> int:
    url = (args.url or env.get("MOCKLE_URL") or DEFAULT_URL).rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise CommandError(f"--url {url!r} is not an http:// or https:// URL")
    token = args.admin_token or env.get("MOCKLE_ADMIN_TOKEN") or None
    remote = Remote(url, token, _ssl_context(args.cacert, parts.scheme), args.timeout)
    try:
        if args.command == "conversations":
            return await conversations(remote, args, sys.stdout)
        if args.command == "agent":
            return await agent(remote, args, sys.stdout)
        return await tail(remote, args, sys.stdout)
    finally:
        await remote.client.close()


def _ssl_context(cacert: Path | None, scheme: str) -> ssl.SSLContext | None:
    if cacert is None:
        return None
    if scheme != "https":
        raise CommandError("--cacert applies to an https:// URL only")
    try:
        return ssl.create_default_context(cafile=str(cacert))
    except (OSError, ssl.SSLError) as exc:
        raise CommandError(f"--cacert {cacert}: cannot load it: {exc}") from None


class Remote:
    """The control API of one mockle: every call answers its JSON or raises CommandError."""

    def __init__(
        self, url: str, token: str | None, context: ssl.SSLContext | None, timeout: float
    ) -> None:
        self.url, self.token, self.timeout = url, token, timeout
        self.client = AsyncMockleClient(url, admin_token=token, ssl_context=context)

    async def call(
        self,
        method: str,
        path: str,
        params: dict[str, Any] | None = None,
        body: Any = None,
        *,
        wait: float = 0.0,
        about: str | None = None,
    ) -> Any:
        """``about`` names what was asked about in a refusal (``CONV: ... (400)``)."""
        try:
            async with asyncio.timeout(self.timeout + wait):
                status, doc, _ = await self.client.request(method, path, body, params=params)
        except TimeoutError:
            raise CommandError(f"{self.url} did not answer within {self.timeout:g} s") from None
        except aiohttp.ClientConnectorCertificateError as exc:
            raise CommandError(
                f"{self.url}: its TLS certificate is not trusted ({exc.certificate_error}); "
                "pass --cacert FILE or set SSL_CERT_FILE"
            ) from None
        except aiohttp.ClientSSLError:
            hint = " (is it an http:// server?)" if self.url.startswith("https:") else ""
            raise CommandError(f"{self.url}: the TLS handshake failed{hint}") from None
        except aiohttp.ClientConnectorError as exc:
            raise CommandError(
                f"cannot reach mockle at {self.url}: {_reason(exc)} (is `mockle serve` running?)"
            ) from None
        except (aiohttp.ServerDisconnectedError, aiohttp.ClientPayloadError):
            hint = " (an https server? use https://)" if self.url.startswith("http:") else ""
            raise CommandError(f"{self.url} closed the connection unanswered{hint}") from None
        except aiohttp.ClientError as exc:
            raise CommandError(f"{method} {self.url}{path} failed: {_reason(exc)}") from None
        if 200 <= status < 300:
            return doc
        refusal = self._refusal(method, path, status, doc)
        named = about is None or status == 401 or about in refusal
        raise CommandError(refusal if named else f"{about}: {refusal}")

    def _refusal(self, method: str, path: str, status: int, doc: Any) -> str:
        details = _details(doc)
        if status == 401 and path.startswith("/_mockle/"):
            if self.token is None:
                return (
                    f"{self.url} requires the admin token: pass --admin-token or set "
                    "MOCKLE_ADMIN_TOKEN"
                )
            return f"{self.url} refused the admin token (401)"
        if details is None:
            return f"{method} {path} answered {status}; is {self.url} a mockle?"
        return f"{details} ({status})"


def _reason(exc: BaseException) -> str:
    inner = getattr(exc, "os_error", None)
    if isinstance(inner, OSError) and inner.errno:
        return os.strerror(inner.errno).lower()
    return str(exc) or type(exc).__name__


def _details(doc: Any) -> str | None:
    """The message of mockle's error envelope (``{"body": {"details": ...}}``)."""
    body = doc.get("body") if isinstance(doc, dict) else None
    if isinstance(body, dict):
        for key in ("details", "msg", "title"):
            if isinstance(body.get(key), str):
                return str(body[key])
    return None


def _print_json(doc: Any, out: TextIO) -> None:
    out.write(orjson.dumps(doc, option=orjson.OPT_INDENT_2).decode() + "\n")


# -- conversations --------------------------------------------------------------------------


def age(ms: int, now_ms: int) -> str:
    """``42s``, ``5m``, ``3h``, ``2d``: how long ago ``ms`` was."""
    seconds = max(0, (now_ms - ms) // 1000)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def _one_line(text: str, width: int) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def message_summary(change: Any, width: int = MESSAGE_WIDTH) -> str:
    """A last message as the table shows it: ``consumer: hello``."""
    if not isinstance(change, dict):
        return "-"
    meta = change.get("originatorMetadata")
    role = meta.get("role") if isinstance(meta, dict) else None
    who = {"CONSUMER": "consumer", "ASSIGNED_AGENT": "agent", "AGENT": "agent"}.get(
        str(role), str(role or "?").lower()
    )
    event = change.get("event")
    event = event if isinstance(event, dict) else {}
    message = event.get("message")
    if isinstance(message, str) and event.get("contentType", "text/plain") == "text/plain":
        what = message
    else:
        what = f"[{event.get('contentType') or event.get('type') or 'message'}]"
    return _one_line(f"{who}: {what}", width)


HEADERS = ("ID", "ACCOUNT", "CONSUMER", "STATE", "SKILL", "AGENT", "LAST MESSAGE", "AGE")


def conversation_rows(convs: list[dict[str, Any]], now_ms: int) -> list[tuple[str, ...]]:
    rows: list[tuple[str, ...]] = []
    for c in sorted(convs, key=lambda c: int(c.get("startTs") or 0)):
        agent = c.get("assignedAgent")
        rows.append(
            (
                str(c.get("conversationId")),
                str(c.get("account")),
                _one_line(str(c.get("consumerName") or c.get("consumerId") or "-"), 30),
                str(c.get("state")),
                str(c.get("skillId") or "-"),
                str(agent.get("agentId")) if isinstance(agent, dict) else "-",
                message_summary(c.get("lastMessage")),
                age(int(c.get("startTs") or now_ms), now_ms),
            )
        )
    return rows


def table(headers: tuple[str, ...], rows: list[tuple[str, ...]]) -> str:
    widths = [max(len(r[i]) for r in [headers, *rows]) for i in range(len(headers))]
    lines = [
        "   ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in [headers, *rows]
    ]
    return "\n".join(lines) + "\n"


async def conversations(remote: Remote, args: argparse.Namespace, out: TextIO) -> int:
    params = {"account": args.account, "state": args.state}
    doc = await remote.call("GET", "/_mockle/conversations", params)
    convs = doc.get("conversations") if isinstance(doc, dict) else None
    if not isinstance(convs, list):
        raise CommandError(f"{remote.url} answered no conversation list; is it a mockle?")
    if args.json:
        _print_json(convs, out)
    elif not convs:
        where = f" on account {args.account}" if args.account else ""
        print(f"no conversations{where}", file=sys.stderr)
    else:
        out.write(table(HEADERS, conversation_rows(convs, int(time.time() * 1000))))
    return 0


# -- agent -----------------------------------------------------------------------------------


async def agent(remote: Remote, args: argparse.Namespace, out: TextIO) -> int:
    conv = args.conversation
    base = f"/_mockle/conversations/{quote(conv, safe='')}"
    params = {"account": args.account}
    if args.action == "say":
        text = sys.stdin.read().rstrip("\n") if args.text == "-" else args.text
        if not text.strip():
            raise CommandError("the message is empty")
        body: dict[str, Any] = {
            "event": {"type": "ContentEvent", "contentType": "text/plain", "message": text}
        }
        if args.agent_id:
            body["agentId"] = args.agent_id
        doc = await remote.call("POST", base + "/agent/publish", params, body, about=conv)
        said = f"{conv}: sent (sequence {doc.get('sequence') if isinstance(doc, dict) else '?'})"
        return _done(doc, said, args, out)
    if args.action == "join":
        body = {"agentId": args.agent_id} if args.agent_id else {}
        doc = await remote.call("POST", base + "/agent/join", params, body, about=conv)
        who = doc.get("agentId") if isinstance(doc, dict) else "?"
        return _done(doc, f"{conv}: agent {who} joined", args, out)
    if args.action == "close":
        doc = await remote.call("POST", base + "/close", params, {"by": "agent"}, about=conv)
        return _done(doc, f"{conv}: closed", args, out)
    doc = await remote.call("POST", base + "/transfer", params, {"skill": args.skill}, about=conv)
    return _done(doc, f"{conv}: transferred to skill {args.skill}", args, out)


def _done(doc: Any, text: str, args: argparse.Namespace, out: TextIO) -> int:
    if args.json:
        _print_json(doc, out)
    else:
        out.write(text + "\n")
    return 0


# -- tail ----------------------------------------------------------------------------------------


def _entries(doc: Any, remote: Remote) -> list[dict[str, Any]]:
    found = doc.get("requests") if isinstance(doc, dict) else None
    if not isinstance(found, list):
        raise CommandError(f"{remote.url} answered no journal; is it a mockle?")
    return [e for e in found if isinstance(e, dict)]


def entry_text(entry: dict[str, Any], as_json: bool) -> str:
    """One journal entry as ``mockle tail`` prints it: the log line, or the entry's JSON."""
    if as_json:
        return orjson.dumps(entry).decode()
    return LogLine(entry_of_json(entry)).text()


async def tail(remote: Remote, args: argparse.Namespace, out: TextIO) -> int:
    """Print the last ``--lines`` matching entries, then each new one (a long-poll on the
    journal: the server answers as soon as an entry matches), until interrupted."""
    if args.lines < 0:
        raise CommandError("--lines must be 0 or more")
    filters = {
        "account": args.account,
        "conversation_id": args.conversation,
        "target": args.target,
        "type": args.type,
    }
    path = "/_mockle/requests"
    if args.lines > 0:
        past = _entries(await remote.call("GET", path, {**filters, "limit": args.lines}), remote)
        _write(past, args.json, out)
        after = int(past[-1]["id"]) if past else 0  # none yet: every new match is news
    elif args.no_follow:
        return 0
    else:  # follow from the newest entry of all: what exists now is history
        newest = _entries(await remote.call("GET", path, {"limit": 1}), remote)
        after = int(newest[-1]["id"]) if newest else 0
    while not args.no_follow:
        params = {**filters, "after": after, "wait": POLL_WAIT_S, "min": 1}
        found = _entries(await remote.call("GET", path, params, wait=POLL_WAIT_S), remote)
        _write(found, args.json, out)
        if found:
            after = int(found[-1]["id"])
    return 0


def _write(entries: list[dict[str, Any]], as_json: bool, out: TextIO) -> None:
    if entries:
        out.write("".join(entry_text(e, as_json) + "\n" for e in entries))
        out.flush()
