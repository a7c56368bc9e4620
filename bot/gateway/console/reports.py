"""Admissions reports for any signed-in staff member: `/console/reports` (figures per day or week,
charts and tables) and `/console/reports.csv` (the same figures, or the top questions with
`table=intents`). Counts, intents and times only, never message text; every read is audited with
its range. The figures: bot/store/analytics.py; what they mean: docs/console.md, "Reports".
"""

from __future__ import annotations

import asyncio
import csv
import io
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple
from zoneinfo import ZoneInfo

from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from bot.gateway.console import charts
from bot.gateway.console.auth import Staff, staff_page
from bot.gateway.console.render import HEADERS, render
from bot.settings import Settings
from bot.store import audit, utcnow
from bot.store.analytics import GROUPINGS, MAX_DAYS, MEASURES, Figures, Report, build_report

DEFAULT_DAYS = 28
# An ISO date is 10 characters; anything longer is refused before it is parsed.
DATE_CHARS = 10
TABLES = ("periods", "intents")
NO_VALUE = "–"
FORMULA_STARTS = ("=", "+", "-", "@")


@dataclass(frozen=True)
class Chosen:
    first: date
    last: date
    by: str

    def query(self) -> str:
        return f"from={self.first.isoformat()}&to={self.last.isoformat()}&by={self.by}"

    def detail(self) -> str:
        return f"{self.first.isoformat()} to {self.last.isoformat()} by {self.by}"


def read_range(params: Mapping[str, str], today: date) -> Tuple[Dict[str, str], Optional[Chosen], List[str]]:
    """The form as typed (to show it again), the range it asks for, and what is wrong with it."""
    form = {"from": params.get("from") or (today - timedelta(days=DEFAULT_DAYS - 1)).isoformat(),
            "to": params.get("to") or today.isoformat(), "by": params.get("by") or "day"}
    errors = []
    dates: Dict[str, date] = {}
    for field, name in (("from", "From"), ("to", "To")):
        try:
            if len(form[field]) != DATE_CHARS:
                raise ValueError("not YYYY-MM-DD")
            dates[field] = date.fromisoformat(form[field])
        except ValueError:
            errors.append(f"{name} must be a date written YYYY-MM-DD, such as {today.isoformat()}.")
    if form["by"] not in GROUPINGS:
        errors.append("Group by day or by week.")
    if len(dates) == 2:
        days = (dates["to"] - dates["from"]).days + 1
        if days < 1:
            errors.append("From must be on or before To.")
        elif days > MAX_DAYS:
            errors.append(f"A report covers at most {MAX_DAYS} days; this range has {days}.")
    if errors:
        return form, None, errors
    return form, Chosen(dates["from"], dates["to"], form["by"]), []


def _today(settings: Settings) -> date:
    return utcnow().astimezone(ZoneInfo(settings.staff_timezone)).date()


def _audited_report(settings: Settings, staff_id: int, chosen: Chosen, action: str, detail: str) -> Report:
    audit.record_alone(settings.app_db_url, staff_id, action, detail=detail)
    return build_report(settings.app_db_url, settings.tracker_db_url, chosen.first, chosen.last, chosen.by,
                        settings.staff_timezone)


def _count(value: Optional[float]) -> str:
    return NO_VALUE if value is None else str(int(value))


def _percent(value: Optional[float]) -> str:
    return NO_VALUE if value is None else f"{value * 100:.1f}%"


def _duration(value: Optional[float]) -> str:
    if value is None:
        return NO_VALUE
    return f"{value:.0f} s" if value < 60 else f"{value / 60:.1f} min"


def _chart_text(show: Callable[[Optional[float]], str]) -> Callable[[Optional[float]], str]:
    """In a chart's table a missing value is said in words."""
    return lambda value: "no data" if value is None else show(value)


FORMATS: Dict[str, Callable[[Optional[float]], str]] = {
    **{name: _count for name in MEASURES},
    "unanswered_rate": _percent,
    "first_reply_median_seconds": _duration,
    "first_reply_p90_seconds": _duration,
}


# The table's column headings, one per measure (docs/console.md "Reports" defines each).
HEADINGS: Dict[str, str] = {
    "conversations": "Conversations",
    "visitor_messages": "Visitor messages",
    "unanswered_messages": "Unanswered",
    "unanswered_rate": "Unanswered rate",
    "crisis_messages": "Crisis messages",
    "handoffs_requested": "Handoffs requested",
    "handoffs_unstaffed": "Asked, nobody available",
    "handoffs_waited": "Waited",
    "handoffs_taken": "Taken",
    "handoffs_expired": "Expired",
    "first_replies": "Handoffs with a staff reply",
    "first_reply_median_seconds": "First reply, median",
    "first_reply_p90_seconds": "First reply, 90th percentile",
    "callbacks_requested": "Callbacks requested",
    "callbacks_closed": "Callbacks closed",
    "thumbs_up": "Thumbs up",
    "thumbs_down": "Thumbs down",
}


def _label(report: Report, index: int) -> str:
    period = report.periods[index]
    if period.first == period.last:
        return period.first.isoformat()
    return f"{period.first.isoformat()} to {period.last.isoformat()}"


def _shown(figures: Figures) -> Dict[str, str]:
    return {name: FORMATS[name](figures[name]) for name in MEASURES}


def _charts(report: Report) -> List[Markup]:
    labels = [_label(report, index) for index in range(len(report.periods))]
    per = f"per {report.by}"

    def column(name: str) -> List[Optional[float]]:
        return [row[name] for row in report.rows]

    def series(*names: Tuple[str, str]) -> List[charts.Series]:
        return [charts.Series(title, column(name)) for name, title in names]

    minutes = [[None if value is None else value / 60 for value in column(name)]
               for name in ("first_reply_median_seconds", "first_reply_p90_seconds")]
    intents = [intent for intent, _ in report.top_intents]
    return [
        charts.line_chart("chart-conversations", f"Conversations and visitor messages {per}", labels,
                          series(("conversations", "Conversations"), ("visitor_messages", "Visitor messages"))),
        charts.line_chart("chart-unanswered", f"Unanswered rate {per}", labels,
                          series(("unanswered_rate", "Unanswered rate")),
                          value_text=_chart_text(_percent), whole=False),
        charts.bar_chart("chart-crisis", f"Crisis messages {per}", labels,
                         charts.Series("Crisis messages", column("crisis_messages"))),
        charts.line_chart("chart-handoffs", f"Handoffs {per}", labels,
                          series(("handoffs_requested", "Requested"), ("handoffs_waited", "Waited"),
                                 ("handoffs_taken", "Taken"), ("handoffs_expired", "Expired"))),
        charts.line_chart("chart-first-reply", f"Minutes to the first staff reply {per}", labels,
                          [charts.Series("Median", minutes[0]), charts.Series("90th percentile", minutes[1])],
                          value_text=_chart_text(lambda value: f"{value:.1f} min"), whole=False),
        # Side by side: a visitor who finds nobody is offered a callback.
        charts.line_chart("chart-callbacks", f"Asked for a person when nobody was available, and callbacks {per}",
                          labels, series(("handoffs_unstaffed", "Asked, nobody available"),
                                         ("callbacks_requested", "Callbacks requested"),
                                         ("callbacks_closed", "Callbacks closed"))),
        charts.line_chart("chart-ratings", f"Ratings {per}", labels,
                          series(("thumbs_up", "Thumbs up"), ("thumbs_down", "Thumbs down"))),
        charts.ranking_chart("chart-intents", "Top questions over the range, by intent", intents,
                             charts.Series("Visitor messages", [count for _, count in report.top_intents]),
                             label_heading="Intent"),
    ]


@staff_page
async def reports_page(request: Request, staff: Staff) -> Response:
    settings: Settings = request.app.state.settings
    form, chosen, errors = read_range(request.query_params, _today(settings))
    context: Dict[str, Any] = {"form": form, "groupings": GROUPINGS, "time_zone": settings.staff_timezone,
                               "max_days": MAX_DAYS, "measures": MEASURES, "headings": HEADINGS}
    if chosen is None:
        return render(request, "reports.html", staff, status_code=400, title="Reports", errors=errors, **context)
    report = await asyncio.to_thread(_audited_report, settings, staff["staff_id"], chosen, "reports.view",
                                     chosen.detail())
    rows = [{"label": _label(report, index), **_shown(figures)} for index, figures in enumerate(report.rows)]
    return render(request, "reports.html", staff, title="Reports", errors=[], chosen=chosen, rows=rows,
                  total=_shown(report.total), top_intents=report.top_intents, charts=_charts(report), **context)


def _periods_csv(report: Report) -> List[List[Any]]:
    def cell(value: Optional[float]) -> Any:
        if value is None:
            return ""
        return value if isinstance(value, int) else round(value, 4)

    return [["period_start", "period_end", *MEASURES]] + [
        [period.first.isoformat(), period.last.isoformat(), *(cell(figures[name]) for name in MEASURES)]
        for period, figures in zip(report.periods, report.rows, strict=True)]


def _intents_csv(report: Report) -> List[List[Any]]:
    # An intent is a model's label, but a spreadsheet would run a cell starting with one of these.
    return [["intent", "visitor_messages"]] + [
        ["'" + intent if intent.startswith(FORMULA_STARTS) else intent, count] for intent, count in report.top_intents]


@staff_page
async def reports_csv(request: Request, staff: Staff) -> Response:
    settings: Settings = request.app.state.settings
    _, chosen, errors = read_range(request.query_params, _today(settings))
    table = request.query_params.get("table") or "periods"
    if table not in TABLES:
        errors.append("table must be periods or intents.")
    if chosen is None or errors:
        return PlainTextResponse("\n".join(errors) + "\n", status_code=400, headers=HEADERS)
    detail = chosen.detail() + (f" table={table}" if table != "periods" else "")
    report = await asyncio.to_thread(_audited_report, settings, staff["staff_id"], chosen, "reports.export", detail)
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerows(_periods_csv(report) if table == "periods"
                                                      else _intents_csv(report))
    name = f"admissions-{table}-{chosen.first.isoformat()}-to-{chosen.last.isoformat()}-by-{chosen.by}.csv"
    return Response(out.getvalue(), media_type="text/csv; charset=utf-8",
                    headers={**HEADERS, "Content-Disposition": f'attachment; filename="{name}"'})
