"""Callback requests: the list, the consented contact details (decrypted only on request, and
audited), and closing a request once admissions has called."""

from __future__ import annotations

import asyncio
from typing import Any, Dict, List, Optional

from sqlalchemy import case, select
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from bot.gateway.console.auth import Staff, staff_form, staff_page
from bot.gateway.console.render import render
from bot.settings import Settings
from bot.store import CallbackRequest, ContactCipher, Handoff, StaffMember, audit, session_scope, utcnow


def _viewed_callbacks(db_url: str, staff_id: int) -> List[Dict[str, Any]]:
    with session_scope(db_url) as session:
        audit.record(session, staff_id, "console.view_callbacks")
        names = dict(session.execute(select(StaffMember.id, StaffMember.display_name)).all())
        handoff_of = dict(session.execute(select(Handoff.conversation_id, Handoff.id).order_by(Handoff.id)).all())
        rows = session.execute(
            select(CallbackRequest).order_by(case((CallbackRequest.status == "open", 0), else_=1),
                                             CallbackRequest.created_at).limit(500)
        ).scalars().all()
        return [{"id": row.id, "status": row.status, "created_at": row.created_at,
                 "handoff_id": handoff_of.get(row.conversation_id), "closed_at": row.closed_at,
                 "closed_by": names.get(row.closed_by, "")} for row in rows]


@staff_page
async def callbacks_page(request: Request, staff: Staff) -> Response:
    """Open requests oldest first (the longest waiting is called first), then the 50 latest closed."""
    settings: Settings = request.app.state.settings
    callbacks = await asyncio.to_thread(_viewed_callbacks, settings.app_db_url, staff["staff_id"])
    open_requests = [row for row in callbacks if row["status"] == "open"]
    closed = [row for row in callbacks if row["status"] == "closed"][-50:][::-1]
    return render(request, "callbacks.html", staff, title="Callbacks", open_requests=open_requests, closed=closed)


def _viewed_contact(db_url: str, cipher: ContactCipher, callback_id: int, staff_id: int) -> Optional[Dict[str, Any]]:
    """One request's decrypted contact details, the view audited; None for no such request."""
    with session_scope(db_url) as session:
        callback = session.get(CallbackRequest, callback_id)
        if callback is None:
            return None
        audit.record(session, staff_id, "console.view_contact", conversation_id=callback.conversation_id,
                     detail=f"callback {callback_id}")
        return {"id": callback.id, "status": callback.status, "created_at": callback.created_at,
                "consented_at": callback.consented_at,
                "first_name": cipher.decrypt(callback.first_name_enc),
                "contact": cipher.decrypt(callback.contact_enc),
                "best_time": cipher.decrypt(callback.best_time_enc)}


@staff_form
async def contact_details(request: Request, staff: Staff) -> Response:
    """Decrypt one request's contact details. A POST, so no link preview or prefetch can reveal them."""
    settings: Settings = request.app.state.settings
    details = await asyncio.to_thread(_viewed_contact, settings.app_db_url, request.app.state.contact_cipher,
                                      request.path_params["callback_id"], staff["staff_id"])
    if details is None:
        return render(request, "message.html", staff, status_code=404, title="Not found",
                      message="No such callback request.", back="/console/callbacks")
    return render(request, "contact.html", staff, title="Contact details", callback=details)


def _close(db_url: str, callback_id: int, staff_id: int) -> bool:
    """Close and audit an open request; False if it is not open."""
    with session_scope(db_url) as session:
        callback = session.get(CallbackRequest, callback_id)
        if callback is None or callback.status != "open":
            return False
        callback.status, callback.closed_by, callback.closed_at = "closed", staff_id, utcnow()
        audit.record(session, staff_id, "console.close_callback", conversation_id=callback.conversation_id,
                     detail=f"callback {callback_id}")
        return True


@staff_form
async def close_callback(request: Request, staff: Staff) -> Response:
    settings: Settings = request.app.state.settings
    if not await asyncio.to_thread(_close, settings.app_db_url, request.path_params["callback_id"],
                                   staff["staff_id"]):
        return render(request, "message.html", staff, status_code=409, title="Not closed",
                      message="That request is not open (someone may have closed it already).",
                      back="/console/callbacks")
    return RedirectResponse("/console/callbacks", status_code=303)
