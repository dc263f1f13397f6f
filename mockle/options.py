"""What each option of :class:`mockle.settings.Settings` allows, in words, and one line per bad
value: the messages of ``mockle serve`` (flag, variable, value, what is allowed) and of the
pytest plugin's ``@pytest.mark.mockle(...)``."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

import annotated_types
from pydantic import ValidationError

from mockle.settings import Settings

_ALLOWED = {
    "rate_limit": "a number of requests per second above 0, as N or N/s (e.g. 2 or 2/s)",
    "host": "an address to bind, e.g. 127.0.0.1 or 0.0.0.0",
    "public_address": "host:port",
}


def _bounds(metadata: list[Any]) -> str:
    low: Any = None
    high: Any = None
    low_open = False
    for m in metadata:
        if isinstance(m, annotated_types.Ge):
            low = m.ge
        elif isinstance(m, annotated_types.Gt):
            low, low_open = m.gt, True
        elif isinstance(m, annotated_types.Le):
            high = m.le
    if low is not None and high is not None:
        return f" from {low} to {high}"
    if low is not None:
        return f" above {low}" if low_open else f" of {low} or more"
    return ""


def allowed(name: str) -> str:
    """What option ``name`` accepts, in words (``an integer from 0 to 65535``)."""
    if name in _ALLOWED:
        return _ALLOWED[name]
    field = Settings.model_fields[name]
    kind = field.annotation
    if get_origin(kind) is Literal:
        return "one of " + ", ".join(repr(a) for a in get_args(kind))
    if get_origin(kind) is list:
        item = _allowed_item(get_args(kind)[0])
        return f"{item} (repeat the flag; in the variable a JSON array or values separated by ':')"
    return _allowed_item(kind, field.metadata)


def _allowed_item(kind: Any, metadata: list[Any] | None = None) -> str:
    options = [a for a in get_args(kind) if a is not type(None)]
    if options:  # X | None
        kind = options[0]
    if kind is bool:
        return "true or false (also 1/0, yes/no, on/off)"
    if kind is int:
        return "an integer" + _bounds(metadata or [])
    if kind is float:
        return "a number" + _bounds(metadata or [])
    if kind is Path:
        return "a file path"
    return "text"


def option_errors(
    exc: ValidationError, given: Mapping[str, Any], name_of: Callable[[str], str]
) -> list[str]:
    """One line per bad option: who set it (``name_of(option)``), the value, what is allowed."""
    lines: list[str] = []
    seen: set[str] = set()
    for error in exc.errors():
        name = str((error.get("loc") or ("?",))[0])
        if name in seen:
            continue
        seen.add(name)
        if name not in Settings.model_fields:
            lines.append(f"{name_of(name)}: no such option")
            continue
        value = given.get(name, error.get("input"))
        lines.append(f"{name_of(name)} is {_shown(value)}; allowed: {allowed(name)}")
    return lines


def _shown(value: Any) -> str:
    if isinstance(value, list) and len(value) == 1:
        value = value[0]
    return repr(str(value)) if isinstance(value, Path) else repr(value)
