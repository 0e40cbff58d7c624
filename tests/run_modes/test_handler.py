"""The modes handler against moto S3 / SSM and a stubbed Personalize (moto has no import jobs or solution
versions): every page of both lists is read, an ACTIVE version without its mode is described, the run's files
are sized and its summary's record count is checked."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.stub import Stubber

from tests.support.lambda_context import lambda_context, use_offline_aws

use_offline_aws("run-modes-test")

from lambda_src.run_modes import handler  # noqa: E402
from lambda_src.run_modes import modes as modes_module  # noqa: E402
from lambda_src.run_modes.modes import ImportNotPossible  # noqa: E402

BUCKET = "transformed-test"
RUN = "20260104T030000Z-weekly-0123456789"
DATASET = "arn:aws:personalize:us-east-1:123456789012:dataset/pbp-dev/INTERACTIONS"
ITEMS = "arn:aws:personalize:us-east-1:123456789012:dataset/pbp-dev/ITEMS"
SOLUTION = "arn:aws:personalize:us-east-1:123456789012:solution/pbp-dev-users-0123abcd"
PARAMETER = "/pbp/dev/solutions/users/arn"


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[Stubber]:
    """moto S3 and SSM with the bucket and the solution's parameter; Personalize stubbed (returned)."""
    from moto import mock_aws

    with mock_aws():
        import boto3

        handler.client.clear()  # clients made inside this moto context
        boto3.client("s3").create_bucket(Bucket=BUCKET)
        boto3.client("ssm").put_parameter(Name=PARAMETER, Value=SOLUTION, Type="String")
        personalize = handler.client("personalize")
        with Stubber(personalize) as stub:
            yield stub
            stub.assert_no_pending_responses()
        handler.client.clear()


def put(key: str, body: bytes) -> None:
    handler.client("s3").put_object(Bucket=BUCKET, Key=f"runs/{RUN}/{key}", Body=body)


def event(import_mode: str = "INCREMENTAL", training_mode: str = "UPDATE", **imports: str) -> dict[str, Any]:
    datasets = {"interactions": DATASET, **imports}
    return {
        "run_id": RUN,
        "bucket": BUCKET,
        "imports": {name: {"dataset_arn": arn, "configured": import_mode} for name, arn in datasets.items()},
        "solutions": {"users": {"parameter": PARAMETER, "configured": training_mode}},
    }


def choose(payload: dict[str, Any]) -> dict[str, Any]:
    return handler.choose_modes(payload, lambda_context("run-modes", 128))


def test_every_page_of_both_lists_is_read(aws: Stubber) -> None:
    put("interactions/part-00000.csv", b"x" * 100)
    aws.add_response(
        "list_dataset_import_jobs",
        {"datasetImportJobs": [{"jobName": "a", "status": "CREATE FAILED"}], "nextToken": "page-2"},
        {"datasetArn": DATASET},
    )
    aws.add_response(
        "list_dataset_import_jobs",
        {"datasetImportJobs": [{"jobName": "b", "status": "ACTIVE"}]},
        {"datasetArn": DATASET, "nextToken": "page-2"},
    )
    aws.add_response(
        "list_solution_versions",
        {"solutionVersions": [{"solutionVersionArn": f"{SOLUTION}/u", "status": "ACTIVE", "trainingMode": "UPDATE"}],
         "nextToken": "page-2"},
        {"solutionArn": SOLUTION},
    )  # fmt: skip
    # The ACTIVE FULL version is on the second page, its summary without the mode: DescribeSolutionVersion has it.
    aws.add_response(
        "list_solution_versions",
        {"solutionVersions": [{"solutionVersionArn": f"{SOLUTION}/f", "status": "ACTIVE"}]},
        {"solutionArn": SOLUTION, "nextToken": "page-2"},
    )
    aws.add_response(
        "describe_solution_version",
        {"solutionVersion": {"solutionVersionArn": f"{SOLUTION}/f", "trainingMode": "FULL"}},
        {"solutionVersionArn": f"{SOLUTION}/f"},
    )
    modes = choose(event())
    assert modes["imports"]["interactions"]["mode"] == "INCREMENTAL"
    assert "100 bytes" in modes["imports"]["interactions"]["reason"]
    assert modes["training"] == {
        "users": {"mode": "UPDATE", "reason": f"training_mode is UPDATE; solution {SOLUTION} has the ACTIVE FULL "
                  f"version {SOLUTION}/f"}
    }  # fmt: skip


def test_configured_full_reads_nothing_from_personalize(aws: Stubber) -> None:
    modes = choose(event("FULL", "FULL"))
    assert modes == {
        "imports": {"interactions": {"mode": "FULL", "reason": "import_mode is FULL"}},
        "training": {"users": {"mode": "FULL", "reason": "training_mode is FULL"}},
    }


def test_each_dataset_is_sized_by_its_own_folder(aws: Stubber, monkeypatch: pytest.MonkeyPatch) -> None:
    # A small limit instead of 1 GB (the bound itself is tested in test_modes): items/ is over it, interactions/ not.
    monkeypatch.setattr(modes_module, "INCREMENTAL_MAX_BYTES", 50)
    put("interactions/part-00000.csv", b"x" * 30)
    put("interactions/part-00001.csv", b"x" * 20)
    put("items/part-00000.csv", b"x" * 51)
    for arn in (DATASET, ITEMS):
        aws.add_response("list_dataset_import_jobs", {"datasetImportJobs": [{"status": "ACTIVE"}]}, {"datasetArn": arn})
    modes = choose(event(training_mode="FULL", items=ITEMS))
    assert {name: entry["mode"] for name, entry in modes["imports"].items()} == {
        "interactions": "INCREMENTAL",
        "items": "FULL",
    }
    assert "50 bytes" in modes["imports"]["interactions"]["reason"]
    assert "51 bytes" in modes["imports"]["items"]["reason"]


@pytest.mark.parametrize("kept, fails", [(999, True), (1000, False)])
def test_the_summary_record_count_is_checked(aws: Stubber, kept: int, fails: bool) -> None:
    put("_summary.json", json.dumps({"counts": {"kept": kept}}).encode())
    if fails:
        with pytest.raises(ImportNotPossible, match="999 interactions records"):
            choose(event("FULL", "FULL"))
    else:
        assert choose(event("FULL", "FULL"))["imports"]["interactions"]["mode"] == "FULL"


def test_a_missing_solution_parameter_is_named(aws: Stubber) -> None:
    payload = event("FULL", "FULL")
    payload["solutions"]["users"]["parameter"] = "/pbp/dev/solutions/gone/arn"
    with pytest.raises(LookupError, match="/pbp/dev/solutions/gone/arn"):
        choose(payload)


def test_a_malformed_event_is_refused(aws: Stubber) -> None:
    with pytest.raises(handler.InvalidEvent, match="'imports'"):
        choose({"run_id": RUN, "bucket": BUCKET, "imports": [], "solutions": {}})
