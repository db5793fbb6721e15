"""The A/B decision rule (functions/promotion/decision.py): properties, the runbook's worked
numbers, and the false-promotion rate the stated significance promises.

The one-sided exact test is checked against scipy's hypergeometric distribution (a test-only
oracle; the Lambda carries the standard library only). Properties run without hypothesis's
per-example deadline: a loaded machine must not fail them on time."""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from scipy import stats

from functions.promotion.decision import (
    KEEP,
    OUTCOMES,
    PROMOTE,
    RULE_VERSION,
    WAIT,
    BusinessRule,
    Evidence,
    Rule,
    decide,
    one_sided_exact_p,
)

RULE = Rule(min_invocations=1000, significance=0.05, latency_tolerance=0.10)
BUSINESS = BusinessRule("PredictionCorrect", min_samples=500, significance=0.05)
RULE_WITH_BUSINESS = Rule(1000, 0.05, 0.10, BUSINESS)
LATENCY_US = 41_800.0

significances = st.sampled_from([0.001, 0.01, 0.05, 0.1, 0.2])


@st.composite
def evidence(draw, min_invocations: int = 1, max_invocations: int = 10**6, labels: bool = False) -> Evidence:
    invocations = draw(st.integers(min_invocations, max_invocations))
    samples = draw(st.integers(0, 10**5)) if labels else 0
    return Evidence(invocations, draw(st.integers(0, invocations)), draw(st.floats(100, 10**7)),
                    samples, draw(st.integers(0, samples)) if labels else 0)


def scaled(base: Evidence, factor: int) -> Evidence:
    """The same rates and latency over `factor` times the traffic."""
    return Evidence(base.invocations * factor, base.errors * factor, base.p99_latency_us,
                    base.business_samples * factor, base.business_successes * factor)


# --- the exact test ----------------------------------------------------------------------------

@settings(max_examples=300, deadline=None)
@given(st.integers(1, 5000), st.integers(1, 5000), st.data(), st.booleans())
def test_the_exact_test_is_the_hypergeometric_tail(champion_total, challenger_total, data, higher):
    champion_hits = data.draw(st.integers(0, champion_total))
    challenger_hits = data.draw(st.integers(0, challenger_total))
    mine = one_sided_exact_p(champion_hits, champion_total, challenger_hits, challenger_total, higher)
    distribution = stats.hypergeom(champion_total + challenger_total, champion_hits + challenger_hits, challenger_total)
    oracle = distribution.sf(challenger_hits - 1) if higher else distribution.cdf(challenger_hits)
    assert mine == pytest.approx(oracle, rel=1e-9, abs=1e-300)


def test_the_exact_test_stays_exact_and_fast_at_a_million_invocations():
    """Far tails must not underflow to 0 before the mode, nor take the whole range to sum."""
    p = one_sided_exact_p(20_000, 1_000_000, 1_000, 100_000, challenger_higher=False)
    assert p == pytest.approx(stats.hypergeom(1_100_000, 21_000, 100_000).cdf(1_000), rel=1e-7)
    assert one_sided_exact_p(20_000, 1_000_000, 1_000, 100_000, challenger_higher=True) == pytest.approx(1.0)


# --- properties ----------------------------------------------------------------------------------

@settings(deadline=None)
@given(evidence(min_invocations=1000, labels=True), st.integers(1, 20), significances)
def test_identical_variants_never_promote(base, factor, significance):
    """Equal rates and latency, whatever the traffic split: a one-sided p-value of equal rates is
    at least one half, so no significance the config allows can promote."""
    for rule in (Rule(1000, significance, 0.0), Rule(1000, significance, 0.0, BusinessRule("M", 1, significance))):
        for champion, challenger in ((base, base), (scaled(base, factor), base), (base, scaled(base, factor))):
            assert decide(champion, challenger, rule).outcome != PROMOTE


@settings(deadline=None)
@given(evidence(min_invocations=1000, labels=True), st.data(), significances)
def test_a_challenger_no_better_on_anything_is_never_promoted(champion, data, significance):
    """Error rate at least the champion's, latency at least its, success rate at most its."""
    invocations = data.draw(st.integers(1000, 10**6))
    errors = data.draw(st.integers(math.ceil(champion.error_rate * invocations), invocations))
    samples = data.draw(st.integers(0, 10**5))
    successes = data.draw(st.integers(0, math.floor(champion.success_rate * samples))) if champion.business_samples else 0
    challenger = Evidence(invocations, errors, champion.p99_latency_us * data.draw(st.floats(1, 10)), samples, successes)
    assume(challenger.error_rate >= champion.error_rate and challenger.success_rate <= champion.success_rate)
    for rule in (Rule(1000, significance, 0.1), Rule(1000, significance, 0.1, BusinessRule("M", 1, significance))):
        assert decide(champion, challenger, rule).outcome != PROMOTE


@settings(deadline=None)
@given(evidence(min_invocations=1000, labels=True), st.floats(0.0, 1.0), st.floats(1e-6, 100), st.data())
def test_a_challenger_slower_than_the_tolerance_is_never_promoted(champion, tolerance, excess, data):
    challenger = data.draw(evidence(min_invocations=1000, labels=True))
    challenger = Evidence(challenger.invocations, challenger.errors,
                          champion.p99_latency_us * (1 + tolerance) * (1 + excess),
                          challenger.business_samples, challenger.business_successes)
    for business in (None, BusinessRule("M", 1, 0.2)):
        decision = decide(champion, challenger, Rule(1000, 0.2, tolerance, business))
        assert decision.outcome == KEEP
        assert "significantly higher" in decision.reason or "p99 model latency" in decision.reason


@settings(deadline=None)
@given(st.floats(0.02, 0.3), st.floats(0.05, 0.5), st.sampled_from([1, 2, 10]), significances)
def test_a_clearly_better_challenger_is_promoted_once_the_sample_is_large(error_rate, share, growth, significance):
    """Half the champion's error rate (no business metric), at a traffic share of 5-50 %: from
    20,000 challenger invocations on (and at any larger sample), the rule promotes."""
    challenger_invocations = 20_000 * growth
    champion_invocations = round(challenger_invocations * (1 - share) / share)
    champion = Evidence(champion_invocations, round(champion_invocations * error_rate), LATENCY_US)
    challenger = Evidence(challenger_invocations, round(challenger_invocations * error_rate / 2), LATENCY_US)
    assert decide(champion, challenger, Rule(1000, significance, 0.0)).outcome == PROMOTE


@settings(deadline=None)
@given(st.floats(0.5, 0.95), st.sampled_from([1, 2, 10]), significances)
def test_a_clearly_better_business_metric_is_promoted_once_labels_are_many(success_rate, growth, significance):
    """Half the champion's failures on the business metric, equal errors and latency."""
    labels = 20_000 * growth
    champion = Evidence(labels * 4, labels // 25, LATENCY_US, labels, round(labels * success_rate))
    challenger = Evidence(labels * 4, labels // 25, LATENCY_US, labels, round(labels * (1 + success_rate) / 2))
    assert decide(champion, challenger, Rule(1000, significance, 0.0, BusinessRule("M", 500, significance))).outcome \
        == PROMOTE


@settings(deadline=None)
@given(evidence(labels=True), evidence(labels=True), st.integers(1, 10**6), st.booleans())
def test_below_the_minimum_it_is_always_not_enough_evidence(champion, challenger, minimum, with_business):
    assume(min(champion.invocations, challenger.invocations) < minimum)
    rule = Rule(minimum, 0.2, 10.0, BusinessRule("M", 1, 0.2) if with_business else None)
    decision = decide(champion, challenger, rule)
    assert decision.outcome == WAIT
    assert f"needs {minimum} before anything is decided" in decision.reason


@settings(deadline=None)
@given(evidence(min_invocations=1000, labels=True), evidence(min_invocations=1000, labels=True), st.integers(1, 10**5))
def test_below_the_label_minimum_it_never_promotes(champion, challenger, minimum):
    assume(min(champion.business_samples, challenger.business_samples) < minimum)
    rule = Rule(1000, 0.2, 10.0, BusinessRule("M", minimum, 0.2))
    assert decide(champion, challenger, rule).outcome in (WAIT, KEEP)  # a guardrail may still keep the champion


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 40), st.integers(1, 40), st.floats(0.001, 0.999), significances)
def test_the_chance_of_promoting_an_identical_challenger_never_exceeds_the_significance(
        champion_total, challenger_total, error_rate, significance):
    """Exactly, by enumeration: both variants draw errors from the same binomial; the probability
    of every outcome that promotes is summed."""
    rule = Rule(1, significance, 0.0)
    champion_pmf = stats.binom.pmf(range(champion_total + 1), champion_total, error_rate)
    challenger_pmf = stats.binom.pmf(range(challenger_total + 1), challenger_total, error_rate)
    promoted = sum(champion_pmf[a] * challenger_pmf[b]
                   for a in range(champion_total + 1) for b in range(challenger_total + 1)
                   if decide(Evidence(champion_total, a, LATENCY_US), Evidence(challenger_total, b, LATENCY_US),
                             rule).outcome == PROMOTE)
    assert promoted <= significance + 1e-12


SIMULATIONS = 2000


@pytest.mark.parametrize("champion_invocations,challenger_invocations,error_rate,significance,labels,success_rate", [
    (9000, 1000, 0.01, 0.05, 0, 0.0),    # a 10 % challenger, 1 % errors
    (1000, 1000, 0.05, 0.05, 0, 0.0),
    (200, 200, 0.01, 0.05, 0, 0.0),      # where the plain z-test promotes 5.85 % of identical challengers
    (1000, 9000, 0.005, 0.01, 0, 0.0),   # a 90 % challenger, rare errors
    (5000, 5000, 0.001, 0.1, 0, 0.0),
    (9000, 1000, 0.01, 0.05, 500, 0.87),  # with a business metric
    (2000, 2000, 0.002, 0.1, 2000, 0.6),
])
def test_the_false_promotion_rate_over_simulated_experiments_stays_under_the_significance(
        champion_invocations, challenger_invocations, error_rate, significance, labels, success_rate):
    """Many experiments whose variants are identical in truth (same error rate, same success rate,
    same latency), drawn with numpy: the share the rule promotes stays under the significance,
    allowing for the simulation's own error (2.33 standard errors, one-sided 1 %)."""
    rng = np.random.default_rng(20240611)
    business = BusinessRule("M", labels, significance) if labels else None
    rule = Rule(min(champion_invocations, challenger_invocations), significance, 0.1, business)
    draws = {role: (rng.binomial(n, error_rate, SIMULATIONS), rng.binomial(labels, success_rate, SIMULATIONS))
             for role, n in (("champion", champion_invocations), ("challenger", challenger_invocations))}
    promoted = 0
    for i in range(SIMULATIONS):
        champion = Evidence(champion_invocations, int(draws["champion"][0][i]), LATENCY_US, labels, int(draws["champion"][1][i]))
        challenger = Evidence(challenger_invocations, int(draws["challenger"][0][i]), LATENCY_US, labels,
                              int(draws["challenger"][1][i]))
        promoted += decide(champion, challenger, rule).outcome == PROMOTE
    assert promoted / SIMULATIONS <= significance + 2.33 * math.sqrt(significance * (1 - significance) / SIMULATIONS)


# --- the runbook's worked numbers (docs/runbook.md, section 3, "A/B experiments") ---------------

RUNBOOK_CASES = [
    pytest.param(Evidence(5412, 11, 41_800), Evidence(612, 2, 43_100), RULE, WAIT,
                 "not enough evidence: the challenger has 612 invocations; each variant needs 1000 before anything "
                 "is decided", id="wait-for-traffic"),
    pytest.param(Evidence(9000, 45, 41_800), Evidence(1000, 14, 43_100), RULE, KEEP,
                 "keep champion: the challenger's error rate 1.40% (14 of 1000) is significantly higher than the "
                 "champion's 0.50% (45 of 9000) (one-sided exact test p = 0.001652 <= 0.05)", id="error-guardrail"),
    pytest.param(Evidence(9000, 45, 41_800), Evidence(1000, 5, 51_200), RULE, KEEP,
                 "keep champion: the challenger's p99 model latency 51.2 ms is 22.5% above the champion's 41.8 ms, "
                 "beyond the 10% tolerance", id="latency-guardrail"),
    pytest.param(Evidence(9000, 45, 41_800), Evidence(1000, 5, 43_100), RULE, KEEP,
                 "keep champion: the challenger's error rate 0.50% (5 of 1000) is not significantly lower than the "
                 "champion's 0.50% (45 of 9000) (one-sided exact test p = 0.6162 > 0.05)", id="no-improvement"),
    pytest.param(Evidence(9000, 180, 41_800), Evidence(1000, 9, 43_100), RULE, PROMOTE,
                 "promote challenger: the challenger's error rate 0.90% (9 of 1000) is significantly lower than the "
                 "champion's 2.00% (180 of 9000) (one-sided exact test p = 0.006538 <= 0.05), and the guardrails "
                 "pass", id="fewer-errors"),
    pytest.param(Evidence(9000, 45, 41_800, 2210, 1923), Evidence(1000, 5, 43_100, 240, 216), RULE_WITH_BUSINESS, WAIT,
                 "not enough evidence: the guardrails pass so far, but the challenger has 240 labelled predictions of "
                 "PredictionCorrect; each variant needs 500", id="wait-for-labels"),
    pytest.param(Evidence(9000, 45, 41_800, 4000, 3480), Evidence(1000, 5, 43_100, 1000, 905), RULE_WITH_BUSINESS,
                 PROMOTE, "promote challenger: the challenger's PredictionCorrect rate 90.50% (905 of 1000) is "
                          "significantly higher than the champion's 87.00% (3480 of 4000) (one-sided exact test "
                          "p = 0.001216 <= 0.05), and the guardrails pass", id="business-improvement"),
    pytest.param(Evidence(9000, 45, 41_800, 4000, 3480), Evidence(1000, 5, 43_100, 1000, 880), RULE_WITH_BUSINESS,
                 KEEP, "keep champion: the challenger's PredictionCorrect rate 88.00% (880 of 1000) is not significantly "
                       "higher than the champion's 87.00% (3480 of 4000) (one-sided exact test p = 0.2145 > 0.05)",
                 id="business-no-improvement"),
]


@pytest.mark.parametrize("champion,challenger,rule,outcome,reason", RUNBOOK_CASES)
def test_the_runbooks_worked_numbers(champion, challenger, rule, outcome, reason):
    decision = decide(champion, challenger, rule)
    assert (decision.outcome, decision.reason, decision.rule_version) == (outcome, reason, RULE_VERSION)


@pytest.mark.parametrize("champion,challenger,why", [
    (Evidence(2000, 3, None), Evidence(2000, 3, 40_000), "CloudWatch reports no p99 ModelLatency for the champion"),
    (Evidence(2000, 2001, 40_000), Evidence(2000, 3, 40_000), "more errors than invocations for the champion"),
])
def test_evidence_that_cannot_be_judged_waits(champion, challenger, why):
    decision = decide(champion, challenger, RULE)
    assert decision.outcome == WAIT and why in decision.reason


def test_every_outcome_has_its_words():
    assert {decide(*case.values[:3]).outcome for case in RUNBOOK_CASES} == set(OUTCOMES)


def test_the_runbook_states_the_numbers_the_rule_gives():
    """Every p-value, rate and latency in the runbook's worked-numbers table is one the rule prints
    for the RUNBOOK_CASES above."""
    text = (Path(__file__).resolve().parents[2] / "docs" / "runbook.md").read_text()
    table = text.split("Worked numbers", 1)[1].split("\n\n", 2)[1]
    rows = [line for line in table.splitlines() if line.startswith("| ") and not line.startswith(("| champion", "| ---"))]
    reasons = " ".join([case.values[4] for case in RUNBOOK_CASES]
                       + [f"{e.invocations} invocations" for case in RUNBOOK_CASES for e in case.values[:2]])
    assert len(rows) == len(RUNBOOK_CASES) - 1  # the business metric's wait is in the prose, not the table
    for row in rows:
        for number in re.findall(r"p = [0-9.]+|[0-9.]+ ?%|[0-9.]+ ms|\d+ of \d+|\d+ invocations", row):
            assert number.replace(" %", "%") in reasons, (number, row)
