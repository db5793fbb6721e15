"""Retraining on drift: the EventBridge documents, as pure functions of names.

CloudWatch sends "CloudWatch Alarm State Change" to the default event bus on every state change
of an alarm (CloudWatch User Guide, "Alarm events and EventBridge"; its sample event has
`detail.alarmName`, `detail.state.value` and `detail.previousState.value`). The rule matches only
the drift alarms' changes INTO `ALARM`, so an OK or INSUFFICIENT_DATA transition, or any other
alarm of the account, starts nothing.

Its input transformer hands the training state machine exactly what the retraining schedule hands
it, `{"model_name": ..., "hyperparameters": {}}` (the model's configured defaults;
components/training_workflow.py reads nothing else), plus `retrain_trigger`, which only the
execution's input records: the alarm and when it fired. Both values are quoted placeholders; alarm
names come from the stack's namer and times are ISO 8601, so neither holds a quote or backslash.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

SOURCE = "aws.cloudwatch"
DETAIL_TYPE = "CloudWatch Alarm State Change"
INPUT_PATHS = {"alarm": "$.detail.alarmName", "changed_at": "$.time"}


def retrain_event_pattern(alarm_names: Sequence[str]) -> dict[str, Any]:
    return {
        "source": [SOURCE],
        "detail-type": [DETAIL_TYPE],
        "detail": {"alarmName": sorted(alarm_names), "state": {"value": ["ALARM"]}},
    }


def retrain_input_template(model: str) -> str:
    """The state machine's input for `model` (a configured model name: lowercase, digits, '-')."""
    return ('{"model_name": "' + model + '", "hyperparameters": {}, '
            '"retrain_trigger": {"reason": "data drift", "alarm": "<alarm>", "changed_at": "<changed_at>"}}')
