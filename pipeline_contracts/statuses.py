"""Status words shared by the state machine, the alerting and the operator CLI.

Two different vocabularies, kept apart by name so that "failed" never means two things:
Amazon Personalize job statuses (what a Describe call reports) and Step Functions execution statuses.
"""

from __future__ import annotations

# Amazon Personalize: ACTIVE is done; these end a job without a result; anything else is still running.
PERSONALIZE_DONE_STATUS = "ACTIVE"
PERSONALIZE_FAILED_STATUSES: tuple[str, ...] = ("CREATE FAILED", "CREATE STOPPED")

# Step Functions executions that ended without success (what the alert rule and the CLI's exit code 1 mean).
EXECUTION_NOT_SUCCEEDED_STATUSES: tuple[str, ...] = ("FAILED", "TIMED_OUT", "ABORTED")
