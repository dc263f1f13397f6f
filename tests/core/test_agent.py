"""The simulated agent in the core: echo steps, manual mode, scripts (FakeClock, no server)."""

from __future__ import annotations

import re
from typing import Any

import pytest

from mockle.core import connector, errors
from mockle.core.agent import SimulatedAgent
from mockle.core.agent_script import AgentScript, Rule, load_script, parse_script
from mockle.core.engine import Effects, Engine, Listener
from mockle.core.model import Conversation, Dialog, StoredEvent

from .helpers import ACCOUNT, batch, call, send, text, tokens

UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


class Recorder(Listener):
    """Everything the engine announces, in order: ("conv", participants) or ("event", change)."""

    def __init__(self) -> None:
        self.log: list[tuple[Any, ...]] = []

    def on_conversation(self, conv: Conversation, fx: Effects) -> None:
        self.log.append(("conv", [(p.role, p.id) for p in conv.participants], conv.stage))

    def on_event(self, conv: Conversation, dialog: Dialog, ev: StoredEvent, fx: Effects) -> None:
        self.log.append(("event", ev.change))

    def events(self) -> list[dict[str, Any]]:
        return [entry[1] for entry in self.log if entry[0] == "event"]


def run_later(fx: Effects, delays: list[int] | None = None) -> None:
    """Run scheduled steps the way the hub does: each one's own later steps after it."""
    queue = list(fx.later)
    while queue:
        later = queue.pop(0)
        if delays is not None:
            delays.append(later.delay_ms)
        inner = Effects()
        later.action(inner)
        queue.extend(inner.later)


def setup_agent(engine: Engine, **kwargs: Any) -> tuple[SimulatedAgent, Recorder]:
    agent = SimulatedAgent(engine, **{"mode": "echo", "delay_ms": 0, **kwargs})
    recorder = Recorder()
    engine.listeners += [agent, recorder]
    return agent, recorder


def open_conv(engine: Engine, ext: str = "ext-1") -> tuple[str, str, str]:
    app, jws = tokens(engine, ext)
    reply, _ = connector.conversation(engine, call(engine, batch(), app=app, jws=jws))
    assert reply.status == 200, reply.body
    return app, jws, reply.body[1]["body"]["conversationId"]


def say(engine: Engine, app: str, jws: str, conv: str, message: str) -> Effects:
    reply, fx = send(engine, text(conv, message), app, jws)
    assert reply.status == 200, reply.body
    return fx


def texts(recorder: Recorder) -> list[tuple[str, Any]]:
    """(role, what) per event: the text, the chat state or the READ list."""
    out = []
    for ch in recorder.events():
        ev = ch["event"]
        what = (
            ev.get("message") or ev.get("chatState") or (ev.get("status"), ev.get("sequenceList"))
        )
        out.append((ch["originatorMetadata"]["role"], what))
    return out


# -- echo --------------------------------------------------------------------------------------


def test_echo_joins_reads_types_and_answers(engine: Engine) -> None:
    agent, rec = setup_agent(engine, delay_ms=150)
    app, jws, conv = open_conv(engine)
    fx = say(engine, app, jws, conv, "Hello from Consumer")
    assert len(fx.later) == 1
    assert texts(rec) == [("CONSUMER", "Hello from Consumer")]  # nothing inside the consumer's call
    delays: list[int] = []
    run_later(fx, delays)
    assert delays == [150] * 5
    pid = agent.agent_pid(ACCOUNT)
    assert UUID.match(pid)
    a = engine.account(ACCOUNT).agents[pid]
    assert re.fullmatch(rf"{ACCOUNT}\.\d+", a.legacy_id)
    conv_changes = [e for e in rec.log if e[0] == "conv"]
    assert conv_changes[-1][1][0] == ("ASSIGNED_AGENT", pid)
    assert texts(rec) == [
        ("CONSUMER", "Hello from Consumer"),
        ("ASSIGNED_AGENT", ("READ", [0])),
        ("ASSIGNED_AGENT", "COMPOSING"),
        ("ASSIGNED_AGENT", "ACTIVE"),
        ("ASSIGNED_AGENT", "echo: Hello from Consumer"),
    ]
    events = rec.events()
    assert [e.get("sequence") for e in events] == [0, 1, None, None, 2]
    assert {e["originatorId"] for e in events[1:]} == {pid}
    # the join comes before the READ
    kinds = [e[0] for e in rec.log]
    assert kinds == ["conv", "event", "conv", "event", "event", "event", "event"]


def test_later_messages_are_read_and_echoed_without_a_second_join(engine: Engine) -> None:
    agent, rec = setup_agent(engine)
    app, jws, conv = open_conv(engine)
    run_later(say(engine, app, jws, conv, "one"))
    joins = sum(1 for e in rec.log if e[0] == "conv")
    run_later(say(engine, app, jws, conv, "two"))
    assert sum(1 for e in rec.log if e[0] == "conv") == joins
    assert texts(rec)[-4:] == [
        ("ASSIGNED_AGENT", ("READ", [3])),
        ("ASSIGNED_AGENT", "COMPOSING"),
        ("ASSIGNED_AGENT", "ACTIVE"),
        ("ASSIGNED_AGENT", "echo: two"),
    ]


def test_quick_messages_are_answered_one_after_another_never_interleaved(engine: Engine) -> None:
    agent, rec = setup_agent(engine)
    app, jws, conv = open_conv(engine)
    fx1 = say(engine, app, jws, conv, "first")
    fx2 = say(engine, app, jws, conv, "second")
    assert len(fx1.later) == 1 and fx2.later == []  # the second joined the running queue
    assert agent.pending == 10  # join, 4 steps; (join: a no-op by then), 4 steps
    run_later(fx1)
    assert agent.pending == 0
    assert [w for r, w in texts(rec) if r == "ASSIGNED_AGENT"] == [
        ("READ", [0]),
        "COMPOSING",
        "ACTIVE",
        "echo: first",
        ("READ", [1]),
        "COMPOSING",
        "ACTIVE",
        "echo: second",
    ]


def test_an_assigned_agent_answers_as_itself(engine: Engine) -> None:
    agent, rec = setup_agent(engine)
    app, jws, conv = open_conv(engine)
    human = engine.join_agent(engine.conversation(ACCOUNT, conv), Effects(), f"{ACCOUNT}.777")
    assert human.legacy_id == f"{ACCOUNT}.777"
    run_later(say(engine, app, jws, conv, "hi"))
    assert {e["originatorId"] for e in rec.events()[1:]} == {human.pid}


def test_files_and_rich_content_are_echoed_by_kind(engine: Engine) -> None:
    _, rec = setup_agent(engine)
    app, jws, conv = open_conv(engine)
    file_event = {
        "type": "ContentEvent",
        "contentType": "hosted/file",
        "message": {"caption": "logo", "relativePath": "/v1/x.PNG", "fileType": "PNG"},
    }
    req = {
        "kind": "req",
        "id": "1",
        "type": "ms.PublishEvent",
        "body": {"dialogId": conv, "event": file_event},
    }
    reply, fx = send(engine, req, app, jws)
    assert reply.status == 200, reply.body
    run_later(fx)
    assert texts(rec)[-1] == ("ASSIGNED_AGENT", "echo: logo")
    rich = {"type": "RichContentEvent", "content": {"type": "vertical", "elements": []}}
    req["body"] = {"dialogId": conv, "event": rich}
    reply, fx = send(engine, req, app, jws)
    assert reply.status == 200, reply.body
    run_later(fx)
    assert texts(rec)[-1] == ("ASSIGNED_AGENT", "echo: [RichContentEvent]")


def test_the_agent_ignores_chat_states_receipts_its_own_and_controller_messages(
    engine: Engine,
) -> None:
    agent, rec = setup_agent(engine)
    app, jws, conv = open_conv(engine)
    typing = {
        "kind": "req",
        "id": "1",
        "type": "ms.PublishEvent",
        "body": {"dialogId": conv, "event": {"type": "ChatStateEvent", "chatState": "COMPOSING"}},
    }
    _, fx = send(engine, typing, app, jws)
    assert fx.later == []
    c = engine.conversation(ACCOUNT, conv)
    fx = Effects()
    engine.agent_publish(
        c, {"type": "ContentEvent", "contentType": "text/plain", "message": "hi"}, fx
    )
    assert fx.later == []


def test_closing_while_steps_are_pending_drops_them_quietly(engine: Engine) -> None:
    agent, rec = setup_agent(engine)
    app, jws, conv = open_conv(engine)
    fx = say(engine, app, jws, conv, "hello")
    engine.close(engine.conversation(ACCOUNT, conv), "CONSUMER", Effects())
    run_later(fx)
    assert agent.pending == 0
    assert texts(rec) == [("CONSUMER", "hello")]


def test_reset_forgets_pending_steps(engine: Engine) -> None:
    agent, rec = setup_agent(engine)
    app, jws, conv = open_conv(engine)
    fx = say(engine, app, jws, conv, "hello")
    engine.reset(ACCOUNT)
    assert agent.pending == 0
    run_later(fx)  # the scheduled step finds nothing to do
    assert texts(rec) == [("CONSUMER", "hello")]


def test_manual_mode_does_nothing(engine: Engine) -> None:
    agent, rec = setup_agent(engine, mode="manual")
    app, jws, conv = open_conv(engine)
    fx = say(engine, app, jws, conv, "anyone?")
    assert fx.later == [] and agent.pending == 0


# -- scripts -----------------------------------------------------------------------------------

SCRIPT_YAML = """
description: a test script
rules:
  - match: "(?i)^hello"
    reply: ["Hi {text}!", "How can I help?"]
  - match: "(?i)billing"
    typing: false
    reply: Transferring you to billing.
    transfer: 12345
  - match: "(?i)\\\\bbye\\\\b"
    read: false
    reply: Goodbye!
    close: true
  - match: card
    typing: false
    delay_ms: 7
    reply:
      type: RichContentEvent
      content: {type: vertical, elements: [{type: text, text: A card}]}
  - match: silence
    read: false
"""


def scripted(engine: Engine, mode: str = "manual") -> tuple[SimulatedAgent, Recorder]:
    return setup_agent(engine, mode=mode, script=load_script(SCRIPT_YAML))


def test_script_replies_with_typing_and_substitutes_the_text(engine: Engine) -> None:
    _, rec = scripted(engine)
    app, jws, conv = open_conv(engine)
    run_later(say(engine, app, jws, conv, "Hello there"))
    assert [w for r, w in texts(rec) if r == "ASSIGNED_AGENT"] == [
        ("READ", [0]),
        "COMPOSING",
        "ACTIVE",
        "Hi Hello there!",
        "COMPOSING",
        "ACTIVE",
        "How can I help?",
    ]


def test_script_transfer_moves_the_skill_and_removes_the_agent(engine: Engine) -> None:
    _, rec = scripted(engine)
    app, jws, conv = open_conv(engine)
    run_later(say(engine, app, jws, conv, "I need billing"))
    c = engine.conversation(ACCOUNT, conv)
    assert c.skill_id == "12345" and c.assigned_agent() is None
    assert [w for r, w in texts(rec) if r == "ASSIGNED_AGENT"] == [
        ("READ", [0]),
        "Transferring you to billing.",
    ]


def test_script_close_by_agent_without_read(engine: Engine) -> None:
    _, rec = scripted(engine)
    app, jws, conv = open_conv(engine)
    run_later(say(engine, app, jws, conv, "ok bye now"))
    c = engine.conversation(ACCOUNT, conv)
    assert c.stage == "CLOSE" and c.close_reason == "AGENT"
    assert c.dialogs[0].closed_by == "AGENT"
    assert [w for r, w in texts(rec) if r == "ASSIGNED_AGENT"] == [
        "COMPOSING",
        "ACTIVE",
        "Goodbye!",
    ]


def test_script_rich_reply_with_its_own_delay(engine: Engine) -> None:
    _, rec = scripted(engine)
    app, jws, conv = open_conv(engine)
    delays: list[int] = []
    run_later(say(engine, app, jws, conv, "show me a card"), delays)
    assert delays == [7, 7, 7]  # join, READ, reply
    assert rec.events()[-1]["event"] == {
        "type": "RichContentEvent",
        "content": {"type": "vertical", "elements": [{"type": "text", "text": "A card"}]},
    }


def test_a_rule_without_actions_silences_and_unmatched_text_falls_back_to_the_mode(
    engine: Engine,
) -> None:
    _, rec = scripted(engine, mode="echo")
    app, jws, conv = open_conv(engine)
    fx = say(engine, app, jws, conv, "silence please")
    assert fx.later == []
    run_later(say(engine, app, jws, conv, "what?"))
    assert texts(rec)[-1] == ("ASSIGNED_AGENT", "echo: what?")


def test_unmatched_text_in_manual_mode_gets_no_answer(engine: Engine) -> None:
    _, rec = scripted(engine, mode="manual")
    app, jws, conv = open_conv(engine)
    assert say(engine, app, jws, conv, "what?").later == []


def test_first_matching_rule_wins() -> None:
    script = parse_script(
        {"rules": [{"match": "a", "reply": "1"}, {"match": "ab", "reply": "2"}, {}]}
    )
    assert script.match("ab") == script.rules[0]
    assert script.match("zzz") == script.rules[2]  # no match = everything
    assert AgentScript(()).match("x") is None
    assert Rule().matches("anything")


def test_json_scripts_load_too() -> None:
    event = b'{"type": "ContentEvent", "contentType": "text/plain", "message": "b"}'
    script = load_script(b'{"rules": [{"match": "x", "reply": ["a", ' + event + b"]}]}")
    assert script.rules[0].replies[1] == {
        "type": "ContentEvent",
        "contentType": "text/plain",
        "message": "b",
    }


@pytest.mark.parametrize(
    ("doc", "where", "words"),
    [
        ({"rules": [{"match": "("}]}, "$.rules[0].match", "not a valid regular expression"),
        ({"rules": [{"mach": "x"}]}, "$.rules[0]", "'mach' was unexpected"),
        ({"rules": [{"reply": [{"type": "Foo"}]}]}, "$.rules[0].reply[0].type", "'Foo'"),
        ({"rules": [{"reply": {"type": "ContentEvent"}}]}, "$.rules[0].reply", "'message'"),
        ({"rules": [{"reply": 5}]}, "$.rules[0].reply", "5"),
        ({"rules": [{"transfer": ""}]}, "$.rules[0].transfer", "non-empty"),
        ({"rules": [{"delay_ms": -1}]}, "$.rules[0].delay_ms", "minimum"),
        ({"rule": []}, "$", "rules"),
        ([], "$", "object"),
    ],
)
def test_bad_scripts_are_refused_naming_the_spot(doc: Any, where: str, words: str) -> None:
    with pytest.raises(errors.InvalidPayload) as info:
        parse_script(doc)
    assert info.value.where == where
    assert words in info.value.details


def test_unparseable_script_is_refused() -> None:
    with pytest.raises(errors.InvalidPayload, match="neither JSON nor YAML"):
        load_script("rules: [")


def test_a_bug_in_a_step_does_not_wedge_the_conversation(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    agent, rec = setup_agent(engine)
    app, jws, conv = open_conv(engine)
    fx = say(engine, app, jws, conv, "one")
    monkeypatch.setattr(engine, "join_agent", lambda *a, **k: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        run_later(fx)
    assert agent.pending == 0
    monkeypatch.undo()
    run_later(say(engine, app, jws, conv, "two"))
    assert texts(rec)[-1] == ("ASSIGNED_AGENT", "echo: two")
