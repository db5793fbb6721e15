"""IAM documents every platform Lambda function gets, as pure functions of names and ARNs.

Sources: AWS Lambda Developer Guide, "Defining Lambda function permissions with an execution
role" (the trust policy names the Lambda service, nothing else; the AWSLambdaBasicExecutionRole
managed policy's logs:CreateLogStream and logs:PutLogEvents, here on the function's own log
group, which the program creates, so no logs:CreateLogGroup) and "Capturing records of Lambda
asynchronous invocations" (Lambda sends a failed event to the on-failure destination with the
function's execution role: sqs:SendMessage; the queue is KMS-encrypted, so the role also needs
a data key through SQS).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from components.documents import Account


def trust_policy() -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}


def function_policy(*, account: Account, log_group_arn: str, failure_queue_arn: str, key_arn: str,
                    statements: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """What every function may do (write its own logs, park failed events) plus `statements`."""
    return {"Version": "2012-10-17", "Statement": [
        {"Sid": "WriteOwnLogs", "Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
         "Resource": [f"{log_group_arn}:log-stream:*"]},
        {"Sid": "ParkFailedEvents", "Effect": "Allow", "Action": ["sqs:SendMessage"], "Resource": [failure_queue_arn]},
        {"Sid": "EncryptFailedEvents", "Effect": "Allow", "Action": ["kms:GenerateDataKey", "kms:Decrypt"],
         "Resource": [key_arn], "Condition": {"StringEquals": {"kms:ViaService": f"sqs.{account.region}.amazonaws.com"}}},
        *statements,
    ]}
