"""`start`'s execution input: `{}` by default, `{"full_rebuild": true}` with --full-rebuild (the incremental ETL's
on-demand full rebuild; the state machine reads it in "Transform: full rebuild asked?"), `{"retrain_now": true}` with
--retrain-now (every solution trains whatever its cadence; the modes function reads it)."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from tests.cli.conftest import Deployed, Result
from tests.cli.test_cli_errors import pipeline_definition


@pytest.mark.parametrize(
    "flags, expected",
    [
        ([], {}),
        (["--full-rebuild"], {"full_rebuild": True}),
        (["--retrain-now"], {"retrain_now": True}),
        (["--retrain-now", "--full-rebuild"], {"full_rebuild": True, "retrain_now": True}),
    ],
)
def test_start_sends_the_full_rebuild_and_retrain_now_fields_only_when_asked(
    deploy: Callable[..., Deployed], run: Callable[..., Result], flags: list[str], expected: dict
) -> None:
    deployed = deploy(pipeline_definition())
    assert run(["start", "--name", "asked", *flags], deployed.session).code == 0
    sfn = deployed.session.client("stepfunctions")
    (execution,) = sfn.list_executions(stateMachineArn=deployed.state_machine_arn)["executions"]
    assert json.loads(sfn.describe_execution(executionArn=execution["executionArn"])["input"]) == expected
