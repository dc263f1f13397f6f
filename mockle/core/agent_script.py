"""The simulated agent's script: rules that say what to do with a consumer message.

A script (YAML or JSON, schema ``control/agentScript.json``) is a list of rules; the first whose
``match`` (a regular expression) finds the message's text applies. :mod:`mockle.core.agent`
carries the rules out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from mockle.core import errors
from mockle.core.jsondoc import load_json_or_yaml
from mockle.core.schemas import SchemaSet

ECHO_PREFIX = "echo: "
SCRIPT_SCHEMA = "control/agentScript.json"
EVENT_SCHEMA = "ms/events/event.json"


@dataclass(frozen=True, slots=True)
class Rule:
    """What the agent does with a consumer message whose text matches ``pattern``."""

    pattern: re.Pattern[str] | None = None  # None matches everything
    read: bool = True
    typing: bool = True
    replies: tuple[str | dict[str, Any], ...] = ()  # texts ("{text}" = the consumer's) or events
    transfer: str | None = None
    close: bool = False
    delay_ms: int | None = None  # overrides the agent's delay between steps

    def matches(self, text: str) -> bool:
        return self.pattern is None or self.pattern.search(text) is not None


ECHO_RULE = Rule(replies=(ECHO_PREFIX + "{text}",))


@dataclass(frozen=True, slots=True)
class AgentScript:
    rules: tuple[Rule, ...]

    def match(self, text: str) -> Rule | None:
        for rule in self.rules:
            if rule.matches(text):
                return rule
        return None


# -- the script file ---------------------------------------------------------------------------


def load_script(raw: bytes | str) -> AgentScript:
    """Parse a script file (JSON or YAML); raise :class:`errors.InvalidPayload` naming the spot."""
    return parse_script(load_json_or_yaml(raw))


def parse_script(doc: Any) -> AgentScript:
    """Validate a parsed script document and compile its rules."""
    SchemaSet.default().validate(SCRIPT_SCHEMA, doc)
    return AgentScript(tuple(_rule(r, f"$.rules[{i}]") for i, r in enumerate(doc["rules"])))


def _rule(doc: dict[str, Any], where: str) -> Rule:
    pattern = None
    if "match" in doc:
        try:
            pattern = re.compile(doc["match"])
        except re.error as exc:
            raise errors.InvalidPayload(
                f"{doc['match']!r} is not a valid regular expression: {exc}", where=f"{where}.match"
            ) from None
    replies = doc.get("reply", [])
    single = not isinstance(replies, list)
    if single:
        replies = [replies]
    for i, reply in enumerate(replies):
        if isinstance(reply, dict):
            at = f"{where}.reply" if single else f"{where}.reply[{i}]"
            SchemaSet.default().validate(EVENT_SCHEMA, reply, prefix=at)
    transfer = doc.get("transfer")
    return Rule(
        pattern=pattern,
        read=bool(doc.get("read", True)),
        typing=bool(doc.get("typing", True)),
        replies=tuple(replies),
        transfer=str(transfer) if transfer is not None else None,
        close=bool(doc.get("close", False)),
        delay_ms=doc.get("delay_ms"),
    )
