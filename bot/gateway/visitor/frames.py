"""The visitor protocol's frames (docs/chat-protocol.md): reading and checking what the widget sends,
building and sending what the gateway answers. No state; every word comes from the caller."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any, Dict, List, Optional
from urllib.parse import urlsplit

from starlette.websockets import WebSocket, WebSocketDisconnect

# A page address longer than this is not a real page the widget sits on.
MAX_PAGE_URL_CHARS = 500
# The widget's message ids are short; a longer one is refused rather than stored.
MAX_CLIENT_ID_CHARS = 64

Frame = Dict[str, Any]


# ------------------------------------------------------------------------------------ visitor → gateway

async def receive_text(websocket: WebSocket) -> Optional[str]:
    """The next text frame; None for a binary one (Starlette's receive_text raises KeyError on those)."""
    message = await websocket.receive()
    if message["type"] == "websocket.disconnect":
        raise WebSocketDisconnect(message.get("code", 1000))
    return message.get("text")


def parse_frame(raw: str) -> Optional[Frame]:
    """The frame as a JSON object; None for anything else."""
    try:
        frame = json.loads(raw)
    except (ValueError, RecursionError):  # RecursionError: nesting deeper than the parser's stack
        return None
    return frame if isinstance(frame, dict) else None


def page_url(value: Any) -> Optional[str]:
    """The widget's page address if it is a plausible http(s) URL; anything else is dropped."""
    if not isinstance(value, str) or len(value) > MAX_PAGE_URL_CHARS:
        return None
    try:
        scheme = urlsplit(value).scheme
    except ValueError:  # e.g. an unclosed IPv6 bracket, "http://[::1"
        return None
    return value if scheme in ("http", "https") else None


@dataclass(frozen=True)
class VisitorMessage:
    """The fields of a `message` frame, checked."""

    client_id: str
    text: str
    # A quick-reply button's title, sent with its payload as `text`.
    display_text: Optional[str]

    @property
    def shown(self) -> str:
        """What the transcript and the visitor's other tabs show."""
        return self.display_text or self.text


def read_message(frame: Frame) -> Optional[VisitorMessage]:
    """A `message` frame's fields; None without a non-empty string `client_id` and a string `text`."""
    client_id = frame.get("client_id")
    text = frame.get("text")
    if not isinstance(client_id, str) or not 0 < len(client_id) <= MAX_CLIENT_ID_CHARS or not isinstance(text, str):
        return None
    display_text = frame.get("display_text")
    return VisitorMessage(client_id, text, display_text if isinstance(display_text, str) else None)


RATINGS = ("up", "down")


@dataclass(frozen=True)
class Rating:
    """The fields of a `rate` frame, checked: thumbs up or down on the answer to `client_id`."""

    client_id: str
    rating: str


def read_rating(frame: Frame) -> Optional[Rating]:
    """A `rate` frame's fields; None without a message's `reply_to` and a rating of "up" or "down"."""
    client_id = frame.get("reply_to")
    rating = frame.get("rating")
    if not isinstance(client_id, str) or not 0 < len(client_id) <= MAX_CLIENT_ID_CHARS or rating not in RATINGS:
        return None
    return Rating(client_id, str(rating))


# ------------------------------------------------------------------------------------ gateway → visitor

def error_frame(code: str, message: str, **extra: Any) -> Frame:
    return {"type": "error", "code": code, "message": message, **extra}


def pong_frame() -> Frame:
    return {"type": "pong"}


def welcome_frame(conversation_id: str, restored: bool, history: List[Frame], widget: Dict[str, Any]) -> Frame:
    """`widget`: the limit and the words the widget shows on its own (VisitorTexts.widget)."""
    return {"type": "welcome", "conversation_id": conversation_id, "restored": restored, "history": history,
            **widget}


def ack_frame(client_id: str, ts: float) -> Frame:
    return {"type": "ack", "client_id": client_id, "ts": ts}


def rated_frame(client_id: str, rating: str) -> Frame:
    """The rating of the answer to `client_id` is stored."""
    return {"type": "rated", "reply_to": client_id, "rating": rating}


def echo_frame(client_id: str, text: str, ts: float) -> Frame:
    """A visitor's message, for their other open tabs of the conversation."""
    return {"type": "visitor", "client_id": client_id, "text": text, "ts": ts}


def typing_frame(on: bool) -> Frame:
    return {"type": "typing", "on": on}


def bot_frame(reply_to: Optional[str], messages: List[Frame], urgent: bool) -> Frame:
    """The assistant's answer to the message `reply_to`, or, with None, a message answering none."""
    return {"type": "bot", "reply_to": reply_to, "messages": messages, "urgent": urgent, "ts": time.time()}


def notice_frame(text: str, buttons: Optional[list] = None, staff_name: Optional[str] = None) -> Frame:
    """A message answering no visitor message (staff reply, handback, expiry); a staff member's is named."""
    frame: Frame = {"type": "bot", "reply_to": None, "urgent": False, "ts": time.time(),
                    "messages": [{"text": text, "buttons": buttons or [], "urgent": False}]}
    if staff_name:
        frame.update(role="staff", name=staff_name)
    return frame


async def send(websocket: WebSocket, frame: Frame) -> None:
    try:
        await websocket.send_text(json.dumps(frame))
    except (WebSocketDisconnect, RuntimeError):
        # The visitor left; their answer stays in the tracker and is restored on return.
        pass
