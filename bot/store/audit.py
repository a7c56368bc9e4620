"""The audit log: every staff sign-in, view and action, with who, when and which conversation.

`detail` never holds message text or contact details (domain.md, privacy).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Optional

from sqlalchemy.orm import Session

from bot.store import AuditEntry, StaffMember, session_scope, utcnow


def record(session: Session, staff_id: Optional[int], action: str, *, conversation_id: Optional[str] = None,
           detail: str = "", now: Optional[datetime] = None, presence: Optional[str] = None,
           seen: bool = True) -> None:
    """Audit an action. A staff member acting is also a staff member seen (or leaving, with presence);
    a failed sign-in is not (seen=False), or a stranger's guesses would make the clinic look staffed."""
    now = now or utcnow()
    member = session.get(StaffMember, staff_id) if staff_id is not None and seen else None
    if member is not None:
        member.last_seen = now
        member.presence = presence or member.presence
    session.add(AuditEntry(staff_id=staff_id, action=action, conversation_id=conversation_id, detail=detail, at=now))


def record_alone(db_url: str, staff_id: Optional[int], action: str, **options: Any) -> None:
    """Audit an action in its own unit of work; handlers call it through asyncio.to_thread."""
    with session_scope(db_url) as session:
        record(session, staff_id, action, **options)
