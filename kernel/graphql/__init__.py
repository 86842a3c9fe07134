"""The GraphQL API: the kernel's schema plus the contributions of the plugins enabled per tenant.

One concept per module, in the order a request meets them:

- ``endpoint.py`` — ``/graphql`` over HTTP (GraphQL-over-HTTP: media types, status codes, limits on
  the body), the hot path;
- ``tenant.py`` — the request's tenant (token or ``X-Tenant``) and whether the caller may use it;
- ``engine.py`` — one per app: the schema cache, the persisted-query registry, change wiring;
- ``cache.py`` — schemas by enabled-plugin set (never by tenant), built once, in the background;
- ``served.py`` — one built schema with its document cache and field owners;
- ``documents.py`` — parsed + validated documents per schema (an LRU by query text);
- ``limits.py`` / ``cost.py`` — depth, aliases, anonymous access / cost and page sizes;
- ``persisted.py`` — the operators' registry of persisted queries;
- ``context.py`` — the per-request context (caller, tenant, DataLoaders, permission checks);
- ``build.py`` / ``contributions.py`` / ``schema_rules.py`` / ``module.py`` — composing the schema
  of a set from the kernel modules and the plugins' parts, with every rule checked;
- ``pagination.py`` — connections and cursors; ``errors.py`` — codes and masking;
- ``modules/`` — the kernel schema itself, one module per area (``modules/__init__.py`` says how
  to add one);
- ``config.py`` — :class:`GraphQLSettings`.

Integrators read ``docs/graphql.md``; plugin authors read :mod:`nentang.sdk.graphql`.
"""
