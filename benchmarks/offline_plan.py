"""How long the offline engine takes to plan each shipped stack, and how much it plans.

Run by hand (never a timed test):  venv/bin/python benchmarks/offline_plan.py [--repeat N]

The first plan in a process pays for importing pulumi_aws and loading botocore's SageMaker model;
later plans show the steady cost the test suite pays per plan.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from automation import offline  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=5, help="plans per stack after the first")
    args = parser.parse_args()

    started = time.perf_counter()
    first = offline.plan("dev")
    print(f"first plan (dev, cold imports): {time.perf_counter() - started:.2f} s, {len(first.resources)} resources")
    for stack in ("dev", "prod"):
        timings = []
        for _ in range(args.repeat):
            started = time.perf_counter()
            plan = offline.plan(stack)
            timings.append(time.perf_counter() - started)
        custom = sum(1 for r in plan.resources if r.custom)
        print(f"{stack}: median {statistics.median(timings) * 1000:.0f} ms over {args.repeat} plans "
              f"(min {min(timings) * 1000:.0f}, max {max(timings) * 1000:.0f}); "
              f"{custom} resources, {len(plan.resources) - custom} components/stack")


if __name__ == "__main__":
    main()
