"""Command line: `python -m bot train | evaluate | model-path | check | purge | staff ... |
serve rasa|actions|gateway`."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from bot.domain.knowledge.loader import KnowledgeFileError
from bot.domain.safety.detector import CrisisPatternError
from bot.settings import REPO_ROOT, SettingsError, get_settings


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["staff"]:
        # The staff commands have their own options (--db-url, --email ...): hand them over whole.
        from bot.cli.staff import main as staff_main

        return staff_main(argv[1:])
    if argv[:1] == ["deploy"]:
        from bot.cli.deploy import main as deploy_main

        return deploy_main(argv[1:])
    parser = argparse.ArgumentParser(prog="python -m bot")
    commands = parser.add_subparsers(dest="command", required=True)
    train = commands.add_parser(
        "train", help="train if the data changed, evaluate, and make the model live if the regression gate passes")
    train.add_argument("--retrain", action="store_true", help="train even if a model for this data exists")
    train.add_argument("--force", action="store_true",
                       help="make the model live even if the regression gate refuses it (said loudly, recorded)")
    train.add_argument("--project", type=Path, default=REPO_ROOT,
                       help="folder with config.yml, domain.yml and data/ (default: this checkout)")
    evaluate = commands.add_parser(
        "evaluate", help="score a model on the held-out set; write its evaluation file and charts")
    evaluate.add_argument("model", nargs="?",
                          help="a model file or a name in the models folder (default: the live model)")
    serve = commands.add_parser("serve", help="run one server in the foreground")
    serve.add_argument("server", choices=["rasa", "actions", "gateway"])
    commands.add_parser("model-path", help="print the model file for the current data")
    commands.add_parser("check", help="validate settings, the knowledge file and the crisis patterns")
    purge = commands.add_parser(
        "purge", help="delete conversations, notes, closed handoffs and callbacks older than RETENTION_DAYS")
    purge.add_argument("--dry-run", action="store_true", help="count what would be deleted; delete nothing")
    commands.add_parser("staff", help="staff console accounts: add, list, reset-password, unlock (see --help)")
    commands.add_parser("deploy", help="make a trained model live on the running rasa server, or --rollback")
    args = parser.parse_args(argv)

    try:
        settings = get_settings()
        if args.command == "train":
            return train_command(args.project.resolve(), args.retrain, args.force, settings)
        elif args.command == "evaluate":
            return evaluate_command(args.model, settings)
        elif args.command == "model-path":
            from bot.ops.training import model_path

            print(model_path())
        elif args.command == "check":
            check_data_files()
            print(f"settings, {settings.knowledge_file.name} and crisis patterns are valid")
            warn_of_stale_knowledge(settings)
            print(f"demo page with the chat widget: http://{settings.gateway_host}:{settings.gateway_port}/")
            print(f"rasa gateway channel (loopback, token): http://127.0.0.1:{settings.rasa_port}/webhooks/gateway/webhook")
            print(f"staff console:                  http://{settings.gateway_host}:{settings.gateway_port}/console"
                  "  (accounts: .venv/bin/python -m bot staff add --email ... --name ...)")
        elif args.command == "purge":
            purge_expired_data(settings, args.dry_run)
        elif args.command == "serve":
            check_data_files()
            return serve_forever(args.server, settings)
    except (SettingsError, KnowledgeFileError, CrisisPatternError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


def train_command(project: Path, retrain: bool, force: bool, settings) -> int:
    """0: the model is live; 1: the regression gate refused it (`make run` goes on); 2: no model."""
    import subprocess

    from bot.ops.training import GateRefused, ensure_trained

    missing = [name for name in ("config.yml", "domain.yml", "data") if not (project / name).exists()]
    if missing:
        print(f"error: {project} is not a project folder (no {', '.join(missing)})", file=sys.stderr)
        return 2
    try:
        ensure_trained(project, settings, retrain=retrain, force=force)
    except subprocess.CalledProcessError as failed:
        print(f"error: rasa train failed (exit code {failed.returncode}); see its output above", file=sys.stderr)
        return 2
    except GateRefused as refused:
        live = refused.live.name if refused.live else "none (no model was made live yet)"
        print(f"\nerror: the regression gate refused {refused.verdict.candidate}:", file=sys.stderr)
        for reason in refused.verdict.reasons:
            print(f"  - {reason}", file=sys.stderr)
        print(f"the live model stays: {live}. To make it live anyway: `python -m bot train --force` "
              "(`make train FORCE=1`); see docs/operations.md, Regression gate.", file=sys.stderr)
        return 1
    return 0


def evaluate_command(model: str | None, settings) -> int:
    from bot.domain import model_registry
    from bot.ops.evaluation import evaluate, table

    if model is None:
        path = model_registry.live_model(settings)
        if path is None:
            print("error: no model is live yet; name one (python -m bot evaluate MODEL) or run `make train`",
                  file=sys.stderr)
            return 2
    elif Path(model).is_file():
        path = Path(model)
    else:
        try:
            path = model_registry.model_file(settings, model)
        except model_registry.UnknownModel as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
    report = evaluate(path.absolute())
    print(table(report))
    print(f"\nwrote {model_registry.evaluation_file(path).name} and its charts beside {path}")
    return 0


def check_data_files() -> None:
    """Fail before a server starts, with a clear message, rather than on a visitor's message."""
    from bot.domain.knowledge.loader import default as knowledge
    from bot.domain.safety.detector import CrisisDetector

    knowledge()
    CrisisDetector.from_file()


def warn_of_stale_knowledge(settings) -> None:
    """Stale answers do not stop the bot (visitors still need it); `make test` fails on them."""
    import datetime

    from bot.domain.knowledge.freshness import problems
    from bot.domain.knowledge.loader import default as knowledge

    found = problems(knowledge(), datetime.date.today(), settings.knowledge_review_days,
                     settings.knowledge_law_review_days)
    for problem in found:
        print(f"warning: {problem}", file=sys.stderr)
    if found:
        print("warning: re-check those knowledge entries (the console's Knowledge page lists them)", file=sys.stderr)


def purge_expired_data(settings, dry_run: bool) -> None:
    from bot.store import migrate
    from bot.store.retention import purge_expired

    # As the staff command does: a fresh install's app DB gets its tables instead of an error.
    migrate(settings.app_db_url)
    report = purge_expired(settings, dry_run=dry_run)
    verb = "would be deleted" if dry_run else "deleted"
    for kind, count in report.counts().items():
        print(f"{kind.replace('_', ' ')}: {count} {verb} (older than {report.cutoff:%Y-%m-%d %H:%M} UTC)")


def serve_forever(server: str, settings) -> int:
    from bot.ops.processes import (
        PublicPythonMissing,
        action_server_command,
        gateway_command,
        rasa_environment,
        rasa_server_command,
    )

    (REPO_ROOT / "var").mkdir(exist_ok=True)
    if server == "rasa":
        model = model_to_serve(settings)
        if model is None:
            return 2
        command = rasa_server_command(str(model), settings)
    else:
        try:
            command = action_server_command(settings) if server == "actions" else gateway_command(settings)
        except PublicPythonMissing as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
    os.chdir(REPO_ROOT)
    os.execve(command[0], command, rasa_environment(settings))


def model_to_serve(settings) -> Path | None:
    """The live model; before any was made live, the model for the current data. Says which."""
    from bot.domain import model_registry

    live = model_registry.live_model(settings)
    if live is not None:
        print(f"serving the live model {live.name} ({settings.models_dir / model_registry.LIVE_POINTER})", flush=True)
        return live
    # Only here: finding the model for the data imports the training code, which loads TensorFlow.
    from bot.ops.training import model_path

    model = model_path(settings=settings)
    if not model.exists():
        print(f"error: no live model and no model for the current data ({model.name}); run `make train`",
              file=sys.stderr)
        return None
    print(f"no model was made live yet: serving the model for the current data, {model.name}", flush=True)
    return model


if __name__ == "__main__":
    sys.exit(main())
