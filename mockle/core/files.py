"""File sharing storage: the ``swift`` temp URLs of GenerateURLForUploadFile/DownloadFile.

A generated URL is ``/v1/AUTH_async-images/<account>/<file>`` with ``temp_url_sig`` (an HMAC of
the path and the expiry with a per-process secret) and ``temp_url_expires`` (epoch seconds, one
minute by default, as the docs say). ``PUT`` with a valid URL stores up to 3 MB and answers
201; ``GET`` with a valid URL returns the bytes; anything else is the documented
``401 Temp URL invalid`` (connector-api.md §3.2 h).
"""

from __future__ import annotations

import hashlib
import hmac

from mockle.core import errors
from mockle.core.clock import Clock

PREFIX = "/v1/AUTH_async-images/"
MAX_FILE_BYTES = 3 * 1024 * 1024


def temp_url_invalid(why: str) -> errors.AuthError:
    return errors.AuthError(f"Temp URL invalid ({why})", title="Unauthorized", error_code=40100)


class FileStore:
    def __init__(self, clock: Clock, secret: bytes, ttl_s: int) -> None:
        self._clock = clock
        self._secret = secret
        self.ttl_s = ttl_s
        self._files: dict[str, bytes] = {}

    def _sig(self, path: str, expires: str) -> str:
        return hmac.new(self._secret, f"{path}\n{expires}".encode(), hashlib.sha1).hexdigest()

    def params(self, path: str) -> dict[str, str]:
        """Fresh ``queryParams`` for ``path``."""
        expires = str(self._clock.now_ms() // 1000 + self.ttl_s)
        return {"temp_url_sig": self._sig(path, expires), "temp_url_expires": expires}

    def _why_invalid(self, path: str, sig: str, expires: str) -> str | None:
        if not expires.isdigit():
            return "temp_url_expires is missing or not a number"
        if not hmac.compare_digest(self._sig(path, expires), sig):
            return "temp_url_sig does not match the path and expiry"
        if self._clock.now_ms() // 1000 > int(expires):
            return "the URL has expired"
        return None

    def _check(self, path: str, sig: str, expires: str) -> None:
        why = self._why_invalid(path, sig, expires)
        if why is not None:
            raise temp_url_invalid(why)

    def put(self, path: str, sig: str, expires: str, data: bytes) -> None:
        self._check(path, sig, expires)
        if len(data) > MAX_FILE_BYTES:
            raise errors.PayloadTooLarge(f"the file has {len(data)} bytes; the limit is 3 MB")
        self._files[path] = data

    def get(self, path: str, sig: str, expires: str) -> bytes:
        self._check(path, sig, expires)
        data = self._files.get(path)
        if data is None:
            raise errors.NotFound(f"no file was uploaded to {path}")
        return data

    def exists(self, path: str) -> bool:
        return path in self._files

    def reset(self, account: str | None = None) -> None:
        if account is None:
            self._files.clear()
            return
        for path in [p for p in self._files if p.startswith(f"{PREFIX}{account}/")]:
            del self._files[path]
