"""The pipeline's Step Functions state machine, one fragment per stage, chained in the order a run goes.

One run (Standard workflow, JSONPath):

    OverlapGuard -> PrepareRun -> Transform (Glue .sync) -> ChooseModes (each import's and training's mode) ->
    PersonalizeJobStage x3 (import, training, batch inference) -> [post-processing, stacks/postprocess.py] ->
    RunSummary

Each stage is a `Stage` (an `sfn.StateMachineFragment`, `stage.py`) built without knowing what follows it;
`PipelineStateMachine` (`state_machine.py`) chains them forward. A new stage is a new fragment and one
`.next(...)` in that chain.

Polling: a fixed interval (`status_poll_seconds`, default 45 s). The detection lag of a fixed interval is
uniform in [0, interval], so 45 s keeps the mean near 22 s and the worst case under 60 s, while one poll costs
4 state transitions and 11 history events: a 3-hour training run stays near 1,200 transitions, and even a run
that polls for the whole execution timeout (24 h) stays under the 25,000-event history limit, which the
construct checks at synth time for any configuration (`budget.py`).

Names (see `lambda_src/run_names`): a tiny Lambda function computes them once, in the "Prepare run" state, from the
execution's name, ARN and start time. Intrinsic functions cannot do it: ASL has no substring, character
replacement or length function, so they can hash the execution (a name made only of hex) but cannot include a
sanitised, shortened execution name. The function is pure, so a redrive (which keeps the earlier output
anyway) or any re-evaluation yields the same names.
"""

from stacks.orchestration.budget import HISTORY_EVENT_LIMIT, check_history_budget
from stacks.orchestration.personalize_job import BUSY_ERRORS
from stacks.orchestration.state_machine import PipelineStateMachine

__all__ = ["BUSY_ERRORS", "HISTORY_EVENT_LIMIT", "PipelineStateMachine", "check_history_budget"]
