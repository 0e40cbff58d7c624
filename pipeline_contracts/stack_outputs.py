"""CloudFormation output names of the two stacks: what the stacks export and the operator CLI looks up.

An output name is the CLI's only coupling to a deployment (operators name a stack, never an ARN), so both
sides spell it from here; a renamed output is then a change in one place, and the tests check that every
name the CLI reads is one the synthesized stacks export.
"""

from __future__ import annotations

# Pipeline stack (`<prefix>-<environment>-pipeline`)
STATE_MACHINE_ARN = "StateMachineArn"
ALERT_TOPIC_ARN = "AlertTopicArn"
GLUE_JOB_NAME = "GlueJobName"
DASHBOARD_NAME = "DashboardName"

# Data stack (`<prefix>-<environment>-data`)
RAW_BUCKET_NAME = "RawBucketName"
TRANSFORMED_BUCKET_NAME = "TransformedBucketName"
ACCESS_LOGS_BUCKET_NAME = "AccessLogsBucketName"
DATA_KEY_ARN = "DataKeyArn"
PERSONALIZE_ROLE_ARN = "PersonalizeRoleArn"
DATASET_GROUP_ARN = "DatasetGroupArn"
SOLUTION_ARN = "SolutionArn"
ACCEPTED_VERSIONS_TABLE_NAME = "AcceptedVersionsTableName"

# On both stacks
CURATED_BUCKET_NAME = "CuratedBucketName"
SOLUTION_ARN_PARAMETER_NAME = "SolutionArnParameterName"

PIPELINE_STACK_OUTPUTS: tuple[str, ...] = (
    STATE_MACHINE_ARN,
    ALERT_TOPIC_ARN,
    CURATED_BUCKET_NAME,
    GLUE_JOB_NAME,
    DASHBOARD_NAME,
    SOLUTION_ARN_PARAMETER_NAME,
)
DATA_STACK_OUTPUTS: tuple[str, ...] = (
    RAW_BUCKET_NAME,
    TRANSFORMED_BUCKET_NAME,
    CURATED_BUCKET_NAME,
    ACCESS_LOGS_BUCKET_NAME,
    DATA_KEY_ARN,
    PERSONALIZE_ROLE_ARN,
    DATASET_GROUP_ARN,
    SOLUTION_ARN,
    SOLUTION_ARN_PARAMETER_NAME,
    ACCEPTED_VERSIONS_TABLE_NAME,
)
