"""The JSON Schemas of mockle: load, compile once, validate.

Every documented request / response / notification shape lives once, as a draft-07 JSON
Schema file under ``schemas/`` (see ``schemas/SOURCES.md``). Each file has an ``$id`` of the
form ``https://mockle.local/schemas/<relative path>`` and refers to the others with relative
``$ref``s, which are always resolved from local files -- never over the network.

Validation is two-tier, for speed on the hot path:

* every schema is compiled once per process with :mod:`jsonschema_rs` (lazily, on first
  use; a Rust validator: a valid request costs about a microsecond);
* only when that rejects the document is it re-validated with :mod:`jsonschema`
  (a :class:`~jsonschema.Draft7Validator` built once per schema, over a
  :class:`referencing.Registry` of every file), whose
  :func:`~jsonschema.exceptions.best_match` gives a plain-words message and a JSON path.

The failure is raised as :class:`~mockle.core.errors.InvalidPayload` with ``details`` = the
message and ``where`` = the JSON path (``$.body.event.message``).
"""

from __future__ import annotations

import copy
import heapq
import json
import pathlib
import threading
from collections.abc import Iterable
from typing import Any, ClassVar

import jsonschema.exceptions
import jsonschema_rs
import referencing
import referencing.jsonschema
from jsonschema import Draft7Validator

from mockle.core.errors import InvalidPayload

__all__ = ["ID_PREFIX", "SchemaSet", "schemas_dir"]

ID_PREFIX = "https://mockle.local/schemas/"
"""The ``$id`` of ``schemas/<name>`` is ``ID_PREFIX + name``."""

_MAX_REPR = 120
"""Longest rendering of an offending value inside a message."""

_FastValidator = Any  # a jsonschema_rs validator (``is_valid``)


def schemas_dir() -> pathlib.Path:
    """The directory holding the schema files.

    The copy packaged inside ``mockle/schemas/`` (present in an installed wheel) wins;
    otherwise the repository's ``schemas/`` next to the package.
    """
    package = pathlib.Path(__file__).resolve().parent.parent
    packaged = package / "schemas"
    if packaged.is_dir():
        return packaged
    return package.parent / "schemas"


def _short(value: object) -> str:
    text = repr(value)
    if len(text) > _MAX_REPR:
        text = text[: _MAX_REPR - 3] + "..."
    return text


def _quote_list(items: list[str]) -> str:
    quoted = [repr(item) for item in items]
    if len(quoted) == 1:
        return quoted[0]
    return ", ".join(quoted[:-1]) + " or " + quoted[-1]


def _describe_alternatives(error: jsonschema.exceptions.ValidationError) -> str:
    """Explain an ``anyOf`` / ``oneOf`` failure whose branches all fail at the same place."""
    here = [sub for sub in error.context if len(sub.relative_path) == 0]
    if here and len(here) == len(error.context):
        kinds = {sub.validator for sub in here}
        if kinds == {"type"}:
            types: list[str] = []
            for sub in here:
                value = sub.validator_value
                for name in value if isinstance(value, list) else [value]:
                    if name not in types:
                        types.append(str(name))
            return f"{_short(error.instance)} is not of type {_quote_list(types)}"
        if kinds == {"required"}:
            missing: list[str] = []
            for sub in here:
                required: Any = sub.validator_value
                present: Any = sub.instance
                for name in required:
                    if name not in missing and name not in present:
                        missing.append(str(name))
            return f"one of {_quote_list(missing)} is a required property"
    return f"{_short(error.instance)} does not match any of the accepted shapes"


def _describe(error: jsonschema.exceptions.ValidationError) -> str:
    """A plain-words message for one jsonschema error, with long values abbreviated."""
    validator = error.validator
    instance = error.instance
    if validator in ("anyOf", "oneOf"):
        return _describe_alternatives(error)
    if validator == "not":
        last = error.path[-1] if error.path else None
        if error.validator_value == {} and isinstance(last, str):
            return f"{last!r} must not be present"
        return f"{_short(instance)} is not allowed here"
    message = error.message
    if len(message) > 2 * _MAX_REPR + 40:
        # jsonschema embeds the whole instance in some messages; keep them readable.
        message = message.replace(repr(instance), _short(instance))
    return message


def _best_error(
    errors: Iterable[jsonschema.exceptions.ValidationError],
) -> jsonschema.exceptions.ValidationError | None:
    """:func:`~jsonschema.exceptions.best_match`, then look inside unresolved alternatives.

    ``best_match`` stops at an ``anyOf`` / ``oneOf`` whose branches fail equally deep, e.g. a
    bare element checked against ``{"anyOf": [{"type": "array", ...}, X]}``. When some
    branches fail only because the value has another JSON type, the error is in the branches
    the value does fit: descend into those, deepest error first.
    """
    best: jsonschema.exceptions.ValidationError | None
    best = jsonschema.exceptions.best_match(errors)
    while best is not None and best.validator in ("anyOf", "oneOf") and best.context:
        fitting = [
            sub for sub in best.context if not (sub.validator == "type" and not sub.relative_path)
        ]
        if not fitting or len(fitting) == len(best.context):
            break
        deepest = heapq.nsmallest(1, fitting, key=jsonschema.exceptions.relevance)
        best = jsonschema.exceptions.best_match(deepest)
    return best


class SchemaSet:
    """The schema files of one directory, compiled on first use, each exactly once."""

    _default: ClassVar[SchemaSet | None] = None
    _default_lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, directory: pathlib.Path | None = None) -> None:
        self._dir = (directory or schemas_dir()).resolve()
        if not self._dir.is_dir():
            raise FileNotFoundError(f"schema directory not found: {self._dir}")
        self._docs: dict[str, dict[str, Any]] = {}
        for path in sorted(self._dir.rglob("*.json")):
            name = path.relative_to(self._dir).as_posix()
            with path.open(encoding="utf-8") as handle:
                doc = json.load(handle)
            if not isinstance(doc, dict):
                raise ValueError(f"schema {name} is not a JSON object")
            expected = ID_PREFIX + name
            if doc.get("$id") != expected:
                raise ValueError(f"schema {name} has $id {doc.get('$id')!r}, expected {expected!r}")
            self._docs[name] = doc
        self._registry: referencing.Registry[Any] = referencing.Registry().with_resources(
            (doc["$id"], referencing.Resource.from_contents(doc)) for doc in self._docs.values()
        )
        self._fast: dict[str, _FastValidator] = {}
        self._slow: dict[str, Draft7Validator] = {}
        self._lock = threading.Lock()

    @classmethod
    def default(cls) -> SchemaSet:
        """The process-wide set over :func:`schemas_dir`, built on the first call."""
        if cls._default is None:
            with cls._default_lock:
                if cls._default is None:
                    cls._default = cls()
        return cls._default

    @property
    def directory(self) -> pathlib.Path:
        return self._dir

    def names(self) -> list[str]:
        """Relative paths of every schema, e.g. ``"ms/publishEvent.json"``, sorted."""
        return list(self._docs)

    def schema(self, name: str) -> dict[str, Any]:
        """The parsed schema ``name`` (shared: do not mutate it)."""
        try:
            return self._docs[name]
        except KeyError:
            raise KeyError(f"unknown schema {name!r}") from None

    # -- compilation -----------------------------------------------------------------

    def _load_uri(self, uri: str) -> dict[str, Any]:
        """The retriever of ``$ref``s: serve ``https://mockle.local/schemas/...`` locally."""
        base = uri.split("#", 1)[0]
        if not base.startswith(ID_PREFIX):
            raise ValueError(f"refusing to resolve {uri!r}: only {ID_PREFIX}* is served")
        return copy.deepcopy(self.schema(base[len(ID_PREFIX) :]))

    def _fast_validator(self, name: str) -> _FastValidator:
        validator = self._fast.get(name)
        if validator is None:
            with self._lock:
                validator = self._fast.get(name)
                if validator is None:
                    validator = jsonschema_rs.validator_for(
                        self.schema(name), retriever=self._load_uri, validate_formats=False
                    )
                    self._fast[name] = validator
        return validator

    def _slow_validator(self, name: str) -> Draft7Validator:
        validator = self._slow.get(name)
        if validator is None:
            with self._lock:
                validator = self._slow.get(name)
                if validator is None:
                    validator = Draft7Validator(self.schema(name), registry=self._registry)
                    self._slow[name] = validator
        return validator

    def compile_all(self) -> None:
        """Compile every schema now (both tiers), e.g. at start-up."""
        for name in self._docs:
            self._fast_validator(name)
            self._slow_validator(name)

    # -- validation ------------------------------------------------------------------

    def is_valid(self, name: str, doc: object) -> bool:
        """True when ``doc`` conforms to schema ``name``."""
        try:
            if self._fast_validator(name).is_valid(doc):
                return True
        except (ValueError, TypeError, OverflowError):  # e.g. integers beyond 64 bits
            pass
        return _best_error(self._slow_validator(name).iter_errors(doc)) is None

    def validate(self, name: str, doc: object, *, prefix: str = "$") -> None:
        """Raise :class:`InvalidPayload` unless ``doc`` conforms to schema ``name``.

        ``where`` is the JSON path of the offending value, with its leading ``$`` replaced
        by ``prefix`` (e.g. ``"$[1]"`` for the second request of a batch).
        """
        fast = self._fast.get(name)  # compiled already (every call but the first): no call
        try:
            if fast is None:
                fast = self._fast_validator(name)
            if fast.is_valid(doc):
                return
        except (ValueError, TypeError, OverflowError):  # e.g. integers beyond 64 bits
            pass
        best = _best_error(self._slow_validator(name).iter_errors(doc))
        if best is not None:  # None: jsonschema, the reference, accepts what Rust refused
            raise InvalidPayload(_describe(best), where=prefix + best.json_path[1:])

    def errors(self, name: str, doc: object) -> list[tuple[str, str]]:
        """Every ``(json_path, message)`` jsonschema finds (for diagnostics and tests)."""
        found: Iterable[jsonschema.exceptions.ValidationError]
        found = self._slow_validator(name).iter_errors(doc)
        return [(error.json_path, _describe(error)) for error in found]
