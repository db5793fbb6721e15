"""The drift baseline (``contracts/baseline.py``'s format) of the WHOLE training set, on one host or many.

On a multi-host job each host holds only its shard, yet the baseline must describe all the
data the model was trained on, and must not depend on how the data was split: the same rows
give the same ``baseline.json`` on one host or on several, bit for bit. So every statistic is
computed from quantities whose reduction across hosts is exact and order-free:

- counts, minimum, maximum and histogram counts: integer sums and min/max (the bin edges come
  from the global minimum and maximum, so every host bins alike);
- mean and std: exact sums. A double is an integer mantissa times a power of two, so each
  host adds its mantissas per binary exponent in int64 (split in two halves so 2**36 rows
  cannot overflow), the hosts add those integers, and the total becomes one correctly rounded
  value. std is the population std: the exact sum of each value's squared deviation from that
  mean (each square rounded as numpy rounds it);
- quantiles: numpy's default "linear" method needs the order statistics at two ranks per
  quantile; each is found by bisection over the doubles (ordered as unsigned integers), asking
  all hosts at once how many of their values are at most the candidate (one integer allreduce
  per step, at most 64 steps for all features together). The interpolation between the two is
  numpy's own arithmetic (``numpy/lib/_function_base_impl.py``: ``_quantile``, ``_lerp``).

Nothing needs the other hosts' values, so no host ever holds more than its own shard.
Single-host training runs exactly this code with a one-host ``Group``.
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Any

import numpy as np

from containers.contracts import baseline as baseline_format
from containers.contracts.features import FEATURE_NAMES, FEATURES, TARGET
from containers.training.distributed import Group

_MANTISSA_BITS = 53  # significant bits of a double
_EXPONENT_OFFSET = 1074  # np.frexp gives finite doubles exponents from -1073 to 1024
_EXPONENT_SLOTS = _EXPONENT_OFFSET + 1025
_LOW_BITS = 26  # mantissas are added as two halves: 2**27 * 2**36 rows still fits in an int64
_SIGN = np.uint64(1 << 63)


def compute_baseline(features: np.ndarray, labels: np.ndarray, group: Group) -> dict[str, Any]:
    """Per-feature statistics and histograms of the training rows of every host in ``group``."""
    columns = [np.sort(column[~np.isnan(column)]) for column in np.asarray(features, dtype=np.float64).T]
    rows, positives = (int(n) for n in group.sum(np.array([labels.size, np.count_nonzero(labels == 1)], dtype=np.int64)))
    counts = group.sum(np.array([column.size for column in columns], dtype=np.int64))
    # + 0.0: -0.0 and 0.0 compare equal, so which one a host sorts first must not matter
    lows = group.minimum(np.array([column[0] if column.size else np.inf for column in columns])) + 0.0
    highs = group.maximum(np.array([column[-1] if column.size else -np.inf for column in columns])) + 0.0
    means = [_ratio(total, count) for total, count in zip(_exact_sums(columns, group), counts, strict=True)]
    squares = _exact_sums([_squared_deviations(column, mean) for column, mean in zip(columns, means, strict=True)], group)
    stds = [math.sqrt(_ratio(total, count)) if count else None for total, count in zip(squares, counts, strict=True)]
    quantiles = _quantiles(columns, counts, lows, highs, group)
    edges = [_bin_edges(f.type, low, high) if count else None
             for f, low, high, count in zip(FEATURES, lows, highs, counts, strict=True)]
    histograms = _histograms(columns, edges, group)

    entries: dict[str, Any] = {}
    for index, feature in enumerate(FEATURES):
        count = int(counts[index])
        entry: dict[str, Any] = {"type": feature.type, "count": count, "missing": rows - count}
        if count == 0:
            entry.update(mean=None, std=None, min=None, max=None, quantiles={})
            entry["histogram"] = {"bin_edges": [], "counts": []}
        else:
            entry.update(mean=means[index], std=stds[index], min=float(lows[index]), max=float(highs[index]),
                         quantiles=dict(zip((key for key, _ in baseline_format.QUANTILES), quantiles[index], strict=True)))
            entry["histogram"] = {
                "bin_edges": [float(e) for e in edges[index]],
                "counts": [float(c) for c in histograms[index] / count],
            }
        entries[feature.name] = entry
    return {
        "format_version": baseline_format.FORMAT_VERSION,
        "target": TARGET,
        "row_count": rows,
        "positive_rate": positives / rows,
        "feature_names": list(FEATURE_NAMES),
        "features": entries,
    }


def _bin_edges(kind: str, low: float, high: float) -> np.ndarray:
    # One bin per integer needs k - 0.5 and k + 0.5 as doubles, exact only below 2**52.
    if kind == "int" and high - low + 1 <= baseline_format.MAX_UNIT_BINS and max(abs(low), abs(high)) < 2.0**52:
        return np.arange(low - 0.5, high + 1.0, 1.0)
    if high == low:
        return np.array([low - 0.5, high + 0.5])
    return np.linspace(low, high, baseline_format.DEFAULT_BINS + 1)


def _histograms(columns: list[np.ndarray], edges: list[np.ndarray | None], group: Group) -> list[np.ndarray]:
    local = [np.histogram(column, bins=e)[0] if e is not None else np.zeros(0, dtype=np.int64)
             for column, e in zip(columns, edges, strict=True)]
    sizes = [part.size for part in local]
    total = group.sum(np.concatenate(local).astype(np.int64))
    return np.split(total, np.cumsum(sizes)[:-1])


# --------------------------------------------------------------------------- exact sums


def _squared_deviations(column: np.ndarray, mean: float | None) -> np.ndarray:
    deviations = column - (0.0 if mean is None else mean)  # no mean: no values anywhere, the column is empty
    return deviations * deviations


def _mantissa_buckets(values: np.ndarray) -> np.ndarray:
    """``values``' sum, exactly, as int64 mantissa halves added per binary exponent: shape (2, slots)."""
    mantissas, exponents = np.frexp(values)
    integers = np.ldexp(mantissas, _MANTISSA_BITS).astype(np.int64)  # exact: 53 significant bits
    slots = exponents + _EXPONENT_OFFSET
    buckets = np.zeros((2, _EXPONENT_SLOTS), dtype=np.int64)
    np.add.at(buckets[0], slots, integers >> _LOW_BITS)
    np.add.at(buckets[1], slots, integers & ((1 << _LOW_BITS) - 1))
    return buckets


def _exact_sums(columns: list[np.ndarray], group: Group) -> list[Fraction | float]:
    """Each column's sum over every host, exactly (one allreduce for all columns).

    Feature values are finite (``features.parse_value``), but the square of one beyond about
    1e154 is not: such a column's sum is infinite, as numpy's would be.
    """
    overflowed = group.sum(np.array([np.count_nonzero(~np.isfinite(column)) for column in columns], dtype=np.int64))
    buckets = group.sum(np.stack([_mantissa_buckets(np.where(np.isfinite(column), column, 0.0)) for column in columns]))
    sums: list[Fraction | float] = []
    for (high, low), infinite in zip(buckets, overflowed, strict=True):
        if infinite:
            sums.append(math.inf)
            continue
        total = Fraction(0)
        for slot in np.flatnonzero(high | low):
            mantissa = (int(high[slot]) << _LOW_BITS) + int(low[slot])
            total += mantissa * Fraction(2) ** (int(slot) - _EXPONENT_OFFSET - _MANTISSA_BITS)
        sums.append(total)
    return sums


def _ratio(total: Fraction | float, count: int) -> float | None:
    """``total / count`` correctly rounded (Fraction to float divides integers, which Python rounds correctly)."""
    return float(total / int(count)) if count else None


# --------------------------------------------------------------------------- quantiles


def _keys(values: np.ndarray) -> np.ndarray:
    """Doubles as unsigned integers in the same order (-0.0 just below 0.0)."""
    bits = np.asarray(values, dtype=np.float64).view(np.uint64)
    return np.where(bits & _SIGN, ~bits, bits | _SIGN)


def _values(keys: np.ndarray) -> np.ndarray:
    bits = np.where(keys & _SIGN, keys ^ _SIGN, ~keys)
    return bits.view(np.float64) + 0.0  # -0.0 and 0.0 count alike; report 0.0 either way


def _linear_points(count: int) -> list[tuple[int, int, float]]:
    """For each quantile, numpy's "linear" method: the two ranks it interpolates between and the weight."""
    points = []
    for _, probability in baseline_format.QUANTILES:
        virtual = (count - 1) * probability
        below = math.floor(virtual)
        if virtual >= count - 1:
            below = above = count - 1
        else:
            above = below + 1
        points.append((below, above, virtual - below))
    return points


def _lerp(below: float, above: float, weight: float) -> float:
    difference = above - below
    return above - difference * (1 - weight) if weight >= 0.5 else below + difference * weight


def _quantiles(columns: list[np.ndarray], counts: np.ndarray, lows: np.ndarray, highs: np.ndarray,
               group: Group) -> list[list[float]]:
    points = [_linear_points(int(count)) if count else [] for count in counts]
    ranks = np.array([[rank for below, above, _ in p for rank in (below, above)] if p else
                      [0] * 2 * len(baseline_format.QUANTILES) for p in points], dtype=np.int64)
    stats = _order_statistics(columns, ranks, lows, highs, counts, group)
    result = []
    for index, feature_points in enumerate(points):
        pairs = stats[index].reshape(-1, 2) if feature_points else []
        result.append([_lerp(float(lo), float(hi), weight) for (lo, hi), (_, _, weight) in zip(pairs, feature_points, strict=True)])
    return result


def _order_statistics(columns: list[np.ndarray], ranks: np.ndarray, lows: np.ndarray, highs: np.ndarray,
                      counts: np.ndarray, group: Group) -> np.ndarray:
    """The values at 0-based ``ranks`` (features x ranks) of every host's data together.

    The value at rank k is the smallest v with "values <= v" counting at least k + 1 over all
    hosts; it lies between the global minimum and maximum, so bisecting their integer keys finds
    it. Every host holds the same bounds after each allreduce, so all take the same steps.
    """
    present = (counts > 0)[:, None]
    low_keys = np.where(present, _keys(np.where(counts > 0, lows, 0.0))[:, None], 0).astype(np.uint64)
    high_keys = np.where(present, _keys(np.where(counts > 0, highs, 0.0))[:, None], 0).astype(np.uint64)
    low_keys = np.broadcast_to(low_keys, ranks.shape).copy()
    high_keys = np.broadcast_to(high_keys, ranks.shape).copy()
    while (low_keys < high_keys).any():
        middle = low_keys + (high_keys - low_keys) // np.uint64(2)
        candidates = _values(middle)
        at_most = np.stack([np.searchsorted(column, candidates[index], side="right")
                            for index, column in enumerate(columns)]).astype(np.int64)
        enough = group.sum(at_most) >= ranks + 1
        high_keys = np.where(enough, middle, high_keys)
        low_keys = np.where(enough, low_keys, middle + np.uint64(1))
    return _values(low_keys)
