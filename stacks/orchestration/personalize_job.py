"""Stages 4-6: one Personalize job (import, training, batch inference), created and polled in a bounded loop.

Personalize has no `.sync` integration and no job-state events, so every job stage has the same visible shape:

    <Stage>: start  (reset counters)
    <Stage>: create job  --busy--> <Stage>: busy?  --bound--> Fail "<Stage>Blocked"
         |                           '-> <Stage>: count busy retry -> <Stage>: wait while busy -> create job
         v
    <Stage>: wait -> <Stage>: describe job -> <Stage>: job status?  -- ACTIVE --> next stage
                                                  |-- CREATE FAILED / CREATE STOPPED --> Fail "<Stage>Failed"
                                                  |-- polled for job_max_wait_hours --> Fail "<Stage>TimedOut"
                                                  '-> <Stage>: count poll -> <Stage>: wait

Counters live in the state data (`$.counters.busy`, `$.counters.polls`, incremented with `States.MathAdd`), so
every bound is visible in the graph and in the execution history.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any
from collections.abc import Mapping, Sequence

from aws_cdk import ArnFormat, Duration, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from pipeline_contracts.statuses import PERSONALIZE_DONE_STATUS, PERSONALIZE_FAILED_STATUSES
from stacks.config import PipelineConfig
from stacks.orchestration.stage import NEXT_STAGE, ExitChoice, Stage, fail_state

JsonPath = sfn.JsonPath
# The busy-error names the Create calls treat as "try again later".
BUSY_ERRORS = ("Personalize.ResourceInUseException", "Personalize.LimitExceededException")


@dataclass(frozen=True)
class JobBounds:
    """How long and how often a job stage waits (from the config: see the README's table)."""

    poll_seconds: int
    busy_retry_seconds: int
    busy_retry_max_attempts: int
    job_max_wait_hours: int

    @classmethod
    def of(cls, config: PipelineConfig) -> JobBounds:
        return cls(
            poll_seconds=config.status_poll_seconds,
            busy_retry_seconds=config.busy_retry_seconds,
            busy_retry_max_attempts=config.busy_retry_max_attempts,
            job_max_wait_hours=config.job_max_wait_hours,
        )

    @property
    def polls(self) -> int:
        """Describe calls before the stage gives up: ceil(job_max_wait / poll interval)."""
        return math.ceil(self.job_max_wait_hours * 3600 / self.poll_seconds)


def personalize_arn(stack: Stack, resource: str, name: str) -> str:
    """`arn:...:personalize:<region>:<account>:<resource>/<name>` (name may be an IAM pattern)."""
    return stack.format_arn(
        service="personalize", resource=resource, resource_name=name, arn_format=ArnFormat.SLASH_RESOURCE_NAME
    )


def duration_text(seconds: int) -> str:
    if seconds % 3600 == 0:
        return f"{seconds // 3600} h"
    if seconds % 60 == 0:
        return f"{seconds // 60} min"
    return f"{seconds} s"


class PersonalizeJobStage(Stage):
    """Creates one Personalize job and waits until it is ACTIVE (then the next stage runs), failed, or polled
    for `job_max_wait_hours`. Writes `$.<result_key>.Arn` and `$.<result_key>.describe`; resets `$.counters`.

    The API names follow from `resource` (e.g. DatasetImportJob: CreateDatasetImportJob,
    DescribeDatasetImportJob, DatasetImportJobArn in both, the DatasetImportJob object in the Describe result).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        resource: str,
        result_key: str,
        label: str,
        create_parameters: Mapping[str, Any],
        create_resources: Sequence[str],
        describe_resources: Sequence[str],
        create_statements: Sequence[iam.PolicyStatement] = (),
        bounds: JobBounds,
        error_prefix: str | None = None,
        subject: str | None = None,
    ) -> None:
        """
        - `resource`: the Personalize resource type, e.g. DatasetImportJob.
        - `result_key`: where the stage keeps its results in the state data (`$.<result_key>`).
        - `label`: the prefix of every state name, e.g. "Import" -> "Import: create job"; its title-cased form
          prefixes the Fail errors (ImportBlocked, ImportFailed, ImportTimedOut).
        - `create_parameters`: the Create call's parameters (PascalCase, JSONPath allowed).
        - `create_resources`, `describe_resources`: the IAM resources of the Create and Describe actions;
          `create_statements`: any further statement the Create call needs (e.g. iam:PassRole).
        - `bounds`: polling interval, busy retries and the longest wait.
        - `error_prefix`: the Fail errors' prefix when it is not the label's (several solutions: the label
          "users training" names the solution, the errors stay TrainingBlocked / TrainingFailed / TrainingTimedOut,
          so alarms and callers match one error per step whatever the solution).
        - `subject`: what the causes name first (e.g. "Solution users: "), so a caught error still says whose job.
        """
        super().__init__(scope, construct_id)
        self._resource, self._key, self._label, self._bounds = resource, result_key, label, bounds
        self._error_prefix = error_prefix or label.title().replace(" ", "")
        self._subject = subject or ""
        start = sfn.Pass(
            self, f"{label}: start", result=sfn.Result.from_object({"busy": 0, "polls": 0}), result_path="$.counters"
        )
        create = self._personalize_call(
            "Create",
            "create job",
            parameters=dict(create_parameters),
            iam_resources=list(create_resources),
            additional_iam_statements=list(create_statements),
            result_selector={"Arn": JsonPath.string_at(f"$.{resource}Arn")},
            result_path=f"$.{result_key}",
        )
        create.add_catch(self._busy(create), errors=list(BUSY_ERRORS), result_path="$.counters.lastError")
        wait = sfn.Wait(self, f"{label}: wait", time=sfn.WaitTime.duration(Duration.seconds(bounds.poll_seconds)))
        describe = self._describe(describe_resources)
        start.next(create).next(wait).next(describe)
        self._set_flow(start, self._status(after=describe, poll_again=wait))

    # Paths and names ---------------------------------------------------------------------------------------------
    @property
    def _arn_path(self) -> str:
        return f"$.{self._key}.Arn"

    @property
    def _status_path(self) -> str:
        return f"$.{self._key}.describe.{self._resource}.Status"

    @property
    def _reason_path(self) -> str:
        return f"$.{self._key}.describe.{self._resource}.FailureReason"

    @property
    def _noun(self) -> str:
        """For messages: DatasetImportJob -> Dataset import job."""
        return re.sub(r"(?<!^)([A-Z])", lambda m: " " + m.group(1).lower(), self._resource)

    # States ------------------------------------------------------------------------------------------------------
    def _counters(self, name: str, *, busy: Any, polls: Any) -> sfn.Pass:
        return sfn.Pass(
            self, f"{self._label}: {name}", parameters={"busy": busy, "polls": polls}, result_path="$.counters"
        )

    def _fail(self, name: str, error: str, message: str, *paths: str) -> sfn.Fail:
        """A Fail state whose cause is `message` with each {} replaced by the value at the next path."""
        return fail_state(
            self,
            f"{self._label}: {name}",
            error=f"{self._error_prefix}{error}",
            cause=self._subject + message,
            values=[JsonPath.string_at(path) for path in paths],
        )

    def _personalize_call(self, verb: str, state: str, **props: Any) -> tasks.CallAwsService:
        """The `<verb><resource>` call of Personalize, e.g. Create + DatasetImportJob, in state "<label>: <state>"."""
        return tasks.CallAwsService(
            self,
            f"{self._label}: {state}",
            service="personalize",
            action=f"{verb.lower()}{self._resource}",
            iam_action=f"personalize:{verb}{self._resource}",
            **props,
        )

    def _busy(self, create: sfn.IChainable) -> sfn.Choice:
        """Create, retried while Personalize reports busy; at most busy_retry_max_attempts calls."""
        attempts, pause = self._bounds.busy_retry_max_attempts, self._bounds.busy_retry_seconds
        blocked = self._fail(
            "still busy",
            "Blocked",
            f"Create{self._resource} was refused as busy {attempts} times in a row over "
            f"{duration_text((attempts - 1) * pause)} of retries, so the run gave up. Last error: {{}}",
            "$.counters.lastError.Cause",
        )
        retry = (
            self._counters(
                "count busy retry",
                busy=JsonPath.math_add(JsonPath.number_at("$.counters.busy"), 1),
                polls=JsonPath.number_at("$.counters.polls"),
            )
            .next(
                sfn.Wait(self, f"{self._label}: wait while busy", time=sfn.WaitTime.duration(Duration.seconds(pause)))
            )
            .next(create)
        )
        return (
            sfn.Choice(self, f"{self._label}: busy?")
            .when(sfn.Condition.number_greater_than_equals("$.counters.busy", attempts - 1), blocked)
            .otherwise(retry)
        )

    def _describe(self, resources: Sequence[str]) -> tasks.CallAwsService:
        describe = self._personalize_call(
            "Describe",
            "describe job",
            parameters={f"{self._resource}Arn": JsonPath.string_at(self._arn_path)},
            iam_resources=list(resources),
            result_path=f"$.{self._key}.describe",
        )
        # A read, safe to repeat: transient service errors should not end a run that has waited for hours.
        describe.add_retry(errors=["States.TaskFailed"], interval=Duration.seconds(5), max_attempts=3, backoff_rate=2)
        return describe

    def _status(self, *, after: sfn.INextable, poll_again: sfn.IChainable) -> ExitChoice:
        """Polls until the job leaves its running states; at most `bounds.polls` describes."""
        bounds, noun, arn, status = self._bounds, self._noun, self._arn_path, self._status_path
        is_failed = sfn.Condition.or_(*(sfn.Condition.string_equals(status, s) for s in PERSONALIZE_FAILED_STATUSES))
        timed_out = self._fail(
            "timed out",
            "TimedOut",
            f"{noun} {{}} was still {{}} after {bounds.polls} polls over "
            f"{duration_text(bounds.polls * bounds.poll_seconds)} (job_max_wait_hours is {bounds.job_max_wait_hours})",
            arn,
            status,
        )
        count_poll = self._counters(
            "count poll",
            busy=JsonPath.number_at("$.counters.busy"),
            polls=JsonPath.math_add(JsonPath.number_at("$.counters.polls"), 1),
        )
        return ExitChoice(
            self,
            f"{self._label}: job status?",
            after=after,
            when=[
                (sfn.Condition.string_equals(status, PERSONALIZE_DONE_STATUS), NEXT_STAGE),
                (
                    sfn.Condition.and_(is_failed, sfn.Condition.is_present(self._reason_path)),
                    self._fail("job failed", "Failed", f"{noun} {{}} ended {{}}: {{}}", arn, status, self._reason_path),
                ),
                (
                    is_failed,
                    self._fail("job ended", "Failed", f"{noun} {{}} ended {{}} without a failure reason", arn, status),
                ),
                (sfn.Condition.number_greater_than_equals("$.counters.polls", bounds.polls - 1), timed_out),
            ],
            otherwise=count_poll.next(poll_again),
        )
