"""Answering one visitor message: the checks and limits, the relay to Rasa, and the gateway's own
crisis answer wherever Rasa gives none (docs/chat-protocol.md, "A crisis is always answered")."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from typing import Any, Awaitable, Callable, Dict, List, Optional, Set

from starlette.websockets import WebSocket

from bot.domain.safety.detector import CrisisMatch
from bot.gateway.metrics import Metrics
from bot.gateway.model_switch import SwitchHold
from bot.gateway.rasa_client import RasaClient, RasaUnavailable, RasaUnreachable
from bot.gateway.visitor.failures import report_failure
from bot.gateway.visitor.frames import (
    Frame,
    VisitorMessage,
    ack_frame,
    bot_frame,
    echo_frame,
    read_message,
    send,
    typing_frame,
)
from bot.gateway.visitor.limits import RateLimit
from bot.gateway.visitor.offered_payloads import OfferedPayloads
from bot.gateway.visitor.open_sockets import OpenSockets
from bot.gateway.visitor.reply_memory import ReplyMemory
from bot.gateway.visitor.safety_net import SafetyNet
from bot.gateway.visitor.texts import VisitorTexts
from bot.gateway.visitor.transcript import bot_messages, is_urgent
from bot.settings import Settings

logger = logging.getLogger(__name__)

# How much of an over-long message the crisis rules read (the detector's cost grows with length).
MAX_CRISIS_SCAN_CHARS = 10_000

# A message that could not reach Rasa while a model switch was under way (or just after) is sent
# again, this many times, this far apart.
SWITCH_RETRIES = 3
SWITCH_RETRY_SECONDS = 1.0

# Told of a visitor message Rasa recorded without answering; True if a handoff is open for it.
PausedMessageHandler = Callable[[str, str, float], Awaitable[bool]]


class MessageRelay:
    """Every visitor message is answered: by Rasa; by the gateway's crisis answer when the crisis rules
    match and Rasa is paused, down or slow; or by the `assistant_unavailable` answer (a person to
    reach, 988 and 911) when anything on the way fails, with one log line and a count on /metrics.

    Messages of one conversation are relayed one at a time, in order; each is answered in a task of
    its own, which `drain` waits for at shutdown. While a model switch is announced (`hold`), messages
    wait before going to Rasa; a crisis is answered by the gateway at once.
    """

    def __init__(self, settings: Settings, texts: VisitorTexts, rasa: RasaClient, safety: SafetyNet,
                 metrics: Metrics, on_paused_message: PausedMessageHandler, sockets: OpenSockets,
                 rate_limit: RateLimit, replies: ReplyMemory, offered: OfferedPayloads) -> None:
        self.settings = settings
        self.texts = texts
        self.rasa = rasa
        self.safety = safety
        self.metrics = metrics
        self.on_paused_message = on_paused_message
        self.sockets = sockets
        self.rate_limit = rate_limit
        self.replies = replies
        self.offered = offered
        # Every client address (all its conversations together) has a message rate of its own too.
        self.client_rate_limit = RateLimit(settings.messages_per_minute_per_client)
        self._locks: Dict[str, asyncio.Lock] = defaultdict(asyncio.Lock)
        # Messages being answered, on every socket; shutdown waits for them.
        self._in_flight: Set["asyncio.Task[None]"] = set()
        # Held by a model switch announced on any gateway (bot/gateway/model_switch.py).
        self.hold = SwitchHold(settings.model_switch_seconds)

    def start(self, websocket: WebSocket, conversation_id: str, frame: Frame, page_url: Optional[str],
              client: str) -> None:
        """Answer a `message` frame in the background; the socket goes on reading frames meanwhile."""
        task = asyncio.create_task(self._answer(websocket, conversation_id, frame, page_url, client))
        self._in_flight.add(task)
        task.add_done_callback(self._in_flight.discard)

    async def drain(self, seconds: float) -> int:
        """Let the messages being answered finish (at shutdown); the number still unfinished after `seconds`."""
        if not self._in_flight:
            return 0
        _, pending = await asyncio.wait(set(self._in_flight), timeout=seconds)
        return len(pending)

    async def _answer(self, websocket: WebSocket, conversation_id: str, frame: Frame,
                      page_url: Optional[str], client: str) -> None:
        """One visitor message, supervised: whatever fails, the visitor still gets an answer."""
        try:
            await self._on_message(websocket, conversation_id, frame, page_url, client)
        except Exception as exc:
            report_failure(self.metrics, conversation_id, exc)
            await self._answer_after_failure(websocket, conversation_id, frame)

    async def _answer_after_failure(self, websocket: WebSocket, conversation_id: str, frame: Frame) -> None:
        client_id, text = frame.get("client_id"), frame.get("text")
        client_id = client_id if isinstance(client_id, str) else None
        try:
            match = self.safety.detect(text[:MAX_CRISIS_SCAN_CHARS]) if isinstance(text, str) else None
        except Exception as exc:
            report_failure(self.metrics, conversation_id, exc)
            match = None
        await self.sockets.broadcast(conversation_id, typing_frame(False))
        if match is None:
            await send(websocket, self.texts.error_frame("assistant_unavailable", client_id=client_id))
            return
        await self._send_crisis_answer(websocket, conversation_id, client_id, match, "error")

    async def _on_message(self, websocket: WebSocket, conversation_id: str, frame: Frame,
                          page_url: Optional[str], client: str) -> None:
        message = read_message(frame)
        if message is None:
            await send(websocket, self.texts.error_frame(
                "bad_request", self.texts.message("bad_request_message_fields")))
            return
        client_id, text = message.client_id, message.text
        if not text.strip():
            await send(websocket, self.texts.error_frame("empty_message", client_id=client_id))
            return
        too_long = len(text) > self.settings.max_message_chars
        # Read even when the message itself is refused: a crisis is answered whatever else is wrong.
        match = self.safety.detect(text[: MAX_CRISIS_SCAN_CHARS])
        if too_long and match is None:
            await send(websocket, self.texts.error_frame("message_too_long", client_id=client_id))
            return
        # A model switch may be holding this conversation's earlier message, and with it the lock below:
        # a crisis is answered now, and goes to Rasa in its turn.
        answered = False
        if match is not None and self.hold.held():
            await send(websocket, ack_frame(client_id, time.time()))
            await self._send_crisis_answer(websocket, conversation_id, client_id, match, "model_switch")
            answered = True

        async with self._locks[conversation_id]:
            earlier = None if answered else self.replies.get(conversation_id, client_id)
            if earlier is not None:
                await send(websocket, ack_frame(client_id, earlier["ts"]))
                await send(websocket, earlier)
                return
            waits = [self.rate_limit.retry_after(conversation_id), self.client_rate_limit.retry_after(client)]
            retry_after = max((wait for wait in waits if wait is not None), default=None)
            if (retry_after is not None or too_long) and match is not None:
                if not answered:
                    await self._send_crisis_answer(websocket, conversation_id, client_id, match,
                                                   "too_long" if too_long else "rate_limited")
                if too_long:
                    # After the crisis answer, and for no message in particular: the widget keeps it.
                    await send(websocket, self.texts.error_frame("message_too_long"))
                return
            if retry_after is not None:
                await send(websocket, self.texts.error_frame("rate_limited", client_id=client_id,
                                                             retry_after=retry_after))
                return
            # Only payloads the bot offered are obeyed; anything else is read as words.
            message = self.offered.vet(conversation_id, message)
            received = time.time()
            if not answered:
                await send(websocket, ack_frame(client_id, received))
            await self.sockets.broadcast(conversation_id, echo_frame(client_id, message.shown, received),
                                         skip=websocket)
            await self.sockets.broadcast(conversation_id, typing_frame(True))
            # The page goes into the tracker with the message, for the console's visitor context.
            metadata = {"client_id": client_id, "display_text": message.display_text, "page_url": page_url}
            await self._relay(websocket, conversation_id, message, metadata, received, match, answered)
        if not self._locks[conversation_id].locked() and conversation_id not in self.sockets:
            self._locks.pop(conversation_id, None)

    async def _relay(self, websocket: WebSocket, conversation_id: str, message: VisitorMessage,
                     metadata: Dict[str, Any], received: float, match: Optional[CrisisMatch],
                     answered: bool = False) -> None:
        """Rasa's answer to one message, with the gateway's crisis answer wherever Rasa gives none
        (`answered`: the visitor has it already)."""
        client_id = message.client_id
        held = self.hold.held()
        rasa_call = asyncio.ensure_future(self._send_to_rasa(conversation_id, message.text, metadata))
        rasa_call.add_done_callback(_retrieve_outcome)
        if match is not None and not answered:
            # Crisis first: a slow Rasa, or one a model switch holds messages for, must not keep 988 and
            # 911 from the visitor.
            done, _ = await asyncio.wait({rasa_call}, timeout=0 if held else self.settings.crisis_reply_seconds)
            if not done:
                await self._send_crisis_answer(websocket, conversation_id, client_id, match,
                                               "model_switch" if held else "rasa_slow")
                answered = True
        try:
            replies = await rasa_call
        except RasaUnavailable as exc:
            self.metrics.count("rasa_unavailable")
            logger.warning("rasa unavailable: conversation=%s %s", conversation_id, exc)
            await self.sockets.broadcast(conversation_id, typing_frame(False))
            if answered:
                return
            if match is not None:
                await self._send_crisis_answer(websocket, conversation_id, client_id, match, "rasa_down")
                return
            await send(websocket, self.texts.error_frame("assistant_unavailable", client_id=client_id))
            return
        if not replies:
            await self._paused_message(websocket, conversation_id, message, metadata, received,
                                       None if answered else match)
            return
        if answered:
            # The visitor has the crisis answer already; pass on only what else Rasa said.
            later = [said for said in bot_messages(replies) if not said["urgent"]]
            await self.sockets.broadcast(conversation_id, typing_frame(False))
            if later:
                await self.sockets.broadcast(conversation_id, bot_frame(None, later, False))
            return
        if match is not None and not is_urgent(replies):
            logger.warning("rasa gave no crisis answer to a crisis-rule match: conversation=%s pattern=%s",
                           conversation_id, match.pattern_id)
            await self._send_crisis_answer(websocket, conversation_id, client_id, match, "rasa_missed")
            await self.sockets.broadcast(conversation_id, bot_frame(None, bot_messages(replies), False))
            return
        await self._send_answer(websocket, conversation_id, client_id, bot_messages(replies), is_urgent(replies))

    async def _send_to_rasa(self, conversation_id: str, text: str,
                            metadata: Dict[str, Any]) -> List[Dict[str, Any]]:
        """Rasa's replies, once no model switch holds messages; one that could not reach Rasa during a
        switch is sent again (it never arrived, so it is not answered twice)."""
        if self.hold.held():
            self.metrics.count("messages_held_for_model_switch")
        await self.hold.wait()
        retries = 0
        while True:
            try:
                return await self.rasa.send(conversation_id, text, metadata)
            except RasaUnreachable:
                retries += 1
                if retries > SWITCH_RETRIES or not self.hold.active_within(SWITCH_RETRY_SECONDS * SWITCH_RETRIES):
                    raise
                self.metrics.count("messages_resent_after_model_switch")
                logger.warning("rasa unreachable during a model switch, sending again: conversation=%s",
                               conversation_id)
            await asyncio.sleep(SWITCH_RETRY_SECONDS)
            await self.hold.wait()

    async def _paused_message(self, websocket: WebSocket, conversation_id: str, message: VisitorMessage,
                              metadata: Dict[str, Any], received: float, match: Optional[CrisisMatch]) -> None:
        """Rasa recorded the message without answering: the conversation is paused for a person."""
        client_id = message.client_id
        if match is not None:
            await self._send_crisis_answer(websocket, conversation_id, client_id, match, "paused")
        try:
            handoff_open = await self.on_paused_message(conversation_id, message.shown, received)
        except Exception as exc:
            # Staff miss a preview; a crisis answer already sent stands, anything else gets the fallback.
            report_failure(self.metrics, conversation_id, exc)
            if match is None:
                await send(websocket, self.texts.error_frame("assistant_unavailable", client_id=client_id))
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
        replies = await self.rasa.send(conversation_id, message.text, {**metadata, "resent": True})
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
            report_failure(self.metrics, conversation_id, exc)

    async def _send_answer(self, websocket: WebSocket, conversation_id: str, client_id: Optional[str],
                           messages: List[Frame], urgent: bool) -> None:
        answer = bot_frame(client_id, messages, urgent)
        self.offered.remember(conversation_id, messages)
        if client_id:
            self.replies.put(conversation_id, client_id, answer)
        await self.sockets.broadcast(conversation_id, typing_frame(False))
        if not self.sockets.has(conversation_id, websocket):
            await send(websocket, answer)
        await self.sockets.broadcast(conversation_id, answer)


def _retrieve_outcome(task: "asyncio.Future[Any]") -> None:
    """Mark a Rasa call's error as seen: its awaiter handles it, or has moved on after answering."""
    if not task.cancelled():
        task.exception()
