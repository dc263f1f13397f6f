"""Token service: mints and verifies the three JWT families of LiveEngage.

* AppJWT (Sentinel, ``client_credentials``): ``aud`` account, ``azp`` client_id,
  ``scope`` ``msg.consumer``, ``iss`` ``Sentinel``, ``iat``, ``exp`` (protocol.md §2.1).
* ConsumerJWS (IDP ``/consumer``): ``account_id``, ``ext_consumer_id``, ``lp_consumer_id``
  (a 64-hex id derived from account and ext id, so it is stable across runs) (§2.2).
* Signup JWT (IDP ``/signup``): ``sub`` (UUID consumer id), ``aud`` ``acc:<account>``,
  ``iss``, ``iat``, ``exp`` (§2.3).
* Agent bearer (Login Service ``/login``): 64 hex characters, like the documented example; it
  goes unencoded into the agent socket's path (protocol.md §9.1). Not a JWT: it is valid only
  while this process remembers it.

The JWTs are real RS256 JWTs. Every token minted here is remembered, so verifying one is a
dictionary lookup plus an expiry check; a token that is not remembered (a tampered one, or
one minted by an earlier process with the same key) is verified cryptographically.
Expiry is judged against the injected clock, and :meth:`TokenService.expire` revokes
tokens on demand, so no test has to wait for a token to expire.
"""

from __future__ import annotations

import enum
import hashlib
import threading
from dataclasses import dataclass, field
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from mockle.core.clock import Clock, Ids

APPJWT_KID = "appjwt-13-05-17"
SIGNUP_KID = "00001"
SENTINEL_ISSUER = "Sentinel"
IDP_ISSUER = "https://idp.liveperson.net"


class TokenKind(enum.Enum):
    APP = "AppJWT"
    CONSUMER_JWS = "ConsumerJWS"
    SIGNUP = "signup JWT"
    AGENT = "agent bearer"


APP_JWT, CONSUMER_JWS = TokenKind.APP, TokenKind.CONSUMER_JWS  # for hot paths (see keyenum.py)


@dataclass(slots=True)
class TokenInfo:
    """What a verified token says."""

    kind: TokenKind
    account: str
    subject: str  # client_id for AppJWT, the consumer id otherwise
    claims: dict[str, Any]
    expires_ms: int | None
    ext_id: str | None = None
    revoked: bool = field(default=False)


class TokenInvalid(Exception):
    """The token cannot be used; the message says why."""


_KEY_LOCK = threading.Lock()
_DEFAULT_KEY: rsa.RSAPrivateKey | None = None


def default_key() -> rsa.RSAPrivateKey:
    """The process-wide signing key, generated once (keeps fixtures fast)."""
    global _DEFAULT_KEY
    with _KEY_LOCK:
        if _DEFAULT_KEY is None:
            _DEFAULT_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        return _DEFAULT_KEY


def load_key(pem: bytes) -> rsa.RSAPrivateKey:
    key = serialization.load_pem_private_key(pem, password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("the signing key must be an RSA private key")
    return key


def token_from_header(
    value: str | None, schemes: tuple[str, ...] = ("jwt", "bearer")
) -> str | None:
    """The token of an ``Authorization``-style header value: ``<scheme> <token>`` for one of
    ``schemes`` (any case), or the bare token; ``None`` when nothing is left.

    The one place that strips a token's prefix: the Connector API takes ``Bearer`` (its
    AppJWT may come with it or bare), the UMS socket also ``jwt`` (protocol.md §3.1)."""
    if value is None:
        return None
    value = value.strip()
    head, _, rest = value.partition(" ")
    if rest and head.lower() in schemes:
        value = rest.strip()
    return value or None


def lp_consumer_id(account: str, ext_consumer_id: str) -> str:
    """The stable 64-hex consumer id of an external consumer id on an account."""
    return hashlib.sha256(f"{account}\x00{ext_consumer_id}".encode()).hexdigest()


class TokenService:
    def __init__(self, clock: Clock, ids: Ids, key: rsa.RSAPrivateKey | None = None) -> None:
        self._clock = clock
        self._ids = ids
        self._key = key or default_key()
        self._public = self._key.public_key()
        self._issued: dict[str, TokenInfo] = {}

    # -- minting -------------------------------------------------------------------------

    def _mint(self, claims: dict[str, Any], kid: str, info: TokenInfo) -> str:
        token = jwt.encode(claims, self._key, algorithm="RS256", headers={"kid": kid})
        self._issued[token] = info
        return token

    def mint_app_jwt(self, account: str, client_id: str, ttl_s: int) -> str:
        iat = self._clock.now_ms() // 1000
        claims = {
            "aud": account,
            "azp": client_id,
            "scope": "msg.consumer",
            "iss": SENTINEL_ISSUER,
            "exp": iat + ttl_s,
            "iat": iat,
            "jti": self._ids.uuid(),
        }
        info = TokenInfo(TokenKind.APP, account, client_id, claims, (iat + ttl_s) * 1000)
        return self._mint(claims, APPJWT_KID, info)

    def mint_consumer_jws(self, account: str, ext_id: str, ttl_s: int | None) -> str:
        iat = self._clock.now_ms() // 1000
        consumer = lp_consumer_id(account, ext_id)
        claims: dict[str, Any] = {
            "account_id": account,
            "ext_consumer_id": ext_id,
            "lp_consumer_id": consumer,
            "iat": iat,
            "jti": self._ids.uuid(),
        }
        expires = None
        if ttl_s:
            claims["exp"] = iat + ttl_s
            expires = (iat + ttl_s) * 1000
        info = TokenInfo(TokenKind.CONSUMER_JWS, account, consumer, claims, expires, ext_id)
        return self._mint(claims, APPJWT_KID, info)

    def mint_signup(self, account: str, ttl_s: int) -> str:
        iat = self._clock.now_ms() // 1000
        sub = self._ids.uuid()
        claims = {
            "sub": sub,
            "aud": f"acc:{account}",
            "iss": IDP_ISSUER,
            "exp": iat + ttl_s,
            "iat": iat,
        }
        info = TokenInfo(TokenKind.SIGNUP, account, sub, claims, (iat + ttl_s) * 1000)
        return self._mint(claims, SIGNUP_KID, info)

    def mint_agent_bearer(
        self, account: str, agent_pid: str, ttl_s: int, claims: dict[str, Any] | None = None
    ) -> TokenInfo:
        """A Login Service bearer for an agent (its :class:`TokenInfo`; the token is
        ``info.claims["bearer"]``)."""
        token = self._ids.hex(32)
        now = self._clock.now_ms()
        info = TokenInfo(
            TokenKind.AGENT,
            account,
            agent_pid,
            {**(claims or {}), "bearer": token, "iat": now // 1000},
            now + ttl_s * 1000,
        )
        self._issued[token] = info
        return info

    # -- verifying -----------------------------------------------------------------------

    def issued(self, token: str) -> bool:
        """Whether this process minted ``token`` (or verified it before)."""
        return token in self._issued

    def minted(self, token: str) -> TokenInfo | None:
        """What this process minted ``token`` as, unverified (expired and revoked ones too):
        to route a fault to its holder, never to authenticate."""
        return self._issued.get(token)

    def verify(self, token: str) -> TokenInfo:
        """The token's :class:`TokenInfo`, or :class:`TokenInvalid` saying why not."""
        info = self._issued.get(token)
        if info is None:
            info = self._verify_foreign(token)
        if info.revoked:
            raise TokenInvalid("the token has expired")
        if info.expires_ms is not None and self._clock.now_ms() >= info.expires_ms:
            raise TokenInvalid("the token has expired")
        return info

    def verify_header(self, value: str, schemes: tuple[str, ...]) -> TokenInfo:
        """:meth:`verify` of the token an ``Authorization``-style header value carries
        (:func:`token_from_header`; nothing left is refused as not a JWT)."""
        # The common case without token_from_header's work: a bare token this process
        # remembers. A remembered token is one it minted or one whose signature verified
        # (PyJWT refuses a token with whitespace anywhere), so it holds no whitespace and
        # token_from_header would give it back unchanged (tests/core/test_tokens.py).
        if value not in self._issued:
            value = token_from_header(value, schemes) or ""
        return self.verify(value)

    def _verify_foreign(self, token: str) -> TokenInfo:
        if not token.isascii():  # a JWT is base64url and dots; PyJWT would raise on surrogates
            raise TokenInvalid("not a valid JWT: it holds characters outside ASCII")
        try:
            claims = jwt.decode(
                token,
                self._public,
                algorithms=["RS256"],
                options={"verify_exp": False, "verify_aud": False, "verify_iat": False},
            )
        except jwt.InvalidSignatureError:
            raise TokenInvalid("the signature does not verify") from None
        except jwt.PyJWTError as exc:
            raise TokenInvalid(f"not a valid JWT: {exc}") from None
        info = _classify(claims)
        self._issued[token] = info
        return info

    def expire(self, account: str, consumer_id: str | None = None) -> list[TokenInfo]:
        """Revoke every token issued so far on ``account`` (or to one consumer of it)."""
        hit = []
        for info in self._issued.values():
            if info.account != account or info.revoked:
                continue
            if consumer_id is not None and info.subject != consumer_id:
                continue
            info.revoked = True
            hit.append(info)
        return hit

    def forget_account(self, account: str | None = None) -> None:
        """Drop remembered tokens (control API reset); they then verify cryptographically."""
        if account is None:
            self._issued.clear()
            return
        for token in [t for t, i in self._issued.items() if i.account == account]:
            del self._issued[token]

    def public_pem(self) -> bytes:
        return self._public.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )


def _classify(claims: dict[str, Any]) -> TokenInfo:
    exp = claims.get("exp")
    expires = int(exp) * 1000 if isinstance(exp, int | float) else None
    if "lp_consumer_id" in claims:
        account = str(claims.get("account_id", ""))
        consumer = str(claims["lp_consumer_id"])
        ext = str(claims.get("ext_consumer_id", ""))
        return TokenInfo(TokenKind.CONSUMER_JWS, account, consumer, claims, expires, ext)
    aud = claims.get("aud")
    if isinstance(aud, str) and aud.startswith("acc:") and "sub" in claims:
        return TokenInfo(TokenKind.SIGNUP, aud[4:], str(claims["sub"]), claims, expires)
    if "azp" in claims:
        account = aud if isinstance(aud, str) else ""
        return TokenInfo(TokenKind.APP, account, str(claims["azp"]), claims, expires)
    raise TokenInvalid("the token carries none of the expected claims")
