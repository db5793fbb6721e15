"""Time the lifecycle rehearsal per step, as a user runs it (a fresh process each time).

    venv/bin/python benchmarks/rehearsal.py [--runs 3]

Each run is `python automation/rehearse.py` in its own process; the step times are the ones its
summary table prints, the wall time is the process's, imports and interpreter start included.
Prints the median of each over the runs, as a Markdown table for benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ROW = re.compile(r"^(?P<name>.+?)\s+(?P<result>ok|WRONG)\s+(?P<seconds>\d+\.\d)$")


def one_run() -> tuple[dict[str, float], float]:
    started = time.monotonic()
    run = subprocess.run([sys.executable, str(ROOT / "automation" / "rehearse.py")], cwd=ROOT, capture_output=True,
                         text=True, env={**os.environ, "PYTHONPATH": str(ROOT)}, check=False)
    wall = time.monotonic() - started
    if run.returncode != 0:
        raise SystemExit(f"the rehearsal failed (exit {run.returncode}):\n{run.stdout[-3000:]}\n{run.stderr[-2000:]}")
    table = run.stdout.split("\nstep ", 1)[1].split("\n\n", 1)[0].splitlines()[1:]
    steps = {m["name"]: float(m["seconds"]) for m in map(ROW.match, table) if m}
    return steps, wall


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    runs = [one_run() for _ in range(args.runs)]
    print(f"| step | median s (of {args.runs}) | min s | max s |")
    print("| --- | --- | --- | --- |")
    for name in runs[0][0]:
        values = [steps[name] for steps, _ in runs]
        print(f"| {name} | {statistics.median(values):.1f} | {min(values):.1f} | {max(values):.1f} |")
    walls = [wall for _, wall in runs]
    print(f"| whole command (wall, process start to exit) | {statistics.median(walls):.1f} | {min(walls):.1f} | {max(walls):.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
