"""The CrossGuard policies: each rule of policy/rules.py wrapped as a pulumi_policy policy.

Building the policies starts nothing; `PolicyPack(...)` (policy/__main__.py only) starts the
analyzer's gRPC server and blocks, so it lives in the pack's entry point alone and tests can
import this module and run each wrapped policy on a hand-made `ResourceValidationArgs`.
"""

from __future__ import annotations

from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)

from policy.rules import RULES, Resource, Rule

PACK_NAME = "mlops-platform"


def resource_of(args: ResourceValidationArgs) -> Resource:
    """What a resource rule sees, from what CrossGuard's Analyze hands over (inputs)."""
    return Resource(urn=args.urn, type=args.resource_type, name=args.name, props=args.props,
                    provider_props=args.provider.props if args.provider else {}, protect=bool(args.opts.protect))


def stack_resources_of(args: StackValidationArgs) -> list[Resource]:
    """What a stack rule sees, from AnalyzeStack (outputs and dependencies)."""
    return [Resource(urn=r.urn, type=r.resource_type, name=r.name, props=r.props,
                     provider_props=r.provider.props if r.provider else {}, protect=bool(r.opts.protect),
                     dependencies=tuple(d.urn for d in r.dependencies)) for r in args.resources]


def _resource_policy(rule: Rule) -> ResourceValidationPolicy:
    def validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
        for message in rule.check(resource_of(args)):
            report_violation(message, None)
    return ResourceValidationPolicy(name=rule.name, description=rule.description, validate=validate,
                                    enforcement_level=_level(rule))


def _stack_policy(rule: Rule) -> StackValidationPolicy:
    def validate(args: StackValidationArgs, report_violation: ReportViolation) -> None:
        for urn, message in rule.check(stack_resources_of(args)):
            report_violation(message, urn)
    return StackValidationPolicy(name=rule.name, description=rule.description, validate=validate,
                                 enforcement_level=_level(rule))


def _level(rule: Rule) -> EnforcementLevel:
    return EnforcementLevel.MANDATORY if rule.mandatory else EnforcementLevel.ADVISORY


def policies() -> list[Any]:
    return [_stack_policy(rule) if rule.stack else _resource_policy(rule) for rule in RULES]
