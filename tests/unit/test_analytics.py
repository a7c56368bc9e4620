"""The reports' figures (bot/store/analytics.py) on SQLite and PostgreSQL: exact counts per day and per
week in Chicago time (across a daylight-saving change and at 23:30), empty ranges, the first staff
reply's median and 90th percentile, and the nearest-rank percentile itself. Tracker events are saved
by Rasa's own store, so their columns hold what Rasa writes."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from typing import Dict, Iterator
from zoneinfo import ZoneInfo

import pytest

from bot.store import session_scope
from bot.store.analytics import MAX_DAYS, MEASURES, build_report, percentile, periods
from bot.store.handoffs import claim, open_handoff, resolve
from tests.support.app_db import add_staff, app_and_tracker_urls
from tests.support.report_seed import (
    bot,
    local,
    pause,
    save_conversation,
    seed_known_fortnight,
    session_start,
    user,
)

MONDAY = date(2026, 3, 2)
# 2026-03-08, a Sunday, is the day Chicago moves its clocks forward: 23 hours long.
SPRING_FORWARD = date(2026, 3, 8)
ZONE = "America/Chicago"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def urls(request, tmp_path) -> Iterator[Dict[str, str]]:
    """A migrated app DB and a tracker store with no events table yet, on each database."""
    with app_and_tracker_urls(request, tmp_path, "reports") as urls:
        yield urls


def report(urls, first: date, last: date, by: str = "day"):
    return build_report(urls["app"], urls["tracker"], first, last, by, ZONE)


def zeros() -> Dict[str, object]:
    return {name: None if name in ("unanswered_rate", "first_reply_median_seconds", "first_reply_p90_seconds")
            else 0 for name in MEASURES}


def test_a_known_fortnight_by_day_has_exact_figures_for_every_day(urls):
    known = seed_known_fortnight(urls["app"], urls["tracker"], MONDAY)
    found = report(urls, known.first, known.last)
    assert [period.first for period in found.periods] == [MONDAY + timedelta(days=n) for n in range(14)]
    for period, figures in zip(found.periods, found.rows, strict=True):
        assert figures == known.by_day.get(period.first, zeros()), period.first
    assert found.total == pytest.approx(known.total)
    assert list(found.top_intents) == known.top_intents


def test_weeks_run_monday_to_sunday_and_stop_at_the_range_ends(urls):
    seed_known_fortnight(urls["app"], urls["tracker"], MONDAY)
    found = report(urls, MONDAY + timedelta(days=1), MONDAY + timedelta(days=8), "week")
    assert [(period.first, period.last) for period in found.periods] == [
        (date(2026, 3, 3), date(2026, 3, 8)), (date(2026, 3, 9), date(2026, 3, 10))]
    first_week, second_week = found.rows
    # Monday's messages (the 23:30 crisis and the 23:50 request too) are outside; Tuesday's callback is in.
    assert first_week == {**zeros(), "callbacks_requested": 1}
    assert second_week == {**zeros(), "conversations": 1, "visitor_messages": 2, "unanswered_messages": 1,
                           "unanswered_rate": 0.5, "handoffs_unstaffed": 1, "callbacks_requested": 1,
                           "callbacks_closed": 1, "thumbs_up": 1, "thumbs_down": 1}
    whole = report(urls, MONDAY, MONDAY + timedelta(days=13), "week")
    assert [row["visitor_messages"] for row in whole.rows] == [4, 2]
    assert [row["conversations"] for row in whole.rows] == [2, 1] and whole.total["conversations"] == 3


def test_a_message_at_2330_in_chicago_counts_on_that_day_across_the_clock_change(urls):
    late_monday = local(MONDAY, 23, 30)
    late_spring_forward = local(SPRING_FORWARD, 23, 30)
    # The edges themselves: both are already the next day in UTC (six hours ahead, then five).
    assert late_monday == datetime(2026, 3, 3, 5, 30, tzinfo=timezone.utc)
    assert late_spring_forward == datetime(2026, 3, 9, 4, 30, tzinfo=timezone.utc)
    save_conversation(urls["tracker"], "late", user(late_monday, "ask_iop"), user(late_spring_forward, "ask_iop"),
                      user(local(SPRING_FORWARD + timedelta(days=1), 0, 5), "ask_iop"))
    found = report(urls, MONDAY, SPRING_FORWARD + timedelta(days=1))
    by_day = {period.first: figures["visitor_messages"]
              for period, figures in zip(found.periods, found.rows, strict=True)}
    assert by_day == {MONDAY: 1, **{MONDAY + timedelta(days=n): 0 for n in range(1, 6)},
                      SPRING_FORWARD: 1, SPRING_FORWARD + timedelta(days=1): 1}
    spans = {period.first: period.ends_at - period.starts_at for period in found.periods}
    assert spans[SPRING_FORWARD] == timedelta(hours=23) and spans[MONDAY] == timedelta(hours=24)


def test_every_period_starts_exactly_at_local_midnight(urls):
    days = [MONDAY + timedelta(days=n) for n in range(21)]
    midnights = [local(day, 0) for day in days]
    # Each day's first and last second, and one second on either side of the range.
    seconds = [moment for start, end in zip(midnights, midnights[1:], strict=False)
               for moment in (start, end - timedelta(seconds=1))]
    outside = [midnights[0] - timedelta(seconds=1), midnights[-1]]
    save_conversation(urls["tracker"], "edges", *(user(moment, "ask_iop") for moment in seconds + outside))
    found = report(urls, days[0], days[-2])
    assert [row["visitor_messages"] for row in found.rows] == [2] * 20
    weeks = report(urls, days[0], days[-2], "week")
    assert [row["visitor_messages"] for row in weeks.rows] == [14, 14, 12]


def test_an_empty_range_and_a_fresh_install_give_zeros(urls):
    found = report(urls, MONDAY, MONDAY + timedelta(days=2))
    assert found.rows == (zeros(),) * 3 and found.total == zeros() and found.top_intents == ()
    seed_known_fortnight(urls["app"], urls["tracker"], MONDAY)
    later = report(urls, date(2026, 5, 1), date(2026, 5, 31), "week")
    assert all(row == zeros() for row in later.rows) and later.total == zeros() and later.top_intents == ()


def test_first_staff_reply_median_and_90th_percentile(urls):
    opened = local(MONDAY, 9)
    waits = {"w60": 60, "w120": 120, "w300": 300, "w600": 600}
    with session_scope(urls["app"]) as session:
        staff_id = add_staff(session).id
        for number, (conversation, seconds) in enumerate(waits.items()):
            at = opened + timedelta(hours=number)
            handoff = open_handoff(session, conversation, "visitor asked for a person", "normal", None, now=at)
            claim(session, handoff.id, staff_id, now=at + timedelta(seconds=30))
            save_conversation(urls["tracker"], conversation, user(at - timedelta(seconds=5), "request_human"),
                              pause(at),
                              # The bot's own message after the claim is not a staff reply.
                              bot(at + timedelta(seconds=40)),
                              bot(at + timedelta(seconds=seconds), staff="Rosa"),
                              bot(at + timedelta(seconds=seconds + 5), staff="Rosa"))
        # Claimed, no reply yet: not measured.
        silent = open_handoff(session, "silent", "visitor asked for a person", "normal", None, now=opened)
        claim(session, silent.id, staff_id, now=opened + timedelta(minutes=1))
        # Resolved without a reply; a staff message after that is not its reply.
        unreplied = open_handoff(session, "unreplied", "visitor asked for a person", "normal", None, now=opened)
        claim(session, unreplied.id, staff_id, now=opened + timedelta(minutes=1))
        resolve(session, unreplied.id, staff_id, now=opened + timedelta(minutes=5))
        # Two handoffs in one conversation: each counts only the replies while it was claimed.
        first = open_handoff(session, "twice", "visitor asked for a person", "normal", None, now=opened)
        claim(session, first.id, staff_id, now=opened + timedelta(minutes=1))
        resolve(session, first.id, staff_id, now=opened + timedelta(minutes=20))
        second_opened = local(MONDAY + timedelta(days=1), 9)
        second = open_handoff(session, "twice", "visitor asked for a person", "normal", None, now=second_opened)
        claim(session, second.id, staff_id, now=second_opened + timedelta(minutes=5))
    save_conversation(urls["tracker"], "unreplied", bot(opened + timedelta(minutes=6), staff="Rosa"))
    save_conversation(urls["tracker"], "twice", bot(opened + timedelta(minutes=10), staff="Rosa"),
                      # After the first was resolved and before the second was claimed: neither's.
                      bot(opened + timedelta(minutes=30), staff="Rosa"),
                      bot(second_opened + timedelta(minutes=2), staff="Rosa"),
                      bot(second_opened + timedelta(minutes=15), staff="Rosa"))
    found = report(urls, MONDAY, MONDAY + timedelta(days=1))
    monday, tuesday = found.rows
    # Monday: 60, 120, 300, 600 and the first of "twice" (600): nearest rank 3 of 5 and 5 of 5.
    assert (monday["first_replies"], monday["first_reply_median_seconds"], monday["first_reply_p90_seconds"]) == (
        5, 300, 600)
    assert (tuesday["first_replies"], tuesday["first_reply_median_seconds"]) == (1, 900)
    # The whole range: 60, 120, 300, 600, 600, 900.
    assert (found.total["first_replies"], found.total["first_reply_median_seconds"],
            found.total["first_reply_p90_seconds"]) == (6, 300, 900)
    assert monday["handoffs_requested"] == 7 and monday["handoffs_taken"] == 7 and monday["handoffs_waited"] == 4


def test_waiting_counts_pauses_but_not_a_new_session_that_keeps_one(urls):
    at = local(MONDAY, 12)
    save_conversation(urls["tracker"], "waits", user(at, "request_human"), pause(at + timedelta(seconds=1)),
                      session_start(at + timedelta(hours=1), still_paused=True),
                      user(at + timedelta(hours=1, minutes=1), "ask_iop"))
    # A new session with nobody waiting is no wait either.
    save_conversation(urls["tracker"], "fresh", session_start(at), user(at + timedelta(seconds=1), "greet"))
    found = report(urls, MONDAY, MONDAY)
    assert found.rows[0]["handoffs_waited"] == 1 and found.rows[0]["visitor_messages"] == 3


def test_unanswered_and_crisis_messages_are_counted_by_intent(urls):
    at = local(MONDAY, 15)
    intents = ["nlu_fallback", "out_of_scope", "ask_iop", "crisis_self_harm", "medical_emergency", "greet",
               "ask_iop", "ask_insurance"]
    save_conversation(urls["tracker"], "mixed",
                      *(user(at + timedelta(minutes=n), intent) for n, intent in enumerate(intents)))
    found = report(urls, MONDAY, MONDAY)
    figures = found.rows[0]
    assert (figures["visitor_messages"], figures["unanswered_messages"], figures["crisis_messages"]) == (8, 2, 2)
    assert figures["unanswered_rate"] == 0.25 and figures["conversations"] == 1
    assert found.top_intents[0] == ("ask_iop", 2) and len(found.top_intents) == 7


def test_top_intents_are_the_ten_most_asked(urls):
    at = local(MONDAY, 8)
    messages = [user(at + timedelta(seconds=n * 12 + k), f"intent_{n:02d}") for n in range(12) for k in range(n + 1)]
    save_conversation(urls["tracker"], "many", *messages)
    found = report(urls, MONDAY, MONDAY)
    assert list(found.top_intents) == [(f"intent_{n:02d}", n + 1) for n in range(11, 1, -1)]


def test_periods_refuse_a_bad_grouping_a_reversed_or_too_long_range():
    chicago = ZoneInfo(ZONE)
    with pytest.raises(ValueError, match="by must be"):
        periods(MONDAY, MONDAY, "month", chicago)
    with pytest.raises(ValueError, match="ends before"):
        periods(MONDAY, MONDAY - timedelta(days=1), "day", chicago)
    with pytest.raises(ValueError, match="longer than 366"):
        periods(MONDAY, MONDAY + timedelta(days=MAX_DAYS), "day", chicago)
    assert len(periods(MONDAY, MONDAY + timedelta(days=MAX_DAYS - 1), "day", chicago)) == MAX_DAYS
    weeks = periods(date(2026, 1, 1), date(2026, 12, 31), "week", chicago)
    assert len(weeks) == 53 and weeks[0].last == date(2026, 1, 4) and weeks[-1].first == date(2026, 12, 28)
    assert weeks[0].starts_at == datetime(2026, 1, 1, 6, tzinfo=timezone.utc)


@pytest.mark.parametrize(("values", "percent", "expected"), [
    ([], 50, None),
    ([7.0], 50, 7.0),
    ([7.0], 90, 7.0),
    ([4, 1, 3, 2], 50, 2),            # even count: the lower middle value
    ([5, 1, 3], 50, 3),
    (list(range(1, 11)), 90, 9),       # rank 9 of 10 exactly, not 10 from a float a hair above 9
    (list(range(1, 11)), 91, 10),
    (list(range(1, 101)), 90, 90),
    ([10, 10, 20], 90, 20),
    (list(range(1, 11)), 100, 10),
])
def test_percentile_is_nearest_rank(values, percent, expected):
    assert percentile(values, percent) == expected


def test_percentile_refuses_a_percent_outside_1_to_100():
    for percent in (0, 101, -5):
        with pytest.raises(ValueError):
            percentile([1.0], percent)
