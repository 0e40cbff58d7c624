"""process_file with an output kind, against moto S3 (write_manifest with batch plans: test_solutions.py)."""

from __future__ import annotations

from typing import Any

import pytest

from lambda_src.postprocess import handler as H
from lambda_src.postprocess.flatten import OUTPUT_KINDS
from lambda_src.postprocess.manifest import InvalidEvent

from .conftest import BUCKET, read_fixture
from .test_handler import OUT, get, process, put

KIND_FOLDERS = {"related_items": "related-items/", "item_affinity": "segments/", "item_attribute_affinity": "segments/"}


@pytest.mark.parametrize("kind", sorted(KIND_FOLDERS))
def test_process_file_writes_each_kind_to_its_folder(aws: Any, lambda_context: Any, kind: str) -> None:
    source = f"sol-{kind}/part-0001/input.json.out"
    put(aws, OUT + source, read_fixture(f"kind_{kind}.out"))
    result = process(aws, lambda_context, source, kind=kind, kms_key_id=aws.kms_key_id)
    name = source.removesuffix(".out")
    assert result["kind"] == kind
    assert result["recommendations_key"] == f"runs/r1/{KIND_FOLDERS[kind]}{name}.csv"
    assert result["errors_key"] == f"runs/r1/errors/{name}.jsonl"
    csv_body = get(aws, result["recommendations_key"])
    assert csv_body == read_fixture(f"kind_{kind}.csv")
    assert csv_body.startswith(OUTPUT_KINDS[kind].header)
    assert get(aws, result["errors_key"]) == read_fixture(f"kind_{kind}.jsonl")
    assert result["items_written"] == csv_body.count(b"\n") - 1
    assert result["recommendations_bytes"] == len(csv_body)


def test_a_recipe_name_is_a_kind_and_the_default_event_is_unchanged(aws: Any, lambda_context: Any) -> None:
    put(aws, OUT + "items.json.out", read_fixture("kind_related_items.out"))
    by_recipe = process(aws, lambda_context, "items.json.out", kind="aws-sims")
    assert by_recipe["kind"] == "related_items"
    assert get(aws, by_recipe["recommendations_key"]) == read_fixture("kind_related_items.csv")
    default = process(aws, lambda_context, "items.json.out")
    assert "kind" not in default and default["recommendations_key"] == "runs/r1/recommendations/items.json.csv"
    assert get(aws, default["recommendations_key"]).startswith(b"user_id,rank,item_id,score\n")


@pytest.mark.parametrize("kind", ["aws-trending-now", "", 7])
def test_an_unknown_kind_is_an_invalid_event_and_writes_nothing(aws: Any, lambda_context: Any, kind: Any) -> None:
    put(aws, OUT + "a.json.out", read_fixture("kind_item_affinity.out"))
    with pytest.raises(InvalidEvent, match="kind"):
        H.process_file({"bucket": BUCKET, "key": OUT + "a.json.out", "kind": kind}, lambda_context)
    keys = [o["Key"] for o in aws.s3.list_objects_v2(Bucket=BUCKET).get("Contents", [])]
    assert keys == [OUT + "a.json.out"]
