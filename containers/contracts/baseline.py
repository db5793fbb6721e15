"""The training-data baseline that drift detection compares live traffic against.

The trainer writes ``baseline.json`` next to ``evaluation.json`` (``/opt/ml/output/data``)
and into the model folder, so every model version carries the statistics of exactly the
data it was trained on. Format (version 1)::

    {
      "format_version": 1,
      "target": "churned",
      "row_count": 4000,                  # training rows
      "positive_rate": 0.27,              # share of label 1 in the training data
      "feature_names": ["tenure_months", ...],      # model order (features.FEATURE_NAMES)
      "features": {
        "tenure_months": {
          "type": "int",                  # "int" or "float", from features.py
          "count": 4000,                  # non-missing values
          "missing": 0,                   # empty cells (NaN)
          "mean": 23.1, "std": 17.9,      # std is the population std (ddof=0)
          "min": 0.0, "max": 72.0,
          "quantiles": {"p01": 0.0, "p05": 1.0, "p10": 2.0, "p25": 8.0, "p50": 20.0,
                        "p75": 36.0, "p90": 50.0, "p95": 57.0, "p99": 67.0},
          "histogram": {
            "bin_edges": [0.0, 7.2, ..., 72.0],     # len(counts) + 1, increasing
            "counts": [0.21, 0.15, ...]             # fractions of "count"; they sum to 1
          }
        },
        ...
      }
    }

Quantiles use numpy's default (linear) interpolation. Histogram bins: an integer feature
with at most ``MAX_UNIT_BINS`` distinct integer values between its min and max gets one bin
per integer (edges at k - 0.5), so categorical codes such as ``contract_type`` keep one
bin per category; every other feature gets ``DEFAULT_BINS`` equal-width bins from min to
max. Bins are half-open ``[lo, hi)`` except the last, which is closed (numpy's rule).

Binning live data: use ``histogram_fractions`` below. Live values outside the training
range are counted in the first or last bin (so the fractions still sum to 1 and a shift
towards the edges shows up as drift); missing values are left out. It is standard library
only, so a drift-detection Lambda can import it without numpy.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Iterable, Sequence

FORMAT_VERSION = 1
DEFAULT_BINS = 10
MAX_UNIT_BINS = 20
QUANTILES: tuple[tuple[str, float], ...] = (
    ("p01", 0.01),
    ("p05", 0.05),
    ("p10", 0.10),
    ("p25", 0.25),
    ("p50", 0.50),
    ("p75", 0.75),
    ("p90", 0.90),
    ("p95", 0.95),
    ("p99", 0.99),
)
"""Quantile keys of a feature's baseline and the probability each stands for."""


def bin_index(value: float, bin_edges: Sequence[float]) -> int:
    """The histogram bin of one value; out-of-range values go to the first or last bin."""
    bins = len(bin_edges) - 1
    if bins < 1:
        raise ValueError("a histogram needs at least two bin edges")
    index = bisect_right(bin_edges, value) - 1
    return min(max(index, 0), bins - 1)


def histogram_fractions(values: Iterable[float | None], bin_edges: Sequence[float]) -> list[float]:
    """Bin live values exactly as the baseline was binned, as fractions summing to 1.

    Missing values (None or NaN) are skipped; if nothing is left every fraction is 0.
    """
    counts = [0] * (len(bin_edges) - 1)
    total = 0
    for value in values:
        if value is None or (isinstance(value, float) and math.isnan(value)):
            continue
        counts[bin_index(float(value), bin_edges)] += 1
        total += 1
    if total == 0:
        return [0.0] * len(counts)
    return [count / total for count in counts]
