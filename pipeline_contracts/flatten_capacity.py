"""What one post-processing run can flatten, and the segment size that follows from it.

Post-processing flattens each batch `.out` file in one Lambda invocation (`postprocess.handler.process_file`,
`stacks/postprocess.py`), which gives up (ProcessingTimeExceeded) when less than `TIME_RESERVE_SECONDS` of its
timeout is left. A batch segment job's output file has one line per input line (at most the kind's
`max_job_records`: 500 items, 10 queries, the most a file of that input holds) and `num_results` users per line,
so one file is up to `max_job_records * num_results` CSV rows, and its longest line `num_results` users, which the
flattening holds in memory at once. The stacks refuse at synth a segment `num_results` above
`segment_num_results_max`, so that every file fits one run in time and in memory.

The figures: `.venv/bin/python benchmarks/postprocess.py --kinds-only --kind-lines 40000 --segment-results 1000000`
(README "Benchmarks"), `flatten_chunks` over a segment file of 1,000,000 users per line: 1,450,153 rows per second
of CPU time, peak RSS 571 MiB (29 MiB without the file). The rate falls as lines grow (about 7.7 million rows/s at
1,000 users per line, 2.1 million at 100,000), so the figure is taken at the longest lines the memory bound allows.
Turned into one run's capacity the way the benchmark's own estimate is: 15% more CPU for S3's TLS and HTTP work on
the same vCPU (1769 MB = one vCPU), the timeout minus the reserve; then halved (`SAFETY_MARGIN`: a Lambda vCPU slower
than the machine measured on, longer ids). Memory the same way: half the function's memory over the bytes a user of
the longest line takes. Standard library only.
"""

from __future__ import annotations

PROCESS_FILE_MEMORY_MB = 1769
"""One full vCPU: the flattening is CPU-bound."""
PROCESS_FILE_TIMEOUT_SECONDS = 900
"""Lambda's longest timeout."""
TIME_RESERVE_SECONDS = 20
"""What process_file keeps of its timeout to abort its partial uploads (`postprocess.handler.TIME_RESERVE_MS`)."""

SEGMENT_ROWS_PER_SECOND = 1_400_000
"""Measured (see above): segment rows flattened per CPU second at 1,000,000 users per line, rounded down."""
SEGMENT_BYTES_PER_RESULT = 600
"""Measured (see above): peak memory per user of a segment line ((571 - 29) MiB / 1,000,000 = 568 bytes), rounded
up."""
S3_CPU_OVERHEAD = 1.15
SAFETY_MARGIN = 2
SEGMENT_NUM_RESULTS_API_MAX = 5_000_000
"""CreateBatchSegmentJob's numResults: at most 5 million users per segment."""


def rows_per_run(rows_per_second: float) -> int:
    """The rows one process_file run flattens at `rows_per_second` (CPU, as the benchmark measures it), with the
    S3 overhead, the time reserve and the safety margin taken off."""
    seconds = PROCESS_FILE_TIMEOUT_SECONDS - TIME_RESERVE_SECONDS
    return int(rows_per_second / S3_CPU_OVERHEAD * seconds / SAFETY_MARGIN)


SEGMENT_ROWS_PER_RUN = rows_per_run(SEGMENT_ROWS_PER_SECOND)
"""The most segment rows one output file may hold."""


SEGMENT_RESULTS_PER_LINE_MAX = PROCESS_FILE_MEMORY_MB * 2**20 // SAFETY_MARGIN // SEGMENT_BYTES_PER_RESULT
"""The most users one segment line may list for the flattening's memory."""


def segment_num_results_max(lines_per_file: int) -> int:
    """The largest `num_results` of a segment solution whose output files have at most `lines_per_file` lines:
    every file then fits one post-processing run, in time and in memory (and the API's own maximum)."""
    if lines_per_file < 1:
        raise ValueError(f"lines_per_file {lines_per_file!r} is not a whole number >= 1")
    return min(SEGMENT_NUM_RESULTS_API_MAX, SEGMENT_RESULTS_PER_LINE_MAX, SEGMENT_ROWS_PER_RUN // lines_per_file)
