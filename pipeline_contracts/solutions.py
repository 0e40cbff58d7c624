"""What a configured solution is, for every side: recipe -> output kind -> batch job type and input kind.

A run trains every configured solution and runs its batch output. Each recipe has exactly one output kind:

    output kind              recipes                        job              input lines, folder
    user_recommendations     aws-user-personalization[-v2]  batch inference  {"userId"}  batch-input/
    related_items            aws-similar-items, aws-sims    batch inference  {"itemId"}  batch-input-items/
    item_affinity            aws-item-affinity              batch segment    {"itemId"}  batch-input-items/
    item_attribute_affinity  aws-item-attribute-affinity    batch segment    {"itemAttributes"}
                                                                             batch-input-queries/<solution>/
                                                                             (queries-NNNN.json, 10 lines each)

The stacks validate and wire it, the Glue job writes the inputs, the planning and post-processing Lambdas and
the CLI read it. Standard library only (see the package docstring).

Names: a solution's configured `name` (`SOLUTION_NAME_PATTERN`) names its Personalize solution, its S3 folders,
its job-name prefixes (which IAM matches) and its states; it has no hyphen, so `<prefix>-<env>-batch-<name>-*`
matches the jobs of that solution and of no other.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from pipeline_contracts import run_layout

OutputKindName = Literal["user_recommendations", "related_items", "item_affinity", "item_attribute_affinity"]
JobType = Literal["batch_inference", "batch_segment"]
InputKind = Literal["users", "items", "item_attributes"]

SOLUTION_NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,19}$")
"""Lower-case letter first, then letters, digits or '_', 20 characters at most: safe in Personalize names,
S3 keys, IAM patterns, state names and JSONPath, and short enough to leave room for the run's suffix."""

DEFAULT_SOLUTION_NAME = "solution"
"""The one solution of a config without `solutions` (named as before there were several)."""

# Quotas per region (Personalize "Service quotas"): jobs in progress at once, counted per job type.
JOB_QUOTAS: dict[JobType, int] = {"batch_inference": 5, "batch_segment": 5}
SOLUTION_VERSIONS_QUOTA = 20
# Item-Affinity: "Your input data can have a maximum of 500 items to get user segments for" (developer guide,
# "Item-Affinity recipe"), read as per batch segment job: the Glue job writes item files of at most this many
# lines when an item_affinity solution is configured, and planning gives such a job no more.
ITEM_AFFINITY_ITEMS_PER_JOB = 500
# Item-Attribute-Affinity: "Your input data can have a maximum of 10 queries" (developer guide,
# "Item-Attribute-Affinity recipe"), per batch segment job: the Glue job writes a solution's queries in files of at
# most this many lines (`query_files`), and planning gives such a job no more, so 25 queries make 3 jobs.
ITEM_ATTRIBUTE_QUERIES_PER_JOB = 10


@dataclass(frozen=True)
class OutputKind:
    name: OutputKindName
    recipes: tuple[str, ...]
    job_type: JobType
    input_kind: InputKind
    output_folder: str
    """The run folder (curated bucket) its flattened CSVs go to, under a sub-folder per solution."""
    max_job_records: int | None = None
    """The most input lines one batch job of this kind reads, when the recipe sets fewer than Personalize's
    50 million (the planner's `max_job_records`)."""


OUTPUT_KINDS: dict[OutputKindName, OutputKind] = {
    kind.name: kind
    for kind in (
        OutputKind(
            "user_recommendations",
            ("aws-user-personalization", "aws-user-personalization-v2"),
            "batch_inference",
            "users",
            run_layout.RECOMMENDATIONS,
        ),
        OutputKind(
            "related_items", ("aws-similar-items", "aws-sims"), "batch_inference", "items", run_layout.RELATED_ITEMS
        ),
        OutputKind(
            "item_affinity",
            ("aws-item-affinity",),
            "batch_segment",
            "items",
            run_layout.SEGMENTS,
            max_job_records=ITEM_AFFINITY_ITEMS_PER_JOB,
        ),
        OutputKind(
            "item_attribute_affinity",
            ("aws-item-attribute-affinity",),
            "batch_segment",
            "item_attributes",
            run_layout.SEGMENTS,
            max_job_records=ITEM_ATTRIBUTE_QUERIES_PER_JOB,
        ),
    )
}

RECIPE_OUTPUT_KIND: dict[str, OutputKindName] = {
    recipe: kind.name for kind in OUTPUT_KINDS.values() for recipe in kind.recipes
}
RECIPES: tuple[str, ...] = tuple(RECIPE_OUTPUT_KIND)

# Personalize API names per job type: Create<resource> / Describe<resource>, IAM resource type in the ARN.
JOB_RESOURCE: dict[JobType, str] = {"batch_inference": "BatchInferenceJob", "batch_segment": "BatchSegmentJob"}
JOB_ARN_RESOURCE_TYPE: dict[JobType, str] = {
    "batch_inference": "batch-inference-job",
    "batch_segment": "batch-segment-job",
}


def output_kind_of(recipe: str) -> OutputKind:
    """The output kind of `recipe` (KeyError for a recipe without batch output here)."""
    return OUTPUT_KINDS[RECIPE_OUTPUT_KIND[recipe]]


def batch_input_entry(input_kind: InputKind, solution: str) -> str:
    """The run folder (transformed bucket) of a solution's batch input: users and items are shared by every
    solution that reads them; attribute queries are the solution's own."""
    if input_kind == "users":
        return run_layout.BATCH_INPUT
    if input_kind == "items":
        return run_layout.BATCH_INPUT_ITEMS
    return f"{run_layout.BATCH_INPUT_QUERIES}{solution}/"


def query_files(queries: Sequence[str]) -> dict[str, tuple[str, ...]]:
    """An item_attribute_affinity solution's queries as the files of its batch input folder: file name -> its
    queries, in order, `ITEM_ATTRIBUTE_QUERIES_PER_JOB` a file (the last one holds the rest), so that each file is
    one batch segment job's input: queries-0001.json, queries-0002.json, ..."""
    per_file = ITEM_ATTRIBUTE_QUERIES_PER_JOB
    return {
        f"queries-{start // per_file + 1:04d}.json": tuple(queries[start : start + per_file])
        for start in range(0, len(queries), per_file)
    }


def batch_output_entry(solution: str) -> str:
    """The run folder (curated bucket) Personalize writes a solution's batch output to (a part-NNNN/ folder per
    job inside it)."""
    return f"{run_layout.BATCH_OUTPUT}{solution}/"


# A batch job's name is `<prefix>-<env>-batch-<solution>-<run suffix>-<part>`; the run suffix is at least its
# 10-digit digest with its '-', and the part 5 characters ('-0001'). What is left for the prefix:
JOB_NAME_PREFIX_MAX = 63 - 11 - 5


def job_name_prefix_step(step: Literal["train", "batch"], solution: str) -> str:
    """The step word of a solution's job-name prefix: `<prefix>-<env>-<this>` (e.g. batch-users)."""
    return f"{step}-{solution}"
