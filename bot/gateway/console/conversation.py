"""One conversation: the whole transcript, the visitor's context, consented contact details,
internal notes, canned replies, and claim / reply / resolve."""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Dict, List, Optional, Tuple

from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from bot.domain.handoffs.lifecycle import HandoffError
from bot.gateway.console.auth import Staff, staff_form, staff_page
from bot.gateway.console.render import render
from bot.gateway.rasa_client import RasaUnavailable
from bot.gateway.visitor.transcript import history as transcript_history
from bot.settings import Settings
from bot.store import CallbackRequest, CannedReply, Handoff, Note, StaffMember, audit, handoffs, session_scope, utcnow

logger = logging.getLogger(__name__)

MAX_NOTE_CHARS = 4000


def _problem(request: Request, staff: Staff, title: str, message: str, status_code: int,
             back: str = "/console") -> Response:
    return render(request, "message.html", staff, status_code=status_code, title=title, message=message, back=back)


def visitor_context(events: List[Dict[str, Any]]) -> Dict[str, Any]:
    """When the visitor first wrote, and the page they were on when they last wrote."""
    visitor_events = [event for event in events if event.get("event") == "user"]
    page_urls = [(event.get("metadata") or {}).get("page_url") for event in visitor_events]
    return {
        "first_message_at": visitor_events[0].get("timestamp") if visitor_events else None,
        "page_url": next((url for url in reversed(page_urls) if url), None),
        "visitor_messages": len(visitor_events),
    }


def _viewed_conversation(db_url: str, handoff_id: int, staff_id: int) -> Optional[Dict[str, Any]]:
    """Audit the view and read what the page shows besides the transcript; None for no such handoff."""
    with session_scope(db_url) as session:
        handoff = session.get(Handoff, handoff_id)
        if handoff is None:
            return None
        conversation_id = handoff.conversation_id
        audit.record(session, staff_id, "console.view_conversation", conversation_id=conversation_id,
                     detail=f"handoff {handoff_id}")
        names = dict(session.execute(select(StaffMember.id, StaffMember.display_name)).all())
        notes = [{"who": names.get(note.staff_id, "?"), "text": note.text, "at": note.created_at}
                 for note in session.execute(select(Note).where(Note.conversation_id == conversation_id)
                                             .order_by(Note.created_at, Note.id)).scalars()]
        callbacks = [{"id": callback.id, "status": callback.status, "created_at": callback.created_at}
                     for callback in session.execute(select(CallbackRequest).where(
                         CallbackRequest.conversation_id == conversation_id).order_by(CallbackRequest.id)).scalars()]
        canned = [{"title": reply.title, "text": reply.text}
                  for reply in session.execute(select(CannedReply).order_by(CannedReply.title)).scalars()]
        handoff_view = {"id": handoff.id, "status": handoff.status, "priority": handoff.priority,
                        "reason": handoff.reason, "last_intent": handoff.last_intent,
                        "created_at": handoff.created_at, "assigned_to": names.get(handoff.assigned_to, ""),
                        "mine": handoff.assigned_to == staff_id}
    return {"handoff": handoff_view, "conversation_id": conversation_id, "notes": notes, "callbacks": callbacks,
            "canned": canned}


@staff_page
async def conversation_page(request: Request, staff: Staff) -> Response:
    settings: Settings = request.app.state.settings
    view = await asyncio.to_thread(_viewed_conversation, settings.app_db_url, request.path_params["handoff_id"],
                                   staff["staff_id"])
    if view is None:
        return _problem(request, staff, "Not found", "No such conversation.", 404)
    try:
        events = await request.app.state.rasa.events(view["conversation_id"])
    except RasaUnavailable:
        return _problem(request, staff, "Unavailable", "The transcript can't be loaded right now (the assistant's "
                        "server is not answering). Try again in a minute.", 503)
    return render(request, "conversation.html", staff, title="Conversation", transcript=transcript_history(events),
                  context=visitor_context(events), max_text=settings.max_message_chars, **view)


def _claim(db_url: str, handoff_id: int, staff_id: int) -> str:
    """The claimed handoff's priority; raises HandoffError when it can't be claimed."""
    with session_scope(db_url) as session:
        return handoffs.claim(session, handoff_id, staff_id).priority


@staff_form
async def claim_handoff(request: Request, staff: Staff) -> Response:
    handoff_id = request.path_params["handoff_id"]
    try:
        priority = await asyncio.to_thread(_claim, request.app.state.settings.app_db_url, handoff_id,
                                           staff["staff_id"])
    except HandoffError as exc:
        return _problem(request, staff, "Not claimed", str(exc), 409)
    await request.app.state.staff_hub.queue_changed("claimed", handoff_id, priority)
    return RedirectResponse(f"/console/handoffs/{handoff_id}", status_code=303)


def _audited_reply(db_url: str, handoff_id: int, staff_id: int) -> Optional[str]:
    """The conversation to reply in, with the reply audited; None unless the handoff is this person's."""
    with session_scope(db_url) as session:
        handoff = session.get(Handoff, handoff_id)
        if handoff is None or handoff.status != "active" or handoff.assigned_to != staff_id:
            return None
        audit.record(session, staff_id, "console.reply", conversation_id=handoff.conversation_id,
                     detail=f"handoff {handoff_id}")
        return handoff.conversation_id


@staff_form
async def reply(request: Request, staff: Staff) -> Response:
    settings: Settings = request.app.state.settings
    handoff_id = request.path_params["handoff_id"]
    form = await request.form()
    text = str(form.get("text") or "").strip()[: settings.max_message_chars]
    conversation_id = None
    if text:
        conversation_id = await asyncio.to_thread(_audited_reply, settings.app_db_url, handoff_id, staff["staff_id"])
    if conversation_id is None:
        return _problem(request, staff, "Not sent", "Claim the conversation first, and type a message.", 409,
                        back=f"/console/handoffs/{handoff_id}")
    try:
        await request.app.state.rasa.record_staff_message(conversation_id, text, staff["name"])
    except RasaUnavailable as exc:
        # The reply was audited before the attempt; the log must also say it never went out.
        logger.warning("conversation %s: staff reply not saved to the transcript, not sent: %s", conversation_id, exc)
        await asyncio.to_thread(audit.record_alone, settings.app_db_url, staff["staff_id"], "console.reply_failed",
                                conversation_id=conversation_id, detail=f"handoff {handoff_id}")
        return _problem(request, staff, "Not sent", "The message could not be saved to the transcript, so it was "
                        "not sent. Try again in a minute.", 503, back=f"/console/handoffs/{handoff_id}")
    await request.app.state.hub.say(conversation_id, text, staff_name=staff["name"])
    await request.app.state.staff_hub.notify({"type": "message", "conversation_id": conversation_id,
                                              "role": "staff", "name": staff["name"], "text": text,
                                              "ts": utcnow().timestamp()})
    return RedirectResponse(f"/console/handoffs/{handoff_id}", status_code=303)


def _add_note(db_url: str, handoff_id: int, staff_id: int, text: str) -> Optional[str]:
    """Save and audit a note; the handoff's conversation, or None for no such handoff."""
    with session_scope(db_url) as session:
        handoff = session.get(Handoff, handoff_id)
        if handoff is None:
            return None
        session.add(Note(conversation_id=handoff.conversation_id, handoff_id=handoff_id, staff_id=staff_id,
                         text=text, created_at=utcnow()))
        audit.record(session, staff_id, "console.note", conversation_id=handoff.conversation_id,
                     detail=f"handoff {handoff_id}")
        return handoff.conversation_id


@staff_form
async def add_note(request: Request, staff: Staff) -> Response:
    """An internal note: kept for staff, never sent to the visitor or written to the tracker."""
    settings: Settings = request.app.state.settings
    handoff_id = request.path_params["handoff_id"]
    form = await request.form()
    text = str(form.get("text") or "").strip()
    if not text or len(text) > MAX_NOTE_CHARS:
        return _problem(request, staff, "Note not saved", f"A note needs 1 to {MAX_NOTE_CHARS} characters.", 400,
                        back=f"/console/handoffs/{handoff_id}")
    conversation_id = await asyncio.to_thread(_add_note, settings.app_db_url, handoff_id, staff["staff_id"], text)
    if conversation_id is None:
        return _problem(request, staff, "Not found", "No such conversation.", 404)
    await request.app.state.staff_hub.notify({"type": "note", "conversation_id": conversation_id,
                                              "name": staff["name"], "text": text, "ts": utcnow().timestamp()})
    return RedirectResponse(f"/console/handoffs/{handoff_id}#notes", status_code=303)


def _active_handoff(db_url: str, handoff_id: int) -> Optional[Tuple[str, str]]:
    """An active handoff's conversation and priority, or None."""
    with session_scope(db_url) as session:
        handoff = session.get(Handoff, handoff_id)
        if handoff is None or handoff.status != "active":
            return None
        return handoff.conversation_id, handoff.priority


def _resolve(db_url: str, handoff_id: int, staff_id: int) -> None:
    with session_scope(db_url) as session:
        handoffs.resolve(session, handoff_id, staff_id)


@staff_form
async def resolve_handoff(request: Request, staff: Staff) -> Response:
    settings: Settings = request.app.state.settings
    handoff_id = request.path_params["handoff_id"]
    active = await asyncio.to_thread(_active_handoff, settings.app_db_url, handoff_id)
    if active is None:
        return _problem(request, staff, "Not resolved", "Only a claimed conversation can be resolved.", 409)
    conversation_id, priority = active
    # Rendered as the actions render answers (bot/gateway/visitor/texts.py).
    back = request.app.state.hub.texts.answer("handoff_resolved")
    # Switch the bot back on first: a handoff is only marked resolved once the visitor has the bot again.
    try:
        await request.app.state.rasa.resume(conversation_id, back)
    except RasaUnavailable:
        return _problem(request, staff, "Not resolved", "The assistant's server did not answer, so the "
                        "conversation is still yours. Try again in a minute.", 503)
    try:
        await asyncio.to_thread(_resolve, settings.app_db_url, handoff_id, staff["staff_id"])
    except HandoffError as exc:
        return _problem(request, staff, "Not resolved", str(exc), 409)
    await request.app.state.hub.say(conversation_id, back)
    await request.app.state.staff_hub.queue_changed("resolved", handoff_id, priority)
    return RedirectResponse("/console", status_code=303)
