"""CloudFormation output names of the two stacks: what the stacks export and the operator CLI looks up.

An output name is the CLI's only coupling to a deployment (operators name a stack, never an ARN), so both
sides spell it from here; a renamed output is then a change in one place, and the tests check that every
name the CLI reads is one the synthesized stacks export.
"""

from __future__ import annotations

# Pipeline stack (`<prefix>-<environment>-pipeline`)
STATE_MACHINE_ARN = "StateMachineArn"
ALERT_TOPIC_ARN = "AlertTopicArn"
NOTICES_TOPIC_ARN = "NoticesTopicArn"
GLUE_JOB_NAME = "GlueJobName"
DASHBOARD_NAME = "DashboardName"

# Data stack (`<prefix>-<environment>-data`)
RAW_BUCKET_NAME = "RawBucketName"
TRANSFORMED_BUCKET_NAME = "TransformedBucketName"
ACCESS_LOGS_BUCKET_NAME = "AccessLogsBucketName"
DATA_KEY_ARN = "DataKeyArn"
PERSONALIZE_ROLE_ARN = "PersonalizeRoleArn"
DATASET_GROUP_ARN = "DatasetGroupArn"
SOLUTION_ARNS = "SolutionArns"
"""Every configured solution's ARN, comma-separated, in the order of `SolutionArnParameterNames`."""
ACCEPTED_VERSIONS_TABLE_NAME = "AcceptedVersionsTableName"

# On both stacks
CURATED_BUCKET_NAME = "CuratedBucketName"
SOLUTION_ARN_PARAMETER_NAMES = "SolutionArnParameterNames"
"""Every configured solution's SSM parameter (holding its ARN), comma-separated, in config order."""
LIST_SEPARATOR = ","
"""How the list outputs join their items (CloudFormation outputs are strings)."""

PIPELINE_STACK_OUTPUTS: tuple[str, ...] = (
    STATE_MACHINE_ARN,
    ALERT_TOPIC_ARN,
    NOTICES_TOPIC_ARN,
    CURATED_BUCKET_NAME,
    GLUE_JOB_NAME,
    DASHBOARD_NAME,
    SOLUTION_ARN_PARAMETER_NAMES,
)
DATA_STACK_OUTPUTS: tuple[str, ...] = (
    RAW_BUCKET_NAME,
    TRANSFORMED_BUCKET_NAME,
    CURATED_BUCKET_NAME,
    ACCESS_LOGS_BUCKET_NAME,
    DATA_KEY_ARN,
    PERSONALIZE_ROLE_ARN,
    DATASET_GROUP_ARN,
    SOLUTION_ARNS,
    SOLUTION_ARN_PARAMETER_NAMES,
    ACCEPTED_VERSIONS_TABLE_NAME,
)


def split_list(value: str | None) -> list[str]:
    """The items of a list output (`SolutionArnParameterNames`, `SolutionArns`); [] for an absent or empty one."""
    return [item.strip() for item in (value or "").split(LIST_SEPARATOR) if item.strip()]
