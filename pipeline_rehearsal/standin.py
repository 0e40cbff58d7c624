"""The rehearsal's Personalize: `FakePersonalize` with data, a trained stand-in model and Personalize's limits.

Part of the offline harness: see the package docstring (`pipeline_rehearsal/__init__.py`). NOT Amazon
Personalize: the recommender is `recommender.CoOccurrenceModel`, and its scores and metrics say nothing about the
quality Personalize would reach.

What it adds to `FakePersonalize` (which already refuses bad or repeated names, the first-run modes and, with
`enforce_quotas()`, the concurrency quotas):
- imports read the CSV objects under the job's `dataSource.dataLocation` from (moto) S3; a dataset holds what its
  ACTIVE imports left (FULL replaces, INCREMENTAL adds and replaces the same record);
- training snapshots the interactions dataset, trains the stand-in model and computes its offline metrics
  (`recommender.offline_metrics`, reported by GetSolutionMetrics);
- batch inference and batch segment jobs answer from the version's model, in Personalize's output formats
  (`BatchOutputWriter`);
- the limits Personalize checks, as the job's `CREATE FAILED` with a `failureReason` (`LIMITS` lists them) or,
  for the request itself, `InvalidInputException`.
Simulated durations are fixed (`DURATIONS`): the virtual clock makes them free.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pipeline_rehearsal.clock import VirtualClock
from pipeline_rehearsal.fakes import BatchOutputWriter, FakeJob, FakePersonalize, JobScript, ServiceError
from pipeline_rehearsal.recommender import CoOccurrenceModel, Interaction, offline_metrics

DURATIONS = {"import": 900.0, "train": 3600.0, "update": 1200.0, "batch": 1800.0, "segment": 1800.0}
"""Simulated seconds per job kind ("update": a trainingMode UPDATE version)."""
MIN_INTERACTIONS = 1000
MIN_USERS_WITH_TWO = 25
MAX_FULL_IMPORT_BYTES = 100 * 1024**3
MAX_INCREMENTAL_IMPORT_BYTES = 1024**3
MAX_BATCH_FILES = 1000
MAX_BATCH_BYTES = 1024**3
MAX_BATCH_RESULTS = 500
MAX_ATTRIBUTE_QUERIES = 10
MAX_AFFINITY_ITEMS = 500
LIMITS = {
    "import": f"every import >= {MIN_INTERACTIONS} interaction records; FULL <= 100 GB, INCREMENTAL <= 1 GB",
    "train": f">= {MIN_INTERACTIONS} interactions and >= {MIN_USERS_WITH_TWO} users with >= 2 interactions; "
    "item-attribute affinity needs an Items dataset",
    "batch": f"input <= {MAX_BATCH_FILES} files and <= 1 GB; numResults <= {MAX_BATCH_RESULTS} (batch inference); "
    f"<= {MAX_AFFINITY_ITEMS} items (item affinity), <= {MAX_ATTRIBUTE_QUERIES} queries (item-attribute affinity)",
}
_QUERY_CLAUSE = re.compile(r'^\s*ITEMS\.(\w+)\s*=\s*"([^"]*)"\s*$', re.IGNORECASE)


@dataclass
class TrainedVersion:
    recipe: str
    model: CoOccurrenceModel
    metrics: dict[str, float]
    items: dict[str, dict[str, str]] = field(default_factory=dict)  # the Items dataset at training time


class StandInPersonalize(FakePersonalize):
    """See the module docstring. `s3`: a client of the S3 the pipeline writes to (moto's); `recipes`: solution ARN
    -> recipe (as the data stack creates them); `dataset_kinds`: dataset ARN -> interactions / items / users."""

    def __init__(
        self,
        clock: VirtualClock,
        region: str,
        *,
        s3: Any,
        recipes: Mapping[str, str],
        dataset_kinds: Mapping[str, str],
    ) -> None:
        super().__init__(clock, region)
        self.s3 = s3
        self.solution_recipes = dict(recipes)
        self.dataset_kinds = dict(dataset_kinds)
        self.imported: dict[str, list[dict[str, str]]] = {}  # import job ARN -> its records
        self.versions: dict[str, TrainedVersion] = {}
        self.solution_metrics = lambda arn: dict(self.versions[arn].metrics) if arn in self.versions else None
        self.on_active = BatchOutputWriter(s3, answer=self.answer)
        self.enforce_quotas()

    # Create ----------------------------------------------------------------------------------------------------
    def _create(self, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        if operation == "CreateBatchInferenceJob" and int(params.get("numResults") or 25) > MAX_BATCH_RESULTS:
            raise ServiceError("InvalidInputException", f"numResults must be <= {MAX_BATCH_RESULTS}")
        if operation in ("CreateBatchInferenceJob", "CreateBatchSegmentJob"):
            self._require_active_version(params["solutionVersionArn"])
        answer = super()._create(operation, params)
        job = self.jobs[-1]
        outcome = {
            "import": self._import,
            "train": self._train,
            "batch": self._check_batch_input,
            "segment": self._check_batch_input,
        }[job.kind](job)
        kind = "update" if job.kind == "train" and params.get("trainingMode") == "UPDATE" else job.kind
        job.script = JobScript(duration=DURATIONS[kind], status="CREATE FAILED" if outcome else "ACTIVE",
                               failure_reason=outcome)  # fmt: skip
        return answer

    def _require_active_version(self, arn: str) -> None:
        version = next((j for j in self.jobs if j.kind == "train" and j.arn == arn), None)
        if version is None or self.status_now(version) != "ACTIVE" or arn not in self.versions:
            raise ServiceError("ResourceNotFoundException", f"Could not find an ACTIVE solution version {arn}")

    def _import(self, job: FakeJob) -> str | None:
        records, size = self._read_csv(job.request["dataSource"]["dataLocation"])
        incremental = job.request.get("importMode") == "INCREMENTAL"
        limit = MAX_INCREMENTAL_IMPORT_BYTES if incremental else MAX_FULL_IMPORT_BYTES
        if size > limit:
            return f"Input data size {size} bytes exceeds the {job.request.get('importMode', 'FULL')} import limit"
        if self.dataset_kinds.get(job.request["datasetArn"]) == "interactions" and len(records) < MIN_INTERACTIONS:
            return f"Import job must contain at least {MIN_INTERACTIONS} interactions; found {len(records)}."
        self.imported[job.arn] = records
        return None

    def dataset(self, kind: str) -> list[dict[str, str]]:
        """The records of the dataset of `kind` now: its ACTIVE imports replayed in order."""
        records: dict[tuple[str, ...], dict[str, str]] = {}
        for job in self.jobs:
            if job.kind != "import" or self.dataset_kinds.get(job.request["datasetArn"]) != kind:
                continue
            if job.arn not in self.imported or self.status_now(job) != "ACTIVE":
                continue
            if job.request.get("importMode", "FULL") == "FULL":
                records = {}
            for record in self.imported[job.arn]:
                records[_record_key(kind, record)] = record
        return list(records.values())

    def _train(self, job: FakeJob) -> str | None:
        # A recipe name (aws-sims) or ARN (arn:aws:personalize:::recipe/aws-sims): the name.
        recipe = self.solution_recipes.get(str(job.request.get("solutionArn")), "aws-user-personalization")
        recipe = recipe.rsplit("/", 1)[-1]
        interactions = [
            Interaction(r["USER_ID"], r["ITEM_ID"], int(float(r.get("TIMESTAMP") or 0)))
            for r in self.dataset("interactions")
        ]
        counts: dict[str, int] = {}
        for interaction in interactions:
            counts[interaction.user] = counts.get(interaction.user, 0) + 1
        with_two = sum(1 for n in counts.values() if n >= 2)
        if len(interactions) < MIN_INTERACTIONS or with_two < MIN_USERS_WITH_TWO:
            return (
                f"There should be at least {MIN_INTERACTIONS} interactions and {MIN_USERS_WITH_TWO} users with at "
                f"least 2 interactions each; found {len(interactions)} interactions, {with_two} such users."
            )
        items = {r["ITEM_ID"]: r for r in self.dataset("items")}
        if recipe == "aws-item-attribute-affinity" and not items:
            return "The item-attribute-affinity recipe requires an Items dataset with data."
        known = {i.item for i in interactions} | set(items)
        model = CoOccurrenceModel.train(interactions)
        self.versions[job.arn] = TrainedVersion(recipe, model, offline_metrics(interactions, recipe, known), items)
        return None

    def _check_batch_input(self, job: FakeJob) -> str | None:
        bucket, prefix = _split(job.request["jobInput"]["s3DataSource"]["path"])
        files = self._objects(bucket, prefix)
        if len(files) > MAX_BATCH_FILES:
            return f"The input has {len(files)} files; a batch job reads at most {MAX_BATCH_FILES}."
        if sum(o["Size"] for o in files) > MAX_BATCH_BYTES:
            return "The input is larger than 1 GB."
        if job.kind != "segment":
            return None
        lines = sum(self._lines(bucket, o["Key"]) for o in files)
        recipe = self.versions[job.request["solutionVersionArn"]].recipe
        if recipe == "aws-item-attribute-affinity" and lines > MAX_ATTRIBUTE_QUERIES:
            return f"The input has {lines} queries; at most {MAX_ATTRIBUTE_QUERIES} are allowed."
        if recipe == "aws-item-affinity" and lines > MAX_AFFINITY_ITEMS:
            return f"The input has {lines} items; at most {MAX_AFFINITY_ITEMS} are allowed."
        return None

    # Answers ---------------------------------------------------------------------------------------------------
    def answer(self, job: FakeJob, request: dict[str, Any]) -> dict[str, Any]:
        """One output line's `output` / `error` (`BatchOutputWriter` adds the input), as Personalize writes it."""
        version = self.versions[job.request["solutionVersionArn"]]
        model, count = version.model, int(job.request.get("numResults") or 25)
        if job.kind == "segment":
            if "itemAttributes" in request:
                matching = _matching_items(str(request["itemAttributes"]), version.items)
                if matching is None:
                    return {"error": "invalid expression"}
                return {"output": {"recommendedUsers": [u for u, _ in model.users_for(matching, count)]}}
            item = str(request.get("itemId"))
            if not model.knows_item(item):
                return {"error": f"Item {item} not found."}
            return {"output": {"recommendedUsers": [u for u, _ in model.users_for([item], count)]}}
        if "itemId" in request:
            if not model.knows_item(str(request["itemId"])):
                return {"error": f"Item {request['itemId']} not found."}
            scored = model.related(str(request["itemId"]), count)
        else:
            scored = model.for_user(str(request.get("userId")), count)  # a new user gets the popular items
        return {"output": {"recommendedItems": [i for i, _ in scored], "scores": [s for _, s in scored]}, "error": None}

    # S3 --------------------------------------------------------------------------------------------------------
    def _read_csv(self, uri: str) -> tuple[list[dict[str, str]], int]:
        bucket, prefix = _split(uri)
        records: list[dict[str, str]] = []
        size = 0
        for obj in self._objects(bucket, prefix):
            size += obj["Size"]
            text = self.s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read().decode("utf-8")
            records.extend(csv.DictReader(io.StringIO(text)))
        return records, size

    def _objects(self, bucket: str, prefix: str) -> list[dict[str, Any]]:
        """The objects under `prefix` (every page), folder markers left out."""
        pages = self.s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        return [obj for page in pages for obj in page.get("Contents", []) if not obj["Key"].endswith("/")]

    def _lines(self, bucket: str, key: str) -> int:
        body = self.s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode("utf-8")
        return sum(1 for line in body.splitlines() if line.strip())


def _split(uri: str) -> tuple[str, str]:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return bucket, key


def _record_key(kind: str, record: Mapping[str, str]) -> tuple[str, ...]:
    if kind == "interactions":
        return tuple(record.get(k, "") for k in ("USER_ID", "ITEM_ID", "TIMESTAMP", "EVENT_TYPE"))
    return (record.get("ITEM_ID" if kind == "items" else "USER_ID", ""),)


def _matching_items(query: str, items: Mapping[str, Mapping[str, str]]) -> list[str] | None:
    """The items an item-attribute query selects (`ITEMS.FIELD = "value"` clauses joined by AND / OR; a categorical
    field matches when one of its `|`-separated values does, case-insensitively); None when it cannot parse."""
    alternatives = []
    for alternative in re.split(r"\s+OR\s+", query, flags=re.IGNORECASE):
        clauses = [_QUERY_CLAUSE.match(c) for c in re.split(r"\s+AND\s+", alternative, flags=re.IGNORECASE)]
        if not all(clauses):
            return None
        alternatives.append([(m.group(1).upper(), m.group(2).lower()) for m in clauses if m])
    return sorted(
        item for item, record in items.items()
        if any(all(value in _values(record, name) for name, value in clauses) for clauses in alternatives)
    )  # fmt: skip


def _values(record: Mapping[str, str], name: str) -> set[str]:
    field_value = next((v for k, v in record.items() if k.upper() == name), "") or ""
    return {value.strip().lower() for value in field_value.split("|")}
