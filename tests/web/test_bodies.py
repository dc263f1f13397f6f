"""bodies.py: how a core error is answered over HTTP."""

from __future__ import annotations

import orjson

from mockle.core import errors
from mockle.web.responses import error_of


def test_a_core_error_keeps_its_own_status_error_code_and_path() -> None:
    resp = error_of(errors.invalid_consumer_jws("signature mismatch"))
    assert resp.status == 401
    assert isinstance(resp.body, bytes)
    doc = orjson.loads(resp.body)
    assert doc["type"] == ".ReqBody$ErrorResp" and doc["code"] == 401
    assert doc["body"]["errorCode"] == 40103
    assert doc["body"]["title"] == "Invalid ConsumerJWS"
    assert "signature mismatch" in doc["body"]["details"]


def test_an_error_without_a_code_of_its_own_gets_status_x_100_and_its_path() -> None:
    doc = orjson.loads(error_of(errors.InvalidRequest("bad", where="$.by")).body)  # type: ignore[arg-type]
    assert doc["code"] == 400 and doc["body"]["errorCode"] == 40000
    assert doc["body"]["path"] == "$.by"
