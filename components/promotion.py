"""The promotion pipeline of one model's A/B experiment: while `endpoint.experiment` is configured,
a state machine judges the champion and challenger variants on a schedule (and when started by
hand), shifts live traffic to the winner, records the decision and notifies the alert topic
(components/promotion_workflow.py has the flow, functions/promotion the rule).

One `Promotion` per model with an experiment (`Promotion.for_experiments`); a model without one
gets nothing, so the pipeline, its schedule and its roles exist exactly while an experiment runs.

Children:
- the decision Lambda (components/lambda_function.py; code functions/promotion): no AWS permission
  beyond its own logs and failure queue;
- the decision record, an SSM String parameter `/<project>/<stack>/experiments/<model>`. The
  pipeline overwrites it with each decision (its value is ignored after creation, so a deploy
  never resets it); SSM keeps its last 100 values as its history. It is removed with the
  experiment's other resources once `experiments.py apply` or `stop` has ended the experiment;
- the pipeline role (components/promotion_policies.py) and the state machine. No CloudWatch Logs
  delivery: Step Functions keeps each execution's history (every step's input and output) for 90
  days, the record and the notification keep the outcome, and log delivery would need the
  `logs:*Delivery` actions on "*", which this role is kept without;
- the schedule (an EventBridge rule, `experiment.schedule`) and the role it starts executions with.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components import options, promotion_policies, promotion_workflow, training_policies
from components.config import ModelConfig, PlatformConfig
from components.documents import account_of, json_of
from components.lambda_function import LambdaFunction, LambdaFunctionArgs

# What the record holds until the first decision (automation/experiments.py status shows it).
NO_DECISION_YET = {"outcome": "none", "reason": "no decision yet: the promotion pipeline has not run"}


def parameter_name(cfg: PlatformConfig, model: str) -> str:
    """Where the decision is recorded; automation/experiments.py reads it."""
    return f"/{cfg.project}/{cfg.stack}/experiments/{model}"


def state_machine_name(cfg: PlatformConfig, model: str) -> str:
    return cfg.namer.name(f"{model}-promotion", "state_machine")


@dataclass
class PromotionArgs:
    # The model's endpoint (components/inference_endpoint.py's physical name); its variants are
    # the config's `champion` and `challenger`.
    endpoint_name: pulumi.Input[str]
    alert_topic_arn: pulumi.Input[str]
    kms_key_arn: pulumi.Input[str]


class Promotion(pulumi.ComponentResource):
    decision: LambdaFunction
    record: aws.ssm.Parameter
    state_machine: aws.sfn.StateMachine
    state_machine_arn: pulumi.Output[str]
    schedule: aws.cloudwatch.EventRule

    def __init__(self, name: str, cfg: PlatformConfig, model: ModelConfig, args: PromotionArgs,
                 opts: pulumi.ResourceOptions | None = None):
        super().__init__("mlops:components:Promotion", name, None, opts)
        if model.endpoint.experiment is None:
            raise ValueError(f"model {model.name!r} has no experiment: create a Promotion only for one that has")
        self._name, self._cfg, self._model, self._args = name, cfg, model, args
        self._account = account_of(self, cfg.region)
        self._create_decision()
        self._create_record()
        self._create_state_machine()
        self._create_schedule()
        self.register_outputs({"state_machine_arn": self.state_machine_arn, "record": self.record.name,
                               "decision_function": self.decision.name, "schedule": self.schedule.name})

    @classmethod
    def for_experiments(cls, cfg: PlatformConfig, endpoint_names: Mapping[str, pulumi.Input[str]],
                        alert_topic_arn: pulumi.Input[str], kms_key_arn: pulumi.Input[str],
                        opts: pulumi.ResourceOptions | None = None) -> dict[str, Promotion]:
        """One Promotion per model whose endpoint runs an experiment (model name -> component);
        `endpoint_names` maps each model with an endpoint to its physical endpoint name."""
        return {model.name: cls(f"promotion-{model.name}", cfg, model,
                                PromotionArgs(endpoint_name=endpoint_names[model.name],
                                              alert_topic_arn=alert_topic_arn, kms_key_arn=kms_key_arn), opts=opts)
                for model in cfg.models if model.endpoint.experiment is not None}

    def _create_decision(self) -> None:
        model = self._model.name
        self.decision = LambdaFunction(f"{self._name}-decision", self._cfg, LambdaFunctionArgs(
            purpose=f"{model}-promotion-decision", code="promotion",
            description=f"A/B decision rule of model {model}'s experiment (functions/promotion/decision.py)",
            kms_key_arn=self._args.kms_key_arn, environment={}, statements=[], timeout_seconds=60, memory_mb=256,
        ), opts=options.child(self))

    def _create_record(self) -> None:
        self.record = aws.ssm.Parameter(
            f"{self._name}-record",
            name=parameter_name(self._cfg, self._model.name),
            description=f"The promotion pipeline's latest decision on model {self._model.name}'s A/B experiment",
            type="String",
            tier="Standard",
            value=json.dumps(NO_DECISION_YET),
            # The pipeline writes decisions here; a deploy must not put the placeholder back.
            opts=options.child(self, ignore_changes=["value"]),
        )

    def _create_state_machine(self) -> None:
        cfg, name, model = self._cfg, self._name, self._model.name
        machine_name = state_machine_name(cfg, model)
        role = aws.iam.Role(
            f"{name}-pipeline-role",
            name=cfg.namer.name(f"{model}-promotion", "iam_role"),
            description=f"{cfg.project} {cfg.stack}: the promotion pipeline of model {model}",
            assume_role_policy=self._account.apply(lambda a: json.dumps(training_policies.trust_policy(
                "states.amazonaws.com", a, [a.arn("states", f"stateMachine:{machine_name}")]))),
            opts=options.child(self),
        )
        access = aws.iam.RolePolicy(
            f"{name}-pipeline-access",
            role=role.id,
            policy=json_of(promotion_policies.pipeline_policy, account=self._account,
                           endpoint_name=self._args.endpoint_name, function_arn=self.decision.arn,
                           parameter_name=self.record.name, topic_arn=self._args.alert_topic_arn,
                           key_arn=self._args.kms_key_arn),
            opts=options.child(self),
        )
        definition = pulumi.Output.all(
            endpoint_name=self._args.endpoint_name, function_arn=self.decision.arn, parameter_name=self.record.name,
            topic_arn=self._args.alert_topic_arn, partition=self._account.apply(lambda account: account.partition),
        ).apply(lambda v: json.dumps(promotion_workflow.definition(
            promotion_workflow.spec_for(cfg, self._model, **v)), indent=2))
        self.state_machine = aws.sfn.StateMachine(
            f"{name}-pipeline",
            name=machine_name,
            type="STANDARD",  # executions keep their history for 90 days (see the module docstring)
            role_arn=role.arn,
            definition=definition,
            opts=options.child(self, depends_on=[access]),
        )
        self.state_machine_arn = self.state_machine.arn

    def _create_schedule(self) -> None:
        cfg, name, model = self._cfg, self._name, self._model.name
        experiment = self._model.endpoint.experiment
        rule_name = cfg.namer.name(f"{model}-promotion", "events_rule")
        role = aws.iam.Role(
            f"{name}-schedule-role",
            name=cfg.namer.name(f"{model}-promotion-schedule", "iam_role"),
            description=f"{cfg.project} {cfg.stack}: the schedule that starts model {model}'s promotion pipeline",
            assume_role_policy=self._account.apply(lambda a: json.dumps(training_policies.trust_policy(
                "events.amazonaws.com", a, [a.arn("events", f"rule/{rule_name}")]))),
            opts=options.child(self),
        )
        access = aws.iam.RolePolicy(
            f"{name}-schedule-access",
            role=role.id,
            policy=json_of(promotion_policies.schedule_policy, state_machine_arn=self.state_machine_arn),
            opts=options.child(self),
        )
        self.schedule = aws.cloudwatch.EventRule(
            f"{name}-schedule",
            name=rule_name,
            description=f"Judge model {model}'s A/B experiment ({experiment.schedule})",
            schedule_expression=experiment.schedule,
            opts=options.child(self),
        )
        aws.cloudwatch.EventTarget(
            f"{name}-schedule-target",
            rule=self.schedule.name,
            arn=self.state_machine_arn,
            role_arn=role.arn,
            input="{}",
            opts=options.child(self, depends_on=[access]),
        )
