"""WebSocket close codes: which may be sent at all (RFC 6455 §7.4).

1004-1006 and 1015 are reserved for local use and never travel in a close frame, 1016-2999
are reserved for the protocol itself; 1000-1003, 1007-1014 and 3000-4999 (LiveEngage's 4401
and 4407 among them) may be sent.
"""

from __future__ import annotations

import enum


class CloseCode(enum.IntEnum):
    """The close codes mockle sends (protocol.md §3.3)."""

    IDLE = 1000  # normal closure: the socket was silent for --ws-idle-timeout
    GOING_AWAY = 1001  # server shutdown
    TRY_AGAIN_LATER = 1013  # the client reads too slowly (LivePerson's clients reconnect)
    FRESH_TOKEN = 4401  # a fresh token (or a new login) is needed
    EXTEND_IDENTITY = 4407  # an unauthenticated identity must be extended at the IDP


SENDABLE_BELOW_3000 = frozenset({1000, 1001, 1002, 1003, *range(1007, 1015)})


def sendable(code: int) -> bool:
    """Whether ``code`` may be sent in a close frame."""
    return code in SENDABLE_BELOW_3000 or 3000 <= code <= 4999


def check_sendable(code: int | None) -> int | None:
    """``code`` unchanged, or a :class:`ValueError` saying why it cannot be sent."""
    if code is not None and not sendable(code):
        raise ValueError(
            f"close code {code} cannot be sent in a close frame (RFC 6455): use 1000-1003, "
            "1007-1014 or 3000-4999"
        )
    return code
