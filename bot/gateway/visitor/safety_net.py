"""The gateway's own crisis answer, for the visitor messages Rasa will not answer in time.

Rasa answers a crisis by rule (`CrisisOverride` and data/rules/safety.yml), but not while a
conversation is paused for staff (Rasa skips prediction then), nor when it is down or slow. The
gateway runs the same rule-based detector on every visitor message, and in those states sends the
same crisis or emergency answer itself (the texts are read from domain.yml, the one place they
live), records it in the transcript as the assistant's, and raises the conversation's handoff to
urgent so the console alerts staff.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any, Dict, List, Optional

import yaml

from bot.domain.safety.detector import CrisisDetector, CrisisMatch, default_detector
from bot.gateway.console.live import StaffHub
from bot.gateway.rasa_client import RasaClient, RasaUnavailable
from bot.settings import Settings
from bot.store import handoffs, session_scope

logger = logging.getLogger(__name__)

RESPONSE_FOR_INTENT = {"crisis_self_harm": "utter_crisis", "medical_emergency": "utter_medical_emergency"}
# Marks the gateway's messages in the tracker, so the transcript shows who sent them.
SENT_BY = "gateway_safety_net"
# How the console names the sender of these messages.
ASSISTANT_NAME = "Assistant"


class SafetyResponsesError(ValueError):
    """domain.yml lacks a crisis or emergency response the gateway must be able to send."""


def load_safety_responses(domain_file: Path) -> Dict[str, Dict[str, Any]]:
    """Intent → the chat protocol message for its safety response in domain.yml."""
    try:
        responses = (yaml.safe_load(domain_file.read_text(encoding="utf-8")) or {}).get("responses") or {}
    except (OSError, yaml.YAMLError) as exc:
        raise SafetyResponsesError(f"{domain_file}: cannot read the crisis responses: {exc}") from None
    messages = {}
    for intent, name in RESPONSE_FOR_INTENT.items():
        variants = responses.get(name)
        if not variants or not isinstance(variants[0], dict) or not variants[0].get("text"):
            raise SafetyResponsesError(f"{domain_file}: response {name} (for {intent}) needs a text")
        messages[intent] = {"text": variants[0]["text"], "buttons": variants[0].get("buttons") or [],
                            "urgent": True}
    return messages


class SafetyNet:
    def __init__(self, settings: Settings, rasa: RasaClient, staff_hub: StaffHub,
                 detector: Optional[CrisisDetector] = None) -> None:
        self.settings = settings
        self.rasa = rasa
        self.staff_hub = staff_hub
        self.detector = detector or default_detector()
        self.responses = load_safety_responses(settings.domain_file)

    def detect(self, text: str) -> Optional[CrisisMatch]:
        return self.detector.detect(text)

    def answer(self, match: CrisisMatch) -> List[Dict[str, Any]]:
        return [dict(self.responses[match.intent])]

    async def after_answer(self, conversation_id: str, match: CrisisMatch, why: str) -> None:
        """Once the visitor has the answer: the transcript, then the console. Each step is attempted
        even if the one before failed (Rasa or the app DB may be the reason we are here)."""
        message = self.answer(match)[0]
        try:
            await self.rasa.record_assistant_message(conversation_id, message, SENT_BY)
        except RasaUnavailable as exc:
            logger.warning("crisis answer not recorded in the transcript: conversation=%s %s", conversation_id, exc)
        await self.staff_hub.notify({"type": "message", "conversation_id": conversation_id, "role": "bot",
                                     "name": ASSISTANT_NAME, "text": message["text"], "urgent": True})
        handoff_id, change = await asyncio.to_thread(self._raise_to_urgent, conversation_id, match.intent, why)
        if change != "unchanged":
            await self.staff_hub.queue_changed(change, handoff_id, "urgent")

    def _raise_to_urgent(self, conversation_id: str, intent: str, why: str) -> Any:
        with session_scope(self.settings.app_db_url) as session:
            return handoffs.raise_to_urgent(session, conversation_id, f"{intent} ({why})", intent)
