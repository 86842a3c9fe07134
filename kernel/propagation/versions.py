"""Bumping a topic's version inside the transaction that changed shared state.

The bump and the change commit together. On PostgreSQL the same transaction sends a NOTIFY
(delivered only on commit), so listeners hear of it at once; every worker also polls the
versions as a fallback, so a lost notification costs at most one poll interval.
"""

from __future__ import annotations

from sqlalchemy import Engine, select, text, update
from sqlalchemy.orm import Session

from nentang.kernel.data.database import record_change
from nentang.kernel.propagation.models import ChangeVersion

#: The PostgreSQL channel every worker listens on; payload "topic:version:key" (key may be empty).
CHANNEL = "nentang_changes"
#: NOTIFY payloads must stay under 8000 bytes; keys beyond this fall back to "flush the topic".
MAX_PAYLOAD = 7000


def bump(session: Session, topic: str, key: str | None = None) -> int:
    """Record that ``topic`` changed (optionally only for ``key``); returns the new version."""
    result = session.execute(
        update(ChangeVersion)
        .where(ChangeVersion.topic == topic)
        .values(version=ChangeVersion.version + 1)
        .returning(ChangeVersion.version)
    )
    version = result.scalar()
    if version is None:
        session.add(ChangeVersion(topic=topic, version=1))
        session.flush()
        version = 1
    record_change(session, (topic, version, key))
    if session.get_bind().dialect.name == "postgresql":
        payload = f"{topic}:{version}:{key or ''}"
        if len(payload) > MAX_PAYLOAD:
            payload = f"{topic}:{version}:"
        session.execute(text("SELECT pg_notify(:channel, :payload)"), {"channel": CHANNEL, "payload": payload})
    return version


def read_versions(engine: Engine) -> dict[str, int]:
    with engine.connect() as connection:
        rows = connection.execute(select(ChangeVersion.topic, ChangeVersion.version))
        return {topic: version for topic, version in rows}
