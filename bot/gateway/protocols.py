"""uvicorn's protocols, with two gaps closed: a deadline on each request's head (h11), and a close
frame for a websocket frame that cannot be parsed (wsproto).

uvicorn limits how large a request head may be, but not how long a client may take to send it: a
client dripping one header byte a minute holds its connection forever. Here a connection whose
request line and headers are not complete within `head_seconds` (the REQUEST_HEAD_SECONDS setting) of its
first byte, or of connecting, is closed.

Both build on attributes of uvicorn's classes (`conn`, `loop`, `transport`, `close_sent`); the
checks below fail at import if uvicorn stops setting them, and tests/integration/
test_internal_services.py drips a request at the real server and sends it invalid UTF-8.
"""

from __future__ import annotations

import asyncio
import inspect
from typing import Any, Optional, Type

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.protocols.websockets.wsproto_impl import WSProtocol
from wsproto.connection import ConnectionState
from wsproto.events import CloseConnection

for _class, _used in ((H11Protocol, ("conn", "loop", "transport")), (WSProtocol, ("conn", "transport", "close_sent"))):
    if not all(f"self.{name} =" in inspect.getsource(_class) for name in _used):
        raise ImportError(f"uvicorn's {_class.__name__} no longer sets {_used}: review bot/gateway/protocols.py")


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


class ClosingWSProtocol(WSProtocol):
    """wsproto reports a frame it cannot parse (invalid UTF-8: 1007, bad framing: 1002) as a close
    while the connection is still open, and uvicorn then drops the connection with no close frame
    (the client sees 1006). Here the client gets the close frame with wsproto's code first."""

    def handle_close(self, event: CloseConnection) -> None:
        if not self.close_sent and self.conn.state is ConnectionState.OPEN:
            self.transport.write(self.conn.send(CloseConnection(code=event.code, reason=event.reason)))
        super().handle_close(event)
