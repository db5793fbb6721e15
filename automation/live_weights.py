"""Live endpoint weights against the stack file, for the warning `deploy.py` gives before a deploy.

The stack file is the source of truth for what serves, and Pulumi writes its variant weights into
each endpoint configuration. The promotion pipeline (components/promotion.py) moves live traffic
without Pulumi, with UpdateEndpointWeightsAndCapacities, and `automation/experiments.py apply`
then writes its decision into the file. In between, the live weights differ from the file's, and
the next deploy that updates the endpoint's configuration would put the file's weights back. So
before `up` and `--preview`, deploy.py compares them and says so (docs/architecture.md, "Live
weights and the stack file"): it warns and goes on, it never blocks a deploy.

Only endpoints whose live variants are the file's variants are compared: a file with other
variants (after `apply`, or a rollout) changes the endpoint on purpose. Shares are compared, not
raw weights (SageMaker routes by a weight over their sum). Nothing is asked of AWS for a stack
whose models serve no version yet (no endpoint).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from automation import offline
from automation.stackfile import ProjectError
from components.config import ConfigError, PlatformConfig, parse_cli_config
from components.inference_endpoint import endpoint_name, serves

TOLERANCE = 1e-6  # config.py's tolerance for weights summing to 1


@dataclass(frozen=True)
class Difference:
    model: str
    endpoint: str
    live: Mapping[str, float]
    configured: Mapping[str, float]

    def warning(self, stack: str) -> str:
        return (f"warning: endpoint {self.endpoint} serves with live weights {_weights(self.live)}, but "
                f"Pulumi.{stack}.yaml says {_weights(self.configured)}; a deploy that updates this endpoint's "
                "configuration puts the file's weights back. If the promotion pipeline moved them, write its decision "
                f"into the file first: `python automation/experiments.py {stack} apply {self.model}`")


def differences(cfg: PlatformConfig, describe: Callable[[str], Mapping[str, Any] | None]) -> list[Difference]:
    """Endpoints whose live traffic shares differ from the file's. `describe(name)` is
    DescribeEndpoint's answer, or None when the endpoint does not exist."""
    found = []
    for model in cfg.models:
        if not serves(model):
            continue  # no version serves: the program creates no endpoint
        variants = model.endpoint.variants
        name = endpoint_name(cfg, model.name)
        described = describe(name)
        if described is None:
            continue
        live = {str(v["VariantName"]): float(v.get("CurrentWeight") or 0.0) for v in described.get("ProductionVariants", [])}
        configured = {v.name: v.weight for v in variants}
        if set(live) == set(configured) and not _same_shares(live, configured):
            found.append(Difference(model.name, name, live, configured))
    return found


def warnings(stack: str, work_dir: Path, aws_client: Callable[[str, str | None], Any]) -> list[str]:
    """The lines deploy.py prints before deploying `stack`: one per endpoint whose live weights
    differ, or one saying they could not be read. A stack file that does not validate gives none
    (the driver reports it)."""
    try:
        project = offline.load_project(work_dir)
        values, _ = offline.load_stack_config(stack, work_dir, project)
        cfg = parse_cli_config(project["name"], stack, values)
    except (ProjectError, ConfigError):
        return []
    sagemaker: Any = None

    def describe(name: str) -> Mapping[str, Any] | None:
        nonlocal sagemaker
        sagemaker = sagemaker or aws_client("sagemaker", cfg.region)
        try:
            return sagemaker.describe_endpoint(EndpointName=name)
        except ClientError as error:
            details = error.response.get("Error", {})
            if details.get("Code") == "ValidationException" and "Could not find endpoint" in details.get("Message", ""):
                return None  # not deployed yet
            raise

    try:
        return [difference.warning(stack) for difference in differences(cfg, describe)]
    except (ClientError, BotoCoreError) as error:
        return [f"warning: could not compare live endpoint weights with Pulumi.{stack}.yaml ({' '.join(str(error).split())}); "
                "if an experiment's promotion pipeline moved them, `python automation/experiments.py "
                f"{stack} status MODEL` shows it"]


def _same_shares(live: Mapping[str, float], configured: Mapping[str, float]) -> bool:
    live_total, configured_total = sum(live.values()), sum(configured.values())
    if not live_total or not configured_total:
        return live_total == configured_total
    return all(math.isclose(live[name] / live_total, configured[name] / configured_total, abs_tol=TOLERANCE)
               for name in configured)


def _weights(weights: Mapping[str, float]) -> str:
    return " ".join(f"{name}={weight:g}" for name, weight in sorted(weights.items()))
