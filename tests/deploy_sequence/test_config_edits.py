"""Issue 17: every ordinary configuration edit deploys as an update of the running deployment.

Each group of edits (`edits.py`) is synthesized once and compared with its base configuration's synth (shared with
the other tests) by `tests/support/deploy_sequence.py`: the test fails when CloudFormation could not carry the change
out (a replacement that keeps a physical name, a second Personalize dataset of a type, a custom resource whose Update
creates again under the same name), naming the edited keys and the resources. With `-rA` (or `-s`) each group
prints which resources it updates, replaces, adds and removes.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from stacks.app_factory import named_configuration
from stacks.config import ConfigError, PipelineConfig
from tests.deploy_sequence.edits import GROUPS, NOT_EDITS, REFUSED, EditGroup, RefusedEdit
from tests.support.cdk_app import Synthesized, synth, templates_of
from tests.support.deploy_sequence import DeployPlan, Templates, plan_update

def _json(synthesized: Synthesized) -> Templates:
    return {name: template.to_json() for name, template in synthesized.templates.items()}


@pytest.fixture(scope="module")
def edited_templates(tmp_path_factory: pytest.TempPathFactory) -> Callable[[EditGroup], Templates]:
    """The templates of an edited configuration, synthesized once per group."""
    synthesized: dict[str, Templates] = {}

    def of(group: EditGroup) -> Templates:
        if group.name not in synthesized:
            app = synth(tmp_path_factory.mktemp("edited"), **group.context())
            synthesized[group.name] = {name: t.to_json() for name, t in templates_of(app).items()}
        return synthesized[group.name]

    return of


def _plan(group: EditGroup, synthesized_apps: Callable[[str], Synthesized], edited: Callable[[EditGroup], Templates]) -> DeployPlan:
    plan = plan_update(_json(synthesized_apps(group.base)), edited(group))
    print(f"\nEditing {group.base}: {group.keys}\n{plan.describe()}")
    return plan


@pytest.mark.parametrize(
    "group", [pytest.param(g, id=g.name) for g in GROUPS]
)
def test_edits_deploy_as_an_update(group: EditGroup, synthesized_apps, edited_templates) -> None:
    plan = _plan(group, synthesized_apps, edited_templates)
    changed_types = {change.type for change in plan.changes.values()}
    silent = [f"{edit} (changes no {', '.join(sorted(set(edit.touches) - changed_types))})"
              for edit in group.edits if not set(edit.touches) <= changed_types]
    assert silent == [], f"edits that do not reach the resources they configure: {silent}"
    assert plan.faults == [], (
        f"editing {group.base} ({group.keys}) cannot deploy as an update:\n" + "\n".join(plan.faults)
        + f"\nwhole plan:\n{plan.describe()}"
    )


def test_every_editable_key_is_edited_by_a_group() -> None:
    edited = {edit.key for group in GROUPS for edit in group.edits}
    assert set(PipelineConfig.keys()) - NOT_EDITS - edited == set()


@pytest.mark.parametrize("refused", REFUSED, ids=[r.name for r in REFUSED])
def test_edits_personalize_cannot_apply_are_refused_at_synth(refused: RefusedEdit, tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as raised:
        synth(tmp_path, **{**named_configuration(refused.base), **refused.overrides})
    assert refused.message in str(raised.value)


def _with_new_custom_resource_property(templates: Templates) -> Templates:
    """The templates as a CDK upgrade could re-serialise them: one more property on every custom resource (as
    aws-cdk-lib did when it added ServiceTimeout). Nothing in the configuration changed."""
    changed = copy.deepcopy(dict(templates))
    for template in changed.values():
        for resource in template["Resources"].values():
            if resource["Type"].startswith("Custom::"):
                resource["Properties"]["ServiceTimeout"] = "900"
                for call in ("Create", "Update"):
                    _add_to_call(resource["Properties"], call)
    return changed


def _add_to_call(properties: dict[str, Any], call: str) -> None:
    """An AwsCustomResource's call gains a key, as a new CDK release may write one (e.g. a logging setting)."""
    value = properties.get(call)
    if isinstance(value, str):
        properties[call] = json.dumps({**json.loads(value), "logApiResponseData": False})
    elif isinstance(value, dict) and "Fn::Join" in value:
        parts = value["Fn::Join"][1]
        parts[-1] = parts[-1][:-1] + ',"logApiResponseData":false}'


def test_a_cdk_upgrade_that_reserialises_the_custom_resources_deploys(synthesized_apps) -> None:
    base = _json(synthesized_apps("full"))
    plan = plan_update(base, _with_new_custom_resource_property(base))
    print(f"\nCustom resources re-serialised:\n{plan.describe()}")
    updated = {change.type for change in plan.of("update")} | {change.type for change in plan.of("replace")}
    assert "Custom::PersonalizeSolution" in updated
    assert plan.faults == [], "\n".join(plan.faults)
