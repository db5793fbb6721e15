"""A platform Lambda function: code from `functions/<code>/`, its role, log group and failure queue.

Packaging: the zip holds `functions/__init__.py`, `functions/shared/` and the function's own
folder, Python files only, under their repository paths, so the handler is
`functions.<code>.handler.handler` in Lambda and in the tests alike. There are no third-party
packages: boto3 comes with Lambda's Python runtime (RUNTIME); anything else comes from a layer
(`LambdaFunctionArgs.layers`). Paths are relative to the project
directory, where `pulumi up` runs the program, so the archive does not depend on the machine.

Every function gets:
- a log group `/aws/lambda/<name>` created before the function (else Lambda creates one, with no
  key and no retention), KMS-encrypted with the platform key, the stack's retention, stateful;
- a role Lambda assumes, allowed its own log streams, its failure queue and what the caller adds;
- an SQS queue, KMS-encrypted, as the on-failure destination of asynchronous invocations (S3
  events, schedules): after Lambda's two retries the event is kept there 14 days;
- the function itself: RUNTIME on ARCHITECTURE.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi
import pulumi_aws as aws

from components import lambda_function_policies, options
from components.config import PlatformConfig
from components.documents import account_of, json_of

ROOT = Path(__file__).resolve().parent.parent
FUNCTIONS = "functions"
SHARED = "shared"
RUNTIME = "python3.13"
# Graviton: pure-Python code runs unchanged, at a lower price per GB-second than x86_64.
ARCHITECTURE = "arm64"
# Lambda retries a failed asynchronous invocation twice (its default and maximum), then gives
# the event to the failure queue, which keeps it as long as SQS can (14 days).
ASYNC_RETRIES = 2
MAX_EVENT_AGE_SECONDS = 6 * 3600
FAILURE_RETENTION_SECONDS = 14 * 24 * 3600


def package_files(code: str, root: Path = ROOT) -> list[str]:
    """The files a function's zip holds, as POSIX paths relative to `root`."""
    folders = [root / FUNCTIONS / SHARED, root / FUNCTIONS / code]
    if not (root / FUNCTIONS / code / "handler.py").is_file():
        raise FileNotFoundError(f"{FUNCTIONS}/{code}/handler.py does not exist")
    files = [root / FUNCTIONS / "__init__.py"]
    files += [path for folder in folders for path in folder.rglob("*.py") if "__pycache__" not in path.parts]
    return sorted(path.relative_to(root).as_posix() for path in files)


def package(code: str) -> pulumi.AssetArchive:
    return pulumi.AssetArchive({path: pulumi.FileAsset(path) for path in package_files(code)})


def handler_of(code: str) -> str:
    return f"{FUNCTIONS}.{code}.handler.handler"


@dataclass
class LambdaFunctionArgs:
    purpose: str  # physical name `<project>-<stack>-<purpose>`
    code: str  # the folder under functions/
    description: str
    kms_key_arn: pulumi.Input[str]
    environment: Mapping[str, pulumi.Input[str]]
    # IAM statements for what the function does, beyond its logs and failure queue.
    statements: pulumi.Input[list[dict[str, Any]]]
    timeout_seconds: int = 60
    memory_mb: int = 256
    # Lambda layer ARNs (a function that needs a package the runtime lacks, e.g. numpy).
    layers: Sequence[pulumi.Input[str]] = ()


class LambdaFunction(pulumi.ComponentResource):
    function: aws.lambda_.Function
    role: aws.iam.Role
    log_group: aws.cloudwatch.LogGroup
    failure_queue: aws.sqs.Queue
    arn: pulumi.Output[str]
    name: pulumi.Output[str]

    def __init__(self, name: str, cfg: PlatformConfig, args: LambdaFunctionArgs,
                 opts: pulumi.ResourceOptions | None = None):
        super().__init__("mlops:components:LambdaFunction", name, None, opts)
        self._name, self._cfg, self._args = name, cfg, args
        self.function_name = cfg.namer.name(args.purpose, "lambda")
        self._create_log_group()
        self._create_failure_queue()
        access = self._create_role()
        self._create_function(access)
        self.arn, self.name = self.function.arn, self.function.name
        self.register_outputs({"arn": self.arn, "name": self.name, "failure_queue_url": self.failure_queue.url})

    def _create_log_group(self) -> None:
        self.log_group = aws.cloudwatch.LogGroup(
            f"{self._name}-logs",
            name=f"/aws/lambda/{self.function_name}",
            retention_in_days=self._cfg.retention.log_retention_days,
            kms_key_id=self._args.kms_key_arn,
            opts=options.stateful(self, self._cfg),
        )

    def _create_failure_queue(self) -> None:
        self.failure_queue = aws.sqs.Queue(
            f"{self._name}-failures",
            # SQS names allow what Lambda names allow (letters, digits, '-', '_'), and 80 characters.
            name=self._cfg.namer.name(f"{self._args.purpose}-failures", "lambda"),
            kms_master_key_id=self._args.kms_key_arn,
            kms_data_key_reuse_period_seconds=300,
            message_retention_seconds=FAILURE_RETENTION_SECONDS,
            opts=options.stateful(self, self._cfg),
        )

    def _create_role(self) -> aws.iam.RolePolicy:
        cfg, args = self._cfg, self._args
        self.role = aws.iam.Role(
            f"{self._name}-role",
            name=cfg.namer.name(args.purpose, "iam_role"),
            description=f"{cfg.project} {cfg.stack}: Lambda function {self.function_name}",
            assume_role_policy=pulumi.Output.json_dumps(lambda_function_policies.trust_policy()),
            opts=options.child(self),
        )
        return aws.iam.RolePolicy(
            f"{self._name}-access",
            role=self.role.id,
            policy=json_of(lambda_function_policies.function_policy, account=account_of(self, cfg.region),
                           log_group_arn=self.log_group.arn, failure_queue_arn=self.failure_queue.arn,
                           key_arn=args.kms_key_arn, statements=args.statements),
            opts=options.child(self),
        )

    def _create_function(self, access: aws.iam.RolePolicy) -> None:
        args = self._args
        self.function = aws.lambda_.Function(
            f"{self._name}-function",
            name=self.function_name,
            description=args.description,
            role=self.role.arn,
            runtime=RUNTIME,
            architectures=[ARCHITECTURE],
            handler=handler_of(args.code),
            code=package(args.code),
            timeout=args.timeout_seconds,
            memory_size=args.memory_mb,
            environment={"variables": dict(args.environment)},
            **({"layers": list(args.layers)} if args.layers else {}),
            # The role must be able to log before the first invocation, into the group made for it.
            opts=options.child(self, depends_on=[access, self.log_group]),
        )
        aws.lambda_.FunctionEventInvokeConfig(
            f"{self._name}-async",
            function_name=self.function.name,
            maximum_retry_attempts=ASYNC_RETRIES,
            maximum_event_age_in_seconds=MAX_EVENT_AGE_SECONDS,
            destination_config={"on_failure": {"destination": self.failure_queue.arn}},
            opts=options.child(self),
        )
