"""The last stage: the run's summary as the execution's output."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from stacks.orchestration.stage import Stage

JsonPath = sfn.JsonPath


class RunSummary(Stage):
    """Replaces the state data with the run's ids and ARNs (status SUCCEEDED), plus `extra_fields` (name -> JSONPath
    value), and ends the execution."""

    def __init__(self, scope: Construct, construct_id: str, *, extra: Mapping[str, Any] | None = None) -> None:
        """`extra`: further summary entries (name -> JSONPath value), e.g. the metadata imports."""
        super().__init__(scope, construct_id)
        summary = sfn.Pass(
            self,
            "Summarize run",
            parameters={
                "status": "SUCCEEDED",
                "runId": JsonPath.string_at("$.run.id"),
                "glueJobRunId": JsonPath.string_at("$.glue.JobRunId"),
                "datasetImportJobArn": JsonPath.string_at("$.import.Arn"),
                # Every solution's record (post-processing replaces it with the manifest's name/status/gate list).
                "solutions": JsonPath.list_at("$.solutions"),
                "outputPrefix": JsonPath.string_at("$.run.batchOutputUri"),
                # The import and training modes the run chose, each with its reason (pipeline_contracts/run_modes).
                "modes": JsonPath.object_at("$.modes"),
                **(extra or {}),
            },
        )
        summary.next(sfn.Succeed(self, "Run succeeded"))
        self._set_flow(summary)
