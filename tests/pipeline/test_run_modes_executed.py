"""Import and training modes over a sequence of runs of EVERY named configuration, executed offline with the
real handlers against the refusing Personalize stand-in (issue 17, faults 1 and 2).

The stand-in refuses what Personalize refuses: an INCREMENTAL import into a dataset without an ACTIVE import, a
trainingMode UPDATE without an ACTIVE version of that solution trained FULL (or on another recipe). So:

1. the first run of a deployment imports every dataset FULL and trains every solution FULL, and says why;
2. the next run uses the configured modes (full.json: INCREMENTAL imports, UPDATE for `users`);
3. after a settings change replaced a solution (a new ARN in its parameter, no versions), that solution trains
   FULL again while the others keep their configured modes.

The manifest, the success notice and the execution's output carry each mode and its reason.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from pipeline_contracts.run_layout import metadata_entry
from stacks.app_factory import PipelineApp
from pipeline_rehearsal.deployment import SynthesizedOrchestration, app_orchestration
from pipeline_rehearsal import ACCOUNT, JobScript, OfflineStepFunctions
from tests.support.templates import logical_id_of

from .test_executed_pipeline import REGION, Run, Scenario, executor

Execute = Callable[..., Run]


@pytest.fixture
def pipeline(configured_app: PipelineApp, configured_templates: dict[str, Any]) -> SynthesizedOrchestration:
    return app_orchestration(configured_app, configured_templates, region=REGION)


@pytest.fixture
def execute(
    pipeline: SynthesizedOrchestration, configured_app: PipelineApp, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Execute]:
    topic = pipeline.cloud.arn(logical_id_of(configured_app.pipeline_stack.notices.topic))
    with executor(pipeline, topic, monkeypatch) as run:
        yield run


def dataset_arns(pipeline: SynthesizedOrchestration) -> dict[str, str]:
    """Dataset name (interactions, items, users) -> its ARN, for every dataset of the configuration."""
    kinds = [spec.kind for spec in pipeline.config.metadata_datasets]
    return {"interactions": pipeline.expected("dataset_arn"), **{k: pipeline.expected(f"{k}_dataset_arn") for k in kinds}}


def scenario(pipeline: SynthesizedOrchestration, solution_arns: dict[str, str]) -> Scenario:
    """Three users; the Glue stand-in also writes a file into each metadata dataset's folder (so every configured
    dataset is imported); Personalize knows each solution's recipe (UPDATE is refused on any but
    User-Personalization)."""

    def script(aws: OfflineStepFunctions) -> None:
        write_inputs = aws.glue.on_start
        assert write_inputs is not None
        s3, bucket = aws.client("s3"), pipeline.expected("transformed_bucket")

        def on_start(params: dict[str, Any]) -> None:
            write_inputs(params)
            for spec in pipeline.config.metadata_datasets:
                key = f"runs/{params['Arguments']['--run_id']}/{metadata_entry(spec.kind)}part-00000.csv"
                s3.put_object(Bucket=bucket, Key=key, Body=b"ITEM_ID\n1\n")

        aws.glue.on_start = on_start
        recipes = {spec.name: spec.recipe for spec in pipeline.config.solutions}
        aws.personalize.solution_recipes = {arn: recipes[name] for name, arn in solution_arns.items()}

    return Scenario(batch_input={"users.json": ["75", "78", "79"]}, script=script)


def run_in_sequence(
    execute: Execute, pipeline: SynthesizedOrchestration, arns: dict[str, str], name: str, execution_input: Any = None
) -> Any:
    """One execution; returns it with the modes its Create calls used (by dataset / solution name). A configuration
    with cadences trains by the day-two rules only when asked (`retrain_now`), so this sequence asks for it there."""
    if execution_input is None and any(spec.retrain.on for spec in pipeline.config.solutions):
        execution_input = {"retrain_now": True}
    run: Run = execute(scenario(pipeline, arns), name=name, execution_input=execution_input)
    assert run.result.status == "SUCCEEDED", f"{name}: {run.result.error}: {run.result.cause}"
    mine = [c for c in run.aws.calls if c.service == "personalize" and name in str(c.params.get("jobName") or
            c.params.get("name"))]  # fmt: skip
    by_dataset = {v: k for k, v in dataset_arns(pipeline).items()}
    by_solution = {v: k for k, v in arns.items()}
    imported = {by_dataset[c.params["datasetArn"]]: c.params["importMode"] for c in mine
                if c.operation == "CreateDatasetImportJob"}  # fmt: skip
    trained = {by_solution[c.params["solutionArn"]]: c.params["trainingMode"] for c in mine
               if c.operation == "CreateSolutionVersion"}  # fmt: skip
    return run, imported, trained


def chosen(run: Run) -> tuple[dict[str, str], dict[str, str]]:
    modes = run.result.output["modes"]
    return (
        {name: entry["mode"] for name, entry in modes["imports"].items()},
        {name: entry["mode"] for name, entry in modes["training"].items()},
    )


def test_first_run_full_then_configured_modes_then_full_again_for_a_replaced_solution(
    execute: Execute, pipeline: SynthesizedOrchestration
) -> None:
    config = pipeline.config
    arns = {spec.name: pipeline.solution_arn_of(spec.name) for spec in config.solutions}
    datasets = list(dataset_arns(pipeline))
    configured_imports = dict.fromkeys(datasets, config.import_mode)
    configured_training = {spec.name: spec.training_mode for spec in config.solutions}

    # 1. First run: nothing ACTIVE anywhere, so FULL everywhere, whatever is configured, each with its reason.
    first, imported, trained = run_in_sequence(execute, pipeline, arns, "first-run")
    assert chosen(first) == (dict.fromkeys(datasets, "FULL"), dict.fromkeys(arns, "FULL"))
    assert (imported, trained) == chosen(first)
    modes = first.result.output["modes"]
    for name, entry in modes["imports"].items():
        expected = "no ACTIVE bulk import yet" if config.import_mode == "INCREMENTAL" else "import_mode is FULL"
        assert expected in entry["reason"], name
    for spec in config.solutions:
        reason = modes["training"][spec.name]["reason"]
        assert ("no ACTIVE version trained FULL" if spec.training_mode == "UPDATE" else "training_mode is FULL") in reason
    # The manifest, the notice and the run's output say the same.
    manifest = first.manifest()
    assert manifest["import_modes"] == modes["imports"]
    assert {name: section["training"] for name, section in manifest["solutions"].items()} == modes["training"]
    assert {s["name"]: s["training"] for s in first.result.output["solutions"]} == modes["training"]
    (notice,) = first.notices()
    assert "Modes: imports interactions FULL" in notice["Message"]

    # 2. The next run: every dataset has an ACTIVE import, every solution an ACTIVE FULL version.
    second, imported, trained = run_in_sequence(execute, pipeline, arns, "second-run")
    assert chosen(second) == (configured_imports, configured_training)
    assert (imported, trained) == chosen(second)

    # 3. A settings change replaced one solution (the one training UPDATE, if any): it has no version yet.
    replaced = next((s.name for s in config.solutions if s.training_mode == "UPDATE"), config.solutions[0].name)
    arns[replaced] = f"arn:aws:personalize:{REGION}:{ACCOUNT}:solution/{config.resource_name(replaced)}-fedcba98"
    pipeline.put_solution_arn(second.aws, arns[replaced], solution=replaced)
    third, imported, trained = run_in_sequence(execute, pipeline, arns, "third-run")
    assert chosen(third) == (configured_imports, {**configured_training, replaced: "FULL"})
    assert (imported, trained) == chosen(third)
    if configured_training[replaced] == "UPDATE":
        assert arns[replaced] in third.result.output["modes"]["training"][replaced]["reason"]


# Cadences (issue 19) ------------------------------------------------------------------------------------------------
HOUR, DAY = 3600.0, 86400.0
TRAINING_SECONDS = {"FULL": HOUR, "UPDATE": HOUR / 4}  # what the Personalize stand-in takes (and bills) per training


def cadence_run(
    execute: Execute, pipeline: SynthesizedOrchestration, arns: dict[str, str], name: str, *, at: float,
    expected: dict[str, str], execution_input: Any = None,
) -> tuple[Run, dict[str, str]]:
    """One run started `at` seconds on the virtual clock, each solution expected to train as `expected` says (its
    training scripted to take TRAINING_SECONDS); returns it with the modes its CreateSolutionVersion calls used."""
    config = pipeline.config
    base = scenario(pipeline, arns)

    def script(aws: OfflineStepFunctions) -> None:
        assert base.script is not None
        base.script(aws)
        for solution, mode in expected.items():
            if mode != "REUSE":
                prefix = config.resource_name(f"train-{solution}")
                aws.personalize.script("train", JobScript(duration=TRAINING_SECONDS[mode]), name_prefix=prefix)
        assert aws.clock.seconds <= at, f"{name}: the previous run ended after {at}"
        aws.clock.advance_to(at)

    run: Run = execute(Scenario(batch_input=base.batch_input, script=script), name=name,
                       execution_input=execution_input or {})  # fmt: skip
    assert run.result.status == "SUCCEEDED", f"{name}: {run.result.error}: {run.result.cause}"
    by_solution = {v: k for k, v in arns.items()}
    trained = {by_solution[c.params["solutionArn"]]: c.params["trainingMode"] for c in run.aws.calls
               if c.operation == "CreateSolutionVersion" and name in c.params["name"]}  # fmt: skip
    return run, trained


def week_table(rows: list[tuple[str, Run]], full_hours: float) -> str:
    """Which solution trained how and why in each run, and the run's training hours against FULL everywhere."""
    lines = []
    for name, run in rows:
        modes, manifest = run.result.output["modes"]["training"], run.manifest()
        hours = sum(section.get("training_hours") or 0 for section in manifest["solutions"].values())
        lines.append(f"{name}: training {hours:.2f} h (FULL everywhere: {full_hours:.2f} h)")
        lines += [f"  {solution:<10} {entry['mode']:<6} {entry['reason']}" for solution, entry in modes.items()]
    return "\n".join(lines)


def test_cadences_full_then_reuse_then_update_then_full_and_retrain_now(
    execute: Execute, pipeline: SynthesizedOrchestration
) -> None:
    config = pipeline.config
    if not any(spec.retrain.on for spec in config.solutions):
        pytest.skip(f"{config.environment}: no solution has a cadence")
    arns = {spec.name: pipeline.solution_arn_of(spec.name) for spec in config.solutions}
    cadence = {spec.name: spec.retrain for spec in config.solutions}
    update_solutions = {s.name for s in config.solutions if s.retrain.update_every_days}
    assert update_solutions == {"users"}  # full.json: User-Personalization only
    full = dict.fromkeys(arns, "FULL")
    rows: list[tuple[str, Run]] = []

    def step(name: str, at: float, expected: dict[str, str], execution_input: Any = None) -> Run:
        run, trained = cadence_run(execute, pipeline, arns, name, at=at, expected=expected,
                                   execution_input=execution_input)  # fmt: skip
        assert {s: e["mode"] for s, e in run.result.output["modes"]["training"].items()} == expected, name
        assert trained == {s: m for s, m in expected.items() if m != "REUSE"}, name
        sections = run.manifest()["solutions"]
        for solution, mode in expected.items():
            hours = sections[solution]["training_hours"]
            assert hours == (0 if mode == "REUSE" else pytest.approx(TRAINING_SECONDS[mode] / HOUR)), (name, solution)
        rows.append((name, run))
        return run

    start = 10 * DAY
    first = step("cadence-1", start, full)
    first_versions = {s["name"]: s["gate"]["solutionVersionArn"] for s in first.result.output["solutions"]}
    # An hour after it ended: everything is reused, the batch jobs use the versions run 1 accepted.
    second = step("cadence-2", first.aws.clock.seconds + HOUR, dict.fromkeys(arns, "REUSE"))
    assert {s["name"]: s["gate"]["solutionVersionArn"] for s in second.result.output["solutions"]} == first_versions
    assert {s["name"]: s["gate"]["decision"] for s in second.result.output["solutions"]} == dict.fromkeys(arns, "REUSED")
    # One hour past the UPDATE period: users trains UPDATE, the rest is reused. The reuse recorded nothing: the
    # last accepted version is still run 1's, measured from run 1's start.
    update_days = cadence["users"].update_every_days
    third = step("cadence-3", start + update_days * DAY + HOUR, {**dict.fromkeys(arns, "REUSE"), "users": "UPDATE"})
    assert f"{first_versions['users']} is 6.04 days old" in third.result.output["modes"]["training"]["users"]["reason"]
    # Past segments' own FULL period (13 days): segments FULL, users UPDATE again (6 days since run 3), rest reused.
    segments_days = cadence["segments"].full_every_days
    step("cadence-4", start + segments_days * DAY + 2 * HOUR,
         {**dict.fromkeys(arns, "REUSE"), "users": "UPDATE", "segments": "FULL"})  # fmt: skip
    # Past the top-level FULL period (27 days): FULL everywhere (segments: 14 days after its last FULL).
    fifth = step("cadence-5", start + cadence["users"].full_every_days * DAY + 3 * HOUR, full)
    # retrain_now an hour later: every solution trains by the day-two rules (users UPDATE, the others FULL).
    step("cadence-now", fifth.aws.clock.seconds + HOUR, {**full, "users": "UPDATE"}, {"retrain_now": True})
    full_hours = len(arns) * TRAINING_SECONDS["FULL"] / HOUR
    print("\n" + week_table(rows, full_hours))
