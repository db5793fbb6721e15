"""Training on one host against training on several local processes, on the same data.

Run by hand (never a timed test):
    venv/bin/python benchmarks/training_distributed.py [--rows 1000000] [--hosts 2] [--rounds 100]

Both runs use the image's entry point as SageMaker starts it, on folders laid out by
``containers.training.local_cluster`` (the same train objects: all on the single host, dealt
round robin to the N hosts; the whole validation channel everywhere). Per process it reports wall
time and peak resident memory (``ru_maxrss`` from ``os.wait4``). On one machine the hosts share
its cores (each gets ``cores / hosts`` OpenMP threads, the single host all of them), so the wall
time says little about real hosts; the memory per process is what distribution buys here.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from containers.training import local_cluster  # noqa: E402

SEED = 20240611


def run(roots: dict[str, Path], hosts: int) -> dict:
    """Start every host, wait for each with os.wait4 (its own peak memory), return the figures."""
    env = local_cluster.environment(local_cluster.free_port(), hosts)
    if hosts == 1:
        env.pop("OMP_NUM_THREADS", None)  # the single host uses every core, as on a real instance
    logs = {host: open(root.parent / f"{host}.log", "w", encoding="utf-8") for host, root in roots.items()}  # noqa: SIM115
    started = time.perf_counter()
    processes = local_cluster.start(roots, env, logs)
    figures = {}
    for host, process in processes.items():
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
        figures[host] = {"code": process.returncode, "seconds": time.perf_counter() - started,
                         "peak_mib": usage.ru_maxrss / 1024}
    for handle in logs.values():
        handle.close()
    wall = time.perf_counter() - started
    failed = {host: f for host, f in figures.items() if f["code"] != 0}
    if failed:
        raise SystemExit(f"training failed: {failed}; logs in {next(iter(roots.values())).parent}")
    evaluation = json.loads((roots["algo-1"] / "output" / "data" / "evaluation.json").read_text())
    return {"wall": wall, "hosts": figures, "auc": evaluation["metrics"]["validation:auc"],
            "rounds": evaluation["rounds_trained"], "train_rows": evaluation["rows"]["train"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="sample rows, 80%% of them train (default %(default)s)")
    parser.add_argument("--hosts", type=int, default=2, help="local processes of the multi-host run (default %(default)s)")
    parser.add_argument("--rounds", type=int, default=100, help="boosting rounds, no early stopping (default %(default)s)")
    args = parser.parse_args()
    hyperparameters = {"num_round": str(args.rounds), "early_stopping_rounds": "0"}
    objects = 2 * args.hosts
    print(f"{platform.node()}: {os.cpu_count()} CPUs, Python {platform.python_version()}, load average "
          f"{os.getloadavg()[0]:.2f} at the start; {args.rows} rows in {objects} train objects, {args.rounds} rounds")
    results = {}
    with tempfile.TemporaryDirectory() as scratch:
        for hosts in (1, args.hosts):
            roots = local_cluster.prepare(Path(scratch) / f"hosts-{hosts}", hosts, rows=args.rows, seed=SEED,
                                          objects=objects, hyperparameters=hyperparameters)
            results[hosts] = run(roots, hosts)
    print(f"load average {os.getloadavg()[0]:.2f} at the end")
    print("| run | process | wall s | peak MiB | validation:auc |")
    print("|---|---|---|---|---|")
    for hosts, result in results.items():
        for host, figures in result["hosts"].items():
            print(f"| {hosts} host(s) | {host} | {figures['seconds']:.1f} | {figures['peak_mib']:.0f} | "
                  f"{result['auc']:.4f} |")
    print(f"train rows {results[1]['train_rows']}, rounds {results[1]['rounds']} / {results[args.hosts]['rounds']}")


if __name__ == "__main__":
    main()
