"""The cadence decision, pure: FULL / UPDATE / REUSE exactly at each period and one second past it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from lambda_src.run_modes.cadence import Acceptance, Cadence, acceptances, decide_cadence_mode

SOLUTION_ARN = "arn:aws:personalize:us-east-1:123456789012:solution/pbp-dev-users-0123abcd"
NOW = datetime(2026, 12, 8, 6, 0, tzinfo=UTC)
SECOND = timedelta(seconds=1)


def accepted(name: str, mode: str | None, age: timedelta) -> Acceptance:
    return Acceptance(solution_version_arn=f"{SOLUTION_ARN}/{name}", run_started_at=NOW - age, training_mode=mode)


def versions(*history: Acceptance) -> list[dict[str, Any]]:
    return [{"solutionVersionArn": a.solution_version_arn, "status": "ACTIVE", "trainingMode": a.training_mode}
            for a in history]  # fmt: skip


def decide(history: list[Acceptance], cadence: Cadence, configured: str = "UPDATE", **kw: Any) -> dict[str, str]:
    return decide_cadence_mode(
        solution="users", solution_arn=SOLUTION_ARN, configured=configured, versions=versions(*history),
        cadence=cadence, accepted=history, now=NOW, **kw,
    )  # fmt: skip


@pytest.mark.parametrize("cadence", [Cadence(), Cadence(0, 0)])
def test_without_a_cadence_every_run_trains_by_the_day_two_rules(cadence: Cadence) -> None:
    history = [accepted("v1", "FULL", timedelta(hours=1))]
    assert decide(history, cadence)["mode"] == "UPDATE"
    assert decide(history, cadence, configured="FULL")["mode"] == "FULL"
    assert not cadence.on


@pytest.mark.parametrize(
    "history",
    [[], [accepted("u1", "UPDATE", timedelta(hours=1))], [accepted("x", None, timedelta(hours=1))]],
    ids=["nothing-accepted", "only-update-accepted", "mode-unknown"],
)
def test_no_accepted_full_version_trains_full(history: list[Acceptance]) -> None:
    decision = decide(history, Cadence(full_every_days=30, update_every_days=7))
    assert decision == {"mode": "FULL", "reason": f"solution {SOLUTION_ARN} has no accepted version trained FULL yet"}


@pytest.mark.parametrize("days", [1, 30])
def test_full_exactly_at_the_period_is_reused_one_second_past_trains_full(days: int) -> None:
    cadence = Cadence(full_every_days=days)
    at = decide([accepted("v1", "FULL", timedelta(days=days))], cadence)
    assert at["mode"] == "REUSE" and at["solutionVersionArn"] == f"{SOLUTION_ARN}/v1"
    assert f"within full_every_days {days}" in at["reason"]
    past = decide([accepted("v1", "FULL", timedelta(days=days) + SECOND)], cadence)
    assert past["mode"] == "FULL"
    assert f"more than full_every_days {days}" in past["reason"] and f"{SOLUTION_ARN}/v1" in past["reason"]


@pytest.mark.parametrize("days", [1, 7])
def test_update_exactly_at_the_period_is_reused_one_second_past_trains_update(days: int) -> None:
    cadence = Cadence(full_every_days=30, update_every_days=days)
    base = accepted("v1", "FULL", timedelta(days=20))
    at = decide([accepted("u1", "UPDATE", timedelta(days=days)), base], cadence)
    assert at["mode"] == "REUSE" and at["solutionVersionArn"] == f"{SOLUTION_ARN}/u1"
    past = decide([accepted("u1", "UPDATE", timedelta(days=days) + SECOND), base], cadence)
    assert past["mode"] == "UPDATE"
    assert f"more than update_every_days {days}" in past["reason"] and "ACTIVE FULL version" in past["reason"]


def test_the_update_period_counts_from_the_last_training_full_or_update() -> None:
    cadence = Cadence(full_every_days=30, update_every_days=7)
    fresh_full = [accepted("v2", "FULL", timedelta(days=7)), accepted("u1", "UPDATE", timedelta(days=9))]
    assert decide(fresh_full, cadence)["solutionVersionArn"] == f"{SOLUTION_ARN}/v2"
    assert decide([accepted("v2", "FULL", timedelta(days=7) + SECOND)], cadence)["mode"] == "UPDATE"


def test_full_is_due_before_update() -> None:
    history = [accepted("u1", "UPDATE", timedelta(days=8)), accepted("v1", "FULL", timedelta(days=30) + SECOND)]
    assert decide(history, Cadence(full_every_days=30, update_every_days=7))["mode"] == "FULL"


def test_without_a_full_period_full_comes_only_when_none_was_accepted() -> None:
    history = [accepted("u1", "UPDATE", timedelta(days=1)), accepted("v1", "FULL", timedelta(days=900))]
    assert decide(history, Cadence(update_every_days=7))["mode"] == "REUSE"


def test_update_due_but_personalize_has_no_active_full_version_trains_full() -> None:
    history = [accepted("v1", "FULL", timedelta(days=8))]
    decision = decide_cadence_mode(
        solution="users", solution_arn=SOLUTION_ARN, configured="UPDATE", versions=[], now=NOW,
        cadence=Cadence(update_every_days=7), accepted=history,
    )  # fmt: skip
    assert decision["mode"] == "FULL" and "no ACTIVE version trained FULL" in decision["reason"]


@pytest.mark.parametrize("configured, expected", [("UPDATE", "UPDATE"), ("FULL", "FULL")])
def test_retrain_now_trains_by_the_day_two_rules_whatever_the_cadence(configured: str, expected: str) -> None:
    history = [accepted("v1", "FULL", timedelta(hours=1))]
    decision = decide(history, Cadence(full_every_days=30, update_every_days=7), configured, retrain_now=True)
    assert decision["mode"] == expected and decision["reason"].startswith("retrain_now is set: ")


def test_acceptances_sort_newest_first_with_modes_from_personalize() -> None:
    items = [
        {"solutionVersionArn": "a", "runStartedAt": "2026-12-01T06:00:00.000000Z"},
        {"solutionVersionArn": "b", "runStartedAt": "2026-12-07T06:00:00.000000Z"},
    ]
    found = acceptances(items, {"a": "FULL"})
    assert [(a.solution_version_arn, a.training_mode) for a in found] == [("b", None), ("a", "FULL")]
    assert found[0].run_started_at == datetime(2026, 12, 7, 6, tzinfo=UTC)


@pytest.mark.parametrize(
    "value, message",
    [
        ({"full_every_days": -1}, "x.full_every_days has value -1; allowed: a whole number of days, 0 or more"),
        ({"update_every_days": 1.5}, "x.update_every_days has value 1.5; allowed"),
        ({"full_every_days": True}, "x.full_every_days has value True"),
        ({"every": 1}, "x.every is not a cadence key; allowed: full_every_days, update_every_days"),
    ],
)
def test_cadence_from_the_event_refuses_what_is_not_a_period(value: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message.replace(".", r"\.")):
        Cadence.from_mapping(value, "x")
    assert Cadence.from_mapping({"full_every_days": 0}, "x") == Cadence()
