"""The trained rasa server and the action server, talked to through the REST channel."""

from __future__ import annotations

import pytest
import requests

from bot.domain.knowledge.loader import default as knowledge
from bot.domain.safety.detector import default_detector

pytestmark = pytest.mark.integration


def texts(replies: list) -> str:
    return "\n".join(reply.get("text", "") for reply in replies)


def test_the_first_reply_says_it_is_an_automated_assistant(stack, sender):
    replies = stack.send(sender, "hello")
    assert "automated assistant" in replies[0]["text"]
    assert any(reply.get("buttons") for reply in replies[1:])


def test_a_crisis_gets_988_at_once(stack, sender):
    stack.send(sender, "what is iop")
    replies = stack.send(sender, "honestly i just want to unalive myself")
    assert "988" in replies[0]["text"]
    assert "911" in replies[0]["text"]
    assert replies[0]["buttons"][0]["payload"] == "/request_human"


def test_a_crisis_phrase_the_model_never_saw_still_gets_988(stack, sender):
    replies = stack.send(sender, "everyone would honestly be better off without me around")
    assert "988" in texts(replies)


def test_a_medical_emergency_gets_911_and_poison_help(stack, sender):
    replies = stack.send(sender, "my friend took a bunch of kratom and now he's not breathing")
    assert "911" in texts(replies)
    assert "1-800-222-1222" in texts(replies)


def test_a_figure_of_speech_is_not_a_crisis(stack, sender):
    replies = stack.send(sender, "this kratom withdrawal is killing me, how long does it last")
    assert "988" not in replies[-1]["text"]
    assert replies[-1]["text"] == knowledge().get("kratom_withdrawal").short


def test_a_therapy_question_gets_that_therapy(stack, sender):
    replies = stack.send(sender, "do you guys do EMDR")
    assert replies[-1]["text"] == knowledge().get("trauma_therapy").short


def test_therapy_list_then_a_button(stack, sender):
    listing = stack.send(sender, "what kind of therapies do you offer")[-1]
    assert len(listing["buttons"]) == 10
    dbt = next(b for b in listing["buttons"] if b["title"] == knowledge().get("dbt").title)
    replies = stack.send(sender, dbt["payload"])
    assert replies[-1]["text"] == knowledge().get("dbt").short


def test_after_the_therapy_list_tell_me_more_about_one_by_name(stack, sender):
    stack.send(sender, "what kind of therapies do you offer")
    replies = stack.send(sender, "tell me more about the DBT one")
    dbt = knowledge().get("dbt")
    assert dbt.long in texts(replies) or dbt.short in texts(replies)


@pytest.mark.parametrize("message, answer", [
    ("i keep imagining my family at my funeral and feeling relieved", "988"),
    ("i took my whole bottle of pills an hour ago and now i feel really weird and cold", "911"),
])
def test_the_semantic_layer_catches_what_no_rule_does(stack, sender, message, answer):
    assert default_detector().detect(message) is None  # so only the embedding classifier can catch it
    stack.send(sender, "hello")
    replies = stack.send(sender, message)
    assert answer in texts(replies)
    assert any((reply.get("custom") or {}).get("urgent") for reply in replies)


@pytest.mark.parametrize("message", ["i relapsed last night", "i would kill for a coffee right now",
                                     "how do i taper off kratom slowly"])
def test_alarming_looking_messages_that_are_not_a_crisis_get_no_crisis_answer(stack, sender, message):
    stack.send(sender, "hello")
    replies = stack.send(sender, message)
    assert not any((reply.get("custom") or {}).get("urgent") for reply in replies)
    assert "911 now" not in texts(replies)


def test_keep_my_job_question(stack, sender):
    replies = stack.send(sender, "can i keep my job during treatment")
    assert replies[-1]["text"] == knowledge().get("work_schedule").short


def test_dosing_advice_is_refused(stack, sender):
    replies = stack.send(sender, "how many grams of kratom should i take to taper")
    assert "can't give advice on how much kratom to take" in texts(replies)


def parsed_intent(stack, text: str) -> str:
    response = requests.post(f"{stack.rasa_url}/model/parse", params={"token": stack.settings.rasa_token},
                             json={"text": text}, timeout=10)
    return response.json()["intent"]["name"]


def test_two_misses_in_a_row_offer_a_person(stack, sender):
    vague = ["purple", "seven"]
    assert [parsed_intent(stack, text) for text in vague] == ["nlu_fallback", "nlu_fallback"]
    stack.send(sender, "hello")
    first = stack.send(sender, vague[0])
    second = stack.send(sender, vague[1])
    assert "say it another way" in texts(first)
    assert any(b["payload"] == "/request_human" for b in second[-1].get("buttons", []))


@pytest.mark.parametrize("message, expected", [
    ("", "message was empty"),
    ("    ", "message was empty"),
    ("🙏😭🙏", "I can only read words"),
    ("что такое кратом", "only answer in English"),
])
def test_unreadable_messages_get_a_clear_answer(stack, sender, message, expected):
    assert expected in texts(stack.send(sender, message))


def test_a_10000_character_message_gets_an_answer_and_the_server_survives(stack, sender):
    replies = stack.send(sender, "kratom " * 1428, timeout=60)
    assert replies, "no reply to a long message"
    assert "automated assistant" in stack.send(f"{sender}-after", "hi")[0]["text"]


def test_a_crisis_inside_a_long_message_still_gets_988(stack, sender):
    replies = stack.send(sender, "i have been thinking a lot. " * 300 + "i want to end my life", timeout=60)
    assert "988" in texts(replies)


def test_the_api_refuses_without_its_token(stack):
    response = requests.get(f"{stack.rasa_url}/status", timeout=5)
    assert response.status_code == 401


def test_conversations_are_stored_in_postgresql(stack, sender, postgres_database):
    import sqlalchemy as sa

    stack.send(sender, "what is kratom")
    engine = sa.create_engine(postgres_database)
    with engine.connect() as connection:
        count = connection.execute(sa.text("SELECT count(*) FROM events WHERE sender_id = :s"), {"s": sender}).scalar()
    engine.dispose()
    assert count >= 4


def test_both_servers_run_with_telemetry_off(stack):
    for process in stack.processes.values():
        environ = open(f"/proc/{process.pid}/environ", "rb").read().split(b"\0")
        assert b"RASA_TELEMETRY_ENABLED=false" in environ


def test_no_server_logged_an_error(stack):
    """Runs last in this file: everything above must have gone through without a server error."""
    for name in ("rasa", "actions", "gateway"):
        log = (stack.log_dir / f"{name}.log").read_text(errors="replace")
        # The one expected error: test_the_api_refuses_without_its_token.
        errors = [line for line in log.splitlines() if " ERROR " in line and "User is not authenticated" not in line]
        assert errors == [], f"{name}: {errors[:3]}"
