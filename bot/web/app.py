"""The gateway's ASGI app: widget, demo page, visitor websocket, staff console, internal API, health checks."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import timedelta
from pathlib import Path
from typing import Any, AsyncIterator, Awaitable, Callable, Optional

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, JSONResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket

from bot import contact_redaction, handoffs, retention
from bot.knowledge.loader import default as knowledge
from bot.settings import Settings, get_settings
from bot.store import contact_cipher, migrate, session_scope
from bot.web import console, internal_api
from bot.web.console.live import StaffHub
from bot.web.event_bus import EventBus
from bot.web.rasa_client import RasaClient, RasaUnavailable
from bot.web.visitor_socket import VisitorHub

logger = logging.getLogger(__name__)
# Housekeeping each gateway runs; doing it on several gateways at once is harmless.
EXPIRY_CHECK_SECONDS = 30
REDACTION_SECONDS = 15
RETENTION_SECONDS = 24 * 3600

STATIC = Path(__file__).resolve().parent / "static"
PRIVACY_PAGE = """<!doctype html><html lang="en"><meta charset="utf-8"><title>Privacy</title>
<body style="font-family:sans-serif;max-width:40rem;margin:2rem auto;line-height:1.5">
<h1>Chat privacy</h1>
<p>The chat assistant keeps what you write so that our admissions team can help you and so you can
return to the conversation. It uses no third-party trackers or analytics. Please share only what you
need to. Substance-use treatment records are protected by federal law (42 CFR Part 2 and HIPAA).</p>
</body></html>"""


def create_app(settings: Optional[Settings] = None) -> Starlette:
    settings = settings or get_settings()

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        migrate(settings.app_db_url)
        app.state.settings = settings
        # Fails here, at start-up, when no key is configured outside development.
        app.state.contact_cipher = contact_cipher(settings)
        app.state.rasa = RasaClient(settings)
        app.state.bus = EventBus(settings.redis_url)
        app.state.staff_hub = StaffHub(settings, app.state.bus)
        app.state.hub = VisitorHub(settings, app.state.rasa, app.state.bus,
                                   on_paused_message=app.state.staff_hub.visitor_wrote)
        await app.state.bus.start()
        background = [asyncio.create_task(every(EXPIRY_CHECK_SECONDS, expire_overdue, app)),
                      asyncio.create_task(every(REDACTION_SECONDS, redact_contact_details, app)),
                      asyncio.create_task(every(RETENTION_SECONDS, purge_expired, app))]
        yield
        for task in background:
            task.cancel()
        await app.state.bus.close()
        await app.state.rasa.close()

    async def demo_page(request: Request) -> FileResponse:
        return FileResponse(STATIC / "demo.html", media_type="text/html")

    async def widget(request: Request) -> FileResponse:
        return FileResponse(STATIC / "widget.js", media_type="application/javascript",
                            headers={"Cache-Control": "public, max-age=300"})

    async def privacy(request: Request) -> HTMLResponse:
        return HTMLResponse(PRIVACY_PAGE)

    async def healthz(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    async def readyz(request: Request) -> JSONResponse:
        problem = await request.app.state.rasa.readiness()
        if problem:
            return JSONResponse({"status": "not ready", "reason": problem}, status_code=503)
        return JSONResponse({"status": "ready"})

    async def visitor_socket(websocket: WebSocket) -> None:
        await websocket.app.state.hub.serve(websocket)

    return Starlette(
        routes=[
            Route("/", demo_page),
            Route("/widget.js", widget),
            Route("/privacy", privacy),
            Route("/healthz", healthz),
            Route("/readyz", readyz),
            WebSocketRoute("/ws", visitor_socket),
            Route("/internal/handoffs", internal_api.open_handoff, methods=["POST"]),
            Route("/internal/callbacks", internal_api.store_callback, methods=["POST"]),
            *console.routes(),
        ],
        lifespan=lifespan,
    )


async def expire_overdue(app: Starlette, now=None) -> int:
    """Waiting handoffs nobody claimed in time: the bot resumes and offers a callback."""
    settings: Settings = app.state.settings
    with session_scope(settings.app_db_url) as session:
        expired = handoffs.expire_waiting(session, timedelta(minutes=settings.handoff_wait_minutes), now=now)
        conversations = [(handoff.id, handoff.conversation_id, handoff.priority) for handoff in expired]
    if not conversations:
        return 0
    entry = knowledge().get("handoff_expired")
    for handoff_id, conversation_id, priority in conversations:
        await app.state.staff_hub.queue_changed("expired", handoff_id, priority)
        try:
            await app.state.rasa.resume(conversation_id, entry.short)
        except RasaUnavailable as exc:
            logger.warning("could not resume an expired handoff's conversation: %s", exc)
        await app.state.hub.say(conversation_id, entry.short,
                                [{"title": "Request a call back", "payload": "/request_callback"}])
    return len(conversations)


async def redact_contact_details(app: Starlette) -> int:
    return await asyncio.to_thread(contact_redaction.redact_stored_callbacks, app.state.settings,
                                   app.state.contact_cipher)


async def purge_expired(app: Starlette) -> retention.PurgeReport:
    report = await asyncio.to_thread(retention.purge_expired, app.state.settings)
    logger.info("retention: %s", report)
    return report


async def every(seconds: float, job: Callable[[Starlette], Awaitable[Any]], app: Starlette) -> None:
    """Run a housekeeping job forever; one failed round is logged and does not stop the next."""
    while True:
        await asyncio.sleep(seconds)
        try:
            await job(app)
        except Exception:
            logger.exception("%s failed", job.__name__)
