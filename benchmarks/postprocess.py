"""Benchmark of the batch-output post-processing (a script, not a test).

    .venv/bin/python benchmarks/postprocess.py                      # 1M lines, handler on 200k
    .venv/bin/python benchmarks/postprocess.py --lines 200000 --handler-lines 50000
    .venv/bin/python benchmarks/postprocess.py --kinds-only --kind-lines 300000   # per output kind
    .venv/bin/python benchmarks/postprocess.py --kinds-only --segment-results 1000 100000   # segment capacity

Generates a realistic `.out` file (25 items per line, Personalize-like scores including some in
exponent notation, ~0.1% errored lines, a few malformed ones), then runs each scenario in its own
child process so its peak RSS (VmHWM) is its own:

- baseline: a plain `json.loads` + `csv.writer` loop (first 100k lines), for comparison;
- pure:     `flatten_chunks` over the local file read in 1 MiB chunks, outputs counted and
            dropped (what `process_file` does minus S3);
- tracemalloc: the same on the first 50k lines under tracemalloc (Python-level peak);
- handler-stub: `process_file` over the whole file with a stub S3 client (no network): the
            handler's own overhead and peak RSS;
- handler:  `process_file` against moto's in-process S3 (upper bound of the S3 overhead: moto
            itself burns CPU parsing requests and storing parts, which real S3 does not).

- kinds:    `flatten_chunks` per output kind (user recommendations, related items, item affinity,
            item-attribute affinity) over files of the same shape (same ids, 25 per line, 0.1%
            errored lines; related items with scores, the slower layout; segments without, as
            Personalize writes them), plus segments of 1,000 users per line; lines/s and CSV rows/s.

Throughput is reported on CPU time of the process (robust when other work shares the machine)
and on wall time. Finishes with the 15-minute capacity estimate for a 1769 MB (1 vCPU) Lambda.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import random
import subprocess
import sys
import tempfile
import time
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CHUNK = 1024 * 1024


def generate(path: Path, lines: int, seed: int = 42) -> dict[str, int]:
    """Write `lines` lines like Personalize's output (json.dumps spacing). 10,000 distinct
    recommendation bodies are generated with json and rotated; user ids are all distinct."""
    rnd = random.Random(seed)
    catalogue = [str(rnd.randrange(1, 200_000)) for _ in range(60_000)]
    bodies = []
    for _ in range(10_000):
        items = rnd.sample(catalogue, 25)
        # Softmax-like: a few large scores, a long tail; 7 decimals as in Personalize's examples
        # ("0.0009785"); 2% of the bodies written the way json.dumps writes tiny floats (4.5e-05).
        raw = sorted((rnd.random() ** 3 for _ in range(25)), reverse=True)
        total = sum(raw) or 1.0
        values = [x / total * 0.6 for x in raw]
        if rnd.random() < 0.02:
            scores = [repr(round(v, 7)) for v in values]
        else:
            scores = [
                f"{v:.7f}".rstrip("0").replace(".", ".0")
                if f"{v:.7f}".rstrip("0").endswith(".")
                else f"{v:.7f}".rstrip("0")
                for v in values
            ]
        body = json.dumps({"output": {"recommendedItems": items, "scores": []}, "error": None})
        bodies.append(", " + body[1:].replace('"scores": []', '"scores": [' + ", ".join(scores) + "]"))
    errors = malformed = 0
    with path.open("w", encoding="utf-8", buffering=CHUNK) as out:
        for n in range(lines):
            user = f"{rnd.randrange(10**9):09d}-{n}"
            if n % 997 == 500:
                errors += 1
                out.write(f'{{"input": {{"userId": "{user}"}}, "error": "The user {user} does not exist."}}\n')
            elif n % 250_000 == 123:
                malformed += 1
                out.write(f'{{"input": {{"userId": "{user}"}}, "output": {{"recommendedItems": ["1", "2"]\n')
            else:
                out.write(f'{{"input": {{"userId": "{user}"}}{bodies[n % len(bodies)]}\n')
    return {"lines": lines, "errored": errors + malformed, "malformed": malformed, "bytes": path.stat().st_size}


SEGMENT_GENRES = ("Comedy", "Action", "Drama", "Horror", "Adventure")


def generate_kind(path: Path, kind: str, lines: int, per_line: int = 25, seed: int = 7) -> dict[str, int]:
    """`lines` lines of one output kind, `per_line` results each (up to 10,000 distinct lists rotated,
    fewer for long lists), keys all distinct (attribute queries: distinct texts with escaped quotes)."""
    from lambda_src.postprocess.flatten import OUTPUT_KINDS

    spec = OUTPUT_KINDS[kind]
    rnd = random.Random(seed)
    catalogue = [str(rnd.randrange(1, 2_000_000)) for _ in range(max(60_000, per_line))]
    bodies = []
    for _ in range(max(1, min(10_000, 20_000_000 // per_line))):
        values = json.dumps(rnd.sample(catalogue, per_line))
        if spec.scored:
            raw = sorted((rnd.random() ** 3 for _ in range(per_line)), reverse=True)
            total = sum(raw) or 1.0
            scores = ", ".join(f"{x / total * 0.6:.7f}" for x in raw)
            bodies.append(f', "output": {{"{spec.list_field}": {values}, "scores": [{scores}]}}, "error": null}}\n')
        else:
            bodies.append(f', "output": {{"{spec.list_field}": {values}}}}}\n')
    key_field = spec.key_fields[0]
    with path.open("w", encoding="utf-8", buffering=CHUNK) as out:
        for n in range(lines):
            key = f"{rnd.randrange(10**9):09d}-{n}"
            if not spec.key_in_input:
                query = f'ITEMS.genres = "{SEGMENT_GENRES[n % 5]}" AND ITEMS.id = "{key}"'
                head = f'{{"{key_field}": {json.dumps(query)}'
            else:
                head = f'{{"input": {{"{key_field}": "{key}"}}'
            if n % 997 == 500:
                out.write(head + ', "error": "not found"}\n')
            else:
                out.write(head + bodies[n % len(bodies)])
    return {"lines": lines, "bytes": path.stat().st_size}


def vm_hwm_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def chunks_of(path: Path):
    with path.open("rb") as f:
        while True:
            chunk = f.read(CHUNK)
            if not chunk:
                return
            yield chunk


# ----------------------------------------------------------------------------------------------
# Scenarios (each runs in its own process; prints one JSON line)


def scenario_baseline(path: Path, limit: int) -> dict[str, Any]:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    lines = 0
    cpu, wall = time.process_time(), time.perf_counter()
    with path.open("rb") as f:
        for raw in f:
            lines += 1
            try:
                obj = json.loads(raw)
            except ValueError:
                continue
            if obj.get("error") is None:
                user = obj["input"].get("userId") or obj["input"].get("itemId")
                output = obj["output"]
                for rank, (item, score) in enumerate(zip(output["recommendedItems"], output["scores"], strict=True), 1):
                    writer.writerow([user, rank, item, score])
            if lines % 2000 == 0:
                out.seek(0)
                out.truncate()
            if lines >= limit:
                break
    return {
        "lines": lines,
        "cpu_s": time.process_time() - cpu,
        "wall_s": time.perf_counter() - wall,
        "peak_rss_mb": vm_hwm_mb(),
    }


def scenario_pure(path: Path, outdir: Path, kind: str | None = None) -> dict[str, Any]:
    """Outputs go to sinks that count bytes: writing ~0.85 GB into this VM's page cache costs
    seconds of system time that has nothing to do with the code (S3 parts are uploaded from
    memory, see the handler scenarios)."""
    from lambda_src.postprocess.flatten import flatten_chunks

    class Sink:
        def __init__(self) -> None:
            self.bytes = 0

        def write(self, data: bytes) -> int:
            self.bytes += len(data)
            return len(data)

    rec, err = Sink(), Sink()
    cpu, wall = time.process_time(), time.perf_counter()
    counts = flatten_chunks(chunks_of(path), rec, err, kind=kind)
    result = {"cpu_s": time.process_time() - cpu, "wall_s": time.perf_counter() - wall, "peak_rss_mb": vm_hwm_mb()}
    result.update(counts.as_dict())
    result["csv_bytes"] = rec.bytes
    return result


def scenario_tracemalloc(path: Path, limit: int) -> dict[str, Any]:
    import tracemalloc

    from lambda_src.postprocess.flatten import flatten_chunks

    class Null:
        def write(self, data: bytes) -> None:
            pass

    def limited():
        taken = 0
        for chunk in chunks_of(path):
            taken += chunk.count(b"\n")
            yield chunk
            if taken >= limit:
                return

    tracemalloc.start()
    counts = flatten_chunks(limited(), Null(), Null())
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return {"lines": counts.lines, "tracemalloc_peak_mb": peak / 2**20}


def _lambda_environment() -> None:
    """What the handler module reads at import: fake credentials and Powertools settings of its own."""
    os.environ.update(
        AWS_ACCESS_KEY_ID="bench",
        AWS_SECRET_ACCESS_KEY="bench",
        AWS_DEFAULT_REGION="us-east-1",
        POWERTOOLS_METRICS_NAMESPACE="Bench",
        POWERTOOLS_SERVICE_NAME="bench",
        POWERTOOLS_LOG_LEVEL="WARNING",
    )


def scenario_handler(path: Path, lines: int) -> dict[str, Any]:
    _lambda_environment()
    import boto3
    from moto import mock_aws

    from lambda_src.postprocess import handler

    with path.open("rb") as f:
        data = b"".join(f.readline() for _ in range(lines))
    with mock_aws():
        s3 = boto3.client("s3")
        s3.create_bucket(Bucket="curated")
        key_id = boto3.client("kms").create_key()["KeyMetadata"]["KeyId"]
        s3.put_object(Bucket="curated", Key="runs/bench/batch-output/users.json.out", Body=data)
        del data
        rss_before = vm_hwm_mb()
        ctx = types.SimpleNamespace(
            function_name="bench",
            memory_limit_in_mb=1769,
            invoked_function_arn="arn:aws:lambda:us-east-1:123456789012:function:bench",
            aws_request_id="b",
        )
        cpu, wall = time.process_time(), time.perf_counter()
        result = handler.process_file(
            {"bucket": "curated", "key": "runs/bench/batch-output/users.json.out", "kms_key_id": key_id}, ctx
        )
        elapsed = {"cpu_s": time.process_time() - cpu, "wall_s": time.perf_counter() - wall}
    return {
        **elapsed,
        "lines": result["lines"],
        "errored_lines": result["errored_lines"],
        "csv_bytes": result["recommendations_bytes"],
        "peak_rss_mb_incl_moto_storage": vm_hwm_mb(),
        "rss_before_mb": rss_before,
    }


def scenario_handler_stub(path: Path) -> dict[str, Any]:
    """process_file over the whole file with a stub S3 client: the body streams from the local
    file, parts are CRC32-summed (as botocore does) and dropped. Shows the handler's own cost
    (threads, queues, part buffers) and its peak RSS, boto3 and Powertools imported."""
    import zlib

    _lambda_environment()
    from lambda_src.postprocess import handler

    class Stub:
        uploaded = 0

        def get_object(self, **kw: Any) -> dict:
            return {"Body": path.open("rb"), "ETag": '"stub"', "ContentLength": path.stat().st_size}

        def create_multipart_upload(self, **kw: Any) -> dict:
            return {"UploadId": "u"}

        def upload_part(self, **kw: Any) -> dict:
            zlib.crc32(kw["Body"])
            Stub.uploaded += len(kw["Body"])
            return {"ETag": '"p"'}

        def complete_multipart_upload(self, **kw: Any) -> dict:
            return {"ETag": '"c"'}

        def put_object(self, **kw: Any) -> dict:
            Stub.uploaded += len(kw["Body"])
            return {"ETag": '"o"'}

        def abort_multipart_upload(self, **kw: Any) -> dict:
            return {}

    handler._S3 = Stub()
    ctx = types.SimpleNamespace(
        function_name="bench",
        memory_limit_in_mb=1769,
        invoked_function_arn="arn:aws:lambda:us-east-1:123456789012:function:bench",
        aws_request_id="b",
    )
    cpu, wall = time.process_time(), time.perf_counter()
    result = handler.process_file(
        {"bucket": "curated", "key": "runs/bench/batch-output/users.json.out", "kms_key_id": "k"}, ctx
    )
    return {
        "cpu_s": time.process_time() - cpu,
        "wall_s": time.perf_counter() - wall,
        "lines": result["lines"],
        "uploaded": Stub.uploaded,
        "peak_rss_mb": vm_hwm_mb(),
    }


def run_child(args: list[str]) -> dict[str, Any]:
    done = subprocess.run([sys.executable, __file__, "--scenario", *args], capture_output=True, text=True, cwd=ROOT)
    if done.returncode != 0:
        raise SystemExit(f"scenario {args} failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--handler-lines", type=int, default=200_000, help="0 to skip the moto run")
    parser.add_argument("--baseline-lines", type=int, default=100_000)
    parser.add_argument("--workdir", type=Path, default=None, help="where the .out file goes (default: a temp dir)")
    parser.add_argument("--kind-lines", type=int, default=300_000, help="lines per output kind (0 to skip)")
    parser.add_argument("--kinds-only", action="store_true", help="only the per-kind figures")
    parser.add_argument(
        "--segment-results", type=int, nargs="+", default=[1000], help="users per segment line (default: %(default)s)"
    )
    parser.add_argument("--scenario", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.scenario:
        name, path, *rest = args.scenario
        scenarios: dict[str, Callable[..., dict[str, Any]]] = {
            "baseline": scenario_baseline,
            "pure": scenario_pure,
            "tracemalloc": scenario_tracemalloc,
            "handler": scenario_handler,
            "handler-stub": scenario_handler_stub,
        }
        fn = scenarios[name]
        params = ([Path(rest[0]), *rest[1:]] if name == "pure" else [int(rest[0])]) if rest else []
        print(json.dumps(fn(Path(path), *params)))
        return

    if args.kind_lines:
        kinds(args.kind_lines, args.workdir, tuple(args.segment_results))
    if args.kinds_only:
        return
    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        work = Path(tmp)
        path = work / "users.json.out"
        t = time.perf_counter()
        facts = generate(path, args.lines)
        print(
            f"generated {facts['lines']:,} lines, {facts['bytes'] / 2**20:,.0f} MiB, {facts['errored']} errored "
            f"({facts['malformed']} malformed) in {time.perf_counter() - t:.1f} s  [load avg {os.getloadavg()[0]:.1f}]"
        )

        base = run_child(["baseline", str(path), str(args.baseline_lines)])
        base_rate = base["lines"] / base["cpu_s"]
        print(
            f"baseline json.loads+csv.writer: {base_rate:>9,.0f} lines/s CPU "
            f"({base['lines'] / base['wall_s']:,.0f} wall), {base['lines']:,} lines"
        )

        pure = run_child(["pure", str(path), str(work)])
        rate_cpu, rate_wall = pure["lines"] / pure["cpu_s"], pure["lines"] / pure["wall_s"]
        print(
            f"flatten_chunks (local file):    {rate_cpu:>9,.0f} lines/s CPU ({rate_wall:,.0f} wall), "
            f"{pure['lines']:,} lines in {pure['cpu_s']:.1f} s CPU / {pure['wall_s']:.1f} s wall, "
            f"{pure['fast_path_lines'] / max(1, pure['lines']):.1%} fast path, peak RSS {pure['peak_rss_mb']:.0f} MB, "
            f"CSV {pure['csv_bytes'] / 2**20:,.0f} MiB, {pure['items_written'] / pure['cpu_s']:,.0f} rows/s, "
            f"{rate_cpu / base_rate:.1f}x baseline"
        )
        print(
            f"  counts: lines={pure['lines']:,} users_with_recommendations={pure['users_with_recommendations']:,} "
            f"items={pure['items_written']:,} errored={pure['errored_lines']} malformed={pure['malformed_lines']}"
        )

        tm = run_child(["tracemalloc", str(path), "50000"])
        print(f"tracemalloc peak over {tm['lines']:,} lines: {tm['tracemalloc_peak_mb']:.1f} MB")

        stub = run_child(["handler-stub", str(path)])
        print(
            f"process_file, stub S3 client:   {stub['lines'] / stub['cpu_s']:>9,.0f} lines/s CPU "
            f"({stub['lines'] / stub['wall_s']:,.0f} wall), {stub['lines']:,} lines, "
            f"{stub['uploaded'] / 2**20:,.0f} MiB uploaded in parts, peak RSS {stub['peak_rss_mb']:.0f} MB "
            f"(whole process: boto3, Powertools, 16 MiB parts in flight)"
        )

        handler_rate = None
        if args.handler_lines:
            h = run_child(["handler", str(path), str(min(args.handler_lines, args.lines))])
            handler_rate = h["lines"] / h["wall_s"]
            print(
                f"process_file on moto S3:        {handler_rate:>9,.0f} lines/s wall "
                f"({h['lines'] / h['cpu_s']:,.0f} CPU), {h['lines']:,} lines in {h['wall_s']:.1f} s; "
                f"peak RSS {h['peak_rss_mb_incl_moto_storage']:.0f} MB "
                f"incl. moto's in-memory copies (was {h['rss_before_mb']:.0f} MB before the call)"
            )

        # 15-minute capacity at 1769 MB = 1 vCPU, from the stub-client run (flatten + the handler's
        # threads, part buffers and CRC32 of every part). Real S3 adds TLS and HTTP work on the same
        # vCPU for ~1.4 KB per line (0.6 KB in, 0.85 KB out): taken as 15% more CPU. The network
        # time itself overlaps the CPU (reader prefetch, background part uploads).
        lambda_rate = stub["lines"] / stub["cpu_s"] / 1.15
        capacity = lambda_rate * 900
        line_bytes = facts["bytes"] / facts["lines"]
        print(
            f"estimate for Lambda 1769 MB: {lambda_rate:,.0f} lines/s -> {capacity / 1e6:.1f}M lines "
            f"(~{capacity * line_bytes / 2**30:.1f} GiB of .out) in 15 min; with 2x margin, cap each "
            f"batch-input file at {capacity / 2 / 1e6:.1f}M lines"
        )


def kinds(lines: int, workdir: Path | None, segment_results: tuple[int, ...] = (1000,)) -> None:
    """Each output kind against user recommendations on files of the same shape; the segment kinds also with
    `segment_results` users per line (as many rows as the 25-per-line files). Ends with the segment capacity of one
    post-processing run that these figures give, beside the one the stacks use (pipeline_contracts/flatten_capacity.py).
    """
    from lambda_src.postprocess.flatten import OUTPUT_KINDS

    segment_kinds = ("item_affinity", "item_attribute_affinity")
    cases = [(kind, 25) for kind in OUTPUT_KINDS] + [(k, n) for n in segment_results for k in segment_kinds]
    figures: dict[tuple[str, int], tuple[float, float]] = {}
    long_lines: list[tuple[int, float, float]] = []  # (users per line, rows/s, bytes per user) of long segment lines
    baseline_rss = float("inf")  # the least peak RSS seen: the process without a long line
    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        for kind, per_line in cases:
            path = Path(tmp) / f"{kind}-{per_line}.json.out"
            n = lines if per_line == 25 else max(10, lines * 25 // per_line)
            facts = generate_kind(path, kind, n, per_line)
            # Best of 3: the machine is shared, and the least disturbed run is the code's own speed.
            r = min((run_child(["pure", str(path), tmp, kind]) for _ in range(3)), key=lambda r: r["cpu_s"])
            path.unlink()
            line_rate, row_rate = r["lines"] / r["cpu_s"], r["items_written"] / r["cpu_s"]
            figures[kind, per_line] = (line_rate, row_rate)
            base = figures[next(iter(OUTPUT_KINDS)), 25]
            # Lines/s compares only at the same list length; rows/s always does.
            ratio = f"{line_rate / base[0]:.2f}x lines/s, " if per_line == 25 else ""
            print(f"kind {kind:<24} {per_line:>5}/line: {line_rate:>9,.0f} lines/s CPU, {row_rate:>11,.0f} rows/s "
                  f"({ratio}{row_rate / base[1]:.2f}x rows/s of user recommendations), {r['lines']:,} lines, "
                  f"{facts['bytes'] / 2**20:,.0f} MiB, {r['fast_path_lines'] / max(1, r['lines']):.1%} fast path, "
                  f"peak RSS {r['peak_rss_mb']:.0f} MB")
            if kind in segment_kinds and per_line > 25:
                long_lines.append((per_line, row_rate, (r["peak_rss_mb"] - baseline_rss) * 2**20 / per_line))
            baseline_rss = min(baseline_rss, r["peak_rss_mb"])
    segment_capacity(long_lines)


def segment_capacity(long_lines: list[tuple[int, float, float]]) -> None:
    """What one process_file run flattens from the long-list segment figures measured here (the slowest rows/s; the
    bytes per user of the longest lines, where the fixed part of the memory weighs least), derived as
    pipeline_contracts/flatten_capacity.py derives its bound, beside the contract's."""
    from pipeline_contracts import flatten_capacity as capacity
    from pipeline_contracts.solutions import OUTPUT_KINDS

    if not long_lines:
        return
    longest = max(per_line for per_line, _, _ in long_lines)
    rate = min(rate for _, rate, _ in long_lines)
    per_user = max(per_user for per_line, _, per_user in long_lines if per_line == longest)
    rows = capacity.rows_per_run(rate)
    per_line = int(capacity.PROCESS_FILE_MEMORY_MB * 2**20 // capacity.SAFETY_MARGIN // max(1.0, per_user))
    print(f"segment capacity: {rate:,.0f} rows/s CPU, {per_user:,.0f} bytes/user -> {rows / 1e6:,.0f}M rows and "
          f"{per_line:,} users per line per run (contract: {capacity.SEGMENT_ROWS_PER_SECOND:,} rows/s, "
          f"{capacity.SEGMENT_BYTES_PER_RESULT} bytes/user -> {capacity.SEGMENT_ROWS_PER_RUN / 1e6:,.0f}M rows, "
          f"{capacity.SEGMENT_RESULTS_PER_LINE_MAX:,} users)")
    for kind in OUTPUT_KINDS.values():
        if kind.job_type == "batch_segment" and kind.max_job_records:
            measured = min(capacity.SEGMENT_NUM_RESULTS_API_MAX, per_line, rows // kind.max_job_records)
            print(f"  {kind.name}: {kind.max_job_records} lines per file -> num_results <= "
                  f"{capacity.segment_num_results_max(kind.max_job_records):,} (contract), {measured:,} (this run)")


if __name__ == "__main__":
    main()
