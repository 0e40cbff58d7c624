"""The state machine's graph as indented text: `python -m pipeline_cli graph`.

Read from a synthesized template (offline, `cdk.out/<stack>.template.json`) or a deployed machine's definition.
Pure: `render_graph(definition)` walks the ASL from `StartAt` in run order. Each state is printed once, with its type;
a transition to a state printed before is shown as `↺ <state>` (the polling and busy loops), Choice rules and Catch
edges name their targets, and the branches of a Parallel and the item processor of a Map are indented under it
(a distributed Map says so, with its item reader).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

INDENT = "  "


def render_graph(definition: Mapping[str, Any], *, outline: bool = False) -> str:
    """The graph of an ASL definition (a dict with StartAt and States) as lines of text.

    `outline`: one line per stage instead of per state: states named `<stage>: <step>` (e.g. every state of a
    Personalize job's create/poll loop, "users training: ...") are shown as their stage, with the number of states
    and where the stage leads."""
    return "\n".join(_outline(definition, 0) if outline else _walk(definition, 0))


def stage_of(name: str) -> str:
    """`users training: create job` -> `users training`; a name without ': ' is its own stage."""
    return name.split(": ", 1)[0]


def _outline(machine: Mapping[str, Any], depth: int) -> Iterator[str]:
    states: Mapping[str, Mapping[str, Any]] = machine["States"]
    members: dict[str, list[str]] = {}
    for name in states:
        members.setdefault(stage_of(name), []).append(name)
    printed: set[str] = set()
    stack = [stage_of(machine["StartAt"])]
    pad = INDENT * depth
    while stack:
        stage = stack.pop()
        if stage in printed:
            continue
        printed.add(stage)
        names = members[stage]
        exits = list(
            dict.fromkeys(
                stage_of(target) for name in names for target in _targets(states[name]) if stage_of(target) != stage
            )
        )
        described = _describe(states[names[0]]) if len(names) == 1 else f"{len(names)} states"
        yield f"{pad}{stage}  [{described}]"
        for name in names:
            yield from _nested_outline(states[name], depth)
        if exits:
            yield f"{pad}{INDENT}-> {' | '.join(exits)}"
        stack.extend(reversed([target for target in exits if target not in printed]))


def _walk(machine: Mapping[str, Any], depth: int) -> Iterator[str]:
    """Depth first from StartAt, so a path is read to its end before the branches it skipped."""
    states: Mapping[str, Mapping[str, Any]] = machine["States"]
    printed: set[str] = set()
    stack = [machine["StartAt"]]
    while stack:
        name = stack.pop()
        if name in printed:
            continue
        printed.add(name)
        yield from _state(name, states[name], depth)
        stack.extend(reversed([target for target in _targets(states[name]) if target not in printed]))


def _nested_outline(state: Mapping[str, Any], depth: int) -> Iterator[str]:
    pad = INDENT * depth
    if state["Type"] == "Parallel":
        for index, branch in enumerate(state["Branches"], 1):
            yield f"{pad}{INDENT}branch {index}:"
            yield from _outline(branch, depth + 2)
    if state["Type"] == "Map":
        yield f"{pad}{INDENT}each item ({_describe(state)}):"
        yield from _outline(state.get("ItemProcessor") or state.get("Iterator") or {}, depth + 2)


def _targets(state: Mapping[str, Any]) -> list[str]:
    """Where a state can go next: Next, Choice rules, Default, then Catch targets (error paths last)."""
    targets = [state["Next"]] if "Next" in state else []
    targets += [rule["Next"] for rule in state.get("Choices", ())]
    targets += [state["Default"]] if "Default" in state else []
    targets += [catcher["Next"] for catcher in state.get("Catch", ())]
    return targets


def _state(name: str, state: Mapping[str, Any], depth: int) -> Iterator[str]:
    pad = INDENT * depth
    kind = state["Type"]
    yield f"{pad}{name}  [{_describe(state)}]"
    if "Next" in state:
        yield f"{pad}{INDENT}-> {state['Next']}"
    for rule in state.get("Choices", ()):
        yield f"{pad}{INDENT}when {_condition(rule)} -> {rule['Next']}"
    if "Default" in state:
        yield f"{pad}{INDENT}otherwise -> {state['Default']}"
    if kind == "Parallel":
        for index, branch in enumerate(state["Branches"], 1):
            yield f"{pad}{INDENT}branch {index}:"
            yield from _walk(branch, depth + 2)
    if kind == "Map":
        processor = state.get("ItemProcessor") or state.get("Iterator") or {}
        yield f"{pad}{INDENT}each item:"
        yield from _walk(processor, depth + 2)
    for catcher in state.get("Catch", ()):
        yield f"{pad}{INDENT}catch {', '.join(catcher['ErrorEquals'])} -> {catcher['Next']}"


def _describe(state: Mapping[str, Any]) -> str:
    kind = state["Type"]
    if kind == "Task":
        resource = str(state.get("Resource", ""))
        return f"Task {resource.rsplit(':::', 1)[-1] if ':::' in resource else resource}"
    if kind == "Wait":
        return f"Wait {state.get('Seconds', state.get('SecondsPath', ''))} s"
    if kind == "Map":
        config = (state.get("ItemProcessor") or {}).get("ProcessorConfig", {})
        if config.get("Mode") == "DISTRIBUTED":
            # Items read from S3 (a batch-job list), or a list in the state data (the one-item list that gives an
            # import or a solution a child execution of its own).
            reader = state.get("ItemReader", {}).get("Resource", "").rsplit(":::", 1)[-1] or state.get("ItemsPath", "$")
            concurrency = state.get("MaxConcurrencyPath", state.get("MaxConcurrency", "unbounded"))
            return (
                f"Map, distributed ({config.get('ExecutionType', '')} children), items from {reader}, "
                f"at most {concurrency} at once"
            )
        return f"Map, inline, at most {state.get('MaxConcurrency', 'unbounded')} at once"
    if kind == "Fail":
        return f"Fail {state.get('Error', '')}"
    return kind


def _condition(rule: Mapping[str, Any]) -> str:
    for combinator in ("And", "Or"):
        if combinator in rule:
            return f" {combinator.lower()} ".join(f"({_condition(part)})" for part in rule[combinator])
    if "Not" in rule:
        return f"not ({_condition(rule['Not'])})"
    variable = rule.get("Variable", "")
    for key, value in rule.items():
        if key not in ("Variable", "Next"):
            return f"{variable} {key} {json.dumps(value)}"
    return variable


def definition_from_template(template: Mapping[str, Any]) -> dict[str, Any]:
    """The state machine's definition from a synthesized template: the `DefinitionString`'s `Fn::Join`, with each
    reference shown as `<LogicalId>` (the graph needs no real ARNs)."""
    machines = [
        resource
        for resource in template.get("Resources", {}).values()
        if resource.get("Type") == "AWS::StepFunctions::StateMachine"
    ]
    if len(machines) != 1:
        raise ValueError(f"expected one AWS::StepFunctions::StateMachine in the template, found {len(machines)}")
    text = machines[0]["Properties"]["DefinitionString"]
    if isinstance(text, Mapping) and "Fn::Join" in text:
        separator, parts = text["Fn::Join"]
        text = separator.join(part if isinstance(part, str) else _placeholder(part) for part in parts)
    return json.loads(text)


def _placeholder(reference: Mapping[str, Any]) -> str:
    ((function, argument),) = reference.items()
    if function == "Ref":
        return f"<{argument}>"
    if function == "Fn::GetAtt":
        return f"<{argument[0] if isinstance(argument, list) else argument}>"
    return f"<{function}>"
