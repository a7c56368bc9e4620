"""App DB helpers for tests: its tables, an emptied PostgreSQL database between tests, bare rows."""

from __future__ import annotations

import uuid
from contextlib import contextmanager
from typing import Dict, Iterator

from sqlalchemy import select, text, update

from bot.store import StaffMember, dispose_engines, hash_password, make_engine, migrate, session_scope, utcnow

APP_TABLES = {"staff_members", "handoffs", "handoff_transitions", "notes", "canned_replies",
              "callback_requests", "audit_entries", "console_sessions", "message_ratings", "review_decisions",
              "model_deployments"}


def empty_postgres_tables(url: str) -> None:
    """Delete every row and restart the ids: much faster than recreating the schema for each test."""
    engine = make_engine(url)
    with engine.begin() as connection:
        connection.execute(text(f"TRUNCATE {', '.join(sorted(APP_TABLES))} RESTART IDENTITY CASCADE"))
    engine.dispose()


def add_staff(session, email: str = "ana@example.org", name: str = "Ana") -> StaffMember:
    staff = StaffMember(email=email, display_name=name, password_hash="not-a-real-hash")
    session.add(staff)
    session.flush()
    return staff


def set_staff_online(stack, online: bool) -> None:
    with session_scope(stack.settings.app_db_url) as session:
        if session.execute(select(StaffMember)).first() is None:
            session.add(StaffMember(email="ana@example.org", display_name="Ana",
                                    password_hash=hash_password("a long enough password"), created_at=utcnow()))
            session.flush()
        session.execute(update(StaffMember).values(presence="online" if online else "offline", last_seen=utcnow()))


@contextmanager
def app_and_tracker_urls(request, tmp_path, schema_prefix: str) -> Iterator[Dict[str, str]]:
    """A migrated app DB and a tracker store with no events table yet, on the database the
    parametrised `request.param` names ("sqlite" or "postgresql"); dropped afterwards."""
    if request.param == "sqlite":
        app, tracker = f"sqlite:///{tmp_path / 'app.db'}", f"sqlite:///{tmp_path / 'tracker.db'}"
        admin = None
    else:
        # A schema of its own: the session's database also holds the running servers' conversations.
        database = request.getfixturevalue("postgres_database")
        schema = f"{schema_prefix}_{uuid.uuid4().hex[:10]}"
        admin = make_engine(database)
        with admin.begin() as connection:
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
        app = tracker = f"{database}?options=-csearch_path%3D{schema}"
    migrate(app)
    try:
        yield {"app": app, "tracker": tracker}
    finally:
        dispose_engines()
        if admin is not None:
            with admin.begin() as connection:
                connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            admin.dispose()
