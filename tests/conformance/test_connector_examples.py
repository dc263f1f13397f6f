"""Every documented Connector API request is replayed and gets its documented answer.

The payloads are the docs' own (tests/examples/requests/, collected from the seeds, protocol.md
and connector-api.md); placeholders are replaced with live values before the replay.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from mockle.core import connector
from mockle.core.engine import Engine
from mockle.core.schemas import SchemaSet
from tests.core.helpers import ACCOUNT, call, open_conversation, send, tokens

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "requests"
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")

BATCHES = ["S1-1", "S1-2", "S1-3", "S4-1", "CA-a", "CA-b1", "CA-b2", "CA-e-1", "CA-f", "CA-g"]
# SEND example -> what the documented answer's body looks like
SENDS = {
    "S2-1": {"sequence": 0},
    "S2-2": {"sequence": 0},
    "S2-3": {"sequence": 0},
    "S4-2": {"sequence": 0},
    "CA-d": {"sequence": 0},
    "CA-e-2": {"sequence": 0},
    "CA-i": {"sequence": 0},
    "CA-c": {"msg": "OK Conversation resolved successfully"},
}


def load(name: str) -> dict[str, Any]:
    return json.loads((EXAMPLES / f"{name}.json").read_text())  # type: ignore[no-any-return]


def fill(payload: Any, **values: str) -> Any:
    text = json.dumps(payload)
    text = text.replace("{accountid}", ACCOUNT)
    for key, value in values.items():
        text = text.replace("{{" + key + "}}", value).replace("{" + key + "}", value)
    return json.loads(text)


def test_every_connector_example_is_covered() -> None:
    names = {p.stem for p in EXAMPLES.glob("*.json")}
    replayed = set(BATCHES) | set(SENDS) | {"CA-h3", "CA-h5", "CA-h6", "CA-csat"}
    connector_examples = {n for n in names if n.startswith(("S1-", "S2-", "S4-", "CA-"))}
    connector_examples -= {"S4-header", "CA-consumerJws"} | {
        n for n in names if n.startswith("CA-manifest")
    }
    assert connector_examples <= replayed, connector_examples - replayed


@pytest.mark.parametrize("name", BATCHES)
def test_conversation_examples(engine: Engine, name: str) -> None:
    example = load(name)
    app, jws = tokens(engine)
    props = (
        '{ "type": ".ClientProperties", "features": ["AUTO_MESSAGES"] }'
        if name.startswith(("S4", "CA-e"))
        else None
    )
    reply, _ = connector.conversation(
        engine, call(engine, fill(example["payload"]), app=app, jws=jws, props=props)
    )
    assert reply.status == 200, reply.body
    SchemaSet.default().validate("connector/conversationResponse.json", reply.body)
    ids = [item["id"] for item in example["payload"]]
    assert [item["reqId"] for item in reply.body] == [str(i) for i in ids]
    assert reply.body[0] == {
        "reqId": str(ids[0]),
        "code": "OK",
        "body": {"msg": "OK User Profile set successfully"},
    }
    assert UUID.match(reply.body[1]["body"]["conversationId"])
    assert reply.body[1]["code"] == "OK"


@pytest.mark.parametrize("name", sorted(SENDS))
def test_send_examples(engine: Engine, name: str) -> None:
    app, jws, conv = open_conversation(engine)
    payload = fill(load(name)["payload"], conversationId=conv)
    reply, _ = send(engine, payload, app, jws)
    assert reply.status == 200, reply.body
    SchemaSet.default().validate("connector/restItem.json", reply.body)
    assert reply.body == {"reqId": str(payload["id"]), "code": "OK", "body": SENDS[name]}


def test_csat_example_after_close(engine: Engine) -> None:
    app, jws, conv = open_conversation(engine)
    send(engine, fill(load("CA-c")["payload"], conversationId=conv), app, jws)
    reply, _ = send(engine, fill(load("CA-csat")["payload"], conversationId=conv), app, jws)
    assert reply.status == 200 and reply.body["code"] == "OK" and reply.body["reqId"] == "5"


def test_file_sharing_examples_in_order(engine: Engine) -> None:
    """Upload URL -> publish the hosted file -> download URL (connector-api.md §3.2 h)."""
    app, jws, conv = open_conversation(engine)
    reply, _ = send(engine, fill(load("CA-h3")["payload"], conversationId=conv), app, jws)
    assert reply.status == 200 and reply.body["reqId"] == "3"
    SchemaSet.default().validate("connector/restItem.json", reply.body)
    path = reply.body["body"]["relativePath"]
    assert path.startswith(f"/v1/AUTH_async-images/{ACCOUNT}/") and path.endswith(".PNG")
    assert set(reply.body["body"]["queryParams"]) == {"temp_url_sig", "temp_url_expires"}
    publish = fill(
        load("CA-h5")["payload"], conversationId=conv, relativePath=path, imageData="iVBORw0KGgo="
    )
    reply, _ = send(engine, publish, app, jws)
    assert reply.body == {"reqId": "3", "code": "OK", "body": {"sequence": 0}}
    stored = engine.conversation(ACCOUNT, conv).main.events[0].change
    assert stored["event"]["contentType"] == "hosted/file"
    assert stored["event"]["message"]["relativePath"] == path
    reply, _ = send(
        engine, fill(load("CA-h6")["payload"], conversationId=conv, relativePath=path), app, jws
    )
    assert reply.status == 200 and reply.body["body"]["relativePath"] == path
