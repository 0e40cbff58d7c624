"""Throughput of the Glue ETL transform on local Spark (`local[2]`) against DuckDB doing the same work.

    .venv/bin/python benchmarks/etl_throughput.py                  # 1M and 10M rows (the default)
    .venv/bin/python benchmarks/etl_throughput.py --rows 2000000   # one size
    .venv/bin/python benchmarks/etl_throughput.py --rows 2000000 --scaling   # that size and a tenth of it

Input: a HetRec-format file (tab, header, ratings 0.5-5, epoch milliseconds) with Zipf-like users
and items (log-uniform: a few users and movies have most ratings), about 1% exact duplicates and
a few messy lines (short rows, non-numeric and out-of-range ratings, negative timestamps, repeated
headers). DuckDB generates it in seconds; it is cached under `.benchmarks/`.

One Spark session (`local[2]`, the shared helper) serves all sizes; after it starts, one run on
the bundled 3k-row sample warms the JVM up (reported, not counted; `--no-warmup` skips it). Per
size the project's transform (`glue_src.transform.run`: outputs, counts and summary) runs on local
Spark, then the same transform in DuckDB (2 threads) writes the same outputs: interactions CSV,
users JSON lines, quarantine, counts. The outputs are compared (the counts, and the interaction
and user sets row for row). Printed: rows/s of both, the ratio, the Spark session start-up (not in
Spark's time), CPU seconds, peak RSS (Spark: the process tree, Python and the JVM; DuckDB: the
Python process it runs in), and the time ratio 10M / 1M. Targets: Spark <= 4x DuckDB at the
largest size, time(N) <= 11x time(N/10).
Results also go to `.benchmarks/etl_throughput.json`. Exit status 1 if a target or a check fails.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import threading
import time
from pathlib import Path
from typing import Any

import duckdb

ROOT = Path(__file__).resolve().parent.parent
# Run as a script: the repository root goes on sys.path first, so the project imports follow it (E402).
sys.path.insert(0, str(ROOT))

from glue_src import transform  # noqa: E402
from glue_src.arguments import EtlOptions  # noqa: E402
from glue_src.limits import ID_PATTERN, MIN_EPOCH_SECONDS  # noqa: E402
from glue_src.rows import REJECT_REASONS  # noqa: E402
from glue_src.local_spark import local_spark_session  # noqa: E402

CACHE = ROOT / ".benchmarks"
GENERATOR_VERSION = 1
HEADER = "userID\tmovieID\trating\ttimestamp"
MAX_EPOCH = 1_800_000_000  # fixed "now" for the plausibility check, same for both engines
SPARK_TARGET_RATIO = 4.0
SCALING_TARGET = 11.0


# --------------------------------------------------------------------------- input data
def dataset(rows: int) -> Path:
    """The cached HetRec-format input of `rows` rating lines (generated on first use)."""
    CACHE.mkdir(exist_ok=True)
    path = CACHE / f"hetrec-{rows}-v{GENERATOR_VERSION}.dat"
    if path.exists():
        return path
    started = time.time()
    users, items = max(100, rows // 50), max(100, rows // 200)
    body = CACHE / f"{path.name}.body"
    con = duckdb.connect()
    con.execute("SET threads = 2")
    # j: the row a line copies (1% are exact duplicates of their predecessor). u1, u2, u3, u4:
    # independent uniforms from hashes of j. Users and items are log-uniform (Zipf with s = 1).
    con.execute(
        f"""
        COPY (
          WITH seeds AS (
            SELECT i, CASE WHEN i % 97 = 96 THEN i - 1 ELSE i END AS j FROM range({rows}) t(i)
          ), fields AS (
            SELECT i,
              CAST(floor(exp((hash(j * 4 + 1) % 1000000007) / 1000000007.0 * ln({users}))) AS BIGINT) AS u,
              CAST(floor(exp((hash(j * 4 + 2) % 1000000007) / 1000000007.0 * ln({items}))) AS BIGINT) AS m,
              (hash(j * 4 + 3) % 10 + 1) * 0.5 AS r,
              1000000000000 + CAST(hash(j * 4 + 4) % 300000000000 AS BIGINT) AS ts
            FROM seeds
          )
          SELECT CASE
            WHEN i % 100003 = 11 THEN u || chr(9) || m
            WHEN i % 100003 = 23 THEN u || chr(9) || m || chr(9) || 'n/a' || chr(9) || ts
            WHEN i % 100003 = 37 THEN u || chr(9) || m || chr(9) || '7' || chr(9) || ts
            WHEN i % 100003 = 41 THEN u || chr(9) || m || chr(9) || r || chr(9) || '-' || ts
            WHEN i % 1000003 = 53 THEN '{HEADER.replace(chr(9), "' || chr(9) || '")}'
            ELSE u || chr(9) || m || chr(9) || r || chr(9) || ts
          END AS line
          FROM fields ORDER BY i
        ) TO '{body}' (FORMAT csv, HEADER false, QUOTE '')
        """
    )
    con.close()
    with open(path.with_suffix(".tmp"), "wb") as out, open(body, "rb") as data:
        out.write((HEADER + "\n").encode())
        shutil.copyfileobj(data, out, 16 * 1024 * 1024)
    body.unlink()
    path.with_suffix(".tmp").rename(path)
    print(f"generated {path.name}: {rows:,} rows, {path.stat().st_size / 1e6:.0f} MB in {time.time() - started:.1f} s")
    return path


# --------------------------------------------------------------------------- memory
def _process_tree() -> list[tuple[int, list[str]]]:
    """(pid, /proc/<pid>/stat fields after the command name) of this process and its descendants."""
    children: dict[int, list[int]] = {}
    stats: dict[int, list[str]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as handle:
                    fields = handle.read().rsplit(")", 1)[1].split()
                children.setdefault(int(fields[1]), []).append(int(entry))
                stats[int(entry)] = fields
            except (OSError, IndexError, ValueError):
                continue
    tree, todo = [], [os.getpid()]
    while todo:
        pid = todo.pop()
        todo.extend(children.get(pid, []))
        if pid in stats:
            tree.append((pid, stats[pid]))
    return tree


def tree_cpu_seconds() -> float:
    """User + system CPU time of this process and its live descendants (the Spark JVM)."""
    return sum(int(fields[11]) + int(fields[12]) for _, fields in _process_tree()) / os.sysconf("SC_CLK_TCK")


class PeakRss:
    """Samples the resident memory of this process and all its descendants (the Spark JVM), or of
    this process alone (`tree=False`: DuckDB runs in-process, next to an idle JVM)."""

    def __init__(self, interval: float = 0.05, *, tree: bool = True) -> None:
        self.interval, self.peak, self.tree, self._stop = interval, 0, tree, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def tree_rss(self) -> int:
        # field 24 of /proc/<pid>/stat is rss in pages (index 21 after the command name)
        processes = _process_tree() if self.tree else _process_tree()[:1]
        return sum(int(fields[21]) for _, fields in processes) * os.sysconf("SC_PAGE_SIZE")

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.tree_rss())
            self._stop.wait(self.interval)

    def __enter__(self) -> PeakRss:
        self.peak = self.tree_rss()
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self.tree_rss())


# --------------------------------------------------------------------------- the two engines
def run_spark(spark: Any, path: Path, out: Path) -> dict[str, Any]:
    options = EtlOptions(
        input_uri=str(path), output_uri=str(out) + "/", run_id="spark", max_epoch_seconds=MAX_EPOCH
    )
    with PeakRss() as memory:
        cpu, started = tree_cpu_seconds(), time.perf_counter()
        summary = transform.run(spark, options)
        seconds, cpu = time.perf_counter() - started, tree_cpu_seconds() - cpu
    return {
        "seconds": seconds,
        "cpu_seconds": cpu,
        "peak_rss": memory.peak,
        "counts": summary["counts"],
        "run_dir": out / "spark",
    }


def one_row(con: duckdb.DuckDBPyConnection, sql: str) -> tuple[Any, ...]:
    """The one row an aggregate query returns (DuckDB types `fetchone` as possibly None)."""
    row = con.execute(sql).fetchone()
    if row is None:
        raise RuntimeError(f"no row from: {sql}")
    return row


def run_duckdb(path: Path, out: Path) -> dict[str, Any]:
    """The same transform in DuckDB: line classification, dedup, outputs, counts."""
    run_dir = out / "duckdb"
    for folder in ("interactions", "batch-input", "quarantine"):
        (run_dir / folder).mkdir(parents=True, exist_ok=True)
    id_re = ID_PATTERN[1:-1]  # DuckDB's regexp_full_match anchors itself
    with PeakRss(tree=False) as memory:
        cpu, started = tree_cpu_seconds(), time.perf_counter()
        con = duckdb.connect()
        con.execute("SET threads = 2; SET preserve_insertion_order = false")
        # Same algorithm as the Spark job: classify every line, then one aggregation keeps one row
        # per distinct interaction and per distinct bad line (with its count).
        con.execute(
            f"""
            CREATE TEMP TABLE grouped AS
            WITH raw AS (
              SELECT line, string_split(line, chr(9)) AS f, filename
              FROM read_csv('{path}', columns = {{'line': 'VARCHAR'}}, header = false, delim = chr(1),
                            quote = '', escape = '', auto_detect = false, filename = true)
            ), typed AS (
              SELECT line, f, filename, trim(f[1]) AS u, trim(f[2]) AS m,
                     TRY_CAST(trim(f[3]) AS DOUBLE) AS r, TRY_CAST(trim(f[4]) AS BIGINT) AS t FROM raw
            ), classified AS (
              SELECT CASE
                  WHEN trim(coalesce(line, '')) = '' THEN 'blank_line'
                  WHEN line = '{HEADER.replace(chr(9), "' || chr(9) || '")}' THEN 'header'
                  WHEN len(f) <> 4 THEN 'wrong_field_count'
                  WHEN u = '' OR m = '' OR trim(f[3]) = '' OR trim(f[4]) = '' THEN 'missing_field'
                  WHEN TRY_CAST(u AS BIGINT) IS NULL AND NOT regexp_full_match(u, '{id_re}') THEN 'invalid_user_id'
                  WHEN TRY_CAST(m AS BIGINT) IS NULL AND NOT regexp_full_match(m, '{id_re}') THEN 'invalid_item_id'
                  WHEN r IS NULL OR isnan(r) THEN 'non_numeric_rating'
                  WHEN t IS NULL AND regexp_full_match(trim(f[4]), '[+-]?[0-9]+') THEN 'timestamp_out_of_range'
                  WHEN t IS NULL THEN 'non_numeric_timestamp'
                  WHEN r < 0.5 OR r > 5 THEN 'rating_out_of_range'
                  WHEN t // 1000 < {MIN_EPOCH_SECONDS} OR t // 1000 > {MAX_EPOCH}
                    THEN 'timestamp_out_of_range'
                  WHEN r < 3.5 THEN 'filtered_by_rating'
                  ELSE 'kept' END AS status,
                u, m, t // 1000 AS ts, line, filename
              FROM typed
            )
            SELECT status,
              CASE WHEN status = 'kept' THEN u END AS u, CASE WHEN status = 'kept' THEN m END AS m,
              CASE WHEN status = 'kept' THEN ts END AS ts,
              CASE WHEN status NOT IN ('kept', 'filtered_by_rating') THEN line END AS line,
              CASE WHEN status NOT IN ('kept', 'filtered_by_rating') THEN filename END AS filename,
              count(*) AS n
            FROM classified GROUP BY ALL
            """
        )
        con.execute(
            f"""COPY (SELECT u AS USER_ID, m AS ITEM_ID, ts AS TIMESTAMP FROM grouped WHERE status = 'kept')
                TO '{run_dir}/interactions/part-0.csv' (HEADER, DELIMITER ',')"""
        )
        con.execute(
            "CREATE TEMP TABLE users AS SELECT u AS userId, count(*) AS n FROM grouped WHERE status = 'kept' GROUP BY u"
        )
        con.execute(f"COPY (SELECT userId FROM users) TO '{run_dir}/batch-input/part-0.json' (FORMAT json)")
        con.execute(
            f"""COPY (SELECT status AS reason, line, filename AS source_file, n AS occurrences FROM grouped
                      WHERE status NOT IN ('kept', 'filtered_by_rating', 'header'))
                TO '{run_dir}/quarantine/part-0.json' (FORMAT json)"""
        )
        lines_by_status, kept, items = {}, 0, 0
        for status, lines, groups, distinct_items in con.execute(
            "SELECT status, sum(n), count(*), count(DISTINCT m) FROM grouped GROUP BY status"
        ).fetchall():
            lines_by_status[status] = int(lines)
            if status == "kept":
                kept, items = groups, distinct_items
        users, users_2plus = one_row(con, "SELECT count(*), count(*) FILTER (WHERE n >= 2) FROM users")
        con.close()
        seconds, cpu = time.perf_counter() - started, tree_cpu_seconds() - cpu
    by_status = lines_by_status
    lines = sum(by_status.values())
    headers = by_status.get("header", 0)  # one file: one expected header, the others repeated
    rejected = {reason: by_status.get(reason, 0) for reason in REJECT_REASONS}
    rejected["repeated_header"] = max(0, headers - 1)
    counts = {
        "lines_read": lines,
        "rows_read": lines - min(headers, 1),
        "kept": kept,
        "filtered_by_rating": by_status.get("filtered_by_rating", 0),
        "duplicates": by_status.get("kept", 0) - kept,
        "rejected": sum(rejected.values()),
        "rejected_by_reason": rejected,
        "distinct_users": users,
        "distinct_items": items,
        "users_with_2plus_interactions": users_2plus,
    }
    return {"seconds": seconds, "cpu_seconds": cpu, "peak_rss": memory.peak, "counts": counts, "run_dir": run_dir}


def compare(spark_result: dict[str, Any], duck_result: dict[str, Any]) -> list[str]:
    """Differences between the two engines' counts and output rows (empty when they agree)."""
    problems = [
        f"{key}: spark {spark_result['counts'][key]} != duckdb {value}"
        for key, value in duck_result["counts"].items()
        if spark_result["counts"][key] != value
    ]
    con = duckdb.connect()
    con.execute("SET threads = 2")
    spark_dir, duck_dir = spark_result["run_dir"], duck_result["run_dir"]
    for name, left, right in (
        (
            "interactions",
            f"read_csv('{spark_dir}/interactions/*.csv', header = true, all_varchar = true)",
            f"read_csv('{duck_dir}/interactions/*.csv', header = true, all_varchar = true)",
        ),
        (
            "batch-input users",
            f"read_json('{spark_dir}/batch-input/*.json', columns = {{'userId': 'VARCHAR'}})",
            f"read_json('{duck_dir}/batch-input/*.json', columns = {{'userId': 'VARCHAR'}})",
        ),
    ):
        only_spark, only_duck, spark_rows = one_row(
            con,
            f"SELECT (SELECT count(*) FROM (FROM {left} EXCEPT ALL FROM {right})), "
            f"(SELECT count(*) FROM (FROM {right} EXCEPT ALL FROM {left})), (SELECT count(*) FROM {left})",
        )
        if only_spark or only_duck:
            problems.append(f"{name}: {only_spark} rows only in Spark's output, {only_duck} only in DuckDB's")
        if name == "interactions" and spark_rows != spark_result["counts"]["kept"]:
            problems.append(f"interactions: {spark_rows} rows written but kept = {spark_result['counts']['kept']}")
    con.close()
    leftovers = [
        p.name
        for d in ("interactions", "batch-input")
        for p in (spark_dir / d).iterdir()
        if not p.name.startswith("part-")
    ]
    if leftovers:
        problems.append(f"non-data files in Spark's output folders: {leftovers}")
    return problems


# --------------------------------------------------------------------------- main
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=None, help="one size (default: 1,000,000 and 10,000,000)")
    parser.add_argument("--scaling", action="store_true", help="with --rows: also run a tenth of it")
    parser.add_argument("--driver-memory", default="4g", help="Spark driver heap (default: %(default)s)")
    parser.add_argument(
        "--keep-output", action="store_true", help="keep the last size's outputs in .benchmarks/etl-output"
    )
    parser.add_argument(
        "--no-warmup",
        dest="warmup",
        action="store_false",
        help="skip the warm-up run on the bundled sample (then the first size also pays the JVM's JIT warm-up)",
    )
    args = parser.parse_args(argv)
    sizes = (
        [args.rows // 10, args.rows]
        if args.rows and args.scaling
        else [args.rows]
        if args.rows
        else [1_000_000, 10_000_000]
    )
    paths = {rows: dataset(rows) for rows in sizes}
    out = CACHE / "etl-output"

    started = time.perf_counter()
    spark = local_spark_session(app_name="etl-throughput", driver_memory=args.driver_memory)
    startup = time.perf_counter() - started
    print(
        f"\nSpark {spark.version} session ({spark.sparkContext.master}) started in {startup:.1f} s (not counted below)"
    )

    warmup = None
    if args.warmup:
        # The first transform in a JVM compiles Spark's and the job's code (JIT, codegen); one run on
        # the bundled 3k-row sample takes that out of the first measured size. Reported, not counted.
        shutil.rmtree(out, ignore_errors=True)
        sample = ROOT / "glue_src" / "sample" / "user_ratedmovies-timestamps.dat"
        started = time.perf_counter()
        transform.run(spark, EtlOptions(input_uri=str(sample), output_uri=str(out) + "/", run_id="warmup"))
        warmup = time.perf_counter() - started
        print(f"warm-up run on the bundled sample: {warmup:.1f} s (not counted)")

    results: dict[int, dict[str, Any]] = {}
    for rows in sizes:
        shutil.rmtree(out, ignore_errors=True)
        spark_result = run_spark(spark, paths[rows], out)
        duck_result = run_duckdb(paths[rows], out)
        problems = compare(spark_result, duck_result)
        results[rows] = {"spark": spark_result, "duckdb": duck_result, "problems": problems}
        ratio = spark_result["seconds"] / duck_result["seconds"]
        print(
            f"{rows:>12,} rows | "
            f"Spark {spark_result['seconds']:6.2f} s {rows / spark_result['seconds']:>10,.0f} rows/s "
            f"(cpu {spark_result['cpu_seconds']:5.1f} s) peak {spark_result['peak_rss'] / 2**30:4.1f} GiB | "
            f"DuckDB {duck_result['seconds']:6.2f} s {rows / duck_result['seconds']:>10,.0f} rows/s "
            f"(cpu {duck_result['cpu_seconds']:5.1f} s) peak {duck_result['peak_rss'] / 2**30:4.1f} GiB | "
            f"Spark/DuckDB {ratio:4.2f}x | outputs {'match' if not problems else 'DIFFER'} | "
            f"load {os.getloadavg()[0]:.1f}"
        )
        for problem in problems:
            print(f"    ! {problem}")
    spark.stop()
    if not args.keep_output:
        shutil.rmtree(out, ignore_errors=True)

    largest = max(sizes)
    failures = [f"{rows:,} rows: outputs differ" for rows, r in results.items() if r["problems"]]
    ratio = results[largest]["spark"]["seconds"] / results[largest]["duckdb"]["seconds"]
    print(f"\nSpark / DuckDB at {largest:,} rows: {ratio:.2f}x (target <= {SPARK_TARGET_RATIO:g}x)")
    if ratio > SPARK_TARGET_RATIO:
        failures.append(f"Spark/DuckDB {ratio:.2f}x > {SPARK_TARGET_RATIO:g}x")
    scaling = None
    if len(sizes) == 2:
        scaling = results[sizes[1]]["spark"]["seconds"] / results[sizes[0]]["spark"]["seconds"]
        print(f"Spark time({sizes[1]:,}) / time({sizes[0]:,}): {scaling:.2f} (target <= {SCALING_TARGET:g})")
        if scaling > SCALING_TARGET:
            failures.append(f"scaling {scaling:.2f} > {SCALING_TARGET:g}")
    counts = results[largest]["spark"]["counts"]
    print(
        f"Counts at {largest:,}: kept {counts['kept']:,}, filtered {counts['filtered_by_rating']:,}, duplicates "
        f"{counts['duplicates']:,}, rejected {counts['rejected']:,}, users {counts['distinct_users']:,}, "
        f"items {counts['distinct_items']:,}"
    )
    report = {
        "spark_startup_seconds": startup,
        "warmup_seconds": warmup,
        "cpu_count": os.cpu_count(),
        "sizes": {
            str(rows): {
                engine: {key: value for key, value in r[engine].items() if key != "run_dir"}
                for engine in ("spark", "duckdb")
            }
            | {"problems": r["problems"]}
            for rows, r in results.items()
        },
        "spark_duckdb_ratio": ratio,
        "scaling": scaling,
        "failures": failures,
    }
    (CACHE / "etl_throughput.json").write_text(json.dumps(report, indent=2))
    print("FAILED: " + "; ".join(failures) if failures else "All targets met.")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
