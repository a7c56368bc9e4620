"""The reports page in Debian's Chromium, served by the real gateway process (no Rasa needed: the
figures come from the databases). A known fortnight is seeded in the gateway's own SQLite app DB and
tracker store; the page must show its figures, draw every chart, break no content policy, and give
the same figures as a downloaded CSV."""

from __future__ import annotations

import csv
import io
import os
import signal
import subprocess
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Iterator, List, Optional
from zoneinfo import ZoneInfo

import pytest
import requests
from cryptography.fernet import Fernet
from playwright.sync_api import expect

from bot.ops.processes import gateway_command, rasa_environment
from bot.settings import REPO_ROOT, Settings, load_settings
from bot.store import migrate, utcnow
from devtools.local_stack import free_port
from tests.support import log_privacy
from tests.support.artifacts import artifacts_dir
from tests.support.console_client import PASSWORD, add_staff
from tests.support.report_seed import SECRET, Known, seed_known_fortnight

pytestmark = pytest.mark.integration

TIMEOUT = 30_000
START_SECONDS = 30
VIEWPORT = {"width": 1280, "height": 900}
EMAIL = "reports@example.org"
REPORT_CSP_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", (event) => {
  console.error("Content Security Policy violation: " + event.violatedDirective + " blocked " + event.blockedURI);
});
"""


class Gateway:
    def __init__(self, settings: Settings, known: Known) -> None:
        self.settings = settings
        self.known = known
        self.url = f"http://127.0.0.1:{settings.gateway_port}"


@pytest.fixture(scope="module")
def gateway(tmp_path_factory) -> Iterator[Gateway]:
    """The gateway alone, on its own databases, seeded with a fortnight that ended last week."""
    scratch = tmp_path_factory.mktemp("reports-gateway")
    settings = load_settings(_env_file=None, app_db_url=f"sqlite:///{scratch / 'app.db'}",
                             tracker_db_url=f"sqlite:///{scratch / 'tracker.db'}",
                             contact_key=Fernet.generate_key().decode(), gateway_port=free_port(),
                             internal_api_port=free_port(), rasa_port=free_port(), action_port=free_port())
    today = utcnow().astimezone(ZoneInfo(settings.staff_timezone)).date()
    # Recent (the gateway's retention purge keeps it) and over before today.
    first = today - timedelta(days=21 + today.weekday())
    migrate(settings.app_db_url)
    known = seed_known_fortnight(settings.app_db_url, settings.tracker_db_url, first)
    log_privacy.remember(SECRET)
    add_staff(settings, email=EMAIL, name="Rosa")
    logs = artifacts_dir("server-logs")
    with open(logs / "reports-gateway.log", "wb") as log:
        process = subprocess.Popen(gateway_command(settings), cwd=REPO_ROOT, env=rasa_environment(settings),
                                   stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_healthy(process, f"http://127.0.0.1:{settings.gateway_port}/healthz")
        yield Gateway(settings, known)
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)


def wait_healthy(process: subprocess.Popen, url: str) -> None:
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("the gateway exited early; see artifacts/server-logs/reports-gateway.log")
        try:
            if requests.get(url, timeout=2).ok:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"the gateway did not answer {url} in {START_SECONDS} s")


@pytest.fixture
def page(browser, request) -> Iterator:
    context = browser.new_context(viewport=VIEWPORT, accept_downloads=True)
    context.set_default_timeout(TIMEOUT)
    context.add_init_script(REPORT_CSP_VIOLATIONS)
    opened = context.new_page()
    opened.problems = []
    opened.on("pageerror", lambda error: opened.problems.append(f"script error: {error}"))
    opened.on("console", lambda message: opened.problems.append(message.text)
              if "Content Security Policy" in message.text else None)
    yield opened
    try:
        opened.screenshot(path=str(artifacts_dir("screenshots") / f"reports-{request.node.name}.png"), full_page=True)
    finally:
        context.close()


def sign_in(page, gateway: Gateway) -> None:
    page.goto(gateway.url + "/console/login")
    page.get_by_label("Email").fill(EMAIL)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_text("Signed in as Rosa.")).to_be_visible()


def shown(value: Optional[float], kind: str) -> str:
    """How the page writes a figure, worked out here rather than borrowed from the code under test."""
    if value is None:
        return "–"
    if kind == "rate":
        return f"{value * 100:.1f}%"
    if kind == "seconds":
        return f"{value / 60:.1f} min"
    return str(int(value))


def expected_cells(figures) -> List[str]:
    kinds = {"unanswered_rate": "rate", "first_reply_median_seconds": "seconds", "first_reply_p90_seconds": "seconds"}
    return [shown(value, kinds.get(name, "count")) for name, value in figures.items()]


def row_cells(page, label: str) -> List[str]:
    row = page.locator("[data-testid=report-table] tr").filter(has=page.locator(f'th:text-is("{label}")'))
    expect(row).to_have_count(1)
    return row.locator("td").all_inner_texts()


def report_path(known: Known, by: str = "day") -> str:
    return f"/console/reports?from={known.first.isoformat()}&to={known.last.isoformat()}&by={by}"


def test_the_report_shows_the_seeded_figures_and_draws_every_chart(page, gateway):
    known = gateway.known
    sign_in(page, gateway)
    page.get_by_role("link", name="Reports").click()
    expect(page.locator("h1")).to_have_text("Reports")
    page.goto(gateway.url + report_path(known))
    first_day: date = known.first
    for day, figures in known.by_day.items():
        assert row_cells(page, day.isoformat()) == expected_cells(figures), day
    assert row_cells(page, "Whole range") == expected_cells(known.total)
    quiet = (first_day + timedelta(days=4)).isoformat()
    assert row_cells(page, quiet)[:4] == ["0", "0", "0", "–"]
    expect(page.get_by_text("America/Chicago").first).to_be_visible()

    charts = page.locator("figure.chart svg")
    expect(charts).to_have_count(8)
    for index in range(8):
        chart = charts.nth(index)
        chart.scroll_into_view_if_needed()
        box = chart.bounding_box()
        assert box and box["width"] > 100 and box["height"] > 50, index
    # The crisis bar of the first day, and the dots of the conversations line, have a real size.
    bars = [page.locator("#chart-crisis rect").nth(n).bounding_box() for n in range(14)]
    assert [n for n, box in enumerate(bars) if box and box["height"] > 1] == [0]
    dots = page.locator("#chart-conversations circle")
    expect(dots).to_have_count(28)
    assert all((dots.nth(n).bounding_box() or {}).get("width", 0) > 1 for n in range(28))
    # Each chart's table holds its numbers.
    intents = page.locator("#chart-intents table tbody tr")
    assert intents.all_inner_texts() == [f"{intent}\t{count}" for intent, count in known.top_intents]
    assert SECRET not in page.content()
    assert page.problems == []


def test_grouping_by_week_from_the_form(page, gateway):
    known = gateway.known
    sign_in(page, gateway)
    page.goto(gateway.url + report_path(known))
    page.locator("select[name=by]").select_option("week")
    page.get_by_role("button", name="Show").click()
    rows = page.locator("[data-testid=report-table] tbody th")
    second_monday = known.first + timedelta(days=7)
    expect(rows).to_have_text([f"{known.first.isoformat()} to {(second_monday - timedelta(days=1)).isoformat()}",
                               f"{second_monday.isoformat()} to {known.last.isoformat()}"])
    assert row_cells(page, "Whole range")[1] == "6"
    assert page.problems == []


def test_the_csv_downloads_with_the_same_figures(page, gateway):
    known = gateway.known
    sign_in(page, gateway)
    page.goto(gateway.url + report_path(known))
    with page.expect_download() as download:
        page.get_by_role("link", name="Download these figures (CSV)").click()
    saved = download.value
    assert saved.suggested_filename == (f"admissions-periods-{known.first.isoformat()}-to-"
                                        f"{known.last.isoformat()}-by-day.csv")
    text = Path(saved.path()).read_text(encoding="utf-8")
    header, *rows = list(csv.reader(io.StringIO(text)))
    assert len(rows) == 14 and header[:4] == ["period_start", "period_end", "conversations", "visitor_messages"]
    by_start = {row[0]: dict(zip(header, row, strict=True)) for row in rows}
    for day, figures in known.by_day.items():
        exported = by_start[day.isoformat()]
        for name, value in figures.items():
            assert exported[name] == ("" if value is None else str(value)), (day, name)
    with page.expect_download() as download:
        page.get_by_role("link", name="Download the top questions (CSV)").click()
    intents = list(csv.reader(io.StringIO(Path(download.value.path()).read_text(encoding="utf-8"))))
    assert intents == [["intent", "visitor_messages"], *[[intent, str(count)] for intent, count in known.top_intents]]
    assert SECRET not in text
    assert page.problems == []
