"""A staff member's browser, in-process: the gateway app under Starlette's TestClient."""

from __future__ import annotations

import re
from typing import List

from cryptography.fernet import Fernet
from sqlalchemy import select

from bot.settings import Settings, load_settings
from bot.store import AuditEntry, StaffMember, hash_password, session_scope, utcnow

PASSWORD = "correct horse battery staple"


def console_settings(tmp_path, **overrides) -> Settings:
    """Settings for a gateway in-process: its own SQLite app DB and contact key, no .env."""
    return load_settings(_env_file=None, app_db_url=f"sqlite:///{tmp_path / 'app.db'}",
                         contact_key=Fernet.generate_key().decode(), **overrides)


def add_staff(settings, email: str = "ana@example.org", name: str = "Ana", admin: bool = False,
              maintainer: bool = False) -> int:
    with session_scope(settings.app_db_url) as session:
        member = StaffMember(email=email, display_name=name, password_hash=hash_password(PASSWORD),
                             is_admin=admin, is_maintainer=maintainer, created_at=utcnow())
        session.add(member)
        session.flush()
        return member.id


def csrf_from(page: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', page).group(1)


def sign_in(console, password: str = PASSWORD, email: str = "ana@example.org"):
    token = csrf_from(console.get("/console/login").text)
    return console.post("/console/login", data={"csrf": token, "email": email, "password": password},
                        follow_redirects=False)


def post(console, path: str, **fields):
    """A console form, sent with the session's CSRF token as the page would."""
    token = csrf_from(console.get("/console").text)
    return console.post(path, data={"csrf": token, **fields}, follow_redirects=False)


def audit_actions(settings) -> List[str]:
    with session_scope(settings.app_db_url) as session:
        return [entry.action for entry in session.execute(select(AuditEntry).order_by(AuditEntry.id)).scalars()]
