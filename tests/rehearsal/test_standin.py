"""The rehearsal's Personalize stand-in refuses what Personalize refuses, each limit at the limit and one past it,
and answers batch jobs in Personalize's output formats from the model it trained on the imported data.

No Spark, no synth: the stand-in against moto S3 and a virtual clock. (The first-run modes are
tests/orchestration/test_fake_personalize_modes.py's: the stand-in inherits them.)
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.core import DEFAULT_ACCOUNT_ID as ACCOUNT_ID
from moto.s3.models import s3_backends

from pipeline_rehearsal import ServiceError, VirtualClock
from pipeline_rehearsal.standin import DURATIONS, StandInPersonalize

REGION = "us-east-1"
ARN = f"arn:aws:personalize:{REGION}:123456789012"
INTERACTIONS, ITEMS = f"{ARN}:dataset/g/INTERACTIONS", f"{ARN}:dataset/g/ITEMS"
USERS_SOLUTION, SIMS, AFFINITY, ATTRIBUTES = (
    f"{ARN}:solution/{name}" for name in ("users", "sims", "affinity", "attributes")
)
BUCKET = "data"


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    with mock_aws():
        client = boto3.client("s3", region_name=REGION)
        client.create_bucket(Bucket=BUCKET)
        yield client


@pytest.fixture
def personalize(s3: Any) -> StandInPersonalize:
    return StandInPersonalize(
        VirtualClock(), REGION, s3=s3,
        recipes={USERS_SOLUTION: "aws-user-personalization", SIMS: "arn:aws:personalize:::recipe/aws-sims",
                 AFFINITY: "aws-item-affinity", ATTRIBUTES: "aws-item-attribute-affinity"},
        dataset_kinds={INTERACTIONS: "interactions", ITEMS: "items"},
    )  # fmt: skip


def put_interactions(s3: Any, prefix: str, users: int, per_user: int) -> str:
    """`users` users with `per_user` interactions each, on items shared in a ring (so items co-occur)."""
    rows = [f"u{u},i{(u + k) % 40},{1_600_000_000 + k}" for u in range(users) for k in range(per_user)]
    s3.put_object(Bucket=BUCKET, Key=f"{prefix}part-0.csv", Body=("USER_ID,ITEM_ID,TIMESTAMP\n" + "\n".join(rows)))
    return f"s3://{BUCKET}/{prefix}"


def put_items(s3: Any) -> str:
    rows = [f"i{n},{'Comedy|Drama' if n % 2 else 'Horror'}" for n in range(40)]
    s3.put_object(Bucket=BUCKET, Key="items/part-0.csv", Body="ITEM_ID,GENRES\n" + "\n".join(rows))
    return f"s3://{BUCKET}/items/"


def status(personalize: StandInPersonalize, kind: str, arn: str) -> dict[str, Any]:
    operation, key, result = {
        "import": ("DescribeDatasetImportJob", "datasetImportJobArn", "datasetImportJob"),
        "train": ("DescribeSolutionVersion", "solutionVersionArn", "solutionVersion"),
        "batch": ("DescribeBatchInferenceJob", "batchInferenceJobArn", "batchInferenceJob"),
        "segment": ("DescribeBatchSegmentJob", "batchSegmentJobArn", "batchSegmentJob"),
    }[kind]
    return dict(personalize.handle(operation, {key: arn})[result])


def imported(personalize: StandInPersonalize, location: str, name: str = "import-1", dataset: str = INTERACTIONS) -> str:
    arn = personalize.handle(
        "CreateDatasetImportJob", {"jobName": name, "datasetArn": dataset, "dataSource": {"dataLocation": location}}
    )["datasetImportJobArn"]
    personalize.clock.advance(DURATIONS["import"])
    return str(arn)


def trained(personalize: StandInPersonalize, solution: str = USERS_SOLUTION, name: str = "version-1") -> str:
    arn = personalize.handle("CreateSolutionVersion", {"name": name, "solutionArn": solution})["solutionVersionArn"]
    personalize.clock.advance(DURATIONS["train"])
    return str(arn)


def ready(personalize: StandInPersonalize, s3: Any, solution: str = USERS_SOLUTION) -> str:
    """An ACTIVE version of `solution` trained on 60 users x 20 interactions (and items, for attribute affinity)."""
    imported(personalize, put_interactions(s3, "interactions/", 60, 20))
    imported(personalize, put_items(s3), name="import-items", dataset=ITEMS)
    version = trained(personalize, solution)
    assert status(personalize, "train", version)["status"] == "ACTIVE"
    return version


def batch_job(personalize: StandInPersonalize, version: str, lines: list[dict], name: str, **extra: Any) -> str:
    body = "".join(json.dumps(line) + "\n" for line in lines)
    personalize.s3.put_object(Bucket=BUCKET, Key=f"in/{name}/input.json", Body=body)
    operation, key = ("CreateBatchSegmentJob", "batchSegmentJobArn") if extra.pop("segment", False) else (
        "CreateBatchInferenceJob", "batchInferenceJobArn")  # fmt: skip
    return str(personalize.handle(operation, {
        "jobName": name, "solutionVersionArn": version, **extra,
        "jobInput": {"s3DataSource": {"path": f"s3://{BUCKET}/in/{name}/"}},
        "jobOutput": {"s3DataDestination": {"path": f"s3://{BUCKET}/out/{name}/"}},
    })[key])  # fmt: skip


def refused(call: Any, code: str) -> ServiceError:
    with pytest.raises(ServiceError) as error:
        call()
    assert error.value.code == code, error.value
    return error.value


# ---------------------------------------------------------------------------------------------- names and repeats


def test_a_name_of_63_characters_is_taken_one_of_64_is_refused(personalize: StandInPersonalize, s3: Any) -> None:
    location = put_interactions(s3, "interactions/", 30, 40)
    imported(personalize, location, name="a" * 63)
    refused(lambda: imported(personalize, location, name="a" * 64), "InvalidInputException")


def test_a_name_must_start_with_a_letter_or_digit(personalize: StandInPersonalize, s3: Any) -> None:
    location = put_interactions(s3, "interactions/", 30, 40)
    refused(lambda: imported(personalize, location, name="-import"), "InvalidInputException")
    imported(personalize, location, name="0-import_1")


def test_a_repeated_name_is_refused(personalize: StandInPersonalize, s3: Any) -> None:
    location = put_interactions(s3, "interactions/", 30, 40)
    imported(personalize, location, name="weekly")
    refused(lambda: imported(personalize, location, name="weekly"), "ResourceAlreadyExistsException")


# ---------------------------------------------------------------------------------------------- concurrency quotas


@pytest.mark.parametrize(("kind", "quota"), [("import", 5), ("train", 20), ("batch", 5), ("segment", 5)])
def test_the_concurrency_quota_takes_that_many_jobs_in_progress_and_refuses_one_more(
    personalize: StandInPersonalize, s3: Any, kind: str, quota: int
) -> None:
    location = put_interactions(s3, "interactions/", 30, 40)
    version = ready(personalize, s3, AFFINITY if kind == "segment" else USERS_SOLUTION) if kind in ("batch", "segment") \
        else None  # fmt: skip

    def create(n: int) -> Any:
        if kind == "import":
            return personalize.handle("CreateDatasetImportJob", {"jobName": f"q{n}", "datasetArn": INTERACTIONS,
                                                                 "dataSource": {"dataLocation": location}})  # fmt: skip
        if kind == "train":
            return personalize.handle("CreateSolutionVersion", {"name": f"q{n}", "solutionArn": USERS_SOLUTION})
        lines = [{"itemId": "i1"}] if kind == "segment" else [{"userId": "u1"}]
        return batch_job(personalize, str(version), lines, f"q{n}", segment=kind == "segment")

    for n in range(quota):
        create(n)
    assert personalize.quotas[kind] == quota
    refused(lambda: create(quota), "LimitExceededException")
    personalize.clock.advance(max(DURATIONS.values()))  # the first ones ended
    create(quota + 1)


# ---------------------------------------------------------------------------------------------- data limits


@pytest.mark.parametrize(("records", "status_after"), [(1000, "ACTIVE"), (999, "CREATE FAILED")])
def test_an_interactions_import_needs_1000_records(
    personalize: StandInPersonalize, s3: Any, records: int, status_after: str
) -> None:
    location = put_interactions(s3, "interactions/", records, 1)
    job = status(personalize, "import", imported(personalize, location))
    assert job["status"] == status_after
    if status_after != "ACTIVE":
        assert job["failureReason"] == f"Import job must contain at least 1000 interactions; found {records}."


@pytest.mark.parametrize(("users_with_two", "status_after"), [(25, "ACTIVE"), (24, "CREATE FAILED")])
def test_training_needs_25_users_with_two_interactions(
    personalize: StandInPersonalize, s3: Any, users_with_two: int, status_after: str
) -> None:
    rows = [f"u{u},i{u % 40},{1_600_000_000 + u}" for u in range(1100)]  # one interaction each
    rows += [f"u{u},i{(u + 1) % 40},{1_700_000_000 + u}" for u in range(users_with_two)]  # a second for some
    s3.put_object(Bucket=BUCKET, Key="interactions/part-0.csv", Body="USER_ID,ITEM_ID,TIMESTAMP\n" + "\n".join(rows))
    imported(personalize, f"s3://{BUCKET}/interactions/")
    version = status(personalize, "train", trained(personalize))
    assert version["status"] == status_after
    if status_after != "ACTIVE":
        assert f"{users_with_two} such users" in version["failureReason"]


@pytest.mark.parametrize(
    ("solution", "lines", "status_after"),
    [
        (ATTRIBUTES, [{"itemAttributes": f'ITEMS.GENRES = "g{n}"'} for n in range(10)], "ACTIVE"),
        (ATTRIBUTES, [{"itemAttributes": f'ITEMS.GENRES = "g{n}"'} for n in range(11)], "CREATE FAILED"),
        (AFFINITY, [{"itemId": f"i{n}"} for n in range(500)], "ACTIVE"),
        (AFFINITY, [{"itemId": f"i{n}"} for n in range(501)], "CREATE FAILED"),
    ],
    ids=["10-queries", "11-queries", "500-items", "501-items"],
)
def test_a_segment_job_takes_at_most_10_attribute_queries_or_500_items(
    personalize: StandInPersonalize, s3: Any, solution: str, lines: list[dict], status_after: str
) -> None:
    version = ready(personalize, s3, solution)
    job = batch_job(personalize, version, lines, "segment", segment=True)
    personalize.clock.advance(DURATIONS["segment"])
    assert status(personalize, "segment", job)["status"] == status_after


@pytest.mark.parametrize(("files", "status_after"), [(1000, "ACTIVE"), (1001, "CREATE FAILED")])
def test_a_batch_job_reads_at_most_1000_files(
    personalize: StandInPersonalize, s3: Any, files: int, status_after: str
) -> None:
    version = ready(personalize, s3)
    bucket = s3_backends[ACCOUNT_ID]["global"]  # moto's own store: a thousand puts through HTTP take seconds
    for n in range(files - 1):
        bucket.put_object(BUCKET, f"in/files/extra-{n:04d}.json", b'{"userId": "u1"}\n')
    job = batch_job(personalize, version, [{"userId": "u2"}], "files")
    personalize.clock.advance(DURATIONS["batch"])
    # Its status without Describe's side effect (the first ACTIVE Describe writes a thousand outputs).
    assert personalize.status_now(next(j for j in personalize.jobs if j.arn == job)) == status_after


def test_batch_inference_returns_at_most_500_results(personalize: StandInPersonalize, s3: Any) -> None:
    version = ready(personalize, s3)
    batch_job(personalize, version, [{"userId": "u1"}], "five-hundred", numResults=500)
    refused(lambda: batch_job(personalize, version, [{"userId": "u1"}], "too-many", numResults=501),
            "InvalidInputException")  # fmt: skip


def test_a_batch_job_needs_an_active_version(personalize: StandInPersonalize, s3: Any) -> None:
    imported(personalize, put_interactions(s3, "interactions/", 30, 40))
    version = personalize.handle("CreateSolutionVersion", {"name": "v", "solutionArn": USERS_SOLUTION})
    arn = version["solutionVersionArn"]
    refused(lambda: batch_job(personalize, arn, [{"userId": "u1"}], "early"), "ResourceNotFoundException")
    personalize.clock.advance(DURATIONS["train"])
    batch_job(personalize, arn, [{"userId": "u1"}], "in-time")


# ---------------------------------------------------------------------------------------------- answers


def output_lines(personalize: StandInPersonalize, s3: Any, job_arn: str, kind: str) -> list[dict[str, Any]]:
    personalize.clock.advance(DURATIONS[kind])
    assert status(personalize, kind, job_arn)["status"] == "ACTIVE"  # the first ACTIVE Describe writes the output
    name = job_arn.rsplit("/", 1)[-1]
    body = s3.get_object(Bucket=BUCKET, Key=f"out/{name}/input.json.out")["Body"].read().decode()
    return [json.loads(line) for line in body.splitlines()]


def test_batch_inference_answers_users_and_related_items_as_personalize_writes_them(
    personalize: StandInPersonalize, s3: Any
) -> None:
    version = ready(personalize, s3)
    users = output_lines(personalize, s3, batch_job(personalize, version, [{"userId": "u1"}, {"userId": "new"}],
                                                     "users", numResults=5), "batch")  # fmt: skip
    assert [line["input"] for line in users] == [{"userId": "u1"}, {"userId": "new"}]
    known, new = (line["output"] for line in users)
    assert len(known["recommendedItems"]) == len(known["scores"]) == 5 and users[0]["error"] is None
    assert not set(known["recommendedItems"]) & {f"i{(1 + k) % 40}" for k in range(20)}  # u1's own items left out
    assert known["scores"] == sorted(known["scores"], reverse=True) and sum(known["scores"]) <= 1
    assert len(new["recommendedItems"]) == 5  # a user the model never saw gets the popular items
    sims = trained(personalize, SIMS, "sims-1")
    related = output_lines(personalize, s3, batch_job(personalize, sims, [{"itemId": "i3"}, {"itemId": "nope"}],
                                                      "related", numResults=3), "batch")  # fmt: skip
    assert len(related[0]["output"]["recommendedItems"]) == 3 and "i3" not in related[0]["output"]["recommendedItems"]
    assert related[1] == {"input": {"itemId": "nope"}, "error": "Item nope not found."}


def test_batch_segment_jobs_answer_items_and_attribute_queries_as_personalize_writes_them(
    personalize: StandInPersonalize, s3: Any
) -> None:
    affinity = ready(personalize, s3, AFFINITY)
    lines = output_lines(personalize, s3, batch_job(personalize, affinity, [{"itemId": "i3"}], "segment",
                                                    segment=True, numResults=4), "segment")  # fmt: skip
    ((line,),) = [lines]
    assert set(line) == {"input", "output"} and len(line["output"]["recommendedUsers"]) == 4
    attributes = trained(personalize, ATTRIBUTES, "attributes-1")
    queries = [{"itemAttributes": 'ITEMS.GENRES = "Comedy"'}, {"itemAttributes": "GENRES is Comedy"}]
    answered = output_lines(personalize, s3, batch_job(personalize, attributes, queries, "attrs", segment=True),
                            "segment")  # fmt: skip
    assert answered[0]["itemAttributes"] == 'ITEMS.GENRES = "Comedy"' and "input" not in answered[0]
    assert answered[0]["output"]["recommendedUsers"]
    assert answered[1] == {"itemAttributes": "GENRES is Comedy", "error": "invalid expression"}


def test_get_solution_metrics_reports_the_stand_ins_offline_metrics(personalize: StandInPersonalize, s3: Any) -> None:
    version = ready(personalize, s3)
    metrics = personalize.handle("GetSolutionMetrics", {"solutionVersionArn": version})["metrics"]
    assert {"coverage", "mean_reciprocal_rank_at_25", "precision_at_25",
            "normalized_discounted_cumulative_gain_at_25"} <= set(metrics)  # fmt: skip
    segments = trained(personalize, AFFINITY, "affinity-1")
    assert set(personalize.handle("GetSolutionMetrics", {"solutionVersionArn": segments})["metrics"]) == {
        "hits_at_1_percent", "recall_at_1_percent"}  # fmt: skip
