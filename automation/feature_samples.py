"""Sample feature store files from the sample model's data: records to ingest and their labels.

    venv/bin/python -m automation.feature_samples /tmp/churn-features [--rows N] [--end 2024-06-01T00:00:00Z]
        -> records.csv  customer_id, event_time and the features (what ingest/churn-customers/ takes)
           labels.csv   customer_id, churned (what automation/training_set.py joins)

The rows are containers/training/sample_data.py's (same seed, same numbers), each given an
identifier `cust-<n>` and an event time in the week before `--end` (default: now), so a first
deploy has something real to ingest, check for freshness, and build a training set from.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import sys
from collections.abc import Sequence
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from containers.contracts.features import EVENT_TIME_FEATURE, FEATURES, RECORD_ID_FEATURE, TARGET  # noqa: E402
from containers.training.sample_data import DEFAULT_SEED, generate  # noqa: E402
from functions.feature_ingest.schema import RejectedError, format_event_time, parse_event_time  # noqa: E402

WEEK_MINUTES = 7 * 24 * 60


def write(out_dir: Path, rows: int, end: dt.datetime, seed: int = DEFAULT_SEED) -> dict[str, Path]:
    labels, features = generate(rows, seed)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {"records": out_dir / "records.csv", "labels": out_dir / "labels.csv"}
    with open(paths["records"], "w", newline="", encoding="utf-8") as records, \
            open(paths["labels"], "w", newline="", encoding="utf-8") as labelled:
        record_writer, label_writer = csv.writer(records, lineterminator="\n"), csv.writer(labelled, lineterminator="\n")
        record_writer.writerow([RECORD_ID_FEATURE, EVENT_TIME_FEATURE, *(f.name for f in FEATURES)])
        label_writer.writerow([RECORD_ID_FEATURE, TARGET])
        for index, (label, row) in enumerate(zip(labels.tolist(), features.tolist(), strict=True)):
            identifier = f"cust-{index:06d}"
            event_time = end - dt.timedelta(minutes=(index * 37) % WEEK_MINUTES + 1)
            values = [str(int(v)) if f.type == "int" else f"{v:.2f}" for f, v in zip(FEATURES, row, strict=True)]
            record_writer.writerow([identifier, format_event_time(event_time), *values])
            label_writer.writerow([identifier, int(label)])
    return paths


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m automation.feature_samples", description=__doc__.split("\n\n")[0])
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--rows", type=int, default=1000)
    parser.add_argument("--end", help="the newest event time's bound, ISO-8601 with a zone (default: now)")
    args = parser.parse_args(argv)
    try:
        end = parse_event_time(args.end) if args.end else dt.datetime.now(dt.UTC).replace(second=0, microsecond=0)
    except RejectedError as error:
        parser.error(error.detail)
    if args.rows < 1:
        parser.error("--rows must be at least 1")
    for kind, path in write(args.out_dir, args.rows, end).items():
        print(f"{kind}: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
