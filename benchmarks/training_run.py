"""How long the training container takes on the sample data, run directly in Python.

Run by hand (never a timed test):  venv/bin/python benchmarks/training_run.py [--rows N] [--repeat N]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=None, help="sample rows (default: the local runner's)")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    timings = []
    for _ in range(args.repeat):
        with tempfile.TemporaryDirectory() as out:
            command = [sys.executable, "-m", "containers.training.local_run", "--out", out]
            if args.rows:
                command += ["--rows", str(args.rows)]
            started = time.perf_counter()
            subprocess.run(command, cwd=ROOT, check=True, capture_output=True)
            timings.append(time.perf_counter() - started)
            evaluation = json.loads((Path(out) / "output" / "data" / "evaluation.json").read_text())
    metrics = evaluation.get("metrics", evaluation)
    auc = metrics.get("validation:auc")
    print(f"local training run (data + train + artifacts, new process): median {statistics.median(timings):.2f} s "
          f"over {args.repeat} (min {min(timings):.2f}, max {max(timings):.2f}); validation:auc {auc}")


if __name__ == "__main__":
    main()
