"""Runs the Glue ETL transform on local Spark: `python -m glue_src.local_run [options]`.

With no arguments it reads the bundled MovieLens-HetRec-format sample (`glue_src/sample/`) and
writes to `./local-output/<run_id>/` (interactions/, batch-input/, quarantine/, items/ from the
sample's HetRec-style item files, quarantine-items/, _summary.json; batch-input-items/ and
batch-input-queries/<solution>/ with --batch-inputs users,items and --item-attribute-queries),
then prints the summary. `--input PATH --output PATH` and the format options run it on any file
or folder; every option mirrors a Glue job argument of the same name.

Examples:
    python -m glue_src.local_run
    python -m glue_src.local_run --input ml-latest/ratings.csv --delimiter , \\
        --user-column userId --item-column movieId --timestamp-unit s
    python -m glue_src.local_run --input ml-100k/u.data --no-header \\
        --user-column 0 --item-column 1 --rating-column 2 --timestamp-column 3 --timestamp-unit s
    python -m glue_src.local_run --batch-inputs users,items --batch-items-top-n 100 \\
        --batch-items-per-file 500 --item-attribute-queries '{"genre_fans": ["ITEMS.GENRES = \\"Comedy\\""]}'

Exit status (the summary is written in every case but bad arguments):
    0  success
    2  bad arguments, or arguments that do not fit the input (nothing written)
    3  the kept data is below Personalize's training minimums
    4  the input cannot be used: missing, empty, a file unreadable or not text, a header without
       the columns (every such file is named, on one line)
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from glue_src import metadata, transform
from glue_src.arguments import parse_options
from glue_src.messages import EtlArgumentError, EtlInputError, TrainingMinimumsError
from glue_src.local_spark import local_spark_session

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
    parser.add_argument("--min-rating", default="3.5")
    parser.add_argument("--delimiter", default="tab", help='one character, or "tab" (default), "comma", "space"')
    header = parser.add_mutually_exclusive_group()
    header.add_argument(
        "--header", dest="has_header", action="store_true", default=True, help="the input has a header line (default)"
    )
    header.add_argument(
        "--no-header", dest="has_header", action="store_false", help="no header: columns are 0-based positions"
    )
    parser.add_argument(
        "--user-column", default=None, help="header name or 0-based position (default: userID, or 0 without header)"
    )
    parser.add_argument("--item-column", default=None, help="default: movieID, or 1 without header")
    parser.add_argument("--rating-column", default=None, help="default: rating, or 2 without header")
    parser.add_argument("--timestamp-column", default=None, help="default: timestamp, or 3 without header")
    parser.add_argument("--timestamp-unit", default="ms", help="ms or s (default: %(default)s)")
    parser.add_argument(
        "--encoding", default="utf-8", help="utf-8, utf-8-sig, latin-1 or cp1252: the raw files' (default: %(default)s)"
    )
    parser.add_argument(
        "--items-dataset",
        default=None,
        help="the Items dataset as in cdk.json's items_dataset (JSON, or @file.json); default: the sample's "
        "HetRec items with the sample input, none otherwise; {} for none",
    )
    parser.add_argument("--users-dataset", default="{}", help="the Users dataset (JSON or @file.json); default: none")
    parser.add_argument(
        "--metadata-root",
        default=None,
        help="folder the datasets' source prefixes are under (default: the sample's, only with the sample input; "
        "required when a dataset is configured for another input)",
    )
    parser.add_argument(
        "--batch-inputs", default="users", help="comma list of users, items, item_attributes (default: %(default)s)"
    )
    parser.add_argument(
        "--batch-items-top-n",
        default="0",
        help="0: every item with a kept interaction (default); N: the N most interacted items",
    )
    parser.add_argument(
        "--batch-items-per-file", default="0", help="at most N lines per items file; 0: the 5 million cap (default)"
    )
    parser.add_argument(
        "--item-attribute-queries",
        default="{}",
        help='JSON {"<solution>": ["<query>", ...]} (or @file.json): the queries files to write (default: none)',
    )
    parser.add_argument("--quiet", action="store_true", help="print only the counts, not the whole summary")
    return parser


def metadata_arguments(args: argparse.Namespace) -> dict[str, str]:
    """The Glue job's metadata arguments equivalent to the command line."""

    def dataset(value: str | None) -> str:
        if value is None:
            return json.dumps(SAMPLE_ITEMS_DATASET) if Path(args.input) == SAMPLE_INPUT else metadata.DISABLED
        return _json_or_file(value)

    datasets = {"items_dataset": dataset(args.items_dataset), "users_dataset": dataset(args.users_dataset)}
    if args.metadata_root:
        root = str(Path(args.metadata_root).resolve())
    elif Path(args.input).resolve() == SAMPLE_INPUT:
        root = str(SAMPLE_DIR)
    elif any(value.strip() not in ("", metadata.DISABLED) for value in datasets.values()):
        # The sample's metadata beside real ratings would join fake items: no silent default.
        raise EtlArgumentError(
            "--metadata-root is required with --items-dataset / --users-dataset when --input is not the bundled "
            "sample; allowed: the folder the datasets' source prefixes are under"
        )
    else:
        root = ""
    return {"metadata_root_uri": root + "/" if root else "", **datasets}


def glue_arguments(args: argparse.Namespace) -> dict[str, str]:
    """The Glue job arguments equivalent to the command line."""
    defaults = ("userID", "movieID", "rating", "timestamp") if args.has_header else ("0", "1", "2", "3")
    columns = (args.user_column, args.item_column, args.rating_column, args.timestamp_column)
    user, item, rating, stamp = (
        given if given is not None else default for given, default in zip(columns, defaults, strict=True)
    )
    run_id = args.run_id or "local-" + datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    return {
        # An empty path stays empty (and is rejected): resolved, it would be the current folder.
        "--input_uri": str(Path(args.input).resolve()) if args.input else args.input,
        "--output_uri": str(Path(args.output).resolve()).rstrip("/") + "/" if args.output else args.output,
        "--run_id": run_id,
        "--min_rating": args.min_rating,
        "--delimiter": args.delimiter,
        "--has_header": "true" if args.has_header else "false",
        "--user_column": user,
        "--item_column": item,
        "--rating_column": rating,
        "--timestamp_column": stamp,
        "--timestamp_unit": args.timestamp_unit,
        "--encoding": args.encoding,
        "--batch_inputs": args.batch_inputs,
        "--batch_items_top_n": args.batch_items_top_n,
        "--batch_items_per_file": args.batch_items_per_file,
        "--item_attribute_queries": _json_or_file(args.item_attribute_queries),
    }


def _json_or_file(value: str) -> str:
    """A JSON argument given inline or as @file.json."""
    return Path(value[1:]).read_text(encoding="utf-8") if value.startswith("@") else value


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        options = parse_options(glue_arguments(args))
        metadata_root, metadata_specs = metadata.parse_arguments(metadata_arguments(args))
    except EtlArgumentError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_ARGUMENTS
    started = time.time()
    spark = local_spark_session(app_name="personalize-etl-local-run")
    print(f"Spark session ready in {time.time() - started:.1f} s; reading {options.input_uri}", file=sys.stderr)
    try:
        summary = transform.run(spark, options)
        summary = metadata.run(spark, options, metadata_specs, metadata_root, summary)
    except EtlArgumentError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_ARGUMENTS
    except EtlInputError as error:
        print(f"error: {error} (summary: {options.summary_uri})", file=sys.stderr)
        return EXIT_INPUT
    except TrainingMinimumsError as error:
        print(Path(options.summary_uri).read_text(encoding="utf-8") if not args.quiet else "", end="")
        print(f"\nFAILED: {error}", file=sys.stderr)
        return EXIT_MINIMUMS
    print(json.dumps(summary["counts"] if args.quiet else summary, indent=2))
    print(f"\nOK: outputs in {options.run_uri} ({summary['duration_seconds']:.1f} s)", file=sys.stderr)
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
