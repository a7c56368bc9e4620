"""Console alerts: once per handoff and priority, a few a minute in all (fake clock past each timer)."""

import asyncio

from bot.gateway.console.alert_limit import REPEAT_SECONDS, AlertLimit
from bot.gateway.console.live import StaffHub
from bot.gateway.event_bus import EventBus
from tests.support.clock import FakeClock
from tests.support.console_client import console_settings


def test_a_handoff_alerts_once_per_priority_and_again_after_a_while():
    clock = FakeClock()
    limit = AlertLimit(per_minute=10, clock=clock)
    assert limit.allow(1, "normal") and not limit.allow(1, "normal")
    assert limit.allow(1, "urgent") and not limit.allow(1, "urgent")
    clock.advance(REPEAT_SECONDS)
    assert limit.allow(1, "urgent")


def test_at_most_per_minute_alerts_then_more_after_the_minute():
    clock = FakeClock()
    limit = AlertLimit(per_minute=3, clock=clock)
    assert [limit.allow(handoff, "urgent") for handoff in range(5)] == [True, True, True, False, False]
    clock.advance(60)
    assert limit.allow(5, "urgent")
    # A held-back handoff was not counted as alerted: it can still alert.
    assert limit.allow(4, "urgent")


def test_the_hub_turns_held_back_alerts_into_plain_queue_updates(tmp_path):
    settings = console_settings(tmp_path, staff_alerts_per_minute=2)
    frames = []

    async def run():
        bus = EventBus(None)
        hub = StaffHub(settings, bus)
        bus.subscribe(lambda event: _collect(frames, event))
        await bus.start()
        for handoff in (1, 1, 2, 3):
            await hub.queue_changed("opened", handoff, "urgent")
        await asyncio.sleep(0.05)
        await bus.close()

    asyncio.run(run())
    assert [(frame["handoff_id"], frame["reason"]) for frame in frames] == [
        (1, "opened"), (1, "updated"), (2, "opened"), (3, "updated")]


async def _collect(frames, event):
    if event.get("kind") == "console":
        frames.append(event["frame"])
