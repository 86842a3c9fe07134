"""Which limit stopped a sandboxed process that left no result (no sandbox needed: the ending alone)."""

from __future__ import annotations

import pytest

from nentang.sandbox.isolation import Limits
from nentang.sandbox.process import Ending, died

LIMITS = Limits(cpu_seconds=6, wall_seconds=20)


@pytest.mark.parametrize(
    ("ending", "code"),
    [
        (Ending(128 + 24, 6.1, timed_out=False, seconds=7), "limits.cpu"),  # SIGXCPU through bubblewrap
        (Ending(-24, 6.0, timed_out=False, seconds=7), "limits.cpu"),  # SIGXCPU, no bubblewrap
        (Ending(128 + 9, 11.2, timed_out=False, seconds=12), "limits.cpu"),  # SIGKILL at the hard CPU limit
        (Ending(-9, 0.8, timed_out=True, seconds=20), "limits.timeout"),  # the review's clock
        (Ending(128 + 9, 0.8, timed_out=False, seconds=3), "limits.memory"),  # killed early, not for CPU
        (Ending(1, 0.5, timed_out=False, seconds=2), "limits.crashed"),
    ],
)
def test_the_finding_names_the_limit_that_fired(ending: Ending, code: str) -> None:
    finding = died(ending, LIMITS, "")
    assert finding["code"] == code
    assert finding["check"] == "limits" and finding["severity"] == "error"


def test_a_memory_error_in_the_output_is_the_memory_limit_and_bwrap_failing_is_the_sandbox() -> None:
    assert died(Ending(1, 0.5, False, 2), LIMITS, "Traceback ...\nMemoryError\n")["code"] == "limits.memory"
    failed = died(Ending(1, 0.0, False, 0.1), LIMITS, "bwrap: Can't mount proc")
    assert failed["code"] == "sandbox.failed" and "Can't mount proc" in failed["message"]
