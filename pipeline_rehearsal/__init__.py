"""Run a synthesized state machine offline, in moto 5.2.5's ASL interpreter, on a virtual clock.

The product's ASL stays exactly as synthesized; every gap of the interpreter is bridged here, outside the
product's deployed code (the test suite and the local rehearsal both run on this package):

- aws-sdk tasks: parameters go to boto3 in PascalCase and results come back camelCase. Bridged with botocore's
  service model (`_to_boto_request` / `_from_boto_response`, which moto ships but leaves unused).
- aws-sdk error names come out as `personalize.ResourceInUseException`; bridged to `Personalize.…` (the
  service id from botocore), so the product's `Personalize.ResourceInUseException` catchers are the real ones.
- `glue:startJobRun.sync`, `lambda:invoke` and Personalize are answered by scripted fakes (`FakeGlue`,
  `FakeLambda`, `FakePersonalize`) through botocore `before-call` hooks on `boto3.DEFAULT_SESSION`, which the
  interpreter's clients are built from. Every call is recorded (`OfflineStepFunctions.calls`) with the
  parameters botocore would send (API member names, e.g. `jobName`) and the virtual time.
- Wait states, Retry back-off and `.sync` polling never sleep: they advance a `VirtualClock`. The execution's
  start time, `$$.State.EnteredTime`, history timestamps and the fakes' job progress all read that clock, and
  the state machine's `TimeoutSeconds` is enforced on it.
- Executions run synchronously: `run()` returns when the execution has ended (one started from inside a fake
  runs to its end before the outer call returns, which is how a test puts a second execution in the middle
  of the first).

`resolve_definition(template)` turns a template's `DefinitionString` (an `Fn::Join` of Refs/GetAtts) into the
concrete definition, with fake but well-formed names and ARNs (`FakeCloud`).

Modules: `clock` (the virtual clock and the interpreter's threads on it), `cloud` (template resolution, fake
names and ARNs), `fakes` (the scripted Personalize, Glue and Lambda stand-ins), `interpreter`
(`OfflineStepFunctions`, moto's interpreter bridged), `moto_pin` (refuses an unpatched moto release).
"""

from pipeline_rehearsal.clock import EPOCH, VirtualClock, clock_datetime
from pipeline_rehearsal.cloud import ACCOUNT, DEFAULT_REGION, FakeCloud, resolve_definition, state_machine_logical_ids
from pipeline_rehearsal.fakes import (
    BatchOutputWriter,
    Call,
    FakeGlue,
    FakeJob,
    FakeLambda,
    FakePersonalize,
    GlueScript,
    JobScript,
    ServiceError,
    default_batch_answer,
    function_error,
)
from pipeline_rehearsal.interpreter import ExecutionResult, OfflineStepFunctions

__all__ = [
    "ACCOUNT",
    "DEFAULT_REGION",
    "EPOCH",
    "BatchOutputWriter",
    "Call",
    "ExecutionResult",
    "FakeCloud",
    "FakeGlue",
    "FakeJob",
    "FakeLambda",
    "FakePersonalize",
    "GlueScript",
    "JobScript",
    "OfflineStepFunctions",
    "ServiceError",
    "VirtualClock",
    "clock_datetime",
    "default_batch_answer",
    "function_error",
    "resolve_definition",
    "state_machine_logical_ids",
]
