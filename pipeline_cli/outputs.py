"""Which CloudFormation outputs of the pipeline stack the CLI reads, in one place.

The stack's outputs are the CLI's only coupling to the CDK app: operators name a stack, never an
ARN, so a redeploy that replaces the state machine (new ARN) needs no CLI change. The names come
from `pipeline_contracts.stack_outputs`, which the stacks use for their output ids too.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from pipeline_contracts import stack_outputs

from pipeline_contracts.run_layout import RUNS_PREFIX

from .errors import CliError, ExitCode

__all__ = [
    "OUTPUT_STATE_MACHINE_ARN",
    "OUTPUT_CURATED_BUCKET_NAME",
    "OUTPUT_ALERT_TOPIC_ARN",
    "REQUIRED_OUTPUTS",
    "OPTIONAL_OUTPUTS",
    "Pipeline",
    "pipeline_from_outputs",
]

"""`<prefix>-<environment>-pipeline` with the defaults of cdk.json."""

OUTPUT_STATE_MACHINE_ARN = stack_outputs.STATE_MACHINE_ARN
"""Required: the state machine every command works on."""
OUTPUT_CURATED_BUCKET_NAME = stack_outputs.CURATED_BUCKET_NAME
"""Optional: the bucket runs write recommendations to (each run's exact prefix is in its output)."""
OUTPUT_ALERT_TOPIC_ARN = stack_outputs.ALERT_TOPIC_ARN
"""Optional: the SNS topic failures are announced on (shown so operators know who was told)."""

# Read by `doctor` only (pipeline stack, then data stack where noted).
OUTPUT_GLUE_JOB_NAME = stack_outputs.GLUE_JOB_NAME
"""Pipeline stack: the ETL job; its `--input_uri` tells where raw files are read."""
OUTPUT_SOLUTION_ARN_PARAMETER_NAMES = stack_outputs.SOLUTION_ARN_PARAMETER_NAMES
"""Both stacks: the SSM parameters (comma-separated, config order) holding the ARNs of the solutions the state
machine reads at run start."""
OUTPUT_SOLUTION_ARNS = stack_outputs.SOLUTION_ARNS
"""Data stack: the Personalize solutions (comma-separated, in the order of the parameters)."""
OUTPUT_DATASET_GROUP_ARN = stack_outputs.DATASET_GROUP_ARN
"""Data stack: the Personalize dataset group."""
OUTPUT_DATA_KEY_ARN = stack_outputs.DATA_KEY_ARN
"""Data stack: the KMS key of the data buckets."""

REQUIRED_OUTPUTS = (OUTPUT_STATE_MACHINE_ARN,)
OPTIONAL_OUTPUTS = (OUTPUT_CURATED_BUCKET_NAME, OUTPUT_ALERT_TOPIC_ARN)


@dataclass(frozen=True)
class Pipeline:
    """A deployed pipeline as found through its stack."""

    stack_name: str
    state_machine_arn: str
    curated_bucket: str | None = None
    alert_topic_arn: str | None = None

    @property
    def state_machine_name(self) -> str:
        return self.state_machine_arn.rsplit(":", 1)[-1]

    @property
    def curated_runs_uri(self) -> str | None:
        """Where all runs' outputs live. A run's own prefix is not derivable from its execution
        name (the naming Lambda adds a start-time stamp and a digest), so it is read from the
        run's output (`outputPrefix`) instead."""
        return f"s3://{self.curated_bucket}/{RUNS_PREFIX}" if self.curated_bucket else None


def pipeline_from_outputs(
    stack_name: str, outputs: Iterable[Mapping[str, Any]], stack_status: str | None = None
) -> Pipeline:
    """The `Pipeline` described by a stack's `Outputs` list (as `describe_stacks` returns it).

    Raises a usage error naming the missing key and the keys that *are* there: the usual cause
    is pointing `--stack` at the data stack, and the list makes that obvious. The stack status
    explains the other cause, a stack whose creation failed (no outputs at all).
    """
    values = {str(o.get("OutputKey")): str(o.get("OutputValue", "")) for o in outputs}
    arn = values.get(OUTPUT_STATE_MACHINE_ARN, "").strip()
    if not arn:
        present = ", ".join(sorted(values)) or "none"
        healthy = (None, "CREATE_COMPLETE", "UPDATE_COMPLETE", "IMPORT_COMPLETE")
        status = "" if stack_status in healthy else f", stack status {stack_status}"
        raise CliError(
            f"stack {stack_name!r} has no {OUTPUT_STATE_MACHINE_ARN!r} output (its outputs: {present}{status}); "
            "is it the pipeline stack? (--stack)",
            ExitCode.USAGE,
        )
    if not (arn.startswith("arn:") and ":states:" in arn and ":stateMachine:" in arn):
        raise CliError(
            f"output {OUTPUT_STATE_MACHINE_ARN!r} of stack {stack_name!r} is not a state machine ARN: {arn!r}",
            ExitCode.USAGE,
        )
    return Pipeline(
        stack_name=stack_name,
        state_machine_arn=arn,
        curated_bucket=values.get(OUTPUT_CURATED_BUCKET_NAME) or None,
        alert_topic_arn=values.get(OUTPUT_ALERT_TOPIC_ARN) or None,
    )
