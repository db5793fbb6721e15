"""What every policy document needs: the account it is about, and one way to render it.

ARNs are always built from the partition, region and account the stack deploys to
(`aws.get_partition`, `aws.get_caller_identity`), never from a hand-written `arn:aws`, so the
same program deploys to aws-cn or aws-us-gov. Documents themselves are pure functions of names
and ARNs (the `*_policies.py` modules); `json_of` renders one from outputs.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws


@dataclass(frozen=True)
class Account:
    partition: str
    region: str
    account_id: str

    def arn(self, service: str, resource: str, regional: bool = True) -> str:
        return f"arn:{self.partition}:{service}:{self.region if regional else ''}:{self.account_id}:{resource}"

    @property
    def root(self) -> str:
        """The account as a principal: whoever its IAM policies allow."""
        return self.arn("iam", "root", regional=False)


def account_of(resource: pulumi.Resource, region: str) -> pulumi.Output[Account]:
    """The account and partition `resource` deploys to, looked up through its own provider."""
    invoke = pulumi.InvokeOutputOptions(parent=resource)
    identity = aws.get_caller_identity_output(opts=invoke)
    partition = aws.get_partition_output(opts=invoke)
    return pulumi.Output.all(partition.partition, identity.account_id).apply(
        lambda values: Account(partition=values[0], region=region, account_id=values[1]))


def json_of(builder: Callable[..., dict[str, Any]], **inputs: Any) -> pulumi.Output[str]:
    """`builder(**inputs)` as JSON text, once every input (plain value or output) is known."""
    return pulumi.Output.all(**inputs).apply(lambda values: json.dumps(builder(**values)))
