"""The handoff lifecycle on SQLite and PostgreSQL: every transition, expiry, the queue, concurrent
claims, the records of who did what, and staff availability."""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from bot.domain.handoffs.hours import StaffHours
from bot.domain.handoffs.lifecycle import HandoffConflict, InvalidTransition, NotFound
from bot.settings import SettingsError, load_settings, parse_staff_hours
from bot.store import AuditEntry, Handoff, HandoffTransition, StaffMember, session_scope
from bot.store.handoffs import (
    claim,
    expire_waiting,
    note_visitor_message,
    open_handoff,
    queue,
    resolve,
    staff_available,
)
from tests.support.app_db import add_staff

# The same fixture as the store tests: every test here runs on SQLite and on PostgreSQL.

T0 = datetime(2024, 1, 8, 15, 0, tzinfo=timezone.utc)  # a Monday, 09:00 in St. Louis
WAIT = timedelta(minutes=10)


def minutes(number: float) -> datetime:
    return T0 + timedelta(minutes=number)


@pytest.fixture
def staff(database_url):
    """Two staff members' ids: Ana and Ben."""
    with session_scope(database_url) as session:
        return add_staff(session, "ana@example.org", "Ana").id, add_staff(session, "ben@example.org", "Ben").id


def open_one(url: str, conversation_id: str = "c1", priority: str = "normal", at: datetime = T0) -> int:
    with session_scope(url) as session:
        return open_handoff(session, conversation_id, "request_human", priority, "request_human", now=at).id


def history(url: str, handoff_id: int):
    with session_scope(url) as session:
        transitions = session.execute(
            select(HandoffTransition).where(HandoffTransition.handoff_id == handoff_id).order_by(HandoffTransition.id)
        ).scalars().all()
        audit = session.execute(select(AuditEntry).order_by(AuditEntry.id)).scalars().all()
    return ([(t.from_status, t.to_status, t.actor, t.at) for t in transitions],
            [(a.action, a.staff_id, a.conversation_id, a.detail, a.at) for a in audit])


def test_the_whole_lifecycle_records_who_and_when(database_url, staff):
    ana, _ = staff
    with session_scope(database_url) as session:
        handoff = open_handoff(session, "c1", "crisis", "urgent", "crisis_self_harm", now=minutes(0))
        assert (handoff.status, handoff.priority, handoff.reason, handoff.last_intent) == \
            ("waiting", "urgent", "crisis", "crisis_self_harm")
    with session_scope(database_url) as session:
        handoff = claim(session, handoff.id, ana, now=minutes(1))
        assert (handoff.status, handoff.assigned_to, handoff.claimed_at) == ("active", ana, minutes(1))
    with session_scope(database_url) as session:
        handoff = resolve(session, handoff.id, ana, now=minutes(7))
        assert (handoff.status, handoff.closed_at) == ("resolved", minutes(7))

    transitions, audit = history(database_url, handoff.id)
    assert transitions == [
        (None, "waiting", None, minutes(0)),
        ("waiting", "active", ana, minutes(1)),
        ("active", "resolved", ana, minutes(7)),
    ]
    assert audit == [
        ("handoff.open", None, "c1", f"handoff {handoff.id}: reason=crisis priority=urgent", minutes(0)),
        ("handoff.claim", ana, "c1", f"handoff {handoff.id}: waiting -> active", minutes(1)),
        ("handoff.resolve", ana, "c1", f"handoff {handoff.id}: active -> resolved", minutes(7)),
    ]


def test_a_conversation_with_an_open_handoff_gets_the_same_one_back(database_url, staff):
    first = open_one(database_url)
    assert open_one(database_url, at=minutes(1)) == first
    with session_scope(database_url) as session:
        claim(session, first, staff[0])
    assert open_one(database_url, at=minutes(2)) == first
    with session_scope(database_url) as session:
        resolve(session, first, staff[0])
    second = open_one(database_url, at=minutes(3))
    assert second != first
    transitions, audit = history(database_url, first)
    assert [action for action, *_ in audit].count("handoff.open") == 2


def test_simultaneous_requests_for_a_person_open_one_handoff(database_url):
    barrier = threading.Barrier(2)
    opened = []

    def request_person():
        with session_scope(database_url) as session:
            barrier.wait()
            opened.append(open_handoff(session, "c1", "request_human", "normal", None).id)
            time.sleep(0.1)  # still uncommitted while the other request runs

    threads = [threading.Thread(target=request_person) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(opened) == 2 and opened[0] == opened[1]
    with session_scope(database_url) as session:
        assert len(session.execute(select(Handoff)).scalars().all()) == 1
    transitions, _ = history(database_url, opened[0])
    assert len(transitions) == 1


def test_of_two_staff_claiming_at_once_exactly_one_wins(database_url, staff):
    for round_number in range(3):
        handoff_id = open_one(database_url, f"c{round_number}")
        barrier = threading.Barrier(2, timeout=30)
        outcomes: dict = {}

        def attempt(staff_id, handoff_id=handoff_id, barrier=barrier, outcomes=outcomes):
            try:
                with session_scope(database_url) as session:
                    barrier.wait()
                    claim(session, handoff_id, staff_id)
                    time.sleep(0.1)  # hold the claim uncommitted while the other one runs
                outcomes[staff_id] = "won"
            except HandoffConflict as exc:
                outcomes[staff_id] = exc

        threads = [threading.Thread(target=attempt, args=(staff_id,)) for staff_id in staff]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

        winners = [staff_id for staff_id, outcome in outcomes.items() if outcome == "won"]
        assert len(outcomes) == 2 and len(winners) == 1
        loser = next(outcome for outcome in outcomes.values() if outcome != "won")
        winner_name = "Ana" if winners[0] == staff[0] else "Ben"
        assert str(loser) == f"handoff {handoff_id} was already claimed by {winner_name}"
        assert loser.claimed_by == winners[0]
        with session_scope(database_url) as session:
            assert session.get(Handoff, handoff_id).assigned_to == winners[0]
        transitions, _ = history(database_url, handoff_id)
        assert [(t[1], t[2]) for t in transitions] == [("waiting", None), ("active", winners[0])]


def put_in_state(url: str, staff_id: int, state: str) -> int:
    handoff_id = open_one(url, at=T0)
    with session_scope(url) as session:
        if state == "expired":
            expire_waiting(session, WAIT, now=minutes(11))
        if state in ("active", "resolved"):
            claim(session, handoff_id, staff_id, now=minutes(1))
        if state == "resolved":
            resolve(session, handoff_id, staff_id, now=minutes(2))
    return handoff_id


@pytest.mark.parametrize("state, action, error, message", [
    ("active", claim, HandoffConflict, "handoff {id} was already claimed by Ana"),
    ("resolved", claim, InvalidTransition, "handoff {id} cannot go from resolved to active"),
    ("expired", claim, InvalidTransition, "handoff {id} cannot go from expired to active"),
    ("waiting", resolve, InvalidTransition, "handoff {id} cannot go from waiting to resolved"),
    ("resolved", resolve, InvalidTransition, "handoff {id} cannot go from resolved to resolved"),
    ("expired", resolve, InvalidTransition, "handoff {id} cannot go from expired to resolved"),
])
def test_invalid_transitions_are_refused_naming_the_states_and_change_nothing(
        database_url, staff, state, action, error, message):
    ana, ben = staff
    handoff_id = put_in_state(database_url, ana, state)
    before = history(database_url, handoff_id)
    with pytest.raises(error) as raised:
        with session_scope(database_url) as session:
            action(session, handoff_id, ben)
    assert str(raised.value) == message.format(id=handoff_id)
    assert (raised.value.from_status, raised.value.to_status) == \
        (state, "resolved" if action is resolve else "active")
    assert history(database_url, handoff_id) == before
    with session_scope(database_url) as session:
        assert session.get(Handoff, handoff_id).status == state


@pytest.mark.parametrize("action", [claim, resolve])
def test_unknown_handoffs_and_staff_are_reported(database_url, staff, action):
    handoff_id = open_one(database_url)
    with session_scope(database_url) as session:
        with pytest.raises(NotFound, match="no handoff 9999"):
            action(session, 9999, staff[0])
        with pytest.raises(NotFound, match="no staff member 9999"):
            action(session, handoff_id, 9999)


def test_a_priority_must_be_urgent_or_normal(database_url):
    with session_scope(database_url) as session:
        with pytest.raises(ValueError, match="priority 'high' is not one of urgent, normal"):
            open_handoff(session, "c1", "request_human", "high", None)


def test_waiting_handoffs_expire_after_the_wait_and_only_those(database_url, staff):
    ana, _ = staff
    old = open_one(database_url, "old", at=minutes(0))
    exactly_due = open_one(database_url, "due", at=minutes(5))
    young = open_one(database_url, "young", at=minutes(10))
    claimed = open_one(database_url, "claimed", at=minutes(0))
    with session_scope(database_url) as session:
        claim(session, claimed, ana, now=minutes(3))

    with session_scope(database_url) as session:
        expired = expire_waiting(session, WAIT, now=minutes(15))
        assert [handoff.id for handoff in expired] == [old, exactly_due]
        assert {handoff.status for handoff in expired} == {"expired"}
        assert expired[0].closed_at == minutes(15)
    with session_scope(database_url) as session:
        assert session.get(Handoff, young).status == "waiting"
        assert session.get(Handoff, claimed).status == "active"
        assert expire_waiting(session, WAIT, now=minutes(15)) == []

    transitions, audit = history(database_url, old)
    assert transitions[-1] == ("waiting", "expired", None, minutes(15))
    assert ("handoff.expire", None, "old", f"handoff {old}: waiting -> expired", minutes(15)) in audit
    assert open_one(database_url, "old", at=minutes(16)) != old


def test_the_queue_puts_waiting_first_urgent_first_then_oldest(database_url, staff):
    ana, ben = staff
    ids = {name: open_one(database_url, name, priority, minutes(at)) for name, priority, at in [
        ("normal-oldest", "normal", 0), ("active-later", "normal", 1), ("active-earlier", "normal", 2),
        ("normal-newer", "normal", 3), ("urgent-older", "urgent", 4), ("urgent-newest", "urgent", 5),
        ("resolved-recently", "normal", 6), ("resolved-long-ago", "normal", -3000), ("expired", "urgent", -20),
    ]}
    with session_scope(database_url) as session:
        claim(session, ids["active-earlier"], ana, now=minutes(7))
        claim(session, ids["active-later"], ben, now=minutes(8))
        claim(session, ids["resolved-recently"], ana, now=minutes(7))
        resolve(session, ids["resolved-recently"], ana, now=minutes(9))
        claim(session, ids["resolved-long-ago"], ana, now=minutes(-2990))
        resolve(session, ids["resolved-long-ago"], ana, now=minutes(-2980))
        expire_waiting(session, WAIT, now=minutes(-5))
    with session_scope(database_url) as session:
        order = [handoff.conversation_id for handoff in queue(session, now=minutes(10))]
    assert order == ["urgent-older", "urgent-newest", "normal-oldest", "normal-newer",
                     "active-earlier", "active-later", "resolved-recently"]


def test_the_queue_shows_a_short_preview_of_the_visitors_last_message(database_url, staff):
    handoff_id = open_one(database_url)
    long_message = "I have been taking   kratom\nfor two years " + "and I want to stop " * 20
    with session_scope(database_url) as session:
        assert note_visitor_message(session, "c1", long_message)
        assert not note_visitor_message(session, "no-handoff", "hello")
    with session_scope(database_url) as session:
        preview = session.get(Handoff, handoff_id).last_visitor_message
        assert preview.startswith("I have been taking kratom for two years and I want")
        assert len(preview) == 140 and preview.endswith("…")
        claim(session, handoff_id, staff[0])
        resolve(session, handoff_id, staff[0])
    _, audit = history(database_url, handoff_id)
    assert not any("kratom" in (detail or "") for _, _, _, detail, _ in audit)


WEEKDAYS = StaffHours.from_settings(load_settings(
    _env_file=None, staff_hours="Mon-Fri 08:00-18:00", staff_timezone="America/Chicago"))


def set_presence(url: str, staff_id: int, presence: str, last_seen: datetime) -> None:
    with session_scope(url) as session:
        member = session.get(StaffMember, staff_id)
        member.presence, member.last_seen = presence, last_seen


@pytest.mark.parametrize("presence, seen, now, hours, available", [
    ("online", minutes(-1), T0, WEEKDAYS, True),
    ("offline", None, T0, WEEKDAYS, False),
    ("away", minutes(-1), T0, WEEKDAYS, False),
    ("online", minutes(-3), T0, WEEKDAYS, False),  # the console stopped sending heartbeats
    ("online", minutes(-361), minutes(-360), WEEKDAYS, False),  # 09:00 UTC is 03:00 in St. Louis
    ("online", minutes(5 * 24 * 60 - 1), minutes(5 * 24 * 60), WEEKDAYS, False),  # Saturday
    ("online", minutes(5 * 24 * 60 - 1), minutes(5 * 24 * 60), StaffHours.from_settings(
        load_settings(_env_file=None, staff_hours="")), True),  # no hours set: always
], ids=["online", "offline", "away", "stale", "night", "saturday", "always"])
def test_staff_are_available_when_online_recently_and_within_hours(
        database_url, staff, presence, seen, now, hours, available):
    set_presence(database_url, staff[0], presence, seen)
    with session_scope(database_url) as session:
        assert staff_available(session, now, hours) is available


@pytest.mark.parametrize("moment, inside", [
    (datetime(2024, 1, 8, 13, 59, tzinfo=timezone.utc), False),  # 07:59 CST
    (datetime(2024, 1, 8, 14, 0, tzinfo=timezone.utc), True),    # 08:00 CST
    (datetime(2024, 7, 8, 13, 0, tzinfo=timezone.utc), True),    # 08:00 CDT: daylight saving time
    (datetime(2024, 1, 9, 0, 0, tzinfo=timezone.utc), False),    # Monday 18:00 CST: closed
    (datetime(2024, 1, 12, 23, 59, tzinfo=timezone.utc), True),  # Friday 17:59 CST
])
def test_staff_hours_are_read_in_the_clinics_time_zone(moment, inside):
    assert WEEKDAYS.contains(moment) is inside


def test_staff_hours_parse_several_windows_and_wrap_around_the_week():
    assert parse_staff_hours("Mon-Fri 08:00-18:00, Sat 9:00-13:30") == (
        (frozenset(range(5)), 480, 1080), (frozenset({5}), 540, 810))
    assert parse_staff_hours("friday-monday 00:00-24:00") == ((frozenset({4, 5, 6, 0}), 0, 1440),)
    assert parse_staff_hours("  ") == ()


@pytest.mark.parametrize("value, message", [
    ("Mon-Fri 8am-6pm", "'Mon-Fri 8am-6pm' is not like 'Mon-Fri 08:00-18:00'"),
    ("Mon-Fir 08:00-18:00", "'Fir' is not a day: use Mon, Tue"),
    ("Mon 18:00-08:00", "in 'Mon 18:00-08:00' the end must be after the start"),
    ("Mon 08:00-24:30", "in 'Mon 08:00-24:30' 24:30 is not a time between 00:00 and 24:00"),
])
def test_bad_staff_hours_stop_start_up_with_a_clear_message(value, message):
    with pytest.raises(SettingsError) as error:
        load_settings(_env_file=None, staff_hours=value)
    assert f"STAFF_HOURS: {message}" in str(error.value)
