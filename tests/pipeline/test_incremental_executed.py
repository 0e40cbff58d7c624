"""The incremental ETL in executed runs of `config/full.json` (etl_incremental on, import_mode INCREMENTAL), with the
real handlers: the ledger a run's Glue job proposes becomes `state/ledger.json` only when the run succeeds, and the
next run's import reads the folder the modes function chose.

1. the first run (a rebuild: no ledger yet) imports the whole set FULL from interactions/ and promotes its ledger;
2. the next run, with a delta of 1,000 new interactions, imports interactions-delta/ INCREMENTAL and promotes its
   ledger in turn; `--full_rebuild` is "false" for both;
3. a run started with {"full_rebuild": true} passes `--full_rebuild true` to the Glue job; its training fails, so
   its ledger is never promoted: state/ledger.json stays the second run's.

The Glue stand-in writes what the job writes with --incremental: `_summary.json` with its `incremental` section,
interactions-delta/ and the proposed `_ledger.json` (the job itself is tested on local Spark, tests/glue).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from pipeline_contracts import run_layout
from pipeline_rehearsal.deployment import SynthesizedOrchestration
from pipeline_rehearsal import JobScript, OfflineStepFunctions

from .test_executed_pipeline import Run, Scenario
from .test_run_modes_executed import execute, pipeline  # noqa: F401  (the same fixtures: the app's machine, run)
from .test_run_modes_executed import scenario as modes_scenario

Execute = Callable[..., Run]
pytestmark = pytest.mark.parametrize("configuration", ["full"], scope="session")


def incremental_glue(pipeline: SynthesizedOrchestration, solution_arns: dict[str, str], delta: int | None) -> Scenario:
    """The run-modes scenario, whose Glue stand-in also writes the incremental job's summary, delta and ledger."""
    base = modes_scenario(pipeline, solution_arns)

    def script(aws: OfflineStepFunctions) -> None:
        assert base.script is not None
        base.script(aws)
        write_inputs = aws.glue.on_start
        assert write_inputs is not None
        s3, bucket = aws.client("s3"), pipeline.expected("transformed_bucket")

        def on_start(params: dict[str, Any]) -> None:
            write_inputs(params)
            run_id = params["Arguments"]["--run_id"]
            section = {
                "rebuild_reason": None if delta else "no ledger yet: no earlier run with etl_incremental succeeded",
                "whole_set": {"interactions": 5000},
                "delta": {"interactions": delta} if delta else None,
                "import_full_reason": None if delta else "this run rebuilt the data in full: no ledger yet",
            }
            bodies = {
                run_layout.SUMMARY: json.dumps({"counts": {"kept": delta or 5000}, "incremental": section}),
                run_layout.PROPOSED_LEDGER: json.dumps({"version": 1, "run": run_id, "objects": {}}),
            }
            if delta:
                bodies[run_layout.INTERACTIONS_DELTA + "part-00000.csv"] = "USER_ID,ITEM_ID,TIMESTAMP\n1,2,3\n"
            for entry, body in bodies.items():
                s3.put_object(Bucket=bucket, Key=run_layout.run_key(run_id, entry), Body=body.encode())

        aws.glue.on_start = on_start

    return Scenario(batch_input=base.batch_input, script=script)


def ledger_run(run: Run) -> str:
    body = run.s3.get_object(Bucket=run.transformed, Key=run_layout.LEDGER_KEY)["Body"].read()
    return str(json.loads(body)["run"])


def interactions_import(run: Run, name: str, dataset_arn: str) -> dict[str, Any]:
    (call,) = [c for c in run.aws.calls if c.operation == "CreateDatasetImportJob" and name in c.params["jobName"]
               and c.params["datasetArn"] == dataset_arn]  # fmt: skip
    return dict(call.params)


def test_the_ledger_is_promoted_on_success_only_and_the_import_reads_the_chosen_folder(
    execute: Execute, pipeline: SynthesizedOrchestration
) -> None:
    arns = {spec.name: pipeline.solution_arn_of(spec.name) for spec in pipeline.config.solutions}
    bucket, dataset = pipeline.expected("transformed_bucket"), pipeline.expected("dataset_arn")

    def imported_and_promoted(run: Run, name: str, mode: str, folder: str) -> None:
        """The run succeeded, imported `folder` of its own run in `mode`, and its ledger was promoted."""
        assert run.result.status == "SUCCEEDED", run.result.cause
        chosen = run.result.output["modes"]["imports"]["interactions"]
        assert (chosen["mode"], chosen["folder"]) == (mode, folder)
        run_id = run.result.output["runId"]
        location = interactions_import(run, name, dataset)["dataSource"]["dataLocation"]
        assert location == run_layout.run_uri(bucket, run_id, folder)
        assert ledger_run(run) == run_id

    first = execute(incremental_glue(pipeline, arns, delta=None), name="first-run")
    imported_and_promoted(first, "first-run", "FULL", run_layout.INTERACTIONS)

    second = execute(incremental_glue(pipeline, arns, delta=1000), name="second-run")
    imported_and_promoted(second, "second-run", "INCREMENTAL", run_layout.INTERACTIONS_DELTA)
    assert [run["params"]["Arguments"]["--full_rebuild"] for run in second.aws.glue.runs] == ["false", "false"]

    # A rebuild asked for in the execution input, in a run whose training fails: no promotion.
    failing = incremental_glue(pipeline, arns, delta=1000)
    prepare = failing.script

    def script(aws: OfflineStepFunctions) -> None:
        assert prepare is not None
        prepare(aws)
        aws.personalize.default_script = JobScript(status="CREATE FAILED", failure_reason="injected")

    failing.script = script
    script(second.aws)
    machine = second.result.arn.replace(":execution:", ":stateMachine:").rsplit(":", 1)[0]
    third = second.aws.run(machine, name="third-run", input={"full_rebuild": True})
    assert third.status == "FAILED"
    assert second.aws.glue.runs[-1]["params"]["Arguments"]["--full_rebuild"] == "true"
    assert ledger_run(second) == second.result.output['runId']
