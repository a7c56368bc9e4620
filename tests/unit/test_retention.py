"""Retention on SQLite and PostgreSQL: what is older than RETENTION_DAYS goes, the rest stays, open
handoffs and the audit log are kept, a dry run deletes nothing, and `python -m bot purge` reports it."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import datetime, timedelta, timezone
from typing import Dict, Iterator

import pytest
import sqlalchemy as sa
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, BotUttered, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from sqlalchemy import func, select

from bot.cli.main import main
from bot.rasa_plugins.tracker_store import RecentEventsSQLTrackerStore
from bot.settings import REPO_ROOT, get_settings, load_settings
from bot.store import (
    AuditEntry,
    CallbackRequest,
    Handoff,
    HandoffTransition,
    MessageRating,
    Note,
    ReviewDecision,
    StaffMember,
    session_scope,
    utcnow,
)
from bot.store.handoffs import claim, expire_waiting, open_handoff, resolve
from bot.store.retention import purge_expired
from tests.support.app_db import app_and_tracker_urls

DOMAIN = Domain.load(str(REPO_ROOT / "domain.yml"))
NOW = datetime(2026, 6, 1, 12, 0, tzinfo=timezone.utc)
RETENTION = timedelta(days=180)


def days_ago(days: float, now: datetime = NOW) -> datetime:
    return now - timedelta(days=days)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def urls(request, tmp_path) -> Iterator[Dict[str, str]]:
    """A migrated app DB and a tracker store URL whose tables do not exist yet, on each database."""
    with app_and_tracker_urls(request, tmp_path, "retention") as urls:
        yield urls


def settings_for(urls: Dict[str, str], retention_days: int = 180):
    return load_settings(_env_file=None, app_db_url=urls["app"], tracker_db_url=urls["tracker"],
                         retention_days=retention_days)


def save_conversation(url: str, sender: str, *ages_in_days: float, now: datetime = NOW) -> None:
    """One visitor message and answer at each age, saved the way Rasa saves them."""
    store = RecentEventsSQLTrackerStore(domain=DOMAIN, host=url)
    tracker = DialogueStateTracker(sender, DOMAIN.slots)
    for age in ages_in_days:
        at = days_ago(age, now).timestamp()
        tracker.update(UserUttered(f"a question {age} days ago", {"name": "ask_iop"}, timestamp=at))
        tracker.update(ActionExecuted("action_answer_knowledge", timestamp=at + 1))
        tracker.update(BotUttered("an answer", timestamp=at + 2))
    asyncio.run(store.save(tracker))
    store.engine.dispose()


def seed(urls: Dict[str, str], now: datetime = NOW) -> None:
    """Rows on both sides of the cutoff (now - 180 days) in every table retention touches."""
    with session_scope(urls["app"]) as session:
        ana = StaffMember(email="ana@example.org", display_name="Ana", password_hash="not-a-real-hash")
        session.add(ana)
        session.flush()
        # Closed long ago: goes, with its 3 transitions and a note written after it was closed.
        old_resolved = open_handoff(session, "old-resolved", "request_human", "normal", None, now=days_ago(200, now))
        claim(session, old_resolved.id, ana.id, now=days_ago(200, now))
        resolve(session, old_resolved.id, ana.id, now=days_ago(199, now))
        session.add(Note(conversation_id="old-resolved", handoff_id=old_resolved.id, staff_id=ana.id,
                         text="followed up by phone", created_at=days_ago(10, now)))
        # Expired long ago: goes, with its 2 transitions.
        open_handoff(session, "old-expired", "crisis", "urgent", None, now=days_ago(196, now))
        expire_waiting(session, timedelta(minutes=10), now=days_ago(195, now))
        # Opened long ago but closed recently: stays.
        recent = open_handoff(session, "recently-resolved", "request_human", "normal", None, now=days_ago(200, now))
        claim(session, recent.id, ana.id, now=days_ago(200, now))
        resolve(session, recent.id, ana.id, now=days_ago(5, now))
        # Open, however old: stays, and so does its conversation in the tracker store.
        active = open_handoff(session, "still-active", "request_human", "normal", None, now=days_ago(300, now))
        claim(session, active.id, ana.id, now=days_ago(300, now))
        open_handoff(session, "still-waiting", "request_human", "normal", None, now=days_ago(250, now))
        session.add_all([
            # Old notes go whatever they point at; the open handoff they point at stays.
            Note(conversation_id="quiet", staff_id=ana.id, text="old note", created_at=days_ago(200, now)),
            Note(conversation_id="still-active", handoff_id=active.id, staff_id=ana.id, text="old note on open",
                 created_at=days_ago(290, now)),
            Note(conversation_id="recent", staff_id=ana.id, text="recent note", created_at=days_ago(1, now)),
            callback("old-callback", days_ago(181, now)),
            callback("callback-at-cutoff", days_ago(180, now)),
            callback("recent-callback", days_ago(2, now)),
            AuditEntry(action="handoff.view", conversation_id="quiet", detail="ancient", at=days_ago(400, now)),
            MessageRating(conversation_id="quiet", client_id="c-old", rating="down", rated_at=days_ago(200, now)),
            MessageRating(conversation_id="recent", client_id="c-new", rating="up", rated_at=days_ago(1, now)),
            # The review queue's copy of a message goes with the message's age, not the decision's.
            review_decision("quiet", 1, "an old question", days_ago(181, now), ana.id, decided=days_ago(1, now)),
            review_decision("recent", 2, "a recent question", days_ago(1, now), ana.id, decided=days_ago(1, now)),
        ])
    save_conversation(urls["tracker"], "quiet", 300, 200, now=now)
    # Began before the cutoff and still going on: every event stays, or its tracker would be cut.
    save_conversation(urls["tracker"], "returning", 300, 1, now=now)
    save_conversation(urls["tracker"], "recent", 0.5, now=now)
    save_conversation(urls["tracker"], "still-active", 300, now=now)


def callback(conversation_id: str, created_at: datetime) -> CallbackRequest:
    return CallbackRequest(conversation_id=conversation_id, first_name_enc="token", contact_enc="token",
                           best_time_enc="token", consented_at=created_at, created_at=created_at)


def review_decision(conversation_id: str, event_id: int, text: str, message_at: datetime, staff_id: int,
                    decided: datetime) -> ReviewDecision:
    return ReviewDecision(conversation_id=conversation_id, event_id=event_id, text=text, message_at=message_at,
                          decision="relabel", intent="ask_iop", crisis=False, decided_by=staff_id, decided_at=decided)


def app_rows(url: str) -> Dict[str, list]:
    with session_scope(url) as session:
        return {
            "handoffs": sorted(session.execute(select(Handoff.conversation_id)).scalars()),
            "handoff_transitions": sorted(session.execute(
                select(Handoff.conversation_id, HandoffTransition.to_status).join(Handoff)).all()),
            "notes": sorted(session.execute(select(Note.text)).scalars()),
            "callback_requests": sorted(session.execute(select(CallbackRequest.conversation_id)).scalars()),
            "message_ratings": sorted(session.execute(select(MessageRating.client_id)).scalars()),
            "review_decisions": sorted(session.execute(select(ReviewDecision.text)).scalars()),
            "audit_entries": session.execute(select(func.count()).select_from(AuditEntry)).scalar_one(),
        }


def tracker_rows(url: str) -> Dict[str, int]:
    """Events per conversation."""
    engine = sa.create_engine(url, future=True)
    try:
        with engine.connect() as connection:
            return dict(connection.execute(sa.text("SELECT sender_id, COUNT(*) FROM events GROUP BY sender_id")).all())
    finally:
        engine.dispose()


EXPECTED = {"conversations": 1, "tracker_events": 6, "handoffs": 2, "handoff_transitions": 5, "notes": 3,
            "callback_requests": 1, "message_ratings": 1, "review_decisions": 1}


def test_what_is_older_than_the_retention_period_goes_and_the_rest_stays(urls):
    seed(urls)
    audit_before = app_rows(urls["app"])["audit_entries"]
    assert purge_expired(settings_for(urls, retention_days=1000), now=NOW).counts() == dict.fromkeys(EXPECTED, 0)

    report = purge_expired(settings_for(urls), now=NOW)

    assert report.cutoff == NOW - RETENTION and not report.dry_run
    assert report.counts() == EXPECTED
    assert app_rows(urls["app"]) == {
        "handoffs": ["recently-resolved", "still-active", "still-waiting"],
        "handoff_transitions": [("recently-resolved", "active"), ("recently-resolved", "resolved"),
                                ("recently-resolved", "waiting"), ("still-active", "active"),
                                ("still-active", "waiting"), ("still-waiting", "waiting")],
        "notes": ["recent note"],
        "callback_requests": ["callback-at-cutoff", "recent-callback"],
        "message_ratings": ["c-new"],
        "review_decisions": ["a recent question"],
        # Kept whole: the ancient entry and every handoff transition's entry.
        "audit_entries": audit_before,
    }
    assert tracker_rows(urls["tracker"]) == {"returning": 6, "recent": 3, "still-active": 3}
    # Nothing left to delete the second time.
    assert purge_expired(settings_for(urls), now=NOW).counts() == dict.fromkeys(EXPECTED, 0)


def test_a_dry_run_counts_what_would_go_and_deletes_nothing(urls):
    seed(urls)
    before = app_rows(urls["app"]), tracker_rows(urls["tracker"])

    report = purge_expired(settings_for(urls), now=NOW, dry_run=True)

    assert report.dry_run and report.counts() == EXPECTED
    assert (app_rows(urls["app"]), tracker_rows(urls["tracker"])) == before
    assert purge_expired(settings_for(urls), now=NOW).counts() == EXPECTED


def test_a_tracker_store_without_its_table_yet_is_not_an_error(urls, tmp_path):
    """A fresh install: Rasa has not started, so the events table (or on SQLite the file) is missing."""
    with session_scope(urls["app"]) as session:
        session.add(callback("old-callback", days_ago(200)))
    report = purge_expired(settings_for(urls), now=NOW)
    assert report.counts() == {**dict.fromkeys(EXPECTED, 0), "callback_requests": 1}
    if urls["tracker"].startswith("sqlite"):
        assert not (tmp_path / "tracker.db").exists(), "the purge must not create the tracker store"
        sqlite3.connect(tmp_path / "tracker.db").close()  # an empty file: still no table
        assert purge_expired(settings_for(urls), now=NOW).counts() == dict.fromkeys(EXPECTED, 0)
    else:
        engine = sa.create_engine(urls["tracker"], future=True)
        assert not sa.inspect(engine).has_table("events")
        engine.dispose()


@pytest.fixture
def environment(urls, monkeypatch):
    """`python -m bot` reads its settings from the environment, once per process: start afresh."""
    monkeypatch.setenv("APP_DB_URL", urls["app"])
    monkeypatch.setenv("TRACKER_DB_URL", urls["tracker"])
    monkeypatch.setenv("RETENTION_DAYS", "180")
    get_settings.cache_clear()
    yield urls
    get_settings.cache_clear()


def test_the_purge_command_prints_what_it_deleted(environment, capsys):
    # The command's clock runs on after seeding; an hour's margin keeps the row at the cutoff on the near side.
    seed(environment, now=utcnow() + timedelta(hours=1))
    cutoff = f"(older than {utcnow() - RETENTION:%Y-%m-%d} "

    assert main(["purge", "--dry-run"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(" (")[0] for line in lines] == [
        "conversations: 1 would be deleted", "tracker events: 6 would be deleted", "handoffs: 2 would be deleted",
        "handoff transitions: 5 would be deleted", "notes: 3 would be deleted", "callback requests: 1 would be deleted",
        "message ratings: 1 would be deleted", "review decisions: 1 would be deleted",
    ]
    assert all(cutoff in line and line.endswith(" UTC)") for line in lines)

    assert main(["purge"]) == 0
    assert capsys.readouterr().out.splitlines()[0].startswith("conversations: 1 deleted (older than ")
    assert main(["purge"]) == 0
    assert all(": 0 deleted" in line for line in capsys.readouterr().out.splitlines())
    assert tracker_rows(environment["tracker"]) == {"returning": 6, "recent": 3, "still-active": 3}


def test_the_purge_command_refuses_a_bad_retention_period(environment, monkeypatch, capsys):
    monkeypatch.setenv("RETENTION_DAYS", "0")
    get_settings.cache_clear()
    assert main(["purge"]) == 2
    assert "RETENTION_DAYS: ensure this value is greater than or equal to 1" in capsys.readouterr().err
