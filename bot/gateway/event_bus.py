"""Gateway events (a staff reply for a visitor, a queue change for the console) delivered to the
sockets of every gateway.

One gateway: events go straight to this process's handlers. Several gateways behind a load
balancer: set REDIS_URL, and every event is published on one Redis pub/sub channel that each
gateway subscribes to, so a staff member on gateway A reaches a visitor connected to gateway B.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any, Awaitable, Callable, Dict, List, Optional

logger = logging.getLogger(__name__)

Event = Dict[str, Any]
Handler = Callable[[Event], Awaitable[None]]


class EventBusUnavailable(RuntimeError):
    pass


class EventBus:
    def __init__(self, redis_url: Optional[str] = None, channel: Optional[str] = None) -> None:
        if redis_url and not channel:
            raise ValueError("an event bus on Redis needs its channel (REDIS_CHANNEL)")
        self._redis_url = redis_url
        self._channel = channel
        self._handlers: List[Handler] = []
        self._redis: Any = None
        self._listener: Optional[asyncio.Task] = None

    def subscribe(self, handler: Handler) -> None:
        self._handlers.append(handler)

    async def start(self) -> None:
        if not self._redis_url:
            return
        import redis.asyncio as redis

        self._redis = redis.from_url(self._redis_url)
        pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
        # Subscribed before start() returns, so no event published after start-up is missed.
        try:
            await pubsub.subscribe(self._channel)
        except redis.ConnectionError as exc:
            raise EventBusUnavailable(f"REDIS_URL is set but Redis is not reachable: {exc}") from exc
        self._listener = asyncio.create_task(self._listen(pubsub))

    async def close(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            await asyncio.gather(self._listener, return_exceptions=True)
        if self._redis is not None:
            # redis-py 5+ (.venv-public) names it aclose and deprecates close; 4.6 (.venv) has only close.
            close = getattr(self._redis, "aclose", None) or self._redis.close
            await close()

    async def publish(self, event: Event) -> None:
        if self._redis is None:
            await self._deliver(event)
        else:
            await self._redis.publish(self._channel, json.dumps(event))

    async def _listen(self, pubsub: Any) -> None:
        async for message in pubsub.listen():
            try:
                event = json.loads(message["data"])
            except (TypeError, ValueError):
                logger.warning("ignored an unreadable event on %s", self._channel)
                continue
            await self._deliver(event)

    async def _deliver(self, event: Event) -> None:
        for handler in self._handlers:
            try:
                await handler(event)
            except Exception:  # one failing socket or handler must not stop the others
                logger.exception("event handler failed for %s", event.get("kind"))
