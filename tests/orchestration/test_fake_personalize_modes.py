"""The Personalize stand-in refuses what Personalize refuses about modes, and lists what it created, so that the
executed runs test the pipeline against the service's rules (not against a stand-in that accepts anything)."""

from __future__ import annotations

import pytest

from pipeline_rehearsal import FakePersonalize, JobScript, ServiceError, VirtualClock

DATASET = "arn:aws:personalize:us-east-1:123456789012:dataset/g/INTERACTIONS"
SOLUTION = "arn:aws:personalize:us-east-1:123456789012:solution/pbp-dev-users-0123abcd"


@pytest.fixture
def fake() -> FakePersonalize:
    return FakePersonalize(VirtualClock(), "us-east-1")


def import_job(fake: FakePersonalize, name: str, mode: str) -> dict:
    return fake.handle("CreateDatasetImportJob", {"jobName": name, "datasetArn": DATASET, "importMode": mode})


def version(fake: FakePersonalize, name: str, mode: str) -> dict:
    return fake.handle("CreateSolutionVersion", {"name": name, "solutionArn": SOLUTION, "trainingMode": mode})


def test_incremental_is_refused_until_an_import_is_active(fake: FakePersonalize) -> None:
    with pytest.raises(ServiceError) as refused:
        import_job(fake, "i0", "INCREMENTAL")
    assert (refused.value.code, refused.value.message) == ("InvalidInputException", FakePersonalize.FIRST_IMPORT_MESSAGE)
    fake.script("import", JobScript(duration=300, status="CREATE FAILED", failure_reason="bad"))
    import_job(fake, "i1", "FULL")
    fake.clock.advance(300)
    with pytest.raises(ServiceError):  # a FAILED import is no bulk import
        import_job(fake, "i2", "INCREMENTAL")
    import_job(fake, "i3", "FULL")
    fake.clock.advance(299)
    with pytest.raises(ServiceError):  # one second before it is ACTIVE
        import_job(fake, "i4", "INCREMENTAL")
    fake.clock.advance(1)
    import_job(fake, "i5", "INCREMENTAL")


def test_update_needs_an_active_full_version_of_that_solution(fake: FakePersonalize) -> None:
    with pytest.raises(ServiceError, match="UPDATE option can only be used"):
        version(fake, "v0", "UPDATE")
    version(fake, "v1", "FULL")
    fake.clock.advance(300)
    version(fake, "v2", "UPDATE")
    fake.clock.advance(300)
    other = SOLUTION.replace("0123abcd", "fedcba98")
    with pytest.raises(ServiceError):  # another solution's versions do not count
        fake.handle("CreateSolutionVersion", {"name": "v3", "solutionArn": other, "trainingMode": "UPDATE"})
    fake.solution_recipes[SOLUTION] = "arn:aws:personalize:::recipe/aws-similar-items"
    with pytest.raises(ServiceError):  # a recipe without UPDATE
        version(fake, "v4", "UPDATE")


def test_lists_are_paged_newest_first_and_describe_reports_the_mode(fake: FakePersonalize) -> None:
    fake.list_page_size = 2
    arns = [version(fake, f"v{n}", "FULL")["solutionVersionArn"] for n in range(3)]
    first = fake.handle("ListSolutionVersions", {"solutionArn": SOLUTION})
    second = fake.handle("ListSolutionVersions", {"solutionArn": SOLUTION, "nextToken": first["nextToken"]})
    assert "nextToken" not in second
    listed = first["solutionVersions"] + second["solutionVersions"]
    assert [v["solutionVersionArn"] for v in listed] == arns[::-1]
    assert {(v["status"], v["trainingMode"]) for v in listed} == {("CREATE PENDING", "FULL")}
    described = fake.handle("DescribeSolutionVersion", {"solutionVersionArn": arns[0]})["solutionVersion"]
    assert (described["trainingMode"], described["solutionArn"]) == ("FULL", SOLUTION)
    import_job(fake, "i1", "FULL")
    (job,) = fake.handle("ListDatasetImportJobs", {"datasetArn": DATASET})["datasetImportJobs"]
    assert (job["jobName"], job["importMode"]) == ("i1", "FULL")
    assert fake.handle("ListDatasetImportJobs", {"datasetArn": DATASET + "X"})["datasetImportJobs"] == []
