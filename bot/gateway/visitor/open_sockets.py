"""The visitor sockets open on this gateway, by conversation (one per open tab of a conversation)."""

from __future__ import annotations

from collections import defaultdict
from typing import Dict, Optional, Set

from starlette.websockets import WebSocket

from bot.gateway.visitor.frames import Frame, send


class OpenSockets:
    """Which sockets follow which conversation, and sending a frame to all of a conversation's tabs."""

    def __init__(self) -> None:
        self._by_conversation: Dict[str, Set[WebSocket]] = defaultdict(set)

    def __contains__(self, conversation_id: object) -> bool:
        """Whether the conversation is listed (has, or had since its last socket closed, a socket)."""
        return conversation_id in self._by_conversation

    def has(self, conversation_id: str, websocket: WebSocket) -> bool:
        return websocket in self._by_conversation.get(conversation_id, ())

    def add(self, conversation_id: str, websocket: WebSocket) -> None:
        self._by_conversation[conversation_id].add(websocket)

    def discard(self, conversation_id: str, websocket: WebSocket) -> None:
        """The socket no longer follows the conversation (it said hello again); the conversation stays listed."""
        self._by_conversation[conversation_id].discard(websocket)

    def remove(self, conversation_id: str, websocket: WebSocket) -> None:
        """The socket closed: off its conversation, and the conversation off the list once no socket has it."""
        self._by_conversation[conversation_id].discard(websocket)
        if not self._by_conversation[conversation_id]:
            del self._by_conversation[conversation_id]

    async def broadcast(self, conversation_id: str, frame: Frame, skip: Optional[WebSocket] = None) -> None:
        for socket in list(self._by_conversation.get(conversation_id, ())):
            if socket is not skip:
                await send(socket, frame)
