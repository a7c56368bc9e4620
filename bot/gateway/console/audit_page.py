"""The audit log page, for console admins: newest first, filterable by conversation or staff member."""

from __future__ import annotations

import asyncio
from typing import Any, Dict, List, Tuple

from sqlalchemy import func, select
from sqlalchemy.sql import Select
from starlette.requests import Request
from starlette.responses import Response

from bot.gateway.console.auth import Staff, staff_page
from bot.gateway.console.render import render
from bot.gateway.console.row_ids import MAX_ID_DIGITS
from bot.store import AuditEntry, StaffMember, audit, session_scope

PAGE_SIZE = 100


def _viewed_page(db_url: str, staff_id: int, query: Select, page: int) -> Tuple[int, List[Dict[str, Any]]]:
    """Audit the view; how many entries match, and this page of them."""
    with session_scope(db_url) as session:
        audit.record(session, staff_id, "console.view_audit", detail=f"page {page}")
        total = session.execute(select(func.count()).select_from(query.subquery())).scalar_one()
        rows = session.execute(query.order_by(AuditEntry.id.desc()).limit(PAGE_SIZE).offset((page - 1) * PAGE_SIZE)
                               ).all()
        return total, [{"at": entry.at, "who": name or "system", "action": entry.action,
                        "conversation_id": entry.conversation_id, "detail": entry.detail} for entry, name in rows]


@staff_page
async def audit_page(request: Request, staff: Staff) -> Response:
    """Admins only: the newest entries first, filterable by conversation or staff member."""
    settings = request.app.state.settings
    if not staff["admin"]:
        return render(request, "message.html", staff, status_code=403, title="Admins only",
                      message="The audit log is for console admins.", back="/console")
    conversation = request.query_params.get("conversation") or None
    staff_filter = request.query_params.get("staff") or None
    page_text = request.query_params.get("page", "1")
    try:
        # Bounded before int(): a page or id past 18 digits cannot exist and would overflow the query.
        if len(page_text) > MAX_ID_DIGITS or len(staff_filter or "") > MAX_ID_DIGITS:
            raise ValueError("too many digits")
        page = max(1, int(page_text))
        staff_id = int(staff_filter) if staff_filter else None
    except ValueError:
        return render(request, "message.html", staff, status_code=400, title="Bad filter",
                      message="Page and staff must be numbers.", back="/console/audit")
    query = select(AuditEntry, StaffMember.display_name).outerjoin(StaffMember, AuditEntry.staff_id == StaffMember.id)
    if conversation:
        query = query.where(AuditEntry.conversation_id == conversation)
    if staff_id is not None:
        query = query.where(AuditEntry.staff_id == staff_id)
    total, entries = await asyncio.to_thread(_viewed_page, settings.app_db_url, staff["staff_id"], query, page)
    return render(request, "audit.html", staff, title="Audit log", entries=entries, page=page,
                  more=page * PAGE_SIZE < total, total=total, conversation=conversation or "",
                  staff_filter=staff_filter or "")
