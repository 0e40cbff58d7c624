"""The local run's settings, resolved from a named configuration the way a deployment resolves them.

Layers, each over the one before: `cdk.json`'s context, the keys of `config/NAME.json` (`--config NAME`), then
the flags given on the command line. The typed `PipelineConfig` checks every value, so the local run speaks the
configuration's vocabulary and refuses what the configuration refuses; the Glue job's DefaultArguments are then
built by the construct that deploys them (`RatingsEtl.default_arguments`), so a local run reads and writes what
the deployed job would. Only the locations are local: the input, the output and the metadata root.

Local only: `job.py` never imports this module, so neither it nor `stacks` is in the Glue zip.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import os

# The CDK library (imported for the deployed job's own argument code) would print jsii's Node end-of-life banner.
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

import aws_cdk as cdk  # noqa: E402
from aws_cdk import aws_s3 as s3  # noqa: E402

from glue_src import arguments, ledger_store, metadata  # noqa: E402
from glue_src.messages import EtlArgumentError  # noqa: E402
from stacks.app_factory import cdk_json_context, named_configuration  # noqa: E402
from stacks.config import DEFAULT_SOURCE, ConfigError, PipelineConfig  # noqa: E402
from stacks.etl import RatingsEtl  # noqa: E402

# The local_run options that set a configuration key: option (argparse dest, also the job argument's name) -> key.
CONFIG_KEY_OF_OPTION = {
    "min_rating": "min_rating",
    "delimiter": "raw_delimiter",
    "has_header": "raw_has_header",
    "user_column": "raw_user_column",
    "item_column": "raw_item_column",
    "rating_column": "raw_rating_column",
    "timestamp_column": "raw_timestamp_column",
    "timestamp_unit": "raw_timestamp_unit",
    "encoding": "raw_encoding",
    "event_type_column": "raw_event_type_column",
    "default_event_type": "default_event_type",
    "event_value_column": "raw_event_value_column",
    "keep_event_types": "keep_event_types",
    "max_age_days": "raw_max_age_days",
    "items_dataset": "items_dataset",
    "users_dataset": "users_dataset",
    "batch_items_top_n": "batch_items_top_n",
    "incremental": "etl_incremental",
    "full_rebuild_every_days": "etl_full_rebuild_every_days",
}
OPTION_OF_CONFIG_KEY = {key: option for option, key in CONFIG_KEY_OF_OPTION.items()}
# The configuration sets no key for these (it derives them from its solutions): given, they override the job
# argument itself, in the job's vocabulary (glue_src/arguments.py checks them).
JOB_ARGUMENT_OPTIONS = ("batch_inputs", "batch_items_per_file", "item_attribute_queries")
# The job's own arguments: the ETL's and the metadata's (the rest of DefaultArguments are Glue's settings).
JOB_ARGUMENTS = tuple(
    f"--{name}"
    for name in (*arguments.ARGUMENT_NAMES, *metadata.ARGUMENT_NAMES, *ledger_store.INCREMENTAL_ARGUMENT_NAMES)
)
# The deployed job's locations, replaced by local folders (placeholders: the buckets' names are not known here).
_PLACEHOLDER_BUCKET = "local-run"


@dataclass(frozen=True, kw_only=True)
class LocalConfig:
    """The typed configuration of a local run, and what it tells the user about how it was layered."""

    name: str
    config: PipelineConfig
    # Keys config/NAME.json sets ({} for the default configuration).
    named: Mapping[str, Any]
    # "--encoding 'latin-1' overrides config/full.json's 'utf-8-sig'" for each option over a key the file sets.
    notes: tuple[str, ...]


def option_error(option: str, value: Any, allowed: str) -> EtlArgumentError:
    """The error of a local_run option, naming its three spellings (flag, configuration key, job argument)."""
    key = CONFIG_KEY_OF_OPTION.get(option)
    spelled = f"local_run --{option.replace('_', '-')}" + (f" = config key '{key}'" if key else "")
    return EtlArgumentError(f"{spelled} = job argument --{option} has value {value!r}; allowed: {allowed}")


def named_keys(name: str) -> dict[str, Any]:
    """The keys `config/<name>.json` sets ({} for the default configuration)."""
    try:
        return named_configuration(name)
    except ConfigError as error:
        raise EtlArgumentError(f"local_run --config has value {name!r}; allowed: {error.allowed}") from None


def resolve(name: str, options: Mapping[str, Any]) -> LocalConfig:
    """The configuration `name` with `options` (local_run option -> value, only the options given) over it.

    Raises EtlArgumentError naming the option (or the file, or cdk.json) that set a value the configuration
    refuses, the value and what is allowed."""
    for option, value in options.items():
        # The configuration spells "no dataset" as empty; any other empty value is a typo, not the default.
        if value == "" and not option.endswith("_dataset"):
            raise option_error(option, value, "a non-empty value (leave the option out for the configuration's)")
    named = named_keys(name)
    given = {CONFIG_KEY_OF_OPTION[option]: value for option, value in options.items()}
    layered = {**cdk_json_context(), **named, **given}
    try:
        config = PipelineConfig.from_context(layered.get)
    except ConfigError as error:
        if error.root_key in given:
            raise option_error(OPTION_OF_CONFIG_KEY[error.root_key], error.value, error.allowed) from None
        where = f"config/{name}.json" if error.root_key in named else DEFAULT_SOURCE
        raise EtlArgumentError(str(error.located(where))) from None
    notes = tuple(
        f"--{OPTION_OF_CONFIG_KEY[key].replace('_', '-')} {given[key]!r} overrides config/{name}.json's {named[key]!r}"
        for key in sorted(given.keys() & named.keys())
    )
    return LocalConfig(name=name, config=config, named=named, notes=notes)


def deployed_job_arguments(config: PipelineConfig) -> dict[str, str]:
    """The job arguments the deployed Glue job gets from `config` (its DefaultArguments, as the construct builds
    them), without Glue's own settings; the locations are placeholders for the caller to replace."""
    stack = cdk.Stack(cdk.App(), "LocalRun")
    bucket = s3.Bucket.from_bucket_name(stack, "Bucket", _PLACEHOLDER_BUCKET)
    deployed = RatingsEtl.default_arguments(config, bucket, bucket)
    return {name: value for name, value in deployed.items() if name in JOB_ARGUMENTS}
