"""The one settings object: read from the environment, then `.env`, with typed defaults.

Clinic details have no defaults on purpose: an unset detail makes the bot say
that admissions can tell you, instead of inventing a value.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Dict, FrozenSet, Literal, Optional, Tuple

# pydantic 1's API: pydantic 1 itself in .venv (Rasa's pin), pydantic 2's bundled `pydantic.v1` in
# .venv-public (Python 3.11, where every rasa-sdk wants pydantic 2). mypy checks against .venv.
if TYPE_CHECKING:
    from pydantic import BaseSettings, Field, ValidationError, validator
else:
    try:
        from pydantic.v1 import BaseSettings, Field, ValidationError, validator
    except ImportError:
        from pydantic import BaseSettings, Field, ValidationError, validator

REPO_ROOT = Path(__file__).resolve().parents[1]
US_PHONE = re.compile(r"^(\+?1[\s.-]?)?(\(\d{3}\)|\d{3})[\s.-]?\d{3}[\s.-]?\d{4}$")
# Values copied from .env.example without being filled in look like "<...>" or "TODO".
PLACEHOLDER = re.compile(r"^(<.*>|todo|tbd|changeme|xxx+)$", re.IGNORECASE)
# Production secrets are at least this long (e.g. `python -c "import secrets; print(secrets.token_urlsafe(32))"`).
PRODUCTION_SECRET_CHARS = 32


class SettingsError(ValueError):
    """A setting has a value the application cannot use."""


class Settings(BaseSettings):
    environment: Literal["development", "production", "test"] = "development"

    clinic_name: str = Field("Engage Wellness", min_length=1)
    clinic_phone: Optional[str] = None
    clinic_address: Optional[str] = None
    clinic_hours: Optional[str] = None
    clinic_insurance: Optional[str] = None
    clinic_prices: Optional[str] = None
    clinic_program_length: Optional[str] = None
    clinic_telehealth: Optional[str] = None

    knowledge_file: Path = REPO_ROOT / "data" / "knowledge.yml"
    # Trained models, the pointer to the live one and each model's evaluation (bot/domain/model_registry.py).
    models_dir: Path = REPO_ROOT / "models"
    # Where the review queue's export writes confirmed and relabelled visitor messages (Rasa NLU format).
    reviewed_nlu_file: Path = REPO_ROOT / "data" / "nlu" / "reviewed.yml"
    # The gateway gives the crisis and emergency answers from here itself when Rasa will not answer.
    domain_file: Path = REPO_ROOT / "domain.yml"
    rasa_port: int = Field(5005, ge=1, le=65535)
    rasa_token: str = Field("dev-rasa-token", min_length=8)
    action_port: int = Field(5055, ge=1, le=65535)
    # Shared secrets of the loopback services: the gateway's input channel into Rasa, and Rasa's
    # calls to the action server. Each refuses a request without its secret.
    rasa_channel_token: str = Field("dev-rasa-channel-token", min_length=16)
    action_server_token: str = Field("dev-action-server-token", min_length=16)
    # Rasa's SQLTrackerStore; one URL switches SQLite to PostgreSQL.
    tracker_db_url: str = f"sqlite:///{REPO_ROOT / 'var' / 'tracker.db'}"
    redis_url: Optional[str] = None
    # The gateways' pub/sub channel on that Redis: deployments (or test runs) sharing one Redis each
    # use their own, so none hears another's staff replies or model switches.
    redis_channel: str = Field("engage:gateway-events", min_length=1, max_length=200)

    # The Python 3.11 interpreter of the gateway and the action server (requirements-public.lock);
    # only the rasa server runs on the Python 3.10 of .venv (Rasa 3.6 needs it).
    public_python: Path = REPO_ROOT / ".venv-public" / "bin" / "python"

    # The gateway: the one public port, in front of Rasa and the action server.
    gateway_host: str = "127.0.0.1"
    gateway_port: int = Field(8000, ge=1, le=65535)
    # The reverse proxies (comma-separated addresses) whose X-Forwarded-For the gateway believes;
    # empty: none, every client is the address that connected.
    trusted_proxies: str = ""
    # A client must send a request's line and headers within this many seconds, or is disconnected.
    request_head_seconds: float = Field(10.0, gt=0)
    # Signs conversation ids so the gateway accepts only ids it issued.
    gateway_secret: str = Field("dev-gateway-secret-change-me", min_length=16)
    privacy_url: str = "/privacy"
    # The longest visitor message, the one limit: the gateway refuses longer ones, the action server's
    # fallback treats longer ones as pasted text, and the widget learns it from the gateway.
    max_message_chars: int = Field(2000, ge=1)
    # A returning visitor's widget shows at most this many of the latest messages.
    restored_history_messages: int = Field(100, ge=1)
    messages_per_minute: int = Field(20, ge=1)
    # One client address, all its conversations together: a new hello per batch gets round the above.
    messages_per_minute_per_client: int = Field(60, ge=1)
    new_conversations_per_hour_per_client: int = Field(30, ge=1)
    connections_per_ip: int = Field(20, ge=1)
    # The gateway's internal API (the action server opens handoffs through it) listens here, on
    # 127.0.0.1 only, apart from the public port, and wants this token too.
    internal_api_port: int = Field(8001, ge=1, le=65535)
    internal_api_token: str = Field("dev-internal-token-change-me", min_length=16)
    # How long the gateway waits for Rasa before telling the visitor it can't answer.
    rasa_timeout_seconds: float = Field(15.0, gt=0)
    # A message the crisis rules match is answered by the gateway itself if Rasa takes longer than this.
    crisis_reply_seconds: float = Field(3.0, gt=0)

    # The app DB (staff, handoffs, notes, audit log); one URL switches SQLite to PostgreSQL.
    app_db_url: str = f"sqlite:///{REPO_ROOT / 'var' / 'app.db'}"
    # Fernet key for callback contact details at rest; development generates one if unset.
    contact_key: Optional[str] = None
    # A waiting handoff nobody claims within this time expires and the visitor is offered a callback.
    handoff_wait_minutes: int = Field(10, ge=1)
    # When staff answer chats, e.g. "Mon-Fri 08:00-18:00, Sat 09:00-13:00"; empty means always.
    staff_hours: str = ""
    # The clock staff_hours is read in (the clinic is in St. Louis).
    staff_timezone: str = "America/Chicago"
    # Console alerts (sound, notification) a minute at most, across all handoffs; each handoff alerts once.
    staff_alerts_per_minute: int = Field(6, ge=1)
    # The console highlights a handoff that has waited longer than this.
    waiting_highlight_minutes: int = Field(3, ge=1)
    # A console session nobody uses for this long ends; a session ends after 12 hours in any case.
    console_idle_minutes: int = Field(30, ge=1)
    # Failed console sign-ins one client address may make in 15 minutes before it must wait.
    sign_in_failures_per_client: int = Field(10, ge=1)
    # Transcripts, notes, handoffs and callback requests older than this are deleted (domain.md: privacy).
    retention_days: int = Field(180, ge=1)

    # The maintainer's loop (docs/maintainer.md). The review queue's "low confidence" filter: below this.
    review_low_confidence: float = Field(0.6, gt=0, le=1)
    # The regression gate: a new model may lose at most this much intent accuracy or macro-F1 (0.02 = 2
    # points) against the live one; crisis recall must stay at 100% whatever this says.
    gate_max_accuracy_drop: float = Field(0.02, ge=0, le=1)
    gate_max_macro_f1_drop: float = Field(0.02, ge=0, le=1)
    # While a new model loads, gateways hold visitors' messages for at most this long, then send them anyway.
    model_switch_seconds: float = Field(60.0, gt=0)
    # Knowledge entries must be re-checked this often; entries about law and regulation more often.
    knowledge_review_days: int = Field(180, ge=1)
    knowledge_law_review_days: int = Field(90, ge=1)

    class Config:
        env_file = REPO_ROOT / ".env"
        env_file_encoding = "utf-8"

    @validator(
        "clinic_phone",
        "clinic_address",
        "clinic_hours",
        "clinic_insurance",
        "clinic_prices",
        "clinic_program_length",
        "clinic_telehealth",
        "redis_url",
        "contact_key",
        pre=True,
    )
    def blank_is_unset(cls, value: Optional[str]) -> Optional[str]:
        if value is None or not str(value).strip():
            return None
        value = str(value).strip()
        if PLACEHOLDER.match(value):
            raise ValueError(f"{value!r} is a placeholder: fill it in or leave it empty")
        return value

    @validator("clinic_phone")
    def phone_is_us_number(cls, value: Optional[str]) -> Optional[str]:
        if value is not None and not US_PHONE.match(value):
            raise ValueError(f"{value!r} is not a US phone number like (314) 555-0100")
        return value

    @validator("tracker_db_url", "app_db_url", pre=True)
    def db_url_has_scheme(cls, value: Optional[str], field) -> str:
        if value is None or not str(value).strip():
            return field.default
        if not re.match(r"^(sqlite|postgresql(\+\w+)?)://", value):
            raise ValueError("must start with sqlite:// or postgresql://")
        return value

    @validator("rasa_token", "gateway_secret", "internal_api_token", "rasa_channel_token", "action_server_token")
    def secret_changed_in_production(cls, value: str, values: Dict) -> str:
        if values.get("environment") == "production" and (value.startswith(("dev-", "change-this"))
                                                          or len(value) < PRODUCTION_SECRET_CHARS):
            raise ValueError(f"set a long random value in production (at least {PRODUCTION_SECRET_CHARS} characters)")
        return value

    @validator("internal_api_port")
    def internal_port_is_its_own(cls, value: int, values: Dict) -> int:
        if value == values.get("gateway_port"):
            raise ValueError("must differ from GATEWAY_PORT: the internal API has its own listener")
        return value

    @validator("contact_key")
    def contact_key_is_a_fernet_key(cls, value: Optional[str]) -> Optional[str]:
        import base64
        import binascii

        try:
            valid = value is None or len(base64.urlsafe_b64decode(value.encode("ascii"))) == 32
        except (binascii.Error, UnicodeEncodeError):
            valid = False
        if not valid:
            raise ValueError("must be a Fernet key (32 url-safe base64 bytes), e.g. from python -c "
                             "'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'")
        return value

    @validator("staff_hours")
    def staff_hours_parse(cls, value: str) -> str:
        parse_staff_hours(value)
        return value.strip()

    @validator("staff_timezone")
    def staff_timezone_exists(cls, value: str) -> str:
        from zoneinfo import ZoneInfo

        try:
            ZoneInfo(value)
        except (ValueError, LookupError):
            raise ValueError(f"{value!r} is not a time zone name like America/Chicago") from None
        return value

    def clinic_details(self) -> Dict[str, Optional[str]]:
        """The values knowledge answers may quote as {placeholders}."""
        return {
            "clinic_name": self.clinic_name,
            "phone": self.clinic_phone,
            "address": self.clinic_address,
            "hours": self.clinic_hours,
            "insurance": self.clinic_insurance,
            "prices": self.clinic_prices,
            "program_length": self.clinic_program_length,
            "telehealth": self.clinic_telehealth,
        }


def load_settings(**overrides) -> Settings:
    """Build settings, turning pydantic's errors into one message naming each variable."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        problems = "; ".join(
            f"{str(error['loc'][0]).upper()}: {error['msg']}" for error in exc.errors()
        )
        raise SettingsError(f"invalid settings ({problems})") from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load_settings()


# STAFF_HOURS' syntax, here so that a mistake in it stops start-up (bot/domain/handoffs/hours.py
# uses the windows).
DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
HOURS_WINDOW = re.compile(
    r"^(?P<first>[a-z]+)(?:\s*-\s*(?P<last>[a-z]+))?\s+(?P<start>\d{1,2}:\d{2})\s*-\s*(?P<end>\d{1,2}:\d{2})$",
    re.IGNORECASE,
)
# A staff hours window: weekdays (0 = Monday), then the start and end minute of the day, local time.
StaffWindow = Tuple[FrozenSet[int], int, int]


def parse_staff_hours(text: str) -> Tuple[StaffWindow, ...]:
    """'Mon-Fri 08:00-18:00, Sat 09:00-13:00' → windows; empty → () (always). ValueError says what is wrong."""
    windows = []
    for part in filter(None, (piece.strip() for piece in text.split(","))):
        match = HOURS_WINDOW.match(part)
        if not match:
            raise ValueError(f"{part!r} is not like 'Mon-Fri 08:00-18:00' (days, then 24-hour start-end)")
        first = _day(match["first"])
        last = _day(match["last"]) if match["last"] else first
        # Ranges may wrap around the week, as in Sat-Mon.
        days = frozenset((first + offset) % 7 for offset in range((last - first) % 7 + 1))
        start, end = _minute(match["start"], part), _minute(match["end"], part)
        if end <= start:
            raise ValueError(f"in {part!r} the end must be after the start (write overnight hours as two days)")
        windows.append((days, start, end))
    return tuple(windows)


def _day(name: str) -> int:
    for index, day in enumerate(DAYS):
        if name.lower() in (day, day[:3]):
            return index
    raise ValueError(f"{name!r} is not a day: use Mon, Tue, Wed, Thu, Fri, Sat or Sun")


def _minute(clock: str, part: str) -> int:
    hour, minute = (int(number) for number in clock.split(":"))
    if hour > 24 or minute > 59 or (hour == 24 and minute):
        raise ValueError(f"in {part!r} {clock} is not a time between 00:00 and 24:00")
    return hour * 60 + minute
