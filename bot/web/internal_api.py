"""The gateway's internal API, for the action server only: open a handoff to admissions staff.

Token-protected and meant for loopback: `POST /internal/handoffs` with
`Authorization: Bearer <INTERNAL_API_TOKEN>` and JSON
`{"conversation_id", "reason", "priority": "urgent"|"normal", "last_intent"}`.
Answers `{"status": "waiting", "handoff_id": N}` when a person can take the
conversation now, or `{"status": "unavailable"}` when no one is online or it
is outside staff hours (an urgent handoff is still queued for the next
person to log in).
"""

from __future__ import annotations

import hmac

from starlette.requests import Request
from starlette.responses import JSONResponse

from bot import handoffs
from bot.settings import Settings
from bot.store import session_scope, utcnow

REQUIRED = ("conversation_id", "reason", "priority")


def authorised(request: Request, settings: Settings) -> bool:
    supplied = request.headers.get("authorization", "")
    return hmac.compare_digest(supplied.encode(), f"Bearer {settings.internal_api_token}".encode())


async def open_handoff(request: Request) -> JSONResponse:
    settings: Settings = request.app.state.settings
    if not authorised(request, settings):
        return JSONResponse({"error": "unauthorised"}, status_code=401)
    try:
        body = await request.json()
    except ValueError:
        return JSONResponse({"error": "expected a JSON body"}, status_code=400)
    missing = [name for name in REQUIRED if not isinstance(body, dict) or not isinstance(body.get(name), str)]
    if missing or body["priority"] not in handoffs.PRIORITIES:
        return JSONResponse({"error": f"missing or invalid: {', '.join(missing) or 'priority'}"}, status_code=400)

    with session_scope(settings.app_db_url) as session:
        available = handoffs.staff_available(session, utcnow(), handoffs.StaffHours.from_settings(settings))
        if not available and body["priority"] != "urgent":
            return JSONResponse({"status": "unavailable"})
        handoff = handoffs.open_handoff(
            session, body["conversation_id"], body["reason"], body["priority"], body.get("last_intent")
        )
        handoff_id = handoff.id
    return JSONResponse({"status": "waiting" if available else "unavailable", "handoff_id": handoff_id})
