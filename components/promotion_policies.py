"""IAM documents of the promotion pipeline, as pure functions of names and ARNs.

Least privilege, checked by tests/program/test_promotion.py: no wildcard actions, every action
on this experiment's own resources, and `"Resource": "*"` only for `cloudwatch:GetMetricData`:
its one resource type in the Service Authorization Reference (Amazon CloudWatch), `dataset`, is
optional, and a metric in a namespace such as AWS/SageMaker is no resource, so reading it can only
be granted on "*" (as for PutMetricData, which the training role has). The policy pack's advisory
`iam-read-actions-scoped` notes it; it is a read of metrics, never data. Sources, cited
at each statement: the Step Functions Developer Guide's IAM policies for the AWS SDK and
optimized integrations (the integration's API action on the resource it acts on), and the SNS
guide for publishing to a KMS-encrypted topic.

The decision Lambda gets no statement here: it calls no AWS API (components/lambda_function.py
gives it its own logs and failure queue only).
"""

from __future__ import annotations

from typing import Any

from components.documents import Account

UNSCOPED_STATEMENTS = frozenset({"ReadVariantMetrics"})


def endpoint_arn(account: Account, endpoint_name: str) -> str:
    """SageMaker writes resource names in lowercase into its ARNs."""
    return account.arn("sagemaker", f"endpoint/{endpoint_name.lower()}")


def parameter_arn(account: Account, parameter_name: str) -> str:
    """`arn:...:ssm:<region>:<account>:parameter/a/b` for the hierarchical name `/a/b`."""
    return account.arn("ssm", f"parameter/{parameter_name.lstrip('/')}")


def pipeline_policy(*, account: Account, endpoint_name: str, function_arn: str, parameter_name: str, topic_arn: str,
                    key_arn: str) -> dict[str, Any]:
    """What the promotion state machine may do: read its endpoint and the metrics, run the decision,
    shift its endpoint's traffic, record the decision, and tell the alert topic."""
    endpoint = endpoint_arn(account, endpoint_name)
    return {"Version": "2012-10-17", "Statement": [
        # A metric has no ARN: GetMetricData is granted on "*" (see the module docstring).
        {"Sid": "ReadVariantMetrics", "Effect": "Allow", "Action": ["cloudwatch:GetMetricData"], "Resource": "*"},
        # aws-sdk:sagemaker:describeEndpoint and :updateEndpointWeightsAndCapacities: the API
        # actions of the same names, on this endpoint only.
        {"Sid": "ReadEndpoint", "Effect": "Allow", "Action": ["sagemaker:DescribeEndpoint"], "Resource": [endpoint]},
        {"Sid": "ShiftTraffic", "Effect": "Allow", "Action": ["sagemaker:UpdateEndpointWeightsAndCapacities"],
         "Resource": [endpoint]},
        # lambda:invoke of the unqualified function ARN (no version or alias is ever invoked).
        {"Sid": "Decide", "Effect": "Allow", "Action": ["lambda:InvokeFunction"], "Resource": [function_arn]},
        {"Sid": "RecordDecision", "Effect": "Allow", "Action": ["ssm:PutParameter"],
         "Resource": [parameter_arn(account, parameter_name)]},
        {"Sid": "Notify", "Effect": "Allow", "Action": ["sns:Publish"], "Resource": [topic_arn]},
        # The alert topic is encrypted with the platform key: SNS asks for a data key on the
        # publisher's behalf (as for the training pipeline's notifications).
        {"Sid": "EncryptNotifications", "Effect": "Allow", "Action": ["kms:GenerateDataKey", "kms:Decrypt"],
         "Resource": [key_arn],
         "Condition": {"StringEquals": {"kms:ViaService": f"sns.{account.region}.amazonaws.com"}}},
    ]}


def schedule_policy(state_machine_arn: str) -> dict[str, Any]:
    """The experiment's schedule may start this state machine and nothing else."""
    return {"Version": "2012-10-17", "Statement": [
        {"Sid": "StartPromotionPipeline", "Effect": "Allow", "Action": ["states:StartExecution"],
         "Resource": [state_machine_arn]},
    ]}
