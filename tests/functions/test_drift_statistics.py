"""Drift statistics (functions/drift/statistics.py): the distributions against scipy, the binning
against the baseline contract, Benjamini-Hochberg against its definition, and the decisions as
properties on the sample model's own data and baseline.

Baselines are made by the trainer's own `compute_baseline` (containers/training/baseline_statistics.py) from `sample_data.generate`, so the
tests hold the function to the format the training container really writes. Live windows are new
draws from the same generator (no drift) or the same draws with one planted change.
"""

from __future__ import annotations

import functools
import math

import numpy as np
import pytest
import scipy.stats
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from containers.contracts import baseline as baseline_contract
from containers.contracts.features import FEATURE_NAMES
from containers.training import sample_data
from containers.training.baseline_statistics import compute_baseline
from containers.training.distributed import SINGLE_HOST, Group
from functions.drift import baseline as baselines
from functions.drift import statistics
from functions.drift.capture import Captured
from functions.drift.detect import compare

BASELINE_ROWS = 4000
LIVE_ROWS = 3000


@functools.cache
def sample_baseline() -> baselines.Baseline:
    labels, features = sample_data.generate(BASELINE_ROWS, seed=1)
    document = compute_baseline(features.astype(float), labels, Group(SINGLE_HOST))
    return baselines.parse(document, "test")


def live(seed: int, rows: int = LIVE_ROWS) -> np.ndarray:
    return sample_data.generate(rows, seed=seed)[1].astype(float)


def checked(features: np.ndarray, scores: np.ndarray | None = None) -> list[statistics.TestResult]:
    captured = Captured(len(FEATURE_NAMES), rows=features.tolist(), scores=[] if scores is None else scores.tolist())
    return compare(sample_baseline(), captured)[0]


def calibrated_scores(rng: np.random.Generator, rows: int) -> np.ndarray:
    """Scores of a calibrated model on undrifted traffic: their mean is the training positive rate."""
    rate = sample_baseline().positive_rate
    return rng.beta(4 * rate, 4 * (1 - rate), rows)


def drifted(results: list[statistics.TestResult]) -> set[str]:
    return {r.name for r in results if r.drifted}


# --- The distributions ------------------------------------------------------------------------

@pytest.mark.parametrize("df", [1, 2, 3, 5, 10, 30, 100])
@pytest.mark.parametrize("x", [0.01, 0.5, 1.0, 2.0, 5.0, 10.0, 40.0, 150.0, 400.0])
def test_chi_square_survival_matches_scipy(df, x):
    assert statistics.chi2_sf(x, df) == pytest.approx(scipy.stats.chi2.sf(x, df), rel=1e-9, abs=1e-300)


@pytest.mark.parametrize("lam", [0.05, 0.3, 0.5, 0.8, 1.0, 1.36, 1.5, 2.0, 3.0])
def test_kolmogorov_survival_matches_scipy(lam):
    assert statistics.kolmogorov_sf(lam) == pytest.approx(scipy.stats.kstwobign.sf(lam), rel=1e-9, abs=1e-12)


def test_binned_ks_is_the_exact_statistic_at_the_edges_and_never_above_the_full_one():
    rng = np.random.default_rng(3)
    base, values = rng.normal(size=5000), rng.normal(0.2, 1.1, size=8000)
    edges = np.linspace(base.min(), base.max(), 11)
    counts, _ = np.histogram(base, edges)
    d, _ = statistics.ks_binned(statistics.Histogram(edges, counts / counts.sum(), base.size, False), values)
    at_edges = max(abs(np.mean(values < e) - np.mean(base < e)) for e in edges[:-1])
    assert d == pytest.approx(max(at_edges, abs(np.mean(values <= edges[-1]) - 1.0)))
    assert d <= scipy.stats.ks_2samp(base, values).statistic + 1e-12


def test_chi_square_homogeneity_matches_scipy_contingency():
    base, live_counts = np.array([400.0, 300.0, 0.0, 300.0]), np.array([380.0, 350.0, 0.0, 270.0])
    statistic, df, p = statistics.chi2_homogeneity(base, live_counts)
    expected = scipy.stats.chi2_contingency(np.vstack([base, live_counts])[:, [0, 1, 3]], correction=False)
    assert (statistic, df) == (pytest.approx(expected.statistic), expected.dof)
    assert p == pytest.approx(expected.pvalue)


@settings(max_examples=200, deadline=None)
@given(values=st.lists(st.one_of(st.floats(-1e6, 1e6), st.just(math.nan)), max_size=60),
       edges=st.lists(st.floats(-1e3, 1e3), min_size=2, max_size=12, unique=True).map(sorted))
def test_live_values_are_binned_by_the_baseline_contracts_rule(values, edges):
    counts = statistics.bin_counts(np.asarray(values, dtype=float), np.asarray(edges))
    expected = baseline_contract.histogram_fractions(values, edges)
    total = counts.sum()
    assert (counts / total if total else counts).tolist() == pytest.approx(expected)


@pytest.mark.parametrize("p_values, rate, rejected", [
    ([0.01, 0.02, 0.03, 0.04, 0.05], 0.05, [True] * 5),  # p_(5) = 0.05 <= 5 * 0.05 / 5
    ([0.001, 0.2, 0.3], 0.05, [True, False, False]),
    ([0.04, 0.01, 0.9], 0.05, [False, True, False]),  # 0.04 > 2 * 0.05 / 3
    ([0.03, 0.01, 0.9], 0.05, [True, True, False]),  # step-up: 0.03 <= 2 * 0.05 / 3
    ([0.2, 0.01, 0.049, 0.5, 0.02], 0.05, [False, True, False, False, True]),
    ([], 0.05, []),
    ([0.06], 0.05, [False]),
])
def test_benjamini_hochberg_rejects_what_its_definition_rejects(p_values, rate, rejected):
    assert statistics.benjamini_hochberg(p_values, rate).tolist() == rejected


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(0, 1), max_size=40), st.sampled_from([0.01, 0.05, 0.1]))
def test_benjamini_hochberg_is_the_largest_passing_rank(p_values, rate):
    """Brute force from the definition: reject p_(1..k) for the largest k with p_(k) <= k*rate/m."""
    ranked = sorted(p_values)
    k = max((i for i in range(1, len(ranked) + 1) if ranked[i - 1] <= i * rate / len(ranked)), default=0)
    expected = [p <= ranked[k - 1] for p in p_values] if k else [False] * len(p_values)
    assert statistics.benjamini_hochberg(p_values, rate).tolist() == expected


# --- Decisions on the sample model's data ----------------------------------------------------

def test_the_baseline_tests_categorical_features_with_chi_square_and_the_rest_with_ks():
    tests = {r.name: r.test for r in checked(live(7))}
    assert tests["contract_type"] == tests["has_internet"] == statistics.CATEGORICAL
    assert tests["monthly_charges"] == tests["total_charges"] == statistics.NUMERIC


def test_the_training_rows_themselves_show_no_drift():
    labels, features = sample_data.generate(BASELINE_ROWS, seed=1)
    results = checked(features.astype(float))
    assert drifted(results) == set()
    assert max(r.effect for r in results) < 1e-9


@settings(max_examples=25, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(2, 10**6), rows=st.integers(200, 5000))
def test_new_draws_from_the_training_distribution_show_no_drift(seed, rows):
    assert drifted(checked(live(seed, rows))) == set()


NUMERIC_FEATURES = ["monthly_charges", "total_charges", "tenure_months", "days_since_last_login"]


@settings(max_examples=25, deadline=None, derandomize=True)
@given(seed=st.integers(2, 10**6), feature=st.sampled_from(NUMERIC_FEATURES), shift=st.floats(0.7, 2.0))
def test_a_planted_mean_shift_is_flagged_and_only_there(seed, feature, shift):
    data = live(seed)
    column = FEATURE_NAMES.index(feature)
    data[:, column] += shift * data[:, column].std()
    assert drifted(checked(data)) == {feature}


@settings(max_examples=25, deadline=None, derandomize=True)
@given(seed=st.integers(2, 10**6), feature=st.sampled_from(["monthly_charges", "total_charges"]),
       factor=st.floats(1.8, 3.0))
def test_a_planted_variance_shift_is_flagged_and_only_there(seed, feature, factor):
    data = live(seed)
    column = FEATURE_NAMES.index(feature)
    centre = np.median(data[:, column])
    data[:, column] = centre + factor * (data[:, column] - centre)
    assert drifted(checked(data)) == {feature}


@settings(max_examples=25, deadline=None, derandomize=True)
@given(seed=st.integers(2, 10**6), share=st.floats(0.75, 0.95))
def test_a_planted_categorical_shift_is_flagged_and_only_there(seed, share):
    """Training has 55% month-to-month contracts; live traffic has `share` of them."""
    data = live(seed)
    rng = np.random.default_rng(seed)
    column = FEATURE_NAMES.index("contract_type")
    data[:, column] = rng.choice(3, size=data.shape[0], p=[share, (1 - share) / 2, (1 - share) / 2])
    assert drifted(checked(data)) == {"contract_type"}


def test_a_shift_in_the_predictions_is_flagged_apart_from_the_features():
    calibrated = calibrated_scores(np.random.default_rng(5), LIVE_ROWS)
    assert drifted(checked(live(11), calibrated)) == set()
    assert drifted(checked(live(11), np.clip(calibrated + 0.15, 0, 1))) == {"prediction"}


def test_a_tiny_but_significant_shift_is_not_an_alarm():
    """With many rows a test rejects shifts nobody cares about: the PSI threshold keeps them quiet."""
    data = live(13, 20000)
    column = FEATURE_NAMES.index("monthly_charges")
    data[:, column] += 0.06 * data[:, column].std()
    results = {r.name: r for r in checked(data)}
    assert results["monthly_charges"].p_value < 0.001
    assert results["monthly_charges"].effect < statistics.PSI_THRESHOLD
    assert not results["monthly_charges"].drifted


def test_the_false_alarm_rate_on_undrifted_data_stays_under_the_stated_level():
    """400 undrifted windows: how often any feature (or the predictions) is flagged. With the
    effect threshold the rate must be under FALSE_DISCOVERY_RATE; so must the rate of the tests
    alone (Benjamini-Hochberg, before the effect threshold), which is what the level states."""
    draws, rows = 400, 1500
    rng = np.random.default_rng(17)
    any_rejected = any_drifted = 0
    for draw in range(draws):
        scores = calibrated_scores(rng, rows)
        results = checked(live(100 + draw, rows), scores)
        any_drifted += bool(drifted(results))
        any_rejected += bool(statistics.benjamini_hochberg([r.p_value for r in results]).any())
    assert any_drifted / draws <= statistics.FALSE_DISCOVERY_RATE
    assert any_rejected / draws <= statistics.FALSE_DISCOVERY_RATE


def test_a_feature_missing_from_every_live_row_is_not_compared():
    data = live(19)
    data[:, FEATURE_NAMES.index("support_calls")] = np.nan
    results = {r.name: r for r in checked(data)}
    assert results["support_calls"].live_count == 0 and not results["support_calls"].drifted
    assert drifted(list(results.values())) == set()
