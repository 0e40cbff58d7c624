"""Stage 3, transform: the Glue job (`.sync`) writes the run's Personalize inputs."""

from __future__ import annotations

from aws_cdk import aws_glue as glue
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from stacks.orchestration.ledger import FULL_REBUILD_PATH, full_rebuild_choice
from stacks.orchestration.stage import Stage, fail_state

JsonPath = sfn.JsonPath
FAILED_ERROR = "TransformFailed"


class Transform(Stage):
    """Runs `glue_job` with `--run_id` = `$.run.id` and waits for it. A run that fails, or ends in any state
    but SUCCEEDED, fails the execution (TransformFailed) with Glue's message. Writes `$.glue` (JobRunId,
    JobRunState). With `incremental` (etl_incremental) the run first reads whether a full rebuild is asked
    (`ledger.full_rebuild_choice`) and passes it as `--full_rebuild`."""

    def __init__(self, scope: Construct, construct_id: str, *, glue_job: glue.IJob, incremental: bool = False) -> None:
        super().__init__(scope, construct_id)
        arguments = {"--run_id": JsonPath.string_at("$.run.id")}
        if incremental:
            arguments["--full_rebuild"] = JsonPath.string_at(FULL_REBUILD_PATH)
        transform = tasks.GlueStartJobRun(
            self,
            "Transform (Glue)",
            glue_job_name=glue_job.job_name,
            integration_pattern=sfn.IntegrationPattern.RUN_JOB,
            arguments=sfn.TaskInput.from_object(arguments),
            result_path="$.glue",
        )
        transform.add_catch(self._failed(), errors=["States.ALL"], result_path="$.glueError")
        done = sfn.Pass(
            self,
            "Transform done",
            parameters={
                "JobRunId": JsonPath.string_at("$.glue.Id"),
                "JobRunState": JsonPath.string_at("$.glue.JobRunState"),
            },
            result_path="$.glue",
        )
        transform.next(
            sfn.Choice(self, "Transform succeeded?")
            .when(sfn.Condition.string_equals("$.glue.JobRunState", "SUCCEEDED"), done)
            .otherwise(self._did_not_succeed())
        )
        self._set_flow(full_rebuild_choice(self, transform) if incremental else transform, done)

    def _failed(self) -> sfn.Fail:
        return fail_state(
            self,
            "Transform failed",
            error=FAILED_ERROR,
            cause="Glue job run failed for run {}: {}",
            values=[JsonPath.string_at("$.run.id"), JsonPath.string_at("$.glueError.Cause")],
        )

    def _did_not_succeed(self) -> sfn.Fail:
        glue_run = [JsonPath.string_at("$.glue.Id"), JsonPath.string_at("$.glue.JobRunState")]
        return fail_state(
            self,
            "Transform did not succeed",
            error=FAILED_ERROR,
            cause="Glue job run {} ended {}: {}",
            values=[*glue_run, JsonPath.json_to_string(JsonPath.object_at("$.glue"))],
        )
