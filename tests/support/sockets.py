"""Websocket reads with a deadline, for Starlette's TestClient sessions and real `websockets` clients.

TestClient's own `receive_json()` and a client's `recv()` wait forever, so a gateway that stays
silent would hang the suite instead of failing the test. Every websocket read in the tests goes
through here.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any, Dict, List

import anyio
from starlette.testclient import WebSocketTestSession

from tests.support.log_privacy import remember

# Long enough for a real Rasa reply on a loaded 2-core machine; short enough to fail fast.
DEFAULT_SECONDS = 20.0

# The stream TestClient reads frames from; fail loudly if Starlette renames it.
if (not hasattr(WebSocketTestSession, "_raise_on_close")
        or "_send_rx" not in WebSocketTestSession._run.__code__.co_names):
    raise ImportError("starlette's WebSocketTestSession changed: tests/sockets.py needs updating")


class NoFrame(AssertionError):
    """The server sent nothing before the deadline."""


async def _receive_within(stream: Any, seconds: float) -> Any:
    with anyio.fail_after(seconds):
        return await stream.receive()


def receive(ws: WebSocketTestSession, timeout: float = DEFAULT_SECONDS) -> Dict[str, Any]:
    """The next raw ASGI message, or NoFrame after `timeout` seconds."""
    try:
        return ws.portal.call(_receive_within, ws._send_rx, timeout)
    except TimeoutError:
        raise NoFrame(f"no websocket frame within {timeout} s") from None


def receive_json(ws: WebSocketTestSession, timeout: float = DEFAULT_SECONDS) -> Any:
    message = receive(ws, timeout)
    ws._raise_on_close(message)
    return json.loads(message["text"])


def receive_text(ws: WebSocketTestSession, timeout: float = DEFAULT_SECONDS) -> str:
    message = receive(ws, timeout)
    ws._raise_on_close(message)
    return message["text"]


def receive_until(ws: WebSocketTestSession, wanted: str, limit: int = 20,
                  timeout: float = DEFAULT_SECONDS) -> List[Dict[str, Any]]:
    """Frames up to and including the first of type `wanted`; each read has its own deadline."""
    frames = []
    for _ in range(limit):
        frame = receive_json(ws, timeout)
        frames.append(frame)
        if frame["type"] == wanted:
            return frames
    raise AssertionError(f"no {wanted!r} frame in {frames}")


def hello(ws: WebSocketTestSession, conversation_id: Any = None) -> Dict[str, Any]:
    ws.send_json({"type": "hello", "conversation_id": conversation_id, "page_url": "http://test/"})
    return receive_until(ws, "welcome")[-1]


def ask(ws: WebSocketTestSession, text: str, timeout: float = DEFAULT_SECONDS, **extra: Any) -> List[Dict[str, Any]]:
    """Send a visitor message; the frames up to the answer to it (a `bot` or `error` frame)."""
    client_id = f"c-{uuid.uuid4().hex}"
    remember(text)
    ws.send_json({"type": "message", "client_id": client_id, "text": text, **extra})
    frames = []
    for _ in range(20):
        frame = receive_json(ws, timeout)
        frames.append(frame)
        if frame["type"] == "bot" and frame.get("reply_to") == client_id:
            return frames
        if frame["type"] == "error" and frame.get("client_id") == client_id:
            return frames
    raise AssertionError(f"no answer to {text!r} in {frames}")


async def recv_json(ws: Any, timeout: float = DEFAULT_SECONDS) -> Dict[str, Any]:
    """The next frame from a real `websockets` connection, or NoFrame after `timeout` seconds."""
    try:
        return json.loads(await asyncio.wait_for(ws.recv(), timeout))
    except asyncio.TimeoutError:
        raise NoFrame(f"no websocket frame within {timeout} s") from None
