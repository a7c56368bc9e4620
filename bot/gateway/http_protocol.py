"""uvicorn's h11 protocol with a deadline on each request's head.

uvicorn limits how large a request head may be, but not how long a client may take to send it: a
client dripping one header byte a minute holds its connection forever. Here a connection whose
request line and headers are not complete within `head_seconds` (the REQUEST_HEAD_SECONDS setting) of its
first byte, or of connecting, is closed.

It builds on H11Protocol's `conn` (the h11 state machine), `loop` and `transport`; the check below
fails at import if uvicorn stops having them, and tests/integration/test_public_listener.py drips a
request at the real server.
"""

from __future__ import annotations

import asyncio
import inspect
from typing import Any, Optional, Type

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

_USED = ("conn", "loop", "transport")
if not all(f"self.{name} =" in inspect.getsource(H11Protocol) for name in _USED):
    raise ImportError(f"uvicorn's H11Protocol no longer sets {_USED}: review bot/gateway/http_protocol.py")


class HeadDeadlineH11Protocol(H11Protocol):
    head_seconds = 10.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_deadline: Optional[asyncio.TimerHandle] = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def connection_lost(self, exc: Optional[Exception]) -> None:
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        # A new request starts with this data: its head must be complete in time.
        if self._head_deadline is None and self.conn.their_state is h11.IDLE:
            self._arm()
        super().data_received(data)
        if self.conn.their_state is not h11.IDLE or self.transport.get_protocol() is not self:
            self._disarm()

    def _arm(self) -> None:
        self._disarm()
        self._head_deadline = self.loop.call_later(self.head_seconds, self._head_too_slow)

    def _disarm(self) -> None:
        if self._head_deadline is not None:
            self._head_deadline.cancel()
            self._head_deadline = None

    def _head_too_slow(self) -> None:
        self._head_deadline = None
        if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            self.transport.close()


def with_head_deadline(seconds: float) -> Type[HeadDeadlineH11Protocol]:
    """The protocol class uvicorn instantiates per connection, with this deadline."""
    return type("HeadDeadlineH11Protocol", (HeadDeadlineH11Protocol,), {"head_seconds": seconds})
