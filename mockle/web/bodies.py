"""Reading request bodies: the raw body of a LiveEngage REST call (size-limited, cut-short
bodies answered 400), the public host:port handed out, and the JSON bodies of the control API:
one parser, one way to say what is wrong.

Bodies go through :func:`mockle.core.jsondoc.load_json` (so a document nested too deep to be
written back is refused on arrival) and, where a pydantic model describes them, through the
model; every failure is an :class:`~mockle.core.errors.InvalidRequest` naming the JSON path.
"""

from __future__ import annotations

from typing import Any, TypeVar

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from pydantic import BaseModel, ValidationError

from mockle.core import errors
from mockle.core.jsondoc import load_json
from mockle.web.responses import error_response, too_large

M = TypeVar("M", bound=BaseModel)


async def read_raw(request: web.Request, limit: int) -> bytes | web.Response:
    """The body, or the answer to give instead (413 above ``limit``, 400 if it was cut short)."""
    declared = request.content_length
    if declared is not None and declared > limit:  # answer now, without waiting for the body
        return too_large(limit)
    try:
        return await request.read()
    except web.HTTPRequestEntityTooLarge:
        return too_large(limit)
    except (ConnectionError, HttpProcessingError) as exc:  # cut short or malformed framing
        return error_response(400, "Bad Request", f"the body did not arrive whole: {exc}")


def public_base(request: web.Request, public_address: str | None) -> str | web.Response:
    """The host:port CSDS and the Login Service hand out (``--public-address``, else the Host
    the client used), or a 400 if the Host header is not UTF-8."""
    base = public_address or request.host
    try:
        base.encode("utf-8")  # header bytes that are not UTF-8 arrive as surrogates
    except UnicodeEncodeError:
        return error_response(400, "Bad Request", "the Host header is not valid UTF-8")
    return base


async def read_json(request: web.Request, *, optional: bool = False) -> Any:
    """The body as JSON; ``{}`` for an empty body when ``optional``."""
    raw = await request.read()
    if not raw.strip():
        if optional:
            return {}
        raise errors.InvalidRequest(
            "the request body is empty; a JSON object is expected", where="$"
        )
    return load_json(raw)


async def read_model(request: web.Request, model: type[M], *, optional: bool = False) -> M:
    """The body as a JSON object validated by ``model``."""
    doc = await read_json(request, optional=optional)
    if not isinstance(doc, dict):
        raise errors.InvalidRequest("the body must be a JSON object", where="$")
    try:
        return model.model_validate(doc)
    except ValidationError as exc:
        raise errors.invalid_fields(exc) from None


def query_number(
    request: web.Request,
    name: str,
    default: float | None = None,
    *,
    high: float | None = None,
    integer: bool = False,
) -> Any:
    """A non-negative number from the query string (``default`` when absent), at most ``high``;
    :class:`~mockle.core.errors.InvalidRequest` naming the parameter otherwise."""
    raw = request.query.get(name)
    if raw is None or raw == "":
        return default
    kind = "an integer" if integer else "a number"
    allowed = f"{kind} from 0 to {high:g}" if high is not None else f"{kind}, 0 or more"
    try:
        value: float = int(raw) if integer else float(raw)
    except ValueError:
        value = -1
    if not (0 <= value and (high is None or value <= high)):
        raise errors.InvalidRequest(
            f"query parameter {name!r} must be {allowed}, got {raw!r}", where=f"$.query.{name}"
        )
    return value
