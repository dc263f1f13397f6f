"""Assertions over what mockle saw, with failures that explain themselves.

A failure says three things: what was expected, what arrived (a short line per candidate), and
the nearest miss -- the candidate that matched the most, with the first place it differs::

    AssertionError: expected a 'send' request with text 'hello', type 'ms.PublishEvent'
    arrived: 2 'send' requests
      #7  POST .../conversation/send  ms.PublishEvent  text 'helo'  -> 200
      #9  POST .../conversation/send  cm.UpdateConversationField  -> 200
    nearest miss: #7 differs at $.body.event.message: expected 'hello', got 'helo'

Patterns are partial: a dict matches when each of its keys matches (other keys are ignored), a
list when each of its items matches some item, :data:`ANY` matches anything and a callable is
called with the value.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from mockle.web.journal import type_matches


class _Any:
    def __repr__(self) -> str:
        return "ANY"


ANY: Any = _Any()


@dataclass(frozen=True, slots=True)
class Miss:
    """Where a value differs from a pattern, and how much of the pattern did match."""

    path: str
    expected: Any
    got: Any
    score: int

    def describe(self) -> str:
        return f"differs at {self.path}: expected {_short(self.expected)}, got {_short(self.got)}"


def _short(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


_MISSING = object()


def compare(pattern: Any, value: Any, path: str = "$") -> Miss | None:
    """``None`` when ``value`` matches ``pattern``; else the first :class:`Miss` (with a score)."""
    if pattern is ANY:
        return None
    if callable(pattern) and not isinstance(pattern, type):
        ok = bool(pattern(value)) if value is not _MISSING else False
        return None if ok else Miss(path, pattern, _got(value), 0)
    if isinstance(pattern, dict):
        if not isinstance(value, dict):
            return Miss(path, pattern, _got(value), 0)
        score = 0
        for key, sub in pattern.items():
            miss = compare(sub, value.get(key, _MISSING), f"{path}.{key}")
            if miss is not None:
                return Miss(miss.path, miss.expected, miss.got, score + miss.score)
            score += 1 + _weight(sub)
        return None
    if isinstance(pattern, list):
        if not isinstance(value, list):
            return Miss(path, pattern, _got(value), 0)
        score = 0
        for i, sub in enumerate(pattern):
            misses = [compare(sub, item, f"{path}[{j}]") for j, item in enumerate(value)]
            if any(m is None for m in misses):
                score += 1 + _weight(sub)
                continue
            best = max((m for m in misses if m is not None), key=lambda m: m.score, default=None)
            if best is None:
                return Miss(f"{path}[{i}]", sub, "<no item>", score)
            return Miss(best.path, best.expected, best.got, score + best.score)
        return None
    if value is _MISSING or pattern != value:
        return Miss(path, pattern, _got(value), 0)
    return None


def _got(value: Any) -> Any:
    return "<missing>" if value is _MISSING else value


def _weight(pattern: Any) -> int:
    if isinstance(pattern, dict):
        return sum(1 + _weight(v) for v in pattern.values())
    if isinstance(pattern, list):
        return sum(1 + _weight(v) for v in pattern)
    return 0


def messages(doc: Any) -> list[str]:
    """Every ``event.message`` text in a request, a batch or a notification."""
    found: list[str] = []
    _messages(doc, found, 0)
    return found


def _messages(doc: Any, found: list[str], depth: int) -> None:
    if depth > 8:
        return
    if isinstance(doc, dict):
        event = doc.get("event")
        if isinstance(event, dict) and isinstance(event.get("message"), str):
            found.append(event["message"])
        for value in doc.values():
            if isinstance(value, dict | list):
                _messages(value, found, depth + 1)
    elif isinstance(doc, list):
        for item in doc:
            _messages(item, found, depth + 1)


def _types_of(entry: dict[str, Any]) -> list[str]:
    types = [entry["type"]] if isinstance(entry.get("type"), str) else []
    body = entry.get("body")
    items = body if isinstance(body, list) else [body]
    types += [i["type"] for i in items if isinstance(i, dict) and isinstance(i.get("type"), str)]
    return types


def _summary(entry: dict[str, Any]) -> str:
    parts = [f"#{entry.get('id')}"]
    if entry.get("direction"):
        parts.append(entry["direction"])
    if entry.get("method"):
        path = str(entry.get("path") or "")
        parts.append(f"{entry['method']} {path if len(path) < 60 else '…' + path[-50:]}")
    types = _types_of(entry)
    if types:
        parts.append(", ".join(types))
    texts = messages(entry.get("body"))
    if texts:
        parts.append("text " + ", ".join(_short(t, 40) for t in texts))
    if entry.get("status") is not None:
        parts.append(f"-> {entry['status']}")
    elif entry.get("error"):
        parts.append(f"-> {entry['error']}")
    return "  ".join(parts)


def _expectation(what: str, criteria: dict[str, Any]) -> str:
    shown = ", ".join(f"{k} {_short(v)}" for k, v in criteria.items() if v is not None)
    return f"expected {what}" + (f" with {shown}" if shown else "")


def check(
    entries: Sequence[dict[str, Any]],
    *,
    what: str,
    type: str | None = None,
    text: str | None = None,
    body: Any = None,
    where: Callable[[dict[str, Any]], bool] | None = None,
    count: int | None = None,
) -> list[dict[str, Any]]:
    """The entries that match; raises an explaining :class:`AssertionError` when none (or not
    ``count``) do. ``entries`` are journal entries or webhook deliveries (dicts)."""
    __tracebackhide__ = True
    hits: list[dict[str, Any]] = []
    best: tuple[int, dict[str, Any], str] | None = None
    for entry in entries:
        reason, score = _judge(entry, type, text, body, where)
        if reason is None:
            hits.append(entry)
        elif best is None or score > best[0]:
            best = (score, entry, reason)
    if (count is None and hits) or (count is not None and len(hits) == count):
        return hits
    criteria = {"type": type, "text": text, "body": body}
    lines = [_expectation(what, criteria) + (f", {count} time(s)" if count is not None else "")]
    if count is not None and hits:
        lines.append(f"matched {len(hits)} time(s):")
        lines += [f"  {_summary(e)}" for e in hits[:10]]
    lines.append(f"arrived: {len(entries)} candidate(s)" + (":" if entries else ""))
    lines += [f"  {_summary(e)}" for e in list(entries)[-10:]]
    if len(entries) > 10:
        lines.insert(-10, f"  … {len(entries) - 10} earlier ones not shown")
    if best is not None and not hits:
        lines.append(f"nearest miss: #{best[1].get('id', '?')} {best[2]}")
    raise AssertionError("\n".join(lines))


def _judge(
    entry: dict[str, Any],
    type_: str | None,
    text: str | None,
    body: Any,
    where: Callable[[dict[str, Any]], bool] | None,
) -> tuple[str | None, int]:
    score = 0
    if type_ is not None:
        types = _types_of(entry)
        if not type_matches(type_, types):
            return f"has type {', '.join(types) or 'none'}, not {type_!r}", score
        score += 10
    if text is not None:
        texts = messages(entry.get("body"))
        if text not in texts:
            close = texts[0] if texts else None
            if close is None:
                return "carries no text message", score
            return f"differs at text: expected {_short(text)}, got {_short(close)}", score + 5
        score += 10
    if body is not None:
        miss = compare(body, entry.get("body"), "$.body")
        if miss is not None:
            return miss.describe(), score + miss.score
        score += 10
    if where is not None and not where(entry):
        return "fails the `where` predicate", score
    return None, score
