"""The gateway's ASGI app: widget, demo page, visitor websocket, staff console, internal API, health checks."""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import html
import logging
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, AsyncIterator, Awaitable, Callable, Dict, Optional, Tuple

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket

from bot.gateway import console, internal_api
from bot.gateway.console.live import StaffHub
from bot.gateway.console.sign_in_throttle import SignInThrottle
from bot.gateway.event_bus import EventBus
from bot.gateway.metrics import Metrics
from bot.gateway.model_switch import ModelSwitch
from bot.gateway.rasa_client import RasaClient, RasaUnavailable
from bot.gateway.server import HeadSizeLimit, ListenerGuard, StrictTransportSecurity
from bot.gateway.visitor.safety_net import SafetyNet
from bot.gateway.visitor.texts import VisitorTexts
from bot.gateway.visitor.websocket import VisitorHub
from bot.settings import Settings, get_settings
from bot.store import contact_cipher, contact_redaction, handoffs, migrate, retention, session_scope

logger = logging.getLogger(__name__)
EXPIRY_CHECK_SECONDS = 30
REDACTION_SECONDS = 15
RETENTION_SECONDS = 24 * 3600

STATIC = Path(__file__).resolve().parent / "static"
# The privacy page's words are the knowledge file's (messages privacy_page_*).
PRIVACY_PAGE = """<!doctype html><html lang="en"><meta charset="utf-8"><title>{title}</title>
<body style="font-family:sans-serif;max-width:40rem;margin:2rem auto;line-height:1.5">
<h1>{heading}</h1>
<p>{text}</p>
</body></html>"""


def privacy_page(texts: VisitorTexts) -> str:
    return PRIVACY_PAGE.format(**{part: html.escape(texts.message(f"privacy_page_{part}"))
                                  for part in ("title", "heading", "text")})


def create_app(settings: Optional[Settings] = None) -> Starlette:
    settings = settings or get_settings()
    # Built once, at start-up: a knowledge file lacking a message the gateway sends fails here.
    texts = VisitorTexts(settings)
    widget_script = texts.widget_script((STATIC / "widget.js").read_text(encoding="utf-8"))
    # The demo page quotes the helplines from the knowledge file too.
    demo_html = texts.knowledge.fill_helplines((STATIC / "demo.html").read_text(encoding="utf-8"))
    privacy_html = privacy_page(texts)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        migrate(settings.app_db_url)
        app.state.settings = settings
        app.state.texts = texts
        app.state.metrics = Metrics()
        app.state.sign_in_throttle = SignInThrottle(settings.sign_in_failures_per_client)
        # An error in a task nobody awaits is logged and counted, never lost.
        asyncio.get_running_loop().set_exception_handler(
            lambda loop, context: _unhandled_task_error(app.state.metrics, context))
        # Fails here, at start-up, when no key is configured outside development.
        app.state.contact_cipher = contact_cipher(settings)
        app.state.rasa = RasaClient(settings)
        app.state.bus = EventBus(settings.redis_url, settings.redis_channel)
        app.state.staff_hub = StaffHub(settings, app.state.bus)
        # Fails here too when domain.yml lacks the crisis answers the gateway must be able to give.
        safety = SafetyNet(settings, app.state.rasa, app.state.staff_hub)
        app.state.hub = VisitorHub(settings, app.state.rasa, app.state.bus, safety, app.state.metrics,
                                   on_paused_message=app.state.staff_hub.visitor_wrote, texts=texts)
        # Switches the rasa server's model (console, CLI); every gateway's relay follows its hold.
        app.state.model_switch = ModelSwitch(settings, app.state.rasa, app.state.bus, app.state.hub.relay.hold)
        await app.state.bus.start()
        background = [asyncio.create_task(every(seconds, job, app)) for seconds, job in HOUSEKEEPING]
        yield
        for task in background:
            task.cancel()
        # A visitor mid-answer (a crisis answer's escalation included) is finished, not cut off: a message
        # already with Rasa gets its answer or times out first.
        drain_seconds = settings.rasa_timeout_seconds + 5
        unfinished = await app.state.hub.drain(drain_seconds)
        if unfinished:
            logger.error("shutdown: %d visitor messages still unanswered after %.0f s", unfinished, drain_seconds)
        await app.state.bus.close()
        await app.state.rasa.close()

    async def demo_page(request: Request) -> HTMLResponse:
        return HTMLResponse(demo_html)

    async def widget(request: Request) -> Response:
        # Served with its words and the message limit filled in (bot/gateway/visitor/texts.py).
        return Response(widget_script, media_type="application/javascript",
                        headers={"Cache-Control": "public, max-age=300"})

    async def privacy(request: Request) -> HTMLResponse:
        return HTMLResponse(privacy_html)

    async def healthz(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    async def readyz(request: Request) -> JSONResponse:
        problem = await request.app.state.rasa.readiness()
        failures = request.app.state.metrics.value("visitor_message_failures")
        if problem:
            return JSONResponse({"status": "not ready", "reason": problem, "visitor_message_failures": failures},
                                status_code=503)
        return JSONResponse({"status": "ready", "visitor_message_failures": failures})

    async def metrics(request: Request) -> PlainTextResponse:
        # The gateway is the public port: counters are for the clinic's monitoring only.
        supplied = request.headers.get("authorization", "").encode()
        if not hmac.compare_digest(supplied, f"Bearer {settings.internal_api_token}".encode()):
            return PlainTextResponse("unauthorised\n", status_code=401)
        return PlainTextResponse(request.app.state.metrics.render(), media_type="text/plain; version=0.0.4")

    async def visitor_socket(websocket: WebSocket) -> None:
        await websocket.app.state.hub.serve(websocket)

    app = Starlette(
        routes=[
            Route("/", demo_page),
            Route("/widget.js", widget),
            Route("/privacy", privacy),
            Route("/healthz", healthz),
            Route("/readyz", readyz),
            Route("/metrics", metrics),
            WebSocketRoute("/ws", visitor_socket),
            Route("/internal/handoffs", internal_api.open_handoff, methods=["POST"]),
            Route("/internal/handoffs/status", internal_api.handoff_status, methods=["POST"]),
            Route("/internal/callbacks", internal_api.store_callback, methods=["POST"]),
            Route("/internal/models/deploy", internal_api.deploy_model, methods=["POST"]),
            Route("/internal/models/rollback", internal_api.rollback_model, methods=["POST"]),
            *console.routes(),
        ],
        lifespan=lifespan,
    )
    app.add_middleware(ListenerGuard, internal_port=settings.internal_api_port)
    app.add_middleware(HeadSizeLimit)
    if settings.environment == "production":
        # Served over HTTPS behind the clinic's proxy: browsers must never fall back to plain HTTP.
        app.add_middleware(StrictTransportSecurity)
    return app



async def expire_overdue(app: Starlette, now: Optional[datetime] = None) -> int:
    """Waiting handoffs nobody claimed in time: the bot resumes and offers a callback."""
    settings: Settings = app.state.settings
    conversations = await asyncio.to_thread(_expire_waiting, settings, now)
    if not conversations:
        return 0
    texts: VisitorTexts = app.state.hub.texts
    expired = texts.answer("handoff_expired")
    callback_button = {"title": texts.message("request_callback_button"), "payload": "/request_callback"}
    for handoff_id, conversation_id, priority in conversations:
        await app.state.staff_hub.queue_changed("expired", handoff_id, priority)
        try:
            await app.state.rasa.resume(conversation_id, expired)
        except RasaUnavailable as exc:
            # The visitor's next message finds the conversation paused with no handoff and resumes it.
            logger.warning("could not resume an expired handoff's conversation: %s", exc)
        await app.state.hub.say(conversation_id, expired, [callback_button])
    return len(conversations)


def _expire_waiting(settings: Settings, now: Optional[datetime]) -> Tuple[Tuple[int, str, str], ...]:
    with session_scope(settings.app_db_url) as session:
        expired = handoffs.expire_waiting(session, timedelta(minutes=settings.handoff_wait_minutes), now=now)
        return tuple((handoff.id, handoff.conversation_id, handoff.priority) for handoff in expired)


async def redact_contact_details(app: Starlette) -> int:
    return await asyncio.to_thread(contact_redaction.redact_stored_callbacks, app.state.settings,
                                   app.state.contact_cipher)


async def purge_expired(app: Starlette) -> retention.PurgeReport:
    report = await asyncio.to_thread(retention.purge_expired, app.state.settings)
    logger.info("retention: %s", report)
    return report


Job = Callable[[Starlette], Awaitable[Any]]
# Housekeeping each gateway runs; doing it on several gateways at once is harmless.
HOUSEKEEPING: Tuple[Tuple[float, Job], ...] = (
    (EXPIRY_CHECK_SECONDS, expire_overdue),
    (REDACTION_SECONDS, redact_contact_details),
    (RETENTION_SECONDS, purge_expired),
)


async def every(seconds: float, job: Job, app: Starlette,
                sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
    """Run a housekeeping job forever; one failed round is logged and counted and does not stop the next."""
    while True:
        await sleep(seconds)
        try:
            await job(app)
        except Exception:
            app.state.metrics.count("housekeeping_failures")
            logger.exception("%s failed", getattr(job, "__name__", job))


def _unhandled_task_error(metrics: Metrics, context: Dict[str, Any]) -> None:
    metrics.count("unretrieved_task_errors")
    exc = context.get("exception")
    logger.error("unhandled error in a background task: %s %s", context.get("message"),
                 f"{type(exc).__name__}: {exc}" if exc else "")
