"""The callback form: consent first, then first name, phone or email, and a good time to call.

Details are stored (encrypted) by the gateway, then cleared from the form's slots.
"""

from __future__ import annotations

import re
from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.gateway import post_to_gateway
from actions.replies import knowledge, message, short_answer
from bot.settings import US_PHONE

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$")
FORM_SLOTS = ("callback_consent", "callback_name", "callback_contact", "callback_time")


def valid_contact(text: str) -> Optional[str]:
    """A US phone number or an email address, tidied; None if it is neither."""
    value = text.strip()
    if US_PHONE.match(value) or EMAIL.match(value):
        return value
    return None


class ValidateCallbackForm(FormValidationAction):
    def name(self) -> Text:
        return "validate_callback_form"

    async def required_slots(
        self, domain_slots: List[Text], dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict
    ) -> List[Text]:
        # Without consent nothing more is asked (or stored).
        if tracker.get_slot("callback_consent") is False:
            return ["callback_consent"]
        return domain_slots

    def validate_callback_name(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                               domain: Dict) -> Dict[Text, Any]:
        name = str(value or "").strip()
        if 1 <= len(name) <= 40 and re.fullmatch(r"[^\W\d_][^\d_]*", name):
            return {"callback_name": name}
        dispatcher.utter_message(text=message("callback_name_invalid"))
        return {"callback_name": None}

    def validate_callback_contact(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                                  domain: Dict) -> Dict[Text, Any]:
        contact = valid_contact(str(value or ""))
        if contact:
            return {"callback_contact": contact}
        dispatcher.utter_message(text=message("callback_contact_invalid"))
        return {"callback_contact": None}

    def validate_callback_time(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                               domain: Dict) -> Dict[Text, Any]:
        when = str(value or "").strip()
        if 1 <= len(when) <= 100:
            return {"callback_time": when}
        dispatcher.utter_message(text=message("callback_time_invalid"))
        return {"callback_time": None}


async def store_callback(tracker: Tracker) -> bool:
    answer = await post_to_gateway("/internal/callbacks", {
        "conversation_id": tracker.sender_id, "first_name": tracker.get_slot("callback_name"),
        "contact": tracker.get_slot("callback_contact"), "best_time": tracker.get_slot("callback_time"),
    })
    return answer is not None


class ActionSubmitCallback(Action):
    def name(self) -> Text:
        return "action_submit_callback"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        if tracker.get_slot("callback_consent") is not True:
            dispatcher.utter_message(**short_answer(knowledge().require("callback_declined")))
        elif await store_callback(tracker):
            dispatcher.utter_message(**short_answer(knowledge().require("callback_saved")))
        else:
            # Not stored: give the visitor the ways to reach admissions themselves.
            dispatcher.utter_message(**short_answer(knowledge().require_for_intent("request_callback")))
        # Contact details live on only in the encrypted store.
        return [SlotSet(name, None) for name in FORM_SLOTS]
