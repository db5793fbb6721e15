"""The rehearsal's `pulumi up`, and SageMaker hosting for the endpoints it leaves behind.

automation/models.py and automation/experiments.py deploy through a `Deploy` function (the real
one is automation/driver.py's `run`: the Pulumi Automation API). The rehearsal hands them
`EmulatedDeploy`: plan the stack file they just wrote with the real program under Pulumi's mocks
(automation/offline.py), apply that plan to the emulated AWS (cloud.py), then serve each planned
endpoint the way SageMaker would: for every production variant, the model package its model names,
that version's registered artifact (`ModelDataUrl`) unpacked where the inference container reads
it, and the inference server started on loopback (hosting.py). A variant whose version changed
gets a new server; weights are read from the endpoint (DescribeEndpoint) on every request.
"""

from __future__ import annotations

import io
import shutil
import tarfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from automation import offline
from automation.driver import Request, System
from automation.exit_codes import ExitCode
from automation.offline import Plan
from automation.rehearsal import hosting
from automation.rehearsal.cloud import EmulatedAws
from automation.stackfile import ProjectError
from components.config import ConfigError

ENDPOINT = "aws:sagemaker/endpoint:Endpoint"
ENDPOINT_CONFIG = "aws:sagemaker/endpointConfiguration:EndpointConfiguration"
MODEL = "aws:sagemaker/model:Model"


@dataclass
class Served:
    """One endpoint being served: what each variant runs, and the hosting serving it."""

    variants: dict[str, str]  # variant -> SageMaker model name (the version is in the name)
    endpoint: hosting.Endpoint


@dataclass
class EmulatedDeploy:
    """A `Deploy` (automation/models.py) that deploys to the emulated AWS; see the module docstring."""

    cloud: EmulatedAws
    seed: int = 0
    plans: list[Plan] = field(default_factory=list)
    served: dict[str, Served] = field(default_factory=dict)  # endpoint name -> what serves it

    def __call__(self, request: Request, system: System) -> int:
        try:
            plan = offline.plan(request.stack.name, system.work_dir)
        except (ConfigError, ProjectError) as error:
            print(f"error: {str(error).splitlines()[0]}", file=system.err)
            return ExitCode.CONFIG
        self.deploy(plan)
        print(f"deployed stack '{request.stack.name}' to the emulator ({len(plan.resources)} resources planned)",
              file=system.err if request.json else system.out)
        return ExitCode.OK

    def deploy(self, plan: Plan) -> None:
        self.plans.append(plan)
        self.cloud.apply(plan)
        self._serve(plan)

    @property
    def plan(self) -> Plan:
        return self.plans[-1]

    def stop(self) -> None:
        for served in self.served.values():
            served.endpoint.stop()
        self.served.clear()

    def _serve(self, plan: Plan) -> None:
        planned = {r.inputs["name"]: r for r in plan.of_type(ENDPOINT)}
        for name in [n for n in self.served if n not in planned]:
            self.served.pop(name).endpoint.stop()
        configs = {r.outputs["name"]: r for r in plan.of_type(ENDPOINT_CONFIG)}
        models = {r.inputs["name"]: r for r in plan.of_type(MODEL)}
        for name, endpoint in planned.items():
            config = configs[endpoint.inputs["endpointConfigName"]]
            variants = {v["variantName"]: v["modelName"] for v in config.inputs["productionVariants"]}
            current = self.served.get(name)
            if current is not None and current.variants == variants:
                continue
            if current is not None:
                self.served.pop(name).endpoint.stop()
            self.served[name] = Served(variants, self._start(name, variants, models, config.inputs.get("dataCaptureConfig")))

    def _start(self, name: str, variants: Mapping[str, str], models: Mapping[str, Any],
               capture: Mapping[str, Any] | None) -> hosting.Endpoint:
        served = [hosting.VariantModel(variant, self._model_dir(models[model]))
                  for variant, model in variants.items()]
        settings = None
        if capture:
            bucket, _, prefix = capture["destinationS3Uri"].removeprefix("s3://").partition("/")
            settings = hosting.CaptureSettings(bucket=bucket, prefix=prefix, percent=int(capture["initialSamplingPercentage"]))
        endpoint = hosting.Endpoint(name, served, weights=lambda: self.live_weights(name), capture=settings,
                                    s3=self.cloud.client("s3"), cloudwatch=self.cloud.client("cloudwatch"), seed=self.seed)
        endpoint.start()
        return endpoint

    def _model_dir(self, model: Any) -> Path:
        """The version's artifact as SageMaker unpacks it into /opt/ml/model for the container."""
        sagemaker, s3 = self.cloud.client("sagemaker"), self.cloud.client("s3")
        package = sagemaker.describe_model_package(ModelPackageName=model.inputs["primaryContainer"]["modelPackageName"])
        url = package["InferenceSpecification"]["Containers"][0]["ModelDataUrl"]
        bucket, _, key = url.removeprefix("s3://").partition("/")
        target = self.cloud.work_dir / "models" / model.inputs["name"]
        shutil.rmtree(target, ignore_errors=True)
        target.mkdir(parents=True)
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        with tarfile.open(fileobj=io.BytesIO(body), mode="r:gz") as archive:
            archive.extractall(target, filter="data")
        return target

    def live_weights(self, endpoint: str) -> dict[str, float]:
        described = self.cloud.client("sagemaker").describe_endpoint(EndpointName=endpoint)
        return {v["VariantName"]: float(v.get("CurrentWeight", 0.0)) for v in described["ProductionVariants"]}

    def endpoint(self, name: str) -> hosting.Endpoint:
        return self.served[name].endpoint
