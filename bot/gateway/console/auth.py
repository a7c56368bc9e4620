"""Who is signed in to the console: sign-in, sign-out, sessions, CSRF tokens, and the guards
every console page and form goes through.

Sessions live in the app DB (`console_sessions`); the cookie (HttpOnly, SameSite=Strict, Secure in
production) carries only a signed random token. A session ends when its owner signs out, after
CONSOLE_IDLE_MINUTES unused, after a working day, or when the account is disabled or its password
reset. Every form carries the session's CSRF token. Five wrong passwords lock an account, each
lockout twice as long as the last; a client address that keeps failing waits (sign_in_throttle).
A locked, disabled or unknown account gets the same answer as a wrong password, and costs the same
argon2 check.

Password checks and database reads run in worker threads, never on the event loop that also
serves every visitor's websocket.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import os
import secrets
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any, Awaitable, Callable, Dict, Optional

from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import func, select
from starlette.requests import HTTPConnection, Request
from starlette.responses import RedirectResponse, Response

from bot.gateway.console.render import render
from bot.gateway.console.sign_in_throttle import SignInThrottle
from bot.settings import Settings
from bot.store import (
    ConsoleSession,
    StaffMember,
    audit,
    hash_password,
    needs_rehash,
    session_scope,
    utcnow,
    verify_password,
)

SESSION_COOKIE = "ew_staff"
CSRF_COOKIE = "ew_csrf"
SESSION_SECONDS = 12 * 3600
MAX_FAILED_LOGINS = 5
LOCK_TIME = timedelta(minutes=15)
LONGEST_LOCK = timedelta(hours=24)
# last_seen_at is written at most this often: the idle timeout is this precise, and a page's
# requests do not each write a row.
SEEN_RESOLUTION = timedelta(seconds=60)
REFUSED = "That email and password don't match, or the account is locked for a while after too many attempts."
# How far below the chat the sign-in thread runs (a Linux nice value).
SIGN_IN_NICENESS = 10


def _below_the_chat() -> None:
    # Linux schedules each thread on its own, so only this thread gives way when the cores are busy.
    if sys.platform == "linux":
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), SIGN_IN_NICENESS)


# Sign-ins get their own low-priority thread: a burst of them (or of guesses) queues here, one argon2
# check (one core) at a time, instead of filling the default pool that visitors' DB work shares.
_SIGN_IN_THREAD = ThreadPoolExecutor(max_workers=1, thread_name_prefix="console-sign-in",
                                     initializer=_below_the_chat)

Staff = Dict[str, Any]
StaffHandler = Callable[[Request, Staff], Awaitable[Response]]


def _signer(settings: Settings) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(settings.gateway_secret, salt="staff-console")


def _cookie_args(settings: Settings) -> Dict[str, Any]:
    return {"httponly": True, "samesite": "strict", "secure": settings.environment == "production"}


@functools.lru_cache(maxsize=1)
def _decoy_hash() -> str:
    return hash_password(secrets.token_urlsafe(24))


async def current_staff(connection: HTTPConnection) -> Optional[Staff]:
    """The signed-in staff member ({staff_id, session_id, name, csrf, admin, maintainer}), or None.

    The session and the account are read on every request, so signing out, disabling the account,
    resetting its password or taking away a role takes effect at once.
    """
    raw = connection.cookies.get(SESSION_COOKIE)
    if not raw:
        return None
    settings: Settings = connection.app.state.settings
    try:
        token = _signer(settings).loads(raw, max_age=SESSION_SECONDS)
    except BadSignature:
        return None
    if not isinstance(token, str):
        return None
    return await asyncio.to_thread(_session_now, settings, token)


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _session_now(settings: Settings, token: str) -> Optional[Staff]:
    """The session's staff member as the database has them now, or None if the session has ended."""
    now = utcnow()
    with session_scope(settings.app_db_url) as session:
        row = session.execute(select(ConsoleSession).where(ConsoleSession.token_hash == _token_hash(token))
                              ).scalar_one_or_none()
        if row is None or row.ended_at is not None:
            return None
        member = session.get(StaffMember, row.staff_id)
        revoked = member.sessions_revoked_at if member is not None else None
        idle = now - row.last_seen_at > timedelta(minutes=settings.console_idle_minutes)
        if (member is None or member.disabled_at is not None or (revoked is not None and row.created_at <= revoked)
                or idle or now - row.created_at > timedelta(seconds=SESSION_SECONDS)):
            row.ended_at = now
            return None
        if now - row.last_seen_at >= SEEN_RESOLUTION:
            row.last_seen_at = now
        return {"staff_id": member.id, "session_id": row.id, "csrf": row.csrf, "name": member.display_name,
                "admin": member.is_admin, "maintainer": member.is_admin or member.is_maintainer}


def tokens_match(supplied: Any, expected: Optional[str]) -> bool:
    # As bytes: compare_digest refuses str with non-ASCII characters, and a forged token may have them.
    return bool(supplied) and bool(expected) and secrets.compare_digest(str(supplied).encode(), str(expected).encode())


def staff_page(handler: StaffHandler) -> Callable[[Request], Awaitable[Response]]:
    """A console page: without a session, off to the sign-in page."""

    @functools.wraps(handler)
    async def guarded(request: Request) -> Response:
        staff = await current_staff(request)
        if staff is None:
            return RedirectResponse("/console/login", status_code=303)
        return await handler(request, staff)

    return guarded


def staff_form(handler: StaffHandler) -> Callable[[Request], Awaitable[Response]]:
    """A console POST: refused without a session and the session's CSRF token."""

    @functools.wraps(handler)
    async def guarded(request: Request) -> Response:
        form = await request.form()
        staff = await current_staff(request)
        if staff is None or not tokens_match(form.get("csrf"), staff["csrf"]):
            return render(request, "message.html", None, status_code=403, title="Refused",
                          message="Sign in, and use the console's own forms.")
        return await handler(request, staff)

    return guarded


def maintainers_only(handler: StaffHandler) -> StaffHandler:
    """Under staff_page or staff_form: a staff member without the maintainer role (admins have it)
    gets a page saying so instead."""

    @functools.wraps(handler)
    async def guarded(request: Request, staff: Staff) -> Response:
        if not staff["maintainer"]:
            return render(request, "message.html", staff, status_code=403, title="Maintainers only",
                          message="This page is for maintainers and admins. An admin can give your account "
                                  "the maintainer role.", back="/console")
        return await handler(request, staff)

    return guarded


def _login_page(request: Request, message: str = "", status_code: int = 200) -> Response:
    token = secrets.token_urlsafe(32)
    response = render(request, "login.html", None, status_code=status_code, title="Sign in",
                      message=message, csrf=token)
    response.set_cookie(CSRF_COOKIE, _signer(request.app.state.settings).dumps(token), max_age=3600,
                        **_cookie_args(request.app.state.settings))
    return response


async def login_form(request: Request) -> Response:
    if await current_staff(request):
        return RedirectResponse("/console", status_code=303)
    return _login_page(request)


async def login(request: Request) -> Response:
    settings: Settings = request.app.state.settings
    form = await request.form()
    try:
        expected = _signer(settings).loads(request.cookies.get(CSRF_COOKIE, ""), max_age=3600)
    except BadSignature:
        expected = None
    if not tokens_match(form.get("csrf"), expected):
        return render(request, "message.html", None, status_code=403, title="Refused",
                      message="The form expired or was not sent from this console.", back="/console/login")
    throttle: SignInThrottle = request.app.state.sign_in_throttle
    client = request.client.host if request.client else "unknown"
    wait = throttle.wait_seconds(client)
    if wait is not None:
        response = _login_page(request, "Too many failed sign-ins from here. Wait a few minutes and try again.",
                               429)
        response.headers["Retry-After"] = str(int(wait) + 1)
        return response
    email = str(form.get("email") or "").strip().lower()
    password = str(form.get("password") or "")
    token = await asyncio.get_running_loop().run_in_executor(
        _SIGN_IN_THREAD, _check_sign_in, settings.app_db_url, email, password)
    if token is None:
        throttle.failed(client)
        return _login_page(request, REFUSED, 401)
    throttle.succeeded(client)
    response = RedirectResponse("/console", status_code=303)
    response.set_cookie(SESSION_COOKIE, _signer(settings).dumps(token), max_age=SESSION_SECONDS,
                        **_cookie_args(settings))
    response.delete_cookie(CSRF_COOKIE)
    return response


def _check_sign_in(db_url: str, email: str, password: str) -> Optional[str]:
    """Check and audit one sign-in: the new session's token, or None when refused (for any reason)."""
    now = utcnow()
    with session_scope(db_url) as session:
        staff = session.execute(select(StaffMember).where(func.lower(StaffMember.email) == email)).scalar_one_or_none()
        locked = staff is not None and staff.locked_until is not None and staff.locked_until > now
        known_hash = staff.password_hash if staff is not None and not locked else _decoy_hash()
        # A locked account is checked against the decoy too: its answer takes as long as any other.
        if not verify_password(known_hash, password) or staff is None or locked or staff.disabled_at is not None:
            if locked:
                audit.record(session, staff.id, "console.login_locked", now=now, seen=False)
            elif staff is not None and staff.disabled_at is not None:
                audit.record(session, staff.id, "console.login_disabled", now=now, seen=False)
            elif staff is not None:
                staff.failed_logins += 1
                if staff.failed_logins >= MAX_FAILED_LOGINS:
                    staff.locked_until = now + min(LOCK_TIME * 2 ** staff.lockouts, LONGEST_LOCK)
                    staff.failed_logins, staff.lockouts = 0, staff.lockouts + 1
                audit.record(session, staff.id, "console.login_failed", now=now, seen=False)
            return None
        staff.failed_logins, staff.locked_until, staff.lockouts = 0, None, 0
        if needs_rehash(staff.password_hash):
            staff.password_hash = hash_password(password)
        token = secrets.token_urlsafe(32)
        session.add(ConsoleSession(token_hash=_token_hash(token), staff_id=staff.id, csrf=secrets.token_urlsafe(32),
                                   created_at=now, last_seen_at=now))
        audit.record(session, staff.id, "console.login", now=now, presence="online")
        return token


@staff_form
async def logout(request: Request, staff: Staff) -> Response:
    settings: Settings = request.app.state.settings
    await asyncio.to_thread(_end_session, settings, staff["session_id"], staff["staff_id"])
    response = RedirectResponse("/console/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response


def _end_session(settings: Settings, session_id: int, staff_id: int) -> None:
    now = utcnow()
    with session_scope(settings.app_db_url) as session:
        row = session.get(ConsoleSession, session_id)
        if row is not None:
            row.ended_at = row.ended_at or now
        audit.record(session, staff_id, "console.logout", now=now, presence="offline")
