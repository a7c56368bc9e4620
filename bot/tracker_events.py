"""Rasa's tracker events, as the gateway's privacy jobs (retention, contact redaction) reach them:
straight through SQL, without importing Rasa (which would load TensorFlow into the gateway)."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Optional

import sqlalchemy as sa
from sqlalchemy.engine import Engine, make_url

from bot.store.db import SQLITE_BUSY_SECONDS

# Rasa's SQLTrackerStore table, only the columns used here; the store creates it on first start.
EVENTS = sa.table("events", sa.column("id", sa.Integer), sa.column("sender_id", sa.String),
                  sa.column("timestamp", sa.Float), sa.column("data", sa.Text))


@contextmanager
def tracker_store(url: str) -> Iterator[Optional[Engine]]:
    """An engine on the tracker store, or None while it has no events table (a fresh install).
    Never creates a SQLite file; the engine is closed afterwards."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if not parsed.database or not Path(parsed.database).exists():
            yield None
            return
        # Rasa may be writing; wait for its lock rather than fail.
        engine = sa.create_engine(url, future=True, connect_args={"timeout": SQLITE_BUSY_SECONDS})
    else:
        engine = sa.create_engine(url, future=True)
    try:
        yield engine if sa.inspect(engine).has_table("events") else None
    finally:
        engine.dispose()


def has_events(url: str, sender_id: str) -> bool:
    """Whether Rasa has stored anything for this conversation yet."""
    with tracker_store(url) as engine:
        if engine is None:
            return False
        with engine.connect() as connection:
            found = connection.execute(sa.select(EVENTS.c.id).where(EVENTS.c.sender_id == sender_id).limit(1))
            return found.first() is not None
