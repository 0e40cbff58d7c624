"""Writes the bundled sample `user_ratedmovies-timestamps.dat` (MovieLens HetRec 2011 format).

Deterministic (fixed seed, no clock): run `python -m glue_src.sample.make_sample` and the file is
byte-for-byte the same. Tab-separated, one header line, ratings 0.5-5 in steps of 0.5, timestamps
in epoch milliseconds. About 3,000 rating lines by 60 users on 400 movies (skewed: a few users and
movies have most ratings), so the kept data (rating >= 3.5) passes Personalize's training minimums
(>= 1000 interactions, >= 25 users with >= 2 interactions). A handful of messy lines show the
quarantine: blank lines, a repeated header, a short row, a non-numeric rating, a rating out of
range, a timestamp in seconds instead of milliseconds, and exact duplicates.

Beside it, HetRec-style item metadata for the Items dataset (the sample configuration in
`glue_src/local_run.py`): `items/movies/movies.dat` (`id<TAB>title<TAB>year`, one row per movie) and
`items/genres/movie_genres.dat` (`movieID<TAB>genre`, long format: one row per genre). Most rated
movies have metadata, a few do not, a few unrated movies do; messy rows show the items quarantine
(a non-numeric year, an invalid id, a short row, a blank line, a hidden file that is skipped).
"""

from __future__ import annotations

import random
from pathlib import Path

SAMPLE_PATH = Path(__file__).with_name("user_ratedmovies-timestamps.dat")
ITEMS_DIR = Path(__file__).with_name("items")
MOVIES_PATH = ITEMS_DIR / "movies" / "movies.dat"
GENRES_PATH = ITEMS_DIR / "genres" / "movie_genres.dat"
HIDDEN_PATH = ITEMS_DIR / "genres" / "_notes.dat"
GENRES = ("Action", "Adventure", "Animation", "Children", "Comedy", "Crime", "Drama", "Horror", "Romance", "Sci-Fi")
HEADER = "userID\tmovieID\trating\ttimestamp"
SEED = 20110101
USERS, MOVIES, RATINGS = 60, 400, 3000
START_MS, SPAN_MS = 1_104_537_600_000, 6 * 365 * 86_400_000  # 2005-01-01 + 6 years


def _ids(rng: random.Random) -> tuple[list[int], list[int]]:
    return rng.sample(range(75, 72000), USERS), rng.sample(range(1, 65000), MOVIES)


def sample_lines() -> list[str]:
    rng = random.Random(SEED)
    # Zipf-like weights: user / movie k is chosen with weight 1 / (k + 2).
    user_ids, movie_ids = _ids(rng)
    user_weights = [1 / (k + 2) for k in range(USERS)]
    movie_weights = [1 / (k + 2) for k in range(MOVIES)]
    lines: list[str] = []
    seen = set()
    while len(lines) < RATINGS:
        user = rng.choices(user_ids, user_weights)[0]
        movie = rng.choices(movie_ids, movie_weights)[0]
        if (user, movie) in seen:
            continue
        seen.add((user, movie))
        rating = rng.choice([0.5, 1, 1.5, 2, 2.5, 3, 3.5, 3.5, 4, 4, 4, 4.5, 5, 5])
        stamp = START_MS + rng.randrange(SPAN_MS)
        lines.append(f"{user}\t{movie}\t{rating:g}\t{stamp}")
    messy = [
        "",
        HEADER,
        "75\t3",
        "75\t32\tfour\t1162160624000",
        "75\t110\t7\t1162161008000",
        "75\t160\t4.5\t1162160624",
        "   ",
    ]
    for offset, line in enumerate(messy):
        lines.insert(100 + offset * 400, line)
    lines.insert(2000, lines[1999])  # exact duplicates
    lines.insert(2500, lines[10])
    return [HEADER] + lines


def item_files() -> dict[Path, list[str]]:
    """The item metadata files: every rated movie but the last 20 of the sample's movie list, and 10 movies
    nobody rated (ids above the sample's range), each with a year and 1-3 genres."""
    _, movie_ids = _ids(random.Random(SEED))
    rng = random.Random(SEED + 1)
    movies = movie_ids[:-20] + list(range(70001, 70011))
    movie_lines = ["id\ttitle\tyear"]
    genre_lines = ["movieID\tgenre"]
    for movie in movies:
        movie_lines.append(f"{movie}\tMovie {movie}\t{rng.randrange(1920, 2011)}")
        genre_lines.extend(f"{movie}\t{genre}" for genre in sorted(rng.sample(GENRES, rng.randint(1, 3))))
    movie_lines[5:5] = ["", f"{movies[0]}\tBroken year\tnineteen", "not an id!\tBad id\t1999", "12345"]
    genre_lines.insert(40, genre_lines[39])  # a repeated (id, genre): merged
    return {
        MOVIES_PATH: movie_lines,
        GENRES_PATH: genre_lines,
        HIDDEN_PATH: ["movieID\tgenre", f"{movies[0]}\tNever read"],
    }


def main() -> None:
    SAMPLE_PATH.write_text("\n".join(sample_lines()) + "\n", encoding="utf-8")
    for path, lines in item_files().items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {SAMPLE_PATH} ({SAMPLE_PATH.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
