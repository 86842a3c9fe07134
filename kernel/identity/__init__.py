"""Identity: who acts, and how they prove it.

One concept per module: ``actor`` (who acted, for the audit log), ``passwords`` (argon2id and the
policy), ``users`` (administration) with its read-only ``user_info``, ``login`` (throttled local
sign-in), ``sessions`` (browser sessions), ``tokens`` (integrators' API tokens), ``caller`` (what
the HTTP layer hands downstream), ``bootstrap`` (the first administrator), ``oidc`` (the relying
party for a national or provincial identity provider: the code flow) with its parts ``oidc_settings``,
``oidc_provider`` (discovery and keys), ``oidc_id_token`` and ``oidc_untrusted``, ``oidc_login`` (OIDC
sign-in: sign-ins in progress, a verified identity linked to a provisioned user), ``config`` (their
settings).
"""

from nentang.kernel.identity.actor import Actor

__all__ = ["Actor"]
