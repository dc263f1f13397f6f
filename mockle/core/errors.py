"""Errors of the mockle core.

Every failure the core can report is a :class:`MockleError`. Each one carries its wire
identity, so the adapters render it without deciding anything:

* ``http_status`` -- the HTTP status a REST caller receives;
* ``ums_code``    -- the ``code`` of a UMS WebSocket ``resp`` frame;
* ``error_code``  -- the LiveEngage ``errorCode`` of a ``.ReqBody$ErrorResp`` envelope;
* ``title`` / ``details`` -- human text; ``where`` -- a JSON path into the request.

Tree::

    MockleError
    ├── AuthError (401)            AppJWT / ConsumerJWS problems: 40001, 40102..40105
    ├── InvalidRequest (400)       not JSON, wrong shape, schema violation, unknown type
    │   └── InvalidPayload         a schema violation with its JSON path
    ├── RequestFailed (400)        a valid request the state refuses (closed, already open);
    │                              rendered as a Connector API ``BAD_REQUEST`` item
    │   ├── ConversationNotFound (UMS 404)
    │   └── Forbidden (HTTP 401 / UMS 403)   another consumer's conversation
    ├── NotFound (404)             control API: unknown conversation, fault, ...
    ├── PayloadTooLarge (413)
    └── RateLimited (429)          carries ``retry_after`` seconds

:func:`invalid_fields` turns a pydantic validation error (a control API body, a fault spec)
into an :class:`InvalidRequest` at its JSON path.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pydantic import ValidationError


class MockleError(Exception):
    """Base of every error the core reports; see the module docstring."""

    http_status = 400
    ums_code = 400
    error_code = 40000
    title = "Bad Request"

    def __init__(
        self,
        details: str,
        *,
        where: str | None = None,
        title: str | None = None,
        error_code: int | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(details)
        self.details = details
        self.where = where
        # mockle's own explanation, beside the documented wording (the x-mockle-hint header,
        # the log line, the journal entry): what to change so that the request works
        self.hint = hint
        if title is not None:
            self.title = title
        if error_code is not None:
            self.error_code = error_code

    @property
    def message(self) -> str:
        """The details, prefixed with the JSON path when there is one."""
        return f"{self.where}: {self.details}" if self.where else self.details


class AuthError(MockleError):
    """An authentication failure of the Connector API (HTTP 401, documented errorCodes)."""

    http_status = 401
    ums_code = 401
    error_code = 40102
    title = "Unauthorized"


def app_jwt_missing() -> AuthError:
    return AuthError(
        "AUTHORIZATION header is not present", title="AppJWT is missing", error_code=40105
    )


def consumer_jws_missing() -> AuthError:
    return AuthError(
        "X_ON_BEHALF_HEADER is not present", title="ConsumerJWS is missing", error_code=40104
    )


def invalid_app_jwt(reason: str) -> AuthError:
    return AuthError(
        f"AppJWT has expired or is invalid ({reason})", title="Invalid AppJWT", error_code=40102
    )


def invalid_consumer_jws(reason: str) -> AuthError:
    return AuthError(
        f"ConsumerJWS is invalid ({reason})", title="Invalid ConsumerJWS", error_code=40103
    )


def missing_parameter(reason: str) -> AuthError:
    return AuthError(f"Brand Id is missing ({reason})", title="Missing parameter", error_code=40001)


class InvalidRequest(MockleError):
    """The request cannot be understood: not JSON, wrong shape, unknown type (400)."""


class InvalidPayload(InvalidRequest):
    """A schema violation; ``where`` is the JSON path of the offending value."""


class RequestFailed(MockleError):
    """A well-formed request that the current state refuses (400 ``BAD_REQUEST``)."""


CLOSED = "Bad Request, Conversation is close"  # the Connector API's own wording


def conversation_closed(conv_id: str, closed_by: str | None) -> RequestFailed:
    """The real service's refusal of a closed conversation; the hint names it and who closed
    it, which the documented wording does not."""
    by = f" by {closed_by}" if closed_by else ""
    return RequestFailed(
        CLOSED,
        hint=f"conversation {conv_id} was closed{by}; open a new one "
        "(CONVERSATION, or cm.ConsumerRequestConversation on the socket)",
    )


class ConversationNotFound(RequestFailed):
    ums_code = 404


class Forbidden(RequestFailed):
    """The caller is not a participant of the conversation it names."""

    http_status = 401
    ums_code = 403
    error_code = 40103
    title = "Invalid ConsumerJWS"


class NotFound(MockleError):
    http_status = 404
    ums_code = 404
    error_code = 40400
    title = "Not Found"


class PayloadTooLarge(MockleError):
    http_status = 413
    ums_code = 413
    error_code = 41300
    title = "Payload Too Large"


class RateLimited(MockleError):
    http_status = 429
    ums_code = 429
    error_code = 42900
    title = "Too Many Requests"

    def __init__(self, details: str, *, retry_after: int = 1, hint: str | None = None) -> None:
        super().__init__(details, hint=hint)
        self.retry_after = retry_after


def invalid_fields(
    exc: ValidationError, messages: Mapping[str, str] | None = None, prefix: str = "$"
) -> InvalidRequest:
    """The first error of a pydantic :class:`ValidationError` as an :class:`InvalidRequest`
    whose ``where`` is its JSON path (``$.match.type``, ``$.rules[0]``). ``messages`` replaces
    the text of errors by pydantic type (``extra_forbidden`` is "unknown field" by default)."""
    first = exc.errors()[0]
    where = prefix + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in first["loc"])
    texts = {"extra_forbidden": "unknown field", **(messages or {})}
    msg = texts.get(first["type"]) or str(first["msg"]).removeprefix("Value error, ")
    return InvalidRequest(msg, where=where)
