"""The gateway process: one uvicorn server, two listeners.

The public listener (GATEWAY_HOST:GATEWAY_PORT) serves the widget, the visitor websocket, the
console and health checks. The internal API that the action server calls listens on
127.0.0.1:INTERNAL_API_PORT only; `ListenerGuard` keeps each set of paths on its own listener,
so the internal API cannot be reached through the public port (or a proxy in front of it). The
ASGI middleware here bounds request heads and adds HSTS in production (bot/gateway/app.py adds them).
"""

from __future__ import annotations

import socket
from typing import Any, Callable, Dict

import uvicorn

from bot.gateway.protocols import ClosingWSProtocol, with_head_deadline
from bot.settings import Settings, get_settings

INTERNAL_PREFIX = "/internal/"
# A request line and headers larger than this are refused before the app sees them.
MAX_REQUEST_HEAD_BYTES = 16 * 1024


class ListenerGuard:
    """ASGI middleware: /internal/ paths only on the internal listener, and nothing else there."""

    def __init__(self, app: Any, internal_port: int) -> None:
        self.app = app
        self.internal_port = internal_port

    async def __call__(self, scope: Dict[str, Any], receive: Callable, send: Callable) -> None:
        if scope["type"] in ("http", "websocket"):
            host, port = (scope.get("server") or ("", None))[:2]
            on_internal = port == self.internal_port and host in ("127.0.0.1", "::1")
            if on_internal != scope["path"].startswith(INTERNAL_PREFIX):
                await _not_found(scope, receive, send)
                return
        await self.app(scope, receive, send)


class HeadSizeLimit:
    """ASGI middleware: 431 for a request whose headers together exceed MAX_REQUEST_HEAD_BYTES.

    h11 already refuses a head it has to buffer in pieces beyond that size; a head that arrives in
    one read is whole before h11 counts it, and is refused here.
    """

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Dict[str, Any], receive: Callable, send: Callable) -> None:
        if scope["type"] in ("http", "websocket"):
            size = sum(len(name) + len(value) + 4 for name, value in scope.get("headers", ()))
            if size > MAX_REQUEST_HEAD_BYTES:
                if scope["type"] == "websocket":
                    await send({"type": "websocket.close", "code": 1009})
                    return
                await _plain_text(send, 431, b"request headers too large\n")
                return
        await self.app(scope, receive, send)


class StrictTransportSecurity:
    """Adds HSTS to every HTTP response."""

    HEADER = (b"strict-transport-security", b"max-age=31536000; includeSubDomains")

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Dict[str, Any], receive: Callable, send: Callable) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_header(message: Dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), self.HEADER]}
            await send(message)

        await self.app(scope, receive, send_with_header)


async def _not_found(scope: Dict[str, Any], receive: Callable, send: Callable) -> None:
    if scope["type"] == "websocket":
        await send({"type": "websocket.close", "code": 1008})
        return
    await _plain_text(send, 404, b"not found\n")


async def _plain_text(send: Callable, status: int, body: bytes) -> None:
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"text/plain; charset=utf-8")]})
    await send({"type": "http.response.body", "body": body})


def _listening_socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def uvicorn_config(settings: Settings) -> uvicorn.Config:
    return uvicorn.Config(
        "bot.gateway.app:create_app", factory=True,
        # Rasa pins websockets<11, which uvicorn's default websocket backend cannot use: wsproto can.
        ws=ClosingWSProtocol, http=with_head_deadline(settings.request_head_seconds),
        h11_max_incomplete_event_size=MAX_REQUEST_HEAD_BYTES,
        server_header=False, log_level="warning", access_log=False,
        # The client address (per-client limits) comes from X-Forwarded-For only via a configured proxy.
        proxy_headers=bool(settings.trusted_proxies), forwarded_allow_ips=settings.trusted_proxies or None,
    )


def main(settings: Settings | None = None) -> None:
    settings = settings or get_settings()
    sockets = [_listening_socket(settings.gateway_host, settings.gateway_port),
               _listening_socket("127.0.0.1", settings.internal_api_port)]
    uvicorn.Server(uvicorn_config(settings)).run(sockets=sockets)
