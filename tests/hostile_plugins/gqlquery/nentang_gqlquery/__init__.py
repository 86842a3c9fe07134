"""gqlquery: hostile sample — its payloads run only when its GraphQL query fields are called."""
