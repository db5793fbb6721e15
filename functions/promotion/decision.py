"""The A/B decision rule: promote the challenger, keep the champion, or wait for more evidence.

A pure function of per-variant counts over the experiment's window (`Evidence`) and the
thresholds from the stack config (`Rule`); docs/runbook.md (section 3, "A/B experiments")
states the same rule in words with worked numbers, and tests/functions/test_promotion_decision.py
holds it to them. In order, the first step that decides ends the rule:

1. Enough traffic: each variant has at least `min_invocations` invocations in the window and a
   p99 model latency; otherwise "not enough evidence". Nothing is judged on less.
2. Error guardrail: the challenger's error rate (4XX + 5XX responses of the model, over its
   invocations) is higher than the champion's by a one-sided exact test at `significance`:
   "keep champion".
3. Latency guardrail: the challenger's p99 model latency exceeds the champion's by more than
   `latency_tolerance` (0.10: 10 % slower): "keep champion".
4. With a business metric (the share of labelled predictions that succeeded, posted by the
   application per variant): each variant needs `min_samples` labels, else "not enough
   evidence"; then "promote challenger" only when its success rate is higher by a one-sided
   exact test at the metric's significance, else "keep champion".
   Without one: "promote challenger" only when its error rate is *lower* by the one-sided test
   at `significance`, else "keep champion". Merely "not worse" never promotes.

Why this shape:
- The decision is final once enough evidence exists (step 1 passed, labels in): promote and keep
  both end the experiment, so each experiment tests its improvement once, and the chance of
  promoting a challenger that is no better is at most the stated significance. Re-running
  the rule on a schedule while evidence accumulates only repeats steps that cannot promote
  (the guardrails while labels are awaited), which can only keep the champion more often.
- The tests are Fisher's exact test (one-sided), not the normal-approximation z-test: with rare
  errors the z-test promotes identical variants more often than its stated significance
  (computed exactly: 5.85 % at 5 % with 200 invocations a variant and a 1 % error rate; with
  Yates' continuity correction still 0.31 % at 0.1 % when the challenger takes 90 % of 1,100
  invocations), while the exact test's rate never exceeds it.
- Identical evidence never promotes: a one-sided p-value of equal rates is at least one half.

Standard library only (the Lambda carries nothing else). `RULE_VERSION` is recorded with every
decision; change it whenever the rule changes.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

RULE_VERSION = "1"

PROMOTE = "promote_challenger"
KEEP = "keep_champion"
WAIT = "not_enough_evidence"
OUTCOMES = (PROMOTE, KEEP, WAIT)
# The outcome in the words the runbook and the notifications use.
WORDS = {PROMOTE: "promote challenger", KEEP: "keep champion", WAIT: "not enough evidence"}

# Log-probabilities this far below a tail's first (largest) term add less than 1e-17 of it each.
_NEGLIGIBLE_LOG = 40.0


@dataclass(frozen=True)
class BusinessRule:
    """The optional business metric: the share of labelled predictions that succeeded."""

    metric: str  # its CloudWatch metric name (one 1 or 0 per labelled prediction)
    min_samples: int  # labelled predictions each variant needs
    significance: float  # of the one-sided test that the challenger's success rate is higher


@dataclass(frozen=True)
class Rule:
    min_invocations: int  # per variant, before anything is decided
    significance: float  # of the one-sided error-rate tests (guardrail and, without a business metric, improvement)
    latency_tolerance: float  # the challenger's p99 model latency may exceed the champion's by this fraction
    business: BusinessRule | None = None


@dataclass(frozen=True)
class Evidence:
    """One variant over the window, as CloudWatch sums it."""

    invocations: int
    errors: int  # Invocation4XXErrors + Invocation5XXErrors
    p99_latency_us: float | None  # ModelLatency p99, microseconds; None when CloudWatch has none
    business_samples: int = 0  # SampleCount of the business metric
    business_successes: int = 0  # its Sum

    @property
    def error_rate(self) -> float:
        return self.errors / self.invocations if self.invocations else 0.0

    @property
    def success_rate(self) -> float:
        return self.business_successes / self.business_samples if self.business_samples else 0.0


@dataclass(frozen=True)
class Decision:
    outcome: str  # one of OUTCOMES
    reason: str  # in words, with the numbers
    checks: Mapping[str, Any] = field(default_factory=dict)  # every check that ran, with its numbers
    rule_version: str = RULE_VERSION

    @property
    def words(self) -> str:
        return WORDS[self.outcome]


def decide(champion: Evidence, challenger: Evidence, rule: Rule) -> Decision:
    """The rule of the module docstring: the first step with a verdict decides."""
    checks: dict[str, Any] = {}
    for step in _STEPS:
        verdict = step(champion, challenger, rule, checks)
        if verdict is not None:
            outcome, reason = verdict
            return Decision(outcome, f"{WORDS[outcome]}: {reason}", checks)
    raise AssertionError("the last step always decides")  # pragma: no cover


Verdict = tuple[str, str] | None


def _enough_traffic(champion: Evidence, challenger: Evidence, rule: Rule, checks: dict[str, Any]) -> Verdict:
    checks["invocations"] = {"champion": champion.invocations, "challenger": challenger.invocations,
                             "minimum": rule.min_invocations}
    short = [f"the {role} has {evidence.invocations}" for role, evidence in _roles(champion, challenger)
             if evidence.invocations < rule.min_invocations]
    if short:
        return WAIT, f"{' and '.join(short)} invocations; each variant needs {rule.min_invocations} before anything is decided"
    inconsistent = [role for role, evidence in _roles(champion, challenger) if evidence.errors > evidence.invocations]
    if inconsistent:
        return WAIT, f"CloudWatch reports more errors than invocations for the {' and '.join(inconsistent)}"
    missing = [role for role, evidence in _roles(champion, challenger) if evidence.p99_latency_us is None]
    if missing:
        return WAIT, f"CloudWatch reports no p99 ModelLatency for the {' and '.join(missing)}"
    return None


def _error_guardrail(champion: Evidence, challenger: Evidence, rule: Rule, checks: dict[str, Any]) -> Verdict:
    p = one_sided_exact_p(champion.errors, champion.invocations, challenger.errors, challenger.invocations,
                          challenger_higher=True)
    checks["error_rate_higher"] = {"champion": champion.error_rate, "challenger": challenger.error_rate,
                                   "p_value": p, "significance": rule.significance, "failed": p <= rule.significance}
    if p <= rule.significance:
        return KEEP, (f"the challenger's error rate {_rate(challenger.errors, challenger.invocations)} is significantly "
                      f"higher than the champion's {_rate(champion.errors, champion.invocations)} "
                      f"(one-sided exact test p = {p:.4g} <= {rule.significance:g})")
    return None


def _latency_guardrail(champion: Evidence, challenger: Evidence, rule: Rule, checks: dict[str, Any]) -> Verdict:
    change = challenger.p99_latency_us / champion.p99_latency_us - 1 if champion.p99_latency_us else math.inf
    failed = change > rule.latency_tolerance
    checks["p99_model_latency"] = {"champion_ms": champion.p99_latency_us / 1000, "challenger_ms":
                                   challenger.p99_latency_us / 1000, "change": change,
                                   "tolerance": rule.latency_tolerance, "failed": failed}
    if failed:
        return KEEP, (f"the challenger's p99 model latency {_ms(challenger.p99_latency_us)} is {change:.1%} above the "
                      f"champion's {_ms(champion.p99_latency_us)}, beyond the {rule.latency_tolerance:.0%} tolerance")
    return None


def _enough_labels(champion: Evidence, challenger: Evidence, rule: Rule, checks: dict[str, Any]) -> Verdict:
    business = rule.business
    if business is None:
        return None
    checks["labels"] = {"champion": champion.business_samples, "challenger": challenger.business_samples,
                        "minimum": business.min_samples}
    short = [f"the {role} has {evidence.business_samples}" for role, evidence in _roles(champion, challenger)
             if evidence.business_samples < business.min_samples]
    if short:
        return WAIT, (f"the guardrails pass so far, but {' and '.join(short)} labelled predictions of "
                      f"{business.metric}; each variant needs {business.min_samples}")
    inconsistent = [role for role, evidence in _roles(champion, challenger)
                    if evidence.business_successes > evidence.business_samples]
    if inconsistent:
        return WAIT, (f"{business.metric} sums to more than its sample count for the {' and '.join(inconsistent)}: "
                      "post 1 for a success and 0 otherwise")
    return None


def _improvement(champion: Evidence, challenger: Evidence, rule: Rule, checks: dict[str, Any]) -> Verdict:
    business = rule.business
    if business is not None:
        p = one_sided_exact_p(champion.business_successes, champion.business_samples, challenger.business_successes,
                              challenger.business_samples, challenger_higher=True)
        checks["business_metric_higher"] = {"metric": business.metric, "champion": champion.success_rate,
                                            "challenger": challenger.success_rate, "p_value": p,
                                            "significance": business.significance}
        measure, better, significance = f"{business.metric} rate", "higher", business.significance
        rates = (_rate(challenger.business_successes, challenger.business_samples),
                 _rate(champion.business_successes, champion.business_samples))
    else:
        p = one_sided_exact_p(champion.errors, champion.invocations, challenger.errors, challenger.invocations,
                              challenger_higher=False)
        checks["error_rate_lower"] = {"champion": champion.error_rate, "challenger": challenger.error_rate,
                                      "p_value": p, "significance": rule.significance}
        measure, better, significance = "error rate", "lower", rule.significance
        rates = (_rate(challenger.errors, challenger.invocations), _rate(champion.errors, champion.invocations))
    if p <= significance:
        return PROMOTE, (f"the challenger's {measure} {rates[0]} is significantly {better} than the champion's {rates[1]} "
                         f"(one-sided exact test p = {p:.4g} <= {significance:g}), and the guardrails pass")
    return KEEP, (f"the challenger's {measure} {rates[0]} is not significantly {better} than the champion's {rates[1]} "
                  f"(one-sided exact test p = {p:.4g} > {significance:g})")


_STEPS: tuple[Callable[[Evidence, Evidence, Rule, dict[str, Any]], Verdict], ...] = (
    _enough_traffic, _error_guardrail, _latency_guardrail, _enough_labels, _improvement,
)


def one_sided_exact_p(champion_hits: int, champion_total: int, challenger_hits: int, challenger_total: int,
                      challenger_higher: bool) -> float:
    """Fisher's exact test, one-sided: how likely a challenger share of the hits at least this
    extreme (as high, or as low) is when both variants have the same rate.

    Given the total hits, the challenger's count is hypergeometric under equal rates; the p-value
    is that distribution's tail from the observed count. A tail that holds the mode is one minus
    the other tail, so every sum starts at its largest term and runs down the distribution's
    decreasing side: in log space (no term underflows), until the terms fall below 1e-17 of the
    first.
    """
    total, hits, draws = champion_total + challenger_total, champion_hits + challenger_hits, challenger_total
    low, high = max(0, draws - (total - hits)), min(draws, hits)
    mode = (draws + 1) * (hits + 1) // (total + 2)
    k = challenger_hits
    if challenger_higher:
        if k > mode:
            return _tail(k, 1, high, total, hits, draws)
        return max(0.0, 1.0 - _tail(k - 1, -1, low, total, hits, draws)) if k > low else 1.0
    if k < mode:
        return _tail(k, -1, low, total, hits, draws)
    return max(0.0, 1.0 - _tail(k + 1, 1, high, total, hits, draws)) if k < high else 1.0


def _tail(start: int, step: int, end: int, total: int, hits: int, draws: int) -> float:
    """P(X = start) + P(X = start + step) + ... up to `end`, on the decreasing side of the mode."""
    first = _log_choose(hits, start) + _log_choose(total - hits, draws - start) - _log_choose(total, draws)
    relative, k, log_term = [0.0], start, first
    while k != end:
        log_term += _log_ratio(k, step, total, hits, draws)
        k += step
        if log_term < first - _NEGLIGIBLE_LOG:
            break
        relative.append(log_term - first)
    return min(1.0, math.exp(first) * math.fsum(math.exp(value) for value in relative))


def _log_choose(n: int, k: int) -> float:
    return math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)


def _log_ratio(k: int, step: int, total: int, hits: int, draws: int) -> float:
    """log P(X = k + step) / P(X = k) for the hypergeometric count X."""
    others = total - hits - draws
    if step > 0:
        return math.log((hits - k) * (draws - k)) - math.log((k + 1) * (others + k + 1))
    return math.log(k * (others + k)) - math.log((hits - k + 1) * (draws - k + 1))


def _roles(champion: Evidence, challenger: Evidence) -> tuple[tuple[str, Evidence], ...]:
    return (("champion", champion), ("challenger", challenger))


def _rate(hits: int, total: int) -> str:
    return f"{hits / total:.2%} ({hits} of {total})" if total else "n/a (0 of 0)"


def _ms(microseconds: float) -> str:
    return f"{microseconds / 1000:.1f} ms"
