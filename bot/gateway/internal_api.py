"""The gateway's internal API, for the action server only: open a handoff to admissions staff.

Token-protected and meant for loopback: `POST /internal/handoffs` with
`Authorization: Bearer <INTERNAL_API_TOKEN>` and JSON
`{"conversation_id", "reason", "priority": "urgent"|"normal", "last_intent"}`.
Answers `{"status": "waiting", "handoff_id": N}` when a person can take the
conversation now, or `{"status": "unavailable"}` when no one is online or it
is outside staff hours (an urgent handoff is still queued for the next
person to log in). `POST /internal/handoffs/status` with `{"conversation_id"}` answers
`{"open": true|false}`: whether the conversation has a waiting or active handoff.

For `python -m bot deploy` (docs/deploying.md): `POST /internal/models/deploy` with
`{"model", "by", "force": false}` and `POST /internal/models/rollback` with `{"by"}` (`by`: who asked).
A refused switch answers at once with an HTTP error and `{"error"}`; a switch that starts answers
200 with one JSON object per line: `{"step"}` as it goes, then `{"result": {"ok", "message", ...}}`.
"""

from __future__ import annotations

import asyncio
import hmac
import json
from typing import Any, AsyncIterator, Dict, Optional, Tuple, Union

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from bot.domain.handoffs.hours import StaffHours
from bot.domain.handoffs.lifecycle import PRIORITIES
from bot.gateway.model_switch import ModelSwitch, SwitchOutcome, SwitchRefused
from bot.settings import Settings
from bot.store import CallbackRequest, Handoff, ModelDeployment, handoffs, session_scope, utcnow

REQUIRED = ("conversation_id", "reason", "priority")
# The longest value each field may have: the handoff fields' column sizes (bot/store/models.py); the
# callback fields are stored encrypted, so they get what a name, a phone number or an email and a
# time of day need.
FIELD_CHARS = {**{name: Handoff.__table__.c[name].type.length
                  for name in ("conversation_id", "reason", "priority", "last_intent")},
               "first_name": 100, "contact": 254, "best_time": 200,
               "model": ModelDeployment.__table__.c["model_name"].type.length,
               "by": ModelDeployment.__table__.c["deployed_by"].type.length}


def authorised(request: Request, settings: Settings) -> bool:
    supplied = request.headers.get("authorization", "")
    return hmac.compare_digest(supplied.encode(), f"Bearer {settings.internal_api_token}".encode())


async def read_request(request: Request, fields: Tuple[str, ...]) -> Union[Dict[str, Any], JSONResponse]:
    """The JSON body with every field a string, or the error response to send instead."""
    if not authorised(request, request.app.state.settings):
        return JSONResponse({"error": "unauthorised"}, status_code=401)
    try:
        body = await request.json()
    except (ValueError, RecursionError):  # RecursionError: nesting deeper than the parser's stack
        return JSONResponse({"error": "expected a JSON body"}, status_code=400)
    missing = [name for name in fields if not isinstance(body, dict) or not isinstance(body.get(name), str)]
    if missing:
        return JSONResponse({"error": f"missing or invalid: {', '.join(missing)}"}, status_code=400)
    if body.get("last_intent") is not None and not isinstance(body["last_intent"], str):
        return JSONResponse({"error": "missing or invalid: last_intent"}, status_code=400)
    too_long = [name for name, limit in FIELD_CHARS.items()
                if isinstance(body.get(name), str) and len(body[name]) > limit]
    if too_long:
        return JSONResponse({"error": f"too long: {', '.join(too_long)}"}, status_code=400)
    return body


async def open_handoff(request: Request) -> JSONResponse:
    settings: Settings = request.app.state.settings
    body = await read_request(request, REQUIRED)
    if isinstance(body, JSONResponse):
        return body
    if body["priority"] not in PRIORITIES:
        return JSONResponse({"error": "missing or invalid: priority"}, status_code=400)
    # Database work runs off the event loop, which every visitor's socket shares.
    opened = await asyncio.to_thread(_open_if_worth_waiting, settings, body)
    if opened is None:
        return JSONResponse({"status": "unavailable"})
    handoff_id, priority, available = opened
    await request.app.state.staff_hub.queue_changed("opened", handoff_id, priority)
    return JSONResponse({"status": "waiting" if available else "unavailable", "handoff_id": handoff_id})


def _open_if_worth_waiting(settings: Settings, body: Dict[str, Any]) -> Optional[Tuple[int, str, bool]]:
    """(handoff id, priority, staff available now), or None when nobody can come and it is not urgent."""
    with session_scope(settings.app_db_url) as session:
        available = handoffs.staff_available(session, utcnow(), StaffHours.from_settings(settings))
        if not available and body["priority"] != "urgent":
            handoffs.record_unstaffed_request(session, body["conversation_id"], body["reason"])
            return None
        handoff = handoffs.open_handoff(
            session, body["conversation_id"], body["reason"], body["priority"], body.get("last_intent")
        )
        return handoff.id, handoff.priority, available


async def store_callback(request: Request) -> JSONResponse:
    """`POST /internal/callbacks`: a consented callback request, stored with its contact fields encrypted."""
    body = await read_request(request, ("conversation_id", "first_name", "contact", "best_time"))
    if isinstance(body, JSONResponse):
        return body
    callback_id = await asyncio.to_thread(_store_callback, request.app.state.settings,
                                          request.app.state.contact_cipher, body)
    return JSONResponse({"status": "stored", "callback_id": callback_id})


def _store_callback(settings: Settings, cipher: Any, body: Dict[str, Any]) -> int:
    with session_scope(settings.app_db_url) as session:
        callback = CallbackRequest(
            conversation_id=body["conversation_id"], first_name_enc=cipher.encrypt(body["first_name"]),
            contact_enc=cipher.encrypt(body["contact"]), best_time_enc=cipher.encrypt(body["best_time"]),
            consented_at=utcnow(), status="open",
        )
        session.add(callback)
        session.flush()
        return int(callback.id)


async def handoff_status(request: Request) -> JSONResponse:
    """Whether a conversation still has a waiting or active handoff (asked when its Rasa session expires)."""
    body = await read_request(request, ("conversation_id",))
    if isinstance(body, JSONResponse):
        return body
    handoff_id = await asyncio.to_thread(_open_handoff_id, request.app.state.settings, body["conversation_id"])
    return JSONResponse({"open": handoff_id is not None})


def _open_handoff_id(settings: Settings, conversation_id: str) -> Optional[int]:
    with session_scope(settings.app_db_url) as session:
        return handoffs.open_handoff_id(session, conversation_id)


async def deploy_model(request: Request) -> Response:
    """`POST /internal/models/deploy`: switch the rasa server to a trained model (the CLI's deploy)."""
    body = await read_request(request, ("model", "by"))
    if isinstance(body, JSONResponse):
        return body
    force = body.get("force", False)
    if not isinstance(force, bool):
        return JSONResponse({"error": "missing or invalid: force"}, status_code=400)
    return await _switch(request, "deploy", body["by"], model=body["model"], force=force)


async def rollback_model(request: Request) -> Response:
    """`POST /internal/models/rollback`: switch back to the model the live one replaced."""
    body = await read_request(request, ("by",))
    if isinstance(body, JSONResponse):
        return body
    return await _switch(request, "rollback", body["by"])


async def _switch(request: Request, kind: str, by: str, **options: Any) -> Response:
    switch: ModelSwitch = request.app.state.model_switch
    steps: "asyncio.Queue[str]" = asyncio.Queue()
    try:
        task = await switch.start(kind, deployed_by=by, progress=steps.put_nowait, **options)
    except SwitchRefused as refused:
        return JSONResponse({"error": refused.reason}, status_code=refused.status)
    return StreamingResponse(_progress_lines(task, steps), media_type="application/x-ndjson")


async def _progress_lines(task: "asyncio.Task[SwitchOutcome]", steps: "asyncio.Queue[str]") -> AsyncIterator[str]:
    """Each step as it happens, then the outcome. A caller that hangs up stops the lines, not the switch."""
    while not task.done():
        next_step = asyncio.ensure_future(steps.get())
        await asyncio.wait({next_step, task}, return_when=asyncio.FIRST_COMPLETED)
        if next_step.done():
            yield json.dumps({"step": next_step.result()}) + "\n"
        else:
            next_step.cancel()
    while not steps.empty():
        yield json.dumps({"step": steps.get_nowait()}) + "\n"
    yield json.dumps({"result": task.result().as_json()}) + "\n"
