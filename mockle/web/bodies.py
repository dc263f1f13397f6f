"""Reading the JSON bodies of the control API: one parser, one way to say what is wrong.

Bodies go through :func:`mockle.core.jsondoc.load_json` (so a document nested too deep to be
written back is refused on arrival) and, where a pydantic model describes them, through the
model; every failure is an :class:`~mockle.core.errors.InvalidRequest` naming the JSON path.
"""

from __future__ import annotations

from typing import Any, TypeVar

from aiohttp import web
from pydantic import BaseModel, ValidationError

from mockle.core import errors
from mockle.core.jsondoc import load_json
from mockle.web.app import error_response

M = TypeVar("M", bound=BaseModel)


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
        first = exc.errors()[0]
        where = "$" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in first["loc"])
        msg = "unknown field" if first["type"] == "extra_forbidden" else first["msg"]
        raise errors.InvalidRequest(msg, where=where) from None


def error_of(exc: errors.MockleError) -> web.Response:
    """A core error as the control API answers it (the ``.ReqBody$ErrorResp`` envelope)."""
    return error_response(exc.http_status, exc.title, exc.details, exc.where, exc.error_code)
