"""Writes the bundled sample `user_ratedmovies-timestamps.dat` (MovieLens HetRec 2011 format).

Deterministic (fixed seed, no clock): run `python -m glue_src.sample.make_sample` and the file is
byte-for-byte the same. Tab-separated, one header line, ratings 0.5-5 in steps of 0.5, timestamps
in epoch milliseconds. About 3,000 rating lines by 60 users on 400 movies (skewed: a few users and
movies have most ratings), so the kept data (rating >= 3.5) passes Personalize's training minimums
(>= 1000 interactions, >= 25 users with >= 2 interactions). A handful of messy lines show the
quarantine: blank lines, a repeated header, a short row, a non-numeric rating, a rating out of
range, a timestamp in seconds instead of milliseconds, and exact duplicates.
"""

from __future__ import annotations

import random
from pathlib import Path

SAMPLE_PATH = Path(__file__).with_name("user_ratedmovies-timestamps.dat")
HEADER = "userID\tmovieID\trating\ttimestamp"
SEED = 20110101
USERS, MOVIES, RATINGS = 60, 400, 3000
START_MS, SPAN_MS = 1_104_537_600_000, 6 * 365 * 86_400_000  # 2005-01-01 + 6 years


def sample_lines() -> list[str]:
    rng = random.Random(SEED)
    # Zipf-like weights: user / movie k is chosen with weight 1 / (k + 2).
    user_ids = rng.sample(range(75, 72000), USERS)
    movie_ids = rng.sample(range(1, 65000), MOVIES)
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


def main() -> None:
    SAMPLE_PATH.write_text("\n".join(sample_lines()) + "\n", encoding="utf-8")
    print(f"wrote {SAMPLE_PATH} ({SAMPLE_PATH.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
