"""What a check is and what it returns, and the deployed environment the checks look at."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from ..errors import CliError, ExitCode
from .reader import AwsReader, Missing

__all__ = ["Status", "Finding", "Check", "Environment", "passed", "warned", "failed", "data_stack_name"]

PIPELINE_SUFFIX = "-pipeline"
DATA_SUFFIX = "-data"
HEALTHY_STACK_STATUSES = ("CREATE_COMPLETE", "UPDATE_COMPLETE", "IMPORT_COMPLETE")
DEPLOY_FIX = "deploy both stacks: npx cdk deploy --all"


class Status(StrEnum):
    PASS = "PASS"
    WARN = "WARN"
    """Runs work, but something deserves attention (a bill, runs that only start by hand)."""
    FAIL = "FAIL"
    SKIP = "SKIP"
    """Not run: a check it depends on did not pass."""


@dataclass(frozen=True)
class Finding:
    """One check's result: the line the operator reads and the facts a script reads (`--json`)."""

    status: Status
    detail: str
    fix: str | None = None
    facts: Mapping[str, Any] = field(default_factory=dict)
    could_not_check: bool = False
    """FAIL because a call the check needs was refused (access, throttling), not because of a finding."""


def passed(detail: str, **facts: Any) -> Finding:
    return Finding(Status.PASS, detail, None, facts)


def warned(detail: str, fix: str, **facts: Any) -> Finding:
    return Finding(Status.WARN, detail, fix, facts)


def failed(detail: str, fix: str, **facts: Any) -> Finding:
    return Finding(Status.FAIL, detail, fix, facts)


@dataclass(frozen=True)
class Check:
    key: str
    title: str
    run: Callable[[Environment], Finding]
    needs: tuple[str, ...] = ()
    """Keys of checks that must not have failed (PASS or WARN) for this one to run."""


def data_stack_name(pipeline_stack: str) -> str:
    """`pbp-dev-pipeline` -> `pbp-dev-data` (the app names both `<prefix>-<environment>-...`)."""
    if not pipeline_stack.endswith(PIPELINE_SUFFIX):
        raise CliError(
            f"cannot derive the data stack from {pipeline_stack!r} (no {PIPELINE_SUFFIX!r} suffix): pass --data-stack",
            ExitCode.USAGE,
        )
    return pipeline_stack[: -len(PIPELINE_SUFFIX)] + DATA_SUFFIX


@dataclass
class Environment:
    """A deployment as the checks see it: the two stacks, the AWS reader and the options."""

    reader: AwsReader
    pipeline_stack: str
    data_stack: str
    now: datetime
    expect_auto_training: bool = False

    def redeploy_pipeline(self, why: str = "") -> str:
        """The fix for a pipeline-stack resource that is gone or wrong (`why`: " (it grants these)")."""
        return f"redeploy the pipeline stack{why}: npx cdk deploy {self.pipeline_stack}"

    def redeploy_data(self, why: str = "") -> str:
        return f"redeploy the data stack{why}: npx cdk deploy {self.data_stack}"

    def stack(self, name: str) -> Mapping[str, Any] | None:
        """`DescribeStacks` of one stack; None when it does not exist."""
        try:
            stacks = self.reader.read("cloudformation", "DescribeStacks", ["ValidationError"], StackName=name)
        except Missing as exc:
            if "does not exist" in exc.message:
                return None
            raise CliError(f"cloudformation:DescribeStacks rejected {name!r}: {exc.message}", ExitCode.USAGE) from exc
        found = stacks.get("Stacks") or []
        return found[0] if found else None

    def outputs(self, name: str) -> dict[str, str]:
        stack = self.stack(name) or {}
        return {str(o.get("OutputKey")): str(o.get("OutputValue", "")) for o in stack.get("Outputs") or []}

    def output(self, name: str, key: str) -> str | None:
        return self.outputs(name).get(key) or None

    def stack_resources(self, name: str, resource_type: str) -> list[Mapping[str, Any]]:
        """The stack's resources of one CloudFormation type (e.g. `AWS::Lambda::Function`)."""
        resources = self.reader.pages("cloudformation", "ListStackResources", "StackResourceSummaries", StackName=name)
        return [r for r in resources if r.get("ResourceType") == resource_type]
