"""Would a new synth of the app deploy over the previous one as an update? An offline model of what CloudFormation
does with a changed template, and of the changes it cannot carry out.

`plan_update(before, after)` compares two synths of the same app (templates by stack name, as JSON) resource by
resource and says, for each changed resource, whether CloudFormation updates it in place or replaces it:

- a resource is REPLACED when the value of one of its type's `createOnlyProperties` differs (from the
  CloudFormation registry schemas cfn-lint ships, `create_only_properties`), when its type changed, or when a
  create-only property refers (`Ref`, `Fn::GetAtt`, `Fn::Sub`, a weak cross-stack `Fn::GetStackOutput`, an
  `Fn::ImportValue`) to a replaced resource: transitively, to a fixed point. Any attribute of a replaced resource
  counts as changed, including those a replacement keeps (a name given in the template): conservative, it can
  only report a replacement too many, never one too few;
- it is UPDATED when its properties differ, or refer to a replaced resource.

The plan's `faults` are the changes that cannot deploy:

- a replaced resource that keeps its physical name (a top-level create-only property whose name ends in `Name`,
  e.g. Name, TableName, FunctionName, RoleName, LogGroupName: the same value before and after). CloudFormation
  creates the replacement before it deletes the old resource, and the name is still taken;
- a replaced resource of a type a parent holds one of (`ONE_PER_PARENT`, e.g. a Personalize dataset: one per
  dataset type and dataset group);
- a resource whose logical id changed (one removed, one added) while it keeps its name or its place in a parent;
- a custom resource whose update creates again what already exists: CDK's `AwsCustomResource` (the `Create` /
  `Update` JSON of {"service", "action", "parameters"}) runs its `Update` call on any change of its properties;
  a `create*` action with the same name as before fails with ResourceAlreadyExists. A custom resource of
  another provider is updated only if its type is in `CUSTOM_UPDATES_TESTED_ELSEWHERE` (the place that tests
  what its Update does); any other is a fault that asks for that entry.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import cfnlint  # type: ignore[import-untyped]

Templates = Mapping[str, Mapping[str, Any]]
"""An app's templates as JSON, by stack name."""

SCHEMA_DIR = Path(cfnlint.__file__).parent / "data" / "schemas" / "resources"

ONE_PER_PARENT: dict[str, tuple[tuple[str, ...], str]] = {
    # type -> (the properties that place it in its parent, why a second one cannot be created beside it)
    "AWS::Personalize::Dataset": (
        ("DatasetGroupArn", "DatasetType"),
        "a dataset group holds one dataset per type",
    ),
}

CUSTOM_UPDATES_TESTED_ELSEWHERE: dict[str, str] = {
    # Custom resource types of providers other than AwsCustomResource -> where the Update of its provider is tested
    # (what it does when its properties change: update in place, or create anew under a new name and let
    # CloudFormation delete the old one). The solutions' and datasets' provider (lambda_src/personalize_resources/)
    # keeps these types when it replaces the AwsCustomResource.
    "Custom::PersonalizeSolution": "lambda_src/personalize_resources/ provider tests (tests/personalize_resources/)",
    "Custom::PersonalizeDataset": "lambda_src/personalize_resources/ provider tests (tests/personalize_resources/)",
    "Custom::PersonalizeFilter": "lambda_src/personalize_resources/ provider tests (tests/personalize_resources/"
    "test_filters.py): a new expression comes with a new name, the Update creates that filter",
    "Custom::S3AutoDeleteObjects": "aws-cdk-lib's own provider: an Update only moves its deletion to the new "
    "bucket name, it creates nothing",
}

_PSEUDO_PARAMETER_PREFIX = "AWS::"


@dataclass(frozen=True, order=True)
class ResourceId:
    stack: str
    logical_id: str

    def __str__(self) -> str:
        return f"{self.stack}/{self.logical_id}"


Action = Literal["update", "replace", "add", "remove"]


@dataclass(frozen=True)
class Change:
    resource: ResourceId
    type: str
    action: Action
    why: str


@dataclass
class DeployPlan:
    changes: dict[ResourceId, Change] = field(default_factory=dict)
    faults: list[str] = field(default_factory=list)

    def of(self, action: Action) -> list[Change]:
        return sorted((c for c in self.changes.values() if c.action == action), key=lambda c: c.resource)

    def describe(self) -> str:
        """Every change, one per line, grouped by action (replacements first), then the faults."""
        lines = [
            f"  {change.action:8} {change.resource} ({change.type}): {change.why}"
            for action in ("replace", "remove", "add", "update")
            for change in self.of(action)
        ]
        lines += [f"  FAULT    {fault}" for fault in self.faults]
        return "\n".join(lines) or "  (no change)"


# --- the registry schemas ----------------------------------------------------------------------------------


@functools.cache
def create_only_properties() -> dict[str, tuple[tuple[str, ...], ...]]:
    """Resource type -> its create-only property paths, each as its steps below `properties`
    ("/properties/Foo/Bar" -> ("Foo", "Bar")), from every registry schema cfn-lint ships (the files are named by
    hash; each names its type in `typeName`)."""
    index: dict[str, tuple[tuple[str, ...], ...]] = {}
    for path in SCHEMA_DIR.glob("*.json"):
        schema = json.loads(path.read_text())
        index[schema["typeName"]] = tuple(
            tuple(pointer.split("/")[2:]) for pointer in schema.get("createOnlyProperties", [])
        )
    return index


def create_only_paths(resource_type: str) -> tuple[tuple[str, ...], ...]:
    try:
        return create_only_properties()[resource_type]
    except KeyError:
        raise KeyError(
            f"no CloudFormation registry schema for {resource_type} under {SCHEMA_DIR}: cannot tell which of its "
            "properties replace it (a newer cfn-lint may know the type)"
        ) from None


_ABSENT = object()


def value_at(properties: Mapping[str, Any], steps: tuple[str, ...]) -> Any:
    """The value at a property path (`_ABSENT` where it is not set); a `*` step maps over a list's items."""
    value: Any = properties
    for index, step in enumerate(steps):
        if step == "*" and isinstance(value, list):
            return [value_at({"item": item}, ("item", *steps[index + 1 :])) for item in value]
        if not isinstance(value, Mapping) or step not in value:
            return _ABSENT
        value = value[step]
    return value


def name_property(resource_type: str) -> str | None:
    """The property that names a resource of this type: a top-level create-only one ending in `Name`."""
    for steps in create_only_paths(resource_type):
        if len(steps) == 1 and steps[0].endswith("Name"):
            return steps[0]
    return None


# --- references ---------------------------------------------------------------------------------------------


def references(templates: Templates, stack: str, value: Any) -> Iterator[ResourceId]:
    """The resources a template value refers to: Ref, Fn::GetAtt, Fn::Sub variables, and through another stack's
    output (Fn::GetStackOutput, Fn::ImportValue) whatever that output's value refers to."""
    if isinstance(value, list):
        for item in value:
            yield from references(templates, stack, item)
        return
    if not isinstance(value, Mapping):
        return
    resources = templates[stack]["Resources"]
    reference = value.get("Ref")
    if isinstance(reference, str) and not reference.startswith(_PSEUDO_PARAMETER_PREFIX) and reference in resources:
        yield ResourceId(stack, reference)
    attribute = value.get("Fn::GetAtt")
    if isinstance(attribute, (list, str)):  # ["Id", "Attr"], or the short form "Id.Attr"
        yield ResourceId(stack, attribute[0] if isinstance(attribute, list) else attribute.split(".")[0])
    if "Fn::Sub" in value:
        yield from _sub_references(templates, stack, value["Fn::Sub"])
    for producer, output_value in _outputs_referred(templates, value):
        yield from references(templates, producer, output_value)
    for item in value.values():
        yield from references(templates, stack, item)


def _sub_references(templates: Templates, stack: str, substitution: Any) -> Iterator[ResourceId]:
    text, variables = (substitution[0], substitution[1]) if isinstance(substitution, list) else (substitution, {})
    rest = text
    while "${" in rest:
        name, _, rest = rest.split("${", 1)[1].partition("}")
        logical_id = name.split(".")[0]
        if not name.startswith("!") and logical_id not in variables and logical_id in templates[stack]["Resources"]:
            yield ResourceId(stack, logical_id)


def _outputs_referred(templates: Templates, value: Mapping[str, Any]) -> Iterator[tuple[str, Any]]:
    if "Fn::GetStackOutput" in value:
        reference = value["Fn::GetStackOutput"]
        producer = reference["StackName"]
        if isinstance(producer, str) and producer in templates:
            yield producer, templates[producer]["Outputs"][reference["OutputName"]]["Value"]
    if isinstance(value.get("Fn::ImportValue"), str):
        for producer, template in templates.items():
            for output in template.get("Outputs", {}).values():
                if output.get("Export", {}).get("Name") == value["Fn::ImportValue"]:
                    yield producer, output["Value"]


# --- CDK's AwsCustomResource -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class SdkCall:
    """One call of an AwsCustomResource (its `Create` or `Update` property), tokens as «...» placeholders."""

    service: str
    action: str
    parameters: Mapping[str, Any]

    @property
    def name(self) -> Any:
        """The name the call gives what it creates: `name`, or else the first parameter ending in `Name`."""
        if "name" in self.parameters:
            return self.parameters["name"]
        return next((v for k, v in sorted(self.parameters.items()) if k.endswith("Name")), None)

    @property
    def creates(self) -> bool:
        return self.action.lower().startswith("create")


def sdk_call(properties: Mapping[str, Any], which: Literal["Create", "Update"]) -> SdkCall | None:
    """The call in `properties[which]` (a JSON string, or CDK's Fn::Join of one with tokens), or None."""
    value = properties.get(which)
    if isinstance(value, Mapping) and "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        value = separator.join(part if isinstance(part, str) else _placeholder(part) for part in parts)
    if not isinstance(value, str):
        return None
    try:
        call = json.loads(value)
    except json.JSONDecodeError:
        return None
    if not isinstance(call, Mapping) or not {"service", "action"} <= call.keys():
        return None
    return SdkCall(call["service"], call["action"], call.get("parameters", {}))


def _placeholder(token: Any) -> str:
    """A token inside the call's JSON text, as text that stays valid inside a JSON string (no quotes)."""
    return "«" + json.dumps(token, sort_keys=True).replace('"', "") + "»"


def _previous_names(properties: Mapping[str, Any]) -> set[str]:
    """The names an AwsCustomResource of these properties created or updated its resource under."""
    calls = (sdk_call(properties, "Create"), sdk_call(properties, "Update"))
    return {_canonical(call.name) for call in calls if call is not None and call.name is not None}


def is_custom(resource_type: str) -> bool:
    return resource_type.startswith("Custom::") or resource_type == "AWS::CloudFormation::CustomResource"


# --- the plan ------------------------------------------------------------------------------------------------


def _resources(templates: Templates) -> dict[ResourceId, Mapping[str, Any]]:
    return {
        ResourceId(stack, logical_id): resource
        for stack, template in templates.items()
        for logical_id, resource in template.get("Resources", {}).items()
    }


def _canonical(value: Any) -> str:
    return json.dumps(None if value is _ABSENT else value, sort_keys=True)


class _Planner:
    def __init__(self, before: Templates, after: Templates) -> None:
        self.before, self.after = before, after
        self.old, self.new = _resources(before), _resources(after)
        self.plan = DeployPlan()

    def replaced(self) -> set[ResourceId]:
        return {rid for rid, change in self.plan.changes.items() if change.action == "replace"}

    def refers_to_replaced(self, rid: ResourceId, value: Any) -> ResourceId | None:
        replaced = self.replaced()
        return next((ref for ref in references(self.after, rid.stack, value) if ref in replaced), None)

    def run(self) -> DeployPlan:
        common = sorted(self.old.keys() & self.new.keys())
        for rid in common:
            self._direct_replacement(rid)
        while self._propagate_replacements(common):
            pass
        for rid in common:
            self._update(rid)
        for rid in sorted(self.old.keys() - self.new.keys()):
            self._record(rid, self.old[rid]["Type"], "remove", "gone from the new template")
        for rid in sorted(self.new.keys() - self.old.keys()):
            self._record(rid, self.new[rid]["Type"], "add", "new in the template")
        self._check_faults()
        return self.plan

    def _record(self, rid: ResourceId, resource_type: str, action: Action, why: str) -> None:
        self.plan.changes[rid] = Change(rid, resource_type, action, why)

    def _direct_replacement(self, rid: ResourceId) -> None:
        old, new = self.old[rid], self.new[rid]
        if old["Type"] != new["Type"]:
            self._record(rid, new["Type"], "replace", f"type changed from {old['Type']}")
            return
        if is_custom(new["Type"]):
            self._custom_replacement(rid)  # its provider, not CloudFormation, decides
            return
        for steps in create_only_paths(new["Type"]):
            was = value_at(old.get("Properties", {}), steps)
            now = value_at(new.get("Properties", {}), steps)
            if _canonical(was) != _canonical(now):
                why = f"create-only {'/'.join(steps)} changes from {_canonical(was)} to {_canonical(now)}"
                self._record(rid, new["Type"], "replace", why)
                return

    def _propagate_replacements(self, common: list[ResourceId]) -> bool:
        grew = False
        for rid in common:
            resource_type = self.new[rid]["Type"]
            if rid in self.plan.changes:
                continue
            if is_custom(resource_type):
                grew |= self._custom_replacement(rid)
                continue
            for steps in create_only_paths(resource_type):
                target = self.refers_to_replaced(rid, value_at(self.new[rid].get("Properties", {}), steps))
                if target is not None:
                    why = f"create-only {'/'.join(steps)} refers to replaced {target}"
                    self._record(rid, resource_type, "replace", why)
                    grew = True
                    break
        return grew

    def _custom_replacement(self, rid: ResourceId) -> bool:
        """An AwsCustomResource whose Update creates under a new name: a new physical resource, and CloudFormation
        deletes the old one (its physical id changed). True when it is recorded as replaced."""
        old, new = self.old[rid].get("Properties", {}), self.new[rid].get("Properties", {})
        update = sdk_call(new, "Update")
        if update is None or not update.creates or update.name is None:
            return False
        if _canonical(old) == _canonical(new) and self.refers_to_replaced(rid, new) is None:
            return False
        if _canonical(update.name) in _previous_names(old):
            return False  # the same name again: a fault, see `_custom_update_faults`
        why = f"its Update calls {update.service}.{update.action} under the new name {_canonical(update.name)}"
        self._record(rid, self.new[rid]["Type"], "replace", why)
        return True

    def _update(self, rid: ResourceId) -> None:
        if rid in self.plan.changes:
            return
        old, new = self.old[rid].get("Properties", {}), self.new[rid].get("Properties", {})
        target = self.refers_to_replaced(rid, new)
        if _canonical(old) != _canonical(new):
            changed = sorted(k for k in old.keys() | new.keys() if _canonical(old.get(k)) != _canonical(new.get(k)))
            self._record(rid, self.new[rid]["Type"], "update", "properties " + ", ".join(changed) + " change")
        elif target is not None:
            self._record(rid, self.new[rid]["Type"], "update", f"refers to replaced {target}")

    # --- faults ---------------------------------------------------------------------------------------------

    def _check_faults(self) -> None:
        for change in self.plan.of("replace"):
            self.plan.faults += self._replacement_faults(change)
        for change in self.plan.of("update"):
            if is_custom(change.type):
                self.plan.faults += self._custom_update_faults(change)
        self.plan.faults += self._rename_faults()

    def _replacement_faults(self, change: Change) -> list[str]:
        rid, faults = change.resource, []
        old, new = self.old[rid].get("Properties", {}), self.new[rid].get("Properties", {})
        if is_custom(change.type):
            return []  # replaced by its own provider, under a new name (`_custom_replacement`)
        name = name_property(change.type) if self.old[rid]["Type"] == change.type else None
        if name and name in new and _canonical(old.get(name, _ABSENT)) == _canonical(new[name]):
            if self.refers_to_replaced(rid, new[name]) is None:
                faults.append(
                    f"{rid} ({change.type}) is replaced ({change.why}) but keeps its {name} "
                    f"{_canonical(new[name])}: the new one cannot be created beside the old one"
                )
        if change.type in ONE_PER_PARENT:
            faults.append(f"{rid} ({change.type}) is replaced ({change.why}): {ONE_PER_PARENT[change.type][1]}")
        return faults

    def _custom_update_faults(self, change: Change) -> list[str]:
        rid = change.resource
        old, new = self.old[rid].get("Properties", {}), self.new[rid].get("Properties", {})
        update = sdk_call(new, "Update")
        if sdk_call(new, "Create") is not None or update is not None:  # CDK's AwsCustomResource
            if update is not None and update.creates and _canonical(update.name) in _previous_names(old):
                return [
                    f"{rid} ({change.type}, an AwsCustomResource) is updated ({change.why}) and its Update calls "
                    f"{update.service}.{update.action} with the same name {_canonical(update.name)} as before: "
                    "ResourceAlreadyExists"
                ]
            return []
        if change.type in CUSTOM_UPDATES_TESTED_ELSEWHERE:
            return []
        return [
            f"{rid} ({change.type}) is updated ({change.why}), and what its provider's Update does is checked "
            "nowhere: test it and add the type to CUSTOM_UPDATES_TESTED_ELSEWHERE (tests/support/deploy_sequence.py)"
        ]

    @staticmethod
    def _identity(resource: Mapping[str, Any]) -> str | None:
        """What two resources of one type cannot share at once: the name, or the place in a one-per-parent type."""
        resource_type, properties = resource["Type"], resource.get("Properties", {})
        if is_custom(resource_type):
            create = sdk_call(properties, "Create")
            if create is None or not create.creates:
                return None
            return _canonical(["create", create.service, create.action, create.name])
        if resource_type in ONE_PER_PARENT:
            return _canonical([properties.get(key) for key in ONE_PER_PARENT[resource_type][0]])
        name = name_property(resource_type)
        return _canonical(properties[name]) if name and name in properties else None

    def _rename_faults(self) -> list[str]:
        gone = {
            (self.old[c.resource]["Type"], self._identity(self.old[c.resource])): c.resource
            for c in self.plan.of("remove")
        }
        faults = []
        for change in self.plan.of("add"):
            identity = self._identity(self.new[change.resource])
            previous = gone.get((change.type, identity)) if identity is not None else None
            if previous is not None:
                faults.append(
                    f"{change.resource} ({change.type}) is added while {previous} is removed, with the same "
                    f"{'place' if change.type in ONE_PER_PARENT else 'name'} {identity}: CloudFormation creates the "
                    "new one before it deletes the old one"
                )
        return faults


def plan_update(before: Templates, after: Templates) -> DeployPlan:
    """What deploying `after` over a deployment of `before` does, and the faults that would stop it."""
    return _Planner(before, after).run()
