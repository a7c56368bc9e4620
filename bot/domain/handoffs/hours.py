"""Staff hours: when admissions staff answer chats, in the clinic's time zone."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Tuple
from zoneinfo import ZoneInfo

from bot.settings import Settings, StaffWindow, parse_staff_hours


@dataclass(frozen=True)
class StaffHours:
    """When staff answer chats: windows in the clinic's time zone; no windows means always."""

    windows: Tuple[StaffWindow, ...]
    timezone: ZoneInfo

    @classmethod
    def from_settings(cls, settings: Settings) -> "StaffHours":
        return cls(parse_staff_hours(settings.staff_hours), ZoneInfo(settings.staff_timezone))

    def contains(self, moment: datetime) -> bool:
        if not self.windows:
            return True
        local = moment.astimezone(self.timezone)
        minute = local.hour * 60 + local.minute
        return any(local.weekday() in days and start <= minute < end for days, start, end in self.windows)
