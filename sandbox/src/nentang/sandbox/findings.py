"""What the review found: one value per problem, tagged with the check that found it.

Every check collects all of its findings instead of stopping at the first (STYLE §15). A finding
of severity ``error`` fails the review; a ``warning`` is shown to the reviewer and does not.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Final, Literal, final

Severity = Literal["error", "warning"]

#: The checks of a review, in the order they run; each finding names one of them.
CHECKS: Final = (
    "build",
    "install",
    "manifest",
    "static",
    "bandit",
    "sandbox",
    "limits",
    "contract",
    "trace",
    "plugin_tests",
)


@final
@dataclass(frozen=True, slots=True)
class ReviewFinding:
    """One problem: the check that caught it, a stable code, where (``file:line`` when known), what."""

    #: One of :data:`CHECKS`.
    check: str
    #: ``<check>.<reason>``, stable for machines (``static.import_not_allowed``).
    code: str
    #: ``path/inside/package.py:12``, a manifest key, a table name, or the step.
    location: str
    #: What was seen and what to do about it, for the plugin's author and the reviewer.
    message: str
    severity: Severity = "error"

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ReviewFinding:
        return cls(
            check=str(data["check"]),
            code=str(data["code"]),
            location=str(data.get("location", "")),
            message=str(data.get("message", "")),
            severity="warning" if data.get("severity") == "warning" else "error",
        )

    def __str__(self) -> str:
        return f"[{self.severity}] {self.check}/{self.code} at {self.location}: {self.message}"
