"""Turns knowledge entries into bot messages (text + buttons); the text is always the file's.

Button titles and prompts the actions add are the knowledge file's `messages`, rendered by the same
`render` as the answers (bot/domain/knowledge/loader.py).
"""

from __future__ import annotations

import json
from typing import Any, Dict, List

from bot.domain.knowledge.loader import KnowledgeBase, default as default_knowledge, render
from bot.domain.knowledge.schema import Entry
from bot.settings import get_settings

REQUEST_HUMAN_PAYLOAD = "/request_human"
REQUEST_CALLBACK_PAYLOAD = "/request_callback"


def knowledge() -> KnowledgeBase:
    return default_knowledge()


def message(name: str) -> str:
    """The knowledge file's message `name`, rendered with the clinic details."""
    return knowledge().message(name, get_settings().clinic_details())


def callback_button() -> Dict[str, str]:
    return {"title": message("request_callback_button"), "payload": REQUEST_CALLBACK_PAYLOAD}


def payload_for(entry: Entry) -> str:
    """The button payload that asks about `entry`, as if the visitor had typed it."""
    if entry.intent:
        return f"/{entry.intent}"
    return "/ask_therapy" + json.dumps({"therapy": entry.id})


def tell_me_more_payload(entry: Entry) -> str:
    return "/tell_me_more" + json.dumps({"topic": entry.id})


def _details_known(entry: Entry, clinic: Dict[str, Any]) -> bool:
    return all(clinic.get(name) for name in entry.requires)


def _buttons(entry: Entry, include_more: bool, clinic: Dict[str, Any]) -> List[Dict[str, str]]:
    buttons = []
    known = _details_known(entry, clinic)
    if include_more and entry.long and known:
        buttons.append({"title": message("tell_me_more_button"), "payload": tell_me_more_payload(entry)})
    for target_id in entry.follow_ups:
        target = knowledge().require(target_id)
        buttons.append({"title": target.title, "payload": payload_for(target)})
    # An answer that could not give a clinic detail always offers the person who can.
    if not known and all(b["payload"] != REQUEST_HUMAN_PAYLOAD for b in buttons):
        buttons.append({"title": message("talk_to_person_button"), "payload": REQUEST_HUMAN_PAYLOAD})
    return buttons


def short_answer(entry: Entry) -> Dict[str, Any]:
    clinic = get_settings().clinic_details()
    return {
        "text": render(entry.short, entry.requires, clinic, entry.unknown),
        "buttons": _buttons(entry, include_more=True, clinic=clinic),
    }


def long_answer(entry: Entry) -> Dict[str, Any]:
    clinic = get_settings().clinic_details()
    return {
        "text": render(entry.long or entry.short, entry.requires, clinic, entry.unknown),
        "buttons": _buttons(entry, include_more=False, clinic=clinic),
    }


def list_answer(intro: Entry, items: List[Entry]) -> Dict[str, Any]:
    """An intro entry followed by one button per item (the therapy list)."""
    clinic = get_settings().clinic_details()
    return {
        "text": render(intro.short, intro.requires, clinic, intro.unknown),
        "buttons": [{"title": item.title, "payload": payload_for(item)} for item in items],
    }
