"""What the batch-planning functions may read, derived from each configuration's solutions."""

from __future__ import annotations

from typing import Any

from pipeline_contracts import run_layout
from pipeline_contracts.solutions import batch_input_entry
from tests.support.templates import as_list, resources, role_statements


def _role_of(template: dict[str, Any], handler: str) -> str:
    (function,) = [f for f in resources(template, "AWS::Lambda::Function").values() if f["Properties"]["Handler"] == handler]
    return function["Properties"]["Role"]["Fn::GetAtt"][0]


def _object_reads(template: dict[str, Any], role: str) -> list[str]:
    reads = []
    for statement in role_statements(template, role):
        if "s3:GetObject" in as_list(statement["Action"]):
            for resource in as_list(statement["Resource"]):
                parts = resource["Fn::Join"][1] if isinstance(resource, dict) else [resource]
                reads.append(str(parts[-1]))
    return reads


def test_the_plan_reads_the_input_files_of_exactly_the_kinds_that_count_them(
    configured_app: Any, configured_templates: dict[str, Any]
) -> None:
    """Every plan reads the ETL's summary (its per-file line counts); a kind with a per-job limit of its own (item
    affinity: 500 items, item-attribute affinity: 10 queries) also counts the lines of its input files the summary
    does not count, so its plan reads those folders. No plan reads anything else."""
    template = configured_templates[configured_app.pipeline_stack.stack_name].to_json()
    reads = _object_reads(template, _role_of(template, "batch_plan.handler.plan_batch_jobs"))
    counted = {
        "/" + run_layout.run_key("*", batch_input_entry(spec.input_kind, spec.name)) + "*"
        for spec in configured_app.config.solutions
        if spec.output_kind.max_job_records is not None
    }
    summary = "/" + run_layout.run_key("*", run_layout.SUMMARY)
    assert reads[0] == summary and sorted(reads[1:]) == sorted(counted)
