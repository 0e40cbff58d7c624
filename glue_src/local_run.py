"""Runs the Glue ETL transform on local Spark: `python -m glue_src.local_run [options]`.

With no arguments it reads the bundled MovieLens-HetRec-format sample (`glue_src/sample/`) and
writes to `./local-output/<run_id>/` (interactions/, batch-input/, quarantine/, items/ from the
sample's HetRec-style item files, quarantine-items/, _summary.json; batch-input-items/ and
batch-input-queries/<solution>/ with --batch-inputs users,items and --item-attribute-queries).
`--input PATH --output PATH` run it on any file or folder.

The settings are a deployment's (`glue_src/local_config.py`): cdk.json's context, then with `--config NAME`
the keys of config/NAME.json, then the options given, each in the configuration's vocabulary (`--delimiter ,`
or "\\t", `--min-rating` 0.5 to 5.0 in steps of 0.5) and checked by the typed PipelineConfig; the job arguments
are the ones the deployed Glue job gets from that configuration, with local locations.

stdout gets one JSON object whatever the outcome: the summary, or with --quiet the counts of a success and
the status, failure, message, main rejection reasons and counts of a failure. Messages go to stderr.

Examples:
    python -m glue_src.local_run
    python -m glue_src.local_run --config full --input ratings/ --metadata-root raw/
    python -m glue_src.local_run --input ml-latest/ratings.csv --delimiter , \\
        --user-column userId --item-column movieId --timestamp-unit s
    python -m glue_src.local_run --input ml-100k/u.data --no-header --timestamp-unit s
    python -m glue_src.local_run --batch-inputs users,items --batch-items-top-n 100 \\
        --batch-items-per-file 500 --item-attribute-queries '{"genre_fans": ["ITEMS.GENRES = \\"Comedy\\""]}'

Incremental ETL (`--incremental`, or a configuration with etl_incremental, e.g. `--config full`): the ledger lives
in OUTPUT/state/ledger.json; a run reads only the files no earlier successful local run read (new, or with other
bytes), and a local run that succeeds promotes its ledger at once (on AWS the state machine does, when the whole
pipeline run succeeded). `--full-rebuild` reads everything again.
    python -m glue_src.local_run --incremental --input ratings/ --run-id r1   # reads every file
    python -m glue_src.local_run --incremental --input ratings/ --run-id r2   # reads only the files new since r1

Exit status (the summary is written in every case but bad arguments):
    0  success
    2  bad arguments, or arguments that do not fit the input (nothing written)
    3  the kept data is below Personalize's training minimums (the message names the main rejection reasons)
    4  the input cannot be used: missing, empty, a file unreadable or not text, a header without
       the columns (every such file is named, on one line)
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from glue_src import arguments, ledger_store, local_config, metadata, transform
from glue_src.arguments import parse_options
from glue_src.messages import EtlArgumentError, EtlInputError, TrainingMinimumsError
from glue_src.local_spark import local_spark_session
from pipeline_contracts.run_layout import LEDGER_KEY, PROPOSED_LEDGER
from stacks.app_factory import DEFAULT_CONFIGURATION

SAMPLE_DIR = Path(__file__).resolve().parent / "sample"
SAMPLE_INPUT = SAMPLE_DIR / "user_ratedmovies-timestamps.dat"
# The sample's Items dataset, HetRec-style: year from movies.dat, genres (long format) from movie_genres.dat.
SAMPLE_ITEMS_DATASET = {
    "fields": [{"name": "GENRES", "type": "categorical"}, {"name": "YEAR", "type": "int"}],
    "sources": [
        {"prefix": "items/movies/", "delimiter": "tab", "id_column": "id", "columns": {"YEAR": "year"}},
        {"prefix": "items/genres/", "delimiter": "tab", "id_column": "movieID", "columns": {"GENRES": "genre"},
         "shape": "long"},
    ],
}
DEFAULT_OUTPUT = "local-output"
EXIT_OK, EXIT_ARGUMENTS, EXIT_MINIMUMS, EXIT_INPUT = 0, 2, 3, 4
# What --quiet prints of a failed run's summary (of a successful one: the counts).
QUIET_FAILURE_KEYS = ("status", "failure", "message", "main_rejections", "counts")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m glue_src.local_run", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--input", default=str(SAMPLE_INPUT), help="file or folder of raw ratings (default: the bundled sample)"
    )
    parser.add_argument(
        "--output",
        default=DEFAULT_OUTPUT,
        help="base folder; the run writes to OUTPUT/<run_id>/ (default: %(default)s)",
    )
    parser.add_argument("--run-id", default=None, help="default: local-<UTC time>")
    parser.add_argument(
        "--config",
        default=DEFAULT_CONFIGURATION,
        help="the named configuration (config/NAME.json over cdk.json, as `cdk synth -c config=NAME`) whose "
        "raw_* settings, min_rating, datasets and batch inputs the run takes (default: %(default)s, cdk.json alone); "
        "every option below given explicitly overrides its key, in the configuration's vocabulary",
    )
    parser.add_argument("--min-rating", default=None, help="min_rating: 0.5 to 5.0 in steps of 0.5")
    parser.add_argument("--delimiter", default=None, help='raw_delimiter: one character, "\\t" or "tab" for a tab')
    header = parser.add_mutually_exclusive_group()
    header.add_argument("--header", dest="has_header", action="store_true", default=None, help="raw_has_header true")
    header.add_argument(
        "--no-header",
        dest="has_header",
        action="store_false",
        help="raw_has_header false: columns are 0-based positions (0, 1, 2, 3 unless given or configured)",
    )
    parser.add_argument("--user-column", default=None, help="raw_user_column: header name or 0-based position")
    parser.add_argument("--item-column", default=None, help="raw_item_column")
    parser.add_argument("--rating-column", default=None, help="raw_rating_column")
    parser.add_argument("--timestamp-column", default=None, help="raw_timestamp_column")
    parser.add_argument("--timestamp-unit", default=None, help="raw_timestamp_unit: ms or s")
    parser.add_argument("--encoding", default=None, help="raw_encoding: utf-8, utf-8-sig, latin-1 or cp1252")
    _add_event_options(parser)
    parser.add_argument(
        "--items-dataset",
        default=None,
        help="items_dataset (JSON, or @file.json; {} or empty for none); default: the configuration's, or with the "
        "default configuration and the sample input the sample's HetRec items",
    )
    parser.add_argument("--users-dataset", default=None, help="users_dataset (JSON or @file.json)")
    parser.add_argument(
        "--metadata-root",
        default=None,
        help="folder the datasets' source prefixes are under (default: the sample's, only with the sample input; "
        "required when a dataset is configured for another input)",
    )
    parser.add_argument("--batch-items-top-n", default=None, help="batch_items_top_n: 0 (every item) or N")
    # No configuration key: the configuration derives these job arguments from its solutions.
    parser.add_argument(
        "--batch-inputs", default=None, help="job argument: comma list of users, items (default: the solutions')"
    )
    parser.add_argument(
        "--batch-items-per-file",
        default=None,
        help="job argument: at most N lines per items file; 0: the 5 million cap (default: the solutions')",
    )
    parser.add_argument(
        "--item-attribute-queries",
        default=None,
        help='job argument: JSON {"<solution>": ["<query>", ...]} (or @file.json) (default: the solutions\')',
    )
    _add_incremental_options(parser)
    parser.add_argument(
        "--quiet",
        action="store_true",
        help="print one small JSON object (the counts; on a failure its status, message and main rejections) "
        "instead of the whole summary",
    )
    return parser


def _add_incremental_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--incremental",
        action="store_const",
        const="true",
        default=None,
        help="etl_incremental true: read only the files no earlier successful local run read (ledger: "
        "OUTPUT/state/ledger.json)",
    )
    parser.add_argument(
        "--full-rebuild-every-days", default=None, help="etl_full_rebuild_every_days: 0 (only on demand) or N"
    )
    parser.add_argument(
        "--full-rebuild", action="store_true", help="with etl_incremental: read every file again (a full rebuild)"
    )


def _add_event_options(parser: argparse.ArgumentParser) -> None:
    """The options of the interactions' event types and recent window (README "Filters and event types")."""
    parser.add_argument(
        "--event-type-column", default=None, help="raw_event_type_column (default: none, every row has the default)"
    )
    parser.add_argument("--default-event-type", default=None, help="default_event_type, e.g. rating")
    parser.add_argument(
        "--event-value-column", default=None, help="raw_event_value_column (may be the rating column; default: none)"
    )
    parser.add_argument(
        "--max-age-days", default=None, help="raw_max_age_days: keep the last N days before the run (0: all)"
    )
    parser.add_argument(
        "--keep-event-types", default=None, help='keep_event_types: JSON list, e.g. \'["click", "purchase"]\''
    )


def config_options(args: argparse.Namespace, named: Mapping[str, Any]) -> dict[str, Any]:
    """The options given on the command line that set a configuration key (option -> value), and the local
    defaults where neither they nor the named configuration (`named`: its keys) set one: the sample's items beside
    the sample input, and without a header the positions 0-3 for the columns."""
    given = {
        option: _json_or_file(value) if option.endswith("_dataset") and value else value
        for option in local_config.CONFIG_KEY_OF_OPTION
        if (value := getattr(args, option)) is not None
    }
    if _is_sample(args) and "items_dataset" not in given and "items_dataset" not in named:
        given["items_dataset"] = json.dumps(SAMPLE_ITEMS_DATASET)
    if not given.get("has_header", named.get("raw_has_header", True)):
        for position, option in enumerate(arguments.POSITIONAL_COLUMN_ARGUMENTS):
            if local_config.CONFIG_KEY_OF_OPTION[option] not in named:
                given.setdefault(option, str(position))
    return given


def resolved_config(args: argparse.Namespace) -> local_config.LocalConfig:
    """The run's configuration: the named one with the options given over it, and the local defaults."""
    return local_config.resolve(args.config, config_options(args, local_config.named_keys(args.config)))


def job_arguments(args: argparse.Namespace, config: local_config.LocalConfig | None = None) -> dict[str, str]:
    """Every argument the Glue job would get for this command line: the configuration's, with local locations
    and the job-argument options given over them."""
    config = config or resolved_config(args)
    job = local_config.deployed_job_arguments(config.config)
    run_id = args.run_id or "local-" + datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    job.update(
        {
            # An empty path stays empty (and is rejected): resolved, it would be the current folder.
            "--input_uri": str(Path(args.input).resolve()) if args.input else args.input,
            "--output_uri": str(Path(args.output).resolve()).rstrip("/") + "/" if args.output else args.output,
            "--run_id": run_id,
            "--metadata_root_uri": _metadata_root(args, job),
        }
    )
    if "--ledger_uri" in job:
        job["--ledger_uri"] = _local_ledger(args)
        job["--full_rebuild"] = "true" if args.full_rebuild else "false"
    for option in local_config.JOB_ARGUMENT_OPTIONS:
        value = getattr(args, option)
        if value is not None:
            job[f"--{option}"] = _json_or_file(value) if option == "item_attribute_queries" else value
    return job


def glue_arguments(args: argparse.Namespace) -> dict[str, str]:
    """The ETL's job arguments (`arguments.ARGUMENT_NAMES`) equivalent to the command line."""
    job = job_arguments(args)
    return {f"--{name}": job[f"--{name}"] for name in arguments.ARGUMENT_NAMES}


def _local_ledger(args: argparse.Namespace) -> str:
    """The local ledger: OUTPUT/state/ledger.json, beside the runs (the deployed job's is in the transformed bucket)."""
    return str(Path(args.output or DEFAULT_OUTPUT).resolve() / LEDGER_KEY)


def promote_ledger(options: arguments.EtlOptions, ledger_uri: str) -> None:
    """The local run succeeded: its proposed ledger becomes the ledger (on AWS: the state machine's success path)."""
    Path(ledger_uri).parent.mkdir(parents=True, exist_ok=True)
    Path(ledger_uri).write_bytes(Path(options.run_uri + PROPOSED_LEDGER).read_bytes())
    print(f"ledger promoted: {ledger_uri} (run {options.run_id})", file=sys.stderr)


def _is_sample(args: argparse.Namespace) -> bool:
    return bool(args.input) and Path(args.input).resolve() == SAMPLE_INPUT


def _metadata_root(args: argparse.Namespace, job: Mapping[str, str]) -> str:
    """The folder the datasets' source prefixes are under, as a URI prefix ("" when no dataset is configured)."""
    if args.metadata_root:
        return str(Path(args.metadata_root).resolve()) + "/"
    if _is_sample(args):
        return str(SAMPLE_DIR) + "/"
    if any(job[f"--{kind}_dataset"].strip() not in ("", metadata.DISABLED) for kind in ("items", "users")):
        # The sample's metadata beside real ratings would join fake items: no silent default.
        raise EtlArgumentError(
            "--metadata-root is required with --items-dataset / --users-dataset (or a configuration that sets "
            "items_dataset / users_dataset) when --input is not the bundled sample; allowed: the folder the "
            "datasets' source prefixes are under"
        )
    return ""


def _json_or_file(value: str) -> str:
    """A JSON argument given inline or as @file.json."""
    return Path(value[1:]).read_text(encoding="utf-8") if value.startswith("@") else value


def main(argv: list[str] | None = None) -> int:
    """Runs the ETL; stdout gets one JSON object whatever the outcome (`outcome`), stderr the messages."""
    args = build_parser().parse_args(argv)
    try:
        config = resolved_config(args)
        # As Glue's getResolvedOptions gives them to job.py: the names without their dashes.
        job = {name.removeprefix("--"): value for name, value in job_arguments(args, config).items()}
        options = parse_options(job)
        incremental = ledger_store.parse_incremental(job)
        metadata_root, metadata_specs = metadata.parse_arguments(job)
    except EtlArgumentError as error:
        return _refused(args, error)
    for note in config.notes:
        print(f"note: {note}", file=sys.stderr)
    started = time.time()
    spark = local_spark_session(app_name="personalize-etl-local-run")
    print(f"Spark session ready in {time.time() - started:.1f} s; reading {options.input_uri}", file=sys.stderr)
    try:
        summary = transform.run(spark, options, incremental=incremental)
        summary = metadata.run(spark, options, metadata_specs, metadata_root, summary)
        if incremental:
            promote_ledger(options, incremental.ledger_uri)
    except EtlArgumentError as error:
        return _refused(args, error)
    except EtlInputError as error:
        written = json.loads(Path(options.summary_uri).read_text(encoding="utf-8"))
        return _finish(args, EXIT_INPUT, written, f"error: {error} (summary: {options.summary_uri})")
    except TrainingMinimumsError as error:
        written = json.loads(Path(options.summary_uri).read_text(encoding="utf-8"))
        return _finish(args, EXIT_MINIMUMS, written, f"\nFAILED: {error}")
    return _finish(args, EXIT_OK, summary, f"\nOK: outputs in {options.run_uri} ({summary['duration_seconds']:.1f} s)")


def outcome(summary: Mapping[str, Any], *, quiet: bool) -> dict[str, Any]:
    """What the run prints: the summary; with `quiet`, the counts of a success, or a failure's status, failure,
    message, main rejection reasons and counts (whatever it has of them)."""
    if not quiet:
        return dict(summary)
    if summary["status"] == "SUCCEEDED":
        return dict(summary["counts"])
    return {key: summary[key] for key in QUIET_FAILURE_KEYS if key in summary}


def _refused(args: argparse.Namespace, error: EtlArgumentError) -> int:
    """Bad arguments: no summary is written, the outcome says why."""
    refused = {"status": "FAILED", "failure": "arguments", "message": str(error)}
    return _finish(args, EXIT_ARGUMENTS, refused, f"error: {error}")


def _finish(args: argparse.Namespace, status: int, summary: Mapping[str, Any], line: str) -> int:
    """Prints the outcome (one JSON object) to stdout and `line` to stderr; returns the exit status."""
    print(json.dumps(outcome(summary, quiet=args.quiet), indent=2))
    print(line, file=sys.stderr)
    return status


if __name__ == "__main__":
    sys.exit(main())
