"""The JSON Schemas under ``schemas/`` and their loader ``mockle.core.schemas``.

Documented example payloads live as data under ``tests/examples/``:

* ``requests/*.json`` -- what clients send (protocol.md §11.1-11.2, connector-api.md §3.2, ...);
* ``outbound/*.json`` -- what the real service answers / pushes (protocol.md §6, §11;
  connector-api.md §4.3, §4.8, ...).

Each file is ``{"source", "schema", "payload"}``; for a CONVERSATION batch ``schema`` is a list
(one schema per item). A documented example that mockle deliberately does not accept carries
``"invalid": {"where", "details", "why"}`` and must fail exactly there.
"""

from __future__ import annotations

import json
import pathlib
import re
from collections.abc import Iterator
from typing import Any

import pytest
from jsonschema import Draft7Validator

from mockle.core.errors import InvalidPayload, InvalidRequest
from mockle.core.schemas import ID_PREFIX, SchemaSet, schemas_dir

EXAMPLES = pathlib.Path(__file__).resolve().parent.parent / "examples"
REQUEST_EXAMPLES = sorted((EXAMPLES / "requests").glob("*.json"))
OUTBOUND_EXAMPLES = sorted((EXAMPLES / "outbound").glob("*.json"))
SCHEMA_FILES = sorted(schemas_dir().rglob("*.json"))

CONVERSATION_ID = "8602832d-dce1-446b-8445-0d51f5926a42"
_PLACEHOLDER = re.compile(r"^(\{\{?\w+\}?\}|__\w+__)$")

# The names the engine loads (the brief's list); each must exist.
REQUEST_SCHEMAS = [
    "infra/initConnection.json",
    "infra/getClock.json",
    "infra/keepAlive.json",
    "cm/consumerRequestConversation.json",
    "cm/updateConversationField.json",
    "ms/publishEvent.json",
    "ms/subscribeMessagingEvents.json",
    "ms/queryMessages.json",
    "ms/generateURLForUploadFile.json",
    "ms/generateURLForDownloadFile.json",
    "aam/subscribeExConversations.json",
    "aam/unsubscribeExConversations.json",
    "userprofile/setUserProfile.json",
    "userprofile/getUserProfile.json",
]
OTHER_INBOUND = [
    "infra/request.json",
    "infra/metadata.json",
    "infra/clientProperties.json",
    "userprofile/sde.json",
    "ms/events/event.json",
    "ms/events/contentEvent.json",
    "ms/events/richContentEvent.json",
    "ms/events/chatStateEvent.json",
    "ms/events/acceptStatusEvent.json",
    "identity/consumerJwsRequest.json",
    "control/appInstallation.json",
]
OUTBOUND_SCHEMAS = [
    "connector/restItem.json",
    "connector/conversationResponse.json",
    "connector/errorResp.json",
    "identity/appJwtResponse.json",
    "identity/consumerJwsResponse.json",
    "identity/signupResponse.json",
    "csds/baseURIs.json",
    "csds/baseURI.json",
    "ws/resp.json",
    "ws/notification.json",
    "cm/requestConversationResponse.json",
    "ms/publishEventResponse.json",
    "infra/stringResp.json",
    "infra/genericSubscribeResp.json",
    "aam/subscribeExConversationsResponse.json",
    "ms/generateURLResponse.json",
    "infra/getClockResponse.json",
    "ms/messagingEventNotification.json",
    "aam/exConversationChangeNotification.json",
    "ms/onlineEventDistribution.json",
]


@pytest.fixture(scope="module")
def schemas() -> SchemaSet:
    return SchemaSet.default()


def _load(path: pathlib.Path) -> dict[str, Any]:
    doc = json.loads(path.read_text(encoding="utf-8"))
    assert isinstance(doc, dict)
    return doc


def _fill(value: Any) -> Any:
    """Replace whole-string placeholders (``{conversationId}``, ``__YOUR_CONVERSATION_ID__``)."""
    if isinstance(value, str):
        return CONVERSATION_ID if _PLACEHOLDER.match(value) else value
    if isinstance(value, list):
        return [_fill(item) for item in value]
    if isinstance(value, dict):
        return {key: _fill(item) for key, item in value.items()}
    return value


def _cases(doc: dict[str, Any]) -> Iterator[tuple[str, Any, str]]:
    """``(schema, payload, prefix)`` for a single payload or each item of a batch."""
    schema, payload = doc["schema"], _fill(doc["payload"])
    if isinstance(schema, list):
        assert isinstance(payload, list) and len(payload) == len(schema)
        for index, (name, item) in enumerate(zip(schema, payload, strict=True)):
            yield name, item, f"$[{index}]"
    else:
        yield schema, payload, "$"


def _walk(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value)


def _check_example(schemas: SchemaSet, path: pathlib.Path) -> None:
    doc = _load(path)
    assert doc["source"], f"{path.name} names no source"
    invalid = doc.get("invalid")
    for name, payload, prefix in _cases(doc):
        if invalid is None:
            schemas.validate(name, payload, prefix=prefix)
            assert schemas.is_valid(name, payload)
            assert schemas.errors(name, payload) == []
        else:
            with pytest.raises(InvalidPayload) as caught:
                schemas.validate(name, payload, prefix=prefix)
            assert caught.value.where == invalid["where"]
            assert invalid["details"] in caught.value.details
            assert invalid["why"]
            assert not schemas.is_valid(name, payload)


# -- the schema files ----------------------------------------------------------------


def test_there_are_schema_files() -> None:
    assert schemas_dir().is_dir()
    assert len(SCHEMA_FILES) >= len(REQUEST_SCHEMAS) + len(OUTBOUND_SCHEMAS)


@pytest.mark.parametrize(
    "path", SCHEMA_FILES, ids=lambda p: p.relative_to(schemas_dir()).as_posix()
)
def test_schema_file_is_draft7_with_matching_id(path: pathlib.Path) -> None:
    doc = _load(path)
    name = path.relative_to(schemas_dir()).as_posix()
    Draft7Validator.check_schema(doc)
    assert doc["$schema"] == "http://json-schema.org/draft-07/schema#"
    assert doc["$id"] == ID_PREFIX + name
    assert isinstance(doc["title"], str) and doc["title"]
    assert isinstance(doc["description"], str) and doc["description"]
    if name in REQUEST_SCHEMAS + OTHER_INBOUND + OUTBOUND_SCHEMAS:
        assert "§" in doc["description"], f"{name}: description names no documented source"
    for node in _walk(doc):
        ref = node.get("$ref")
        if isinstance(ref, str):
            assert "://" not in ref, f"{name}: non-relative $ref {ref}"


@pytest.mark.parametrize("name", REQUEST_SCHEMAS + OTHER_INBOUND + OUTBOUND_SCHEMAS)
def test_documented_schema_exists(schemas: SchemaSet, name: str) -> None:
    assert name in schemas.names()
    assert schemas.schema(name)["$id"] == ID_PREFIX + name


@pytest.mark.parametrize("name", REQUEST_SCHEMAS + OTHER_INBOUND)
def test_inbound_schemas_never_forbid_extra_fields(schemas: SchemaSet, name: str) -> None:
    for node in _walk(schemas.schema(name)):
        assert node.get("additionalProperties") is not False, name


@pytest.mark.parametrize("name", REQUEST_SCHEMAS)
def test_request_schemas_extend_the_envelope(schemas: SchemaSet, name: str) -> None:
    first = schemas.schema(name)["allOf"][0]
    assert first["$ref"].endswith("request.json")


def test_sources_md_lists_every_file(schemas: SchemaSet) -> None:
    sources = (schemas_dir() / "SOURCES.md").read_text(encoding="utf-8")
    for name in schemas.names():
        assert f"`{name}`" in sources, f"SOURCES.md does not mention {name}"


def test_every_file_compiles_in_both_tiers(schemas: SchemaSet) -> None:
    schemas.compile_all()
    assert sorted(schemas.names()) == schemas.names()


# -- documented examples -------------------------------------------------------------


def test_there_are_examples() -> None:
    assert len(REQUEST_EXAMPLES) >= 40
    assert len(OUTBOUND_EXAMPLES) >= 30
    ids = {path.stem for path in REQUEST_EXAMPLES}
    wanted = {f"W{n}" for n in range(1, 29) if n not in (18, 25)} | {"W25-1", "W25-2"}
    wanted |= {"S1-1", "S1-2", "S1-3", "S2-1", "S2-2", "S2-3", "S4-1", "S4-2"}
    wanted |= {f"CA-{x}" for x in ("a", "b1", "b2", "c", "d", "e-1", "e-2", "f", "g", "i")}
    wanted |= {"CA-h3", "CA-h5", "CA-h6"}
    assert wanted <= ids, sorted(wanted - ids)


@pytest.mark.parametrize("path", REQUEST_EXAMPLES, ids=lambda p: p.stem)
def test_request_example(schemas: SchemaSet, path: pathlib.Path) -> None:
    _check_example(schemas, path)


@pytest.mark.parametrize("path", OUTBOUND_EXAMPLES, ids=lambda p: p.stem)
def test_outbound_example(schemas: SchemaSet, path: pathlib.Path) -> None:
    _check_example(schemas, path)


@pytest.mark.parametrize("name", REQUEST_SCHEMAS + OUTBOUND_SCHEMAS)
def test_every_schema_has_an_example(name: str) -> None:
    used: set[str] = set()
    for path in REQUEST_EXAMPLES + OUTBOUND_EXAMPLES:
        schema = _load(path)["schema"]
        used.update(schema if isinstance(schema, list) else [schema])
    if name in ("ws/resp.json", "ws/notification.json"):
        return  # envelopes, exercised through every response / notification schema
    assert name in used


# -- negative cases ------------------------------------------------------------------


def _publish(event: dict[str, Any], **body: Any) -> dict[str, Any]:
    return {
        "kind": "req",
        "id": "7",
        "type": "ms.PublishEvent",
        "body": {"dialogId": CONVERSATION_ID, "event": event, **body},
    }


def _fails(schemas: SchemaSet, name: str, doc: object, *, prefix: str = "$") -> InvalidPayload:
    with pytest.raises(InvalidPayload) as caught:
        schemas.validate(name, doc, prefix=prefix)
    assert not schemas.is_valid(name, doc)
    assert isinstance(caught.value, InvalidRequest)
    return caught.value


TEXT = {"type": "ContentEvent", "contentType": "text/plain", "message": "hi"}


def test_missing_dialog_id(schemas: SchemaSet) -> None:
    doc = _publish(TEXT)
    del doc["body"]["dialogId"]
    error = _fails(schemas, "ms/publishEvent.json", doc)
    assert error.where == "$.body"
    assert error.details == "'dialogId' is a required property"
    assert error.message == "$.body: 'dialogId' is a required property"


def test_missing_event(schemas: SchemaSet) -> None:
    doc = _publish(TEXT)
    del doc["body"]["event"]
    error = _fails(schemas, "ms/publishEvent.json", doc)
    assert (error.where, error.details) == ("$.body", "'event' is a required property")


def test_missing_body(schemas: SchemaSet) -> None:
    error = _fails(schemas, "ms/publishEvent.json", {"id": 1, "type": "ms.PublishEvent"})
    assert (error.where, error.details) == ("$", "'body' is a required property")


def test_text_message_must_be_a_string(schemas: SchemaSet) -> None:
    error = _fails(schemas, "ms/publishEvent.json", _publish({**TEXT, "message": 123}))
    assert error.where == "$.body.event.message"
    assert error.details == "123 is not of type 'string'"


def test_message_without_content_type_is_text(schemas: SchemaSet) -> None:
    schemas.validate("ms/publishEvent.json", _publish({"type": "ContentEvent", "message": "x"}))
    error = _fails(
        schemas, "ms/publishEvent.json", _publish({"type": "ContentEvent", "message": {}})
    )
    assert error.where == "$.body.event.message"


def test_content_event_needs_a_message(schemas: SchemaSet) -> None:
    event = {"type": "ContentEvent", "contentType": "text/plain"}
    error = _fails(schemas, "ms/publishEvent.json", _publish(event))
    assert (error.where, error.details) == ("$.body.event", "'message' is a required property")


def test_hosted_file_needs_relative_path_and_file_type(schemas: SchemaSet) -> None:
    event = {
        "type": "ContentEvent",
        "contentType": "hosted/file",
        "message": {"relativePath": "/x"},
    }
    error = _fails(schemas, "ms/publishEvent.json", _publish(event))
    assert (error.where, error.details) == (
        "$.body.event.message",
        "'fileType' is a required property",
    )
    event["message"] = "a string"
    error = _fails(schemas, "ms/publishEvent.json", _publish(event))
    assert error.where == "$.body.event.message"
    assert "is not of type 'object'" in error.details


def test_other_content_types_accept_any_message(schemas: SchemaSet) -> None:
    event = {
        "type": "ContentEvent",
        "contentType": "forms/secure-invitation",
        "message": {"invitationId": "91bd", "title": "sample"},
    }
    schemas.validate("ms/publishEvent.json", _publish(event))


def test_unknown_event_type_fails_naming_it(schemas: SchemaSet) -> None:
    error = _fails(schemas, "ms/publishEvent.json", _publish({"type": "PresenceEvent"}))
    assert error.where == "$.body.event.type"
    assert "'PresenceEvent'" in error.details
    assert "is not one of" in error.details


def test_event_without_type(schemas: SchemaSet) -> None:
    error = _fails(schemas, "ms/publishEvent.json", _publish({"chatState": "ACTIVE"}))
    assert (error.where, error.details) == ("$.body.event", "'type' is a required property")


def test_sequence_list_with_a_string(schemas: SchemaSet) -> None:
    event = {"type": "AcceptStatusEvent", "status": "READ", "sequenceList": [1, "2"]}
    error = _fails(schemas, "ms/publishEvent.json", _publish(event))
    assert error.where == "$.body.event.sequenceList[1]"
    assert error.details == "'2' is not of type 'integer'"


def test_sequence_list_bare_string(schemas: SchemaSet) -> None:
    event = {"type": "AcceptStatusEvent", "status": "READ", "sequenceList": "2"}
    error = _fails(schemas, "ms/publishEvent.json", _publish(event))
    assert error.where == "$.body.event.sequenceList"
    assert error.details == "'2' is not of type 'array' or 'integer'"


def test_sequence_list_negative(schemas: SchemaSet) -> None:
    event = {"type": "AcceptStatusEvent", "status": "READ", "sequenceList": [-1]}
    error = _fails(schemas, "ms/publishEvent.json", _publish(event))
    assert error.where == "$.body.event.sequenceList[0]"


def test_accept_status_needs_status_and_sequence_list(schemas: SchemaSet) -> None:
    error = _fails(schemas, "ms/publishEvent.json", _publish({"type": "AcceptStatusEvent"}))
    assert error.where == "$.body.event"
    assert "is a required property" in error.details


def test_chat_state_must_be_a_string(schemas: SchemaSet) -> None:
    event = {"type": "ChatStateEvent", "chatState": 3}
    error = _fails(schemas, "ms/publishEvent.json", _publish(event))
    assert (error.where, error.details) == ("$.body.event.chatState", "3 is not of type 'string'")


def test_rich_content_needs_content_or_message(schemas: SchemaSet) -> None:
    error = _fails(schemas, "ms/publishEvent.json", _publish({"type": "RichContentEvent"}))
    assert error.where == "$.body.event"
    assert error.details == "one of 'content' or 'message' is a required property"
    content = {"type": "vertical", "elements": [{"type": "text", "text": "hi"}]}
    for key in ("content", "message"):
        schemas.validate(
            "ms/publishEvent.json", _publish({"type": "RichContentEvent", key: content})
        )


def test_prefix_replaces_the_root(schemas: SchemaSet) -> None:
    event = {"type": "AcceptStatusEvent", "status": "READ", "sequenceList": ["1"]}
    error = _fails(schemas, "ms/publishEvent.json", _publish(event), prefix="$[1]")
    assert error.where == "$[1].body.event.sequenceList[0]"


def test_request_must_be_an_object_with_a_type(schemas: SchemaSet) -> None:
    error = _fails(schemas, "infra/request.json", [1])
    assert (error.where, error.details) == ("$", "[1] is not of type 'object'")
    error = _fails(schemas, "infra/request.json", {"id": "1"})
    assert (error.where, error.details) == ("$", "'type' is a required property")
    error = _fails(schemas, "infra/request.json", {"id": "", "type": "GetClock"})
    assert error.where == "$.id"
    error = _fails(schemas, "infra/request.json", {"id": 1.5, "type": "GetClock"})
    assert error.where == "$.id"


def test_update_conversation_field_variants(schemas: SchemaSet) -> None:
    name = "cm/updateConversationField.json"

    def ucf(field: object) -> dict[str, Any]:
        body = {"conversationId": CONVERSATION_ID, "conversationField": field}
        return {"id": "1", "type": "cm.UpdateConversationField", "body": body}

    error = _fails(schemas, name, ucf({"field": "CSATRate", "csatRate": 7}))
    assert error.where == "$.body.conversationField.csatRate"
    error = _fails(schemas, name, ucf([{"field": "TTRField", "ttrType": "URGENT"}]))
    assert (error.where, error.details) == (
        "$.body.conversationField[0]",
        "'value' is a required property",
    )
    error = _fails(schemas, name, ucf({"field": "DialogChange", "dialog": {}}))
    assert error.where == "$.body.conversationField.dialog"
    error = _fails(schemas, name, ucf({"conversationState": "CLOSE"}))
    assert (error.where, error.details) == (
        "$.body.conversationField",
        "'field' is a required property",
    )
    error = _fails(schemas, name, ucf({"field": "Skill", "type": "UPDATE"}))
    assert error.details == "'skill' is a required property"
    error = _fails(schemas, name, ucf({"field": "ParticipantsChange", "type": "ADD"}))
    assert error.details == "'role' is a required property"
    error = _fails(schemas, name, ucf({"field": "ManualETTR", "time": "now"}))
    assert error.where == "$.body.conversationField.time"
    error = _fails(schemas, name, ucf("CLOSE"))
    assert error.details == "'CLOSE' is not of type 'array' or 'object'"
    # undocumented field kinds and informational values pass
    schemas.validate(name, ucf({"field": "Note", "note": "x"}))
    schemas.validate(name, ucf({"field": "ConversationStateField", "conversationState": "LOCKED"}))
    schemas.validate(name, ucf({"field": "Skill", "type": "UPDATE", "skill": 12345}))


def test_other_request_requirements(schemas: SchemaSet) -> None:
    error = _fails(
        schemas,
        "ms/subscribeMessagingEvents.json",
        {
            "id": "1",
            "type": "ms.SubscribeMessagingEvents",
            "body": {"dialogId": "d", "fromSeq": -1},
        },
    )
    assert error.where == "$.body.fromSeq"
    error = _fails(
        schemas,
        "aam/unsubscribeExConversations.json",
        {"id": "1", "type": "cqm.UnsubscribeExConversations", "body": {"subscriptionId": "x" * 65}},
    )
    assert error.where == "$.body.subscriptionId"
    error = _fails(
        schemas,
        "ms/generateURLForUploadFile.json",
        {
            "id": "1",
            "type": "ms.GenerateURLForUploadFile",
            "body": {"fileSize": "1kB", "fileType": "PNG"},
        },
    )
    assert error.where == "$.body.fileSize"
    long_jwt = {"type": ".ams.headers.ConsumerAuthentication", "jwt": "x" * 2049}
    error = _fails(
        schemas, "infra/initConnection.json", {"type": "InitConnection", "headers": [long_jwt]}
    )
    assert error.where == "$.headers[0].jwt"
    assert error.details.endswith("is too long")
    assert len(error.details) < 200
    error = _fails(schemas, "infra/initConnection.json", {"type": "InitConnection"})
    assert error.details == "'headers' is a required property"
    error = _fails(schemas, "identity/consumerJwsRequest.json", {"ext_consumer_id": ""})
    assert error.where == "$.ext_consumer_id"


def test_app_installation(schemas: SchemaSet) -> None:
    name = "control/appInstallation.json"
    app: dict[str, Any] = {
        "account": "12345678",
        "client_name": "local",
        "client_id": "id",
        "client_secret": "secret",
        "enabled": True,
        "capabilities": {
            "webhooks": {
                "ms.MessagingEventNotification.ContentEvent": {
                    "endpoint": "http://127.0.0.1:9000/hook?x=1",
                    "max_retries": 0,
                    "headers": [{"header_name": "X-A", "header_value": "1"}],
                },
                "retry": {"retention_time": 2},
            }
        },
    }
    schemas.validate(name, app)
    hooks = app["capabilities"]["webhooks"]
    hooks["retry"]["retention_time"] = 259201
    assert _fails(schemas, name, app).where == "$.capabilities.webhooks.retry.retention_time"
    hooks["retry"]["retention_time"] = 60
    hooks["ms.MessagingEventNotification.ContentEvent"]["max_retries"] = 6
    error = _fails(schemas, name, app)
    assert (
        error.where
        == "$.capabilities.webhooks['ms.MessagingEventNotification.ContentEvent'].max_retries"
    )
    hooks["ms.MessagingEventNotification.ContentEvent"] = {"endpoint": "ftp://x"}
    assert _fails(schemas, name, app).where.endswith(".endpoint")
    hooks["ms.MessagingEventNotification.ContentEvent"] = {"headers": []}
    assert _fails(schemas, name, app).details == "'endpoint' is a required property"
    assert _fails(schemas, name, {"client_name": "x"}).details == "'account' is a required property"


# -- tolerance -----------------------------------------------------------------------


def test_unknown_informational_values_validate(schemas: SchemaSet) -> None:
    name = "ms/publishEvent.json"
    schemas.validate(name, _publish({"type": "ChatStateEvent", "chatState": "DAYDREAMING"}))
    event = {"type": "AcceptStatusEvent", "status": "SMILED", "sequenceList": [0]}
    schemas.validate(name, _publish(event))
    file_event = {
        "type": "ContentEvent",
        "contentType": "hosted/file",
        "message": {"relativePath": "/x.WEBP", "fileType": "WEBP"},
    }
    schemas.validate(name, _publish(file_event))
    init = {
        "type": "InitConnection",
        "headers": [
            {
                "type": ".ams.headers.ClientProperties",
                "deviceFamily": "WATCH",
                "os": "TIZEN",
                "features": ["TELEPATHY"],
            },
            {"type": ".ams.headers.SomethingNew", "x": 1},
        ],
    }
    schemas.validate("infra/initConnection.json", init)
    body = {"minLastUpdatedTime": 0, "convState": ["LOCKED", "ARCHIVED"]}
    schemas.validate(
        "aam/subscribeExConversations.json",
        {"id": 1, "type": "cqm.SubscribeExConversations", "body": body},
    )
    metadata = [
        {"type": "SomethingNew", "whatever": [1]},
        {"type": "ExternalId", "id": "MY_CARD_ID"},
    ]
    schemas.validate(name, {**_publish(TEXT), "metadata": metadata})


def test_unknown_fields_validate(schemas: SchemaSet) -> None:
    doc = _publish({**TEXT, "future": True}, future={"x": 1})
    doc["future"] = [1, 2]
    schemas.validate("ms/publishEvent.json", doc)


def test_bare_elements_validate_where_arrays_are_expected(schemas: SchemaSet) -> None:
    event = {"type": "AcceptStatusEvent", "status": "ACCEPT", "sequenceList": 4}
    schemas.validate("ms/publishEvent.json", _publish(event))
    schemas.validate(
        "ms/publishEvent.json",
        {**_publish(TEXT), "metadata": {"type": "ExternalId", "id": "MY_CARD_ID"}},
    )
    schemas.validate(
        "cm/updateConversationField.json",
        {
            "id": "1",
            "type": "cm.UpdateConversationField",
            "body": {
                "conversationId": "c",
                "conversationField": {
                    "field": "ConversationStateField",
                    "conversationState": "CLOSE",
                },
            },
        },
    )
    schemas.validate(
        "aam/subscribeExConversations.json",
        {
            "id": "1",
            "type": "cqm.SubscribeExConversations",
            "body": {"convState": "OPEN", "stage": "OPEN", "agentIds": ""},
        },
    )
    schemas.validate(
        "infra/initConnection.json",
        {
            "type": "InitConnection",
            "headers": {"type": ".ams.headers.ConsumerAuthentication", "jwt": "a.b.c"},
        },
    )
    schemas.validate(
        "infra/clientProperties.json", {"type": ".ClientProperties", "features": "AUTO_MESSAGES"}
    )
    sde = {"type": "personal", "personal": {"firstname": "John", "contacts": {"email": "a@b.c"}}}
    schemas.validate(
        "userprofile/setUserProfile.json",
        {
            "id": "1,",
            "type": "userprofile.SetUserProfile",
            "body": {"authenticatedData": {"lp_sdes": sde}},
        },
    )
    context = {"type": "SharkContext", "features": "MULTI_DIALOG"}
    schemas.validate(
        "cm/consumerRequestConversation.json",
        {
            "id": 1,
            "type": "cm.ConsumerRequestConversation",
            "body": {"conversationContext": context},
        },
    )


def test_optional_bodies(schemas: SchemaSet) -> None:
    for name, kind in [
        ("cm/consumerRequestConversation.json", "cm.ConsumerRequestConversation"),
        ("infra/getClock.json", ".GetClock"),
        ("infra/keepAlive.json", "KeepAlive"),
        ("userprofile/getUserProfile.json", "userprofile.GetUserProfile"),
        ("userprofile/setUserProfile.json", "userprofile.SetUserProfile"),
        ("aam/subscribeExConversations.json", "cqm.SubscribeExConversations"),
    ]:
        schemas.validate(name, {"id": 1, "type": kind})
    for name in (
        "ms/publishEvent.json",
        "ms/subscribeMessagingEvents.json",
        "ms/queryMessages.json",
        "cm/updateConversationField.json",
        "aam/unsubscribeExConversations.json",
        "ms/generateURLForUploadFile.json",
        "ms/generateURLForDownloadFile.json",
    ):
        error = _fails(schemas, name, {"id": 1, "type": "x"})
        assert (error.where, error.details) == ("$", "'body' is a required property")


def test_ids_may_be_strings_or_numbers(schemas: SchemaSet) -> None:
    body = {
        "brandId": 12345678,
        "skillId": -1,
        "campaignInfo": {"campaignId": "1", "engagementId": 2},
        "conversationContext": {"interactionContextId": 2, "clientProperties": {"appId": "x"}},
    }
    for request_id in (1, "1,", "0"):
        schemas.validate(
            "cm/consumerRequestConversation.json",
            {
                "kind": "req",
                "id": request_id,
                "type": "cm.ConsumerRequestConversation",
                "body": body,
            },
        )


# -- outbound strictness -------------------------------------------------------------


def _change(**fields: Any) -> dict[str, Any]:
    change = {
        "originatorId": "a",
        "originatorMetadata": {"id": "a", "role": "CONSUMER"},
        "dialogId": CONVERSATION_ID,
        "conversationId": CONVERSATION_ID,
    }
    change.update(fields)
    return {
        "kind": "notification",
        "type": "ms.MessagingEventNotification",
        "body": {"changes": [change]},
    }


def test_messaging_event_notification_sequence_rules(schemas: SchemaSet) -> None:
    name = "ms/messagingEventNotification.json"
    typing = {"type": "ChatStateEvent", "chatState": "COMPOSING"}
    schemas.validate(name, _change(event=typing))
    error = _fails(schemas, name, _change(event=typing, sequence=3))
    assert (error.where, error.details) == (
        "$.body.changes[0].sequence",
        "'sequence' must not be present",
    )
    error = _fails(schemas, name, _change(event=TEXT, serverTimestamp=1))
    assert (error.where, error.details) == (
        "$.body.changes[0]",
        "'sequence' is a required property",
    )
    schemas.validate(name, _change(event=TEXT, sequence=0, serverTimestamp=1, metadata=None))
    error = _fails(
        schemas, name, _change(event=TEXT, sequence=0, serverTimestamp=1, messageAudience="X")
    )
    assert error.where == "$.body.changes[0].messageAudience"


def test_rest_items_are_exact(schemas: SchemaSet) -> None:
    name = "connector/restItem.json"
    schemas.validate(name, {"reqId": "1,", "code": "OK", "body": {"msg": "x"}})
    assert _fails(schemas, name, {"reqId": "1", "code": 200, "body": {}}).where == "$.code"
    assert not schemas.is_valid(name, {"reqId": 1, "code": "OK", "body": {}})
    assert not schemas.is_valid(name, {"reqId": "1", "code": "OK", "body": {}, "kind": "resp"})


def test_responses_need_a_string_req_id(schemas: SchemaSet) -> None:
    resp = {"kind": "resp", "reqId": 1, "code": 200, "body": {}, "type": "GenericSubscribeResponse"}
    assert _fails(schemas, "infra/genericSubscribeResp.json", resp).where == "$.reqId"
    resp["reqId"] = "1"
    resp["type"] = "SomethingElse"
    assert _fails(schemas, "infra/genericSubscribeResp.json", resp).where == "$.type"


# -- the loader ----------------------------------------------------------------------


def test_default_is_a_singleton(schemas: SchemaSet) -> None:
    assert SchemaSet.default() is schemas
    assert schemas.directory == schemas_dir().resolve()


def test_names_are_relative_posix_paths(schemas: SchemaSet) -> None:
    names = schemas.names()
    assert "ms/publishEvent.json" in names
    assert names == sorted(names)
    assert all(not name.startswith("/") and name.endswith(".json") for name in names)
    assert len(names) == len(SCHEMA_FILES)


def test_unknown_schema_name(schemas: SchemaSet) -> None:
    with pytest.raises(KeyError):
        schemas.schema("nope.json")
    with pytest.raises(KeyError):
        schemas.validate("nope.json", {})


def test_validators_compile_once(schemas: SchemaSet) -> None:
    doc = _publish(TEXT)
    schemas.validate("ms/publishEvent.json", doc)
    first = schemas._fast["ms/publishEvent.json"]
    schemas.validate("ms/publishEvent.json", doc)
    assert schemas._fast["ms/publishEvent.json"] is first


def test_validation_does_not_mutate(schemas: SchemaSet) -> None:
    doc = _publish(TEXT)
    snapshot = json.dumps(doc, sort_keys=True)
    schemas.validate("ms/publishEvent.json", doc)
    assert json.dumps(doc, sort_keys=True) == snapshot
    before = json.dumps(schemas.schema("ms/publishEvent.json"), sort_keys=True)
    schemas.compile_all()
    assert json.dumps(schemas.schema("ms/publishEvent.json"), sort_keys=True) == before


def test_remote_refs_are_refused(tmp_path: pathlib.Path) -> None:
    doc = {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "$id": ID_PREFIX + "x.json",
        "title": "x",
        "description": "x",
        "$ref": "https://example.invalid/schema.json",
    }
    (tmp_path / "x.json").write_text(json.dumps(doc), encoding="utf-8")
    local = SchemaSet(tmp_path)
    with pytest.raises(Exception, match="no network|Unresolvable"):
        local.is_valid("x.json", {})


def test_mismatched_id_is_rejected(tmp_path: pathlib.Path) -> None:
    doc = {"$schema": "http://json-schema.org/draft-07/schema#", "$id": ID_PREFIX + "other.json"}
    (tmp_path / "x.json").write_text(json.dumps(doc), encoding="utf-8")
    with pytest.raises(ValueError, match=r"\$id"):
        SchemaSet(tmp_path)


def test_the_reference_decides_when_the_tiers_disagree(monkeypatch: pytest.MonkeyPatch) -> None:
    """jsonschema is the reference: what it accepts is accepted even if the Rust tier refused."""
    local = SchemaSet(schemas_dir())
    lenient = Draft7Validator({})
    monkeypatch.setattr(local, "_slow_validator", lambda name: lenient)
    doc = _publish({"type": "Foo"})
    local.validate("ms/publishEvent.json", doc)
    assert local.is_valid("ms/publishEvent.json", doc)


def test_integers_beyond_64_bits_are_judged_by_the_reference(schemas: SchemaSet) -> None:
    doc = _publish({"type": "AcceptStatusEvent", "status": "READ", "sequenceList": [2**70]})
    schemas.validate("ms/publishEvent.json", doc)
    bad = _publish({"type": "AcceptStatusEvent", "status": "READ", "sequenceList": [-(2**70)]})
    assert _fails(schemas, "ms/publishEvent.json", bad).where.startswith(
        "$.body.event.sequenceList"
    )
