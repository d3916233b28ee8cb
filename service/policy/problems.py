"""Problems found in a policy: each names the file, line, rule and field at fault."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class Problem:
    file: str
    line: int
    message: str
    rule: str | None = None
    field: str | None = None

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        parts = [where]
        if self.rule:
            parts.append(f"rule {self.rule}")
        if self.field:
            parts.append(f"field {self.field}")
        return ": ".join(parts) + f": {self.message}"

    def to_json(self) -> dict:
        return {"file": self.file, "line": self.line, "rule": self.rule,
                "field": self.field, "message": self.message}


class PolicyInvalid(Exception):
    """Raised with every problem found, never just the first."""

    def __init__(self, directory: str, problems: list[Problem]):
        self.directory = directory
        self.problems = sorted(set(problems), key=lambda p: (p.file, p.line, p.message))
        super().__init__(f"policy {directory} has {len(self.problems)} problem(s)")

    def report(self) -> str:
        return "\n".join(str(p) for p in self.problems)
