"""Rasa's tracker events, as the gateway's privacy jobs (retention, contact redaction) reach them:
straight through SQL, without importing Rasa (which would load TensorFlow into the gateway)."""

from __future__ import annotations

import json
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional

import sqlalchemy as sa
from sqlalchemy.engine import Engine, make_url

from bot.store.db import SQLITE_BUSY_SECONDS

# Rasa's SQLTrackerStore table, only the columns used here; the store creates it on first start.
EVENTS = sa.table("events", sa.column("id", sa.Integer), sa.column("sender_id", sa.String),
                  sa.column("type_name", sa.String), sa.column("timestamp", sa.Float),
                  sa.column("intent_name", sa.String), sa.column("data", sa.Text))
# What Rasa predicts for a message it will not answer as an admissions question: too unsure
# (FallbackClassifier) or off the clinic's topics.
UNANSWERED_INTENTS = ("nlu_fallback", "out_of_scope")
# The events a visitor saw: what they said and what was said to them.
VISIBLE_TYPES = ("user", "bot")


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


def latest_visible_events(url: str, sender_id: str, limit: int) -> List[Dict[str, Any]]:
    """The last `limit` visitor and bot events of the conversation, across sessions, oldest first.
    Read with the (sender_id, type_name, id) index the tracker store creates, so a returning
    visitor's restore costs the same however long the conversation has grown."""
    with tracker_store(url) as engine:
        if engine is None:
            return []
        with engine.connect() as connection:
            rows = connection.execute(
                sa.select(EVENTS.c.data)
                .where(EVENTS.c.sender_id == sender_id, EVENTS.c.type_name.in_(VISIBLE_TYPES))
                .order_by(EVENTS.c.id.desc())
                .limit(limit)
            ).all()
    return [json.loads(row.data) for row in reversed(rows)]


def user_message_exists(url: str, sender_id: str, client_id: str) -> bool:
    """Whether the conversation holds a visitor message the widget sent as `client_id` (its metadata)."""
    with tracker_store(url) as engine:
        if engine is None:
            return False
        with engine.connect() as connection:
            rows = connection.execute(
                sa.select(EVENTS.c.data).where(EVENTS.c.sender_id == sender_id, EVENTS.c.type_name == "user")
            )
            return any((json.loads(row.data).get("metadata") or {}).get("client_id") == client_id for row in rows)
