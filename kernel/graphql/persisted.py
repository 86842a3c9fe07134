"""Persisted queries: documents registered by operators, run by their SHA-256.

The registry is a JSON file named by ``graphql.persisted_queries_path``
(``NENTANG_GRAPHQL_PERSISTED_QUERIES``)::

    {"operations": [
        {"name": "TenantName", "body": "query TenantName($code: String!) { tenant(code: $code) { name } }"}
    ]}

Each operation is known by the SHA-256 (hex) of its body's UTF-8 bytes, exactly as a client hashes
the query string it would otherwise send; an entry may also state ``"sha256"``, which must match.
A client sends ``extensions: {"persistedQuery": {"version": 1, "sha256Hash": "<hex>"}}`` with or
without the ``query``. With ``graphql.persisted_queries_only`` every other document is refused.
The file is read when the app starts; a rolling restart applies changes.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, final

from nentang.kernel.graphql.errors import (
    BAD_REQUEST,
    PERSISTED_QUERY_MISMATCH,
    PERSISTED_QUERY_NOT_FOUND,
    PERSISTED_QUERY_REQUIRED,
    RequestError,
)
from nentang.sdk.errors import ValidationFailed


def sha256(body: str) -> str:
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


@final
class PersistedQueries:
    def __init__(self, documents: dict[str, str] | None = None, *, only: bool = False) -> None:
        self._documents = dict(documents or {})
        self.only = only

    @classmethod
    def load(cls, path: Path | None, *, only: bool = False) -> PersistedQueries:
        """Read the registry; every problem in it is reported at once, naming the file."""
        if path is None:
            return cls(only=only)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ValidationFailed(f"cannot read the persisted-query registry {path}: {exc}") from None
        operations = data.get("operations") if isinstance(data, dict) else None
        if not isinstance(operations, list):
            raise ValidationFailed(f"{path}: expected an object with a list 'operations'")
        documents: dict[str, str] = {}
        problems: list[str] = []
        for index, entry in enumerate(operations):
            body = entry.get("body") if isinstance(entry, dict) else None
            if not isinstance(body, str) or not body.strip():
                problems.append(f"operations[{index}]: 'body' must be the GraphQL document, as a string")
                continue
            digest = sha256(body)
            stated = entry.get("sha256")
            if stated is not None and stated != digest:
                problems.append(f"operations[{index}] ({entry.get('name', '?')}): sha256 is {digest}, not {stated}")
                continue
            documents[digest] = body
        if problems:
            raise ValidationFailed(f"{path}: " + "; ".join(problems))
        return cls(documents, only=only)

    def __len__(self) -> int:
        return len(self._documents)

    def resolve(self, query: Any, extensions: Any) -> str:
        """The document to run for a request's ``query`` and ``extensions``."""
        persisted = extensions.get("persistedQuery") if isinstance(extensions, dict) else None
        if persisted is not None:
            wanted = persisted.get("sha256Hash") if isinstance(persisted, dict) else None
            if not isinstance(wanted, str) or not wanted:
                raise RequestError(BAD_REQUEST, "extensions.persistedQuery.sha256Hash must be the hex SHA-256 string")
            wanted = wanted.lower()
            if isinstance(query, str):
                if sha256(query) != wanted:
                    raise RequestError(
                        PERSISTED_QUERY_MISMATCH, "the query sent does not have the SHA-256 given in persistedQuery"
                    )
                if self.only and wanted not in self._documents:
                    raise self._not_found(wanted)
                return query
            body = self._documents.get(wanted)
            if body is None:
                raise self._not_found(wanted)
            return body
        if not isinstance(query, str):
            raise RequestError(
                BAD_REQUEST,
                "send the GraphQL document as the string parameter 'query' (or a persisted query's hash)",
                400,
                always=True,
            )
        if self.only and sha256(query) not in self._documents:
            raise RequestError(
                PERSISTED_QUERY_REQUIRED,
                "this server runs only registered (persisted) queries; send extensions.persistedQuery.sha256Hash "
                "of a registered document",
            )
        return query

    def _not_found(self, digest: str) -> RequestError:
        return RequestError(
            PERSISTED_QUERY_NOT_FOUND,
            f"no registered document has the SHA-256 {digest[:64]!r}; operators register documents in the "
            "persisted-query registry",
        )
