"""NenTang sandbox review: the pipeline the central team runs before a plugin is approved.

``review(target)`` builds the plugin's wheel, installs it into an environment of its own, checks
its manifest, runs the static plugin policy (the SDK's, :mod:`nentang.sdk.policy`) and bandit, then
the contract suite and the plugin's own tests in a sandboxed process (no network, read-only file
system, resource limits, behaviour trace), and returns a report with a verdict. ``append_approval``
records a passed review in ``registry.toml``. See ``docs/review.md`` for the reviewer's guide.
"""

from nentang.sandbox.approve import append_approval
from nentang.sandbox.findings import ReviewFinding
from nentang.sandbox.isolation import Limits
from nentang.sandbox.pipeline import ReviewOptions, review
from nentang.sandbox.report import ReviewReport

__all__ = ["Limits", "ReviewFinding", "ReviewOptions", "ReviewReport", "append_approval", "review"]
