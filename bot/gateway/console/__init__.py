"""The admissions staff console, served by the gateway at /console.

auth (sign-in, sessions, CSRF, guards), queue, conversation (transcript, context, notes, claim,
reply, resolve), callbacks (contact details, close), canned replies, presence, the audit log
(admins), maintainers' pages (the review queue, models: deploy and roll back, knowledge due for
review), reports and live (the console's websocket). Every page and form needs a signed-in staff
member; every read and action is audited.
"""

from __future__ import annotations

from pathlib import Path
from typing import List, Union

from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles
from starlette.websockets import WebSocket

from bot.gateway.console import (
    auth,
    callbacks,
    canned,
    conversation,
    models_page,
    presence,
    queue,
    review,
    row_ids,
)
from bot.gateway.console.audit_page import audit_page
from bot.gateway.console.knowledge_page import knowledge_page
from bot.gateway.console.reports import reports_csv, reports_page

STATIC = Path(__file__).resolve().parent.parent / "static" / "console"


async def live_socket(websocket: WebSocket) -> None:
    await websocket.app.state.staff_hub.serve(websocket)


def routes() -> List[Union[Route, Mount, WebSocketRoute]]:
    row_ids.register()
    handoff = "/console/handoffs/{handoff_id:row_id}"
    return [
        Route("/console", queue.queue_page),
        Route("/console/queue/rows", queue.queue_rows),
        Route("/console/login", auth.login_form, methods=["GET"]),
        Route("/console/login", auth.login, methods=["POST"]),
        Route("/console/logout", auth.logout, methods=["POST"]),
        Route("/console/presence", presence.set_presence, methods=["POST"]),
        Route(handoff, conversation.conversation_page),
        Route(f"{handoff}/claim", conversation.claim_handoff, methods=["POST"]),
        Route(f"{handoff}/reply", conversation.reply, methods=["POST"]),
        Route(f"{handoff}/notes", conversation.add_note, methods=["POST"]),
        Route(f"{handoff}/resolve", conversation.resolve_handoff, methods=["POST"]),
        Route("/console/callbacks", callbacks.callbacks_page),
        Route("/console/callbacks/{callback_id:row_id}/contact", callbacks.contact_details, methods=["POST"]),
        Route("/console/callbacks/{callback_id:row_id}/close", callbacks.close_callback, methods=["POST"]),
        Route("/console/canned", canned.canned_page, methods=["GET"]),
        Route("/console/canned", canned.add_canned, methods=["POST"]),
        Route("/console/canned/{reply_id:row_id}/delete", canned.delete_canned, methods=["POST"]),
        Route("/console/audit", audit_page),
        Route("/console/review", review.review_page),
        Route("/console/review/decide", review.decide, methods=["POST"]),
        Route("/console/review/export", review.export, methods=["POST"]),
        Route("/console/review/conversations/{conversation_id}", review.transcript),
        Route("/console/knowledge", knowledge_page),
        Route("/console/reports", reports_page),
        Route("/console/reports.csv", reports_csv),
        Route("/console/models", models_page.models_page),
        Route("/console/models/deploy", models_page.deploy_model, methods=["POST"]),
        Route("/console/models/rollback", models_page.roll_back, methods=["POST"]),
        Route("/console/models/{name}/{chart}.png", models_page.chart),
        WebSocketRoute("/console/ws", live_socket),
        # The script and styles hold nothing private, and the sign-in page needs them.
        Mount("/console/static", StaticFiles(directory=STATIC), name="console-static"),
    ]
