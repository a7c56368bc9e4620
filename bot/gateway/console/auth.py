"""Who is signed in to the console: sign-in, sign-out, session cookies, CSRF tokens, and the
guards every console page and form goes through.

Sessions are signed cookies (HttpOnly, SameSite=Strict, Secure in production) that expire after
a working day. Every form carries a CSRF token bound to the session. Five wrong passwords lock an
account for 15 minutes. An unknown email costs the same argon2 check as a known one.

Password checks and database reads run in worker threads, never on the event loop that also
serves every visitor's websocket.
"""

from __future__ import annotations

import asyncio
import functools
import os
import secrets
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any, Awaitable, Callable, Dict, Optional, Tuple

from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import func, select
from starlette.requests import HTTPConnection, Request
from starlette.responses import RedirectResponse, Response

from bot.gateway.console.render import render
from bot.settings import Settings
from bot.store import StaffMember, audit, hash_password, needs_rehash, session_scope, utcnow, verify_password

SESSION_COOKIE = "ew_staff"
CSRF_COOKIE = "ew_csrf"
SESSION_SECONDS = 12 * 3600
MAX_FAILED_LOGINS = 5
LOCK_TIME = timedelta(minutes=15)
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
    """The signed-in staff member ({staff_id, name, csrf, admin}), or None.

    The account is read on every request, so disabling it, resetting its password or taking away
    the admin role takes effect at once, not when the cookie expires.
    """
    raw = connection.cookies.get(SESSION_COOKIE)
    if not raw:
        return None
    settings: Settings = connection.app.state.settings
    try:
        session_data = _signer(settings).loads(raw, max_age=SESSION_SECONDS)
    except BadSignature:
        return None
    return await asyncio.to_thread(_account_now, settings.app_db_url, session_data)


def _account_now(db_url: str, session_data: Dict[str, Any]) -> Optional[Staff]:
    """The session's staff member as the database has them now, or None if they may no longer sign in."""
    with session_scope(db_url) as session:
        member = session.get(StaffMember, session_data.get("staff_id"))
        if member is None or member.disabled_at is not None:
            return None
        revoked = member.sessions_revoked_at
        if revoked is not None and session_data.get("issued", 0) < revoked.timestamp():
            return None
        return {**session_data, "name": member.display_name, "admin": member.is_admin}


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
    email = str(form.get("email") or "").strip().lower()
    password = str(form.get("password") or "")
    outcome, cookie = await asyncio.get_running_loop().run_in_executor(
        _SIGN_IN_THREAD, _check_sign_in, settings.app_db_url, email, password)
    if outcome == "locked":
        return _login_page(request, "This account is locked for a few minutes after too many attempts.", 423)
    if cookie is None:
        return _login_page(request, "That email and password don't match.", 401)
    response = RedirectResponse("/console", status_code=303)
    response.set_cookie(SESSION_COOKIE, _signer(settings).dumps(cookie), max_age=SESSION_SECONDS,
                        **_cookie_args(settings))
    response.delete_cookie(CSRF_COOKIE)
    return response


def _check_sign_in(db_url: str, email: str, password: str) -> Tuple[str, Optional[Dict[str, Any]]]:
    """Check and audit one sign-in: ("signed_in", the session cookie's data), ("locked", None) or
    ("refused", None)."""
    now = utcnow()
    with session_scope(db_url) as session:
        staff = session.execute(select(StaffMember).where(func.lower(StaffMember.email) == email)).scalar_one_or_none()
        if staff is not None and staff.locked_until is not None and staff.locked_until > now:
            audit.record(session, staff.id, "console.login_locked", now=now, seen=False)
            return "locked", None
        known_hash = staff.password_hash if staff is not None else _decoy_hash()
        if not verify_password(known_hash, password) or staff is None or staff.disabled_at is not None:
            if staff is not None and staff.disabled_at is not None:
                # Same answer as a wrong password: a disabled account is not confirmed to exist.
                audit.record(session, staff.id, "console.login_disabled", now=now, seen=False)
            elif staff is not None:
                staff.failed_logins += 1
                if staff.failed_logins >= MAX_FAILED_LOGINS:
                    staff.locked_until, staff.failed_logins = now + LOCK_TIME, 0
                audit.record(session, staff.id, "console.login_failed", now=now, seen=False)
            return "refused", None
        staff.failed_logins, staff.locked_until = 0, None
        if needs_rehash(staff.password_hash):
            staff.password_hash = hash_password(password)
        audit.record(session, staff.id, "console.login", now=now, presence="online")
        return "signed_in", {"staff_id": staff.id, "csrf": secrets.token_urlsafe(32), "issued": now.timestamp()}


@staff_form
async def logout(request: Request, staff: Staff) -> Response:
    settings: Settings = request.app.state.settings
    await asyncio.to_thread(audit.record_alone, settings.app_db_url, staff["staff_id"], "console.logout",
                            presence="offline")
    response = RedirectResponse("/console/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response
