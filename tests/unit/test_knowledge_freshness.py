"""Knowledge that stays true: review limits and official sources for law entries, on a fixed `today`,
and the same check on data/knowledge.yml with today's date, so `make test` fails when an entry goes stale."""

from __future__ import annotations

import datetime

import pytest
import yaml

from bot.domain.knowledge.freshness import (
    due_for_review,
    is_official,
    law_entries_without_official_source,
    problems,
)
from bot.domain.knowledge.loader import KnowledgeFileError, default, parse
from bot.domain.knowledge.schema import KnowledgeFile, Source
from bot.settings import get_settings

TODAY = datetime.date(2026, 12, 3)
DAYS = 180
LAW_DAYS = 90
HELPLINES = {"crisis_line": "988", "emergency_number": "911", "poison_help": "1-800-222-1222",
             "samhsa_helpline": "1-800-662-4357", "veterans_crisis_text": "838255"}
FDA = {"title": "FDA - FDA and Kratom", "url": "https://www.fda.gov/news-events/public-health-focus/fda-and-kratom",
       "kind": "agency"}
CLINIC = {"title": "Clinic page", "url": "https://engagewellness.com/kratom-addiction-treatment/", "kind": "clinic"}


def entry(entry_id: str, age: int, law: bool = False, sources=None) -> dict:
    """An entry reviewed `age` days before TODAY."""
    return {"id": entry_id, "kind": "topic", "title": entry_id.replace("_", " "),
            "short": "One sentence. Two sentences.", "sources": sources or [CLINIC],
            "reviewed": (TODAY - datetime.timedelta(days=age)).isoformat(), "law": law}


def knowledge(*entries: dict) -> KnowledgeFile:
    return parse(yaml.safe_dump({"version": 1, "helplines": HELPLINES, "entries": list(entries)}))


def source(url: str, kind) -> Source:
    return Source(title="A source", url=url, kind=kind)


def test_a_fresh_entry_is_not_due():
    assert due_for_review(knowledge(entry("fresh", 10), entry("fresh_law", 10, law=True, sources=[FDA])),
                          TODAY, DAYS, LAW_DAYS) == []


@pytest.mark.parametrize("law, limit", [(False, DAYS), (True, LAW_DAYS)])
def test_each_limit_holds_to_the_day(law, limit):
    sources = [FDA] if law else None
    data = knowledge(entry("on_the_limit", limit, law, sources), entry("just_under", limit - 1, law, sources),
                     entry("just_over", limit + 1, law, sources))
    due = {item.entry_id: item for item in due_for_review(data, TODAY, DAYS, LAW_DAYS)}
    assert set(due) == {"on_the_limit", "just_over"}  # due today, and overdue by a day
    assert (due["on_the_limit"].days_left, due["on_the_limit"].overdue) == (0, False)
    assert (due["just_over"].days_left, due["just_over"].overdue) == (-1, True)
    assert due["just_over"].limit == limit
    assert due["just_over"].reviewed == TODAY - datetime.timedelta(days=limit + 1)
    assert due["just_over"].due == TODAY - datetime.timedelta(days=1)


def test_a_law_entry_goes_stale_sooner_than_others():
    data = knowledge(entry("plain", 100), entry("legal", 100, law=True, sources=[FDA]))
    assert [item.entry_id for item in due_for_review(data, TODAY, DAYS, LAW_DAYS)] == ["legal"]


def test_within_adds_entries_due_soon_soonest_first():
    data = knowledge(entry("in_thirty", DAYS - 30), entry("in_thirty_one", DAYS - 31), entry("overdue", DAYS + 5),
                     entry("tomorrow", DAYS - 1))
    due = due_for_review(data, TODAY, DAYS, LAW_DAYS, within=30)
    assert [(item.entry_id, item.days_left) for item in due] == [("overdue", -5), ("tomorrow", 1), ("in_thirty", 30)]


@pytest.mark.parametrize(
    "url, kind, official",
    [
        ("https://www.fda.gov/news-events/public-health-focus/fda-and-kratom", "agency", True),
        ("https://www.federalregister.gov/documents/2016/08/31/x", "federal_register", True),
        ("https://revisor.mo.gov/", "statute", True),
        ("https://www.ecfr.gov/current/title-42", "regulation", True),
        ("https://WWW.DEA.GOV./factsheets/kratom", "agency", True),  # case and a trailing dot
        ("https://www.fda.gov/news-events/public-health-focus/fda-and-kratom", None, False),  # untyped
        ("https://www.fda.gov/news-events/public-health-focus/fda-and-kratom", "vendor", False),  # .gov, vendor
        ("https://www.fda.gov/news-events/public-health-focus/fda-and-kratom", "advocacy", False),
        ("https://nida.nih.gov/research-topics/kratom", "research", False),  # .gov, but not the law
        ("https://kratom-seller.example.com/kratom-is-legal", "agency", False),  # says agency, is not
        ("https://www.americankratom.org/", "statute", False),
        ("https://fda.gov.example.com/kratom", "agency", False),  # .gov inside another host
        ("https://fda.gov@example.com/kratom", "agency", False),  # a user name, not the host
        ("https://example.com/fda.gov", "agency", False),
        ("https://www.sccmo.org/", "agency", False),  # a county, but not on a .gov host
    ],
)
def test_official_needs_an_official_kind_and_a_gov_host(url, kind, official):
    assert is_official(source(url, kind)) is official


def test_a_law_entry_with_only_a_vendor_source_is_refused():
    vendor = {"title": "Kratom shop", "url": "https://kratom-seller.example.com/legal", "kind": "vendor"}
    gov_vendor = {**FDA, "kind": "vendor"}
    advocacy = {"title": "Trade group", "url": "https://www.americankratom.org/", "kind": "advocacy"}
    data = knowledge(entry("vendor_only", 1, law=True, sources=[vendor]),
                     entry("gov_host_kind_vendor", 1, law=True, sources=[gov_vendor, advocacy]),
                     entry("mixed", 1, law=True, sources=[vendor, FDA]),
                     entry("not_law", 1, sources=[vendor]))
    refused = [entry.id for entry in law_entries_without_official_source(data)]
    assert refused == ["vendor_only", "gov_host_kind_vendor"]


def test_problems_name_every_overdue_entry_and_every_unsourced_law_entry():
    data = knowledge(entry("fine", 1), entry("stale", DAYS + 3), entry("stale_law", LAW_DAYS + 1, law=True,
                                                                         sources=[FDA]),
                     entry("unsourced_law", 1, law=True))
    assert problems(data, TODAY, DAYS, LAW_DAYS) == [
        "entry stale: reviewed 2026-06-03, limit 180 days, overdue by 3 days",
        "entry stale_law: reviewed 2026-09-03, limit 90 days, overdue by 1 day",
        "entry unsourced_law: a law entry with no official source (a statute, regulation, Federal Register "
        "notice or agency page on a .gov host)",
    ]


def test_an_unknown_source_kind_is_refused():
    with pytest.raises(KnowledgeFileError, match="entry odd, field sources.0.kind: unexpected value"):
        knowledge(entry("odd", 1, sources=[{**FDA, "kind": "rumour"}]))


def test_a_review_date_in_the_text_must_match_reviewed():
    said = entry("said", 0)
    said["short"] = "Laws change. This answer was last reviewed in December 2026."
    knowledge(said)
    said["short"] = "Laws change. This answer was last reviewed in November 2026."
    with pytest.raises(KnowledgeFileError, match="entry said: short: says last reviewed in November 2026, but "
                                                 "`reviewed` is 2026-12-03"):
        knowledge(said)
    said["short"] = "Laws change. Ask us."
    said["long"] = "This answer was last reviewed in december 2025."
    with pytest.raises(KnowledgeFileError, match="entry said: long: says last reviewed in december 2025"):
        knowledge(said)


def test_the_real_knowledge_file_is_reviewed_in_time_and_law_has_official_sources():
    """Fails on the day an entry goes stale: review it against its sources and set `reviewed`
    (docs/adding-an-intent.md, "Knowledge that stays true")."""
    settings = get_settings()
    found = problems(default(), datetime.date.today(), settings.knowledge_review_days,
                     settings.knowledge_law_review_days)
    assert not found, "knowledge entries to review:\n  " + "\n  ".join(found)


def test_the_real_law_entries_are_marked():
    marked = {entry.id for entry in default().entries if entry.law}
    assert {"kratom_legal", "confidentiality"} <= marked
    assert all(is_official(source) for source in default().require("kratom_legal").sources)


def test_the_check_command_warns_of_stale_entries_and_still_passes(monkeypatch, capsys):
    """Stale answers are a maintainer's job, not a reason to stop the bot: `check` warns, exit 0."""
    from bot.cli.main import main
    from bot.domain.knowledge import loader
    from bot.settings import get_settings

    monkeypatch.setenv("KNOWLEDGE_REVIEW_DAYS", "1")
    monkeypatch.setenv("KNOWLEDGE_LAW_REVIEW_DAYS", "1")
    get_settings.cache_clear()
    loader.default.cache_clear()
    try:
        assert main(["check"]) == 0
    finally:
        get_settings.cache_clear()
        loader.default.cache_clear()
    warnings = [line for line in capsys.readouterr().err.splitlines() if line.startswith("warning: entry ")]
    # A day's limit: every entry reviewed before yesterday is overdue.
    stale = [entry.id for entry in loader.default().entries
             if entry.reviewed < datetime.date.today() - datetime.timedelta(days=1)]
    assert stale and sorted(line.split(":")[1].split()[1] for line in warnings) == sorted(stale)
