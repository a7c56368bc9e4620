"""The reports page and its CSV export (gateway in-process, SQLite app DB and tracker store): who may
read them, how a bad range is answered, the exact figures shown and exported, no message text
anywhere, every read audited, and no database work on the event loop."""

from __future__ import annotations

import csv
import html
import io
import re
import sqlite3
import threading
from datetime import date, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import event, select
from sqlalchemy.engine import Engine
from starlette.testclient import TestClient

from bot.gateway.app import create_app
from bot.gateway.console.render import HEADERS
from bot.gateway.console.reports import HEADINGS
from bot.store import AuditEntry, migrate, session_scope, utcnow
from bot.store.analytics import MEASURES
from tests.support.console_client import add_staff, audit_actions, console_settings, post, sign_in
from tests.support.report_seed import SECRET, seed_known_fortnight

MONDAY = date(2026, 3, 2)
RANGE = "from=2026-03-02&to=2026-03-15"


@pytest.fixture
def settings(tmp_path):
    return console_settings(tmp_path, tracker_db_url=f"sqlite:///{tmp_path / 'tracker.db'}")


@pytest.fixture
def known(settings):
    migrate(settings.app_db_url)
    return seed_known_fortnight(settings.app_db_url, settings.tracker_db_url, MONDAY)


@pytest.fixture
def console(settings, known):
    with TestClient(create_app(settings), base_url="http://testserver") as client:
        # Neither an admin nor a maintainer: reports are for every staff member.
        add_staff(settings)
        yield client


def table_rows(page: str) -> dict:
    """The figures table: {period label: {measure: shown text}}."""
    table = re.search(r'<table class="report".*?</table>', page, re.S).group(0)
    found = {}
    for label, cells in re.findall(r'<tr>\s*<th scope="row">([^<]+)</th>(.*?)</tr>', table, re.S):
        found[label] = {name: html.unescape(text) for name, text in
                        re.findall(r'<td data-measure="(\w+)">([^<]*)</td>', cells)}
    return found


def csv_rows(text: str) -> list:
    return list(csv.reader(io.StringIO(text)))


def audit_details(settings, action: str) -> list:
    with session_scope(settings.app_db_url) as session:
        return list(session.execute(select(AuditEntry.detail).where(AuditEntry.action == action)
                                    .order_by(AuditEntry.id)).scalars())


def test_strangers_are_sent_to_sign_in(console):
    for path in (f"/console/reports?{RANGE}", f"/console/reports.csv?{RANGE}"):
        response = console.get(path, follow_redirects=False)
        assert (response.status_code, response.headers["location"]) == (303, "/console/login")


def test_the_page_shows_each_days_figures_and_the_whole_range(console, settings, known):
    sign_in(console)
    response = console.get(f"/console/reports?{RANGE}&by=day")
    assert response.status_code == 200
    rows = table_rows(response.text)
    assert len(rows) == 15
    assert rows["2026-03-02"] == {
        "conversations": "2", "visitor_messages": "4", "unanswered_messages": "1", "unanswered_rate": "25.0%",
        "crisis_messages": "1", "handoffs_requested": "2", "handoffs_unstaffed": "1", "handoffs_waited": "1",
        "handoffs_taken": "1", "handoffs_expired": "1", "first_replies": "1", "first_reply_median_seconds": "5.0 min",
        "first_reply_p90_seconds": "5.0 min", "callbacks_requested": "0", "callbacks_closed": "0",
        "thumbs_up": "1", "thumbs_down": "0"}
    assert rows["2026-03-04"]["visitor_messages"] == "0" and rows["2026-03-04"]["unanswered_rate"] == "–"
    assert rows["Whole range"]["conversations"] == "3" and rows["Whole range"]["unanswered_rate"] == "33.3%"
    assert rows["Whole range"]["callbacks_requested"] == "2"
    assert list(rows["2026-03-02"]) == list(MEASURES)
    # One header per measure, and the time zone is said.
    assert response.text.count('<th scope="col">') >= len(MEASURES) + 1
    assert list(HEADINGS) == list(MEASURES)
    assert "<th scope=\"col\">Asked, nobody available</th>" in response.text
    assert "America/Chicago" in response.text
    assert audit_details(settings, "reports.view") == ["2026-03-02 to 2026-03-15 by day"]


def test_by_week_the_rows_are_weeks(console):
    sign_in(console)
    rows = table_rows(console.get(f"/console/reports?{RANGE}&by=week").text)
    assert list(rows) == ["2026-03-02 to 2026-03-08", "2026-03-09 to 2026-03-15", "Whole range"]
    assert [rows[label]["visitor_messages"] for label in rows] == ["4", "2", "6"]


def test_the_page_has_a_chart_and_a_table_for_each_measure_group(console):
    sign_in(console)
    page = console.get(f"/console/reports?{RANGE}&by=day").text
    assert page.count('<svg class="chart-svg" role="img"') == 8
    assert page.count('<table class="chart-data">') == 8
    assert "<caption>Top questions over the range, by intent</caption>" in page
    assert '<th scope="row">ask_iop</th><td>2</td>' in page


def test_defaults_are_the_last_28_days_by_day(console, settings):
    sign_in(console)
    response = console.get("/console/reports")
    today = utcnow().astimezone(ZoneInfo(settings.staff_timezone)).date()
    assert response.status_code == 200
    rows = table_rows(response.text)
    assert len(rows) == 29 and today.isoformat() in rows
    assert (today - timedelta(days=27)).isoformat() in rows
    assert f'name="from" value="{(today - timedelta(days=27)).isoformat()}"' in response.text


@pytest.mark.parametrize(("query", "message"), [
    ("from=2026-02-30&to=2026-03-15", "From must be a date written YYYY-MM-DD"),
    ("from=2026-03-02&to=tomorrow", "To must be a date written YYYY-MM-DD"),
    ("from=2026-03-02&to=2026-03-15&by=month", "Group by day or by week."),
    ("from=2026-03-15&to=2026-03-02", "From must be on or before To."),
    ("from=2025-03-01&to=2026-03-02", "A report covers at most 366 days; this range has 367."),
    ("from=" + "9" * 5000 + "&to=2026-03-02", "From must be a date written YYYY-MM-DD"),
    ("from=2026-3-2&to=2026-03-02", "From must be a date written YYYY-MM-DD"),
])
def test_a_bad_range_is_explained_and_nothing_is_read(console, settings, query, message):
    sign_in(console)
    response = console.get(f"/console/reports?{query}")
    assert response.status_code == 400
    assert message in html.unescape(response.text) and 'role="alert"' in response.text
    assert '<table class="report"' not in response.text
    export = console.get(f"/console/reports.csv?{query}")
    assert export.status_code == 400 and message in export.text
    assert "reports.view" not in audit_actions(settings) and "reports.export" not in audit_actions(settings)


def test_a_year_is_allowed(console):
    sign_in(console)
    assert console.get("/console/reports?from=2025-03-03&to=2026-03-03&by=week").status_code == 200


def test_the_csv_has_one_row_per_period_and_one_column_per_measure(console, settings, known):
    sign_in(console)
    response = console.get(f"/console/reports.csv?{RANGE}&by=day")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert response.headers["content-disposition"] == (
        'attachment; filename="admissions-periods-2026-03-02-to-2026-03-15-by-day.csv"')
    assert response.headers["cache-control"] == "no-store"
    header, *rows = csv_rows(response.text)
    assert header == ["period_start", "period_end", *MEASURES]
    assert [row[0] for row in rows] == [(MONDAY + timedelta(days=n)).isoformat() for n in range(14)]
    monday = dict(zip(header, rows[0], strict=True))
    assert monday == {"period_start": "2026-03-02", "period_end": "2026-03-02", "conversations": "2",
                      "visitor_messages": "4", "unanswered_messages": "1", "unanswered_rate": "0.25",
                      "crisis_messages": "1", "handoffs_requested": "2", "handoffs_unstaffed": "1",
                      "handoffs_waited": "1",
                      "handoffs_taken": "1", "handoffs_expired": "1", "first_replies": "1",
                      "first_reply_median_seconds": "300.0", "first_reply_p90_seconds": "300.0",
                      "callbacks_requested": "0", "callbacks_closed": "0", "thumbs_up": "1", "thumbs_down": "0"}
    # A day with no messages has no rate and no reply times: empty cells, not zeros.
    quiet = dict(zip(header, rows[2], strict=True))
    assert (quiet["unanswered_rate"], quiet["first_reply_median_seconds"], quiet["visitor_messages"]) == ("", "", "0")
    assert dict(zip(header, rows[8], strict=True))["thumbs_down"] == "1"
    weekly = csv_rows(console.get(f"/console/reports.csv?{RANGE}&by=week").text)
    assert [row[:4] for row in weekly[1:]] == [["2026-03-02", "2026-03-08", "2", "4"],
                                                ["2026-03-09", "2026-03-15", "1", "2"]]
    assert audit_details(settings, "reports.export") == ["2026-03-02 to 2026-03-15 by day",
                                                         "2026-03-02 to 2026-03-15 by week"]


def test_the_intents_csv_lists_the_top_questions(console, settings, known):
    sign_in(console)
    response = console.get(f"/console/reports.csv?{RANGE}&by=day&table=intents")
    assert response.status_code == 200 and "attachment" in response.headers["content-disposition"]
    assert csv_rows(response.text) == [["intent", "visitor_messages"],
                                       *[[intent, str(count)] for intent, count in known.top_intents]]
    assert audit_details(settings, "reports.export") == ["2026-03-02 to 2026-03-15 by day table=intents"]
    assert console.get(f"/console/reports.csv?{RANGE}&table=texts").status_code == 400


def test_no_message_text_reaches_the_page_or_the_csv(console, settings):
    sign_in(console)
    # Not vacuous: the tracker store the figures come from holds the text.
    with sqlite3.connect(settings.tracker_db_url.removeprefix("sqlite:///")) as tracker:
        assert tracker.execute("SELECT count(*) FROM events WHERE data LIKE ?", (f"%{SECRET}%",)).fetchone()[0] > 5
    outputs = [console.get(f"/console/reports?{RANGE}&by={by}").text for by in ("day", "week")]
    outputs += [console.get(f"/console/reports.csv?{RANGE}&by={by}&table={table}").text
                for by in ("day", "week") for table in ("periods", "intents")]
    assert all(outputs)
    for output in outputs:
        assert SECRET not in output
    with session_scope(settings.app_db_url) as session:
        details = session.execute(select(AuditEntry.detail)).scalars().all()
    assert not [detail for detail in details if detail and SECRET in detail]


def test_the_page_keeps_the_consoles_policy_and_uses_no_inline_style_or_script(console):
    sign_in(console)
    response = console.get(f"/console/reports?{RANGE}")
    assert response.headers["content-security-policy"] == HEADERS["Content-Security-Policy"]
    assert "style=" not in response.text
    assert re.findall(r"<script[^>]*>", response.text) == ['<script src="/console/static/console.js" defer>']
    assert re.search(r"<[^>]*\son\w+\s*=", response.text) is None


def test_reports_run_no_sql_on_the_event_loop(console):
    sign_in(console)
    loop_thread = console.portal.call(threading.get_ident)
    threads = []

    def seen(conn, cursor, statement, parameters, context, executemany):
        threads.append(threading.get_ident())

    # Every engine, the tracker store's (made per report) included.
    event.listen(Engine, "before_cursor_execute", seen)
    try:
        assert console.get(f"/console/reports?{RANGE}").status_code == 200
        assert console.get(f"/console/reports.csv?{RANGE}").status_code == 200
    finally:
        event.remove(Engine, "before_cursor_execute", seen)
    assert len(threads) > 20 and loop_thread not in threads


def test_signing_out_ends_access_to_reports(console):
    sign_in(console)
    assert console.get(f"/console/reports?{RANGE}").status_code == 200
    post(console, "/console/logout")
    assert console.get(f"/console/reports.csv?{RANGE}", follow_redirects=False).status_code == 303
