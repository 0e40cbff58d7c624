"""The pure gate: rule validation, each decision path, and properties over generated metric values."""

from __future__ import annotations

import math
import random
from fractions import Fraction

import pytest

from lambda_src.model_gate.gate import (
    DEFAULT_METRIC,
    USER_PERSONALIZATION_METRICS,
    AcceptedVersion,
    GateRule,
    InvalidGateRule,
    decide,
)

from .conftest import version_arn

CANDIDATE = version_arn("cand")
LAST = AcceptedVersion(version_arn("last"), {DEFAULT_METRIC: 0.3, "coverage": 0.5}, run_id="r-last")


def metrics(**values: float) -> dict:
    return {"solutionVersionArn": CANDIDATE, "metrics": values}


def ndcg(value: float) -> dict:
    return metrics(**{DEFAULT_METRIC: value})


# ----------------------------------------------------------------------------------------------
# Rule validation


def test_default_rule_is_ndcg_at_25_and_fails_the_run() -> None:
    rule = GateRule.from_mapping(None)
    assert (rule.metric, rule.on_fail, rule.on_missing_metric) == (DEFAULT_METRIC, "fail", "reject")
    assert 0 <= rule.min_value <= 1 and 0 <= rule.max_relative_drop <= 1


def test_rule_from_the_state_machine_camel_case_keys() -> None:
    rule = GateRule.from_mapping(
        {"metric": "precision_at_10", "minValue": 0.05, "maxRelativeDrop": 0.25, "onFail": "use_last_accepted"}
    )
    assert rule == GateRule("precision_at_10", 0.05, 0.25, "use_last_accepted", "reject")
    assert GateRule.from_mapping(rule.as_dict()) == rule


@pytest.mark.parametrize("metric", USER_PERSONALIZATION_METRICS)
def test_every_user_personalization_metric_is_allowed(metric: str) -> None:
    assert GateRule(metric=metric).metric == metric


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"metric": "ndcg"}, "metric 'ndcg' is not one of coverage, mean_reciprocal_rank_at_25, normalized_"),
        ({"metric": "average_rewards_at_k"}, "metric 'average_rewards_at_k' is not one of"),
        ({"min_value": 1.5}, "min_value 1.5 is not a number from 0 to 1"),
        ({"min_value": -0.01}, "min_value -0.01 is not a number from 0 to 1"),
        ({"min_value": "0.1"}, "min_value '0.1' is not a number from 0 to 1"),
        ({"max_relative_drop": True}, "max_relative_drop True is not a number from 0 to 1"),
        ({"max_relative_drop": 2}, "max_relative_drop 2 is not a number from 0 to 1"),
        ({"on_fail": "warn"}, "on_fail 'warn' is not one of fail, use_last_accepted"),
        ({"on_missing_metric": "skip"}, "on_missing_metric 'skip' is not one of reject, accept"),
    ],
)
def test_invalid_rule_names_the_value_and_what_is_allowed(overrides: dict, expected: str) -> None:
    with pytest.raises(InvalidGateRule, match="invalid model quality gate rule") as info:
        GateRule(**overrides)
    assert expected in str(info.value)


def test_every_problem_of_a_rule_is_reported_at_once() -> None:
    with pytest.raises(InvalidGateRule) as info:
        GateRule(metric="x", min_value=2, max_relative_drop=-1, on_fail="x")
    assert str(info.value).count(";") == 3


def test_unknown_rule_keys_are_refused() -> None:
    with pytest.raises(InvalidGateRule, match="unknown key\\(s\\) floor; allowed: metric, minValue"):
        GateRule.from_mapping({"floor": 0.1})


def test_rule_bounds_are_inclusive() -> None:
    assert GateRule(min_value=0, max_relative_drop=1).max_relative_drop == 1
    assert GateRule(min_value=1, max_relative_drop=0).min_value == 1


# ----------------------------------------------------------------------------------------------
# Decisions


def test_pass_within_the_allowed_drop_uses_the_candidate() -> None:
    decision = decide(CANDIDATE, ndcg(0.29), LAST, GateRule(min_value=0.01, max_relative_drop=0.1))
    assert decision.accepted and decision.action == "use_candidate"
    assert decision.solution_version_arn == CANDIDATE
    assert not decision.first_run and not decision.used_fallback and not decision.metric_missing
    assert decision.candidate_value == 0.29 and decision.last_accepted_value == 0.3
    assert decision.relative_change == pytest.approx((0.29 - 0.3) / 0.3)
    assert "0.29 is 3.3% below the last accepted 0.3" in decision.reason
    assert "within the allowed 10% drop" in decision.reason


def test_improvement_is_accepted_and_says_above() -> None:
    decision = decide(CANDIDATE, ndcg(0.33), LAST, GateRule())
    assert decision.accepted and "10.0% above the last accepted 0.3" in decision.reason


def test_drop_beyond_the_rule_fails_the_run_with_both_figures_and_the_rule() -> None:
    decision = decide(CANDIDATE, ndcg(0.2), LAST, GateRule(min_value=0.01, max_relative_drop=0.1))
    assert not decision.accepted and decision.action == "fail"
    assert decision.solution_version_arn is None
    reason = decision.reason
    assert reason.startswith(f"Rejected {CANDIDATE}: {DEFAULT_METRIC} = 0.2 is 33.3% below the last accepted 0.3 ")
    assert f"of {LAST.solution_version_arn} (run r-last)" in reason
    assert "more than the allowed 10% drop (lowest allowed 0.27)" in reason
    assert "on_fail=fail, so the run stops before batch inference" in reason
    assert f"(rule: {DEFAULT_METRIC} >= 0.01 and at most 10% below the last accepted version; on_fail=fail)" in reason


def test_drop_beyond_the_rule_in_fallback_mode_uses_the_last_accepted_version() -> None:
    decision = decide(CANDIDATE, ndcg(0.2), LAST, GateRule(on_fail="use_last_accepted"))
    assert not decision.accepted and decision.action == "use_last_accepted"
    assert decision.used_fallback
    assert decision.solution_version_arn == LAST.solution_version_arn
    assert f"batch inference uses the last accepted version {LAST.solution_version_arn} (run r-last) instead" in decision.reason
    out = decision.as_dict()
    assert (out["decision"], out["solutionVersionArn"], out["usedFallback"]) == ("REJECTED", LAST.solution_version_arn, True)


def test_below_the_floor_is_rejected_even_when_better_than_last() -> None:
    poor_last = AcceptedVersion(version_arn("poor"), {DEFAULT_METRIC: 0.02})
    decision = decide(CANDIDATE, ndcg(0.03), poor_last, GateRule(min_value=0.05))
    assert not decision.accepted
    assert f"{DEFAULT_METRIC} = 0.03 is below the floor 0.05" in decision.reason


def test_first_run_uses_the_floor_only() -> None:
    decision = decide(CANDIDATE, ndcg(0.02), None, GateRule(min_value=0.01, max_relative_drop=0))
    assert decision.accepted and decision.first_run and decision.action == "use_candidate"
    assert decision.last_accepted_value is None and decision.relative_change is None
    assert "first run (no accepted version yet): " in decision.reason
    assert f"{DEFAULT_METRIC} = 0.02 meets the floor 0.01" in decision.reason


def test_first_run_below_the_floor_fails() -> None:
    decision = decide(CANDIDATE, ndcg(0.001), None, GateRule(min_value=0.01))
    assert decision.action == "fail" and decision.first_run


def test_first_run_below_the_floor_in_fallback_mode_fails_and_says_why() -> None:
    decision = decide(CANDIDATE, ndcg(0.001), None, GateRule(min_value=0.01, on_fail="use_last_accepted"))
    assert decision.action == "fail" and decision.solution_version_arn is None
    assert "on_fail=use_last_accepted, but no version has been accepted yet, so the run fails" in decision.reason


@pytest.mark.parametrize(
    ("response", "reported"),
    [
        (None, "no metrics at all"),
        ({"solutionVersionArn": CANDIDATE}, "no metrics at all"),
        (metrics(), "no metrics at all"),
        (metrics(coverage=0.4, precision_at_5=0.1), "coverage, precision_at_5"),
        (ndcg(math.nan), DEFAULT_METRIC),
        ({"metrics": {DEFAULT_METRIC: "0.2"}}, DEFAULT_METRIC),
        ({"metrics": {DEFAULT_METRIC: None}}, DEFAULT_METRIC),
    ],
)
def test_missing_metric_is_rejected_with_what_was_reported(response: dict | None, reported: str) -> None:
    decision = decide(CANDIDATE, response, LAST, GateRule())
    assert not decision.accepted and decision.metric_missing and decision.candidate_value is None
    assert f"metric {DEFAULT_METRIC} missing (GetSolutionMetrics reported {reported})" in decision.reason
    assert decision.action == "fail"


def test_missing_metric_in_fallback_mode_uses_the_last_accepted_version() -> None:
    decision = decide(CANDIDATE, metrics(coverage=0.4), LAST, GateRule(on_fail="use_last_accepted"))
    assert decision.solution_version_arn == LAST.solution_version_arn and decision.metric_missing


def test_missing_metric_can_be_accepted_on_trust_by_configuration() -> None:
    decision = decide(CANDIDATE, metrics(coverage=0.4), LAST, GateRule(on_missing_metric="accept"))
    assert decision.accepted and decision.metric_missing and decision.solution_version_arn == CANDIDATE
    assert "accepted without a check because on_missing_metric=accept" in decision.reason
    assert decision.candidate_metrics == {"coverage": 0.4}


def test_last_accepted_without_the_metric_leaves_the_floor_only() -> None:
    other = AcceptedVersion(version_arn("other"), {"coverage": 0.9})
    decision = decide(CANDIDATE, ndcg(0.02), other, GateRule(min_value=0.01, max_relative_drop=0))
    assert decision.accepted
    assert f"the last accepted version {other.solution_version_arn} has no {DEFAULT_METRIC}, so only the floor applies" in decision.reason


def test_the_rule_metric_decides_not_another_one() -> None:
    response = metrics(**{DEFAULT_METRIC: 0.1, "coverage": 0.55})
    decision = decide(CANDIDATE, response, LAST, GateRule(metric="coverage", max_relative_drop=0))
    assert decision.accepted and decision.candidate_value == 0.55 and decision.last_accepted_value == 0.5


def test_as_dict_is_json_ready_and_carries_the_manifest_fields() -> None:
    import json

    out = decide(CANDIDATE, ndcg(0.31), LAST, GateRule()).as_dict()
    assert json.loads(json.dumps(out)) == out
    assert set(out) == {
        "decision", "accepted", "action", "solutionVersionArn", "candidateVersionArn", "lastAcceptedVersionArn",
        "lastAcceptedRunId", "metric", "candidateValue", "lastAcceptedValue", "relativeChange", "firstRun",
        "usedFallback", "metricMissing", "reason", "rule", "candidateMetrics",
    }  # fmt: skip
    assert out["rule"] == {"metric": DEFAULT_METRIC, "minValue": 0.01, "maxRelativeDrop": 0.1, "onFail": "fail", "onMissingMetric": "reject"}


# ----------------------------------------------------------------------------------------------
# Boundaries and properties


def test_exactly_at_the_floor_passes_and_just_below_fails() -> None:
    rule = GateRule(min_value=0.05)
    assert decide(CANDIDATE, ndcg(0.05), None, rule).accepted
    assert not decide(CANDIDATE, ndcg(0.0499999), None, rule).accepted


def test_exactly_at_the_largest_allowed_drop_passes_where_float_arithmetic_would_not() -> None:
    # The reason the gate compares decimals: in binary floats 0.14 * (1 - 0.1) is just above 0.126.
    assert 0.14 * (1 - 0.1) > 0.126
    last = AcceptedVersion(version_arn("last"), {DEFAULT_METRIC: 0.14})
    rule = GateRule(min_value=0, max_relative_drop=0.1)
    assert decide(CANDIDATE, ndcg(0.126), last, rule).accepted
    assert not decide(CANDIDATE, ndcg(0.1259999), last, rule).accepted


def _grid(rng: random.Random, places: int) -> float:
    return round(rng.randint(0, 10**places) / 10**places, places)


def _expected(candidate: float, last: float | None, floor: float, drop: float) -> bool:
    """The rule in exact rational arithmetic on the printed decimals (an oracle independent of the
    module's Decimal code)."""
    value = Fraction(repr(candidate))
    if value < Fraction(repr(floor)):
        return False
    return last is None or value >= Fraction(repr(last)) * (1 - Fraction(repr(drop)))


@pytest.mark.parametrize("seed", range(4))
def test_property_decision_matches_the_rule_on_generated_metrics(seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(1500):
        # Personalize reports metrics with four decimals; rules are set in hundredths.
        floor, drop = _grid(rng, 2), _grid(rng, 2)
        last = None if rng.random() < 0.2 else _grid(rng, 4)
        boundary = Fraction(repr(last)) * (1 - Fraction(repr(drop))) if last is not None else Fraction(repr(floor))
        step = Fraction(1, 10**6)
        # Values on, just above and just below the boundaries (where mistakes live), and anywhere.
        candidate = float(
            rng.choice([boundary, boundary - step, boundary + step, Fraction(repr(floor)), Fraction(repr(floor)) - step])
            if rng.random() < 0.7
            else Fraction(repr(_grid(rng, 4)))
        )
        candidate = min(max(candidate, 0.0), 1.0)
        previous = AcceptedVersion(version_arn("prev"), {DEFAULT_METRIC: last}) if last is not None else None
        mode = rng.choice(["fail", "use_last_accepted"])
        decision = decide(CANDIDATE, ndcg(candidate), previous, GateRule(min_value=floor, max_relative_drop=drop, on_fail=mode))

        assert decision.accepted is _expected(candidate, last, floor, drop), (candidate, last, floor, drop)
        assert repr(candidate) in decision.reason
        if last is not None:
            assert repr(last) in decision.reason
        if decision.accepted:
            assert (decision.action, decision.solution_version_arn) == ("use_candidate", CANDIDATE)
        elif mode == "use_last_accepted" and previous is not None:
            assert (decision.action, decision.solution_version_arn) == ("use_last_accepted", previous.solution_version_arn)
        else:
            assert (decision.action, decision.solution_version_arn) == ("fail", None)


@pytest.mark.parametrize("seed", range(2))
def test_property_a_candidate_never_worse_than_last_and_above_floor_is_accepted(seed: int) -> None:
    rng = random.Random(100 + seed)
    for _ in range(1000):
        last = _grid(rng, 4)
        candidate = min(1.0, last + _grid(rng, 4) * (1 - last))
        rule = GateRule(min_value=min(last, _grid(rng, 2)), max_relative_drop=0)
        assert decide(CANDIDATE, ndcg(candidate), AcceptedVersion(version_arn("p"), {DEFAULT_METRIC: last}), rule).accepted
