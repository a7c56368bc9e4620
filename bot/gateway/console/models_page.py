"""The models page, for maintainers (admins too): the live model and its evaluation, the model it
replaced with a one-click roll back, every trained model with a Deploy button for those that passed
the regression gate, and the deployment history (docs/deploying.md)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any, Dict, List, Optional

from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import FileResponse, Response

from bot.domain.model_registry import (
    UnknownModel,
    chart_file,
    live_model,
    model_file,
    name_of,
    read_evaluation,
    trained_models,
)
from bot.gateway.console.auth import Staff, maintainers_only, staff_form, staff_page
from bot.gateway.console.render import HEADERS, render
from bot.gateway.model_switch import ModelSwitch, SwitchRefused, gate_passed
from bot.gateway.rasa_client import RasaUnavailable
from bot.settings import Settings
from bot.store import ModelDeployment, audit, session_scope

HISTORY_ROWS = 50
CHARTS = {"confusion": "Confusion matrix", "f1": "F1 per intent"}
FIGURES = (("accuracy", "Accuracy"), ("macro_f1", "Macro-F1"), ("oos_recall", "Out-of-scope recall"),
           ("crisis_recall", "Crisis recall"))


def _percent(value: Any) -> str:
    return f"{value * 100:.1f}%" if isinstance(value, (int, float)) and not isinstance(value, bool) else "n/a"


def scores(evaluation: Optional[Dict[str, Any]]) -> Dict[str, Any]:
    """What the page shows of an evaluation: the four figures, the gate's verdict and its reasons."""
    if evaluation is None:
        return {"evaluated": False, "passed": False, "verdict": "not evaluated", "reasons": [], "figures": [],
                "evaluated_at": ""}
    gate = evaluation.get("gate")
    passed = gate_passed(evaluation)
    if not isinstance(gate, dict):
        verdict = "no gate verdict"
    elif passed:
        verdict = "passed"
    else:
        verdict = "failed, trained anyway (forced)" if gate.get("forced") else "failed"
    reasons = gate.get("reasons") if isinstance(gate, dict) else None
    return {"evaluated": True, "passed": passed, "verdict": verdict,
            "reasons": [str(reason) for reason in reasons] if isinstance(reasons, list) else [],
            "figures": [(label, _percent(evaluation.get(key))) for key, label in FIGURES],
            "evaluated_at": str(evaluation.get("evaluated_at") or "")}


def _charts(model: Path) -> List[str]:
    return [kind for kind in CHARTS if chart_file(model, kind).is_file()]


def _deployment(row: ModelDeployment) -> Dict[str, Any]:
    try:
        evaluation = json.loads(row.evaluation) if row.evaluation else None
    except ValueError:
        evaluation = None
    return {"id": row.id, "model": row.model_name, "previous": row.previous_model, "kind": row.kind,
            "by": row.deployed_by, "from_cli": row.staff_id is None, "at": row.deployed_at, "forced": row.forced,
            "verdict": scores(evaluation if isinstance(evaluation, dict) else None)["verdict"]}


def _model(settings: Settings, name: Optional[str]) -> Optional[Dict[str, Any]]:
    """A model by name with its evaluation; `exists` False once it has left the models folder."""
    if not name:
        return None
    try:
        path = model_file(settings, name)
    except UnknownModel:
        return {"name": name, "exists": False, "scores": scores(None), "charts": []}
    return {"name": name, "exists": True, "scores": scores(read_evaluation(path)), "charts": _charts(path),
            "trained_at": path.stat().st_mtime}


def _page_data(settings: Settings, staff_id: int, loaded: Optional[str]) -> Dict[str, Any]:
    """Audit the view; the live model (as Rasa reports it, else live.txt), the one it replaced, every
    trained model and the history."""
    pointer = live_model(settings)
    live_name = loaded or (name_of(pointer) if pointer else None)
    with session_scope(settings.app_db_url) as session:
        audit.record(session, staff_id, "console.view_models")
        history = [_deployment(row) for row in session.execute(
            select(ModelDeployment).order_by(ModelDeployment.id.desc()).limit(HISTORY_ROWS)).scalars()]
        current = session.execute(select(ModelDeployment).where(ModelDeployment.model_name == live_name)
                                  .order_by(ModelDeployment.id.desc()).limit(1)).scalar_one_or_none()
        deployed = _deployment(current) if current is not None else None
    models = []
    for path in trained_models(settings):
        evaluation = scores(read_evaluation(path))
        models.append({"name": name_of(path), "trained_at": path.stat().st_mtime, "scores": evaluation,
                       "charts": _charts(path), "live": name_of(path) == live_name})
    return {"live": _model(settings, live_name), "deployed": deployed,
            "previous": _model(settings, deployed["previous"] if deployed else None),
            "pointer": name_of(pointer) if pointer else None, "models": models, "history": history}


async def _page(request: Request, staff: Staff, status_code: int = 200, notice: str = "",
                ok: bool = True) -> Response:
    settings: Settings = request.app.state.settings
    switch: ModelSwitch = request.app.state.model_switch
    try:
        loaded = await request.app.state.rasa.loaded_model()
        rasa_problem = "" if loaded else "The rasa server reports no model loaded."
    except RasaUnavailable as exc:
        loaded, rasa_problem = None, f"The rasa server did not answer ({exc}); shown is what live.txt names."
    data = await asyncio.to_thread(_page_data, settings, staff["staff_id"], loaded)
    return render(request, "models.html", staff, status_code=status_code, title="Models", notice=notice, ok=ok,
                  rasa_problem=rasa_problem, switching=switch.running, charts=CHARTS,
                  hold_seconds=settings.model_switch_seconds, **data)


@staff_page
@maintainers_only
async def models_page(request: Request, staff: Staff) -> Response:
    return await _page(request, staff)


@staff_form
@maintainers_only
async def deploy_model(request: Request, staff: Staff) -> Response:
    """Deploy a trained model that passed the gate. There is no force here: that is the CLI's alone."""
    model = (await request.form()).get("model")
    return await _switch(request, staff, "deploy", model=model if isinstance(model, str) else "")


@staff_form
@maintainers_only
async def roll_back(request: Request, staff: Staff) -> Response:
    return await _switch(request, staff, "rollback")


async def _switch(request: Request, staff: Staff, kind: str, **options: Any) -> Response:
    switch: ModelSwitch = request.app.state.model_switch
    try:
        task = await switch.start(kind, deployed_by=staff["name"], staff_id=staff["staff_id"], **options)
    except SwitchRefused as refused:
        return await _page(request, staff, status_code=refused.status, notice=refused.reason, ok=False)
    # Shielded: a closed tab does not stop a switch halfway.
    outcome = await asyncio.shield(task)
    return await _page(request, staff, status_code=200 if outcome.ok else 502, notice=outcome.message,
                       ok=outcome.ok)


@staff_page
@maintainers_only
async def chart(request: Request, staff: Staff) -> Response:
    """A model's confusion matrix or per-intent F1 chart (PNG from its evaluation). Not audited: the
    page that shows them is."""
    kind = request.path_params["chart"]
    try:
        model = model_file(request.app.state.settings, request.path_params["name"])
    except UnknownModel:
        model = None
    if kind not in CHARTS or model is None or not chart_file(model, kind).is_file():
        return render(request, "message.html", staff, status_code=404, title="No such chart",
                      message="That model has no such chart.", back="/console/models")
    return FileResponse(chart_file(model, kind), media_type="image/png", headers=HEADERS)
