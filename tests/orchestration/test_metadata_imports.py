"""Items and Users imports, executed offline: in parallel with the interactions import, each through the same
bounded busy/poll loop, skipped when the run wrote no folder for them, and failing the run by name."""

from __future__ import annotations

from typing import Any, Iterator

import pytest

from lambda_src.run_names.naming import run_names
from pipeline_contracts.metadata_datasets import parse_dataset
from stacks.config import PipelineConfig
from stacks.orchestration.solutions import solution_job_name_prefixes
from pipeline_rehearsal.deployment import SynthesizedOrchestration
from tests.support.orchestration_stack import synth_orchestration
from pipeline_rehearsal import EPOCH, JobScript, OfflineStepFunctions, VirtualClock

from .conftest import TEST_CONFIG

ITEMS = {"fields": [{"name": "GENRES", "type": "categorical"}],
         "sources": [{"prefix": "items/", "id_column": "movieId", "columns": {"GENRES": "genres"}, "separator": "|"}]}
USERS = {"fields": [{"name": "AGE", "type": "int"}],
         "sources": [{"prefix": "users/", "id_column": "userId", "columns": {"AGE": "age"}}]}
METADATA_CONFIG = PipelineConfig(
    **{**TEST_CONFIG.__dict__, "environment": "meta",
       "items_dataset": parse_dataset("items", ITEMS), "users_dataset": parse_dataset("users", USERS)}
)
EXECUTION = "weekly-2026-01-04"
Offline = tuple[OfflineStepFunctions, str]


@pytest.fixture(scope="module")
def metadata_orchestration() -> SynthesizedOrchestration:
    return synth_orchestration({"meta": METADATA_CONFIG})["meta"]


@pytest.fixture
def offline(metadata_orchestration: SynthesizedOrchestration) -> Iterator[Offline]:
    with metadata_orchestration.offline() as harness:  # the buckets exist (SynthesizedOrchestration.offline)
        yield harness


def names(orchestration: SynthesizedOrchestration) -> dict[str, str]:
    config = orchestration.config
    execution_arn = (
        f"arn:aws:states:{orchestration.region}:123456789012:execution:{orchestration.state_machine_name}:{EXECUTION}"
    )
    prefixes = {
        "importJobName": config.resource_name("import"),
        **solution_job_name_prefixes(config),
        "itemsImportJobName": config.resource_name("items-import"),
        "usersImportJobName": config.resource_name("users-import"),
    }
    return run_names(EXECUTION, execution_arn, VirtualClock.iso(EPOCH), prefixes)


def write_folders(aws: OfflineStepFunctions, orchestration: SynthesizedOrchestration, *kinds: str) -> str:
    """What the Glue job leaves in the run folder: a CSV in the folder of each dataset that had rows."""
    run_id = names(orchestration)["runId"]
    for kind in kinds:
        aws.client("s3").put_object(
            Bucket=orchestration.expected("transformed_bucket"), Key=f"runs/{run_id}/{kind}/part-00000.csv", Body=b"x"
        )
    return f"s3://{orchestration.expected('transformed_bucket')}/runs/{run_id}"


def imports(aws: OfflineStepFunctions) -> dict[str, dict[str, Any]]:
    """CreateDatasetImportJob parameters by dataset ARN."""
    return {call.params["datasetArn"]: call.params for call in aws.calls_to("personalize", "CreateDatasetImportJob")}


def test_every_dataset_imports_in_parallel_before_training(
    metadata_orchestration: SynthesizedOrchestration, offline: Offline
) -> None:
    aws, arn = offline
    orchestration = metadata_orchestration
    run = write_folders(aws, orchestration, "items", "users")
    # The interactions import takes 50 min, the metadata imports 5 min each.
    aws.personalize.script("import", JobScript(duration=3000), name_prefix=orchestration.config.resource_name("import"))
    result = aws.run(arn, name=EXECUTION)

    assert result.status == "SUCCEEDED", result.cause
    expected = names(orchestration)
    created = imports(aws)
    # import_mode is INCREMENTAL, but no dataset has an ACTIVE import yet: each first import is FULL (see
    # tests/orchestration/test_run_modes_executed.py for the runs after).
    assert created == {
        orchestration.expected("dataset_arn"): {
            "jobName": expected["importJobName"], "datasetArn": orchestration.expected("dataset_arn"),
            "dataSource": {"dataLocation": f"{run}/interactions/"},
            "roleArn": orchestration.expected("personalize_role_arn"), "importMode": "FULL",
        },
        orchestration.expected("items_dataset_arn"): {
            "jobName": expected["itemsImportJobName"], "datasetArn": orchestration.expected("items_dataset_arn"),
            "dataSource": {"dataLocation": f"{run}/items/"},
            "roleArn": orchestration.expected("personalize_role_arn"), "importMode": "FULL",
        },
        orchestration.expected("users_dataset_arn"): {
            "jobName": expected["usersImportJobName"], "datasetArn": orchestration.expected("users_dataset_arn"),
            "dataSource": {"dataLocation": f"{run}/users/"},
            "roleArn": orchestration.expected("personalize_role_arn"), "importMode": "FULL",
        },
    }
    import_jobs = [job for job in aws.personalize.jobs if job.kind == "import"]
    # Side by side in the definition: one Parallel state whose branches start the three imports, and
    # training after it. (The harness runs branches in threads on one virtual clock, so times cannot show it.)
    states = orchestration.definition["States"]
    (parallel,) = [state for state in states.values() if state["Type"] == "Parallel" and "Branches" in state
                   and state["Branches"][0]["StartAt"] == "Import: hand over"]
    assert [branch["StartAt"] for branch in parallel["Branches"]] == [
        "Import: hand over", "Items import: list run files", "Users import: list run files"
    ]
    assert parallel["Next"] == "Solutions"  # every solution's training after every import
    entered = result.all_states_entered  # the parent's states, then its children's
    ends = [entered.index(state) for state in ("Import: done", "Items import: imported", "Users import: imported")]
    assert entered.index("solution training: start") > max(ends)
    by_name = {job.name: job.arn for job in import_jobs}
    assert result.output["datasetImportJobArn"] == by_name[expected["importJobName"]]
    assert result.output["metadataImports"] == {
        "items": {"status": "IMPORTED", "detail": by_name[expected["itemsImportJobName"]]},
        "users": {"status": "IMPORTED", "detail": by_name[expected["usersImportJobName"]]},
    }


def test_a_dataset_without_files_this_run_is_skipped_and_the_run_says_so(
    metadata_orchestration: SynthesizedOrchestration, offline: Offline
) -> None:
    aws, arn = offline
    write_folders(aws, metadata_orchestration, "items")  # the users' sources had no rows: no users/ folder
    result = aws.run(arn, name=EXECUTION)

    assert result.status == "SUCCEEDED", result.cause
    assert set(imports(aws)) == {
        metadata_orchestration.expected("dataset_arn"), metadata_orchestration.expected("items_dataset_arn")
    }
    users = result.output["metadataImports"]["users"]
    assert users["status"] == "SKIPPED" and "no users/ folder" in users["detail"]
    assert result.output["metadataImports"]["items"]["status"] == "IMPORTED"
    assert "Users import: skipped" in result.states_entered


def test_one_import_busy_and_one_failing_fails_the_run_naming_the_failed_one(
    metadata_orchestration: SynthesizedOrchestration, offline: Offline
) -> None:
    aws, arn = offline
    config = metadata_orchestration.config
    write_folders(aws, metadata_orchestration, "items", "users")
    users_prefix = config.resource_name("users-import")
    # The Users import is refused as busy twice (and then goes through the same busy loop as any job)...
    aws.personalize.refuse("CreateDatasetImportJob", times=2, name_prefix=users_prefix)
    # ...while the Items import fails.
    reason = "Items file has a column GENRE that is not in the schema"
    aws.personalize.script(
        "import", JobScript(duration=3000, status="CREATE FAILED", failure_reason=reason),
        name_prefix=config.resource_name("items-import"),
    )
    result = aws.run(arn, name=EXECUTION)

    assert (result.status, result.error) == ("FAILED", "ItemsImportFailed")
    items_job = next(job for job in aws.personalize.jobs if job.name.startswith(config.resource_name("items-import")))
    assert result.cause.endswith(f"{items_job.arn} ended CREATE FAILED: {reason}")
    refused = [c for c in aws.calls_to("personalize", "CreateDatasetImportJob") if c.params["jobName"].startswith(users_prefix)]
    # The busy Users import retried in its own loop and got through, beside the Items import.
    assert [call.error for call in refused] == ["ResourceInUseException", "ResourceInUseException", None]
    assert result.all_states_entered.count("Users import: wait while busy") == 2
    assert not aws.calls_to("personalize", "CreateSolutionVersion")


def test_the_busy_bound_of_a_metadata_import_fails_the_run_by_its_name(
    metadata_orchestration: SynthesizedOrchestration, offline: Offline
) -> None:
    aws, arn = offline
    config = metadata_orchestration.config
    write_folders(aws, metadata_orchestration, "users")
    aws.personalize.refuse(
        "CreateDatasetImportJob", times=config.busy_retry_max_attempts, name_prefix=config.resource_name("users-import")
    )
    result = aws.run(arn, name=EXECUTION)

    assert (result.status, result.error) == ("FAILED", "UsersImportBlocked")
    assert result.cause.startswith(f"CreateDatasetImportJob was refused as busy {config.busy_retry_max_attempts} times")


def test_without_metadata_datasets_there_is_no_parallel_state(orchestration: SynthesizedOrchestration) -> None:
    states = orchestration.definition["States"]
    assert not [
        state for state in states.values()
        if state["Type"] == "Parallel" and any(branch["StartAt"] == "Import: hand over" for branch in state["Branches"])
    ]
    # The interactions import is in the main chain, as before, polling in a child execution of its own.
    assert states["Import: hand over"]["Next"] == "Import: own history"
    assert states["Import: own history"]["ItemProcessor"]["StartAt"] == "Import: in its child"
