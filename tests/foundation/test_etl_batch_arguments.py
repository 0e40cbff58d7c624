"""The Glue job arguments that choose the batch inputs of the configured solutions (stacks/etl.py)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from stacks.config import PipelineConfig
from stacks.etl import batch_input_arguments

ITEMS = {
    "fields": [{"name": "GENRES", "type": "categorical"}],
    "sources": [{"prefix": "items/", "delimiter": ",", "id_column": "id", "columns": {"GENRES": "genre"}}],
}


def _arguments(**context: Any) -> dict[str, str]:
    return batch_input_arguments(PipelineConfig.from_mapping(context))


def test_the_default_solution_reads_users_only() -> None:
    assert _arguments() == {
        "--batch_inputs": "users",
        "--batch_items_top_n": "0",
        "--batch_items_per_file": "0",
        "--item_attribute_queries": "{}",
    }


def test_related_items_reads_items_without_a_file_cap() -> None:
    arguments = _arguments(solutions=[{"name": "similar", "recipe": "aws-similar-items"}], batch_items_top_n=1000)
    assert arguments["--batch_inputs"] == "items"
    assert arguments["--batch_items_top_n"] == "1000"
    assert arguments["--batch_items_per_file"] == "0"


def test_item_affinity_caps_item_files_at_one_segment_job() -> None:
    arguments = _arguments(
        items_dataset=ITEMS,
        solutions=[{"name": "similar", "recipe": "aws-similar-items"}, {"name": "segments", "recipe": "aws-item-affinity"}],
    )
    assert arguments["--batch_inputs"] == "items"
    assert arguments["--batch_items_per_file"] == "500"


def test_attribute_queries_per_solution_and_users_first() -> None:
    queries = ['ITEMS.GENRES = "Comedy"', 'ITEMS.GENRES = "Drama"']
    arguments = _arguments(
        items_dataset=ITEMS,
        solutions=[
            {"name": "fans", "recipe": "aws-item-attribute-affinity", "queries": queries},
            {"name": "similar", "recipe": "aws-similar-items"},
            {"name": "users", "recipe": "aws-user-personalization"},
        ],
    )
    assert arguments["--batch_inputs"] == "users,items"
    assert json.loads(arguments["--item_attribute_queries"]) == {"fans": queries}
    assert arguments["--batch_items_per_file"] == "0"


def test_the_full_configuration_passes_them_to_the_job(synthesized_apps: Callable[[str], Any]) -> None:
    synthesized = synthesized_apps("full")
    app = synthesized.app
    template = synthesized.templates[app.pipeline_stack.stack_name].to_json()
    (job,) = [r for r in template["Resources"].values() if r["Type"] == "AWS::Glue::Job"]
    arguments = job["Properties"]["DefaultArguments"]
    assert arguments["--batch_inputs"] == "users,items"
    assert arguments["--batch_items_top_n"] == "500"
    assert arguments["--batch_items_per_file"] == "500"
    assert json.loads(arguments["--item_attribute_queries"]) == {
        "genre_fans": ['ITEMS.GENRES = "Comedy"', 'ITEMS.GENRES = "Drama"']
    }
