"""Alembic's entry point for the app DB, from `alembic upgrade head` or `bot.store.migrate(url)`.

The URL comes from the caller (`migrate(url)`) or else from the settings (APP_DB_URL), never
from alembic.ini, so credentials live in one place.
"""

from logging.config import fileConfig

from alembic import context
from sqlalchemy import text

from bot.settings import get_settings
from bot.store.db import make_engine
from bot.store.models import Base

# Any fixed number: every gateway takes this PostgreSQL lock, so gateways starting together
# migrate one after another instead of racing to create the same tables.
MIGRATION_LOCK = 7_142_501

config = context.config
if config.config_file_name is not None:
    # Only the alembic command line configures logging; inside the gateway it is already set up.
    fileConfig(config.config_file_name, disable_existing_loggers=False)

if context.is_offline_mode():
    raise SystemExit("offline (--sql) migrations are not supported: run them against the database")

engine = make_engine(config.attributes.get("url") or get_settings().app_db_url)
try:
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=Base.metadata,
            # SQLite alters a table by copying it; batch mode writes later migrations that way.
            render_as_batch=connection.dialect.name == "sqlite",
        )
        with context.begin_transaction():
            if connection.dialect.name == "postgresql":
                connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
            context.run_migrations()
finally:
    engine.dispose()
