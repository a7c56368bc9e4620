"""The visitor websocket: docs/chat-protocol.md, implemented.

`VisitorHub` serves each visitor socket (its connection limit, `hello`, `ping`, `message`) and says
the gateway's own messages to a conversation's open tabs; `relay.MessageRelay` answers the messages,
`frames` reads and builds the frames.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any, Dict, List, Optional

from sqlalchemy.exc import SQLAlchemyError
from starlette.websockets import WebSocket, WebSocketDisconnect

from bot.gateway.event_bus import Event, EventBus
from bot.gateway.metrics import Metrics
from bot.gateway.rasa_client import RasaClient
from bot.gateway.visitor import conversation_ids
from bot.gateway.visitor.failures import report_failure
from bot.gateway.visitor.frames import (
    bot_frame,
    notice_frame,
    page_url,
    parse_frame,
    pong_frame,
    rated_frame,
    read_rating,
    receive_text,
    send,
    welcome_frame,
)
from bot.gateway.visitor.limits import ConnectionLimit, RateLimit
from bot.gateway.visitor.offered_payloads import OfferedPayloads
from bot.gateway.visitor.open_sockets import OpenSockets
from bot.gateway.visitor.relay import MAX_CRISIS_SCAN_CHARS, MessageRelay, PausedMessageHandler
from bot.gateway.visitor.reply_memory import ReplyMemory
from bot.gateway.visitor.safety_net import SafetyNet
from bot.gateway.visitor.texts import VisitorTexts
from bot.gateway.visitor.transcript import history
from bot.settings import Settings
from bot.store import rasa_events
from bot.store.ratings import record_rating

logger = logging.getLogger(__name__)


@dataclass
class Visit:
    """One open websocket: its conversation and the page it sits on."""

    websocket: WebSocket
    # The client's address: the peer, or X-Forwarded-For from a trusted proxy (bot/gateway/server.py).
    client: str
    conversation_id: Optional[str] = None
    page_url: Optional[str] = None


class VisitorHub:
    """Open visitor sockets by conversation, and what each sends.

    Every visitor message is answered (`MessageRelay`); a frame that is not one gets an error frame
    and the socket stays open. Every word it sends of its own is a knowledge file message (`texts`).
    """

    def __init__(self, settings: Settings, rasa: RasaClient, bus: EventBus, safety: SafetyNet,
                 metrics: Metrics, on_paused_message: PausedMessageHandler,
                 texts: Optional[VisitorTexts] = None) -> None:
        self.settings = settings
        self.texts = texts or VisitorTexts(settings)
        self.rasa = rasa
        self.bus = bus
        self.safety = safety
        self.metrics = metrics
        bus.subscribe(self._deliver)
        self.sockets = OpenSockets()
        self.rate_limit = RateLimit(settings.messages_per_minute)
        self.new_conversation_limit = RateLimit(settings.new_conversations_per_hour_per_client, 3600.0)
        self.connection_limit = ConnectionLimit(settings.connections_per_ip)
        self.replies = ReplyMemory()
        self.offered = OfferedPayloads(self.texts.standing_payloads())
        self.relay = MessageRelay(settings, self.texts, rasa, safety, metrics, on_paused_message, self.sockets,
                                  self.rate_limit, self.replies, self.offered)

    async def drain(self, seconds: float) -> int:
        """Let the messages being answered finish (at shutdown); the number still unfinished after `seconds`."""
        return await self.relay.drain(seconds)

    async def say(self, conversation_id: str, text: str, buttons: Optional[list] = None,
                  staff_name: Optional[str] = None) -> None:
        """A message not answering any visitor message (staff reply, handback, expiry) to every open tab,
        on whichever gateway the visitor is connected to."""
        frame = notice_frame(text, buttons, staff_name)
        await self.bus.publish({"kind": "visitor_frame", "conversation_id": conversation_id, "frame": frame})

    async def _deliver(self, event: Event) -> None:
        if event.get("kind") == "visitor_frame":
            self.offered.remember(event["conversation_id"], event["frame"].get("messages") or [])
            await self.sockets.broadcast(event["conversation_id"], event["frame"])

    async def serve(self, websocket: WebSocket) -> None:
        ip = websocket.client.host if websocket.client else "unknown"
        await websocket.accept()
        if not self.connection_limit.acquire(ip):
            await send(websocket, self.texts.error_frame("too_many_connections"))
            await websocket.close(code=1008)
            return
        visit = Visit(websocket, ip)
        try:
            while True:
                raw = await receive_text(websocket)
                if raw is None:
                    await send(websocket, self.texts.error_frame(
                        "bad_request", self.texts.message("bad_request_not_text")))
                    continue
                try:
                    await self._on_frame(visit, raw)
                except Exception as exc:
                    report_failure(self.metrics, visit.conversation_id, exc)
                    await send(websocket, self.texts.error_frame("assistant_unavailable"))
        except WebSocketDisconnect:
            pass
        finally:
            self.connection_limit.release(ip)
            if visit.conversation_id:
                self.sockets.remove(visit.conversation_id, websocket)

    async def _on_frame(self, visit: Visit, raw: str) -> None:
        websocket = visit.websocket
        frame = parse_frame(raw)
        if frame is None:
            await send(websocket, self.texts.error_frame("bad_request", self.texts.message("bad_request_not_json")))
            return
        kind = frame.get("type")
        if kind == "hello":
            if visit.conversation_id:
                self.sockets.discard(visit.conversation_id, websocket)
            visit.conversation_id = await self._welcome(visit, frame)
            visit.page_url = page_url(frame.get("page_url"))
        elif kind == "ping":
            await send(websocket, pong_frame())
        elif kind == "rate":
            await self._rate(visit, frame)
        elif kind == "message":
            if visit.conversation_id is None:
                await self._without_conversation(websocket, frame)
                return
            self.relay.start(websocket, visit.conversation_id, frame, visit.page_url, visit.client)
        else:
            # Quoted short: the type can be any JSON the sender likes.
            await send(websocket, self.texts.error_frame(
                "bad_request", self.texts.message("bad_request_unknown_type", message_type=repr(kind)[:40])))

    async def _rate(self, visit: Visit, frame: Dict[str, Any]) -> None:
        """Thumbs up or down on an answer: stored with the visitor's message for the review queue."""
        websocket = visit.websocket
        rating = read_rating(frame)
        if rating is None or visit.conversation_id is None:
            await send(websocket, self.texts.error_frame("bad_request", self.texts.message("bad_request_rating")))
            return
        # Each click is a database write: counted with the client's messages.
        retry_after = self.relay.client_rate_limit.retry_after(visit.client)
        if retry_after is not None:
            await send(websocket, self.texts.error_frame("rate_limited", retry_after=retry_after))
            return
        stored = await asyncio.to_thread(record_rating, self.settings, visit.conversation_id, rating.client_id,
                                         rating.rating)
        if not stored:
            await send(websocket, self.texts.error_frame("bad_request", self.texts.message("bad_request_rating")))
            return
        await send(websocket, rated_frame(rating.client_id, rating.rating))

    async def _without_conversation(self, websocket: WebSocket, frame: Dict[str, Any]) -> None:
        """A message before a conversation (no hello, or new conversations refused for now): a crisis
        still gets the gateway's crisis answer; anything else is told to say hello."""
        text = frame.get("text")
        match = self.safety.detect(text[:MAX_CRISIS_SCAN_CHARS]) if isinstance(text, str) else None
        if match is not None:
            await send(websocket, bot_frame(frame.get("client_id") if isinstance(frame.get("client_id"), str)
                                            else None, self.safety.answer(match), True))
        await send(websocket, self.texts.error_frame("hello_required"))

    async def _welcome(self, visit: Visit, frame: Dict[str, Any]) -> Optional[str]:
        """The conversation the socket joins; None when this client may start no new one for now."""
        websocket = visit.websocket
        requested = frame.get("conversation_id")
        restored = conversation_ids.verify(self.settings.gateway_secret, requested)
        if not restored:
            retry_after = self.new_conversation_limit.retry_after(visit.client)
            if retry_after is not None:
                await send(websocket, self.texts.error_frame("rate_limited", retry_after=retry_after))
                return None
        conversation_id = requested if restored and isinstance(requested, str) else (
            conversation_ids.issue(self.settings.gateway_secret))
        past: List[Dict[str, Any]] = []
        if restored:
            try:
                past = history(await asyncio.to_thread(
                    rasa_events.latest_visible_events, self.settings.tracker_db_url, conversation_id,
                    self.settings.restored_history_messages))
            except SQLAlchemyError as exc:
                logger.error("conversation %s: transcript not restored: %r", conversation_id, exc)
                await send(websocket, self.texts.error_frame("assistant_unavailable"))
        self.offered.remember(conversation_id, [entry for entry in past if entry.get("role") == "bot"])
        self.sockets.add(conversation_id, websocket)
        # The limit and the words the widget shows on its own come with the welcome (docs/chat-protocol.md).
        await send(websocket, welcome_frame(conversation_id, restored, past, self.texts.widget()))
        return conversation_id
