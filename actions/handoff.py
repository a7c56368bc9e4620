"""Connecting a visitor with admissions staff through the gateway's handoff API.

When a person can take the conversation now, the bot says so and pauses
(Rasa then records the visitor's messages without answering them). When no
one is available, or the gateway cannot be reached, the visitor gets the
clinic's contact details and a callback offer at once instead of waiting.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ConversationPaused
from rasa_sdk.executor import CollectingDispatcher

from actions.gateway import post_to_gateway
from actions.replies import callback_button, knowledge, short_answer


async def request_handoff(tracker: Tracker, reason: str, priority: str) -> Optional[str]:
    """The gateway's answer ("waiting" / "unavailable"), or None if it could not be asked."""
    answer = await post_to_gateway("/internal/handoffs", {
        "conversation_id": tracker.sender_id, "reason": reason, "priority": priority,
        "last_intent": (tracker.latest_message.get("intent") or {}).get("name"),
    })
    return (answer or {}).get("status")


def send_person_details(dispatcher: CollectingDispatcher) -> None:
    message = short_answer(knowledge().require_for_intent("request_human"))
    dispatcher.utter_message(text=message["text"], buttons=message["buttons"] + [callback_button()])


async def try_hand_over(dispatcher: CollectingDispatcher, tracker: Tracker, reason: str,
                        priority: str = "normal") -> Optional[List[Dict[Text, Any]]]:
    """Pause the conversation for a person if one can take it now; None if no one can."""
    if await request_handoff(tracker, reason, priority) != "waiting":
        return None
    dispatcher.utter_message(**short_answer(knowledge().require("handoff_waiting")))
    return [ConversationPaused()]


async def hand_over(dispatcher: CollectingDispatcher, tracker: Tracker, reason: str) -> List[Dict[Text, Any]]:
    """Hand the conversation to a person if one is available, else give the ways to reach one."""
    paused = await try_hand_over(dispatcher, tracker, reason)
    if paused is not None:
        return paused
    send_person_details(dispatcher)
    return []


class ActionRequestHuman(Action):
    def name(self) -> Text:
        return "action_request_human"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        return await hand_over(dispatcher, tracker, "visitor asked for a person")


class ActionOpenUrgentHandoff(Action):
    """After a crisis answer (always sent first, by rule): queue an urgent handoff for staff."""

    def name(self) -> Text:
        return "action_open_urgent_handoff"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        intent = (tracker.latest_message.get("intent") or {}).get("name") or "crisis"
        return await try_hand_over(dispatcher, tracker, intent, "urgent") or []
