"""The app-wide state of retry by time to live (connector-api.md §4.7), without I/O."""

from __future__ import annotations

from mockle.core.retention import FAILED, IN_TRANSITION, UP, AppRetention


def app_with(pending: int) -> AppRetention:
    app = AppRetention()
    for _ in range(pending):
        app.queued()
    return app


def test_up_lets_everyone_send_and_a_success_changes_nothing() -> None:
    app = app_with(2)
    assert app.may_send(1) and app.may_send(2)
    assert app.attempted(1, delivered=True) is False
    assert app.state == UP and app.prober is None


def test_a_failure_makes_the_app_failed_and_only_its_prober_may_send() -> None:
    app = app_with(3)
    assert app.attempted(1, delivered=False) is True
    assert app.state == FAILED and app.stored and app.failures == 1
    assert app.may_send(1)
    assert not app.may_send(2) and not app.may_send(3)  # stored


def test_a_failure_in_flight_while_failed_keeps_the_prober() -> None:
    app = app_with(2)
    app.attempted(1, delivered=False)
    assert app.attempted(2, delivered=False) is False  # it started before the app failed
    assert app.prober == 1 and app.failures == 1


def test_the_next_stored_delivery_probes_once_the_prober_is_settled() -> None:
    app = app_with(3)
    app.attempted(1, delivered=False)
    assert app.settled(1) is True  # e.g. its retention time ran out
    assert app.state == FAILED and app.prober is None
    assert app.may_send(2)  # the first to ask probes
    assert not app.may_send(3)


def test_a_success_while_failed_starts_the_transition_then_up_when_nothing_is_left() -> None:
    app = app_with(2)
    app.attempted(1, delivered=False)
    assert app.attempted(1, delivered=True) is True
    assert app.state == IN_TRANSITION and app.may_send(2)
    assert app.settled(1) is False  # one is still pending
    assert app.state == IN_TRANSITION
    assert app.settled(2) is True
    assert app.state == UP and app.pending == 0


def test_a_failure_in_transition_fails_the_app_again() -> None:
    app = app_with(2)
    app.attempted(1, delivered=False)
    app.attempted(1, delivered=True)
    assert app.attempted(2, delivered=False) is True
    assert app.state == FAILED and app.prober == 2 and app.failures == 2


def test_a_webhook_that_opts_out_never_fails_the_app() -> None:
    app = app_with(1)
    assert app.attempted(1, delivered=False, counts=False) is False
    assert app.state == UP and app.failures == 0


def test_as_json() -> None:
    app = app_with(1)
    app.attempted(7, delivered=False)
    assert app.as_json() == {"state": "FAILED", "pending": 1, "failures": 1}
