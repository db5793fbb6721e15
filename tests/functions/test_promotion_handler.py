"""The decision Lambda around the rule: reading GetMetricData's answer, refusing to judge a live
endpoint in the wrong state, and the record it hands the state machine."""

from __future__ import annotations

import json

import pytest

from functions.promotion.decision import PROMOTE, WAIT, BusinessRule, Evidence, Rule
from functions.promotion.evidence import EvidenceError, evidence_of, query_id, values_by_id
from functions.promotion.experiment import Arm, Experiment, live_problem
from functions.promotion.handler import NO_ACTION, evaluate

EXPERIMENT = Experiment(model="churn", stack="dev", endpoint="mlops-platform-dev-churn-endpoint",
                        started_at="2030-03-06T11:00:00Z", champion=Arm("champion", 3, 0.9),
                        challenger=Arm("challenger", 4, 0.1), rule=Rule(1000, 0.05, 0.1))


def live(champion: float = 0.9, challenger: float = 0.1, **extra: float) -> list[dict]:
    weights = {"champion": champion, "challenger": challenger, **extra}
    return [{"VariantName": name, "CurrentWeight": weight, "DesiredWeight": weight} for name, weight in weights.items()]


def results(**values: list[float]) -> list[dict]:
    return [{"Id": key, "Label": key, "Timestamps": ["2030-03-06T11:00:00Z"] * len(found), "Values": found,
             "StatusCode": "Complete"} for key, found in values.items()]


def metrics(champion: tuple[int, int, float], challenger: tuple[int, int, float]) -> list[dict]:
    found = {}
    for role, (invocations, errors, p99) in (("champion", champion), ("challenger", challenger)):
        found.update({query_id(role, "invocations"): [invocations], query_id(role, "errors_4xx"): [errors],
                      query_id(role, "errors_5xx"): [], query_id(role, "model_latency_p99"): [p99],
                      query_id(role, "overhead_latency_p99"): [1500.0]})
    return results(**found)


def event(endpoint_status: str = "InService", variants: list[dict] | None = None, experiment: Experiment = EXPERIMENT,
          metric_results: list[dict] | None = None) -> dict:
    return {"experiment": experiment.to_event(), "window": {"start": experiment.started_at, "end": "2030-03-07T09:00:00.123Z"},
            "endpoint": {"status": endpoint_status, "variants": live() if variants is None else variants},
            "metrics": metrics((9000, 180, 41_800.0), (1000, 9, 43_100.0)) if metric_results is None else metric_results,
            "execution": "arn:aws:states:us-east-1:123456789012:execution:mlops-platform-dev-churn-promotion:run-1"}


def test_the_event_form_of_an_experiment_reads_back_as_itself():
    with_business = Experiment(**{**EXPERIMENT.__dict__, "rule": Rule(1000, 0.05, 0.1, BusinessRule("M", 500, 0.01))})
    for experiment in (EXPERIMENT, with_business):
        assert Experiment.from_event(json.loads(json.dumps(experiment.to_event()))) == experiment


@pytest.mark.parametrize("status,variants,why", [
    ("Updating", live(), "the endpoint is Updating: nothing is decided until it is InService again"),
    ("InService", live(challenger=0.1, champion=0.9)[:1], "the endpoint does not serve challenger yet (live variants: "
                                                          "champion): deploy the experiment first"),
    ("InService", live(0.0, 1.0), "live weights (challenger 1, champion 0) are not the experiment's (champion 0.9, "
                                  "challenger 0.1): a decision already moved the traffic; write it into Pulumi.dev.yaml "
                                  "with `python automation/experiments.py dev apply churn`"),
    ("InService", live(1.0, 0.0), "a decision already moved the traffic"),
    ("InService", live(0.0, 0.0), "a decision already moved the traffic"),
    ("InService", live(0.5, 0.5), "a decision already moved the traffic"),
])
def test_a_live_endpoint_in_the_wrong_state_is_not_judged(status, variants, why):
    problem = live_problem(EXPERIMENT, status, variants)
    assert problem is not None and why in problem
    answer = evaluate(event(status, variants))
    assert (answer["outcome"], answer["record"]) == (NO_ACTION, None)
    assert answer["reason"] == f"no action: {problem}"


@pytest.mark.parametrize("variants", [live(), live(9.0, 1.0), live(0.9, 0.1, shadow=0.0)])
def test_live_weights_are_compared_as_shares_of_traffic(variants):
    """SageMaker routes by weight over the sum: 9 and 1 is the experiment's 0.9 and 0.1."""
    assert live_problem(EXPERIMENT, "InService", variants) is None


def test_the_record_carries_the_decision_its_numbers_window_and_rule_version():
    answer = evaluate(event())
    record = answer["record"]
    assert (answer["outcome"], record["outcome"], record["rule_version"]) == (PROMOTE, PROMOTE, "1")
    assert record["reason"] == answer["reason"]
    assert record["window"] == {"start": "2030-03-06T11:00:00Z", "end": "2030-03-07T09:00:00.123Z"}
    assert record["weights"] == {"champion": 0.0, "challenger": 1.0}
    assert record["evidence"]["challenger"] == {"invocations": 1000, "errors": 9, "error_rate": 0.009,
                                                "p99_model_latency_ms": 43.1, "p99_overhead_latency_ms": 1.5}
    assert record["checks"]["error_rate_lower"]["p_value"] == pytest.approx(0.006538, rel=1e-3)
    assert record["execution"].endswith(":run-1")


def test_the_record_is_json_without_infinities_and_fits_an_ssm_standard_parameter():
    """A champion p99 of zero makes the latency change infinite; the record says null instead. Names
    at their longest (variant names are config-checked to 63 characters) still fit 4 KB."""
    long_experiment = Experiment(model="m" * 35, stack="pr-" + "9" * 8, endpoint="e" * 63,
                                 started_at="2030-03-06T11:00:00Z", champion=Arm("champion", 999_999, 0.9),
                                 challenger=Arm("challenger", 1_000_000, 0.1),
                                 rule=Rule(1000, 0.05, 0.1, BusinessRule("B" * 255, 500, 0.05)))
    metric_results = metrics((10**9, 10**8, 0.0), (10**9, 10**8 + 7, 123_456.789))
    metric_results += results(**{query_id(role, key): [10**9 - 1] for role in ("champion", "challenger")
                                 for key in ("business_samples", "business_successes")})
    record = evaluate(event(experiment=long_experiment, metric_results=metric_results))["record"]
    text = json.dumps(record, allow_nan=False)
    assert record["checks"]["p99_model_latency"]["change"] is None
    assert len(text) <= 4096


@pytest.mark.parametrize("answer,message", [
    (results(champion_invocations=[1.0, 2.0]), "champion_invocations has 2 data points"),
    ([{"Id": "champion_invocations", "Values": [], "StatusCode": "PartialData"}], "answered PartialData"),
    (results(champion_invocations=[float("inf")]), "champion_invocations is inf"),
])
def test_an_answer_that_is_not_one_window_is_refused(answer, message):
    with pytest.raises(EvidenceError, match=message):
        values_by_id(answer)


def test_missing_data_points_are_zero_counts_and_no_latency():
    """A variant without traffic has no data points at all: zero invocations, which waits."""
    values = values_by_id(results(champion_invocations=[9000.0], champion_errors_4xx=[3.0], champion_errors_5xx=[4.0]))
    assert evidence_of(values, "champion") == Evidence(9000, 7, None)
    assert evidence_of(values, "challenger") == Evidence(0, 0, None)
    answer = evaluate(event(metric_results=results(champion_invocations=[9000.0])))
    assert answer["outcome"] == WAIT
