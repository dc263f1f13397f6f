"""Reading untrusted JSON: one parser for request bodies, frames and JSON-valued headers.

orjson reads up to 1024 levels of nesting but writes at most 255, and mockle echoes what it
stores (metadata, conversation context, client properties) a few levels down inside
notifications, webhooks and control API answers. A document nested deeper than
:data:`MAX_DEPTH` is therefore refused when it arrives, rather than failing later where no
client can be told why. The depth walk runs only when the raw text holds more than
:data:`MAX_DEPTH` brackets, so ordinary requests pay one ``bytes.count`` per bracket kind, and
a text too short to hold that many pairs not even those.
"""

from __future__ import annotations

from typing import Any

import orjson
import yaml

from mockle.core import errors

MAX_DEPTH = 100
"""Deepest nesting of arrays and objects accepted (no documented payload comes near it)."""


def load_json(raw: bytes | str, what: str = "body") -> Any:
    """Parse ``raw``; :class:`~mockle.core.errors.InvalidRequest` if it is not JSON or too deep."""
    try:
        doc = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise errors.InvalidRequest(f"the {what} is not valid JSON: {exc}", where="$") from None
    if too_deep(doc, raw):
        raise errors.InvalidRequest(
            f"the {what} nests arrays and objects more than {MAX_DEPTH} levels deep", where="$"
        )
    return doc


# Nesting deeper than MAX_DEPTH takes MAX_DEPTH + 1 opening brackets and as many closing
# ones: a shorter text (most requests) cannot, and is not even counted.
_SHORTEST_TOO_DEEP = 2 * (MAX_DEPTH + 1)


def too_deep(doc: Any, raw: bytes | str | None = None) -> bool:
    """Whether ``doc`` nests more than :data:`MAX_DEPTH` levels (``raw``: its text, a hint)."""
    if raw is not None and (len(raw) < _SHORTEST_TOO_DEEP or _brackets(raw) <= MAX_DEPTH):
        return False
    if not isinstance(doc, dict | list):
        return False
    stack: list[tuple[Any, int]] = [(doc, 1)]
    while stack:
        node, depth = stack.pop()
        children = node.values() if isinstance(node, dict) else node
        if depth > MAX_DEPTH:
            return True
        stack.extend((c, depth + 1) for c in children if isinstance(c, dict | list))
    return False


def _brackets(raw: bytes | str) -> int:
    if isinstance(raw, bytes):
        return raw.count(b"[") + raw.count(b"{")
    return raw.count("[") + raw.count("{")


def load_json_or_yaml(raw: bytes | str) -> Any:
    """A configuration document (an agent script, a manifest, agent definitions): JSON, or
    else YAML; :class:`~mockle.core.errors.InvalidPayload` when it is neither."""
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        try:
            return yaml.safe_load(raw)
        except yaml.YAMLError as exc:
            raise errors.InvalidPayload(f"neither JSON nor YAML: {exc}", where="$") from None
