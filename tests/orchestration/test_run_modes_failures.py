"""The Choose modes stage's failures, executed: a run below the import minimum stops before any import, with
the count in its cause; a Personalize list that cannot be read stops the run naming the step."""

from __future__ import annotations

import json

from tests.support.orchestration_stack import SynthesizedOrchestration
from pipeline_rehearsal import OfflineStepFunctions

Offline = tuple[OfflineStepFunctions, str]


def with_summary(aws: OfflineStepFunctions, orchestration: SynthesizedOrchestration, kept: int) -> None:
    """The Glue stand-in also writes the run's `_summary.json` with `kept` interactions."""
    write_inputs = aws.glue.on_start
    assert write_inputs is not None

    def on_start(params: dict) -> None:
        write_inputs(params)
        key = f"runs/{params['Arguments']['--run_id']}/_summary.json"
        body = json.dumps({"counts": {"kept": kept}}).encode()
        aws.client("s3").put_object(Bucket=orchestration.expected("transformed_bucket"), Key=key, Body=body)

    aws.glue.on_start = on_start


def test_a_run_below_the_import_minimum_fails_before_any_import(
    orchestration: SynthesizedOrchestration, offline: Offline
) -> None:
    aws, arn = offline
    with_summary(aws, orchestration, kept=999)
    result = aws.run(arn, name="thin-run")
    assert (result.status, result.error) == ("FAILED", "ImportNotPossible")
    assert "this run has 999 interactions records" in result.cause and "at least 1,000" in result.cause
    assert "stackTrace" not in result.cause  # the reason, read out of the Lambda error
    assert not aws.calls_to("personalize", "CreateDatasetImportJob", "CreateSolutionVersion")


def test_at_the_minimum_the_run_imports(orchestration: SynthesizedOrchestration, offline: Offline) -> None:
    aws, arn = offline
    with_summary(aws, orchestration, kept=1000)
    result = aws.run(arn, name="just-enough")
    assert result.status == "SUCCEEDED", result.cause
    (created,) = aws.calls_to("personalize", "CreateDatasetImportJob")
    assert created.params["importMode"] == "FULL"  # the first import (import_mode INCREMENTAL)


def test_a_list_that_cannot_be_read_fails_the_run_naming_the_step(offline: Offline) -> None:
    aws, arn = offline
    aws.personalize.refuse("ListDatasetImportJobs", "AccessDeniedException")
    result = aws.run(arn, name="no-access")
    assert (result.status, result.error) == ("FAILED", "ModesNotChosen")
    assert "the import and training modes could not be chosen" in result.cause
    assert "AccessDeniedException" in result.cause
    assert not aws.calls_to("personalize", "CreateDatasetImportJob")
