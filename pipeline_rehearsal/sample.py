"""The rehearsal's input: a folder laid out as the raw bucket, by default built from the bundled sample.

Part of the offline harness: see the package docstring (`pipeline_rehearsal/__init__.py`).

`raw_bucket_files(input, config)` maps the rehearsal's `--input` to raw-bucket keys:
- a folder that holds the configuration's `raw_prefix` (e.g. `ratings/`) is the raw bucket itself: every file
  under it keeps its path as its key (the ratings under `raw_prefix`, each metadata source under its prefix);
- any other file or folder holds ratings only: its files go under `raw_prefix`.

`write_sample(folder)` writes the default input: the bundled MovieLens-HetRec-format sample of `glue_src/sample/`
(the ratings under `ratings/`, the movies and genres under `items/movies/` and `items/genres/`), plus what
`config/full.json`'s datasets read and the bundled sample lacks, derived deterministically from its ids: an
`added` date column on the movies (latin-1), `items/moods/` (cp1252, `|`-separated, one-hot, no header) and
`users/profiles/` (UTF-8 with a BOM, `;`-separated interests).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

from glue_src.local_run import SAMPLE_DIR, SAMPLE_INPUT
from stacks.config import PipelineConfig

RATINGS_PREFIX = "ratings/"
AGE_GROUPS = ("18-24", "25-34", "35-44", "45-54", "55+")
INTERESTS = ("cinema", "music", "sports", "travel", "books", "games")
MONTHS = tuple(f"{month:02d}" for month in range(1, 13))


def raw_bucket_files(source: Path, config: PipelineConfig) -> Iterator[tuple[str, Path]]:
    """(raw-bucket key, local file) for every file of the rehearsal's input (see the module docstring)."""
    if source.is_dir() and (source / config.raw_prefix).is_dir():
        for path in sorted(p for p in source.rglob("*") if p.is_file()):
            yield path.relative_to(source).as_posix(), path
        return
    if source.is_file():
        yield config.raw_prefix + source.name, source
        return
    if not source.is_dir():
        raise FileNotFoundError(f"--input {source}: no such file or folder")
    for path in sorted(p for p in source.rglob("*") if p.is_file()):
        yield config.raw_prefix + path.relative_to(source).as_posix(), path


def _pick(key: str, choices: tuple[str, ...], salt: str) -> str:
    return choices[int(hashlib.sha256(f"{salt}:{key}".encode()).hexdigest()[:8], 16) % len(choices)]


def write_sample(folder: Path) -> Path:
    """Writes the default input (module docstring) into `folder`; returns it."""
    ratings = folder / RATINGS_PREFIX / SAMPLE_INPUT.name
    ratings.parent.mkdir(parents=True, exist_ok=True)
    ratings.write_bytes(SAMPLE_INPUT.read_bytes())
    genres = folder / "items" / "genres"
    genres.mkdir(parents=True, exist_ok=True)
    for path in (SAMPLE_DIR / "items" / "genres").iterdir():
        (genres / path.name).write_bytes(path.read_bytes())
    movies = (SAMPLE_DIR / "items" / "movies" / "movies.dat").read_text(encoding="utf-8").splitlines()
    dated = [movies[0] + "\tadded"] + [_with_added(line) for line in movies[1:]]
    _write(folder / "items" / "movies" / "movies.dat", "\n".join(dated) + "\n", "latin-1")
    ids = [line.split("\t")[0] for line in movies[1:] if line.split("\t")[0].isdigit()]
    moods = [f"{movie}|" + "|".join(_pick(movie, ("0", "1"), mood) for mood in "123") for movie in ids]
    _write(folder / "items" / "moods" / "moods.dat", "\n".join(moods) + "\n", "cp1252")
    users = sorted({line.split("\t")[0] for line in SAMPLE_INPUT.read_text(encoding="utf-8").splitlines()[1:]
                    if line.split("\t")[0].isdigit()})  # fmt: skip
    profiles = ["userId,age_group,interests"] + [
        f"{user},{_pick(user, AGE_GROUPS, 'age')},{_pick(user, INTERESTS, 'a')};{_pick(user, INTERESTS, 'b')}"
        for user in users
    ]
    _write(folder / "users" / "profiles" / "profiles.csv", "\n".join(profiles) + "\n", "utf-8-sig")
    return folder


def _with_added(line: str) -> str:
    """A movies.dat line with an `added` date (in its year, a month picked by its id); messy lines as they are."""
    fields = line.split("\t")
    if len(fields) != 3 or not fields[2].isdigit():
        return line
    return f"{line}\t{fields[2]}-{_pick(fields[0], MONTHS, 'added')}-15"


def _write(path: Path, text: str, encoding: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode(encoding))
