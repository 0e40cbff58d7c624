"""Randomized prefixes: several files with shuffled column orders (some with an extra column),
hidden-looking names and folders, gzip, bzip2 and plain, LF and CRLF, good, filtered, duplicate
and bad rows. The generator knows what every line is; the job's outputs must agree with it:

* rows read = kept + filtered + duplicates + rejected, and rows read = the generated rows of the
  files read;
* every file is either read or listed as skipped (and skipped exactly when Spark would not read it);
* the interactions are exactly the distinct good rows of the files read, whatever their column
  order, and the interactions CSV and the batch input agree on users;
* every rejected line is in the quarantine with the reason it was made to fail with.
"""

from __future__ import annotations

import bz2
import gzip
import json
import random
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import pytest

from glue_src import transform
from glue_src.arguments import EtlOptions
from glue_src.limits import MIN_EPOCH_SECONDS
from glue_src.messages import TrainingMinimumsError
from tests.glue.conftest import MAX_EPOCH, options, read_interaction_keys, read_json_lines

COLUMNS = ("userID", "movieID", "rating", "timestamp")
MIN_RATING = 3.5
COMPRESSIONS: dict[str, Callable[[bytes], bytes]] = {"": lambda data: data, ".gz": gzip.compress, ".bz2": bz2.compress}
NAME_STYLES = ("plain", "plain", "underscore", "dot", "in_underscore_folder", "in_dot_folder")


@dataclass
class Line:
    text_by_column: dict[str, str] | None  # None: a line given as raw text
    raw: str = ""
    reason: str | None = None  # quarantine reason, None for a good (kept or filtered) row
    key: tuple[str, str, str] | None = None  # (user, item, seconds) of a good row
    rating: float = 0.0


@dataclass
class GeneratedFile:
    relative: str
    readable: bool
    lines: list[str] = field(default_factory=list)  # data lines as written (header excluded)
    made: list[Line] = field(default_factory=list)


def _good(rng: random.Random, users: list[str], items: list[str]) -> Line:
    user, item = rng.choice(users), rng.choice(items)
    seconds = rng.randrange(MIN_EPOCH_SECONDS, MAX_EPOCH)
    rating = rng.randrange(1, 11) / 2
    values = {"userID": user, "movieID": item, "rating": f"{rating:g}", "timestamp": str(seconds * 1000 + rng.randrange(1000))}
    return Line(values, key=(user, item, str(seconds)), rating=rating)


def _bad(rng: random.Random, good: Line) -> Line:
    """A good row broken in one way, with the reason that way produces."""
    values = dict(good.text_by_column or {})
    kind = rng.choice(["invalid_user_id", "non_numeric_rating", "rating_out_of_range", "timestamp_out_of_range", "invalid_item_id"])
    if kind == "invalid_user_id":
        values["userID"] = rng.choice(["\x01", "\x0b", "\u00a0"]) + values["userID"]
    elif kind == "invalid_item_id":
        values["movieID"] = values["movieID"] + rng.choice(["\x1f", "\u2003", "!"])
    elif kind == "non_numeric_rating":
        values["rating"] = rng.choice(["x", "four", "NaN"])
    elif kind == "rating_out_of_range":
        values["rating"] = rng.choice(["0", "7", "-1"])
    else:
        values["timestamp"] = str(int(values["timestamp"]) // 1000)  # seconds where ms are expected
    return Line(values, reason=kind)


def _relative_name(rng: random.Random, number: int, suffix: str) -> tuple[str, bool]:
    style = rng.choice(NAME_STYLES)
    base = f"ratings-{number}.dat{suffix}"
    return {
        "plain": (base, True),
        "underscore": (f"_{base}", False),
        "dot": (f".{base}", False),
        # Spark's rule holds at every folder level: a file in a hidden folder is skipped too.
        "in_underscore_folder": (f"_staging/{base}", False),
        "in_dot_folder": (f".archive/{base}", False),
    }[style]


def generate(seed: int, root: Path) -> list[GeneratedFile]:
    rng = random.Random(seed)
    users = [str(rng.randrange(1, 10_000)) for _ in range(12)]
    items = [str(rng.randrange(1, 100_000)) for _ in range(15)]
    pool: list[Line] = []  # good rows to copy: duplicates within and across files
    files = []
    for number in range(rng.randrange(3, 7)):
        order = list(COLUMNS) + (["extra"] if rng.random() < 0.3 else [])
        rng.shuffle(order)
        suffix = rng.choice(list(COMPRESSIONS))
        relative, readable = _relative_name(rng, number, suffix)
        generated = GeneratedFile(relative, readable)
        for _ in range(rng.randrange(5, 25)):
            draw = rng.random()
            if draw < 0.15 and pool:
                line = rng.choice(pool)
            elif draw < 0.3:
                line = _bad(rng, _good(rng, users, items))
            elif draw < 0.35:
                line = Line(None, raw="", reason="blank_line")
            elif draw < 0.4:
                line = Line(None, raw="1\t2", reason="wrong_field_count")
            else:
                line = _good(rng, users, items)
                pool.append(line)
            generated.made.append(line)
            generated.lines.append(
                line.raw if line.text_by_column is None else "\t".join({**line.text_by_column, "extra": "x"}[c] for c in order)
            )
        newline = rng.choice(["\n", "\r\n"])
        text = newline.join(["\t".join(order)] + generated.lines) + newline
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(COMPRESSIONS[suffix](text.encode("utf-8")))
        files.append(generated)
    return files


def expected_outcome(files: list[GeneratedFile]) -> dict[str, Any]:
    read = [f for f in files if f.readable]
    made = [line for f in read for line in f.made]
    good = [line for line in made if line.reason is None]
    kept_rows = [line for line in good if line.rating >= MIN_RATING]
    interactions = {line.key for line in kept_rows}
    return {
        "rows_read": len(made),
        "kept": len(interactions),
        "filtered_by_rating": len(good) - len(kept_rows),
        "duplicates": len(kept_rows) - len(interactions),
        "rejected": Counter(line.reason for line in made if line.reason),
        "interactions": interactions,
    }


def local_path(path: str) -> str:
    return path.split(":", 1)[1] if path.startswith("file:") else path


@pytest.mark.parametrize("seed", [3, 12, 13])
def test_random_prefix_reads_every_file_by_its_header_and_accounts_for_every_row(spark: Any, tmp_path: Path, seed: int) -> None:
    root = tmp_path / "raw"
    files = generate(seed, root)
    opts = EtlOptions(**{**options(root, tmp_path / "out").__dict__, "min_rating": MIN_RATING})
    try:
        summary = transform.run(spark, opts)
    except TrainingMinimumsError:  # small data: the minimums fail, the outputs are written
        summary = json.loads(Path(opts.summary_uri).read_text())
    expected = expected_outcome(files)
    counts = summary["counts"]

    listed_read = {local_path(p) for layout in summary["input"]["layouts"] for p in layout["files"]}
    listed_read |= {local_path(p) for p in summary["input"]["blank_files"]}
    listed_skipped = {local_path(entry["file"]) for entry in summary["input"]["skipped"]}
    assert listed_read == {str(root / f.relative) for f in files if f.readable}
    assert listed_skipped == {str(root / f.relative) for f in files if not f.readable}

    assert counts["rows_read"] == counts["kept"] + counts["filtered_by_rating"] + counts["duplicates"] + counts["rejected"]
    assert {key: counts[key] for key in ("rows_read", "kept", "filtered_by_rating", "duplicates")} == {
        key: expected[key] for key in ("rows_read", "kept", "filtered_by_rating", "duplicates")
    }
    assert {reason: n for reason, n in counts["rejected_by_reason"].items() if n} == dict(expected["rejected"])

    run_dir = Path(opts.run_uri)
    interactions = read_interaction_keys(run_dir / "interactions")
    assert interactions == expected["interactions"]
    batch_users = [record["userId"] for record in read_json_lines(run_dir / "batch-input")]
    assert sorted(batch_users) == sorted({user for user, _, _ in interactions})
    quarantined = Counter()
    for record in read_json_lines(run_dir / "quarantine"):
        quarantined[record["reason"]] += record["occurrences"]
    assert quarantined == expected["rejected"]
