"""Shared fixtures: the real servers (once per session) and a PostgreSQL database for them."""

from __future__ import annotations

import os
import shutil
import time
import uuid
from typing import Iterator

import pytest

from bot.store import dispose_engines, migrate
from devtools.local_stack import Stack, running_stack
from tests.support import log_privacy
from tests.support.app_db import empty_postgres_tables
from tests.support.artifacts import ARTIFACTS

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
POSTGRES_ADMIN_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def _postgres_admin():
    import psycopg2

    connection = psycopg2.connect(POSTGRES_ADMIN_URL, connect_timeout=3)
    connection.autocommit = True
    return connection


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    """A fresh PostgreSQL database for this test session, dropped afterwards."""
    import psycopg2

    try:
        admin = _postgres_admin()
    except psycopg2.OperationalError as exc:
        if in_ci():
            pytest.fail(f"PostgreSQL is required in CI and is not reachable: {exc}")
        pytest.skip(f"PostgreSQL not reachable: {exc}")
    name = f"engage_test_{uuid.uuid4().hex[:10]}"
    with admin.cursor() as cursor:
        cursor.execute(f'CREATE DATABASE "{name}"')
    base = POSTGRES_ADMIN_URL.rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}"
    finally:
        with admin.cursor() as cursor:
            cursor.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,)
            )
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}"')
        admin.close()


@pytest.fixture(scope="session")
def redis_url() -> str:
    """The local Redis; required in CI, skipped without it elsewhere."""
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except redis.ConnectionError as exc:
        if in_ci():
            pytest.fail(f"Redis is required in CI and is not reachable: {exc}")
        pytest.skip(f"Redis not reachable: {exc}")
    return REDIS_URL


@pytest.fixture(scope="module")
def stack(postgres_database: str) -> Iterator[Stack]:
    """The trained rasa server, the action server and the gateway, on a PostgreSQL tracker store.
    One per test module, each with its own app DB, so staff, handoffs and limits one module leaves
    behind never meet another's tests (conversations are apart anyway: each test has its own id)."""
    with running_stack(postgres_database, ARTIFACTS / "server-logs", with_gateway=True) as running:
        send = running.send

        def send_remembered(sender: str, message: str, timeout: float = 30) -> list:
            log_privacy.remember(message)
            return send(sender, message, timeout)

        running.send = send_remembered  # type: ignore[method-assign]
        yield running


@pytest.fixture
def sender() -> str:
    return f"test-{uuid.uuid4().hex}"


@pytest.fixture(scope="module")
def browser() -> Iterator:
    """Debian's Chromium under Playwright (browser downloads do not work here), once per test module:
    Playwright's sync API holds an event loop while it runs, which would stop other modules' asyncio.run."""
    if not shutil.which(CHROMIUM) and not os.path.exists(CHROMIUM):
        if in_ci():
            pytest.fail(f"Chromium is required in CI and is not installed at {CHROMIUM}")
        pytest.skip(f"Chromium not installed at {CHROMIUM} (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request, tmp_path) -> Iterator[str]:
    """A migrated app DB with no rows, on each database."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'app.db'}"
    else:
        url = request.getfixturevalue("postgres_database")
    migrate(url)
    yield url
    dispose_engines()
    if request.param == "postgresql":
        empty_postgres_tables(url)


SESSION_STARTED = time.time()


def pytest_sessionfinish(session, exitstatus):
    """The run fails if any server log it wrote quotes a visitor message it sent (issue 11: privacy)."""
    quoted = log_privacy.quoted_in_logs(log_privacy.sent, ARTIFACTS, SESSION_STARTED)
    if quoted:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        for log, text in quoted[:20]:
            reporter.write_line(f"VISITOR TEXT IN A LOG: {log}: {text[:80]!r}", red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
