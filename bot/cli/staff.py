"""Staff accounts for the console: `python -m bot staff add | list | reset-password | unlock | disable | enable`.

There is no default account and no default password: every account starts here. Passwords are
asked twice on a terminal; a script can pipe one line on stdin instead.
"""

from __future__ import annotations

import argparse
import getpass
import re
import sys
from typing import List, Optional

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.settings import SettingsError, get_settings
from bot.store import (
    MIN_PASSWORD_CHARS,
    AuditEntry,
    StaffMember,
    WeakPassword,
    hash_password,
    migrate,
    session_scope,
    utcnow,
)

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class CommandError(Exception):
    """Refused, with a message for the operator; nothing was changed."""


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot staff", description="Manage staff console accounts.")
    parser.add_argument("--db-url", help="the app DB (default: APP_DB_URL from the settings)")
    commands = parser.add_subparsers(dest="command", required=True)
    add = commands.add_parser("add", help="create an account; asks for its password")
    add.add_argument("--email", required=True)
    add.add_argument("--name", required=True, help="shown to visitors next to staff messages")
    add.add_argument("--admin", action="store_true", help="may read the audit log (and do what maintainers do)")
    add.add_argument("--maintainer", action="store_true",
                     help="may review visitors' messages, export training data and deploy models")
    commands.add_parser("list", help="list accounts")
    for name, text in (("reset-password", "set a new password (asks for it) and sign out every session"),
                       ("unlock", "clear failed logins and a lock"),
                       ("disable", "stop an account signing in, and sign out every session at once"),
                       ("enable", "let a disabled account sign in again")):
        commands.add_parser(name, help=text).add_argument("--email", required=True)
    args = parser.parse_args(argv)

    try:
        url = args.db_url or get_settings().app_db_url
        migrate(url)
        with session_scope(url) as session:
            if args.command == "add":
                add_staff(session, args.email, args.name, args.admin, args.maintainer)
            elif args.command == "list":
                list_staff(session)
            elif args.command == "reset-password":
                reset_password(session, args.email)
            elif args.command == "unlock":
                unlock(session, args.email)
            elif args.command == "disable":
                disable(session, args.email)
            else:
                enable(session, args.email)
    except (CommandError, SettingsError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


def add_staff(session: Session, email: str, name: str, admin: bool, maintainer: bool = False) -> None:
    email = email.strip().lower()
    name = name.strip()
    if not EMAIL.match(email):
        raise CommandError(f"{email!r} is not an email address")
    if not name:
        raise CommandError("the name must not be empty")
    # Checked before asking for a password, so nobody types one only to be refused.
    if _find(session, email) is not None:
        raise CommandError(f"a staff member with email {email} already exists")
    staff = StaffMember(email=email, display_name=name, password_hash=_new_password_hash(), is_admin=admin,
                        is_maintainer=maintainer)
    session.add(staff)
    session.flush()
    _audit(session, "staff.add", staff)
    print(f"added {email} ({', '.join(_roles(staff)) or 'staff'})")


def list_staff(session: Session) -> None:
    members = session.execute(select(StaffMember).order_by(StaffMember.email)).scalars().all()
    if not members:
        print("no staff accounts yet: add one with python -m bot.cli.staff add --email E --name N")
    now = utcnow()
    for member in members:
        flags = _roles(member)
        if member.disabled_at:
            flags.append(f"disabled since {member.disabled_at:%Y-%m-%d %H:%M} UTC")
        if member.locked_until and member.locked_until > now:
            flags.append(f"locked until {member.locked_until:%Y-%m-%d %H:%M} UTC")
        if member.failed_logins:
            flags.append(f"{member.failed_logins} failed logins")
        print("\t".join([member.email, member.display_name, member.presence, ", ".join(flags)]).rstrip())


def reset_password(session: Session, email: str) -> None:
    staff = _existing(session, email)
    staff.password_hash = _new_password_hash()
    # Whoever knew the old password may hold a session: it ends now.
    staff.sessions_revoked_at = utcnow()
    _audit(session, "staff.reset_password", staff)
    print(f"new password set for {staff.email}")


def unlock(session: Session, email: str) -> None:
    staff = _existing(session, email)
    staff.failed_logins = 0
    staff.locked_until = None
    staff.lockouts = 0
    _audit(session, "staff.unlock", staff)
    print(f"unlocked {staff.email}")


def disable(session: Session, email: str) -> None:
    staff = _existing(session, email)
    now = utcnow()
    staff.disabled_at = staff.disabled_at or now
    staff.sessions_revoked_at = now
    # Visitors must not wait for someone who can no longer answer.
    staff.presence = "offline"
    _audit(session, "staff.disable", staff)
    print(f"disabled {staff.email}; their console sessions have ended")


def enable(session: Session, email: str) -> None:
    staff = _existing(session, email)
    staff.disabled_at = None
    _audit(session, "staff.enable", staff)
    print(f"enabled {staff.email}")


def _roles(member: StaffMember) -> List[str]:
    return [role for role, has in (("admin", member.is_admin), ("maintainer", member.is_maintainer)) if has]


def _new_password_hash() -> str:
    if sys.stdin.isatty():
        password = getpass.getpass(f"Password ({MIN_PASSWORD_CHARS} characters or more): ")
        if getpass.getpass("The same password again: ") != password:
            raise CommandError("the two passwords differ")
    else:
        # Only the line break is dropped: spaces may be part of a passphrase.
        password = sys.stdin.readline().rstrip("\r\n")
    try:
        return hash_password(password)
    except WeakPassword as exc:
        raise CommandError(str(exc)) from None


def _find(session: Session, email: str) -> Optional[StaffMember]:
    return session.execute(
        select(StaffMember).where(StaffMember.email == email.strip().lower())
    ).scalar_one_or_none()


def _existing(session: Session, email: str) -> StaffMember:
    staff = _find(session, email)
    if staff is None:
        raise CommandError(f"no staff member with email {email.strip().lower()}")
    return staff


def _audit(session: Session, action: str, staff: StaffMember) -> None:
    # No staff member acts here: whoever runs the command has shell access to the server.
    session.add(AuditEntry(staff_id=None, action=action, detail=f"staff member {staff.id} via the command line"))


if __name__ == "__main__":
    sys.exit(main())
