"""`python -m glue_src.local_run --config NAME`: the named configuration's settings, the configuration's vocabulary
(checked by the typed PipelineConfig), the options given over it, and the Makefile's CONFIG. No Spark here."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from glue_src import local_config, local_run, metadata
from glue_src.arguments import EtlOptions, parse_options
from glue_src.limits import RATING_MAX, RATING_MIN
from glue_src.messages import EtlArgumentError
from pipeline_contracts.metadata_datasets import ENCODINGS
from stacks import app_factory
from stacks.config import ConfigError, PipelineConfig

ROOT = Path(__file__).resolve().parents[2]
# min_rating's step in the configuration (stacks/config.py: a number from 0.5 to 5.0 in steps of 0.5).
RATING_STEP = 0.5


def deployed_config(name: str) -> PipelineConfig:
    """The configuration `cdk synth -c config=NAME` deploys, by the app's own resolution."""
    defaults = app_factory.cdk_json_context()
    return app_factory.resolve_config(lambda key: name if key == "config" else defaults.get(key)).config


def local_options(tmp_path: Path, *argv: str) -> tuple[EtlOptions, dict[str, Any]]:
    """The ETL options and the metadata specs of a local run on a file of tmp_path (never the sample)."""
    args = local_run.build_parser().parse_args(
        ["--input", str(tmp_path / "ratings.csv"), "--output", str(tmp_path / "out"), "--run-id", "r",
         "--metadata-root", str(tmp_path), *argv]
    )
    job = {name.removeprefix("--"): value for name, value in local_run.job_arguments(args).items()}
    return parse_options(job), metadata.parse_arguments(job)[1]


def refusal(*argv: str) -> str:
    """The message of a command line local_run refuses before Spark (the config's resolution)."""
    args = local_run.build_parser().parse_args(["--input", "in.csv", *argv])
    with pytest.raises(EtlArgumentError) as raised:
        local_run.job_arguments(args)
    return str(raised.value)


def config_refusal(key: str, value: Any) -> ConfigError | None:
    """The configuration's own error for `key: value` over cdk.json, None when it accepts it."""
    layered = {**app_factory.cdk_json_context(), key: value}
    try:
        PipelineConfig.from_context(layered.get)
    except ConfigError as error:
        return error
    return None


@pytest.mark.parametrize("name", app_factory.named_configurations())
def test_every_named_configuration_runs_locally_as_it_is_deployed(tmp_path: Path, name: str) -> None:
    config = deployed_config(name)
    options, specs = local_options(tmp_path, "--config", name)
    assert (options.delimiter, options.min_rating, options.has_header, options.timestamp_unit, options.encoding) == (
        config.raw_delimiter, config.min_rating, config.raw_has_header, config.raw_timestamp_unit, config.raw_encoding
    )
    assert (options.user_column, options.item_column, options.rating_column, options.timestamp_column) == (
        config.raw_user_column, config.raw_item_column, config.raw_rating_column, config.raw_timestamp_column
    )
    assert specs == {"items": config.items_dataset, "users": config.users_dataset}
    kinds = config.batch_input_kinds
    assert set(options.batch_inputs) == {kind for kind in kinds if kind != "item_attributes"}
    assert options.batch_items_top_n == config.batch_items_top_n
    assert options.item_attribute_queries == {
        spec.name: spec.queries for spec in config.solutions if spec.input_kind == "item_attributes"
    }


def test_the_full_configuration_is_not_the_default_one(tmp_path: Path) -> None:
    # Guards the test above: it would pass for a --config that changed nothing if full set nothing.
    full, default = local_options(tmp_path, "--config", "full"), local_options(tmp_path)
    assert (full[0].encoding, default[0].encoding) == ("utf-8-sig", "utf-8")
    assert full[1]["items"] is not None and default[1] == {"items": None, "users": None}
    assert (full[0].batch_items_top_n, full[0].batch_items_per_file) == (500, 500)


# Each option that sets a configuration key, with a value none of the named configurations sets, and the
# EtlOptions field it lands in with its parsed value.
OVERRIDES = [
    ("--min-rating", "4.5", "min_rating", 4.5),
    ("--delimiter", ";", "delimiter", ";"),
    ("--user-column", "u", "user_column", "u"),
    ("--item-column", "i", "item_column", "i"),
    ("--rating-column", "stars", "rating_column", "stars"),
    ("--timestamp-column", "when", "timestamp_column", "when"),
    ("--timestamp-unit", "s", "timestamp_unit", "s"),
    ("--encoding", "cp1252", "encoding", "cp1252"),
    ("--batch-items-top-n", "7", "batch_items_top_n", 7),
    ("--batch-inputs", "items", "batch_inputs", ("items",)),
    ("--batch-items-per-file", "3", "batch_items_per_file", 3),
    ("--event-type-column", "kind", "event_type_column", "kind"),
    ("--event-value-column", "stars", "event_value_column", "stars"),
    ("--max-age-days", "30", "max_age_days", 30),
    ("--keep-event-types", '["rating", "view"]', "keep_event_types", ("rating", "view")),
]


def test_the_overrides_cover_every_option_of_a_config_key() -> None:
    flags = {flag for flag, *_ in OVERRIDES} | {
        "--header",
        "--items-dataset",
        "--users-dataset",
        "--incremental",
        "--full-rebuild-every-days",
        "--default-event-type",
    }
    assert {f"--{option.replace('_', '-')}" for option in local_config.CONFIG_KEY_OF_OPTION} - flags == {
        "--has-header"  # spelled --header / --no-header
    }


@pytest.mark.parametrize("name", app_factory.named_configurations())
@pytest.mark.parametrize(("flag", "value", "field", "parsed"), OVERRIDES)
def test_an_option_given_overrides_the_named_configuration(
    tmp_path: Path, name: str, flag: str, value: str, field: str, parsed: Any
) -> None:
    before = getattr(local_options(tmp_path, "--config", name)[0], field)
    after = getattr(local_options(tmp_path, "--config", name, flag, value)[0], field)
    assert (before != parsed, after) == (True, parsed)


def test_the_default_event_type_option_is_checked_with_the_configuration(tmp_path: Path) -> None:
    # Not in OVERRIDES: full.json keeps only "rating" rows, which another constant type would leave empty.
    assert local_options(tmp_path, "--default-event-type", "view")[0].default_event_type == "view"
    with pytest.raises(EtlArgumentError, match=r"keep_event_types.*holding default_event_type \(view\)"):
        local_options(tmp_path, "--config", "full", "--default-event-type", "view")


def test_an_override_of_a_key_the_file_sets_is_noted() -> None:
    args = local_run.build_parser().parse_args(["--config", "full", "--encoding", "latin-1", "--delimiter", ","])
    assert local_run.resolved_config(args).notes == ("--encoding 'latin-1' overrides config/full.json's 'utf-8-sig'",)


def test_without_a_header_unset_columns_are_positions_and_configured_ones_stay(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    options, _ = local_options(tmp_path, "--no-header", "--item-column", "5")
    assert (options.user_column, options.item_column, options.rating_column, options.timestamp_column) == (
        "0", "5", "2", "3"
    )
    configs = tmp_path / "config"
    configs.mkdir()
    (configs / "headerless.json").write_text(json.dumps({"raw_has_header": False, "raw_user_column": 4}))
    monkeypatch.setattr(app_factory, "CONFIG_DIR", configs)
    options, _ = local_options(tmp_path, "--config", "headerless")
    assert (options.has_header, options.user_column, options.item_column) == (False, "4", "1")


# Candidate values per option: each limit, one step past it, the old local words ("comma", "tab", "space").
VOCABULARY = [
    ("--delimiter", "raw_delimiter", [",", "\t", "\\t", "tab", "|", " ", "comma", "space", "pipe", ",,"]),
    ("--min-rating", "min_rating", [
        str(RATING_MIN), str(RATING_MAX), str(RATING_MIN - RATING_STEP), str(RATING_MAX + RATING_STEP),
        "3.7", "nan", "inf", "three",
    ]),
    ("--timestamp-unit", "raw_timestamp_unit", ["ms", "s", "ns", "MS"]),
    ("--encoding", "raw_encoding", [*ENCODINGS, "utf-16", "UTF-8"]),
    ("--batch-items-top-n", "batch_items_top_n", ["0", "50000000", "50000001", "-1", "2.5", "many"]),
    ("--user-column", "raw_user_column", ["userId", "0", " "]),
]


@pytest.mark.parametrize(
    ("flag", "key", "value"), [(flag, key, value) for flag, key, values in VOCABULARY for value in values]
)
def test_the_local_run_accepts_what_the_configuration_accepts_and_refuses_the_rest(
    tmp_path: Path, flag: str, key: str, value: str
) -> None:
    error = config_refusal(key, value)
    if error is None:
        local_options(tmp_path, flag, value)  # no error
        return
    option = flag.removeprefix("--").replace("-", "_")
    assert refusal(flag, value) == (
        f"local_run {flag} = config key '{key}' = job argument --{option} has value {value!r}; allowed: {error.allowed}"
    )


def test_the_vocabulary_has_both_outcomes_for_every_option() -> None:
    # Guards the test above: each option has a candidate the configuration takes and one it refuses.
    for _, key, values in VOCABULARY:
        outcomes = {config_refusal(key, value) is None for value in values}
        assert outcomes == {True, False}, key


def test_the_old_local_words_and_bounds_are_refused() -> None:
    assert "has value 'comma'; allowed: a single character" in refusal("--delimiter", "comma")
    assert "has value '0'; allowed: a number from 0.5 to 5.0 in steps of 0.5" in refusal("--min-rating", "0")


@pytest.mark.parametrize("flag", [f"--{option.replace('_', '-')}" for option in local_config.CONFIG_KEY_OF_OPTION
                                  if option not in ("has_header", "incremental") and not option.endswith("_dataset")])
def test_an_empty_option_is_refused_not_taken_for_the_configuration(flag: str) -> None:
    assert "has value ''; allowed: a non-empty value" in refusal(flag, "")


def test_incremental_is_a_switch_over_the_configuration(tmp_path: Path) -> None:
    """--incremental (no value, as --header) sets etl_incremental; its job arguments keep the ledger in the output."""
    args = local_run.build_parser().parse_args(
        ["--incremental", "--full-rebuild-every-days", "3", "--full-rebuild", "--output", str(tmp_path)]
    )
    assert local_run.resolved_config(args).config.etl_incremental is True
    job = local_run.job_arguments(args)
    assert (job["--incremental"], job["--ledger_uri"], job["--full_rebuild"], job["--full_rebuild_every_days"]) == (
        "true", str(tmp_path.resolve() / "state" / "ledger.json"), "true", "3"
    )
    assert "--incremental" not in local_run.job_arguments(local_run.build_parser().parse_args([]))


def test_an_empty_dataset_is_none_as_in_the_configuration(tmp_path: Path) -> None:
    for empty in ("", "{}"):
        assert local_options(tmp_path, "--items-dataset", empty, "--users-dataset", empty)[1] == {
            "items": None, "users": None
        }


def test_a_dataset_the_configuration_refuses_names_the_option() -> None:
    message = refusal("--metadata-root", ".", "--items-dataset", '{"fields": [], "sources": []}')
    assert message.startswith("local_run --items-dataset = config key 'items_dataset' = job argument --items_dataset")
    assert "has value 0; allowed: a list of 1 to" in message


def test_an_unknown_configuration_names_the_known_ones() -> None:
    names = ", ".join(app_factory.named_configurations())
    assert refusal("--config", "nope") == (
        f"local_run --config has value 'nope'; allowed: one of {names} (a file config/<name>.json)"
    )


def test_a_bad_value_in_the_named_file_names_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    configs = tmp_path / "config"
    configs.mkdir()
    (configs / "bad.json").write_text(json.dumps({"min_rating": 7}))
    monkeypatch.setattr(app_factory, "CONFIG_DIR", configs)
    assert refusal("--config", "bad") == (
        "config/bad.json key 'min_rating' has value 7; allowed: a number from 0.5 to 5.0 in steps of 0.5"
    )
    # Given on the command line, the option wins over the file and the run is fine.
    local_run.job_arguments(local_run.build_parser().parse_args(["--config", "bad", "--min-rating", "4"]))


def test_the_sample_items_are_the_default_only_where_no_configuration_sets_a_dataset() -> None:
    sample = local_run.build_parser().parse_args([])
    assert json.loads(local_run.job_arguments(sample)["--items_dataset"])["sources"][0]["prefix"] == "items/movies/"
    full = local_run.job_arguments(local_run.build_parser().parse_args(["--config", "full"]))
    assert json.loads(full["--items_dataset"]) == deployed_config("full").items_dataset.as_json()  # type: ignore[union-attr]


def test_bad_arguments_print_one_json_object(capsys: pytest.CaptureFixture[str]) -> None:
    for quiet in ([], ["--quiet"]):
        assert local_run.main(["--delimiter", "comma", *quiet]) == local_run.EXIT_ARGUMENTS
        captured = capsys.readouterr()
        printed = json.loads(captured.out)
        assert (printed["status"], printed["failure"]) == ("FAILED", "arguments")
        assert printed["message"] in captured.err and "'comma'" in printed["message"]


@pytest.mark.skipif(shutil.which("make") is None, reason="no make on this machine")
@pytest.mark.parametrize(("variables", "expected"), [(["CONFIG=full"], "--config full"), ([], None)])
def test_make_etl_local_passes_config_through(variables: list[str], expected: str | None) -> None:
    # -n prints the recipes (the install prerequisite's included) without running any.
    printed = subprocess.run(
        ["make", "-n", "etl-local", *variables], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    (line,) = [line for line in printed.splitlines() if "glue_src.local_run" in line]
    assert (expected in line) if expected else ("--config" not in line)
