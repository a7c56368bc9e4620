"""Engines and sessions for the app DB, and upgrading it to the latest schema.

SQLite (the default, one machine) or PostgreSQL, chosen by URL (`APP_DB_URL`).
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Dict, Iterator, Optional

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import Session

from bot.settings import get_settings

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
# SQLite has one writer at a time; others wait this long for the lock instead of failing at once.
SQLITE_BUSY_SECONDS = 15

_engines: Dict[str, Engine] = {}
_engines_lock = threading.Lock()
# Alembic keeps its migration context in a module global, so one migration per process at a time.
_migrate_lock = threading.Lock()


def make_engine(url: str) -> Engine:
    """A new engine; on SQLite with foreign keys enforced and write-ahead logging."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        # pre_ping: a PostgreSQL restart should cost one reconnect, not a failed request.
        return create_engine(url, future=True, pool_pre_ping=True)
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, future=True, connect_args={"timeout": SQLITE_BUSY_SECONDS})
    event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(dbapi_connection, connection_record) -> None:
    cursor = dbapi_connection.cursor()
    # SQLite ignores foreign keys unless each connection asks for them.
    cursor.execute("PRAGMA foreign_keys=ON")
    # WAL lets the console keep reading while a handoff is written.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.close()


def engine_for(url: Optional[str] = None) -> Engine:
    """The process's one engine (and connection pool) for a URL; APP_DB_URL by default."""
    url = url or get_settings().app_db_url
    with _engines_lock:
        if url not in _engines:
            _engines[url] = make_engine(url)
        return _engines[url]


def dispose_engines() -> None:
    """Close every pooled connection (at shutdown, and between tests)."""
    with _engines_lock:
        for engine in _engines.values():
            engine.dispose()
        _engines.clear()


@contextmanager
def session_scope(url: Optional[str] = None) -> Iterator[Session]:
    """One unit of work: committed if the block finishes, rolled back if it raises."""
    # Objects stay readable after the commit, for the caller to render or return.
    session = Session(engine_for(url), future=True, expire_on_commit=False)
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def migrate(url: Optional[str] = None) -> None:
    """Upgrade the database to the newest schema (a no-op when it is already there)."""
    from alembic import command
    from alembic.config import Config

    # Built in code rather than from alembic.ini, so the gateway and tests work from any directory
    # and leave the application's logging alone.
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    # Passed as an attribute, not an ini option, where a '%' in a password would break interpolation.
    config.attributes["url"] = url or get_settings().app_db_url
    with _migrate_lock:
        command.upgrade(config, "head")
