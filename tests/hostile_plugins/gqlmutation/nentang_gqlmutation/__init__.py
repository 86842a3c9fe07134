"""gqlmutation: hostile sample — its payloads run only when its GraphQL mutations are called."""
