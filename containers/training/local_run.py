"""Run the training container's code locally, without Docker, in one command.

    python -m containers.training.local_run --out /tmp/ml-local [--rows N] [--seed S]
        [--hyperparameter num_round=50 --hyperparameter max_depth=4 ...]

It builds an ``/opt/ml``-shaped folder under ``--out`` (sample data in the train and
validation channels, hyperparameters.json with string values, the input/resource config
files SageMaker writes), runs exactly the code the image runs (``train.execute``), and
prints where the model, evaluation and baseline landed. The exit code is the trainer's.

``--out`` must be empty, missing, or a previous local run (marked by a ``.local-run`` file):
its ``input``, ``model`` and ``output`` folders are replaced, nothing else is touched.
"""

from __future__ import annotations

import argparse
import json
import shutil
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path

from containers.contracts import metrics
from containers.contracts.hyperparameters import Hyperparameters
from containers.training import sample_data
from containers.training.train import (
    BASELINE_FILE,
    EVALUATION_FILE,
    MODEL_FILE,
    SageMakerPaths,
    execute,
)

MARKER = ".local-run"

LOCAL_DEFAULT_HYPERPARAMETERS = {"num_round": "100"}
"""Keeps a laptop run to seconds; everything else uses the trainer's defaults."""


class LocalRunError(Exception):
    """The local folder cannot be used; nothing was written."""


def prepare_root(root: Path) -> SageMakerPaths:
    """Make ``root`` a clean /opt/ml layout, refusing folders that are not ours to wipe."""
    root = Path(root)
    if root.exists():
        if not root.is_dir():
            raise LocalRunError(f"{root} exists and is not a folder")
        if any(root.iterdir()) and not (root / MARKER).exists():
            raise LocalRunError(
                f"{root} is not empty and is not a previous local run (no {MARKER} file); "
                "choose another --out so nothing of yours is deleted"
            )
    root.mkdir(parents=True, exist_ok=True)
    (root / MARKER).write_text("created by containers.training.local_run\n", encoding="utf-8")
    for sub in ("input", "model", "output"):
        shutil.rmtree(root / sub, ignore_errors=True)
    return SageMakerPaths(root)


def parse_overrides(pairs: Sequence[str]) -> dict[str, str]:
    """``name=value`` pairs to a dict of strings; values are validated by the trainer."""
    overrides: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise LocalRunError(f"--hyperparameter expects name=value, got {pair!r}")
        overrides[name.strip()] = value.strip()
    return overrides


def write_inputs(paths: SageMakerPaths, rows: int, seed: int, hyperparameters: dict[str, str]) -> dict[str, Path]:
    """Write what SageMaker would put under /opt/ml/input before starting the container."""
    channels = sample_data.write_channels(paths.root / "input" / "data", rows=rows, seed=seed)
    config_dir = paths.hyperparameters.parent
    config_dir.mkdir(parents=True, exist_ok=True)
    paths.hyperparameters.write_text(json.dumps(hyperparameters, indent=2) + "\n", encoding="utf-8")
    input_data_config = {
        name: {"ContentType": "text/csv", "TrainingInputMode": "File", "S3DistributionType": "FullyReplicated"} for name in channels
    }
    (config_dir / "inputdataconfig.json").write_text(json.dumps(input_data_config, indent=2) + "\n")
    resource_config = {"current_host": "algo-1", "hosts": ["algo-1"], "network_interface_name": "eth0"}
    (config_dir / "resourceconfig.json").write_text(json.dumps(resource_config, indent=2) + "\n")
    return channels


def summary(paths: SageMakerPaths, exit_code: int) -> str:
    """Where everything landed and the final metrics, for a human at a terminal."""
    lines = [f"exit code: {exit_code}"]
    if paths.failure_file.exists():
        lines.append(f"failure ({paths.failure_file}): {paths.failure_file.read_text().strip()}")
    model = paths.model_dir / MODEL_FILE
    if model.exists():
        lines.append(f"model:      {model}")
        lines.append(f"evaluation: {paths.output_data_dir / EVALUATION_FILE}")
        lines.append(f"baseline:   {paths.output_data_dir / BASELINE_FILE}")
        evaluation = json.loads((paths.output_data_dir / EVALUATION_FILE).read_text())
        for name in metrics.METRIC_NAMES:
            lines.append(f"  {name} = {evaluation['metrics'][name]:.4f}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """CLI entry point: prepare the folder, train, print the summary."""
    parser = argparse.ArgumentParser(description="Run the churn training container code locally (no Docker).")
    parser.add_argument("--out", type=Path, required=True, help="folder used as /opt/ml")
    parser.add_argument("--rows", type=int, default=sample_data.DEFAULT_ROWS, help="sample rows (default %(default)s)")
    parser.add_argument("--seed", type=int, default=sample_data.DEFAULT_SEED, help="data seed (default %(default)s)")
    parser.add_argument(
        "--hyperparameter",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="override a hyperparameter (repeatable), e.g. --hyperparameter max_depth=4",
    )
    args = parser.parse_args(argv)
    try:
        hyperparameters = {**Hyperparameters().as_strings(), **LOCAL_DEFAULT_HYPERPARAMETERS}
        hyperparameters.update(parse_overrides(args.hyperparameter))
        paths = prepare_root(args.out)
        write_inputs(paths, args.rows, args.seed, hyperparameters)
    except (LocalRunError, ValueError) as exc:
        print(f"local_run: {exc}", file=sys.stderr)
        return 1

    stop = threading.Event()

    def request_stop(signum: int, frame: object) -> None:
        print(f"{signal.Signals(signum).name} received: stopping after the current round", flush=True)
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)  # Ctrl-C behaves like StopTrainingJob
    print(f"training in {paths.root} (the /opt/ml of this run)", flush=True)
    code = execute(paths.root, stop_requested=stop.is_set, log=lambda line: print(line, flush=True))
    print(summary(paths, code))
    return code


if __name__ == "__main__":
    sys.exit(main())
