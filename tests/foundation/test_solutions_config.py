"""The `solutions` configuration: every recipe, output kind and input kind checked at synth time."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from lambda_src.postprocess import flatten
from pipeline_contracts import flatten_capacity
from pipeline_contracts import solutions as contract
from stacks.config import ConfigError, PipelineConfig

ITEMS = {"fields": [{"name": "GENRES", "type": "categorical"}], "sources": [
    {"prefix": "items/", "delimiter": ",", "id_column": "id", "columns": {"GENRES": "genre"}}]}


def config(*entries: dict[str, Any], **context: Any) -> PipelineConfig:
    return PipelineConfig.from_mapping({"solutions": list(entries), "items_dataset": ITEMS, **context})


def entry_of(recipe: str, name: str = "s", **keys: Any) -> dict[str, Any]:
    kind = contract.output_kind_of(recipe)
    queries = {"queries": ['ITEMS.GENRES = "Comedy"']} if kind.input_kind == "item_attributes" else {}
    return {"name": name, "recipe": recipe, **queries, **keys}


def test_without_solutions_the_one_solution_comes_from_the_top_level_keys() -> None:
    built = PipelineConfig.from_mapping({"recipe": "aws-user-personalization-v2", "num_results": 40})
    (spec,) = built.solutions
    assert (spec.name, spec.recipe, spec.num_results, spec.output_kind.name) == (
        contract.DEFAULT_SOLUTION_NAME, "aws-user-personalization-v2", 40, "user_recommendations")
    assert built == PipelineConfig.from_mapping({"recipe": "aws-user-personalization-v2", "num_results": 40})


@pytest.mark.parametrize("recipe", contract.RECIPES)
def test_each_recipe_gets_its_output_kind_job_and_input(recipe: str) -> None:
    (spec,) = config(entry_of(recipe)).solutions
    kind = contract.OUTPUT_KINDS[contract.RECIPE_OUTPUT_KIND[recipe]]
    assert spec.output_kind == kind and spec.job_type == kind.job_type and spec.input_kind == kind.input_kind
    assert config(entry_of(recipe, output=kind.name)).solutions == (spec,)


@pytest.mark.parametrize(
    ("recipe", "output"),
    [(r, k) for r, k in itertools.product(contract.RECIPES, contract.OUTPUT_KINDS) if contract.RECIPE_OUTPUT_KIND[r] != k],
)
def test_an_output_kind_that_is_not_the_recipes_is_refused(recipe: str, output: str) -> None:
    with pytest.raises(ConfigError, match=rf"'solutions\[0\]\.output' has value '{output}'; allowed: "):
        config(entry_of(recipe, output=output))


def test_the_contract_and_the_flattening_agree_on_every_kind() -> None:
    """The state machine picks the job type and the post-processing picks the CSV folder from different modules."""
    assert set(contract.OUTPUT_KINDS) == set(flatten.OUTPUT_KINDS)
    for name, kind in contract.OUTPUT_KINDS.items():
        assert flatten.OUTPUT_KINDS[name].job_type == kind.job_type
        assert flatten.OUTPUT_KINDS[name].folder == kind.output_folder
    assert dict(flatten.RECIPE_KINDS) == dict(contract.RECIPE_OUTPUT_KIND)


@pytest.mark.parametrize(
    ("entries", "key", "fragment"),
    [
        ([{"name": "Users", "recipe": "aws-sims"}], "solutions[0].name", "lower-case letters"),
        ([{"name": "sim-items", "recipe": "aws-sims"}], "solutions[0].name", "lower-case letters"),
        ([{"name": "a" * 21, "recipe": "aws-sims"}], "solutions[0].name", "1-20 characters"),
        ([{"name": "a", "recipe": "aws-sims"}, {"name": "a", "recipe": "aws-sims"}], "solutions[1].name", "no other"),
        ([{"name": "a", "recipe": "aws-personalized-ranking"}], "solutions[0].recipe", "one of aws-user-personalization"),
        ([{"name": "a", "recipe": "aws-sims", "training_mode": "UPDATE"}], "solutions[0].training_mode", "FULL"),
        ([{"name": "a", "recipe": "aws-sims", "num_results": 501}], "solutions[0].num_results", "1 to 500"),
        ([{"name": "a", "recipe": "aws-item-attribute-affinity", "queries": ["x", "y", "x"]}], "solutions[0].queries",
         "distinct"),
        ([{"name": "a", "recipe": "aws-sims", "queries": ["x"]}], "solutions[0].queries", "no queries"),
        ([{"name": "a", "recipe": "aws-item-attribute-affinity"}], "solutions[0].queries", "non-empty list"),
        ([{"name": "a", "recipe": "aws-item-attribute-affinity", "queries": ["a\nb"]}], "solutions[0].queries", "list"),
        ([{"name": "a", "recipe": "aws-sims", "colour": "red"}], "solutions[0].colour", "keys name, recipe"),
        ([{"name": "a", "recipe": "aws-sims", "quality_gate_metric": "Precision"}], "solutions[0].quality_gate_metric",
         "metric name"),
    ],
)
def test_a_bad_entry_names_its_key(entries: list[dict[str, Any]], key: str, fragment: str) -> None:
    with pytest.raises(ConfigError) as raised:
        config(*entries)
    assert f"'{key}' has value" in str(raised.value) and fragment in str(raised.value).split("allowed:", 1)[1]


@pytest.mark.parametrize("recipe", [r for r in contract.RECIPES if contract.output_kind_of(r).job_type == "batch_segment"])
def test_user_segmentation_recipes_need_the_items_dataset(recipe: str) -> None:
    with pytest.raises(ConfigError, match=r"'solutions\[0\]\.recipe'.*items_dataset"):
        PipelineConfig.from_mapping({"solutions": [entry_of(recipe)]})


def test_more_solutions_than_training_quota_are_refused() -> None:
    entries = [entry_of("aws-sims", name=f"s{index}") for index in range(contract.SOLUTION_VERSIONS_QUOTA + 1)]
    with pytest.raises(ConfigError, match=r"'solutions' has value 21; allowed: at most 20"):
        config(*entries)


@pytest.mark.parametrize(("prefix", "environment"), [("pbp", "dev"), ("abcdefghijklmnop", "production"), ("ab", "x")])
def test_every_accepted_name_leaves_room_for_its_job_names(prefix: str, environment: str) -> None:
    for length in range(1, 21):
        name = "n" * length
        try:
            built = config(entry_of("aws-sims", name=name), prefix=prefix, environment=environment)
        except ConfigError as error:
            assert "must fit Personalize's 63" in str(error)
            continue
        longest = f"{built.resource_name('batch-' + name)}-{'d' * 10}-0001"
        assert len(longest) <= 63, longest


def test_cli_text_of_solutions_is_parsed_like_the_json() -> None:
    text = '[{"name": "similar", "recipe": "aws-similar-items"}]'
    assert PipelineConfig.from_mapping({"solutions": text}).solutions == PipelineConfig.from_mapping(
        {"solutions": [{"name": "similar", "recipe": "aws-similar-items"}]}).solutions


def test_batch_input_kinds_follow_the_solutions() -> None:
    built = config(entry_of("aws-user-personalization", "u"), entry_of("aws-sims", "r"), entry_of("aws-item-affinity", "i"),
                   entry_of("aws-item-attribute-affinity", "q"))
    assert built.batch_input_kinds == ("users", "items", "item_attributes")
    assert [s.name for s in built.solutions_of_job_type("batch_segment")] == ["i", "q"]
    assert built.quality_gate_rule_of(built.solutions[0])["metric"] == built.quality_gate_metric


SEGMENT_RECIPES = [r for r in contract.RECIPES if contract.output_kind_of(r).job_type == "batch_segment"]


@pytest.mark.parametrize("recipe", SEGMENT_RECIPES)
def test_segment_num_results_is_bounded_by_what_one_post_processing_run_flattens(recipe: str) -> None:
    """An output file holds a job's input lines (the kind's max_job_records) of num_results users each: at the
    bound it fits one process_file run in rows and in memory (and the API's 5 million); one past it is refused
    naming key, value and bound."""
    kind = contract.output_kind_of(recipe)
    assert kind.max_job_records is not None
    bound = flatten_capacity.segment_num_results_max(kind.max_job_records)
    assert 1000 <= bound
    assert kind.max_job_records * bound <= flatten_capacity.SEGMENT_ROWS_PER_RUN
    assert bound <= flatten_capacity.SEGMENT_RESULTS_PER_LINE_MAX <= flatten_capacity.SEGMENT_NUM_RESULTS_API_MAX
    # The bound is the tightest of the three: one more user breaks one of them.
    assert (kind.max_job_records * (bound + 1) > flatten_capacity.SEGMENT_ROWS_PER_RUN
            or bound + 1 > flatten_capacity.SEGMENT_RESULTS_PER_LINE_MAX)
    (spec,) = config(entry_of(recipe, num_results=bound)).solutions
    assert spec.num_results == bound
    with pytest.raises(ConfigError) as raised:
        config(entry_of(recipe, num_results=bound + 1))
    assert str(raised.value) == (f"cdk.json context key 'solutions[0].num_results' has value {bound + 1}; allowed: a "
                                 f"whole number from 1 to {bound}")


def test_the_capacity_bound_follows_the_measured_figures_with_their_margins() -> None:
    """Rows per run = rate / S3 overhead x (timeout - reserve) / margin; users per line = memory / margin / bytes
    per user. Item affinity's 500-line files are bound by time, attribute affinity's 10-query files by memory."""
    seconds = flatten_capacity.PROCESS_FILE_TIMEOUT_SECONDS - flatten_capacity.TIME_RESERVE_SECONDS
    expected = flatten_capacity.SEGMENT_ROWS_PER_SECOND / flatten_capacity.S3_CPU_OVERHEAD * seconds / 2
    assert flatten_capacity.SEGMENT_ROWS_PER_RUN == int(expected)
    memory = flatten_capacity.PROCESS_FILE_MEMORY_MB * 2**20 / 2
    assert flatten_capacity.SEGMENT_RESULTS_PER_LINE_MAX == int(memory // flatten_capacity.SEGMENT_BYTES_PER_RESULT)
    assert flatten_capacity.segment_num_results_max(500) == flatten_capacity.SEGMENT_ROWS_PER_RUN // 500
    assert flatten_capacity.segment_num_results_max(10) == flatten_capacity.SEGMENT_RESULTS_PER_LINE_MAX
    with pytest.raises(ValueError, match="lines_per_file 0"):
        flatten_capacity.segment_num_results_max(0)


def test_the_function_runs_with_the_memory_and_timeout_the_bound_assumes(pipeline_template: Any) -> None:
    from lambda_src.postprocess.handler import TIME_RESERVE_MS

    (function,) = [f for f in pipeline_template.find_resources("AWS::Lambda::Function").values()
                   if f["Properties"]["Handler"] == "postprocess.handler.process_file"]
    assert function["Properties"]["MemorySize"] == flatten_capacity.PROCESS_FILE_MEMORY_MB
    assert function["Properties"]["Timeout"] == flatten_capacity.PROCESS_FILE_TIMEOUT_SECONDS
    assert TIME_RESERVE_MS == flatten_capacity.TIME_RESERVE_SECONDS * 1000


def test_more_queries_than_one_job_reads_are_accepted_and_split() -> None:
    """25 genres make 3 jobs (the planner splits at 10): the config takes any number of distinct queries."""
    queries = [f'ITEMS.GENRES = "g{n}"' for n in range(25)]
    (spec,) = config(entry_of("aws-item-attribute-affinity", queries=queries)).solutions
    assert spec.queries == tuple(queries)
    assert [len(v) for v in contract.query_files(spec.queries).values()] == [10, 10, 5]


# Cadence (`retrain`) -----------------------------------------------------------------------------------------------
UP = "aws-user-personalization"


@pytest.mark.parametrize(
    ("context", "key", "fragment"),
    [
        ({"retrain": {"full_every_days": 3651}}, "retrain.full_every_days", "from 0 to 3650"),
        ({"retrain": {"full_every_days": -1}}, "retrain.full_every_days", "from 0 to 3650"),
        ({"retrain": {"update_every_days": 1.5}}, "retrain.update_every_days", "whole number"),
        ({"retrain": {"every": 1}}, "retrain.every", "keys full_every_days, update_every_days"),
        ({"retrain": "weekly"}, "retrain", '{"full_every_days": 28, "update_every_days": 7}'),
        ({"retrain": {"full_every_days": 7, "update_every_days": 7}}, "retrain.update_every_days", "fewer days"),
        ({"solutions": [entry_of("aws-sims", retrain={"update_every_days": 1})]}, "solutions[0].retrain.update_every_days",
         "0 when training_mode is FULL"),
        ({"solutions": [entry_of(UP, retrain={"full_every_days": 3, "update_every_days": 3}, training_mode="UPDATE")]},
         "solutions[0].retrain.update_every_days", "fewer days than full_every_days (3)"),
    ],
)
def test_a_bad_cadence_names_its_key(context: dict[str, Any], key: str, fragment: str) -> None:
    with pytest.raises(ConfigError) as raised:
        PipelineConfig.from_mapping(context)
    assert f"'{key}' has value" in str(raised.value) and fragment in str(raised.value).split("allowed:", 1)[1]


def test_cadence_bounds_are_taken_at_the_limit() -> None:
    built = PipelineConfig.from_mapping({"retrain": '{"full_every_days": 3650, "update_every_days": 3649}',
                                         "training_mode": "UPDATE"})  # fmt: skip
    assert built.solutions[0].retrain.as_dict() == {"full_every_days": 3650, "update_every_days": 3649}
    assert not PipelineConfig.from_mapping({}).solutions[0].retrain.on


def test_the_top_level_cadence_is_each_solutions_default_its_update_period_for_update_solutions_only() -> None:
    built = config(
        entry_of(UP, name="users", training_mode="UPDATE"),
        entry_of("aws-sims", name="similar"),
        entry_of("aws-sims", name="own", retrain={"full_every_days": 3}),
        retrain={"full_every_days": 28, "update_every_days": 7},
    )
    cadences = {spec.name: spec.retrain.as_dict() for spec in built.solutions}
    assert cadences == {
        "users": {"full_every_days": 28, "update_every_days": 7},
        "similar": {"full_every_days": 28, "update_every_days": 0},
        "own": {"full_every_days": 3, "update_every_days": 0},
    }
