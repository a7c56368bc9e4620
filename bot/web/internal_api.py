"""The gateway's internal API, for the action server only: open a handoff to admissions staff.

Token-protected and meant for loopback: `POST /internal/handoffs` with
`Authorization: Bearer <INTERNAL_API_TOKEN>` and JSON
`{"conversation_id", "reason", "priority": "urgent"|"normal", "last_intent"}`.
Answers `{"status": "waiting", "handoff_id": N}` when a person can take the
conversation now, or `{"status": "unavailable"}` when no one is online or it
is outside staff hours (an urgent handoff is still queued for the next
person to log in). `POST /internal/handoffs/status` with `{"conversation_id"}` answers
`{"open": true|false}`: whether the conversation has a waiting or active handoff.
"""

from __future__ import annotations

import hmac
from typing import Any, Dict, Tuple, Union

from starlette.requests import Request
from starlette.responses import JSONResponse

from bot import handoffs
from bot.settings import Settings
from bot.store import CallbackRequest, session_scope, utcnow

REQUIRED = ("conversation_id", "reason", "priority")


def authorised(request: Request, settings: Settings) -> bool:
    supplied = request.headers.get("authorization", "")
    return hmac.compare_digest(supplied.encode(), f"Bearer {settings.internal_api_token}".encode())


async def read_request(request: Request, fields: Tuple[str, ...]) -> Union[Dict[str, Any], JSONResponse]:
    """The JSON body with every field a string, or the error response to send instead."""
    if not authorised(request, request.app.state.settings):
        return JSONResponse({"error": "unauthorised"}, status_code=401)
    try:
        body = await request.json()
    except ValueError:
        return JSONResponse({"error": "expected a JSON body"}, status_code=400)
    missing = [name for name in fields if not isinstance(body, dict) or not isinstance(body.get(name), str)]
    if missing:
        return JSONResponse({"error": f"missing or invalid: {', '.join(missing)}"}, status_code=400)
    return body


async def open_handoff(request: Request) -> JSONResponse:
    settings: Settings = request.app.state.settings
    body = await read_request(request, REQUIRED)
    if isinstance(body, JSONResponse):
        return body
    if body["priority"] not in handoffs.PRIORITIES:
        return JSONResponse({"error": "missing or invalid: priority"}, status_code=400)

    with session_scope(settings.app_db_url) as session:
        available = handoffs.staff_available(session, utcnow(), handoffs.StaffHours.from_settings(settings))
        if not available and body["priority"] != "urgent":
            return JSONResponse({"status": "unavailable"})
        handoff = handoffs.open_handoff(
            session, body["conversation_id"], body["reason"], body["priority"], body.get("last_intent")
        )
        handoff_id, priority = handoff.id, handoff.priority
    await request.app.state.staff_hub.queue_changed("opened", handoff_id, priority)
    return JSONResponse({"status": "waiting" if available else "unavailable", "handoff_id": handoff_id})


async def store_callback(request: Request) -> JSONResponse:
    """`POST /internal/callbacks`: a consented callback request, stored with its contact fields encrypted."""
    settings: Settings = request.app.state.settings
    body = await read_request(request, ("conversation_id", "first_name", "contact", "best_time"))
    if isinstance(body, JSONResponse):
        return body
    cipher = request.app.state.contact_cipher
    with session_scope(settings.app_db_url) as session:
        callback = CallbackRequest(
            conversation_id=body["conversation_id"], first_name_enc=cipher.encrypt(body["first_name"]),
            contact_enc=cipher.encrypt(body["contact"]), best_time_enc=cipher.encrypt(body["best_time"]),
            consented_at=utcnow(), status="open",
        )
        session.add(callback)
        session.flush()
        callback_id = callback.id
    return JSONResponse({"status": "stored", "callback_id": callback_id})


async def handoff_status(request: Request) -> JSONResponse:
    """Whether a conversation still has a waiting or active handoff (asked when its Rasa session expires)."""
    settings: Settings = request.app.state.settings
    body = await read_request(request, ("conversation_id",))
    if isinstance(body, JSONResponse):
        return body
    with session_scope(settings.app_db_url) as session:
        handoff_id = handoffs.open_handoff_id(session, body["conversation_id"])
    return JSONResponse({"open": handoff_id is not None})
