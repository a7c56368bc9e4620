"""The visitor websocket: docs/chat-protocol.md, implemented."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import OrderedDict, defaultdict
from typing import Any, Awaitable, Callable, Dict, Optional, Set
from urllib.parse import urlsplit

from starlette.websockets import WebSocket, WebSocketDisconnect

from bot.settings import Settings
from bot.web import conversation_ids
from bot.web.event_bus import Event, EventBus
from bot.web.limits import ConnectionLimit, MessageRateLimit
from bot.web.rasa_client import RasaClient, RasaUnavailable
from bot.web.transcript import bot_messages, history, is_urgent

logger = logging.getLogger(__name__)

# Answers kept per conversation so a message re-sent after a reconnect is answered, not re-run.
REMEMBERED_REPLIES = 50
REMEMBERED_CONVERSATIONS = 10_000
# A page address longer than this is not a real page the widget sits on.
MAX_PAGE_URL_CHARS = 500

# Told of a visitor message Rasa recorded without answering (a person has the conversation).
PausedMessageHandler = Callable[[str, str, float], Awaitable[None]]


def error_frame(code: str, message: str, **extra: Any) -> Dict[str, Any]:
    return {"type": "error", "code": code, "message": message, **extra}


def unavailable_message(settings: Settings) -> str:
    reach = f"call our admissions team at {settings.clinic_phone}" if settings.clinic_phone else (
        "call the free SAMHSA National Helpline at 1-800-662-4357 (24/7)"
    )
    return (
        f"Sorry, I can't answer right now. Please try again in a minute, or {reach}. "
        "If you are in crisis, call or text 988. If anyone is in danger right now, call 911."
    )


class ReplyMemory:
    """Recent answers by (conversation, client_id), bounded in both dimensions."""

    def __init__(self) -> None:
        self._replies: "OrderedDict[str, OrderedDict[str, Dict[str, Any]]]" = OrderedDict()

    def get(self, conversation_id: str, client_id: str) -> Optional[Dict[str, Any]]:
        return self._replies.get(conversation_id, {}).get(client_id)

    def put(self, conversation_id: str, client_id: str, frame: Dict[str, Any]) -> None:
        replies = self._replies.setdefault(conversation_id, OrderedDict())
        self._replies.move_to_end(conversation_id)
        replies[client_id] = frame
        while len(replies) > REMEMBERED_REPLIES:
            replies.popitem(last=False)
        while len(self._replies) > REMEMBERED_CONVERSATIONS:
            self._replies.popitem(last=False)


class VisitorHub:
    """Open visitor sockets by conversation, and the per-conversation order of relays."""

    def __init__(self, settings: Settings, rasa: RasaClient, bus: EventBus,
                 on_paused_message: Optional[PausedMessageHandler] = None) -> None:
        self.settings = settings
        self.rasa = rasa
        self.bus = bus
        self.on_paused_message = on_paused_message
        bus.subscribe(self._deliver)
        self.sockets: Dict[str, Set[WebSocket]] = defaultdict(set)
        self.rate_limit = MessageRateLimit(settings.messages_per_minute)
        self.connection_limit = ConnectionLimit(settings.connections_per_ip)
        self.replies = ReplyMemory()
        self._locks: Dict[str, asyncio.Lock] = defaultdict(asyncio.Lock)

    async def broadcast(self, conversation_id: str, frame: Dict[str, Any], skip: Optional[WebSocket] = None) -> None:
        for socket in list(self.sockets.get(conversation_id, ())):
            if socket is not skip:
                await _send(socket, frame)

    async def say(self, conversation_id: str, text: str, buttons: Optional[list] = None,
                  staff_name: Optional[str] = None) -> None:
        """A message not answering any visitor message (staff reply, handback, expiry) to every open tab,
        on whichever gateway the visitor is connected to."""
        frame: Dict[str, Any] = {"type": "bot", "reply_to": None, "urgent": False, "ts": time.time(),
                                 "messages": [{"text": text, "buttons": buttons or [], "urgent": False}]}
        if staff_name:
            frame.update(role="staff", name=staff_name)
        await self.bus.publish({"kind": "visitor_frame", "conversation_id": conversation_id, "frame": frame})

    async def _deliver(self, event: Event) -> None:
        if event.get("kind") == "visitor_frame":
            await self.broadcast(event["conversation_id"], event["frame"])

    async def serve(self, websocket: WebSocket) -> None:
        ip = websocket.client.host if websocket.client else "unknown"
        await websocket.accept()
        if not self.connection_limit.acquire(ip):
            await _send(websocket, error_frame(
                "too_many_connections", "Too many chat windows are open from your network. Close one and try again."))
            await websocket.close(code=1008)
            return
        conversation_id: Optional[str] = None
        page_url: Optional[str] = None
        tasks: Set[asyncio.Task] = set()
        try:
            while True:
                raw = await websocket.receive_text()
                frame = _parse(raw)
                if frame is None:
                    await _send(websocket, error_frame("bad_request", "That message could not be read (expected JSON)."))
                    continue
                kind = frame.get("type")
                if kind == "hello":
                    if conversation_id:
                        self.sockets[conversation_id].discard(websocket)
                    conversation_id = await self._welcome(websocket, frame)
                    page_url = _page_url(frame.get("page_url"))
                elif kind == "ping":
                    await _send(websocket, {"type": "pong"})
                elif kind == "message":
                    if conversation_id is None:
                        await _send(websocket, error_frame("hello_required", "Say hello first: send a `hello` frame."))
                        continue
                    task = asyncio.create_task(self._on_message(websocket, conversation_id, frame, page_url))
                    tasks.add(task)
                    task.add_done_callback(tasks.discard)
                else:
                    await _send(websocket, error_frame("bad_request", f"Unknown message type {kind!r}."))
        except WebSocketDisconnect:
            pass
        finally:
            self.connection_limit.release(ip)
            if conversation_id:
                self.sockets[conversation_id].discard(websocket)
                if not self.sockets[conversation_id]:
                    del self.sockets[conversation_id]

    async def _welcome(self, websocket: WebSocket, frame: Dict[str, Any]) -> str:
        requested = frame.get("conversation_id")
        restored = conversation_ids.verify(self.settings.gateway_secret, requested)
        conversation_id = requested if restored else conversation_ids.issue(self.settings.gateway_secret)
        past = []
        if restored:
            try:
                past = history(await self.rasa.events(conversation_id))
            except RasaUnavailable:
                await _send(websocket, error_frame("assistant_unavailable", unavailable_message(self.settings)))
        self.sockets[conversation_id].add(websocket)
        await _send(websocket, {"type": "welcome", "conversation_id": conversation_id,
                                "restored": restored, "history": past})
        return conversation_id

    async def _on_message(self, websocket: WebSocket, conversation_id: str, frame: Dict[str, Any],
                          page_url: Optional[str]) -> None:
        client_id = frame.get("client_id")
        text = frame.get("text")
        if not isinstance(client_id, str) or not client_id or not isinstance(text, str):
            await _send(websocket, error_frame("bad_request", "A message needs a `client_id` and a `text`."))
            return
        if len(text) > self.settings.max_message_chars:
            await _send(websocket, error_frame(
                "message_too_long",
                f"That message is too long. Please keep it under {self.settings.max_message_chars} characters.",
                client_id=client_id))
            return
        if not text.strip():
            await _send(websocket, error_frame("empty_message", "Type a question first.", client_id=client_id))
            return

        async with self._locks[conversation_id]:
            earlier = self.replies.get(conversation_id, client_id)
            if earlier is not None:
                await _send(websocket, {"type": "ack", "client_id": client_id, "ts": earlier["ts"]})
                await _send(websocket, earlier)
                return
            retry_after = self.rate_limit.retry_after(conversation_id)
            if retry_after is not None:
                await _send(websocket, error_frame(
                    "rate_limited", "You're sending messages very fast. Please wait a moment.",
                    client_id=client_id, retry_after=retry_after))
                return
            received = time.time()
            await _send(websocket, {"type": "ack", "client_id": client_id, "ts": received})
            display_text = frame.get("display_text") if isinstance(frame.get("display_text"), str) else None
            await self.broadcast(conversation_id, {"type": "visitor", "client_id": client_id,
                                                   "text": display_text or text, "ts": received}, skip=websocket)
            await self.broadcast(conversation_id, {"type": "typing", "on": True})
            # The page goes into the tracker with the message, for the console's visitor context.
            metadata = {"client_id": client_id, "display_text": display_text, "page_url": page_url}
            try:
                replies = await self.rasa.send(conversation_id, text, metadata)
            except RasaUnavailable as exc:
                logger.warning("rasa unavailable: %s", exc)
                await self.broadcast(conversation_id, {"type": "typing", "on": False})
                await _send(websocket, error_frame(
                    "assistant_unavailable", unavailable_message(self.settings), client_id=client_id))
                return
            answer = {"type": "bot", "reply_to": client_id, "messages": bot_messages(replies),
                      "urgent": is_urgent(replies), "ts": time.time()}
            self.replies.put(conversation_id, client_id, answer)
            await self.broadcast(conversation_id, {"type": "typing", "on": False})
            await self.broadcast(conversation_id, answer)
            if not replies and self.on_paused_message is not None:
                await self.on_paused_message(conversation_id, display_text or text, received)
        if not self._locks[conversation_id].locked() and conversation_id not in self.sockets:
            self._locks.pop(conversation_id, None)


def _page_url(value: Any) -> Optional[str]:
    """The widget's page address if it is a plausible http(s) URL; anything else is dropped."""
    if not isinstance(value, str) or len(value) > MAX_PAGE_URL_CHARS:
        return None
    return value if urlsplit(value).scheme in ("http", "https") else None


def _parse(raw: str) -> Optional[Dict[str, Any]]:
    try:
        frame = json.loads(raw)
    except ValueError:
        return None
    return frame if isinstance(frame, dict) else None


async def _send(websocket: WebSocket, frame: Dict[str, Any]) -> None:
    try:
        await websocket.send_text(json.dumps(frame))
    except (WebSocketDisconnect, RuntimeError):
        # The visitor left; their answer stays in the tracker and is restored on return.
        pass
