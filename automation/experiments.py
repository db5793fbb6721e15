"""Start an A/B experiment on a model's endpoint, read its evidence, then apply its decision or stop it.

An experiment is config, like everything that serves: `start` writes a challenger variant beside
the serving champion and `endpoint.experiment` into Pulumi.<ENV>.yaml and deploys it through the
same driver as deploy.py. The promotion pipeline (components/promotion.py) then judges it on its
schedule, moves live traffic to the winner and records the decision in an SSM parameter. `status`
shows the experiment, the live weights and that record; `apply` writes the recorded decision into
Pulumi.<ENV>.yaml (the winner becomes the one champion, at weight 1) and deploys, which ends the
experiment; `stop` ends it without a decision, all traffic back to the champion.

The version checks, the stack-file validation and the deploy are automation/models.py's
(`Session`, `Registry`, `_check_may_serve`, `_validated`), so a challenger is held to the rules
of a rollout: it must exist, may not be Rejected, and must be Approved in production.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script: make `automation` and `components` importable
    sys.path.insert(0, str(ROOT))

from automation.bootstrap import ensure_dependencies  # noqa: E402  (standard library only)
from automation.exit_codes import ExitCode  # noqa: E402  (standard library only)

if __name__ == "__main__":
    ensure_dependencies(Path(__file__))

from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError  # noqa: E402

from automation import stackfile  # noqa: E402
from automation.deploy import _stack  # noqa: E402  (the same refusals as deploy.py)
from automation.driver import DeployError, Operation, Request, System, real_system, run, shown  # noqa: E402
from automation.models import (  # noqa: E402
    CREDENTIAL_ERRORS,
    NOTHING_DEPLOYED,
    Deploy,
    Session,
    _check_may_serve,
    _entry,
    _plan_offline,
    _validated,
    _write,
    command_line,
    version_number,
)
from automation.stackfile import ItemWith  # noqa: E402
from components.config import EXPERIMENT_VARIANTS, ExperimentConfig, VariantConfig  # noqa: E402
from components.inference_endpoint import endpoint_name  # noqa: E402
from components.promotion import parameter_name, state_machine_name  # noqa: E402
from functions.promotion.decision import KEEP, PROMOTE, WORDS  # noqa: E402

__all__ = ["ExitCode", "build_parser", "main"]

CHAMPION, CHALLENGER = EXPERIMENT_VARIANTS
DEFAULT_WEIGHT = 0.1

EXAMPLES = """\
examples:
  experiments.py prod start churn --challenger 7                 version 7 beside the champion, at weight 0.1
  experiments.py prod start churn --challenger 7 --weight 0.2 --business-metric PredictionCorrect
  experiments.py dev start churn --challenger 4 --offline        plan it; nothing written, deployed or asked
  experiments.py prod status churn                               the experiment, live weights, latest decision
  experiments.py prod apply churn                                write the recorded decision, deploy, end it
  experiments.py prod stop churn                                 end it without a decision: champion only

start, apply and stop write Pulumi.<ENV>.yaml, then deploy like `deploy.py ENV` (the same backend,
secrets and confirmation; --yes skips it). Commit the stack file afterwards: it is what serves.
See docs/runbook.md (3. Model deployment, A/B experiments) and docs/troubleshooting.md.
"""


# -- the command line ---------------------------------------------------------------------------
def challenger_weight(text: str) -> float:
    try:
        weight = float(text)
    except ValueError:
        weight = float("nan")
    if not 0 < weight < 1:
        raise argparse.ArgumentTypeError(f"{shown(text)}: the challenger's share of traffic, above 0 and below 1")
    return weight


def build_parser() -> argparse.ArgumentParser:
    """`experiments.py ENV COMMAND MODEL ...` (models.py's command line)."""
    parser, commands = command_line("experiments.py", __doc__, EXAMPLES)

    def command(name: str, summary: str, deploys: bool = True) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=summary, description=summary, allow_abbrev=False)
        sub.add_argument("model", metavar="MODEL", help="a model of the stack's config (models[].name)")
        if deploys:
            sub.add_argument("--yes", "-y", action="store_true", help="deploy without asking")
            sub.add_argument("--offline", action="store_true", help="plan under Pulumi's mocks with the change; "
                                                                    "write, deploy and ask AWS nothing")
        sub.add_argument("--json", action="store_true", help="print only JSON on stdout")
        return sub

    start = command("start", "serve a challenger version beside the champion and judge them: write and deploy")
    start.add_argument("--challenger", required=True, type=version_number, metavar="VERSION",
                       help="the registered version to compare with the champion's")
    start.add_argument("--weight", type=challenger_weight, default=DEFAULT_WEIGHT,
                       help=f"the challenger's share of traffic (default {DEFAULT_WEIGHT})")
    # Each sets the endpoint.experiment key of its name (README, Stack configuration).
    for flag, key, kind, metavar, text in (
            ("--min-invocations", "minInvocationsPerVariant", int, "N", "invocations each variant needs (default 1000)"),
            ("--significance", "errorRateSignificance", float, "ALPHA", "of the error-rate tests (default 0.05)"),
            ("--latency-tolerance-percent", "p99LatencyTolerancePercent", float, "PERCENT",
             "how much slower the challenger's p99 model latency may be (default 10)"),
            ("--schedule", "schedule", str, "EXPRESSION", "when the pipeline judges (default rate(1 hour))"),
            ("--business-metric", "metricName", str, "NAME", "the CloudWatch metric the application posts labels to"),
            ("--business-min-samples", "minSamplesPerVariant", int, "N", "labels each variant needs (default 500)")):
        start.add_argument(flag, dest=key, type=kind, metavar=metavar, help=text)
    command("status", "the experiment, its live weights and the latest recorded decision", deploys=False)
    apply = command("apply", "write the recorded decision into Pulumi.<ENV>.yaml and deploy; ends the experiment")
    apply.add_argument("--from-record", type=Path, metavar="FILE",
                       help="the decision as JSON (the notification's message) instead of the SSM parameter")
    command("stop", "end the experiment without a decision: the champion alone, at weight 1; write and deploy")
    return parser


def main(argv: list[str] | None = None, system: System | None = None, deploy: Deploy = run,
         now: Callable[[], dt.datetime] | None = None) -> int:
    """Run one command; `system`, `deploy` and `now` are the outside world (tests hand in doubles)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        stack = _stack(parser, args.stack)
        if args.command == "apply" and args.offline and args.from_record is None:
            parser.error("apply --offline reads no decision from AWS: give it with --from-record FILE")
        if args.command == "start" and args.minSamplesPerVariant is not None and args.metricName is None:
            parser.error("--business-min-samples goes with --business-metric")
    except SystemExit as exit_:  # argparse: --help (0) or a usage error (2)
        return ExitCode(exit_.code or 0)
    system = system or real_system(ROOT)
    try:
        session = Session.open(stack, args.model, system, deploy, as_json=args.json)
        return COMMANDS[args.command](session, args, now or (lambda: dt.datetime.now(dt.UTC)))
    except DeployError as failure:
        print(f"error: {failure.message}", file=system.err)
        for line in failure.details:
            print(f"  {line}", file=system.err)
        return failure.code
    except KeyboardInterrupt:
        print("error: interrupted", file=system.err)
        return ExitCode.INTERRUPTED


# -- what AWS says ------------------------------------------------------------------------------
class Live:
    """The experiment's AWS side, through boto3: the endpoint's weights and the decision record."""

    def __init__(self, session: Session):
        self.session = session
        self.endpoint = endpoint_name(session.config, session.model.name)
        self.parameter = parameter_name(session.config, session.model.name)

    def weights(self) -> dict[str, float] | None:
        """Each live variant's current weight; None while the endpoint does not exist."""
        def describe() -> dict[str, Any] | None:
            try:
                return self._client("sagemaker").describe_endpoint(EndpointName=self.endpoint)
            except ClientError as error:
                if "Could not find endpoint" in error.response.get("Error", {}).get("Message", ""):
                    return None
                raise
        described = self._call(f"describing endpoint {self.endpoint}", describe)
        return None if described is None else {
            str(v["VariantName"]): float(v.get("CurrentWeight") or 0.0) for v in described.get("ProductionVariants", [])}

    def record(self) -> dict[str, Any] | None:
        """The latest decision the pipeline recorded; None while there is no parameter."""
        def read() -> dict[str, Any] | None:
            try:
                return json.loads(self._client("ssm").get_parameter(Name=self.parameter)["Parameter"]["Value"])
            except ClientError as error:
                if error.response.get("Error", {}).get("Code") == "ParameterNotFound":
                    return None
                raise
        return self._call(f"reading the decision record {self.parameter}", read)

    def _client(self, service: str) -> Any:
        return self.session.system.aws_client(service, self.session.config.region)

    def _call(self, action: str, call: Callable[[], Any]) -> Any:
        try:
            return call()
        except NoCredentialsError:
            raise DeployError(ExitCode.NO_AWS_CREDENTIALS, "no AWS credentials found (environment, ~/.aws profiles, "
                                                           "SSO, instance role): run `aws sso login`, or export "
                                                           "AWS_PROFILE or AWS_ACCESS_KEY_ID") from None
        except ClientError as error:
            details = error.response.get("Error", {})
            code = ExitCode.NO_AWS_CREDENTIALS if details.get("Code") in CREDENTIAL_ERRORS else ExitCode.EXPERIMENT_AWS
            message = " ".join(str(details.get("Message", "")).split())
            raise DeployError(code, f"{action} failed: {details.get('Code', 'error')}: {message}") from None
        except (BotoCoreError, ValueError) as error:  # ValueError: a record that is not JSON
            raise DeployError(ExitCode.EXPERIMENT_AWS, f"{action} failed: {' '.join(str(error).split())}") from None


# -- start --------------------------------------------------------------------------------------
def start(session: Session, args: argparse.Namespace, now: Callable[[], dt.datetime]) -> int:
    model, variants = session.model, session.model.endpoint.variants
    if model.endpoint.experiment is not None:
        raise DeployError(ExitCode.EXPERIMENT_RUNNING, f"{model.name}'s endpoint already runs an experiment (challenger "
                                                       f"version {_variant(session, CHALLENGER).model_version} since "
                                                       f"{model.endpoint.experiment.started_at}): apply its decision or "
                                                       f"stop it first ({_command(session, 'status')})")
    if len(variants) != 1:
        raise DeployError(ExitCode.EXPERIMENT_RUNNING, f"{model.name}'s endpoint already splits its traffic between "
                                                       f"{', '.join(v.name for v in variants)}; an experiment starts from "
                                                       f"one champion (models.py {session.stack.name} rollout ...)")
    champion = variants[0]
    if champion.name != CHAMPION or champion.model_version is None:
        raise DeployError(ExitCode.NO_CHAMPION, f"{model.name}'s endpoint has no variant named {CHAMPION} serving a "
                                                f"version (it has {champion.name}, version "
                                                f"{champion.model_version or 'none'}): roll one out first (models.py "
                                                f"{session.stack.name} rollout {model.name} VERSION)")
    if args.challenger == champion.model_version:
        raise DeployError(ExitCode.SAME_VERSION, f"version {args.challenger} already serves as {model.name}'s champion: "
                                                 "pick another version to compare it with")
    if not args.offline:
        _check_may_serve(session, session.registry.version(args.challenger))
    started_at = _window_start(now()).strftime("%Y-%m-%dT%H:%M:%SZ")
    challenger = VariantConfig(CHALLENGER, args.weight, args.challenger)
    new_variants = [VariantConfig(CHAMPION, round(1 - args.weight, 6), champion.model_version,
                                  champion.previous_model_version), challenger]
    change = (f"{model.name}: experiment started: challenger version {args.challenger} at weight {args.weight:g} beside "
              f"champion version {champion.model_version}; evidence counts from {started_at}")
    return _write_and_deploy(session, args, {"variants": [_entry(v) for v in new_variants],
                                             "experiment": _experiment_entry(args, started_at)}, change)


def _window_start(now: dt.datetime) -> dt.datetime:
    """The first whole hour at least an hour from `now`: the deploy that puts the challenger beside
    the champion (a blue/green update in prod) is normally done by then, so the window holds
    traffic of both variants only. CloudWatch needs no rounding of a whole hour at any age."""
    later = now.astimezone(dt.UTC) + dt.timedelta(hours=1)
    start = later.replace(minute=0, second=0, microsecond=0)
    return start if start == later else start + dt.timedelta(hours=1)


def _experiment_entry(args: argparse.Namespace, started_at: str) -> dict[str, Any]:
    entry: dict[str, Any] = {"startedAt": started_at}
    for key in ("minInvocationsPerVariant", "errorRateSignificance", "p99LatencyTolerancePercent", "schedule"):
        if getattr(args, key) is not None:
            entry[key] = getattr(args, key)
    if args.metricName is not None:
        entry["businessMetric"] = {"metricName": args.metricName}
        if args.minSamplesPerVariant is not None:
            entry["businessMetric"]["minSamplesPerVariant"] = args.minSamplesPerVariant
    return entry


# -- status -------------------------------------------------------------------------------------
def status(session: Session, args: argparse.Namespace, now: Callable[[], dt.datetime]) -> int:
    experiment = _experiment(session)
    live = Live(session)
    weights, record = live.weights(), live.record()
    if record is not None and not _belongs(session, record):
        record = None  # a decision of an earlier experiment of the same name cannot be there, but never show one
    if session.as_json:
        print(json.dumps({"stack": session.stack.name, "model": session.model.name, "endpoint": live.endpoint,
                          "experiment": _experiment_summary(session, experiment, weights), "record": record},
                         indent=2), file=session.out)
        return ExitCode.OK
    for line in _status_lines(session, experiment, live, weights, record):
        session.say(line)
    return ExitCode.OK


def _experiment_summary(session: Session, experiment: ExperimentConfig, weights: Mapping[str, float] | None) -> dict:
    business = experiment.business_metric
    return {
        "started_at": experiment.started_at, "schedule": experiment.schedule,
        "state_machine": state_machine_name(session.config, session.model.name),
        "variants": {v.name: {"model_version": v.model_version, "weight": v.weight,
                              "live_weight": None if weights is None else weights.get(v.name)}
                     for v in session.model.endpoint.variants},
        "rule": {"min_invocations_per_variant": experiment.min_invocations_per_variant,
                 "error_rate_significance": experiment.error_rate_significance,
                 "p99_latency_tolerance_percent": experiment.p99_latency_tolerance_percent,
                 "business_metric": None if business is None else {
                     "metric_name": business.metric_name, "min_samples_per_variant": business.min_samples_per_variant,
                     "significance": business.significance}},
    }


def _status_lines(session: Session, experiment: ExperimentConfig, live: Live, weights: Mapping[str, float] | None,
                  record: Mapping[str, Any] | None) -> list[str]:
    model = session.model.name
    lines = [f"Experiment on {model} (stack '{session.stack.name}', endpoint {live.endpoint}): evidence from "
             f"{experiment.started_at}, judged {experiment.schedule} by {state_machine_name(session.config, model)}"]
    for variant in session.model.endpoint.variants:
        shown_live = "not deployed" if weights is None else f"{weights.get(variant.name, 0.0):g}"
        lines.append(f"  {variant.name:<10}  version {variant.model_version:<6} weight {variant.weight:<5g} live {shown_live}")
    rule = (f"  rule: {experiment.min_invocations_per_variant} invocations a variant; error rates by a one-sided exact "
            f"test at {experiment.error_rate_significance:g}; p99 model latency within "
            f"{experiment.p99_latency_tolerance_percent:g}%")
    if experiment.business_metric is not None:
        metric = experiment.business_metric
        rule += (f"; {metric.metric_name} on {metric.min_samples_per_variant} labels a variant at "
                 f"{metric.significance:g}")
    lines.append(rule)
    if record is None or record.get("outcome") not in WORDS:
        return [*lines, "No decision recorded yet: the pipeline records one at its next run (or start it now, "
                        "docs/runbook.md section 3)."]
    window = record.get("window", {})
    lines += [f"Latest decision (rule {record.get('rule_version')}, window {window.get('start')} to {window.get('end')}): "
              f"{WORDS[record['outcome']]}", f"  {record.get('reason')}", *_evidence_table(record.get("evidence", {}))]
    if record["outcome"] in (PROMOTE, KEEP):
        lines.append(f"Live traffic follows it. Write it into Pulumi.{session.stack.name}.yaml and end the experiment: "
                     f"{_command(session, 'apply')}")
    return lines


def _evidence_table(evidence: Mapping[str, Mapping[str, Any]]) -> list[str]:
    columns = [("invocations", "invocations", "{}"), ("errors", "errors", "{}"), ("error rate", "error_rate", "{:.2%}"),
               ("p99 model latency", "p99_model_latency_ms", "{:g} ms"), ("labels", "labels", "{}"),
               ("success rate", "success_rate", "{:.2%}")]
    columns = [c for c in columns if any(c[1] in numbers for numbers in evidence.values())]
    rows = [("", *(title for title, _, _ in columns))]
    rows += [(role, *("-" if numbers.get(key) is None else form.format(numbers[key]) for _, key, form in columns))
             for role, numbers in evidence.items()]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return ["  " + "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in rows]


# -- apply, stop --------------------------------------------------------------------------------
def apply(session: Session, args: argparse.Namespace, now: Callable[[], dt.datetime]) -> int:
    _experiment(session)
    record = _read_record_file(args.from_record) if args.from_record else Live(session).record()
    if record is None or "experiment" not in record:  # no parameter yet, or its placeholder
        raise DeployError(ExitCode.NO_DECISION, f"no decision of {session.model.name}'s experiment is recorded yet: "
                                                f"{_command(session, 'status')} shows what the pipeline has seen")
    if not _belongs(session, record):
        raise DeployError(ExitCode.NO_DECISION, f"the recorded decision is of another experiment than the one "
                                                f"{session.config_path.name} configures (started "
                                                f"{record['experiment'].get('started_at')}): nothing to apply")
    if record.get("outcome") not in (PROMOTE, KEEP):
        raise DeployError(ExitCode.NO_DECISION, f"the latest decision is \"{record.get('reason')}\": nothing to apply "
                                                "yet; the pipeline decides once the evidence is in")
    champion, challenger = _variant(session, CHAMPION), _variant(session, CHALLENGER)
    if record["outcome"] == PROMOTE:
        serving = VariantConfig(CHAMPION, 1.0, challenger.model_version, champion.model_version)
        change = (f"{session.model.name}: decision applied (promote challenger): version {challenger.model_version} "
                  f"serves as champion (previously {champion.model_version}); experiment ended")
    else:
        serving = VariantConfig(CHAMPION, 1.0, champion.model_version, champion.previous_model_version)
        change = (f"{session.model.name}: decision applied (keep champion): version {champion.model_version} serves "
                  f"alone, challenger version {challenger.model_version} removed; experiment ended")
    return _write_and_deploy(session, args, {"": _endpoint_without_experiment(session, serving)}, change)


def stop(session: Session, args: argparse.Namespace, now: Callable[[], dt.datetime]) -> int:
    _experiment(session)
    champion, challenger = _variant(session, CHAMPION), _variant(session, CHALLENGER)
    if not args.offline:
        try:
            record = Live(session).record()
        except DeployError as error:  # only to warn: the stop goes on
            record = None
            session.say(f"note: {error.message}; stopping without knowing the pipeline's decision")
        if record is not None and _belongs(session, record) and record.get("outcome") == PROMOTE:
            session.say(f"warning: the pipeline promoted the challenger live ({record.get('reason')}); stopping returns "
                        f"all traffic to version {champion.model_version}. To keep the challenger, use "
                        f"{_command(session, 'apply')} instead.")
    change = (f"{session.model.name}: experiment stopped without a decision: version {champion.model_version} serves "
              f"alone, challenger version {challenger.model_version} removed")
    serving = VariantConfig(CHAMPION, 1.0, champion.model_version, champion.previous_model_version)
    return _write_and_deploy(session, args, {"": _endpoint_without_experiment(session, serving)}, change)


def _endpoint_without_experiment(session: Session, serving: VariantConfig) -> dict[str, Any]:
    """The model's `endpoint` as the stack file spells it, with `serving` its one variant and no experiment."""
    document = stackfile.load(session.config_path)
    values = stackfile.config_of(document, session.config_path.name)
    models = values.get(f"{session.config.project}:models", values.get("models"))
    endpoint = next(m for m in models if m.get("name") == session.model.name)["endpoint"]
    return {**{key: value for key, value in endpoint.items() if key not in ("experiment", "variants")},
            "variants": [_entry(serving)]}


def _read_record_file(path: Path) -> dict[str, Any]:
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise DeployError(ExitCode.NO_DECISION, f"--from-record {shown(str(path))}: {' '.join(str(error).split())}") from None
    if not isinstance(record, dict):
        raise DeployError(ExitCode.NO_DECISION, f"--from-record {shown(str(path))}: not a decision record (a JSON object)")
    return record


# -- shared -------------------------------------------------------------------------------------
def _experiment(session: Session) -> ExperimentConfig:
    experiment = session.model.endpoint.experiment
    if experiment is None:
        raise DeployError(ExitCode.NO_EXPERIMENT, f"{session.model.name}'s endpoint runs no experiment "
                                                  f"({session.config_path.name}, endpoint.experiment): start one with "
                                                  f"{_command(session, 'start', ' --challenger VERSION')}")
    return experiment


def _variant(session: Session, name: str) -> VariantConfig:
    return next(v for v in session.model.endpoint.variants if v.name == name)


def _belongs(session: Session, record: Mapping[str, Any]) -> bool:
    """Whether `record` judged the experiment the stack file configures (same start, same versions)."""
    experiment = session.model.endpoint.experiment
    expected = {"model": session.model.name, "started_at": experiment.started_at,
                **{name: {"variant": name, "model_version": _variant(session, name).model_version}
                   for name in EXPERIMENT_VARIANTS}}
    return record.get("experiment") == expected


def _command(session: Session, command: str, extra: str = "") -> str:
    return f"`python automation/experiments.py {session.stack.name} {command} {session.model.name}{extra}`"


def _write_and_deploy(session: Session, args: argparse.Namespace, edits: Mapping[str, Any], change: str) -> int:
    """Set `edits` (keys under the model's `endpoint`; "" for the whole endpoint) in the stack file,
    validated as the program will read it, then deploy; put the file back when the driver says
    nothing was deployed."""
    path = session.config_path
    before = stackfile.read_text(path)
    after = before
    for key, value in edits.items():
        after = stackfile.set_value(after, path.name, (*_endpoint_path(session), *((key,) if key else ())), value)
    _validated(session, after)
    session.say(f"{path.name}: {change}")
    if args.offline:
        return _plan_offline(session, after)
    _write(path, after)
    code = session.deploy(Request(stack=session.stack, operation=Operation.UP, yes=args.yes, json=args.json),
                          session.system)
    if code == ExitCode.OK:
        session.say(f"Deployed. Commit {path.name}: it is what serves.")
    elif code in NOTHING_DEPLOYED:
        _write(path, before)
        session.say(f"{path.name} is back as it was: nothing was deployed.")
    else:
        session.say(f"{path.name} keeps the change, but the deploy failed (exit code {int(code)}): fix the cause and run "
                    f"`deploy.py {session.stack.name}` (docs/troubleshooting.md).")
    return code


def _endpoint_path(session: Session) -> tuple[stackfile.PathStep, ...]:
    project = session.config.project
    return ("config", (f"{project}:models", "models"), ItemWith("name", session.model.name), "endpoint")


COMMANDS: dict[str, Callable[[Session, argparse.Namespace, Callable[[], dt.datetime]], int]] = {
    "start": start,
    "status": status,
    "apply": apply,
    "stop": stop,
}


if __name__ == "__main__":
    sys.exit(main())
