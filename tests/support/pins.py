"""The versions `requirements*.txt` pin, for tests that hold code to them (standard library only)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
REQUIREMENTS = (ROOT / "requirements.txt", ROOT / "requirements-dev.txt")
_PIN = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)(\[[^\]]*\])?==(?P<version>[^\s;#]+)")


def _canonical(name: str) -> str:
    """PEP 503: names compare case-insensitively, with runs of -, _ and . as one -."""
    return re.sub(r"[-_.]+", "-", name).lower()


def pinned_version(package: str, requirements: tuple[Path, ...] = REQUIREMENTS) -> str:
    """The version `package==X` is pinned to in requirements*.txt."""
    for path in requirements:
        for line in path.read_text().splitlines():
            match = _PIN.match(line.strip())
            if match and _canonical(match["name"]) == _canonical(package):
                return match["version"]
    raise LookupError(f"{package} is not pinned with == in {', '.join(p.name for p in requirements)}")
