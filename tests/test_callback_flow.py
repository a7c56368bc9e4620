"""The callback form: consent first, validated details, stored encrypted by the real gateway."""

from __future__ import annotations

import sqlite3

import pytest
from sqlalchemy import select

from actions.callback import valid_contact
from bot.knowledge.loader import default as knowledge
from bot.store import CallbackRequest, contact_cipher, session_scope


@pytest.mark.parametrize("text, expected", [
    ("(314) 555-0100", "(314) 555-0100"), ("314-555-0100", "314-555-0100"), ("  maria@example.org ", "maria@example.org"),
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
