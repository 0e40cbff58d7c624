"""The data stack's Personalize custom resources: their types and the properties the stack passes to the provider
function (`lambda_src/personalize_resources`). Both sides spell them from here.

Custom::PersonalizeSolution  Name, DatasetGroupArn, RecipeArn, PerformAutoTraining ("true"/"false": CloudFormation
                             hands every custom resource property over as a string)
    PhysicalResourceId = the solution ARN; Data {"solutionArn": ...}
                             EventType, EventValueThreshold (optional: the interactions it trains on)
Custom::PersonalizeFilter    Name, DatasetGroupArn, FilterExpression (a filter cannot be updated: a new expression
                             comes with a new name)
    PhysicalResourceId = the filter ARN; Data {"filterArn": ...}
Custom::PersonalizeDataset   Name, DatasetGroupArn, DatasetType, SchemaArn, Schema (the schema's JSON text, so that
                             a schema change can be checked against the previous one before anything is called)
    PhysicalResourceId = the dataset ARN; Data {"datasetArn": ...}
"""

from __future__ import annotations

SOLUTION_RESOURCE_TYPE = "Custom::PersonalizeSolution"
DATASET_RESOURCE_TYPE = "Custom::PersonalizeDataset"
FILTER_RESOURCE_TYPE = "Custom::PersonalizeFilter"

NAME = "Name"
DATASET_GROUP_ARN = "DatasetGroupArn"
RECIPE_ARN = "RecipeArn"
PERFORM_AUTO_TRAINING = "PerformAutoTraining"
DATASET_TYPE = "DatasetType"
SCHEMA_ARN = "SchemaArn"
SCHEMA = "Schema"
EVENT_TYPE = "EventType"
EVENT_VALUE_THRESHOLD = "EventValueThreshold"
FILTER_EXPRESSION = "FilterExpression"

SOLUTION_ARN_ATTRIBUTE = "solutionArn"
DATASET_ARN_ATTRIBUTE = "datasetArn"
FILTER_ARN_ATTRIBUTE = "filterArn"
