"""Turns Rasa's tracker events and REST replies into the chat protocol's message shapes."""

from __future__ import annotations

from typing import Any, Dict, List


def bot_messages(replies: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """REST channel replies -> [{text, buttons, urgent}].

    Rasa sends a response's `custom` part as its own reply right after the
    response's text, so `custom.urgent` marks the message before it.
    """
    messages: List[Dict[str, Any]] = []
    for reply in replies:
        if reply.get("text"):
            messages.append({"text": reply["text"], "buttons": reply.get("buttons") or [], "urgent": False})
        if (reply.get("custom") or {}).get("urgent") and messages:
            messages[-1]["urgent"] = True
    return messages


def is_urgent(replies: List[Dict[str, Any]]) -> bool:
    """Crisis and emergency responses carry `custom: {urgent: true}` (see domain.yml)."""
    return any((reply.get("custom") or {}).get("urgent") for reply in replies)


def history(events: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """The visible transcript: visitor and bot messages in order, with button titles for clicks."""
    entries: List[Dict[str, Any]] = []
    for event in events:
        kind = event.get("event")
        if kind == "user":
            metadata = event.get("metadata") or {}
            entries.append({
                "role": "visitor",
                "text": metadata.get("display_text") or event.get("text") or "",
                "client_id": metadata.get("client_id"),
                "ts": event.get("timestamp"),
            })
        elif kind == "bot" and event.get("text"):
            data = event.get("data") or {}
            staff_name = (event.get("metadata") or {}).get("staff_name")
            entries.append({
                "role": "staff" if staff_name else "bot",
                "name": staff_name,
                "text": event["text"],
                "buttons": data.get("buttons") or [],
                "urgent": bool((data.get("custom") or {}).get("urgent")),
                "ts": event.get("timestamp"),
            })
    return entries
