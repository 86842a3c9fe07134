"""Who acts: actors now; users, sessions and API tokens arrive with the identity issue."""

from nentang.kernel.identity.actor import Actor

__all__ = ["Actor"]
