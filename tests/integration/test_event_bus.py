"""Gateway events: delivered in-process on one gateway, and across gateways through Redis."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from bot.gateway.event_bus import EventBus, EventBusUnavailable


def test_one_gateway_delivers_to_its_own_handlers_and_survives_a_failing_one():
    async def scenario():
        bus, got = EventBus(), []

        async def broken(event):
            raise RuntimeError("a closed socket")

        async def collect(event):
            got.append(event)

        bus.subscribe(broken)
        bus.subscribe(collect)
        await bus.start()
        await bus.publish({"kind": "console", "frame": {"type": "queue"}})
        await bus.close()
        return got

    assert asyncio.run(scenario()) == [{"kind": "console", "frame": {"type": "queue"}}]


def test_an_event_published_on_one_gateway_reaches_another_through_redis(redis_url):
    channel = f"engage-test:{uuid.uuid4().hex}"

    async def scenario():
        gateway_a, gateway_b = EventBus(redis_url, channel), EventBus(redis_url, channel)
        received = {"a": asyncio.Queue(), "b": asyncio.Queue()}
        gateway_a.subscribe(received["a"].put)
        gateway_b.subscribe(received["b"].put)
        await gateway_a.start()
        await gateway_b.start()
        try:
            event = {"kind": "visitor_frame", "conversation_id": "c-1", "frame": {"type": "bot", "messages": []}}
            await gateway_a.publish(event)
            return [await asyncio.wait_for(received[name].get(), timeout=5) for name in ("a", "b")], event
        finally:
            await gateway_a.close()
            await gateway_b.close()

    (on_a, on_b), event = asyncio.run(scenario())
    assert on_a == event and on_b == event


def test_an_unreachable_redis_stops_start_up_with_a_clear_error():
    async def scenario():
        await EventBus("redis://127.0.0.1:1/0", "engage-test:unreachable").start()

    with pytest.raises(EventBusUnavailable, match="REDIS_URL is set but Redis is not reachable"):
        asyncio.run(scenario())


def test_an_event_bus_on_redis_without_a_channel_is_refused():
    with pytest.raises(ValueError, match="REDIS_CHANNEL"):
        EventBus("redis://127.0.0.1:6379/0", "")
