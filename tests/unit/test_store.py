"""The app DB on SQLite and PostgreSQL: migrations, constraints, sessions and encrypted contact fields."""

from __future__ import annotations

import logging
import stat
import subprocess
import sys
from datetime import datetime, timedelta, timezone

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from cryptography.fernet import Fernet
from sqlalchemy import inspect, select, text
from sqlalchemy.exc import IntegrityError, StatementError

from bot.settings import REPO_ROOT, SettingsError, load_settings
from bot.store import (
    Base,
    CallbackRequest,
    ContactCipher,
    ContactKeyError,
    Handoff,
    Note,
    StaffMember,
    contact_cipher,
    dispose_engines,
    make_engine,
    migrate,
    session_scope,
    utcnow,
)
from bot.store.db import MIGRATIONS
from tests.support.app_db import APP_TABLES, add_staff, empty_postgres_tables


def reset_postgres(url: str) -> None:
    """Drop every table: the PostgreSQL database lasts the whole test session."""
    engine = make_engine(url)
    with engine.begin() as connection:
        connection.execute(text("DROP SCHEMA public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))
    engine.dispose()


def table_names(url: str) -> set:
    engine = make_engine(url)
    with engine.connect() as connection:
        names = set(inspect(connection).get_table_names())
    engine.dispose()
    return names


def test_migrations_create_every_table_as_the_models_describe_it(database_url):
    if database_url.startswith("postgresql"):
        # The PostgreSQL database outlives one test: start this one from an empty schema.
        reset_postgres(database_url)
        migrate(database_url)
    assert table_names(database_url) == APP_TABLES | {"alembic_version"}
    assert APP_TABLES == set(Base.metadata.tables)
    engine = make_engine(database_url)
    with engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    engine.dispose()
    assert differences == []


def test_migrating_again_changes_nothing_and_downgrading_removes_every_table(database_url):
    migrate(database_url)
    assert table_names(database_url) == APP_TABLES | {"alembic_version"}
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["url"] = database_url
    command.downgrade(config, "base")
    assert table_names(database_url) == {"alembic_version"}
    migrate(database_url)
    assert table_names(database_url) == APP_TABLES | {"alembic_version"}


@pytest.mark.postgres
def test_gateways_starting_together_migrate_once(postgres_database):
    url = postgres_database
    reset_postgres(url)
    # Separate processes, as gateways are: each must wait for the others' migration, not collide with it.
    gateways = [subprocess.Popen([sys.executable, "-c", f"from bot.store import migrate; migrate({url!r})"],
                                 cwd=REPO_ROOT, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    try:
        errors = [gateway.communicate(timeout=60)[1] for gateway in gateways if gateway.wait(timeout=60) != 0]
        assert errors == []
        assert table_names(url) == APP_TABLES | {"alembic_version"}
    finally:
        empty_postgres_tables(url)


def test_sqlite_runs_with_wal_and_foreign_keys(tmp_path):
    url = f"sqlite:///{tmp_path / 'var' / 'app.db'}"
    migrate(url)
    with session_scope(url) as session:
        assert session.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert session.execute(text("PRAGMA foreign_keys")).scalar() == 1
    dispose_engines()


@pytest.mark.parametrize("bad_row", [
    lambda: Note(conversation_id="c1", staff_id=999, text="follow up"),
    lambda: Handoff(conversation_id="c1", reason="request_human", priority="normal", status="lost"),
    lambda: Handoff(conversation_id="c1", reason="request_human", priority="whenever"),
    lambda: StaffMember(email="b@example.org", display_name="B", password_hash="x", presence="busy"),
], ids=["foreign-key", "handoff-status", "priority", "presence"])
def test_the_database_refuses_rows_that_break_its_rules(database_url, bad_row):
    with pytest.raises(IntegrityError):
        with session_scope(database_url) as session:
            session.add(bad_row())


def test_staff_emails_are_unique(database_url):
    with session_scope(database_url) as session:
        add_staff(session)
    with pytest.raises(IntegrityError):
        with session_scope(database_url) as session:
            add_staff(session, name="Another Ana")


def test_a_conversation_has_at_most_one_open_handoff(database_url):
    with session_scope(database_url) as session:
        session.add(Handoff(conversation_id="c1", reason="request_human", priority="normal", status="resolved"))
        session.add(Handoff(conversation_id="c1", reason="crisis", priority="urgent", status="waiting"))
    with pytest.raises(IntegrityError):
        with session_scope(database_url) as session:
            session.add(Handoff(conversation_id="c1", reason="fallback", priority="normal", status="active"))


def test_a_session_scope_commits_when_the_block_ends_and_rolls_back_when_it_raises(database_url):
    with pytest.raises(RuntimeError):
        with session_scope(database_url) as session:
            add_staff(session, "lost@example.org")
            raise RuntimeError("the request failed")
    with session_scope(database_url) as session:
        add_staff(session, "kept@example.org")
    with session_scope(database_url) as session:
        assert session.execute(select(StaffMember.email)).scalars().all() == ["kept@example.org"]


def test_times_are_stored_as_utc_and_read_back_aware(database_url):
    chicago_evening = datetime(2024, 3, 1, 18, 30, tzinfo=timezone(timedelta(hours=-6)))
    with session_scope(database_url) as session:
        add_staff(session).last_seen = chicago_evening
    with session_scope(database_url) as session:
        last_seen = session.execute(select(StaffMember.last_seen)).scalar_one()
        assert last_seen == chicago_evening and last_seen.tzinfo == timezone.utc
        assert last_seen.hour == 0
    with pytest.raises(StatementError, match="naive datetime"):
        with session_scope(database_url) as session:
            add_staff(session, "naive@example.org").last_seen = datetime(2024, 3, 1, 18, 30)


CONTACT = {"first_name": "Jordan", "contact": "jordan.rivera@example.org", "best_time": "weekday mornings"}


def test_contact_fields_cannot_be_read_from_the_database_without_the_key(database_url, tmp_path):
    key = Fernet.generate_key()
    cipher = ContactCipher(key)
    with session_scope(database_url) as session:
        session.add(CallbackRequest(
            conversation_id="conversation-visible", consented_at=utcnow(),
            first_name_enc=cipher.encrypt(CONTACT["first_name"]), contact_enc=cipher.encrypt(CONTACT["contact"]),
            best_time_enc=cipher.encrypt(CONTACT["best_time"]),
        ))

    with session_scope(database_url) as session:
        raw = session.execute(text(
            "SELECT conversation_id, first_name_enc, contact_enc, best_time_enc FROM callback_requests"
        )).one()
    assert raw.conversation_id == "conversation-visible"
    stored = " ".join(raw[1:])
    for value in CONTACT.values():
        assert value not in stored
    assert [cipher.decrypt(token) for token in raw[1:]] == list(CONTACT.values())
    with pytest.raises(ContactKeyError, match="different CONTACT_KEY"):
        ContactCipher(Fernet.generate_key()).decrypt(raw.contact_enc)

    if database_url.startswith("sqlite"):
        dispose_engines()
        files = b"".join(path.read_bytes() for path in tmp_path.glob("app.db*"))
        assert b"conversation-visible" in files  # the files are readable, so the next check means something
        for value in CONTACT.values():
            assert value.encode() not in files


# Production also insists on real secrets for Rasa and the gateway.
REAL_SECRETS = {"rasa_token": "r" * 32, "gateway_secret": "g" * 32, "internal_api_token": "i" * 32,
                "rasa_channel_token": "c" * 32, "action_server_token": "a" * 32}


def settings_without_key(monkeypatch, environment: str):
    monkeypatch.delenv("CONTACT_KEY", raising=False)
    return load_settings(_env_file=None, environment=environment, **REAL_SECRETS)


@pytest.mark.parametrize("environment", ["production", "test"])
def test_outside_development_a_missing_key_stops_start_up(monkeypatch, tmp_path, environment):
    settings = settings_without_key(monkeypatch, environment)
    with pytest.raises(ContactKeyError, match=f"CONTACT_KEY is not set.*ENVIRONMENT={environment} cannot start"):
        contact_cipher(settings, dev_key_file=tmp_path / "contact.key")
    assert not (tmp_path / "contact.key").exists()


def test_development_generates_a_private_key_once_and_says_so(monkeypatch, tmp_path, caplog):
    settings = settings_without_key(monkeypatch, "development")
    key_file = tmp_path / "var" / "contact.key"
    with caplog.at_level(logging.INFO, logger="bot.store.crypto"):
        first = contact_cipher(settings, dev_key_file=key_file)
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert f"generated a development key in {key_file}" in caplog.text
    assert list(key_file.parent.iterdir()) == [key_file]
    second = contact_cipher(settings, dev_key_file=key_file)
    assert second.decrypt(first.encrypt(CONTACT["contact"])) == CONTACT["contact"]


def test_a_configured_key_is_used_everywhere(monkeypatch, tmp_path):
    key = Fernet.generate_key().decode()
    settings = load_settings(_env_file=None, environment="production", contact_key=key, **REAL_SECRETS)
    token = contact_cipher(settings, dev_key_file=tmp_path / "contact.key").encrypt("Jordan")
    assert Fernet(key.encode()).decrypt(token.encode()) == b"Jordan"
    assert not (tmp_path / "contact.key").exists()


def test_new_settings_have_safe_defaults(monkeypatch):
    for name in ("APP_DB_URL", "CONTACT_KEY", "HANDOFF_WAIT_MINUTES", "STAFF_HOURS", "STAFF_TIMEZONE"):
        monkeypatch.delenv(name, raising=False)
    settings = load_settings(_env_file=None)
    assert settings.app_db_url.startswith("sqlite:///") and settings.app_db_url.endswith("var/app.db")
    assert settings.contact_key is None
    assert settings.handoff_wait_minutes == 10
    assert settings.staff_hours == ""
    assert settings.staff_timezone == "America/Chicago"
    assert load_settings(_env_file=None, app_db_url="").app_db_url == settings.app_db_url


@pytest.mark.parametrize("field, value, message", [
    ("app_db_url", "mysql://x/y", "APP_DB_URL: must start with sqlite:// or postgresql://"),
    ("contact_key", "not-a-key", "CONTACT_KEY: must be a Fernet key"),
    ("contact_key", "<contact key>", "CONTACT_KEY: '<contact key>' is a placeholder"),
    ("handoff_wait_minutes", 0, "HANDOFF_WAIT_MINUTES: ensure this value is greater than or equal to 1"),
    ("staff_timezone", "Mars/Olympus", "STAFF_TIMEZONE: 'Mars/Olympus' is not a time zone name"),
])
def test_bad_store_settings_name_the_variable(field, value, message):
    with pytest.raises(SettingsError) as error:
        load_settings(_env_file=None, **{field: value})
    assert message in str(error.value)
