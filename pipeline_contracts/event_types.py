"""The interactions' event types as the stacks configure them and the Glue job writes them (EVENT_TYPE, EVENT_VALUE).

Standard library only (see the package docstring).
"""

from __future__ import annotations

import re

EVENT_TYPE_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,255}$")
"""An event type: Personalize's EventType is 1-256 characters; quotes, commas and separators are left out so that a
value needs no escaping in a CSV line, a job argument or a filter expression."""
EVENT_TYPE_ALLOWED = "1-256 letters, digits, '_', '.', ':' or '-', starting with a letter or digit (e.g. click)"
# "The maximum total number of optional metadata fields you can add to an Item interactions dataset, combined with
# total number of distinct event types in your Item interaction data, is 10" (EVENT_TYPE and EVENT_VALUE count).
MAX_EVENT_TYPES = 10 - 2
NO_COLUMN = "-"
"""A column job argument's value for "no such column" (Glue passes no empty argument values)."""
MAX_AGE_DAYS_MAX = 36_500
"""The largest recent window (`raw_max_age_days`, job argument --max_age_days), about a hundred years."""
NO_EVENT_TYPES = "-"
"""--trained_event_types's value for "no solution trains on one event type"."""
ALL_EVENT_TYPES = "*"
"""--keep_event_types's value for "keep every event type"."""

INTERACTIONS_FIELDS = ("USER_ID", "ITEM_ID", "TIMESTAMP", "EVENT_TYPE", "EVENT_VALUE")
"""The interactions schema's fields, in order: the same for every configuration (stacks/personalize.py builds the
schema; the doctor compares a deployed dataset's schema with them)."""
UPGRADE_GUIDE = "docs/operations.md, 'Upgrading to the event-type interactions schema'"
