"""The configuration edits an operator may make to a deployed app, in groups that share one synth each.

Every key of `PipelineConfig` but `prefix` and `environment` (which name another deployment, not an edit of this
one) is edited by at least one group (`tests/deploy_sequence/test_config_edits.py` checks that). A group changes
many keys at once over one named configuration; each `Edit` says which resource types the key must change, so a
key that silently stopped reaching the templates fails its group too.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from stacks.app_factory import named_configuration

FULL = named_configuration("full")
NOT_EDITS = frozenset({"prefix", "environment"})
"""Keys that name a deployment: another value is another deployment, not an update of this one."""

SCHEDULE, GLUE_JOB, MACHINE = "AWS::Scheduler::Schedule", "AWS::Glue::Job", "AWS::StepFunctions::StateMachine"
# Items / Users datasets are custom resources (schema replaced in place); the interactions dataset is not edited.
SOLUTION, DATASET, SCHEMA = "Custom::PersonalizeSolution", "Custom::PersonalizeDataset", "AWS::Personalize::Schema"
FILTER = "Custom::PersonalizeFilter"


@dataclass(frozen=True)
class Edit:
    key: str
    value: Any
    touches: tuple[str, ...]
    """Resource types the edit must change (update, replace, add or remove)."""
    what: str = ""
    """For a structured value: what changes (e.g. "add solution users_new")."""

    def __str__(self) -> str:
        return f"{self.key} ({self.what})" if self.what else f"{self.key}={self.value!r}"


@dataclass(frozen=True)
class EditGroup:
    name: str
    base: str
    """The named configuration the edits are made to (its synth is shared with the other tests)."""
    edits: tuple[Edit, ...]

    def context(self) -> dict[str, Any]:
        """The `synth` overrides of the edited configuration: synthesized as the default configuration with the
        base's keys and the edits given as context (a named configuration's file would win over the edits)."""
        return {**named_configuration(self.base), **{edit.key: edit.value for edit in self.edits}}

    @property
    def keys(self) -> str:
        return ", ".join(str(edit) for edit in self.edits)


def _items_and_users_with_one_more_field() -> tuple[dict[str, Any], dict[str, Any]]:
    items, users = copy.deepcopy(FULL["items_dataset"]), copy.deepcopy(FULL["users_dataset"])
    items["fields"].append({"name": "STUDIO", "type": "categorical"})
    items["sources"][0]["columns"]["STUDIO"] = "studio"
    users["fields"].append({"name": "COUNTRY", "type": "categorical"})
    users["sources"][0]["columns"]["COUNTRY"] = "country"
    return items, users


def _items_with_one_more_source() -> dict[str, Any]:
    """The same fields; YEAR now read from a source of its own."""
    items = copy.deepcopy(FULL["items_dataset"])
    del items["sources"][0]["columns"]["YEAR"]
    items["sources"].append({"prefix": "items/years/", "delimiter": "\\t", "id_column": "id", "columns": {"YEAR": "year"}})
    return items


def _reshaped_solutions() -> list[dict[str, Any]]:
    """full.json's solutions with one removed, one added, and each kept one changed in another setting."""
    solutions = {entry["name"]: dict(entry) for entry in copy.deepcopy(FULL["solutions"])}
    del solutions["similar"]
    # users takes the top-level training_mode now (FULL_REVERSED sets it to FULL: v2 has no UPDATE training).
    solutions["users"]["recipe"] = "aws-user-personalization-v2"
    del solutions["users"]["training_mode"]
    solutions["segments"].update(num_results=200, perform_auto_training=False)
    solutions["genre_fans"]["queries"].append('ITEMS.GENRES = "Horror"')
    del solutions["genre_fans"]["filter"]  # its filter reads the Users dataset, disabled in the same edit
    solutions["users_new"] = {"name": "users_new", "recipe": "aws-user-personalization", "training_mode": "FULL"}
    return list(solutions.values())


def _filters_with_changed_expression() -> list[dict[str, Any]]:
    """full.json's filters, the one of solution users (`unrated`) with another expression: a filter cannot be
    updated, so this deploys as a new filter (a new name) and the deletion of the old one."""
    filters = copy.deepcopy(FULL["filters"])
    for entry in filters:
        if entry["name"] == "unrated":
            entry["expression"] = 'EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("rating", "view")'
    return filters


_ITEMS_WITH_FIELD, _USERS_WITH_FIELD = _items_and_users_with_one_more_field()

DEFAULT_EVERYTHING = EditGroup(
    "default: every scalar key, datasets enabled",
    "default",
    (
        Edit("schedule_enabled", False, (SCHEDULE,)),
        Edit("schedule_expression", "rate(1 day)", (SCHEDULE,)),
        Edit("schedule_timezone", "Europe/Berlin", (SCHEDULE,)),
        Edit("min_rating", 4.0, (GLUE_JOB,)),
        Edit("etl_incremental", True, (GLUE_JOB, MACHINE, "AWS::IAM::Policy")),
        Edit("etl_full_rebuild_every_days", 3, (GLUE_JOB,)),
        Edit("raw_prefix", "ratings-v2/", (GLUE_JOB, "AWS::IAM::Policy")),
        Edit("raw_delimiter", ",", (GLUE_JOB,)),
        Edit("raw_has_header", False, (GLUE_JOB,)),
        Edit("raw_user_column", "0", (GLUE_JOB,)),
        Edit("raw_item_column", "1", (GLUE_JOB,)),
        Edit("raw_rating_column", "2", (GLUE_JOB,)),
        Edit("raw_timestamp_column", "3", (GLUE_JOB,)),
        Edit("raw_timestamp_unit", "s", (GLUE_JOB,)),
        Edit("raw_encoding", "latin-1", (GLUE_JOB,)),
        Edit("raw_event_type_column", "4", (GLUE_JOB,)),
        Edit("default_event_type", "view", (GLUE_JOB,)),
        Edit("raw_event_value_column", "2", (GLUE_JOB,)),
        Edit("keep_event_types", ["view", "click"], (GLUE_JOB,)),
        Edit("raw_max_age_days", 90, (GLUE_JOB,)),
        Edit("glue_worker_type", "G.2X", (GLUE_JOB,)),
        Edit("glue_worker_count", 4, (GLUE_JOB,)),
        Edit("glue_timeout_minutes", 90, (GLUE_JOB,)),
        Edit("glue_execution_class", "FLEX", (GLUE_JOB,)),
        Edit("recipe", "aws-user-personalization-v2", (SOLUTION,)),
        Edit("perform_auto_training", True, (SOLUTION,)),
        Edit("import_mode", "INCREMENTAL", (MACHINE,)),
        Edit("num_results", 50, (MACHINE,)),
        Edit("filter_arn", "arn:aws:personalize:us-east-1:123456789012:filter/pbp-dev-filter", (MACHINE,)),
        Edit("exploration_weight", 0.5, (MACHINE,)),
        Edit("exploration_item_age_cut_off_days", 10, (MACHINE,)),
        Edit("batch_items_top_n", 100, (GLUE_JOB,)),
        Edit("status_poll_seconds", 120, (MACHINE,)),
        Edit("busy_retry_seconds", 120, (MACHINE,)),
        Edit("busy_retry_max_attempts", 30, (MACHINE,)),
        Edit("job_max_wait_hours", 10, (MACHINE,)),
        Edit("execution_timeout_hours", 30, (MACHINE,)),
        Edit("notification_email", "ops@example.com", ("AWS::SNS::Subscription",), "set"),
        Edit("notices_email", "team@example.com", ("AWS::SNS::Subscription",), "set"),
        Edit("quality_gate_metric", "precision_at_25", (MACHINE,)),
        Edit("quality_gate_min_value", 0.05, (MACHINE,)),
        Edit("quality_gate_max_relative_drop", 0.2, (MACHINE,)),
        Edit("quality_gate_on_fail", "use_last_accepted", (MACHINE,)),
        Edit("quality_gate_on_missing_metric", "accept", (MACHINE,)),
        Edit("prices", {"glue_standard_per_dpu_hour": 0.5}, (MACHINE,)),
        Edit("freshness_max_age_hours", 100, ("AWS::CloudWatch::Alarm",)),
        Edit("data_removal_policy", "DESTROY", ("AWS::KMS::Key", "Custom::S3AutoDeleteObjects"), "RETAIN -> DESTROY"),
        Edit("items_dataset", FULL["items_dataset"], (DATASET, SCHEMA), "enable from empty"),
        Edit("users_dataset", FULL["users_dataset"], (DATASET, SCHEMA), "enable from empty"),
    ),
)

FULL_REVERSED = EditGroup(
    "full: options unset, solutions reshaped, users disabled, items source added",
    "full",
    (
        Edit("notification_email", "", ("AWS::SNS::Subscription",), "unset"),
        Edit("notices_email", "", ("AWS::SNS::Subscription",), "unset"),
        Edit("data_removal_policy", "RETAIN", ("AWS::KMS::Key", "Custom::S3AutoDeleteObjects"), "DESTROY -> RETAIN"),
        Edit("filter_arn", "", (MACHINE,)),
        Edit("exploration_weight", "", (MACHINE,)),
        Edit("exploration_item_age_cut_off_days", "", (MACHINE,)),
        Edit("prices", {}, (MACHINE,)),
        Edit("import_mode", "FULL", (MACHINE,)),
        Edit("training_mode", "FULL", (MACHINE,), "UPDATE -> FULL, which solution users now takes"),
        Edit("retrain", {"full_every_days": 0}, (MACHINE,), "cadence off, except segments' own"),
        Edit(
            "solutions",
            _reshaped_solutions(),
            (SOLUTION, "AWS::SSM::Parameter", MACHINE, "AWS::CloudWatch::Dashboard"),
            "remove similar, add users_new; users: recipe v2, top-level training_mode; segments: num_results and "
            "perform_auto_training; genre_fans: one more query",
        ),
        Edit("users_dataset", "", (DATASET, SCHEMA), "disable"),
        Edit("filters", [f for f in FULL["filters"] if f["name"] != "adults"], (FILTER,), "remove adults"),
        Edit("items_dataset", _items_with_one_more_source(), (GLUE_JOB,), "add a source"),
    ),
)

FULL_FIELDS_ADDED = EditGroup(
    "full: a field added to the items and the users dataset",
    "full",
    (
        Edit("items_dataset", _ITEMS_WITH_FIELD, (DATASET, SCHEMA, GLUE_JOB), "add field STUDIO"),
        Edit("users_dataset", _USERS_WITH_FIELD, (DATASET, SCHEMA, GLUE_JOB), "add field COUNTRY"),
        # The pipeline does not change: its runs read the new filter's ARN from the parameter, whose value (GetAtt of
        # the replaced filter) CloudFormation rewrites in the data stack's update, before the old filter's deletion.
        Edit("filters", _filters_with_changed_expression(), (FILTER,), "unrated: another expression"),
    ),
)

GROUPS = (DEFAULT_EVERYTHING, FULL_REVERSED, FULL_FIELDS_ADDED)


@dataclass(frozen=True)
class RefusedEdit:
    """An edit Personalize cannot apply to a deployment: synth must refuse it with a ConfigError naming the key."""

    name: str
    base: str
    overrides: dict[str, Any]
    message: str
    """A part of the ConfigError's message (the key, and what is allowed)."""


def _full_with_solution_setting(name: str, **settings: Any) -> list[dict[str, Any]]:
    return [{**entry, **settings} if entry["name"] == name else entry for entry in copy.deepcopy(FULL["solutions"])]


REFUSED = (
    RefusedEdit(
        "interaction filter for Item-Attribute-Affinity",
        "full",
        {"solutions": _full_with_solution_setting("genre_fans", filter="unrated")},
        "'solutions[3].filter' has value 'unrated'; allowed: a filter of UserID expressions",
    ),
    RefusedEdit(
        "filter reading a dataset that is disabled",
        "full",
        {"users_dataset": "", "solutions": _full_with_solution_setting("genre_fans", filter=None)},
        "filter 'adults' at character 22: 'Users.AGE_GROUP' reads the Users dataset, which is not configured",
    ),
    RefusedEdit(
        "items dataset disabled under segment solutions",
        "full",
        {
            "items_dataset": "",
            "filters": [f for f in FULL["filters"] if f["name"] != "genre_pick"],  # it reads the Items dataset
            "solutions": _full_with_solution_setting("similar", filter=None),
        },
        "'solutions[2].recipe' has value 'aws-item-affinity'",
    ),
    RefusedEdit(
        "UPDATE training for a recipe without it",
        "full",
        {"solutions": _full_with_solution_setting("similar", training_mode="UPDATE")},
        "'solutions[1].training_mode' has value 'UPDATE'; allowed: FULL when recipe is aws-similar-items",
    ),
    RefusedEdit(
        "an UPDATE cadence for a solution training FULL",
        "full",
        {"solutions": _full_with_solution_setting("similar", retrain={"update_every_days": 7})},
        "'solutions[1].retrain.update_every_days' has value 7; allowed: 0 when training_mode is FULL",
    ),
    RefusedEdit(
        "an UPDATE cadence not shorter than the FULL one",
        "full",
        {"retrain": {"full_every_days": 7, "update_every_days": 7}},
        "'retrain.update_every_days' has value 7; allowed: 0, or fewer days than full_every_days (7)",
    ),
    RefusedEdit(
        "UPDATE training for User-Personalization-v2",
        "default",
        {"recipe": "aws-user-personalization-v2", "training_mode": "UPDATE"},
        "'training_mode' has value 'UPDATE'; allowed: FULL when recipe is aws-user-personalization-v2",
    ),
)
