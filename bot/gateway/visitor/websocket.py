"""The visitor websocket: docs/chat-protocol.md, implemented."""

from __future__ import annotations

import asyncio
import json
import logging
import time
import traceback
from collections import OrderedDict, defaultdict
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Dict, List, Optional, Set, Tuple
from urllib.parse import urlsplit

from sqlalchemy.exc import SQLAlchemyError
from starlette.websockets import WebSocket, WebSocketDisconnect

from bot.domain.safety.detector import CrisisMatch
from bot.gateway.event_bus import Event, EventBus
from bot.gateway.metrics import Metrics
from bot.gateway.rasa_client import RasaClient, RasaUnavailable
from bot.gateway.visitor import conversation_ids
from bot.gateway.visitor.limits import ConnectionLimit, MessageRateLimit
from bot.gateway.visitor.safety_net import SafetyNet
from bot.gateway.visitor.texts import VisitorTexts
from bot.gateway.visitor.transcript import bot_messages, history, is_urgent
from bot.settings import Settings
from bot.store import rasa_events

logger = logging.getLogger(__name__)

# Answers kept for messages re-sent after a reconnect: at most this many, for at most this long.
REMEMBERED_REPLIES = 1_000
REMEMBERED_SECONDS = 5 * 60
# How much of an over-long message the crisis rules read (the detector's cost grows with length).
MAX_CRISIS_SCAN_CHARS = 10_000
# A page address longer than this is not a real page the widget sits on.
MAX_PAGE_URL_CHARS = 500

# Told of a visitor message Rasa recorded without answering; True if a handoff is open for it.
PausedMessageHandler = Callable[[str, str, float], Awaitable[bool]]


def error_frame(code: str, message: str, **extra: Any) -> Dict[str, Any]:
    return {"type": "error", "code": code, "message": message, **extra}


class ReplyMemory:
    """Recent answers by (conversation, client_id), so a message re-sent after a reconnect is answered
    from here instead of going to Rasa twice. Bounded in count and in age: a gateway up for months
    keeps the same few megabytes, and a widget re-sends within minutes of losing its connection."""

    def __init__(self, max_replies: int = REMEMBERED_REPLIES, max_age: float = REMEMBERED_SECONDS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.max_replies = max_replies
        self.max_age = max_age
        self._clock = clock
        # Oldest first: (conversation, client_id) -> (when stored, answer frame as JSON). Kept as text:
        # a third of the memory of the frame's dicts, which a full memory of replies would cost.
        self._replies: "OrderedDict[Tuple[str, str], Tuple[float, str]]" = OrderedDict()

    def get(self, conversation_id: str, client_id: str) -> Optional[Dict[str, Any]]:
        self._forget_old()
        stored = self._replies.get((conversation_id, client_id))
        return json.loads(stored[1]) if stored is not None else None

    def put(self, conversation_id: str, client_id: str, frame: Dict[str, Any]) -> None:
        key = (conversation_id, client_id)
        self._replies.pop(key, None)
        self._replies[key] = (self._clock(), json.dumps(frame))
        while len(self._replies) > self.max_replies:
            self._replies.popitem(last=False)
        self._forget_old()

    def __len__(self) -> int:
        return len(self._replies)

    def _forget_old(self) -> None:
        oldest_kept = self._clock() - self.max_age
        while self._replies and next(iter(self._replies.values()))[0] < oldest_kept:
            self._replies.popitem(last=False)


@dataclass
class Visit:
    """One open websocket: its conversation and the page it sits on."""

    websocket: WebSocket
    conversation_id: Optional[str] = None
    page_url: Optional[str] = None


class VisitorHub:
    """Open visitor sockets by conversation, and the per-conversation order of relays.

    Every visitor message is answered: by Rasa; by the gateway's crisis answer when the crisis rules
    match and Rasa is paused, down or slow; or by the `assistant_unavailable` answer (a person to
    reach, 988 and 911) when anything on the way fails, with one log line and a count on /metrics.
    Every word it sends of its own is a knowledge file message (`texts`).
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
        self.on_paused_message = on_paused_message
        bus.subscribe(self._deliver)
        self.sockets: Dict[str, Set[WebSocket]] = defaultdict(set)
        self.rate_limit = MessageRateLimit(settings.messages_per_minute)
        self.connection_limit = ConnectionLimit(settings.connections_per_ip)
        self.replies = ReplyMemory()
        self._locks: Dict[str, asyncio.Lock] = defaultdict(asyncio.Lock)
        # Messages being answered, on every socket; shutdown waits for them.
        self._in_flight: Set["asyncio.Task[None]"] = set()

    def _error(self, code: str, text: Optional[str] = None, **extra: Any) -> Dict[str, Any]:
        """An error frame; its words are the knowledge file's message named as the code, unless given."""
        return error_frame(code, self.texts.message(code) if text is None else text, **extra)

    async def drain(self, seconds: float) -> int:
        """Let the messages being answered finish (at shutdown); the number still unfinished after `seconds`."""
        if not self._in_flight:
            return 0
        _, pending = await asyncio.wait(set(self._in_flight), timeout=seconds)
        return len(pending)

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
            await _send(websocket, self._error("too_many_connections"))
            await websocket.close(code=1008)
            return
        visit = Visit(websocket)
        try:
            while True:
                raw = await _receive_text(websocket)
                if raw is None:
                    await _send(websocket, self._error("bad_request", self.texts.message("bad_request_not_text")))
                    continue
                try:
                    await self._on_frame(visit, raw)
                except Exception as exc:
                    self._failed(visit.conversation_id, exc)
                    await _send(websocket, self._error("assistant_unavailable"))
        except WebSocketDisconnect:
            pass
        finally:
            self.connection_limit.release(ip)
            if visit.conversation_id:
                self.sockets[visit.conversation_id].discard(websocket)
                if not self.sockets[visit.conversation_id]:
                    del self.sockets[visit.conversation_id]

    async def _on_frame(self, visit: Visit, raw: str) -> None:
        websocket = visit.websocket
        frame = _parse(raw)
        if frame is None:
            await _send(websocket, self._error("bad_request", self.texts.message("bad_request_not_json")))
            return
        kind = frame.get("type")
        if kind == "hello":
            if visit.conversation_id:
                self.sockets[visit.conversation_id].discard(websocket)
            visit.conversation_id = await self._welcome(websocket, frame)
            visit.page_url = _page_url(frame.get("page_url"))
        elif kind == "ping":
            await _send(websocket, {"type": "pong"})
        elif kind == "message":
            if visit.conversation_id is None:
                await _send(websocket, self._error("hello_required"))
                return
            task = asyncio.create_task(self._answer(websocket, visit.conversation_id, frame, visit.page_url))
            self._in_flight.add(task)
            task.add_done_callback(self._in_flight.discard)
        else:
            await _send(websocket, self._error(
                "bad_request", self.texts.message("bad_request_unknown_type", message_type=repr(kind))))

    async def _welcome(self, websocket: WebSocket, frame: Dict[str, Any]) -> str:
        requested = frame.get("conversation_id")
        restored = conversation_ids.verify(self.settings.gateway_secret, requested)
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
                await _send(websocket, self._error("assistant_unavailable"))
        self.sockets[conversation_id].add(websocket)
        # The limit and the words the widget shows on its own come with the welcome (docs/chat-protocol.md).
        await _send(websocket, {"type": "welcome", "conversation_id": conversation_id,
                                "restored": restored, "history": past, **self.texts.widget()})
        return conversation_id

    async def _answer(self, websocket: WebSocket, conversation_id: str, frame: Dict[str, Any],
                      page_url: Optional[str]) -> None:
        """One visitor message, supervised: whatever fails, the visitor still gets an answer."""
        try:
            await self._on_message(websocket, conversation_id, frame, page_url)
        except Exception as exc:
            self._failed(conversation_id, exc)
            await self._answer_after_failure(websocket, conversation_id, frame)

    async def _answer_after_failure(self, websocket: WebSocket, conversation_id: str, frame: Dict[str, Any]) -> None:
        client_id, text = frame.get("client_id"), frame.get("text")
        client_id = client_id if isinstance(client_id, str) else None
        try:
            match = self.safety.detect(text[:MAX_CRISIS_SCAN_CHARS]) if isinstance(text, str) else None
        except Exception as exc:
            self._failed(conversation_id, exc)
            match = None
        await self.broadcast(conversation_id, {"type": "typing", "on": False})
        if match is None:
            await _send(websocket, self._error("assistant_unavailable", client_id=client_id))
            return
        await self._send_crisis_answer(websocket, conversation_id, client_id, match, "error")

    def _failed(self, conversation_id: Optional[str], exc: BaseException) -> None:
        self.metrics.count("visitor_message_failures")
        where = traceback.extract_tb(exc.__traceback__)[-1] if exc.__traceback__ else None
        at = f" at {where.filename}:{where.lineno}" if where else ""
        logger.error("visitor message failed: conversation=%s %s: %s%s", conversation_id, type(exc).__name__, exc, at)

    async def _on_message(self, websocket: WebSocket, conversation_id: str, frame: Dict[str, Any],
                          page_url: Optional[str]) -> None:
        client_id = frame.get("client_id")
        text = frame.get("text")
        if not isinstance(client_id, str) or not client_id or not isinstance(text, str):
            await _send(websocket, self._error("bad_request", self.texts.message("bad_request_message_fields")))
            return
        if not text.strip():
            await _send(websocket, self._error("empty_message", client_id=client_id))
            return
        too_long = len(text) > self.settings.max_message_chars
        # Read even when the message itself is refused: a crisis is answered whatever else is wrong.
        match = self.safety.detect(text[: MAX_CRISIS_SCAN_CHARS])
        if too_long and match is None:
            await _send(websocket, self._error("message_too_long", client_id=client_id))
            return

        async with self._locks[conversation_id]:
            earlier = self.replies.get(conversation_id, client_id)
            if earlier is not None:
                await _send(websocket, {"type": "ack", "client_id": client_id, "ts": earlier["ts"]})
                await _send(websocket, earlier)
                return
            retry_after = self.rate_limit.retry_after(conversation_id)
            if (retry_after is not None or too_long) and match is not None:
                await self._send_crisis_answer(websocket, conversation_id, client_id, match,
                                               "too_long" if too_long else "rate_limited")
                return
            if retry_after is not None:
                await _send(websocket, self._error("rate_limited", client_id=client_id, retry_after=retry_after))
                return
            received = time.time()
            await _send(websocket, {"type": "ack", "client_id": client_id, "ts": received})
            display_text = frame.get("display_text") if isinstance(frame.get("display_text"), str) else None
            await self.broadcast(conversation_id, {"type": "visitor", "client_id": client_id,
                                                   "text": display_text or text, "ts": received}, skip=websocket)
            await self.broadcast(conversation_id, {"type": "typing", "on": True})
            # The page goes into the tracker with the message, for the console's visitor context.
            metadata = {"client_id": client_id, "display_text": display_text, "page_url": page_url}
            await self._relay(websocket, conversation_id, client_id, text, display_text or text, metadata, received,
                              match)
        if not self._locks[conversation_id].locked() and conversation_id not in self.sockets:
            self._locks.pop(conversation_id, None)

    async def _relay(self, websocket: WebSocket, conversation_id: str, client_id: str, text: str, shown: str,
                     metadata: Dict[str, Any], received: float, match: Optional[CrisisMatch]) -> None:
        """Rasa's answer to one message, with the gateway's crisis answer wherever Rasa gives none."""
        rasa_call = asyncio.ensure_future(self.rasa.send(conversation_id, text, metadata))
        rasa_call.add_done_callback(_retrieve_outcome)
        answered = False
        if match is not None:
            # Crisis first: a slow Rasa must not keep 988 and 911 from the visitor.
            done, _ = await asyncio.wait({rasa_call}, timeout=self.settings.crisis_reply_seconds)
            if not done:
                await self._send_crisis_answer(websocket, conversation_id, client_id, match, "rasa_slow")
                answered = True
        try:
            replies = await rasa_call
        except RasaUnavailable as exc:
            self.metrics.count("rasa_unavailable")
            logger.warning("rasa unavailable: conversation=%s %s", conversation_id, exc)
            await self.broadcast(conversation_id, {"type": "typing", "on": False})
            if answered:
                return
            if match is not None:
                await self._send_crisis_answer(websocket, conversation_id, client_id, match, "rasa_down")
                return
            await _send(websocket, self._error("assistant_unavailable", client_id=client_id))
            return
        if not replies:
            await self._paused_message(websocket, conversation_id, client_id, text, shown, metadata, received,
                                       None if answered else match)
            return
        if answered:
            # The visitor has the crisis answer already; pass on only what else Rasa said.
            later = [message for message in bot_messages(replies) if not message["urgent"]]
            await self.broadcast(conversation_id, {"type": "typing", "on": False})
            if later:
                await self.broadcast(conversation_id, {"type": "bot", "reply_to": None, "messages": later,
                                                       "urgent": False, "ts": time.time()})
            return
        if match is not None and not is_urgent(replies):
            logger.warning("rasa gave no crisis answer to a crisis-rule match: conversation=%s pattern=%s",
                           conversation_id, match.pattern_id)
            await self._send_crisis_answer(websocket, conversation_id, client_id, match, "rasa_missed")
            await self.broadcast(conversation_id, {"type": "bot", "reply_to": None, "messages": bot_messages(replies),
                                                   "urgent": False, "ts": time.time()})
            return
        await self._send_answer(websocket, conversation_id, client_id, bot_messages(replies), is_urgent(replies))

    async def _paused_message(self, websocket: WebSocket, conversation_id: str, client_id: str, text: str,
                              shown: str, metadata: Dict[str, Any], received: float,
                              match: Optional[CrisisMatch]) -> None:
        """Rasa recorded the message without answering: the conversation is paused for a person."""
        if match is not None:
            await self._send_crisis_answer(websocket, conversation_id, client_id, match, "paused")
        try:
            handoff_open = await self.on_paused_message(conversation_id, shown, received)
        except Exception as exc:
            # Staff miss a preview; a crisis answer already sent stands, anything else gets the fallback.
            self._failed(conversation_id, exc)
            if match is None:
                await _send(websocket, self._error("assistant_unavailable", client_id=client_id))
            return
        if match is not None:
            return
        if handoff_open:
            # A person has it: they answer; the empty answer tells the widget the message arrived.
            await self._send_answer(websocket, conversation_id, client_id, [], False)
            return
        # Paused with nobody to answer (the handoff ended while Rasa could not be told): switch the bot
        # back on and ask again, so the visitor is not left talking to no one.
        self.metrics.count("stale_pauses_resumed")
        logger.warning("conversation paused with no open handoff, resuming it: conversation=%s", conversation_id)
        await self.rasa.resume(conversation_id)
        replies = await self.rasa.send(conversation_id, text, {**metadata, "resent": True})
        await self._send_answer(websocket, conversation_id, client_id, bot_messages(replies), is_urgent(replies))

    async def _send_crisis_answer(self, websocket: WebSocket, conversation_id: str, client_id: Optional[str],
                                  match: CrisisMatch, why: str) -> None:
        """The visitor gets the safety answer first; the transcript and the console follow."""
        self.metrics.count("gateway_crisis_answers")
        logger.warning("gateway crisis answer: conversation=%s intent=%s why=%s", conversation_id, match.intent, why)
        await self._send_answer(websocket, conversation_id, client_id, self.safety.answer(match), True)
        try:
            await self.safety.after_answer(conversation_id, match, why)
        except Exception as exc:
            self._failed(conversation_id, exc)

    async def _send_answer(self, websocket: WebSocket, conversation_id: str, client_id: Optional[str],
                           messages: List[Dict[str, Any]], urgent: bool) -> None:
        answer = {"type": "bot", "reply_to": client_id, "messages": messages, "urgent": urgent, "ts": time.time()}
        if client_id:
            self.replies.put(conversation_id, client_id, answer)
        await self.broadcast(conversation_id, {"type": "typing", "on": False})
        if websocket not in self.sockets.get(conversation_id, ()):
            await _send(websocket, answer)
        await self.broadcast(conversation_id, answer)


def _retrieve_outcome(task: "asyncio.Future[Any]") -> None:
    """Mark a Rasa call's error as seen: its awaiter handles it, or has moved on after answering."""
    if not task.cancelled():
        task.exception()


def _page_url(value: Any) -> Optional[str]:
    """The widget's page address if it is a plausible http(s) URL; anything else is dropped."""
    if not isinstance(value, str) or len(value) > MAX_PAGE_URL_CHARS:
        return None
    try:
        scheme = urlsplit(value).scheme
    except ValueError:  # e.g. an unclosed IPv6 bracket, "http://[::1"
        return None
    return value if scheme in ("http", "https") else None


async def _receive_text(websocket: WebSocket) -> Optional[str]:
    """The next text frame; None for a binary one (Starlette's receive_text raises KeyError on those)."""
    message = await websocket.receive()
    if message["type"] == "websocket.disconnect":
        raise WebSocketDisconnect(message.get("code", 1000))
    return message.get("text")


def _parse(raw: str) -> Optional[Dict[str, Any]]:
    try:
        frame = json.loads(raw)
    except (ValueError, RecursionError):  # RecursionError: nesting deeper than the parser's stack
        return None
    return frame if isinstance(frame, dict) else None


async def _send(websocket: WebSocket, frame: Dict[str, Any]) -> None:
    try:
        await websocket.send_text(json.dumps(frame))
    except (WebSocketDisconnect, RuntimeError):
        # The visitor left; their answer stays in the tracker and is restored on return.
        pass
