"""Drift statistics, numpy only: one two-sample test per feature, one for the predictions, and a
multiple-testing correction across them.

The baseline (containers/contracts/baseline.py) keeps a histogram per feature, not the training
rows, so every test compares the live values binned exactly as training binned them with the
baseline's bin fractions and its row count:

- categorical features (int features whose baseline has one bin per integer, such as
  `contract_type`): a chi-square test of homogeneity on the 2 x k table of baseline and live
  counts (bins empty on both sides dropped), p from the chi-square distribution with k - 1
  degrees of freedom;
- numeric features (everything else): the two-sample Kolmogorov-Smirnov statistic D evaluated at
  the baseline's bin edges, p from Kolmogorov's asymptotic distribution with the effective size
  n*m/(n+m) and Stephens' correction (Numerical Recipes, `probks`). D at the edges is at most the
  D over all points, so the test is conservative: binning can only lower the false-alarm rate;
- predictions: the baseline keeps the training data's positive rate only, so the check is the
  mean predicted probability against it (a calibrated model's mean score is its base rate): a
  z-test whose variance includes the baseline's own sampling error.

Every p-value of one check goes into one Benjamini-Hochberg procedure at `FALSE_DISCOVERY_RATE`.
When nothing has drifted, any rejection is false, so the procedure bounds the chance that a check
flags anything at that rate. A test alone would flag trivial shifts once 100,000 rows are
captured, so a rejection also needs an effect that matters: the population stability index of the
feature at least `PSI_THRESHOLD` (0.1: "moderate shift" on the usual scale, below 0.1 "no
significant change", above 0.25 "major shift"), or for the predictions a mean that moved by at
least `PREDICTION_SHIFT_THRESHOLD`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from functions.drift.outcomes import FALSE_DISCOVERY_RATE, PREDICTION_SHIFT_THRESHOLD, PSI_THRESHOLD

# Empty bins get this share before the logarithm of the PSI (the usual smoothing).
PSI_EPSILON = 1e-4

CATEGORICAL = "chi-square"
NUMERIC = "kolmogorov-smirnov"
PREDICTION = "mean-z"


@dataclass(frozen=True)
class Histogram:
    """A feature's baseline: bin edges (increasing), bin fractions (sum 1) and the rows behind them."""

    edges: np.ndarray
    fractions: np.ndarray
    count: int
    categorical: bool


@dataclass(frozen=True)
class TestResult:
    name: str  # the feature, or "prediction"
    test: str  # CATEGORICAL, NUMERIC or PREDICTION
    statistic: float
    p_value: float
    effect: float  # PSI for features, |mean - baseline rate| for the predictions
    effect_threshold: float
    live_count: int
    drifted: bool = False  # set by decide()

    def as_dict(self) -> dict[str, object]:
        return {"name": self.name, "test": self.test, "statistic": self.statistic, "p_value": self.p_value,
                "effect": self.effect, "effect_threshold": self.effect_threshold, "live_count": self.live_count,
                "drifted": self.drifted}


def bin_counts(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Live values binned by the baseline's rule (contracts/baseline.py `bin_index`): half-open bins,
    the last one closed, values outside the training range counted in the first or last bin; NaN
    (missing) left out."""
    present = values[~np.isnan(values)]
    index = np.searchsorted(edges, present, side="right") - 1
    np.clip(index, 0, len(edges) - 2, out=index)
    return np.bincount(index, minlength=len(edges) - 1).astype(float)


def psi(baseline_fractions: np.ndarray, live_fractions: np.ndarray) -> float:
    """Population stability index: sum of (live - base) * ln(live / base) over the bins."""
    base = np.maximum(baseline_fractions, PSI_EPSILON)
    live = np.maximum(live_fractions, PSI_EPSILON)
    return float(np.sum((live - base) * np.log(live / base)))


def kolmogorov_sf(lam: float) -> float:
    """P(K > lam) for Kolmogorov's limiting distribution: 2 * sum (-1)^(j-1) exp(-2 j^2 lam^2)."""
    if lam < 0.2:  # the series converges slowly here, and the value is 1 to 15 digits
        return 1.0
    j = np.arange(1, 101)
    terms = 2.0 * (-1.0) ** (j - 1) * np.exp(-2.0 * j * j * lam * lam)
    return float(min(max(np.sum(terms), 0.0), 1.0))


def ks_binned(histogram: Histogram, values: np.ndarray) -> tuple[float, float]:
    """D between the baseline's and the live empirical CDFs at the baseline's edges, and its p.

    At an edge e the baseline CDF is the share of training values below e (the fractions of the
    bins before it); the last edge is closed, so there the share at or below it (1)."""
    present = np.sort(values[~np.isnan(values)])
    n = present.size
    base_cdf = np.concatenate(([0.0], np.cumsum(histogram.fractions)))
    base_cdf[-1] = 1.0
    live_cdf = np.searchsorted(present, histogram.edges, side="left") / n
    live_cdf[-1] = np.searchsorted(present, histogram.edges[-1], side="right") / n
    d = float(np.max(np.abs(live_cdf - base_cdf)))
    effective = math.sqrt(n * histogram.count / (n + histogram.count))
    return d, kolmogorov_sf((effective + 0.12 + 0.11 / effective) * d)


def chi2_sf(statistic: float, df: int) -> float:
    """P(X > statistic) for a chi-square distribution: the regularized upper incomplete gamma
    Q(df/2, statistic/2), by its series below a+1 and its continued fraction above (Numerical
    Recipes, `gammq`)."""
    if statistic <= 0:
        return 1.0
    a, x = df / 2.0, statistic / 2.0
    log_prefactor = a * math.log(x) - x - math.lgamma(a)
    if x < a + 1.0:
        term = total = 1.0 / a
        denominator = a
        for _ in range(10_000):
            denominator += 1.0
            term *= x / denominator
            total += term
            if abs(term) < abs(total) * 1e-15:
                break
        return float(min(max(1.0 - total * math.exp(log_prefactor), 0.0), 1.0))
    tiny = 1e-300
    b = x + 1.0 - a
    c, d = 1.0 / tiny, 1.0 / b
    h = d
    for i in range(1, 10_000):
        an = -i * (i - a)
        b += 2.0
        d = an * d + b
        d = tiny if abs(d) < tiny else d
        c = b + an / c
        c = tiny if abs(c) < tiny else c
        d = 1.0 / d
        step = d * c
        h *= step
        if abs(step - 1.0) < 1e-15:
            break
    return float(min(max(math.exp(log_prefactor) * h, 0.0), 1.0))


def chi2_homogeneity(baseline_counts: np.ndarray, live_counts: np.ndarray) -> tuple[float, int, float]:
    """Pearson's chi-square for a 2 x k table (rows: baseline, live); columns empty in both rows
    are dropped. Returns (statistic, degrees of freedom, p)."""
    table = np.vstack([baseline_counts, live_counts])
    table = table[:, table.sum(axis=0) > 0]
    df = table.shape[1] - 1
    if df < 1:
        return 0.0, 0, 1.0
    expected = table.sum(axis=1, keepdims=True) * table.sum(axis=0, keepdims=True) / table.sum()
    statistic = float(np.sum((table - expected) ** 2 / expected))
    return statistic, df, chi2_sf(statistic, df)


def feature_test(name: str, histogram: Histogram, values: np.ndarray) -> TestResult:
    """The feature's test (chi-square or KS) and its PSI, before the correction."""
    counts = bin_counts(values, histogram.edges)
    live = int(counts.sum())
    if live == 0:  # every live value missing: nothing to compare, nothing flagged
        return TestResult(name, CATEGORICAL if histogram.categorical else NUMERIC, 0.0, 1.0, 0.0, PSI_THRESHOLD, 0)
    psi_value = psi(histogram.fractions, counts / live)
    if histogram.categorical:
        statistic, _, p = chi2_homogeneity(np.round(histogram.fractions * histogram.count), counts)
        return TestResult(name, CATEGORICAL, statistic, p, psi_value, PSI_THRESHOLD, live)
    statistic, p = ks_binned(histogram, values)
    return TestResult(name, NUMERIC, statistic, p, psi_value, PSI_THRESHOLD, live)


def prediction_test(scores: np.ndarray, positive_rate: float, baseline_rows: int) -> TestResult:
    """Mean predicted probability against the training positive rate (two-sided z-test)."""
    n = scores.size
    mean = float(scores.mean())
    variance = float(scores.var()) / n + positive_rate * (1.0 - positive_rate) / baseline_rows
    z = (mean - positive_rate) / math.sqrt(variance) if variance > 0 else 0.0
    p = math.erfc(abs(z) / math.sqrt(2.0))
    return TestResult("prediction", PREDICTION, z, p, abs(mean - positive_rate), PREDICTION_SHIFT_THRESHOLD, n)


def benjamini_hochberg(p_values: Sequence[float], rate: float = FALSE_DISCOVERY_RATE) -> np.ndarray:
    """Which hypotheses the Benjamini-Hochberg step-up procedure rejects at false discovery `rate`:
    the k smallest p-values, k the largest rank with p_(k) <= k * rate / m."""
    p = np.asarray(p_values, dtype=float)
    m = p.size
    rejected = np.zeros(m, dtype=bool)
    if m == 0:
        return rejected
    order = np.argsort(p, kind="stable")
    passing = np.nonzero(p[order] <= rate * np.arange(1, m + 1) / m)[0]
    if passing.size:
        rejected[order[: passing[-1] + 1]] = True
    return rejected


def decide(results: Sequence[TestResult], rate: float = FALSE_DISCOVERY_RATE) -> list[TestResult]:
    """The results with `drifted` set: rejected by Benjamini-Hochberg across all of them, and an
    effect at least its threshold."""
    rejected = benjamini_hochberg([r.p_value for r in results], rate)
    return [TestResult(r.name, r.test, r.statistic, r.p_value, r.effect, r.effect_threshold, r.live_count,
                       bool(reject and r.effect >= r.effect_threshold))
            for r, reject in zip(results, rejected, strict=True)]
