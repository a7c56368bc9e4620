"""The knowledge review page, for maintainers: entries overdue for review and those due within 30 days."""

from __future__ import annotations

import asyncio
import datetime
from typing import List, Tuple

from starlette.requests import Request
from starlette.responses import Response

from bot.domain.knowledge.freshness import Review, due_for_review, is_official, law_entries_without_official_source
from bot.domain.knowledge.loader import KnowledgeFileError, load
from bot.domain.knowledge.schema import Entry
from bot.gateway.console.auth import Staff, maintainers_only, staff_page
from bot.gateway.console.render import render
from bot.settings import Settings
from bot.store import audit

DUE_SOON_DAYS = 30


def _viewed_reviews(settings: Settings, staff_id: int, today: datetime.date) -> Tuple[List[Review], List[Entry]]:
    """Audit the view; the entries due within DUE_SOON_DAYS, and law entries without an official source.

    The file as it is on disk now, not as this gateway loaded it at start-up: a maintainer who has just
    reviewed an entry sees it leave the list.
    """
    audit.record_alone(settings.app_db_url, staff_id, "console.view_knowledge")
    knowledge = load(settings.knowledge_file)
    due = due_for_review(knowledge, today, settings.knowledge_review_days, settings.knowledge_law_review_days,
                         within=DUE_SOON_DAYS)
    return due, law_entries_without_official_source(knowledge)


@staff_page
@maintainers_only
async def knowledge_page(request: Request, staff: Staff) -> Response:
    """Maintainers only: what to review in data/knowledge.yml, soonest due first."""
    settings: Settings = request.app.state.settings
    today = datetime.date.today()
    try:
        due, unsourced = await asyncio.to_thread(_viewed_reviews, settings, staff["staff_id"], today)
    except KnowledgeFileError as exc:
        return render(request, "message.html", staff, status_code=500, title="The knowledge file does not load",
                      message=str(exc), back="/console")
    return render(request, "knowledge.html", staff, title="Knowledge review", today=today,
                  overdue=[item for item in due if item.overdue], soon=[item for item in due if not item.overdue],
                  unsourced=unsourced, soon_days=DUE_SOON_DAYS, days=settings.knowledge_review_days,
                  law_days=settings.knowledge_law_review_days, is_official=is_official)
