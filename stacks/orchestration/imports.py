"""Stage 4 with metadata: the interactions import and each configured Items / Users import, in parallel.

    Imports (Parallel) ─┬─ Import: ... (the interactions, as without metadata)
                        ├─ Items import: files this run? ── yes ─> Items import: ... (PersonalizeJobStage)
                        │                                  └─ no ──> Items import: skipped
                        └─ Users import: ... (the same)

Each branch is the same bounded busy/poll stage as every Personalize job; a branch that fails (its
Fail state's error names it: ItemsImportFailed, UsersImportBlocked, ...) fails the Parallel state and so the
run with that error and cause. A configured dataset is imported only when the Glue job wrote its folder in
this run (it writes none when the dataset's sources had no rows); otherwise the branch records why it skipped.

The Parallel state keeps `$.import` as the interactions stage writes it (`Arn`, `describe`) and adds
`$.import.metadata.<kind>`: `{"status": "IMPORTED", "detail": <import job ARN>}` or
`{"status": "SKIPPED", "detail": <why>}` (the same two keys either way, so the Parallel state's result selector
reads plain strings by definite paths).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from aws_cdk import aws_s3 as s3
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from pipeline_contracts import run_layout
from stacks.orchestration.stage import Stage

JsonPath = sfn.JsonPath
# kind -> (state-data key of its result, state-name label)
BRANCHES = {"items": ("itemsImport", "Items import"), "users": ("usersImport", "Users import")}


def result_key(kind: str) -> str:
    return BRANCHES[kind][0]


def job_name_key(kind: str) -> str:
    """The `$.run` key of a metadata import's job name (from the naming function), e.g. itemsImportJobName."""
    return f"{result_key(kind)}JobName"


def folder_uri(bucket: s3.IBucket, kind: str) -> str:
    """The run's Items / Users folder as an intrinsic of `$.run.id`."""
    return JsonPath.format(
        run_layout.run_uri(bucket.bucket_name, "{}", run_layout.metadata_entry(kind)), JsonPath.string_at("$.run.id")
    )


class ParallelImports(Stage):
    """The interactions import and one branch per configured metadata dataset, run side by side.

    `interactions`: the interactions import stage; `metadata_stage(kind)`: the import stage of a dataset
    (called once per kind in `kinds`).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        interactions: Stage,
        kinds: tuple[str, ...],
        metadata_stage: Callable[[str], Stage],
        transformed_bucket: s3.IBucket,
    ) -> None:
        super().__init__(scope, construct_id)
        selector: dict[str, object] = {
            "Arn": JsonPath.string_at("$[0].import.Arn"),
            "describe": JsonPath.object_at("$[0].import.describe"),
        }
        parallel = sfn.Parallel(
            self,
            "Imports",
            comment="The interactions and every configured metadata dataset are imported side by side",
            result_path="$.import",
            result_selector={
                **selector,
                "metadata": {
                    kind: {
                        entry: JsonPath.string_at(f"$[{index + 1}].{result_key(kind)}.{entry}")
                        for entry in ("status", "detail")
                    }
                    for index, kind in enumerate(kinds)
                },
            },
        )
        # A stage ends in a Choice that is only built when something follows it (see stage.ExitChoice): each
        # branch ends in a state of its own, or the job status would never be checked.
        parallel.branch(interactions.next(sfn.Pass(self, "Import: done")))
        for kind in kinds:
            parallel.branch(self._branch(kind, metadata_stage(kind), transformed_bucket))
        self._set_flow(parallel, parallel)

    def _branch(self, kind: str, stage: Stage, bucket: s3.IBucket) -> sfn.IChainable:
        key, label = BRANCHES[kind]
        prefix = run_layout.run_key("{}", run_layout.metadata_entry(kind))
        listing = tasks.CallAwsService(
            self,
            f"{label}: list run files",
            service="s3",
            action="listObjectsV2",
            iam_action="s3:ListBucket",
            iam_resources=[bucket.bucket_arn],
            parameters={
                "Bucket": bucket.bucket_name,
                "Prefix": JsonPath.format(prefix, JsonPath.string_at("$.run.id")),
                "MaxKeys": 1,
            },
            result_selector={"KeyCount": JsonPath.number_at("$.KeyCount")},
            result_path=f"$.{key}Files",
        )
        imported = sfn.Pass(
            self,
            f"{label}: imported",
            parameters={"status": "IMPORTED", "detail": JsonPath.string_at(f"$.{key}.Arn")},
            result_path=f"$.{key}",
        )
        skipped = sfn.Pass(
            self,
            f"{label}: skipped",
            result=sfn.Result.from_object(
                {
                    "status": "SKIPPED",
                    "detail": f"the Glue job wrote no {run_layout.metadata_entry(kind)} folder in this run: the "
                    "dataset's raw prefixes had no rows (see _summary.json, datasets)",
                }
            ),
            result_path=f"$.{key}",
        )
        return listing.next(
            sfn.Choice(self, f"{label}: files this run?")
            .when(sfn.Condition.number_greater_than(f"$.{key}Files.KeyCount", 0), stage.next(imported))
            .otherwise(skipped)
        )


def metadata_summary(kinds: tuple[str, ...]) -> Mapping[str, Any]:
    """The run summary's entry for the metadata imports (nothing when no dataset is configured)."""
    return {"metadataImports": JsonPath.object_at("$.import.metadata")} if kinds else {}
