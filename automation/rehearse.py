"""Rehearse the sample model's whole lifecycle on this machine, with no AWS account.

    python automation/rehearse.py [--keep DIR]

The platform's own code runs: the program's plan of the dev stack (under Pulumi's mocks), the
training state machine in moto's Step Functions interpreter, the training image's entry point,
the inference server, the Lambda functions' handlers, the model version and experiment commands,
the promotion pipeline. AWS around it is moto, in this process, seeded from that plan; what moto
cannot do is emulated, and said so as the rehearsal starts (docs/runbook.md, "Try it without AWS").

Steps: deploy the plan; ingest sample features and build a training set; train version 1; approve
it and roll it out (requests answered and captured); train version 2 and run an A/B experiment that
promotes it; send drifted traffic so the drift check raises its alarm and retraining starts;
archive old versions; tear down. Each prints a progress line with its time; a summary table and
the operator's view (the registry's versions, the endpoint's live weights, the drift report, the
dashboards as SVG) follow. The first step whose outcome is wrong ends the rehearsal: exit code 1.
Nothing is left running; nothing is left behind but `--keep DIR` (artifacts, captures, reports).

Exit codes: 0 every step right; 1 a step's outcome was wrong (or the rehearsal broke); 2 usage;
130 interrupted (Ctrl-C; the servers are stopped first).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script: make `automation` and `components` importable
    sys.path.insert(0, str(ROOT))

from automation.bootstrap import ensure_dependencies  # noqa: E402  (standard library only)

if __name__ == "__main__":
    ensure_dependencies(Path(__file__))

from automation import teardown  # noqa: E402
from automation.rehearsal.cloud import EmulatedAws, RehearsalError  # noqa: E402
from automation.rehearsal.lifecycle import MODEL, STACK, Lifecycle, Outcome, Sizes  # noqa: E402

EXIT_OK, EXIT_WRONG, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
REGION = "us-east-1"  # the dev stack's (Pulumi.dev.yaml)
FULL = Sizes()

EMULATED = """\
Real (the code that runs in AWS): the program's plan of the dev stack; the training and promotion
  state machines' definitions, run by moto's Step Functions interpreter; the training image's
  entry point; the inference server; the ingestion, freshness, drift, archive and promotion
  functions' handlers; models.py and experiments.py; the training set builder's SQL.
Emulated: AWS APIs (moto, in this process); training and hosting compute (local processes);
  Lambda's runtime (handlers run in this process with their planned environment); Feature Store's
  runtime and Athena (recorded records, the SQL on SQLite); EventBridge delivery to Step
  Functions, Lambda and SNS, schedules (fired by the steps), S3 notifications; CloudWatch alarm
  evaluation; SageMaker's registry events and UpdateEndpoint; the endpoint's capture and metrics
  (a proxy in front of the servers). Time is compressed: the experiment starts as if two hours ago."""


@dataclass
class StepRecord:
    number: int
    name: str
    seconds: float
    ok: bool
    summary: str


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rehearse.py", description=__doc__.split("\n\n")[0], allow_abbrev=False,
                                     epilog="See docs/runbook.md, section 'Try it without AWS'.")
    parser.add_argument("--keep", type=Path, metavar="DIR",
                        help="keep artifacts, captures, reports and dashboards in DIR (missing or empty)")
    return parser


class Rehearsal:
    """One run: the emulator, the steps, the summary, the teardown."""

    def __init__(self, keep: Path | None, out: TextIO, sizes: Sizes = FULL):
        self.keep, self.out, self.sizes = keep, out, sizes
        self.records: list[StepRecord] = []
        self.view: list[str] = []

    def say(self, line: str = "") -> None:
        print(line, file=self.out, flush=True)

    def run(self) -> int:
        started = time.monotonic()
        self.say("Rehearsing the platform's lifecycle without AWS.")
        self.say(EMULATED)
        self.say()
        with tempfile.TemporaryDirectory(prefix="mlops-rehearsal-") as scratch:
            work = Path(scratch)
            (work / "project").mkdir()
            code = self._run_in(work)
        self._summary(time.monotonic() - started)
        return code

    def _run_in(self, work: Path) -> int:
        ok = False
        try:
            with EmulatedAws(REGION, work) as cloud:
                lifecycle = Lifecycle(cloud, work / "project", self.sizes)
                try:
                    ok = self._steps(lifecycle)
                    if ok:
                        self.view = lifecycle.operator_view(work / "reports")
                finally:
                    ok = self._teardown(lifecycle, cloud) and ok
                    if self.keep is not None:
                        self._keep(work, cloud, lifecycle)
        except RehearsalError as error:
            self.say(f"rehearsal failed: {error}")
            return EXIT_WRONG
        return EXIT_OK if ok else EXIT_WRONG

    def _steps(self, lifecycle: Lifecycle) -> bool:
        steps = lifecycle.steps
        for number, (name, step) in enumerate(steps, start=1):
            if not self._step(number, len(steps) + 1, name, step):
                return False
        return True

    def _step(self, number: int, total: int, name: str, step: Callable[[], Outcome]) -> bool:
        self.say(f"[{number}/{total}] {name} ...")
        started = time.monotonic()
        try:
            outcome = step()
            record = StepRecord(number, name, time.monotonic() - started, True, outcome.summary)
        except RehearsalError as error:
            record = StepRecord(number, name, time.monotonic() - started, False, str(error))
        except Exception as error:  # a broken part of the platform or of the emulator: still a wrong outcome
            traceback.print_exc(file=self.out)
            record = StepRecord(number, name, time.monotonic() - started, False, f"{type(error).__name__}: {error}")
        self.records.append(record)
        self.say(f"      {'ok' if record.ok else 'WRONG'} in {record.seconds:.1f} s: {record.summary}")
        return record.ok

    def _teardown(self, lifecycle: Lifecycle, cloud: EmulatedAws) -> bool:
        """Stop every server, empty the registry as deploy.py --destroy does for dev, and check nothing runs."""
        total = len(lifecycle.steps) + 1
        self.say(f"[{total}/{total}] tear down ...")
        started = time.monotonic()
        processes = [pid for served in lifecycle.deploy.served.values() for pid in served.endpoint.server_pids().values()]
        lifecycle.deploy.stop()
        running = [pid for pid in processes if _alive(pid)]
        emptied = teardown.empty_model_package_groups(STACK, lifecycle.plan.outputs.get("model_package_groups", {}).values(),
                                                      cloud.client("sagemaker")) if lifecycle.deploy.plans else []
        ok = not running
        summary = (f"{len(processes)} server process(es) stopped, {sum(e.deleted for e in emptied)} registered version(s) "
                   "deleted; the emulator stops with this step" if ok else f"server processes still running: {running}")
        self.records.append(StepRecord(total, "tear down", time.monotonic() - started, ok, summary))
        self.say(f"      {'ok' if ok else 'WRONG'} in {self.records[-1].seconds:.1f} s: {summary}")
        return ok

    def _keep(self, work: Path, cloud: EmulatedAws, lifecycle: Lifecycle) -> None:
        """Copy what is worth inspecting to --keep: the stack file, jobs, models, captures, reports, console."""
        target = self.keep
        for name in ("project", "training-jobs", "models", "features", "reports"):
            if (work / name).exists():
                shutil.copytree(work / name, target / name, dirs_exist_ok=True)
        if lifecycle.deploy.plans:
            bucket = lifecycle.plan.outputs.get("capture_bucket")
            if bucket:
                _download(cloud, bucket, target / "captures")
        (target / "console.txt").write_text("\n".join(lifecycle.console) + "\n")
        (target / "summary.json").write_text(json.dumps([vars(r) for r in self.records], indent=2) + "\n")

    def _summary(self, seconds: float) -> None:
        self.say()
        self.say(f"{'step':<40} {'result':<6} {'seconds':>7}")
        for record in self.records:
            self.say(f"{record.name:<40} {'ok' if record.ok else 'WRONG':<6} {record.seconds:>7.1f}")
        self.say(f"{'total':<40} {'':<6} {seconds:>7.1f}")
        if self.view:
            self.say()
            self.say(f"What an operator sees ({MODEL} in stack {STACK}):")
            for line in self.view:
                self.say(f"  {line}")
        if self.keep is not None:
            self.say(f"kept in {self.keep}: project/ (the stack file as the commands left it), training-jobs/ (logs, "
                     "models, metrics), models/ (what each variant served), captures/ (capture files, drift reports), "
                     "reports/ (drift-report.json, dashboards/*.svg), console.txt, summary.json")
        else:
            self.say("nothing was kept: --keep DIR keeps the artifacts, captures, reports and dashboards")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _download(cloud: EmulatedAws, bucket: str, target: Path) -> None:
    s3 = cloud.client("s3")
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for item in page.get("Contents", []):
            path = target / item["Key"]
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read())


def main(argv: Sequence[str] | None = None, out: TextIO = sys.stdout, sizes: Sizes = FULL) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:
        return int(exit_.code or 0)
    if args.keep is not None:
        if args.keep.exists() and (not args.keep.is_dir() or any(args.keep.iterdir())):
            print(f"rehearse.py: --keep {args.keep} must be a missing or empty folder (nothing of yours is overwritten)",
                  file=sys.stderr)
            return EXIT_USAGE
        try:
            args.keep.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            print(f"rehearse.py: --keep {args.keep}: {error.strerror or error}", file=sys.stderr)
            return EXIT_USAGE
    try:
        return Rehearsal(args.keep, out, sizes).run()
    except KeyboardInterrupt:  # the steps' finally blocks have stopped the servers and the emulator
        print("rehearse.py: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
