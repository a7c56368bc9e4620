"""The app DB: models, sessions, migrations, encrypted contact fields and staff passwords."""

from bot.store.crypto import ContactCipher, ContactKeyError, contact_cipher
from bot.store.db import dispose_engines, engine_for, make_engine, migrate, session_scope
from bot.store.models import (
    AuditEntry,
    Base,
    CallbackRequest,
    CannedReply,
    ConsoleSession,
    Handoff,
    HandoffTransition,
    MessageRating,
    ModelDeployment,
    Note,
    ReviewDecision,
    StaffMember,
    utcnow,
)
from bot.store.passwords import MIN_PASSWORD_CHARS, WeakPassword, hash_password, needs_rehash, verify_password

__all__ = [
    "AuditEntry", "Base", "CallbackRequest", "CannedReply", "ConsoleSession", "ContactCipher", "ContactKeyError",
    "Handoff", "HandoffTransition", "MIN_PASSWORD_CHARS", "MessageRating", "ModelDeployment", "Note",
    "ReviewDecision", "StaffMember", "WeakPassword", "contact_cipher",
    "dispose_engines", "engine_for", "hash_password", "make_engine", "migrate", "needs_rehash", "session_scope",
    "utcnow", "verify_password",
]
