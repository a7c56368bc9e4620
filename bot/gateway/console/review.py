"""The review queue, for maintainers (docs/maintainer.md): what visitors asked and how the model read it;
mark correct, relabel or ignore; confirm crisis messages a second time; export as training data.
Every view and decision is audited; the messages come from the tracker store, so retention applies."""

from __future__ import annotations

import asyncio
import functools
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Tuple
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from bot.domain.training_examples import catalogue_intents
from bot.gateway.console.auth import Staff, maintainers_only, staff_form, staff_page
from bot.gateway.console.render import render
from bot.gateway.console.row_ids import MAX_ID_DIGITS
from bot.gateway.visitor.transcript import history as transcript_history
from bot.settings import Settings
from bot.store import audit, rasa_events, review_queue
from bot.store.review_queue import FILTERS, ReviewError

FILTER_LABELS = {
    "all": "Everything", "fallback": "Fell back (out of scope / not understood)",
    "low_confidence": "Low confidence", "handoff": "Led to a handoff", "crisis": "Crisis detected",
    "thumbs_down": "Thumbs down", "undecided": "Not reviewed",
}


@functools.lru_cache(maxsize=4)
def _intents(domain_file: Path) -> Tuple[str, ...]:
    return catalogue_intents(domain_file)


def _number(value: object) -> Optional[int]:
    text = str(value or "")
    return int(text) if text.isdigit() and len(text) <= MAX_ID_DIGITS else None


def _back(fields: Mapping[str, Any]) -> str:
    """The queue page the maintainer was on, with its filter, search and position."""
    query = {key: str(fields.get(key)) for key in ("filter", "q", "before") if fields.get(key)}
    return "/console/review" + (f"?{urlencode(query)}" if query else "")


@staff_page
@maintainers_only
async def review_page(request: Request, staff: Staff) -> Response:
    settings = request.app.state.settings
    params = request.query_params
    filter_name = params.get("filter") or "all"
    search = params.get("q") or ""
    before = _number(params.get("before")) if params.get("before") else None
    if filter_name not in FILTERS or (params.get("before") and before is None):
        return render(request, "message.html", staff, status_code=400, title="Bad filter",
                      message="Pick a filter from the list.", back="/console/review")
    page = await asyncio.to_thread(review_queue.review_page, settings, filter_name, search, before)
    await asyncio.to_thread(audit.record_alone, settings.app_db_url, staff["staff_id"], "review.view",
                            detail=f"filter {filter_name}{', search' if search else ''}, {len(page.items)} shown")
    return render(request, "review.html", staff, title="Review queue", page=page, filter_name=filter_name,
                  search=search, before=before or "", filters=FILTER_LABELS, intents=_intents(settings.domain_file),
                  low_confidence=settings.review_low_confidence, message=params.get("done") or "")


@staff_form
@maintainers_only
async def decide(request: Request, staff: Staff) -> Response:
    settings = request.app.state.settings
    form = await request.form()
    event_id = _number(form.get("event_id"))
    conversation_id = str(form.get("conversation_id") or "")
    if event_id is None or not conversation_id:
        return render(request, "message.html", staff, status_code=400, title="Bad request",
                      message="That form is missing the message it is about.", back=_back(form))
    try:
        if form.get("decision") == "confirm_crisis":
            await asyncio.to_thread(review_queue.confirm_crisis, settings, staff["staff_id"], conversation_id, event_id)
        else:
            await asyncio.to_thread(review_queue.decide, settings, staff["staff_id"], conversation_id, event_id,
                                    str(form.get("decision") or ""), str(form.get("intent") or "") or None,
                                    _intents(settings.domain_file))
    except ReviewError as error:
        return render(request, "message.html", staff, status_code=400, title="Not saved", message=str(error),
                      back=_back(form))
    return RedirectResponse(f"{_back(form)}#message-{event_id}", status_code=303)


# Enough context for a decision; the handoff page shows whole conversations to the staff who have them.
TRANSCRIPT_MESSAGES = 200
MAX_CONVERSATION_ID_CHARS = 128


def _viewed_transcript(settings: Settings, staff_id: int, conversation_id: str) -> List[Dict[str, Any]]:
    audit.record_alone(settings.app_db_url, staff_id, "review.view_transcript", conversation_id=conversation_id)
    return transcript_history(rasa_events.latest_visible_events(settings.tracker_db_url, conversation_id,
                                                                TRANSCRIPT_MESSAGES))


@staff_page
@maintainers_only
async def transcript(request: Request, staff: Staff) -> Response:
    """A message's conversation, read-only, for the context a decision needs (audited; retention deletes
    it with the conversation)."""
    settings: Settings = request.app.state.settings
    conversation_id = request.path_params["conversation_id"]
    if len(conversation_id) > MAX_CONVERSATION_ID_CHARS:
        return render(request, "message.html", staff, status_code=400, title="Bad request",
                      message="That is not a conversation id.", back="/console/review")
    entries = await asyncio.to_thread(_viewed_transcript, settings, staff["staff_id"], conversation_id)
    if not entries:
        return render(request, "message.html", staff, status_code=404, title="Not found",
                      message="No such conversation (retention may have deleted it).", back="/console/review")
    return render(request, "review_transcript.html", staff, title="Conversation", transcript=entries,
                  conversation_id=conversation_id, limit=TRANSCRIPT_MESSAGES)


@staff_form
@maintainers_only
async def export(request: Request, staff: Staff) -> Response:
    settings = request.app.state.settings
    report = await asyncio.to_thread(review_queue.export_reviewed, settings, staff["staff_id"])
    return render(request, "review_export.html", staff, title="Export", report=report)
