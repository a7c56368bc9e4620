"""The review queue's store side: which messages each filter finds, decisions (audited, without text),
the crisis double confirmation, and the export's scrubbing, deduplication and Rasa-readable output."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any, Dict, List, Optional

import pytest
from rasa.shared.nlu.training_data.formats.rasa_yaml import RasaYAMLReader
from sqlalchemy import select

from bot.domain.training_examples import catalogue_intents
from bot.settings import REPO_ROOT, load_settings
from bot.store import AuditEntry, Handoff, MessageRating, ReviewDecision, migrate, session_scope
from bot.store.review_queue import ReviewError, confirm_crisis, decide, export_reviewed, review_page
from tests.support.app_db import add_staff
from tests.support.tracker_seed import save_messages

INTENTS = catalogue_intents(REPO_ROOT / "domain.yml")
START = datetime(2026, 11, 30, 9, 0, tzinfo=timezone.utc)


def parse(intent: str, confidence: float, safety_rule: Optional[str] = None,
          entities: Optional[List[Dict[str, Any]]] = None) -> Dict[str, Any]:
    ranking = [{"name": intent, "confidence": confidence}, {"name": "ask_iop", "confidence": 0.05},
               {"name": "greet", "confidence": 0.01}, {"name": "thank", "confidence": 0.001}]
    data: Dict[str, Any] = {"intent": {"name": intent, "confidence": confidence}, "intent_ranking": ranking,
                            "entities": entities or []}
    if safety_rule:
        data["safety_rule"] = safety_rule
    return data


# (conversation, client_id, text, parse); one minute apart, in this order.
MESSAGES = [
    ("conv-a", "c1", "is kratom addictive", parse("ask_kratom_addiction", 0.97)),
    ("conv-a", "c2", "what's the weather in paris", parse("out_of_scope", 0.9)),
    ("conv-a", "c3", "do u take my insurence", parse("ask_insurance", 0.41)),
    ("conv-b", "c4", "i want to end it all tonight", parse("crisis_self_harm", 1.0, "self_harm_end_it")),
    ("conv-b", "c5", "everything feels pointless lately", parse("crisis_self_harm", 1.0, "semantic:0.71")),
    ("conv-b", "c6", "/ask_iop", parse("ask_iop", 1.0)),
    ("conv-c", "c7", "can i talk to someone real", parse("request_human", 0.88)),
    ("conv-c", "c8", "my number is 314-555-0142 call me about detox in St. Louis",
     parse("ask_detox", 0.8, entities=[{"entity": "city", "value": "St. Louis"}])),
    ("conv-c", "c9", "blah blah", parse("nlu_fallback", 0.3)),
]


@pytest.fixture
def setup(tmp_path):
    app, tracker = f"sqlite:///{tmp_path / 'app.db'}", f"sqlite:///{tmp_path / 'tracker.db'}"
    migrate(app)
    nlu = tmp_path / "data" / "nlu"
    nlu.mkdir(parents=True)
    (nlu / "insurance.yml").write_text('version: "3.1"\nnlu:\n- intent: ask_insurance\n  examples: |\n'
                                       "    - Do you take my insurance?\n")
    settings = load_settings(_env_file=None, app_db_url=app, tracker_db_url=tracker,
                             reviewed_nlu_file=nlu / "reviewed.yml", review_low_confidence=0.6)
    ids = save_messages(tracker, MESSAGES, START)
    with session_scope(app) as session:
        staff_id = add_staff(session).id
        # conv-c's handoff opened just after "can i talk to someone real".
        session.add(Handoff(conversation_id="conv-c", reason="request_human", priority="normal",
                            created_at=START + timedelta(minutes=6, seconds=30)))
        session.add(MessageRating(conversation_id="conv-a", client_id="c3", rating="down", rated_at=START))
        session.add(MessageRating(conversation_id="conv-a", client_id="c1", rating="up", rated_at=START))
    return settings, ids, staff_id


def texts(settings, filter_name: str = "all", search: str = "") -> List[str]:
    return [item.text for item in review_page(settings, filter_name, search).items]


def test_every_filter_finds_what_it_names_newest_first_without_button_payloads(setup):
    settings, _, _ = setup
    everything = texts(settings)
    assert everything == [m[2] for m in reversed(MESSAGES) if not m[2].startswith("/")]
    assert texts(settings, "fallback") == ["blah blah", "what's the weather in paris"]
    assert texts(settings, "low_confidence") == ["blah blah", "do u take my insurence"]
    assert texts(settings, "crisis") == ["everything feels pointless lately", "i want to end it all tonight"]
    assert texts(settings, "handoff") == ["can i talk to someone real"]
    assert texts(settings, "thumbs_down") == ["do u take my insurence"]
    assert texts(settings, "all", "INSUR") == ["do u take my insurence"]
    assert texts(settings, "undecided") == everything


def test_an_item_carries_the_parse_the_crisis_layer_and_the_rating(setup):
    settings, _, _ = setup
    items = {item.text: item for item in review_page(settings).items}
    crisis_rule, semantic = items["i want to end it all tonight"], items["everything feels pointless lately"]
    assert (crisis_rule.crisis_layer, semantic.crisis_layer) == ("crisis rules", "semantic layer")
    detox = items[MESSAGES[7][2]]
    assert detox.intent == "ask_detox" and detox.confidence == pytest.approx(0.8)
    assert [name for name, _ in detox.ranking] == ["ask_detox", "ask_iop", "greet"]
    assert detox.entities == (("city", "St. Louis"),)
    assert items["is kratom addictive"].rating == "up" and items["is kratom addictive"].crisis_layer is None


def test_pages_go_back_in_time_without_gaps(setup, monkeypatch):
    settings, _, _ = setup
    import bot.store.review_queue as queue

    everything = texts(settings)
    monkeypatch.setattr(queue, "PAGE_SIZE", 3)
    monkeypatch.setattr(queue, "BATCH_ROWS", 2)
    seen: List[str] = []
    before = None
    while True:
        page = review_page(settings, "all", "", before)
        seen += [item.text for item in page.items]
        if page.next_before is None or not page.items:
            break
        assert len(page.items) <= 3
        before = page.next_before
    assert seen == everything


def test_decisions_are_stored_with_who_and_audited_without_the_message(setup):
    settings, ids, staff_id = setup
    decide(settings, staff_id, "conv-a", ids["c1"], "correct", None, INTENTS)
    decide(settings, staff_id, "conv-a", ids["c3"], "relabel", "ask_insurance", INTENTS)
    decide(settings, staff_id, "conv-c", ids["c9"], "ignore", None, INTENTS)
    # A second decision on the same message replaces the first.
    decide(settings, staff_id, "conv-a", ids["c2"], "ignore", None, INTENTS)
    decide(settings, staff_id, "conv-a", ids["c2"], "relabel", "out_of_scope", INTENTS)
    with session_scope(settings.app_db_url) as session:
        rows = {row.event_id: (row.decision, row.intent, row.decided_by)
                for row in session.execute(select(ReviewDecision)).scalars()}
        details = [entry.detail for entry in session.execute(
            select(AuditEntry).where(AuditEntry.action == "review.decide")).scalars()]
    assert rows == {ids["c1"]: ("correct", "ask_kratom_addiction", staff_id),
                    ids["c3"]: ("relabel", "ask_insurance", staff_id), ids["c9"]: ("ignore", None, staff_id),
                    ids["c2"]: ("relabel", "out_of_scope", staff_id)}
    assert len(details) == 5 and not any(text in detail for _, _, text, _ in MESSAGES for detail in details)
    assert texts(settings, "undecided") == [text for text in texts(settings)
                                            if text not in ("is kratom addictive", "do u take my insurence",
                                                            "blah blah", "what's the weather in paris")]


@pytest.mark.parametrize("decision, intent, event, reason", [
    ("relabel", "not_an_intent", "c3", "catalogue"),
    ("relabel", None, "c3", "catalogue"),
    ("correct", None, "c9", "relabel the message"),  # nlu_fallback is not an intent to train on
    ("shrug", None, "c3", "unknown decision"),
])
def test_a_bad_decision_is_refused_with_its_reason(setup, decision, intent, event, reason):
    settings, ids, staff_id = setup
    with pytest.raises(ReviewError, match=reason):
        decide(settings, staff_id, "conv-a" if event == "c3" else "conv-c", ids[event], decision, intent, INTENTS)


def test_a_message_of_another_conversation_or_gone_is_refused(setup):
    settings, ids, staff_id = setup
    with pytest.raises(ReviewError, match="no longer stored"):
        decide(settings, staff_id, "conv-b", ids["c1"], "correct", None, INTENTS)


def test_export_scrubs_deduplicates_groups_and_holds_back_crisis_until_confirmed(setup):
    settings, ids, staff_id = setup
    decide(settings, staff_id, "conv-a", ids["c3"], "relabel", "ask_insurance", INTENTS)
    decide(settings, staff_id, "conv-a", ids["c1"], "correct", None, INTENTS)
    decide(settings, staff_id, "conv-c", ids["c8"], "correct", None, INTENTS)
    decide(settings, staff_id, "conv-b", ids["c5"], "correct", None, INTENTS)
    decide(settings, staff_id, "conv-c", ids["c9"], "ignore", None, INTENTS)

    report = export_reviewed(settings, staff_id)

    written = dict((text, intent) for intent, text in report.written)
    assert set(written.values()) == {"ask_insurance", "ask_kratom_addiction", "ask_detox"}
    detox_example = next(text for text, intent in written.items() if intent == "ask_detox")
    assert "314" not in detox_example and "0142" not in detox_example and "St. Louis" in detox_example
    assert report.crisis_unconfirmed == 1 and report.duplicates == 0
    training = RasaYAMLReader().reads(settings.reviewed_nlu_file.read_text())
    assert sorted((m.get("intent"), m.get("text")) for m in training.intent_examples) == sorted(
        (intent, text) for text, intent in written.items())

    # The crisis message, once confirmed, goes in the next export; nothing is written twice.
    confirm_crisis(settings, staff_id, "conv-b", ids["c5"])
    again = export_reviewed(settings, staff_id)
    assert again.written == (("crisis_self_harm", "everything feels pointless lately"),)
    assert export_reviewed(settings, staff_id).written == ()
    final = RasaYAMLReader().reads(settings.reviewed_nlu_file.read_text())
    assert len(final.intent_examples) == 4
    with session_scope(settings.app_db_url) as session:
        exports = [entry.detail for entry in session.execute(
            select(AuditEntry).where(AuditEntry.action == "review.export")).scalars()]
    assert exports[0] == "3 written, 0 duplicates, 0 still personal, 1 crisis unconfirmed"


def test_an_example_the_data_has_already_is_not_written_again(setup):
    settings, ids, staff_id = setup
    # "do u take my insurence" differs; this one is the existing example but for case and punctuation.
    decide(settings, staff_id, "conv-a", ids["c3"], "relabel", "ask_insurance", INTENTS)
    with session_scope(settings.app_db_url) as session:
        row = session.execute(select(ReviewDecision)).scalar_one()
        row.text = "do you take my insurance"
    report = export_reviewed(settings, staff_id)
    assert report.written == () and report.duplicates == 1
    assert not settings.reviewed_nlu_file.exists()


def test_a_message_still_personal_after_scrubbing_is_left_out_and_listed(setup):
    settings, ids, staff_id = setup
    decide(settings, staff_id, "conv-a", ids["c3"], "relabel", "ask_insurance", INTENTS)
    with session_scope(settings.app_db_url) as session:
        row = session.execute(select(ReviewDecision)).scalar_one()
        row.text = "do you take my insurance? call me at 3 1 4 5 5 5 0 1 4 2"
    report = export_reviewed(settings, staff_id)
    assert report.written == () and len(report.still_personal) == 1
    assert not settings.reviewed_nlu_file.exists()
    # Still pending: listed again next time, never exported silently.
    assert len(export_reviewed(settings, staff_id).still_personal) == 1


def test_an_exported_decision_cannot_be_changed_in_the_console(setup):
    settings, ids, staff_id = setup
    decide(settings, staff_id, "conv-a", ids["c3"], "relabel", "ask_insurance", INTENTS)
    export_reviewed(settings, staff_id)
    with pytest.raises(ReviewError, match="already exported"):
        decide(settings, staff_id, "conv-a", ids["c3"], "ignore", None, INTENTS)
