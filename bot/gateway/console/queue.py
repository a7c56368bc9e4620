"""The queue: waiting handoffs (urgent first, with waiting time and the visitor's last words),
active ones and who has them, recently resolved ones, and how many callbacks are open."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any, Dict, List

from sqlalchemy import func, select
from starlette.requests import Request
from starlette.responses import Response

from bot.gateway.console.auth import Staff, staff_page
from bot.gateway.console.render import render
from bot.settings import Settings
from bot.store import CallbackRequest, StaffMember, audit, handoffs, session_scope, utcnow


def _queue_rows(settings: Settings) -> Dict[str, Any]:
    now = utcnow()
    highlight = timedelta(minutes=settings.waiting_highlight_minutes)
    sections: Dict[str, List[Dict[str, Any]]] = {"waiting": [], "active": [], "resolved": []}
    with session_scope(settings.app_db_url) as session:
        names = dict(session.execute(select(StaffMember.id, StaffMember.display_name)).all())
        for handoff in handoffs.queue(session, now=now):
            sections[handoff.status].append({
                "id": handoff.id, "priority": handoff.priority, "reason": handoff.reason,
                "created_at": handoff.created_at, "waited": now - handoff.created_at,
                "overdue": handoff.status == "waiting" and now - handoff.created_at > highlight,
                "assigned_to": names.get(handoff.assigned_to, ""), "closed_at": handoff.closed_at,
                "last_visitor_message": handoff.last_visitor_message or "",
            })
        open_callbacks = session.execute(
            select(func.count()).select_from(CallbackRequest).where(CallbackRequest.status == "open")).scalar_one()
    return {"sections": sections, "now": now, "open_callbacks": open_callbacks,
            "highlight_seconds": int(highlight.total_seconds())}


def _viewed_queue(settings: Settings, staff_id: int, action: str) -> Dict[str, Any]:
    """Audit the view, then read the queue and the viewer's presence."""
    with session_scope(settings.app_db_url) as session:
        audit.record(session, staff_id, action)
        presence = session.get(StaffMember, staff_id).presence
    return {"presence": presence, **_queue_rows(settings)}


@staff_page
async def queue_page(request: Request, staff: Staff) -> Response:
    view = await asyncio.to_thread(_viewed_queue, request.app.state.settings, staff["staff_id"], "console.view_queue")
    return render(request, "queue.html", staff, title="Queue", **view)


@staff_page
async def queue_rows(request: Request, staff: Staff) -> Response:
    """The queue's tables alone, which the page reloads when the live socket says the queue changed."""
    view = await asyncio.to_thread(_viewed_queue, request.app.state.settings, staff["staff_id"],
                                   "console.refresh_queue")
    return render(request, "_queue_tables.html", staff, **view)
