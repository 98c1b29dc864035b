"""The chat text of a CloudWatch alarm's state change, as CloudWatch publishes it to SNS."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict


class AlarmTrigger(BaseModel):
    model_config = ConfigDict(extra="ignore")

    MetricName: str | None = None
    Namespace: str | None = None
    Threshold: float | None = None
    ComparisonOperator: str | None = None


class AlarmMessage(BaseModel):
    """The JSON CloudWatch publishes to SNS when an alarm changes state."""

    model_config = ConfigDict(extra="ignore")

    AlarmName: str
    NewStateValue: Literal["ALARM", "OK", "INSUFFICIENT_DATA"]
    NewStateReason: str
    StateChangeTime: str
    AlarmDescription: str | None = None
    Trigger: AlarmTrigger | None = None


def format_alarm(alarm: AlarmMessage) -> str:
    if alarm.NewStateValue == "OK":
        headline = f":white_check_mark: Resolved: {alarm.AlarmName}"
        action = "Nothing to do; the alarm is back to OK."
    else:
        headline = f":rotating_light: {alarm.AlarmName} is {alarm.NewStateValue}"
        action = "See the alarm's runbook in docs/operations.md."
    lines = [headline]
    if alarm.AlarmDescription:
        lines.append(alarm.AlarmDescription)
    lines.append(f"Why: {alarm.NewStateReason}")
    lines.append(f"When: {alarm.StateChangeTime}")
    lines.append(f"Next: {action}")
    return "\n".join(lines)
