"""The callback form: consent first, validated details, stored encrypted by the real gateway."""

from __future__ import annotations

import json
import sqlite3

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select, text

from actions.callback import valid_contact
from bot.domain.knowledge.loader import default as knowledge
from bot.domain.privacy.redaction import REDACTED, redact, values_pattern
from bot.settings import load_settings
from bot.store import CallbackRequest, contact_cipher, engine_for, migrate, session_scope, utcnow
from bot.store.contact_redaction import SETTLE_TIME, redact_stored_callbacks


@pytest.mark.parametrize("text, expected", [
    ("(314) 555-0100", "(314) 555-0100"), ("314-555-0100", "314-555-0100"),
    ("  maria@example.org ", "maria@example.org"),
    ("call me", None), ("555-01", None), ("maria@", None), ("", None),
])
def test_contact_details_are_a_us_phone_number_or_an_email(text, expected):
    assert valid_contact(text) == expected


def texts(replies) -> str:
    return "\n".join(reply.get("text", "") for reply in replies)


@pytest.mark.integration
def test_a_consented_callback_is_stored_encrypted_and_cleared_from_the_conversation(stack, sender):
    assert "May we store your first name" in texts(stack.send(sender, "can someone call me back"))
    assert "What first name" in texts(stack.send(sender, "yes"))
    assert "phone number or email" in texts(stack.send(sender, "Maria"))
    assert "doesn't look like a US phone number" in texts(stack.send(sender, "my cell"))
    assert "good time to call" in texts(stack.send(sender, "(314) 555-0199"))
    assert texts(stack.send(sender, "weekday mornings")).endswith(knowledge().get("callback_saved").short)

    cipher = contact_cipher(stack.settings)
    with session_scope(stack.settings.app_db_url) as session:
        stored = session.execute(select(CallbackRequest).where(CallbackRequest.conversation_id == sender)).scalar_one()
        assert cipher.decrypt(stored.contact_enc) == "(314) 555-0199"
        assert cipher.decrypt(stored.first_name_enc) == "Maria"
        assert cipher.decrypt(stored.best_time_enc) == "weekday mornings"
    raw = sqlite3.connect(stack.settings.app_db_url.replace("sqlite:///", ""))
    row = raw.execute("SELECT first_name_enc, contact_enc FROM callback_requests WHERE conversation_id = ?",
                      (sender,)).fetchone()
    raw.close()
    assert "555-0199" not in str(row) and "Maria" not in str(row)
    slots = {e["name"]: e["value"] for e in stack.events(sender) if e["event"] == "slot"}
    assert slots["callback_contact"] is None and slots["callback_name"] is None

    # The gateway's redaction job then removes the typed details from the transcript itself.
    assert "555-0199" in json.dumps(stack.events(sender))
    redact_stored_callbacks(stack.settings, cipher, now=utcnow() + SETTLE_TIME)
    transcript = json.dumps(stack.events(sender))
    for typed in ("555-0199", "Maria", "weekday mornings"):
        assert typed not in transcript
    assert REDACTED in transcript
    with session_scope(stack.settings.app_db_url) as session:
        assert session.execute(select(CallbackRequest.redacted_at).where(CallbackRequest.conversation_id == sender)
                               ).scalar_one() is not None
    # The conversation goes on as before.
    assert knowledge().get("iop").short in texts(stack.send(sender, "what is iop"))


@pytest.mark.parametrize("text, expected", [
    ("I'm Al, also here", f"I'm {REDACTED}, also here"),
    ("call (314) 555-0199 after 5", f"call {REDACTED} after 5"),
    ("AL", REDACTED),
])
def test_redaction_replaces_whole_words_in_every_string(text, expected):
    pattern = values_pattern(["Al", "(314) 555-0199", ""])
    assert redact({"text": text, "parse_data": {"entities": [{"value": text}]}, "timestamp": 1.5}, pattern) == {
        "text": expected, "parse_data": {"entities": [{"value": expected}]}, "timestamp": 1.5}


def test_a_request_is_redacted_only_after_its_turn_has_been_saved(tmp_path):
    settings = load_settings(_env_file=None, app_db_url=f"sqlite:///{tmp_path / 'app.db'}",
                             tracker_db_url=f"sqlite:///{tmp_path / 'tracker.db'}",
                             contact_key=Fernet.generate_key().decode())
    migrate(settings.app_db_url)
    with engine_for(settings.tracker_db_url).begin() as connection:
        connection.execute(text("CREATE TABLE events (id INTEGER PRIMARY KEY, sender_id TEXT, data TEXT)"))
        connection.execute(text("INSERT INTO events (sender_id, data) VALUES ('c-1', :data)"),
                           {"data": json.dumps({"event": "user", "text": "it's Sam"})})
    cipher = contact_cipher(settings)
    with session_scope(settings.app_db_url) as session:
        session.add(CallbackRequest(conversation_id="c-1", first_name_enc=cipher.encrypt("Sam"),
                                    contact_enc=cipher.encrypt("sam@example.org"), best_time_enc=cipher.encrypt("noon"),
                                    consented_at=utcnow(), created_at=utcnow()))
    assert redact_stored_callbacks(settings, cipher) == 0
    assert redact_stored_callbacks(settings, cipher, now=utcnow() + SETTLE_TIME) == 1
    assert redact_stored_callbacks(settings, cipher, now=utcnow() + SETTLE_TIME) == 0
    with engine_for(settings.tracker_db_url).connect() as connection:
        stored = json.loads(connection.execute(text("SELECT data FROM events")).scalar_one())
        assert stored["text"] == f"it's {REDACTED}"


@pytest.mark.integration
def test_without_consent_nothing_is_asked_or_stored(stack, sender):
    stack.send(sender, "can someone call me back")
    replies = stack.send(sender, "no")
    assert texts(replies) == knowledge().get("callback_declined").short
    with session_scope(stack.settings.app_db_url) as session:
        assert session.execute(select(CallbackRequest).where(CallbackRequest.conversation_id == sender)).first() is None


@pytest.mark.integration
def test_a_crisis_during_the_form_gets_988_and_ends_the_form(stack, sender):
    stack.send(sender, "can someone call me back")
    stack.send(sender, "yes")
    replies = stack.send(sender, "actually i want to end my life")
    assert "988" in texts(replies)
    assert "phone number or email" not in texts(replies)
    assert knowledge().get("iop").short in texts(stack.send(sender, "what is iop"))
