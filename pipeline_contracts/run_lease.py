"""The run lease's table: its key and TTL attribute, spelled once for the stack that creates the table and the
function that writes it (a TTL on an attribute the function never writes would silently never expire anything)."""

from __future__ import annotations

KEY_ATTRIBUTE = "pk"
"""The table's partition key (string)."""
EXPIRY_ATTRIBUTE = "expiresAt"
"""When the lease expires (number, epoch seconds): the table's TTL attribute."""
