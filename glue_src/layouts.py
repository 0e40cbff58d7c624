"""The input plan: the files to read grouped by their own header (the layout: where each configured column is),
the files skipped by rule and the files that cannot be used, found on the driver before Spark reads a row."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pyspark.sql import DataFrame, SparkSession

from glue_src.arguments import COLUMN_ARGUMENTS, EtlOptions
from pipeline_contracts.event_types import NO_COLUMN
from glue_src.inputs import (
    SKIP_RULES,
    inspect_file,
    list_files_with_skip_rules,
    path_key,
    read_text_lines,
    split_fields,
)
from glue_src.messages import EtlArgumentError, EtlInputError, files_message


@dataclass(frozen=True)
class Layout:
    """Where the columns are in the files of one group: field count, header names, positions."""

    field_count: int
    header: tuple[str, ...] | None
    user_index: int
    item_index: int
    timestamp_index: int
    # None: the column is not read (no rating; EVENT_TYPE a constant; EVENT_VALUE empty).
    rating_index: int | None = None
    event_index: int | None = None
    event_value_index: int | None = None

    @property
    def positions(self) -> dict[str, int]:
        every = {
            "user": self.user_index,
            "item": self.item_index,
            "rating": self.rating_index,
            "timestamp": self.timestamp_index,
            "event_type": self.event_index,
            "event_value": self.event_value_index,
        }
        return {name: index for name, index in every.items() if index is not None}


@dataclass
class LayoutGroup:
    """Files read together: one layout, the header lines met as their first lines."""

    layout: Layout
    files: list[str] = field(default_factory=list)
    header_lines: set[str] = field(default_factory=set)


@dataclass
class InputPlan:
    """What the driver found in the input before Spark reads it."""

    groups: list[LayoutGroup] = field(default_factory=list)
    blank_files: list[str] = field(default_factory=list)  # empty or only blank lines
    skipped: list[dict[str, str]] = field(default_factory=list)  # file, rule, why
    problems: list[dict[str, str]] = field(default_factory=list)  # file, problem

    @property
    def files_read(self) -> list[str]:
        return [path for group in self.groups for path in group.files] + self.blank_files

    def skip(self, path: str, rule: str) -> None:
        self.skipped.append({"file": path, "rule": rule, "why": SKIP_RULES[rule]})
        for files in [group.files for group in self.groups] + [self.blank_files]:
            if path in files:
                files.remove(path)

    def describe(self) -> dict[str, Any]:
        return {
            "files_read": len(self.files_read),
            "files_skipped": len(self.skipped),
            "layouts": [
                {"header": list(g.layout.header) if g.layout.header else None, "field_count": g.layout.field_count,
                 "positions": g.layout.positions, "files": g.files}
                for g in self.groups
            ],
            "blank_files": self.blank_files,
            "skipped": self.skipped,
            "problems": self.problems,
        }

    def raise_problems(self, input_uri: str, *, allow_empty: bool = False) -> None:
        """`allow_empty`: no rows to read is fine (an incremental run with nothing new keeps its history)."""
        if self.problems:
            raise EtlInputError(
                files_message(f"{len(self.problems)} input file(s) cannot be used", self.problems, "problem")
            )
        if not self.groups and not allow_empty:
            raise EtlInputError(
                f"--input_uri {input_uri} has no rows to read: {len(self.blank_files)} file(s) read, all empty or blank"
                + (f", {len(self.skipped)} skipped (see input.skipped)" if self.skipped else "")
            )


class LayoutMismatch(ValueError):
    """A file's first line does not have a configured column (by name, or at its position)."""

    def __init__(self, argument: str, column: str, fields: list[str], line: str) -> None:
        super().__init__(argument, column, fields, line)
        self.argument, self.column, self.fields, self.line = argument, column, fields, line

    def argument_message(self, options: EtlOptions, path: str) -> str:
        """When no file has the column: the argument is what is wrong."""
        if options.has_header:
            return (
                f"job argument --{self.argument} is {self.column!r}, which is not a column of the header of "
                f"{path} (delimiter {options.delimiter!r}): the header has "
                f"{', '.join(repr(n) for n in self.fields)}. Check --{self.argument}, --delimiter and --has_header."
            )
        return (
            f"job argument --{self.argument} is position {self.column}, but the first line of {path} "
            f"has {len(self.fields)} field(s) split by {options.delimiter!r}: {self.line[:200]!r}. "
            "Check the positions and --delimiter."
        )

    def file_problem(self, options: EtlOptions, working: LayoutGroup) -> str:
        """When other files have it: this file is what is wrong."""
        what = "header" if options.has_header else "first line"
        reference = options.delimiter.join(working.layout.header) if working.layout.header else None
        unlike = f" with header {reference!r}" if reference else f" ({working.layout.field_count} fields)"
        return (
            f"its {what} {self.line[:200]!r} has no column {self.column!r} (--{self.argument}), "
            f"unlike {working.files[0]}{unlike}"
        )


def file_layout(line: str, options: EtlOptions) -> Layout:
    """The layout of a file from its first non-blank line."""
    fields = split_fields(line, options.delimiter)
    positions: dict[str, int] = {}
    for name in COLUMN_ARGUMENTS:
        column = getattr(options, name)
        if column == NO_COLUMN:
            continue
        if options.has_header and column in fields:
            positions[name] = fields.index(column)
        elif column.isdigit() and int(column) < len(fields):
            positions[name] = int(column)
        else:
            raise LayoutMismatch(name, column, fields, line)
    distinct = [index for name, index in positions.items() if name != "event_value_column"]
    if len(set(distinct)) != len(distinct):
        raise EtlArgumentError(f"the column arguments resolve to the same position: {positions}")
    return Layout(
        field_count=len(fields),
        header=tuple(fields) if options.has_header else None,
        user_index=positions["user_column"],
        item_index=positions["item_column"],
        timestamp_index=positions["timestamp_column"],
        rating_index=positions.get("rating_column"),
        event_index=positions.get("event_type_column"),
        event_value_index=positions.get("event_value_column"),
    )


def plan_input(
    spark: SparkSession, options: EtlOptions, *, listing: list[tuple[str, str | None]] | None = None
) -> InputPlan:
    """Lists the input (or takes `listing`: (file, skip rule) pairs, e.g. only an incremental run's new and
    changed files), applies the skip rules and groups the files by their own layout.

    Raises EtlArgumentError when no file names the configured columns (an argument problem);
    files that cannot be used go to `problems` (the caller fails the run naming them)."""
    from concurrent.futures import ThreadPoolExecutor

    plan = InputPlan()
    readable = []
    for path, rule in list_files_with_skip_rules(spark, options.input_uri) if listing is None else listing:
        if rule:
            plan.skip(path, rule)
        else:
            readable.append(path)
    # Opening a file on S3 takes tens of milliseconds: read the heads of many files in parallel.
    with ThreadPoolExecutor(max_workers=8) as pool:
        # utf-8-sig: the byte-order mark stays on the first line, as Spark reads it (header matching drops it).
        codec = options.encoding.replace("utf-8-sig", "utf-8")
        inspected = list(pool.map(lambda path: (path, *inspect_file(spark, path, codec)), readable))
    mismatches: list[tuple[str, LayoutMismatch]] = []
    by_layout: dict[Layout, LayoutGroup] = {}
    for path, line, problem in inspected:
        if problem:
            plan.problems.append({"file": path, "problem": problem})
        elif line is None:
            plan.blank_files.append(path)
        else:
            try:
                layout = file_layout(line, options)
            except LayoutMismatch as mismatch:
                mismatches.append((path, mismatch))
                continue
            group = by_layout.setdefault(layout, LayoutGroup(layout))
            group.files.append(path)
            if options.has_header:
                group.header_lines.add(line)
    plan.groups = list(by_layout.values())
    _report_mismatches(plan, mismatches, options)
    return plan


def _report_mismatches(plan: InputPlan, mismatches: list[tuple[str, LayoutMismatch]], options: EtlOptions) -> None:
    """A file without the configured columns means a wrong argument when no file has them, and a
    wrong file (named with its first line and a file that works) when others do."""
    if mismatches and not plan.groups:
        path, mismatch = mismatches[0]
        raise EtlArgumentError(mismatch.argument_message(options, path))
    for path, mismatch in mismatches:
        plan.problems.append({"file": path, "problem": mismatch.file_problem(options, plan.groups[0])})


def read_group(spark: SparkSession, files: list[str], plan: InputPlan) -> DataFrame:
    """The text lines of a group's files; a file Spark's listing leaves out anyway is skipped
    (and listed) rather than lost."""
    raw = read_text_lines(spark, files)
    listed = {path_key(path, url_encoded=True) for path in raw.inputFiles()}
    for path in files:
        if path_key(path, url_encoded=False) not in listed:
            plan.skip(path, "not_listed_by_spark")
    return raw
