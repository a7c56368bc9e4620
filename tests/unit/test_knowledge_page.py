"""The console's knowledge review page: maintainers only, overdue and due-soon entries with their sources."""

from __future__ import annotations

import datetime
import html

import pytest
import yaml
from sqlalchemy import select
from starlette.testclient import TestClient

from bot.gateway.app import create_app
from bot.store import StaffMember, session_scope
from tests.support.console_client import add_staff, audit_actions, console_settings, post, sign_in

HELPLINES = {"crisis_line": "988", "emergency_number": "911", "poison_help": "1-800-222-1222",
             "samhsa_helpline": "1-800-662-4357", "veterans_crisis_text": "838255"}
FDA = {"title": "FDA - FDA and Kratom", "url": "https://www.fda.gov/news-events/public-health-focus/fda-and-kratom",
       "kind": "agency"}
SHOP = {"title": "A kratom shop's legal page", "url": "https://shop.example.com/legal", "kind": "vendor"}
REVIEW_DAYS = 180
LAW_DAYS = 90


def entry(entry_id: str, age: int, law: bool = False, sources=None) -> dict:
    reviewed = datetime.date.today() - datetime.timedelta(days=age)
    return {"id": entry_id, "kind": "topic", "title": entry_id.replace("_", " ").capitalize(),
            "short": "One sentence. Two sentences.", "sources": sources or [FDA], "reviewed": reviewed.isoformat(),
            "law": law}


@pytest.fixture
def settings(tmp_path):
    entries = [entry("fresh_topic", 10), entry("stale_topic", REVIEW_DAYS + 4), entry("soon_topic", REVIEW_DAYS - 12),
               entry("stale_law", LAW_DAYS + 1, law=True), entry("shop_law", 5, law=True, sources=[SHOP])]
    path = tmp_path / "knowledge.yml"
    path.write_text(yaml.safe_dump({"version": 1, "helplines": HELPLINES, "entries": entries}), encoding="utf-8")
    return console_settings(tmp_path, knowledge_file=path, knowledge_review_days=REVIEW_DAYS,
                            knowledge_law_review_days=LAW_DAYS)


@pytest.fixture
def console(settings):
    with TestClient(create_app(settings), base_url="http://testserver") as client:
        add_staff(settings)
        add_staff(settings, email="max@example.org", name="Max")
        with session_scope(settings.app_db_url) as session:
            member = session.execute(select(StaffMember).where(StaffMember.email == "max@example.org")).scalar_one()
            member.is_maintainer = True
        yield client


def rows(page: str, testid: str) -> str:
    start = page.index(f'data-testid="{testid}"')
    return page[start:page.index("</table>", start)]


def test_staff_who_are_not_maintainers_are_refused_with_a_page(console):
    assert console.get("/console/knowledge", follow_redirects=False).status_code == 303  # not signed in
    sign_in(console)
    refused = console.get("/console/knowledge")
    assert refused.status_code == 403 and "Maintainers only" in refused.text
    assert 'href="/console/knowledge"' not in console.get("/console").text


def test_a_maintainer_sees_overdue_and_due_soon_entries_with_sources_and_limits(console, settings):
    sign_in(console, email="max@example.org")
    assert 'href="/console/knowledge"' in console.get("/console").text
    response = console.get("/console/knowledge")
    assert response.status_code == 200 and response.headers["cache-control"] == "no-store"
    page = html.unescape(response.text)
    overdue = rows(page, "overdue")
    assert overdue.index('data-entry="stale_topic"') < overdue.index('data-entry="stale_law"')  # longest overdue first
    assert "overdue by 4 days" in overdue and "overdue by 1 day<" in overdue
    assert f"{LAW_DAYS} days" in overdue and f"{REVIEW_DAYS} days" in overdue
    assert FDA["url"] in overdue and "agency, official" in overdue
    soon = rows(page, "due-soon")
    assert 'data-entry="soon_topic"' in soon and "due in 12 days" in soon and "stale" not in soon
    assert "fresh_topic" not in page
    unsourced = rows(page, "unsourced")
    assert 'data-entry="shop_law"' in unsourced and SHOP["url"] in unsourced and "official" not in unsourced
    assert audit_actions(settings)[-1] == "console.view_knowledge"


def test_an_admin_is_a_maintainer_too(console, settings):
    add_staff(settings, email="boss@example.org", name="Bea", admin=True)
    sign_in(console, email="boss@example.org")
    assert console.get("/console/knowledge").status_code == 200


def test_the_page_reads_the_file_as_it_is_now(console, settings):
    sign_in(console, email="max@example.org")
    data = yaml.safe_load(settings.knowledge_file.read_text(encoding="utf-8"))
    for item in data["entries"]:
        item["reviewed"] = datetime.date.today().isoformat()
        item["sources"] = [FDA]
    settings.knowledge_file.write_text(yaml.safe_dump(data), encoding="utf-8")
    page = console.get("/console/knowledge").text
    assert "No entry is overdue." in page and "Every law entry cites an official source." in page
    settings.knowledge_file.write_text("entries: [unclosed", encoding="utf-8")
    broken = console.get("/console/knowledge")
    assert broken.status_code == 500 and "not valid YAML" in broken.text


def test_signing_out_ends_access(console):
    sign_in(console, email="max@example.org")
    post(console, "/console/logout")
    assert console.get("/console/knowledge", follow_redirects=False).status_code == 303
