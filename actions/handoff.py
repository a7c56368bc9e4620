"""Connecting a visitor with admissions staff.

For now both actions answer with the clinic's contact details from the
knowledge file; the live handoff to the staff console grows here.
"""

from __future__ import annotations

from typing import Any, Dict, List, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.replies import knowledge, short_answer


def send_person_details(dispatcher: CollectingDispatcher) -> None:
    dispatcher.utter_message(**short_answer(knowledge().for_intent("request_human")))


class ActionRequestHuman(Action):
    def name(self) -> Text:
        return "action_request_human"

    def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        send_person_details(dispatcher)
        return []


class ActionRequestCallback(Action):
    def name(self) -> Text:
        return "action_request_callback"

    def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        dispatcher.utter_message(**short_answer(knowledge().for_intent("request_callback")))
        return []
