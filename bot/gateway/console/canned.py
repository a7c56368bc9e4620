"""Canned replies: short texts any staff member can drop into the reply box, managed here."""

from __future__ import annotations

import asyncio
from typing import Any, Dict, List

from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from bot.gateway.console.auth import Staff, staff_form, staff_page
from bot.gateway.console.render import render
from bot.settings import Settings
from bot.store import CannedReply, StaffMember, audit, session_scope, utcnow

MAX_TITLE_CHARS = 100


def _replies(db_url: str) -> List[Dict[str, Any]]:
    with session_scope(db_url) as session:
        names = dict(session.execute(select(StaffMember.id, StaffMember.display_name)).all())
        return [{"id": reply.id, "title": reply.title, "text": reply.text, "by": names.get(reply.created_by, "")}
                for reply in session.execute(select(CannedReply).order_by(CannedReply.title)).scalars()]


async def _page(request: Request, staff: Staff, message: str = "", status_code: int = 200) -> Response:
    settings: Settings = request.app.state.settings
    replies = await asyncio.to_thread(_replies, settings.app_db_url)
    return render(request, "canned.html", staff, status_code=status_code, title="Canned replies", replies=replies,
                  message=message, max_text=settings.max_message_chars, max_title=MAX_TITLE_CHARS)


def _add(db_url: str, staff_id: int, title: str, text: str) -> None:
    with session_scope(db_url) as session:
        session.add(CannedReply(title=title, text=text, created_by=staff_id, created_at=utcnow()))
        audit.record(session, staff_id, "console.add_canned")


def _delete(db_url: str, staff_id: int, reply_id: int) -> None:
    with session_scope(db_url) as session:
        reply = session.get(CannedReply, reply_id)
        if reply is not None:
            session.delete(reply)
            audit.record(session, staff_id, "console.delete_canned", detail=f"canned {reply.id}")


@staff_page
async def canned_page(request: Request, staff: Staff) -> Response:
    return await _page(request, staff)


@staff_form
async def add_canned(request: Request, staff: Staff) -> Response:
    settings: Settings = request.app.state.settings
    form = await request.form()
    title, text = str(form.get("title") or "").strip(), str(form.get("text") or "").strip()
    if not title or not text or len(title) > MAX_TITLE_CHARS or len(text) > settings.max_message_chars:
        return await _page(request, staff, f"A canned reply needs a title (up to {MAX_TITLE_CHARS} characters) "
                                           f"and a text (up to {settings.max_message_chars}).", 400)
    await asyncio.to_thread(_add, settings.app_db_url, staff["staff_id"], title, text)
    return RedirectResponse("/console/canned", status_code=303)


@staff_form
async def delete_canned(request: Request, staff: Staff) -> Response:
    settings: Settings = request.app.state.settings
    await asyncio.to_thread(_delete, settings.app_db_url, staff["staff_id"], request.path_params["reply_id"])
    return RedirectResponse("/console/canned", status_code=303)
