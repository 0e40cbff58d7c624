"""What makes the pipeline run unattended: the schedule starts runs, the alert topic reaches someone."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from ..formatting import format_time
from ..outputs import OUTPUT_ALERT_TOPIC_ARN
from pipeline_contracts.schedule_times import ScheduleExpressionError, next_start
from .base import DEPLOY_FIX, Environment, Finding, failed, passed, warned
from .reader import Missing

__all__ = ["check_schedule", "check_alert_topic", "UNCONFIRMED"]

SCHEDULE = "AWS::Scheduler::Schedule"
DEFAULT_GROUP = "default"
# SNS lists a subscription nobody has confirmed yet under this ARN; it receives nothing.
UNCONFIRMED = ("PendingConfirmation", "Deleted")


def check_schedule(env: Environment) -> Finding:
    resources = env.stack_resources(env.pipeline_stack, SCHEDULE)
    if not resources:
        return failed(f"{env.pipeline_stack} has no {SCHEDULE}", DEPLOY_FIX)
    name = str(resources[0]["PhysicalResourceId"])
    try:
        schedule = env.reader.read(
            "scheduler", "GetSchedule", ["ResourceNotFoundException"], Name=name, GroupName=DEFAULT_GROUP
        )
    except Missing:
        return failed(f"schedule {name} does not exist", env.redeploy_pipeline())
    expression = str(schedule.get("ScheduleExpression", ""))
    time_zone = schedule.get("ScheduleExpressionTimezone") or "UTC"
    state = str(schedule.get("State", ""))
    upcoming, when, unreadable = _next(schedule, time_zone, env.now)
    facts = {"name": name, "state": state, "expression": expression, "timezone": time_zone, "nextStart": upcoming}
    described = f"{name} {state}: {expression} ({time_zone}), {when}"
    if state != "ENABLED":
        return warned(
            f"{described}; runs only start by hand (python -m pipeline_cli start)",
            "to run on schedule, deploy with -c schedule_enabled=true",
            **facts,
        )
    if upcoming is None and not unreadable:
        return warned(f"{described}; it will not start any more runs", "deploy a new schedule_expression", **facts)
    return passed(described, **facts)


def _next(schedule: Mapping[str, Any], time_zone: str, now: datetime) -> tuple[datetime | None, str, bool]:
    """The next start, how to say it, and whether the expression was unreadable."""
    try:
        upcoming = next_start(
            str(schedule.get("ScheduleExpression", "")),
            time_zone,
            now,
            start_date=schedule.get("StartDate"),
            end_date=schedule.get("EndDate"),
            created=schedule.get("CreationDate"),
        )
    except ScheduleExpressionError as exc:
        return None, f"next start unknown ({exc})", True
    return upcoming, f"next start {format_time(upcoming)}" if upcoming else "no start left", False


def check_alert_topic(env: Environment) -> Finding:
    topic = env.output(env.pipeline_stack, OUTPUT_ALERT_TOPIC_ARN)
    if topic is None:
        return failed(f"{env.pipeline_stack} has no {OUTPUT_ALERT_TOPIC_ARN} output", DEPLOY_FIX)
    try:
        subscriptions = list(
            env.reader.pages("sns", "ListSubscriptionsByTopic", "Subscriptions", expect=["NotFound"], TopicArn=topic)
        )
    except Missing:
        return failed(f"topic {topic} does not exist", env.redeploy_pipeline())
    confirmed = [s for s in subscriptions if s.get("SubscriptionArn") not in UNCONFIRMED]
    pending = sum(1 for s in subscriptions if s.get("SubscriptionArn") == "PendingConfirmation")
    endpoints = sorted(f"{s.get('Protocol')}:{s.get('Endpoint')}" for s in confirmed)
    facts = {"topicArn": topic, "confirmed": endpoints, "pendingConfirmation": pending}
    if not confirmed:
        waiting = f" ({pending} waiting for confirmation: click the link in the e-mail)" if pending else ""
        return failed(
            f"no confirmed subscription on {topic}{waiting}: failures reach nobody",
            "deploy with -c notification_email=ops@example.com and confirm the e-mail, "
            f"or: aws sns subscribe --topic-arn {topic} --protocol email --notification-endpoint ADDRESS",
            **facts,
        )
    return passed(f"{len(confirmed)} confirmed subscription(s) on {topic}: {', '.join(endpoints)}", **facts)
