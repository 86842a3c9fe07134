"""Plugin source folders for the sandbox review tests — not tests of the kernel's suite.

Each folder is a plugin distribution (``pyproject.toml``) that ``tests/test_sandbox_review.py``
builds and reviews; ``goodnotes`` behaves, the others misbehave in one way each. Their own
``tests/`` run inside the review's sandbox, never in the kernel's test session.
"""

collect_ignore_glob = ["*"]
