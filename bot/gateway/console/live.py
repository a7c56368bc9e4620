"""The console's live updates: a websocket per open console page, fed by gateway events.

Staff pages listen at `/console/ws` and receive small JSON frames:
`{"type": "queue", "reason": ..., "handoff_id": ..., "priority": ...}` when the queue changes
(the queue page then reloads its rows, and a new waiting handoff raises a notification), and
`{"type": "message" | "note", "conversation_id": ..., ...}` for the conversation pages.
The page's pings also keep its staff member's presence fresh.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any, Dict, Set
from urllib.parse import urlsplit

from starlette.websockets import WebSocket, WebSocketDisconnect

from bot.gateway.console.alert_limit import AlertLimit
from bot.gateway.console.auth import current_staff
from bot.gateway.event_bus import Event, EventBus
from bot.settings import Settings
from bot.store import StaffMember, handoffs, session_scope, utcnow

logger = logging.getLogger(__name__)
# Close codes: the page's script stops reconnecting on these and sends staff to sign in.
NOT_SIGNED_IN = 4401
WRONG_ORIGIN = 4403
# The queue changes that sound an alert on the console page (console.js).
ALERTING = ("opened", "escalated")


class StaffHub:
    def __init__(self, settings: Settings, bus: EventBus) -> None:
        self.settings = settings
        self.bus = bus
        self.sockets: Set[WebSocket] = set()
        self.alerts = AlertLimit(settings.staff_alerts_per_minute)
        bus.subscribe(self._deliver)

    async def notify(self, frame: Dict[str, Any]) -> None:
        """Tell every open console page, on every gateway."""
        await self.bus.publish({"kind": "console", "frame": frame})

    async def queue_changed(self, reason: str, handoff_id: int, priority: str = "normal") -> None:
        if reason in ALERTING and not self.alerts.allow(handoff_id, priority):
            # The queue still shows it; the page reloads its rows without another alarm.
            logger.warning("console alert held back: handoff=%s priority=%s reason=%s", handoff_id, priority, reason)
            reason = "updated"
        await self.notify({"type": "queue", "reason": reason, "handoff_id": handoff_id, "priority": priority})

    async def visitor_wrote(self, conversation_id: str, text: str, ts: float) -> bool:
        """A visitor message while a person has (or is about to take) the conversation; False if no
        handoff is open for it."""
        handoff_open = await asyncio.to_thread(self._note_visitor_message, conversation_id, text)
        if handoff_open:
            await self.notify({"type": "message", "conversation_id": conversation_id, "role": "visitor",
                               "text": text, "ts": ts})
            await self.notify({"type": "queue", "reason": "visitor_message", "handoff_id": None,
                               "priority": "normal"})
        return handoff_open

    async def _deliver(self, event: Event) -> None:
        if event.get("kind") != "console":
            return
        text = json.dumps(event["frame"])
        for socket in list(self.sockets):
            try:
                await socket.send_text(text)
            except (WebSocketDisconnect, RuntimeError):
                self.sockets.discard(socket)

    async def serve(self, websocket: WebSocket) -> None:
        staff = await current_staff(websocket)
        if staff is None:
            await websocket.close(code=NOT_SIGNED_IN)
            return
        # Browsers send cookies on cross-site websocket handshakes too; only the console's own pages may connect.
        origin = websocket.headers.get("origin")
        if origin is None or urlsplit(origin).netloc != websocket.headers.get("host"):
            await websocket.close(code=WRONG_ORIGIN)
            return
        await websocket.accept()
        self.sockets.add(websocket)
        try:
            while True:
                if _frame_type(await websocket.receive_text()) != "ping":
                    continue
                # The page pings every 30 s: each ping re-checks the session (a disabled account or a
                # revoked session is cut off) and keeps the staff member's presence fresh.
                if await current_staff(websocket) is None:
                    await websocket.close(code=NOT_SIGNED_IN)
                    return
                await asyncio.to_thread(self._seen, staff["staff_id"])
                await websocket.send_text('{"type":"pong"}')
        except WebSocketDisconnect:
            pass
        finally:
            self.sockets.discard(websocket)

    # These two touch the DB, so they run in worker threads (asyncio.to_thread), off the event loop.
    def _note_visitor_message(self, conversation_id: str, text: str) -> bool:
        with session_scope(self.settings.app_db_url) as session:
            return handoffs.note_visitor_message(session, conversation_id, text)

    def _seen(self, staff_id: int) -> None:
        with session_scope(self.settings.app_db_url) as session:
            member = session.get(StaffMember, staff_id)
            if member is not None:
                member.last_seen = utcnow()


def _frame_type(raw: str) -> Any:
    try:
        frame = json.loads(raw)
    except ValueError:
        return None
    return frame.get("type") if isinstance(frame, dict) else None
