"""Deterministic synthetic data for the sample churn model.

A fresh environment has no data of its own, yet every part of the platform (training,
registry, endpoint, drift detection) needs something real to act on, offline and on a first
deploy. This generator makes that data from a fixed seed: churn probability is a logistic
function of the features plus noise, so a model learns a real signal (validation AUC around
0.85) without a perfect score that would hide bugs.

CLI (SageMaker channel layout, CSV with a header row, label column ``churned`` first)::

    python -m containers.training.sample_data OUT_DIR [--rows N] [--seed S] [--objects K]
        -> OUT_DIR/train/train.csv and OUT_DIR/validation/validation.csv
           (with --objects K > 1: OUT_DIR/train/part-00000.csv ... part-<K-1>.csv, the same rows in
           K objects of near-equal size, what a multi-host job's ShardedByS3Key hands out)

The same seed, row count and numpy version give byte-identical files.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from containers.contracts.features import CSV_COLUMNS, FEATURE_NAMES, FEATURES

DEFAULT_ROWS = 5000
DEFAULT_SEED = 20240611
DEFAULT_VALIDATION_FRACTION = 0.2


def generate(rows: int, seed: int = DEFAULT_SEED) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(labels, features)``: int labels of shape (rows,), features (rows, n) in model order.

    Every random draw happens in a fixed order from one ``default_rng(seed)`` stream; change
    the order and every downstream baseline changes, so append new draws at the end.
    """
    if rows < 1:
        raise ValueError(f"rows must be >= 1, got {rows}")
    rng = np.random.default_rng(seed)
    tenure = rng.integers(0, 73, rows)
    contract = rng.choice(3, size=rows, p=[0.55, 0.25, 0.20])
    has_internet = (rng.random(rows) < 0.7).astype(np.int64)
    num_products = 1 + rng.binomial(5, 0.3, rows)
    monthly = np.round(
        np.clip(
            20.0 + 25.0 * has_internet + 9.0 * num_products + rng.normal(0.0, 8.0, rows),
            18.0,
            150.0,
        ),
        2,
    )
    total = np.round(monthly * tenure * rng.uniform(0.92, 1.04, rows), 2)
    support_calls = rng.poisson(1.2, rows)
    late_payments = rng.poisson(0.4 + 0.6 * (contract == 0), rows)
    days_since_login = np.minimum(rng.geometric(1.0 / 12.0, rows) - 1, 365)
    noise = rng.normal(0.0, 0.75, rows)

    logit = (
        -0.3
        - 0.07 * tenure
        + 0.045 * (monthly - 65.0)
        + 0.6 * support_calls
        - 1.35 * (contract == 1)
        - 2.7 * (contract == 2)
        - 0.45 * (num_products - 1)
        + 0.5 * has_internet
        + 0.7 * late_payments
        + 0.045 * days_since_login
        + noise
    )
    probability = 1.0 / (1.0 + np.exp(-logit))
    labels = (rng.random(rows) < probability).astype(np.int64)

    columns = {
        "tenure_months": tenure,
        "monthly_charges": monthly,
        "total_charges": total,
        "support_calls": support_calls,
        "contract_type": contract,
        "num_products": num_products,
        "has_internet": has_internet,
        "late_payments": late_payments,
        "days_since_last_login": days_since_login,
    }
    missing = set(FEATURE_NAMES) - set(columns)
    if missing:  # features.py grew a feature this generator does not know yet
        raise RuntimeError(f"sample_data does not generate features: {sorted(missing)}")
    features = np.column_stack([columns[name].astype(np.float64) for name in FEATURE_NAMES])
    return labels, features


def to_csv(labels: np.ndarray, features: np.ndarray) -> str:
    """CSV text with a header; ints without decimals, floats with two, so output is stable."""
    formats = ["{:d}" if f.type == "int" else "{:.2f}" for f in FEATURES]
    lines = [",".join(CSV_COLUMNS)]
    for label, row in zip(labels.tolist(), features.tolist(), strict=True):
        cells = [str(int(label))]
        cells.extend(fmt.format(int(v) if fmt == "{:d}" else v) for fmt, v in zip(formats, row, strict=True))
        lines.append(",".join(cells))
    return "\n".join(lines) + "\n"


def write_channels(
    out_dir: Path,
    rows: int = DEFAULT_ROWS,
    seed: int = DEFAULT_SEED,
    validation_fraction: float = DEFAULT_VALIDATION_FRACTION,
) -> dict[str, Path]:
    """Write ``train/train.csv`` and ``validation/validation.csv`` under ``out_dir``.

    The layout is SageMaker's channel layout, so ``out_dir`` can be ``/opt/ml/input/data``
    or an S3 prefix's local mirror. Returns the written file per channel.
    """
    written = write_objects(out_dir, rows, seed, validation_fraction, objects=1)
    return {channel: paths[0] for channel, paths in written.items()}


def write_objects(
    out_dir: Path,
    rows: int = DEFAULT_ROWS,
    seed: int = DEFAULT_SEED,
    validation_fraction: float = DEFAULT_VALIDATION_FRACTION,
    objects: int = 1,
) -> dict[str, list[Path]]:
    """Like ``write_channels``, with the train rows split in order into ``objects`` files of near-equal size.

    A multi-host job's ShardedByS3Key gives each host whole objects, so the train prefix needs at
    least one object per host; the rows are the same whatever the split (read back in name order
    they are ``write_channels``' train.csv). Returns the written files per channel.
    """
    if not 0.0 < validation_fraction < 1.0:
        raise ValueError(f"validation_fraction must be in (0, 1), got {validation_fraction}")
    labels, features = generate(rows, seed)
    n_validation = max(1, int(round(rows * validation_fraction)))
    n_train = rows - n_validation
    if n_train < 1:
        raise ValueError(f"{rows} rows leave no training rows; use more rows")
    if not 1 <= objects <= n_train:
        raise ValueError(f"objects must be between 1 and the {n_train} training rows, got {objects}")
    bounds = [n_train * i // objects for i in range(objects + 1)]
    train_parts = [(f"part-{i:05d}.csv" if objects > 1 else "train.csv", slice(bounds[i], bounds[i + 1])) for i in range(objects)]
    written: dict[str, list[Path]] = {"train": [], "validation": []}
    for channel, name, part in [*(("train", *p) for p in train_parts), ("validation", "validation.csv", slice(n_train, rows))]:
        path = Path(out_dir) / channel / name
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "w", encoding="utf-8", newline="") as handle:
            handle.write(to_csv(labels[part], features[part]))
        written[channel].append(path)
    return written


def main(argv: Sequence[str] | None = None) -> int:
    """CLI entry point; prints the written files."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir", type=Path, help="folder that receives train/ and validation/")
    parser.add_argument("--rows", type=int, default=DEFAULT_ROWS, help="total rows (default %(default)s)")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="random seed (default %(default)s)")
    parser.add_argument(
        "--validation-fraction",
        type=float,
        default=DEFAULT_VALIDATION_FRACTION,
        help="share of rows in the validation channel (default %(default)s)",
    )
    parser.add_argument("--objects", type=int, default=1, help="train objects to split the rows into (default %(default)s)")
    args = parser.parse_args(argv)
    try:
        written = write_objects(args.out_dir, args.rows, args.seed, args.validation_fraction, args.objects)
    except ValueError as exc:
        parser.error(str(exc))
    for channel, paths in written.items():
        for path in paths:
            print(f"{channel}: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
