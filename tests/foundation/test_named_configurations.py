"""`-c config=NAME`: config/NAME.json merged over cdk.json's context, `-c key=value` over both; an unknown name or
key stops synth; an error names the layer its key came from."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from stacks import app_factory
from stacks.app_factory import CONFIG_DIR, DEFAULT_CONFIGURATION, named_configurations, resolve_config
from stacks.config import ConfigError, PipelineConfig
from tests.conftest import CONFIGURATIONS
from tests.support.cdk_app import CDK_CONTEXT


def _config(context: dict[str, Any]) -> PipelineConfig:
    return resolve_config(context.get).config


@pytest.fixture
def config_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty config/ folder in place of the repository's."""
    monkeypatch.setattr(app_factory, "CONFIG_DIR", tmp_path)
    return tmp_path


def test_the_default_is_cdk_json_alone() -> None:
    expected = PipelineConfig.from_mapping(CDK_CONTEXT)
    assert _config(CDK_CONTEXT) == expected
    assert _config({**CDK_CONTEXT, "config": DEFAULT_CONFIGURATION}) == expected


def test_the_named_file_is_merged_over_the_context(config_dir: Path) -> None:
    (config_dir / "prod.json").write_text(json.dumps({"environment": "prod", "notification_email": "ops@example.com"}))
    config = _config({**CDK_CONTEXT, "config": "prod", "environment": "dev", "num_results": "50"})
    assert (config.environment, config.notification_email) == ("prod", "ops@example.com")  # from the file
    assert (config.num_results, config.prefix) == (50, "pbp")  # from the context, where the file is silent


def test_a_command_line_value_wins_over_the_file_and_synth_says_so(config_dir: Path) -> None:
    (config_dir / "prod.json").write_text(json.dumps({"environment": "prod", "num_results": 40, "min_rating": 4.0}))
    resolved = resolve_config({**CDK_CONTEXT, "config": "prod", "num_results": "60"}.get)
    assert (resolved.config.num_results, resolved.config.min_rating) == (60, 4.0)
    assert resolved.notes == ("-c num_results='60' overrides config/prod.json's 40",)
    # A context value equal to cdk.json's is cdk.json's own, not a -c: the file's value stands, and nothing is said.
    quiet = resolve_config({**CDK_CONTEXT, "config": "prod", "min_rating": CDK_CONTEXT["min_rating"]}.get)
    assert (quiet.config.min_rating, quiet.notes) == (4.0, ())


@pytest.mark.parametrize(
    ("file", "overrides", "source"),
    [
        ({"num_results": 0}, {}, "config/prod.json key 'num_results'"),
        ({"solutions": [{"name": "a", "recipe": "aws-nope"}]}, {}, "config/prod.json key 'solutions[0].recipe'"),
        ({}, {"num_results": "0"}, "-c key 'num_results'"),
        ({"num_results": 10}, {"num_results": "0"}, "-c key 'num_results'"),
        ({}, {"config": "staging"}, "-c key 'config'"),
    ],
)
def test_an_error_names_the_layer_its_key_came_from(
    config_dir: Path, file: dict[str, Any], overrides: dict[str, Any], source: str
) -> None:
    (config_dir / "prod.json").write_text(json.dumps(file))
    with pytest.raises(ConfigError) as error:
        _config({**CDK_CONTEXT, "config": "prod", **overrides})
    assert str(error.value).startswith(source + " has value ")


def test_a_cdk_json_value_is_named_as_such() -> None:
    with pytest.raises(ConfigError, match=r"^cdk.json context key 'num_results' has value 0;"):
        PipelineConfig.from_mapping({"num_results": 0})


def test_an_unknown_name_stops_with_the_names_there_are(config_dir: Path) -> None:
    (config_dir / "prod.json").write_text("{}")
    with pytest.raises(ConfigError, match=r"'config' has value 'staging'; allowed: one of default, prod \("):
        _config({**CDK_CONTEXT, "config": "staging"})


def test_an_unknown_key_stops_with_the_keys_there_are(config_dir: Path) -> None:
    (config_dir / "prod.json").write_text(json.dumps({"enviroment": "prod"}))
    with pytest.raises(ConfigError, match=r"'enviroment' has value 'prod'; allowed: only configuration keys .*prefix"):
        _config({**CDK_CONTEXT, "config": "prod"})


@pytest.mark.parametrize(
    ("content", "match"),
    [
        ('{"num_results": 0}', r"'num_results' has value 0; allowed: a whole number"),
        ("[]", r"'config' has value 'prod'; allowed: a name whose file prod.json holds a JSON object"),
        ('{"environment": "prod",}', r"'config' has value 'prod'; allowed: a name whose file prod.json is JSON \(Expecting"),
    ],
)
def test_a_bad_file_stops_with_the_usual_message(config_dir: Path, content: str, match: str) -> None:
    (config_dir / "prod.json").write_text(content)
    with pytest.raises(ConfigError, match=match):
        _config({**CDK_CONTEXT, "config": "prod"})


def test_the_tests_iterate_over_every_named_configuration() -> None:
    assert CONFIGURATIONS == named_configurations()
    assert CONFIGURATIONS[0] == DEFAULT_CONFIGURATION
    assert set(CONFIGURATIONS[1:]) == {path.stem for path in CONFIG_DIR.glob("*.json")} >= {"full"}


def test_each_configuration_names_its_own_stacks() -> None:
    """Their templates are snapshotted side by side, under the stack names."""
    names = [_config({**CDK_CONTEXT, "config": name}).resource_name("") for name in CONFIGURATIONS]
    assert len(set(names)) == len(names)


# Optional keys that are one of two ways to set the same thing: full.json sets the other one (its HetRec ratings have
# no event-type column, so EVENT_TYPE is the constant; tests/glue/test_clickstream.py reads one from a column).
ALTERNATIVE_OF_OPTIONAL_KEY = {"raw_event_type_column": "default_event_type"}


def test_full_switches_every_optional_capability_on() -> None:
    full = json.loads((CONFIG_DIR / "full.json").read_text())
    optional = [field.name for field in dataclasses.fields(PipelineConfig) if field.default is None]
    unset = [key for key in optional if full.get(key) in (None, "")]
    assert unset == list(ALTERNATIVE_OF_OPTIONAL_KEY)
    assert all(full.get(alternative) not in (None, "") for alternative in ALTERNATIVE_OF_OPTIONAL_KEY.values())
    config = _config({**CDK_CONTEXT, "config": "full"})
    assert config.schedule_enabled and config.perform_auto_training
    assert (config.training_mode, config.import_mode, config.data_removal_policy) == ("UPDATE", "INCREMENTAL", "DESTROY")


def test_the_cdk_entry_point_reports_a_bad_configuration_in_one_line(tmp_path: Path) -> None:
    """What `npx cdk synth -c config=nope` shows: the message alone, no Python traceback, a failing exit code."""
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "CDK_CONTEXT_JSON": json.dumps({**CDK_CONTEXT, "config": "nope"}), "CDK_OUTDIR": str(tmp_path)}
    done = subprocess.run([sys.executable, "app.py"], cwd=root, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        "error: -c key 'config' has value 'nope'; allowed: one of "
        f"{', '.join(named_configurations())} (a file config/<name>.json)"
    ]
