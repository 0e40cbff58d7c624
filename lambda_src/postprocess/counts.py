"""What flattening one `.out` file produced (added up block by block)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class FlattenCounts:
    """What one file produced. `errored_lines` counts every line written to the errors output
    (Personalize errors *and* malformed lines); `malformed_lines` is the malformed part of it."""

    lines: int = 0
    users_with_recommendations: int = 0
    items_written: int = 0
    errored_lines: int = 0
    malformed_lines: int = 0
    blank_lines: int = 0
    fast_path_lines: int = 0
    items_per_user: dict[int, int] = field(default_factory=dict)
    """Histogram over lines that succeeded: number of recommended items -> number of lines."""

    def add(self, other: FlattenCounts) -> None:
        self.lines += other.lines
        self.users_with_recommendations += other.users_with_recommendations
        self.items_written += other.items_written
        self.errored_lines += other.errored_lines
        self.malformed_lines += other.malformed_lines
        self.blank_lines += other.blank_lines
        self.fast_path_lines += other.fast_path_lines
        hist = self.items_per_user
        for n, k in other.items_per_user.items():
            hist[n] = hist.get(n, 0) + k

    def as_dict(self) -> dict[str, Any]:
        return {
            "lines": self.lines,
            "users_with_recommendations": self.users_with_recommendations,
            "items_written": self.items_written,
            "errored_lines": self.errored_lines,
            "malformed_lines": self.malformed_lines,
            "blank_lines": self.blank_lines,
            "fast_path_lines": self.fast_path_lines,
            # JSON object keys are strings; sorted by item count.
            "items_per_user": {str(n): self.items_per_user[n] for n in sorted(self.items_per_user)},
        }
