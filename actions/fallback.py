"""Two-stage fallback: ask the visitor to rephrase, and after a second miss in a row offer a person."""

from __future__ import annotations

import unicodedata
from typing import Any, Dict, List, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.handoff import try_hand_over
from bot.settings import get_settings

FALLBACK_INTENT = "nlu_fallback"


def describe_unreadable(text: str) -> str | None:
    """The response for a message the model cannot read at all, or None if it is ordinary text."""
    stripped = text.strip()
    if not stripped:
        return "utter_empty_message"
    letters = [ch for ch in stripped if ch.isalpha()]
    if not letters:
        return "utter_no_words"
    latin = sum(1 for ch in letters if "LATIN" in unicodedata.name(ch, ""))
    if latin < len(letters) / 2:
        return "utter_english_only"
    # Past the gateway's limit a message is more likely pasted text than a question.
    if len(stripped) > get_settings().max_message_chars:
        return "utter_message_too_long"
    return None


def misses_in_a_row(tracker: Tracker) -> int:
    """How many of the latest visitor messages, counting back, the model did not understand."""
    count = 0
    for event in reversed(tracker.events):
        if event.get("event") != "user":
            continue
        if (event.get("parse_data") or {}).get("intent", {}).get("name") != FALLBACK_INTENT:
            break
        count += 1
    return count


class ActionRephraseOrOfferPerson(Action):
    def name(self) -> Text:
        return "action_rephrase_or_offer_person"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        unreadable = describe_unreadable(tracker.latest_message.get("text") or "")
        if unreadable:
            dispatcher.utter_message(response=unreadable)
        elif misses_in_a_row(tracker) >= 2:
            # A person is asked to step in; if no one is free, the visitor is offered one.
            paused = await try_hand_over(dispatcher, tracker, "two misunderstandings in a row")
            if paused is not None:
                return paused
            dispatcher.utter_message(response="utter_offer_person")
        else:
            dispatcher.utter_message(response="utter_ask_rephrase")
        return []
