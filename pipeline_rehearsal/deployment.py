"""A synthesized pipeline as the harness runs it: its state machine, functions, tables and buckets, offline.

Part of the offline harness: see the package docstring (`pipeline_rehearsal/__init__.py`).

`app_orchestration(app, templates, region=)` gives the state machine of a whole synthesized app
(`stacks.app_factory.PipelineApp`): the pipeline stack's definition resolved with the data stack's outputs, and what
the construct was given. `SynthesizedOrchestration.offline()` is the harness with that state machine created, every
function of the template as its real handler in-process, the template's tables and the buckets in moto, and each
solution's ARN in its SSM parameter. The tests build the same object around a small test stack
(`tests/support/orchestration_stack.py`); the rehearsal around the real app.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from unittest import mock

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

import aws_cdk as cdk  # noqa: E402
from constructs import IConstruct  # noqa: E402

from lambda_src.run_names.handler import handle as run_names_handler  # noqa: E402
from pipeline_contracts.solutions import batch_input_entry, query_files  # noqa: E402
from pipeline_rehearsal.cloud import ACCOUNT, FakeCloud, resolve_definition  # noqa: E402
from pipeline_rehearsal.functions import TemplateFunction, register_functions, template_functions  # noqa: E402
from pipeline_rehearsal.interpreter import OfflineStepFunctions  # noqa: E402
from stacks.config import PipelineConfig  # noqa: E402
from stacks.personalize import solution_arn_parameter_name  # noqa: E402
from stacks.personalize_filters import filter_arn_parameter_name, personalize_filter_name  # noqa: E402

REGION = "eu-west-1"
GUARD_STATE = "Overlap guard: take the run lease"


def logical_id_of(construct: IConstruct) -> str:
    """The logical id of a construct's CloudFormation resource (its default child for an L2)."""
    element = construct if isinstance(construct, cdk.CfnElement) else construct.node.default_child
    if not isinstance(element, cdk.CfnElement):
        raise TypeError(f"{construct.node.path} has no CloudFormation resource")
    stack = cdk.Stack.of(construct)
    return str(stack.resolve(stack.get_logical_id(element)))


def as_json(template: Any) -> dict[str, Any]:
    """A template as its JSON: `aws_cdk.assertions.Template` or already a dict."""
    return template if isinstance(template, dict) else template.to_json()


def app_orchestration(app: Any, templates: dict[str, Any], *, region: str) -> SynthesizedOrchestration:
    """The state machine of a whole synthesized app (`stacks.app_factory.PipelineApp`) as the harness runs it: the
    definition from the pipeline stack's template, the data stack's template for the references into it, and what
    the construct was given. `templates`: by stack name, `Template`s or their JSON."""
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

    For the real app: `app_orchestration(app, templates, region=...)`.
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
        return str(self.definition["States"]["Prepare run"]["Parameters"]["FunctionName"])

    @property
    def lease_table(self) -> str:
        """The run lease's table, as the overlap guard gives it to the acquire function."""
        return str(self.definition["States"][GUARD_STATE]["Parameters"]["Payload"]["table"])

    @property
    def run_modes_function(self) -> str:
        """The function the "Choose modes" state invokes (its resolved ARN: the state's resource, as it passes
        the function's payload on without Lambda's envelope)."""
        return str(self.definition["States"]["Choose modes"]["Resource"])

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

    def dataset_arns(self) -> dict[str, str]:
        """Dataset kind (interactions, items, users) -> its ARN, for every dataset of the configuration."""
        kinds = [spec.kind for spec in self.config.metadata_datasets]
        return {"interactions": self.expected("dataset_arn"), **{k: self.expected(f"{k}_dataset_arn") for k in kinds}}

    @contextlib.contextmanager
    def offline(self, **harness_options: Any) -> Iterator[tuple[OfflineStepFunctions, str]]:
        """The harness with this state machine created (under its real name), every function of the template
        as its real handler in-process (the naming Lambda, batch planning, the run lease, ...), the template's
        DynamoDB tables (the run lease's) and the transformed and curated buckets in moto, and each solution's and
        each filter's ARN in its SSM parameter (as the data stack writes them). The functions' process has the region
        variables Lambda sets in every function's environment."""
        region = {"AWS_DEFAULT_REGION": self.region, "AWS_REGION": self.region}
        with mock.patch.dict(os.environ, region), OfflineStepFunctions(region=self.region, **harness_options) as aws:
            register_functions(aws, self.functions)
            create_template_tables(aws, self.template, self.cloud)
            aws.lambdas.register(self.run_names_function, run_names_handler)
            for bucket in (self.expected("transformed_bucket"), self.expected("curated_bucket")):
                create_bucket(aws, bucket)
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


def create_bucket(aws: OfflineStepFunctions, bucket: str) -> None:
    """A bucket in moto, in the harness's region."""
    location = {} if aws.region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": aws.region}}
    aws.client("s3").create_bucket(Bucket=bucket, **location)


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


def create_accepted_versions_table(dynamodb: Any, name: str) -> None:
    """The data stack's accepted-version table, with the key schema the stack gives it (checked in
    tests/pipeline/test_quality_gate_template.py)."""
    dynamodb.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )
