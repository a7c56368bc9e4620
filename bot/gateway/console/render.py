"""Console pages from Jinja templates (autoescaped), with the headers sensitive pages need."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Dict, Optional

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse

TEMPLATES = Path(__file__).resolve().parent.parent / "templates" / "console"
# Health records: never cached, never framed, no page address leaked to other sites, and only the
# console's own script may run (no inline scripts, so injected markup cannot execute).
HEADERS = {
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                                "connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"),
}

_environment = Environment(loader=FileSystemLoader(str(TEMPLATES)), autoescape=select_autoescape(["html"]),
                           trim_blocks=True, lstrip_blocks=True)


def _minutes_ago(moment: Optional[datetime], now: datetime) -> str:
    if moment is None:
        return ""
    minutes = int((now - moment).total_seconds() // 60)
    return "just now" if minutes < 1 else f"{minutes} min"


def _clock(moment: Optional[Any]) -> str:
    """A UTC time (datetime or Rasa's epoch seconds) as staff read it; the page's script shows local time."""
    if moment is None:
        return ""
    if not isinstance(moment, datetime):
        moment = datetime.fromtimestamp(float(moment), tz=timezone.utc)
    return moment.strftime("%Y-%m-%d %H:%M UTC")


_environment.filters["clock"] = _clock
_environment.globals["minutes_ago"] = _minutes_ago


def render(request: Request, template: str, staff: Optional[Dict[str, Any]], *, status_code: int = 200,
           **context: Any) -> HTMLResponse:
    body = _environment.get_template(template).render(staff=staff, **context)
    return HTMLResponse(body, status_code=status_code, headers=HEADERS)
