"""Detection lag, state transitions and history size of the real state machine, on a virtual clock.

Runs the synthesized definition in moto's interpreter (pipeline_rehearsal/): Wait states advance
simulated time, scripted Personalize jobs end after given simulated durations, each faked API call takes
0.1 simulated seconds. Two scenarios (Glue 10 min, import 8 min, batch 30 min; training 20 min or 3 h), each
run several times with every job's duration lengthened by 0-300 s, spread evenly (a golden-ratio sequence), so
that job ends fall at every phase of the poll cycle and the mean lag is not luck of the draw. The same runs
are made with the shipped poll interval, with a fixed 300 s poll (the classic console recipe), and with the full
configuration (config/full.json: four solutions, Items and Users datasets, at its own poll interval).

Detection lag: from a job's end to the moment the machine moves on (the Describe that sees ACTIVE returns); with
several jobs of a kind (four trainings), every one of them counts.
Transitions: states entered per run, the run's own and its child executions' (Step Functions bills both).
Events: the largest history of the run, its own or one child execution's (each has the 25,000-event limit).

    .venv/bin/python benchmarks/orchestration.py [--runs N]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

# The benchmark prints its own table only: the handlers' Powertools loggers (created at import) log errors only (the
# stand-in Glue writes no ETL summary, which the planning function would warn about on every run).
os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "ERROR")
# Run as a script: the repository root goes on sys.path first, so the project imports follow it (E402).
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from stacks.config import PipelineConfig  # noqa: E402
from pipeline_rehearsal.deployment import SynthesizedOrchestration
from tests.support.orchestration_stack import synth_orchestration  # noqa: E402
from pipeline_rehearsal import FakeJob, GlueScript, JobScript  # noqa: E402

STAGES = {"import": "import", "train": "training", "batch": "batch"}
SCENARIOS = {
    "20 min training": {"import": 8 * 60, "train": 20 * 60, "batch": 30 * 60},
    "3 h training": {"import": 8 * 60, "train": 3 * 3600, "batch": 30 * 60},
}
GLUE_SECONDS = 10 * 60
# Targets: mean lag per stage, worst lag, transitions of the 3-hour run, history events ("far below" 25,000).
MEAN_LAG_TARGET, MAX_LAG_TARGET, TRANSITIONS_TARGET, EVENTS_TARGET = 30.0, 60.0, 1500, 5000


@dataclass
class RunFigures:
    lags: dict[str, list[float]]
    transitions: int
    events: int
    simulated_hours: float


def detection_lag(job: FakeJob, call_latency: float) -> float:
    """From the job's end to the return of the Describe call that saw it."""
    if job.detected_at is None:
        raise RuntimeError(f"{job.kind}: the run went on without a Describe seeing the job end")
    return job.detected_at + call_latency - job.ends_at


def run_once(machine: SynthesizedOrchestration, durations: dict[str, float], name: str) -> RunFigures:
    with machine.offline() as (aws, arn):
        aws.glue.script(GlueScript(duration=GLUE_SECONDS))
        for kind, seconds in durations.items():
            aws.personalize.script(kind, JobScript(duration=seconds))
        result = aws.run(arn, name=name)
        if result.status != "SUCCEEDED":
            raise RuntimeError(f"{name}: {result.status} {result.error}: {result.cause}")
        lags: dict[str, list[float]] = {}
        for job in aws.personalize.jobs:
            lags.setdefault(job.kind, []).append(detection_lag(job, aws.call_latency))
        transitions = len(result.all_states_entered)
        return RunFigures(lags, transitions, largest_history(result), aws.clock.seconds / 3600)


def largest_history(result: Any) -> int:
    """The most events one execution of the run wrote: its own, or one child's."""
    return max([len(result.events), *(len(history) for history in result.child_histories)])


def full_configuration() -> PipelineConfig:
    """config/full.json layered over cdk.json's context, as `-c config=full` does."""
    root = Path(__file__).resolve().parents[1]
    context = json.loads((root / "cdk.json").read_text())["context"]
    settings = {key: value for key, value in context.items() if not key.startswith("@")}
    return PipelineConfig.from_mapping({**settings, **json.loads((root / "config" / "full.json").read_text())})


def offset(run: int, stage: int) -> float:
    """0-300 s, evenly spread over runs (golden-ratio sequence), decorrelated between stages."""
    return ((run + 1) * (math.sqrt(5) - 1) / 2 + stage * math.sqrt(2)) % 1 * 300


def measure(machine: SynthesizedOrchestration, scenario: dict[str, int], runs: int) -> list[RunFigures]:
    figures = []
    for run in range(runs):
        durations = {kind: seconds + offset(run, stage) for stage, (kind, seconds) in enumerate(scenario.items())}
        figures.append(run_once(machine, durations, f"bench-{run}"))
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=8, help="runs per scenario and design (default 8)")
    args = parser.parse_args()

    shipped = PipelineConfig()
    designs = {
        f"poll {shipped.status_poll_seconds} s (shipped)": shipped,
        "poll 300 s (console recipe)": replace(shipped, status_poll_seconds=300),
        f"full.json, poll {full_configuration().status_poll_seconds} s": full_configuration(),
    }
    started = time.monotonic()
    machines = synth_orchestration({str(i): config for i, config in enumerate(designs.values())})

    header = (
        f"{'design':<28} {'scenario':<16} "
        + " ".join(f"{stage + ' lag mean/max s':>24}" for stage in STAGES.values())
        + f" {'transitions mean/max':>21} {'events mean/max':>16} {'sim h':>6}"
    )
    print(f"{args.runs} runs per row, job durations + 0-300 s spread evenly, Glue {GLUE_SECONDS // 60} min\n")
    print(header)
    print("-" * len(header))
    verdicts = []
    for index, design in enumerate(designs):
        for scenario_name, scenario in SCENARIOS.items():
            figures = measure(machines[str(index)], scenario, args.runs)
            lag_cells, stage_lags = [], {}
            for kind in STAGES:
                lags = [lag for f in figures for lag in f.lags[kind]]
                stage_lags[kind] = (statistics.mean(lags), max(lags))
                lag_cells.append(f"{stage_lags[kind][0]:>13.1f} / {stage_lags[kind][1]:>6.1f}")
            transitions = [f.transitions for f in figures]
            events = [f.events for f in figures]
            print(
                f"{design:<28} {scenario_name:<16} "
                + " ".join(f"{cell:>24}" for cell in lag_cells)
                + f" {statistics.mean(transitions):>12.0f} / {max(transitions):>6}"
                + f" {statistics.mean(events):>7.0f} / {max(events):>6}"
                + f" {statistics.mean(f.simulated_hours for f in figures):>6.2f}"
            )
            if index != 1:
                verdicts.append(
                    all(mean <= MEAN_LAG_TARGET and worst <= MAX_LAG_TARGET for mean, worst in stage_lags.values())
                    and max(events) <= EVENTS_TARGET
                    and (scenario_name != "3 h training" or max(transitions) <= TRANSITIONS_TARGET)
                )
    print(
        f"\nTargets for the shipped design and the full configuration: mean lag <= {MEAN_LAG_TARGET:.0f} s per "
        f"stage, never over {MAX_LAG_TARGET:.0f} s; <= {TRANSITIONS_TARGET} transitions for the 3 h run; "
        f"history <= {EVENTS_TARGET} events (limit 25,000): {'met' if all(verdicts) else 'NOT met'}."
    )
    print(f"Wall time {time.monotonic() - started:.0f} s.")
    return 0 if all(verdicts) else 1


if __name__ == "__main__":
    sys.exit(main())
