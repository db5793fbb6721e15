"""A multi-host training job on one machine: one process per host, each with its own /opt/ml folder.

    python -m containers.training.local_cluster --out /tmp/ml-cluster --hosts 2 [--rows N] [--seed S]
        [--objects K] [--hyperparameter num_round=50 ...]

What SageMaker does for a job with several instances, done locally: the sample data is written
as K train objects (default: two per host); each host gets its own ``<out>/algo-N`` folder with
its share of the train objects (``ShardedByS3Key``: SageMaker documents only "approximately 1/n
of the number of S3 objects" per host; here the sorted objects are dealt round robin), the whole
validation channel (``FullyReplicated``), ``hyperparameters.json``, and ``resourceconfig.json``
naming it among all hosts. Then every host runs the image's entry point (``bin/train train``)
as its own process, the tracker on 127.0.0.1 and a free port instead of the first host's name
and port 9099, and the command waits for all of them. Each host's output goes to
``<out>/algo-N.log``; the model and artifacts are in the leader's folder, ``<out>/algo-1``.
The exit code is the first failing host's, 0 when all succeeded.

``--out`` must be empty, missing, or an earlier local run (as for ``local_run``).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO

from containers.contracts.hyperparameters import Hyperparameters
from containers.training import distributed, local_run, sample_data
from containers.training.train import SageMakerPaths

REPO = Path(__file__).resolve().parents[2]
ENTRYPOINT = REPO / "containers" / "training" / "bin" / "train"
LOOPBACK = "127.0.0.1"
OBJECTS_PER_HOST = 2


def host_names(count: int) -> list[str]:
    """SageMaker's names for a job's hosts."""
    return [f"algo-{i}" for i in range(1, count + 1)]


def assign_objects(objects: Sequence[Path], hosts: Sequence[str]) -> dict[str, list[Path]]:
    """Each host's train objects under ShardedByS3Key, dealt round robin over the sorted object names."""
    shares: dict[str, list[Path]] = {host: [] for host in hosts}
    for index, path in enumerate(sorted(objects)):
        shares[hosts[index % len(hosts)]].append(path)
    return shares


def prepare(out: Path, hosts: int, *, rows: int = sample_data.DEFAULT_ROWS, seed: int = sample_data.DEFAULT_SEED,
            objects: int | None = None, hyperparameters: Mapping[str, str] | None = None) -> dict[str, Path]:
    """Write every host's /opt/ml folder under ``out``; returns each host's root, leader first."""
    out = Path(out)
    local_run.prepare_root(out)  # refuses folders that are not ours; clears input/model/output
    for stale in [*out.glob("algo-*"), out / "data"]:  # an earlier cluster run's hosts, logs and data
        if stale.is_dir():
            shutil.rmtree(stale)
        elif stale.exists():
            stale.unlink()
    names = host_names(hosts)
    written = sample_data.write_objects(out / "data", rows=rows, seed=seed,
                                        objects=objects or OBJECTS_PER_HOST * hosts)
    shares = assign_objects(written["train"], names)
    strings = {**Hyperparameters().as_strings(), **local_run.LOCAL_DEFAULT_HYPERPARAMETERS, **(hyperparameters or {})}
    roots = {}
    for name in names:
        paths = SageMakerPaths(out / name)
        for channel, files in (("train", shares[name]), ("validation", written["validation"])):
            folder = paths.channel(channel)
            folder.mkdir(parents=True, exist_ok=True)
            for file in files:
                shutil.copyfile(file, folder / file.name)
        _write_config(paths, name, names, strings)
        roots[name] = paths.root
    return roots


def _write_config(paths: SageMakerPaths, host: str, hosts: Sequence[str], hyperparameters: Mapping[str, str]) -> None:
    paths.hyperparameters.parent.mkdir(parents=True, exist_ok=True)
    paths.hyperparameters.write_text(json.dumps(dict(hyperparameters), indent=2) + "\n", encoding="utf-8")
    distribution = {"train": "ShardedByS3Key", "validation": "FullyReplicated"}
    input_data_config = {channel: {"ContentType": "text/csv", "TrainingInputMode": "File", "S3DistributionType": kind}
                         for channel, kind in distribution.items()}
    (paths.hyperparameters.parent / "inputdataconfig.json").write_text(json.dumps(input_data_config, indent=2) + "\n")
    resource_config = {"current_host": host, "hosts": list(hosts), "network_interface_name": "lo"}
    paths.resource_config.write_text(json.dumps(resource_config, indent=2) + "\n", encoding="utf-8")


def free_port() -> int:
    """A port the OS has just found free on loopback (another process may still take it; rare)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((LOOPBACK, 0))
        return probe.getsockname()[1]


def environment(port: int, hosts: int, timeout_seconds: int = distributed.DEFAULT_TIMEOUT_SECONDS) -> dict[str, str]:
    """A host process's environment: this checkout's code, the tracker on loopback, and a share of
    the cores (OMP_NUM_THREADS, unless set): hosts that each use every core of one machine make
    OpenMP threads spin against each other while a host waits for the others' histograms."""
    return {
        "OMP_NUM_THREADS": str(max(1, (os.cpu_count() or 1) // hosts)),
        **os.environ,
        "PYTHONPATH": str(REPO),
        "PYTHONUNBUFFERED": "1",
        distributed.TRACKER_ADDRESS_ENV: LOOPBACK,
        distributed.TRACKER_PORT_ENV: str(port),
        distributed.TIMEOUT_ENV: str(timeout_seconds),
    }


def start(roots: Mapping[str, Path], env: Mapping[str, str], logs: Mapping[str, IO[str]] | None = None,
          ) -> dict[str, subprocess.Popen]:
    """Start one process per host, as SageMaker starts the image (``train`` argument, the root moved)."""
    return {
        host: subprocess.Popen(
            [sys.executable, str(ENTRYPOINT), "train", "--root", str(root)],
            cwd=root, env=dict(env), stdout=logs[host] if logs else None, stderr=subprocess.STDOUT if logs else None,
            text=True,
        )
        for host, root in roots.items()
    }


def first_failure(codes: Mapping[str, int]) -> int:
    """The job's exit code: the first failing host's in host order, else 0."""
    return next((code for code in codes.values() if code != 0), 0)


def main(argv: Sequence[str] | None = None) -> int:
    """CLI entry point: prepare every host's folder, run them, print each host's result."""
    parser = argparse.ArgumentParser(description="Run a multi-host training job locally, one process per host.")
    parser.add_argument("--out", type=Path, required=True, help="folder that receives algo-1/, algo-2/, ...")
    parser.add_argument("--hosts", type=int, default=2, help="number of hosts (default %(default)s)")
    parser.add_argument("--rows", type=int, default=sample_data.DEFAULT_ROWS, help="sample rows (default %(default)s)")
    parser.add_argument("--seed", type=int, default=sample_data.DEFAULT_SEED, help="data seed (default %(default)s)")
    parser.add_argument("--objects", type=int, default=None, help=f"train objects (default {OBJECTS_PER_HOST} per host)")
    parser.add_argument("--hyperparameter", action="append", default=[], metavar="NAME=VALUE",
                        help="override a hyperparameter (repeatable)")
    args = parser.parse_args(argv)
    if args.hosts < 1:
        parser.error("--hosts must be at least 1")
    try:
        roots = prepare(args.out, args.hosts, rows=args.rows, seed=args.seed, objects=args.objects,
                        hyperparameters=local_run.parse_overrides(args.hyperparameter))
    except (local_run.LocalRunError, ValueError) as exc:
        print(f"local_cluster: {exc}", file=sys.stderr)
        return 1
    logs = {host: open(Path(args.out) / f"{host}.log", "w", encoding="utf-8") for host in roots}  # noqa: SIM115
    try:
        processes = start(roots, environment(free_port(), args.hosts), logs)
        codes = {host: process.wait() for host, process in processes.items()}
    finally:
        for handle in logs.values():
            handle.close()
    for host, code in codes.items():
        print(f"{host}: exit code {code}, log {Path(args.out) / f'{host}.log'}")
    print(local_run.summary(SageMakerPaths(roots[host_names(args.hosts)[0]]), codes[host_names(args.hosts)[0]]))
    return first_failure(codes)


if __name__ == "__main__":
    sys.exit(main())
