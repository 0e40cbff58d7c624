"""A small stack around `PipelineStateMachine`, with stand-in resources, and its synthesized state machine.

Tests and the benchmark use `synth_orchestration(config)`; `SynthesizedOrchestration` gives the template, the
resolved definition and an offline harness with the state machine created and the naming Lambda registered.
To run the same checks on another template (e.g. the real pipeline stack), build a `SynthesizedOrchestration`
from that template: nothing else here depends on the stand-ins.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
from unittest import mock
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator
from unittest import mock

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

import aws_cdk as cdk  # noqa: E402
from aws_cdk import aws_glue as glue  # noqa: E402
from aws_cdk import aws_iam as iam  # noqa: E402
from aws_cdk import aws_kms as kms  # noqa: E402
from aws_cdk import aws_s3 as s3  # noqa: E402
from aws_cdk import aws_stepfunctions as sfn  # noqa: E402
from constructs import Construct  # noqa: E402

from pipeline_contracts.solutions import batch_input_entry, query_files  # noqa: E402
from stacks.config import PipelineConfig  # noqa: E402
from lambda_src.run_names.handler import handle as run_names_handler  # noqa: E402
from stacks.orchestration import PipelineStateMachine  # noqa: E402
from stacks.personalize import solution_arn_parameter_name  # noqa: E402
from stacks.personalize_filters import filter_arn_parameter_name, personalize_filter_name  # noqa: E402
from pipeline_rehearsal import ACCOUNT, FakeCloud, OfflineStepFunctions, resolve_definition  # noqa: E402
from tests.support.template_functions import TemplateFunction, register_functions, template_functions  # noqa: E402
from tests.support.templates import logical_id_of  # noqa: E402

REGION = "eu-west-1"
PERSONALIZE = f"arn:aws:personalize:{REGION}:{ACCOUNT}"
DATASET_ARN = f"{PERSONALIZE}:dataset/pbp-test/INTERACTIONS"
GLUE_JOB_NAME = "pbp-test-transform"
GUARD_STATE = "Overlap guard: take the run lease"


def build_stack(
    app: cdk.App,
    stack_id: str,
    config: PipelineConfig,
    post_process: Callable[[Construct], sfn.IChainable] | None = None,
) -> tuple[cdk.Stack, PipelineStateMachine, dict[str, Any]]:
    """The test stack; returns it, the construct and the resources the construct was wired to."""
    stack = cdk.Stack(app, stack_id, env=cdk.Environment(account=ACCOUNT, region=REGION))
    wiring: dict[str, Any] = {
        "glue_job": glue.Job.from_job_attributes(stack, "GlueJob", job_name=GLUE_JOB_NAME),
        "transformed_bucket": s3.Bucket(stack, "Transformed"),
        "curated_bucket": s3.Bucket(stack, "Curated"),
        "data_key": kms.Key(stack, "DataKey"),
        "personalize_role": iam.Role(
            stack, "PersonalizeRole", assumed_by=iam.ServicePrincipal("personalize.amazonaws.com")
        ),
        "dataset_arn": DATASET_ARN,
    }
    if config.metadata_datasets:
        wiring["metadata_dataset_arns"] = {
            spec.kind: f"{PERSONALIZE}:dataset/pbp-test/{spec.kind.upper()}" for spec in config.metadata_datasets
        }
    orchestration = PipelineStateMachine(
        stack,
        "Orchestration",
        config=config,
        logs_key=kms.Key(stack, "LogsKey"),
        post_process=post_process,
        **wiring,
    )
    # Not construct arguments: the parameter the state machine reads at run time, and the value it holds.
    solution = {
        "solution_arn_parameter": solution_arn_parameter_name(config, config.solutions[0].name),
        "solution_arn": f"{PERSONALIZE}:solution/{config.resource_name('solution')}-0123abcd",
    }
    return stack, orchestration, {**wiring, **solution}


def app_orchestration(app: Any, templates: dict[str, Any], *, region: str) -> SynthesizedOrchestration:
    """The state machine of a whole synthesized app (`stacks.app_factory.PipelineApp`) as the harness runs it: the
    definition from the pipeline stack's template, the data stack's template for the references into it, and what
    the construct was given. `templates`: by stack name, `Template`s or their JSON."""
    def as_json(template: Any) -> dict[str, Any]:
        return template if isinstance(template, dict) else template.to_json()

    stack, data = app.pipeline_stack, app.data_stack
    inputs = orchestration_inputs(
        stack,
        {
            "glue_job": stack.etl.job,
            "transformed_bucket": data.lake.transformed_bucket,
            "curated_bucket": data.lake.curated_bucket,
            "data_key": data.keys.data_key,
            "personalize_role": data.personalize_access.service_role,
            "dataset_arn": data.personalize.dataset_arn,
            "metadata_dataset_arns": data.personalize.metadata_dataset_arns,
            "solution_arn_parameter": solution_arn_parameter_name(app.config, app.config.solutions[0].name),
            # What the data stack's parameter holds: the ARN of the (first) solution it created.
            "solution_arn": f"arn:aws:personalize:{region}:{ACCOUNT}:solution/{data.personalize.solution_name}",
        },
    )
    return SynthesizedOrchestration(
        app.config,
        as_json(templates[stack.stack_name]),
        logical_id_of(stack.orchestration.state_machine),
        inputs,
        other_templates={data.stack_name: as_json(templates[data.stack_name])},
        region=region,
    )


def orchestration_inputs(stack: cdk.Stack, wiring: dict[str, Any]) -> dict[str, Any]:
    """What the construct was given, as CloudFormation expressions of `stack` (call after synth, so that
    cross-stack references come out as the consuming stack sees them)."""
    return {
        name: stack.resolve(value)
        for name, value in {
            "transformed_bucket": wiring["transformed_bucket"].bucket_name,
            "curated_bucket": wiring["curated_bucket"].bucket_name,
            "data_key_arn": wiring["data_key"].key_arn,
            "personalize_role_arn": wiring["personalize_role"].role_arn,
            "dataset_arn": wiring["dataset_arn"],
            **{f"{kind}_dataset_arn": arn for kind, arn in wiring.get("metadata_dataset_arns", {}).items()},
            "solution_arn_parameter": wiring["solution_arn_parameter"],
            "solution_arn": wiring["solution_arn"],
            "glue_job_name": wiring["glue_job"].job_name,
        }.items()
    }


@dataclass
class SynthesizedOrchestration:
    """One synthesized state machine and what the offline harness needs to run it.

    `inputs` (see `orchestration_inputs`): what the construct was given, as CloudFormation expressions; tests
    compare the calls they observe with `expected(key)`. `other_templates`: templates of the stacks it
    references (by stack name), so that their outputs resolve to the same fake values.

    For the real app: `SynthesizedOrchestration(config, template_of_pipeline_stack, logical_id_of_the_state_machine,
    orchestration_inputs(pipeline_stack, {...the construct's keyword arguments...}),
    other_templates={data_stack.stack_name: data_template}, region=...)`.
    """

    config: PipelineConfig
    template: dict[str, Any]
    state_machine_id: str  # logical id in `template`
    inputs: dict[str, Any]
    other_templates: dict[str, dict[str, Any]] = field(default_factory=dict)
    region: str = REGION

    def expected(self, key: str) -> Any:
        return self.cloud.resolve(self.inputs[key])

    @functools.cached_property
    def cloud(self) -> FakeCloud:
        return FakeCloud(self.template, region=self.region, stacks=self.other_templates)

    @functools.cached_property
    def definition(self) -> dict[str, Any]:
        return resolve_definition(self.template, self.state_machine_id, cloud=self.cloud)

    @property
    def properties(self) -> dict[str, Any]:
        return self.template["Resources"][self.state_machine_id]["Properties"]

    @property
    def state_machine_name(self) -> str:
        return self.cloud.physical_name(self.state_machine_id)

    @property
    def run_names_function(self) -> str:
        """The function the "Prepare run" state invokes (its resolved ARN)."""
        return self.definition["States"]["Prepare run"]["Parameters"]["FunctionName"]

    @property
    def lease_table(self) -> str:
        """The run lease's table, as the overlap guard gives it to the acquire function."""
        return self.definition["States"][GUARD_STATE]["Parameters"]["Payload"]["table"]

    @property
    def run_modes_function(self) -> str:
        """The function the "Choose modes" state invokes (its resolved ARN: the state's resource, as it passes
        the function's payload on without Lambda's envelope)."""
        return self.definition["States"]["Choose modes"]["Resource"]

    @functools.cached_property
    def functions(self) -> dict[str, TemplateFunction]:
        """The template's functions with a `lambda_src` handler, by handler string."""
        return template_functions(self.template, self.cloud)

    def solution_arn_of(self, solution: str) -> str:
        """The ARN the data stack's parameter holds for configured solution `solution` (its name with a settings
        hash, as the data stack names it)."""
        if solution == self.config.solutions[0].name and "solution_arn" in self.inputs:
            return str(self.expected("solution_arn"))
        return f"arn:aws:personalize:{self.region}:{ACCOUNT}:solution/{self.config.resource_name(solution)}-0123abcd"

    def filter_arn_of(self, name: str) -> str:
        """The ARN the data stack's filter `name` has (its Personalize name, as the data stack names it)."""
        personalize_name = personalize_filter_name(self.config, self.config.filter_named(name))
        return f"arn:aws:personalize:{self.region}:{ACCOUNT}:filter/{personalize_name}"

    @contextlib.contextmanager
    def offline(self, **harness_options: Any) -> Iterator[tuple[OfflineStepFunctions, str]]:
        """The harness with this state machine created (under its real name), every function of the template
        as its real handler in-process (the naming Lambda, batch planning, the run lease, ...), the template's
        DynamoDB tables (the run lease's) and the transformed and curated buckets in moto, and each solution's ARN in
        its SSM parameter (as the data stack writes it). The functions' process has the region variables Lambda sets
        in every function's environment."""
        region = {"AWS_DEFAULT_REGION": self.region, "AWS_REGION": self.region}
        with mock.patch.dict(os.environ, region), OfflineStepFunctions(region=self.region, **harness_options) as aws:
            register_functions(aws, self.functions)
            create_template_tables(aws, self.template, self.cloud)
            aws.lambdas.register(self.run_names_function, run_names_handler)
            s3 = aws.client("s3")
            for bucket in (self.expected("transformed_bucket"), self.expected("curated_bucket")):
                location = {} if self.region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": self.region}}
                s3.create_bucket(Bucket=bucket, **location)
            for spec in self.config.solutions:
                self.put_solution_arn(aws, self.solution_arn_of(spec.name), solution=spec.name)
            for configured_filter in self.config.filters:
                aws.client("ssm").put_parameter(
                    Name=filter_arn_parameter_name(self.config, configured_filter.name),
                    Value=self.filter_arn_of(configured_filter.name),
                    Type="String",
                    Overwrite=True,
                )
            aws.glue.on_start = lambda params: self.write_batch_input(aws, params)
            yield aws, aws.create_state_machine(self.definition, name=self.state_machine_name)


    def write_batch_input(self, aws: OfflineStepFunctions, start_job_run: dict[str, Any], users: int = 3) -> None:
        """What the Glue job leaves for the solutions' batch jobs (the default `glue.on_start` of `offline`): one
        small file per batch input the config needs (users, items, each attribute-affinity solution's queries)."""
        prefix = f"runs/{start_job_run['Arguments']['--run_id']}/"
        bodies: dict[str, str] = {}
        for spec in self.config.solutions:
            folder = batch_input_entry(spec.input_kind, spec.name)
            if spec.input_kind == "users":
                bodies[folder + "part-00000.json"] = "".join(f'{{"userId": "{100 + n}"}}\n' for n in range(users))
            elif spec.input_kind == "items":
                bodies[folder + "part-00000.json"] = "".join(f'{{"itemId": "{1000 + n}"}}\n' for n in range(users))
            else:
                for name, queries in query_files(spec.queries).items():
                    bodies[folder + name] = "".join(json.dumps({"itemAttributes": q}) + "\n" for q in queries)
        s3 = aws.client("s3")
        for key, body in bodies.items():
            s3.put_object(Bucket=self.expected("transformed_bucket"), Key=prefix + key, Body=body.encode("utf-8"))

    def put_solution_arn(self, aws: OfflineStepFunctions, solution_arn: str, *, solution: str | None = None) -> None:
        """Points a solution's parameter (default: the first solution's) at `solution_arn`, as a deployment of the
        data stack would."""
        name = solution or self.config.solutions[0].name
        aws.client("ssm").put_parameter(
            Name=solution_arn_parameter_name(self.config, name), Value=solution_arn, Type="String", Overwrite=True
        )


def create_template_tables(aws: OfflineStepFunctions, template: dict[str, Any], cloud: FakeCloud) -> None:
    """Every `AWS::DynamoDB::Table` of `template` in moto, under the name the resolved definition uses, with the key
    schema the template gives it."""
    dynamodb = aws.client("dynamodb")
    for logical_id, resource in cloud.resources_of_type("AWS::DynamoDB::Table").items():
        properties = resource["Properties"]
        dynamodb.create_table(
            TableName=cloud.physical_name(logical_id),
            KeySchema=properties["KeySchema"],
            AttributeDefinitions=properties["AttributeDefinitions"],
            BillingMode="PAY_PER_REQUEST",
        )


PostProcess = Callable[[Construct], sfn.IChainable]


def synth_orchestration(
    configs: dict[str, PipelineConfig], post_process: dict[str, PostProcess] | None = None
) -> dict[str, SynthesizedOrchestration]:
    """Synthesizes one test stack per config in a single app (one synth: the jsii start-up is paid once)."""
    app = cdk.App()
    post_process = post_process or {}
    stacks = {
        key: build_stack(app, f"Orchestration-{key}", config, post_process.get(key)) for key, config in configs.items()
    }
    assembly = app.synth()
    result = {}
    for key, (stack, construct, wiring) in stacks.items():
        template = assembly.get_stack_by_name(stack.stack_name).template
        logical_id = logical_id_of(construct.state_machine)
        result[key] = SynthesizedOrchestration(configs[key], template, logical_id, orchestration_inputs(stack, wiring))
    return result
