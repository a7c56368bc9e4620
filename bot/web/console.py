"""The staff console's first pages: sign-in, sign-out and the handoff queue.

Sessions are signed cookies (HttpOnly, SameSite=Strict, Secure in
production) that expire after a working day. Every form carries a CSRF token
that must match the one bound to the visitor's cookie. Five wrong passwords
lock an account for 15 minutes. Sign-ins, failures and queue views go to the
audit log.
"""

from __future__ import annotations

import functools
import html
import secrets
from datetime import timedelta
from typing import Any, Dict, Optional, Tuple

from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import func, select
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from bot import handoffs
from bot.knowledge.loader import default as knowledge
from bot.settings import Settings
from bot.store import AuditEntry, Handoff, StaffMember, hash_password, session_scope, utcnow, verify_password
from bot.web.rasa_client import RasaUnavailable
from bot.web.transcript import history as transcript_history

SESSION_COOKIE = "ew_staff"
CSRF_COOKIE = "ew_csrf"
SESSION_SECONDS = 12 * 3600
MAX_FAILED_LOGINS = 5
LOCK_TIME = timedelta(minutes=15)
PAGE = """<!doctype html><html lang="en"><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>{title} - admissions console</title>
<body style="font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#1f2933">
{body}</body></html>"""


def _signer(settings: Settings) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(settings.gateway_secret, salt="staff-console")


def _cookie_args(settings: Settings) -> Dict[str, Any]:
    return {"httponly": True, "samesite": "strict", "secure": settings.environment == "production"}


@functools.lru_cache(maxsize=1)
def _decoy_hash() -> str:
    return hash_password(secrets.token_urlsafe(24))


def current_staff(request: Request) -> Optional[Dict[str, Any]]:
    """The signed-in staff member's session ({staff_id, name, csrf}), or None."""
    raw = request.cookies.get(SESSION_COOKIE)
    if not raw:
        return None
    try:
        return _signer(request.app.state.settings).loads(raw, max_age=SESSION_SECONDS)
    except BadSignature:
        return None


def _page(title: str, body: str, status_code: int = 200) -> HTMLResponse:
    return HTMLResponse(PAGE.format(title=html.escape(title), body=body), status_code=status_code)


def _login_page(request: Request, message: str = "", status_code: int = 200) -> HTMLResponse:
    token = secrets.token_urlsafe(32)
    notice = f'<p role="alert" style="color:#a3261b">{html.escape(message)}</p>' if message else ""
    response = _page("Sign in", f"""<h1>Admissions console</h1>{notice}
<form method="post" action="/console/login">
<input type="hidden" name="csrf" value="{token}">
<p><label>Email<br><input name="email" type="email" autocomplete="username" required></label></p>
<p><label>Password<br><input name="password" type="password" autocomplete="current-password" required></label></p>
<p><button type="submit">Sign in</button></p></form>""", status_code)
    response.set_cookie(CSRF_COOKIE, _signer(request.app.state.settings).dumps(token), max_age=3600,
                        **_cookie_args(request.app.state.settings))
    return response


def _csrf_ok(request: Request, form_token: Optional[str], expected: Optional[str]) -> bool:
    return bool(form_token) and bool(expected) and secrets.compare_digest(str(form_token), str(expected))


async def login_form(request: Request) -> Response:
    if current_staff(request):
        return RedirectResponse("/console", status_code=303)
    return _login_page(request)


async def login(request: Request) -> Response:
    settings: Settings = request.app.state.settings
    form = await request.form()
    try:
        expected = _signer(settings).loads(request.cookies.get(CSRF_COOKIE, ""), max_age=3600)
    except BadSignature:
        expected = None
    if not _csrf_ok(request, form.get("csrf"), expected):
        return _page("Refused", "<p>The form expired or was not sent from this console. "
                                '<a href="/console/login">Try again</a>.</p>', 403)
    email = str(form.get("email") or "").strip().lower()
    password = str(form.get("password") or "")
    now = utcnow()
    with session_scope(settings.app_db_url) as session:
        staff = session.execute(select(StaffMember).where(func.lower(StaffMember.email) == email)).scalar_one_or_none()
        if staff is not None and staff.locked_until is not None and staff.locked_until > now:
            session.add(AuditEntry(staff_id=staff.id, action="console.login_locked", detail="", at=now))
            return _login_page(request, "This account is locked for a few minutes after too many attempts.", 423)
        # An unknown email costs the same argon2 check, so timing does not reveal who has an account.
        known_hash = staff.password_hash if staff is not None else _decoy_hash()
        if not verify_password(known_hash, password) or staff is None:
            if staff is not None:
                staff.failed_logins += 1
                if staff.failed_logins >= MAX_FAILED_LOGINS:
                    staff.locked_until, staff.failed_logins = now + LOCK_TIME, 0
                session.add(AuditEntry(staff_id=staff.id, action="console.login_failed", detail="", at=now))
            return _login_page(request, "That email and password don't match.", 401)
        staff.failed_logins, staff.locked_until = 0, None
        staff.presence, staff.last_seen = "online", now
        session.add(AuditEntry(staff_id=staff.id, action="console.login", detail="", at=now))
        cookie = {"staff_id": staff.id, "name": staff.display_name, "csrf": secrets.token_urlsafe(32)}
    response = RedirectResponse("/console", status_code=303)
    response.set_cookie(SESSION_COOKIE, _signer(settings).dumps(cookie), max_age=SESSION_SECONDS,
                        **_cookie_args(settings))
    response.delete_cookie(CSRF_COOKIE)
    return response


def _record_visit(session: Any, staff_id: int, action: str, now: Any, presence: Optional[str] = None,
                  conversation_id: Optional[str] = None) -> None:
    """Audit a console action; it also counts as the person being seen (or leaving)."""
    member = session.get(StaffMember, staff_id)
    if member is not None:
        member.last_seen = now
        member.presence = presence or member.presence
    session.add(AuditEntry(staff_id=staff_id, action=action, conversation_id=conversation_id, detail="", at=now))


async def logout(request: Request) -> Response:
    staff = current_staff(request)
    if staff is None:
        return RedirectResponse("/console/login", status_code=303)
    form = await request.form()
    if not _csrf_ok(request, form.get("csrf"), staff["csrf"]):
        return _page("Refused", "<p>Sign-out was not sent from this console.</p>", 403)
    settings: Settings = request.app.state.settings
    with session_scope(settings.app_db_url) as session:
        _record_visit(session, staff["staff_id"], "console.logout", utcnow(), presence="offline")
    response = RedirectResponse("/console/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response


async def queue_page(request: Request) -> Response:
    staff = current_staff(request)
    if staff is None:
        return RedirectResponse("/console/login", status_code=303)
    settings: Settings = request.app.state.settings
    now = utcnow()
    with session_scope(settings.app_db_url) as session:
        _record_visit(session, staff["staff_id"], "console.view_queue", now)
        rows = [
            "<tr>" + "".join(f"<td>{html.escape(str(cell))}</td>" for cell in (
                h.status, h.priority, h.reason, f"{int((now - h.created_at).total_seconds() // 60)} min",
                h.last_visitor_message or "",
            )) + f'<td><a href="/console/handoffs/{h.id}">Open</a></td></tr>'
            for h in handoffs.queue(session, now=now)
        ]
    table = ("<table><thead><tr><th>Status</th><th>Priority</th><th>Reason</th><th>Waiting</th>"
             "<th>Last visitor message</th></tr></thead><tbody>" + "".join(rows) + "</tbody></table>"
             if rows else "<p>No conversations are waiting.</p>")
    return _page("Queue", f"""<h1>Queue</h1><p>Signed in as {html.escape(staff["name"])}.</p>
<form method="post" action="/console/logout"><input type="hidden" name="csrf" value="{staff["csrf"]}">
<button type="submit">Sign out</button></form>{table}""")


REFUSED = "<p>Sign in, and use the console's own forms.</p>"


async def _staff_form(request: Request) -> Tuple[Optional[Dict[str, Any]], Any]:
    """(signed-in staff, form) for a console POST; staff is None without a session or a matching CSRF token."""
    form = await request.form()
    staff = current_staff(request)
    if staff is None or not _csrf_ok(request, form.get("csrf"), staff["csrf"]):
        return None, form
    return staff, form


async def conversation_page(request: Request) -> Response:
    """The whole transcript (bot, visitor and staff), with claim, reply and resolve."""
    staff = current_staff(request)
    if staff is None:
        return RedirectResponse("/console/login", status_code=303)
    settings: Settings = request.app.state.settings
    handoff_id = int(request.path_params["handoff_id"])
    with session_scope(settings.app_db_url) as session:
        handoff = session.get(Handoff, handoff_id)
        if handoff is None:
            return _page("Not found", "<p>No such conversation.</p>", 404)
        conversation_id, status, priority = handoff.conversation_id, handoff.status, handoff.priority
        mine = handoff.assigned_to == staff["staff_id"]
        _record_visit(session, staff["staff_id"], "console.view_conversation", utcnow(), conversation_id=conversation_id)
    try:
        events = await request.app.state.rasa.events(conversation_id)
    except RasaUnavailable:
        return _page("Unavailable", "<p>The transcript can't be loaded right now (the assistant's server is "
                                    "not answering). Try again in a minute.</p>", 503)
    lines = []
    for entry in transcript_history(events):
        who = {"visitor": "Visitor", "bot": "Assistant"}.get(entry["role"], entry.get("name") or "Staff")
        lines.append(f"<li><strong>{html.escape(who)}:</strong> {html.escape(entry['text'])}</li>")
    csrf = staff["csrf"]
    actions = ""
    if status == "waiting":
        actions = _button(f"/console/handoffs/{handoff_id}/claim", csrf, "Claim")
    elif status == "active" and mine:
        actions = (f'''<form method="post" action="/console/handoffs/{handoff_id}/reply">
<input type="hidden" name="csrf" value="{csrf}"><label>Reply<br><textarea name="text" required maxlength="2000">
</textarea></label><button type="submit">Send</button></form>'''
                   + _button(f"/console/handoffs/{handoff_id}/resolve", csrf, "Resolve"))
    return _page("Conversation", f"""<p><a href="/console">Queue</a></p>
<h1>Conversation ({html.escape(status)}, {html.escape(priority)})</h1><ol>{"".join(lines)}</ol>{actions}""")


def _button(action: str, csrf: str, label: str) -> str:
    return (f'<form method="post" action="{action}"><input type="hidden" name="csrf" value="{csrf}">'
            f'<button type="submit">{html.escape(label)}</button></form>')


async def claim_handoff(request: Request) -> Response:
    staff, _ = await _staff_form(request)
    if staff is None:
        return _page("Refused", REFUSED, 403)
    handoff_id = int(request.path_params["handoff_id"])
    try:
        with session_scope(request.app.state.settings.app_db_url) as session:
            handoffs.claim(session, handoff_id, staff["staff_id"])
    except handoffs.HandoffError as exc:
        return _page("Not claimed", f"<p>{html.escape(str(exc))}</p><p><a href=\"/console\">Queue</a></p>", 409)
    return RedirectResponse(f"/console/handoffs/{handoff_id}", status_code=303)


async def reply(request: Request) -> Response:
    staff, form = await _staff_form(request)
    if staff is None:
        return _page("Refused", REFUSED, 403)
    settings: Settings = request.app.state.settings
    handoff_id = int(request.path_params["handoff_id"])
    text = str(form.get("text") or "").strip()[: settings.max_message_chars]
    with session_scope(settings.app_db_url) as session:
        handoff = session.get(Handoff, handoff_id)
        if handoff is None or handoff.status != "active" or handoff.assigned_to != staff["staff_id"] or not text:
            return _page("Not sent", "<p>Claim the conversation first, and type a message.</p>", 409)
        conversation_id = handoff.conversation_id
        session.add(AuditEntry(staff_id=staff["staff_id"], action="console.reply", conversation_id=conversation_id,
                               detail=f"handoff {handoff_id}", at=utcnow()))
    try:
        await request.app.state.rasa.record_staff_message(conversation_id, text, staff["name"])
    except RasaUnavailable:
        return _page("Not sent", "<p>The message could not be saved to the transcript, so it was not sent. "
                                 "Try again in a minute.</p>", 503)
    await request.app.state.hub.say(conversation_id, text, staff_name=staff["name"])
    return RedirectResponse(f"/console/handoffs/{handoff_id}", status_code=303)


async def resolve_handoff(request: Request) -> Response:
    staff, _ = await _staff_form(request)
    if staff is None:
        return _page("Refused", REFUSED, 403)
    settings: Settings = request.app.state.settings
    handoff_id = int(request.path_params["handoff_id"])
    with session_scope(settings.app_db_url) as session:
        handoff = session.get(Handoff, handoff_id)
        if handoff is None or handoff.status != "active":
            return _page("Not resolved", "<p>Only a claimed conversation can be resolved.</p>", 409)
        conversation_id = handoff.conversation_id
    back = knowledge().get("handoff_resolved").short
    # Switch the bot back on first: a handoff is only marked resolved once the visitor has the bot again.
    try:
        await request.app.state.rasa.resume(conversation_id, back)
    except RasaUnavailable:
        return _page("Not resolved", "<p>The assistant's server did not answer, so the conversation is still "
                                     "yours. Try again in a minute.</p>", 503)
    try:
        with session_scope(settings.app_db_url) as session:
            handoffs.resolve(session, handoff_id, staff["staff_id"])
    except handoffs.HandoffError as exc:
        return _page("Not resolved", f"<p>{html.escape(str(exc))}</p>", 409)
    await request.app.state.hub.say(conversation_id, back)
    return RedirectResponse("/console", status_code=303)
