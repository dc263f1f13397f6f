"""TokenService.verify_header: the same answer and the same remembered tokens as
verify(token_from_header(...)), whatever the header value holds."""

from __future__ import annotations

import contextlib

import pytest

from mockle.core.clock import FakeClock, Ids
from mockle.core.tokens import TokenInfo, TokenInvalid, TokenService, token_from_header

ACCOUNT = "le12345678"
BEARER = ("bearer",)


def _outcome(svc: TokenService, how: str, value: str) -> tuple[str, object]:
    try:
        if how == "header":
            info: TokenInfo = svc.verify_header(value, BEARER)
        else:
            info = svc.verify(token_from_header(value, BEARER) or "")
    except TokenInvalid as exc:
        return "refused", str(exc)
    return "ok", (info.kind, info.account, info.subject, info.claims)


@pytest.mark.parametrize("foreign", [False, True])
@pytest.mark.parametrize(
    "shape",
    ["{t}", "Bearer {t}", "bearer   {t}", " {t} ", "{t}\n", "\t{t}", "Bearer", "", "   ", "x {t}"],
)
def test_verify_header_is_verify_of_token_from_header(foreign: bool, shape: str) -> None:
    key = TokenService(FakeClock(), Ids(0))._key
    results, remembered = [], []
    for how in ("header", "plain"):
        # the same seed and clock mint the same token: each way gets a service of its own
        minter = TokenService(FakeClock(), Ids(1), key=key)
        token = minter.mint_consumer_jws(ACCOUNT, "ext-1", 0)
        svc = minter
        if foreign:  # minted by an earlier process with the same key, and seen once as a
            svc = TokenService(FakeClock(), Ids(2), key=key)  # socket may pass it: unstripped
            with contextlib.suppress(TokenInvalid):  # (PyJWT refuses it: nothing remembered)
                svc.verify(token + "\n")
        results.append(_outcome(svc, how, shape.format(t=token)))
        remembered.append((svc.issued(token), svc.issued(token + "\n")))
    assert results[0] == results[1]
    assert remembered[0] == remembered[1]


def test_verify_header_refuses_a_revoked_token() -> None:
    svc = TokenService(FakeClock(), Ids(1))
    token = svc.mint_app_jwt(ACCOUNT, "client-1", 3600)
    svc.expire(ACCOUNT)
    with pytest.raises(TokenInvalid, match="expired"):
        svc.verify_header(token, BEARER)


@pytest.mark.parametrize("space", [" ", "\t", "\n", "\r", "\x0b", "\x0c", "\x1f"])
def test_a_token_with_whitespace_is_never_remembered(space: str) -> None:
    """What verify_header's shortcut rests on: a foreign token verifies only as it was
    signed, so no remembered token holds whitespace."""
    key = TokenService(FakeClock(), Ids(0))._key
    token = TokenService(FakeClock(), Ids(1), key=key).mint_app_jwt(ACCOUNT, "client-1", 3600)
    svc = TokenService(FakeClock(), Ids(2), key=key)
    for value in (token + space, space + token, token[:40] + space + token[40:]):
        with pytest.raises(TokenInvalid):
            svc.verify(value)
        assert not svc.issued(value)
    assert svc.verify(token).account == ACCOUNT
