"""Presence: online (visitors may wait for me) or away (offer them a callback instead)."""

from __future__ import annotations

import asyncio

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from bot.gateway.console.auth import Staff, staff_form
from bot.gateway.console.render import render
from bot.store import audit

CHOICES = ("online", "away")


@staff_form
async def set_presence(request: Request, staff: Staff) -> Response:
    presence = (await request.form()).get("presence")
    if presence not in CHOICES:
        return render(request, "message.html", staff, status_code=400, title="Not changed",
                      message="Presence is online or away.", back="/console")
    await asyncio.to_thread(audit.record_alone, request.app.state.settings.app_db_url, staff["staff_id"],
                            "console.presence", detail=presence, presence=presence)
    return RedirectResponse("/console", status_code=303)
