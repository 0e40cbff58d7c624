"""Drops the DependsOn entries CloudFormation already infers from a reference (cfn-lint W3005).

aws-cdk-lib's Lambda `Function` and `StateMachine` (and our own `PipelineFunction`) depend on their
role *construct*, which CDK expands to a DependsOn on every resource under it: the role, which the
resource already references through `Fn::GetAtt` (redundant: CloudFormation orders by references),
and the role's DefaultPolicy, which it does not reference and which is the dependency that matters
(the policy must exist before the first invocation or execution).

CDK turns construct dependencies into DependsOn while it prepares the app, after aspects have run;
node validations run right after that and before the templates are written, so the pruning is a
validation that never reports an error. It runs on every synth (tests synthesize more than once).
"""

from __future__ import annotations

from typing import Any
from collections.abc import Iterator

import aws_cdk as cdk
import jsii
from constructs import IValidation


def referenced_logical_ids(value: Any) -> set[str]:
    """Logical ids a resolved CloudFormation value refers to through Ref, Fn::GetAtt or Fn::Sub."""
    return set(_references(value))


def _references(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        if isinstance(value.get("Ref"), str):
            yield value["Ref"]
        if isinstance(value.get("Fn::GetAtt"), list):
            yield value["Fn::GetAtt"][0]
        substitution = value.get("Fn::Sub")
        if substitution is not None:
            template = substitution[0] if isinstance(substitution, list) else substitution
            yield from (name.split(".")[0] for name in _sub_variables(template))
        for item in value.values():
            yield from _references(item)
    elif isinstance(value, list):
        for item in value:
            yield from _references(item)


def _sub_variables(template: str) -> list[str]:
    names, rest = [], template
    while "${" in rest:
        rest = rest.split("${", 1)[1]
        name, _, rest = rest.partition("}")
        if not name.startswith("!"):
            names.append(name)
    return names


def prune_redundant_dependencies(stack: cdk.Stack) -> None:
    """Removes, on every synth of `stack`, each DependsOn entry its resource already references."""
    stack.node.add_validation(_RedundantDependencyPruning(stack))


@jsii.implements(IValidation)
class _RedundantDependencyPruning:
    def __init__(self, stack: cdk.Stack) -> None:
        self._stack = stack

    def validate(self) -> list[str]:
        for resource in _cfn_resources(self._stack):
            referenced = referenced_logical_ids(self._stack.resolve(resource._cfn_properties))
            for dependency in resource.obtain_dependencies():
                if not isinstance(dependency, cdk.CfnResource):  # a whole stack: never this stack's own resource
                    continue
                local = cdk.Stack.of(dependency) is self._stack
                if local and self._stack.resolve(self._stack.get_logical_id(dependency)) in referenced:
                    resource.remove_resource_dependency(dependency)
        return []


def _cfn_resources(stack: cdk.Stack) -> list[cdk.CfnResource]:
    return [
        node
        for node in stack.node.find_all()
        if isinstance(node, cdk.CfnResource) and cdk.Stack.of(node) is stack
    ]
