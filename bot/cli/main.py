"""Command line: `python -m bot train | model-path | check | purge | staff ... | serve rasa|actions|gateway`."""

from __future__ import annotations

import argparse
import os
import sys

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
    train = commands.add_parser("train", help="build the spaCy pipeline and train if the data changed")
    train.add_argument("--force", action="store_true", help="train even if a model for this data exists")
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
            from bot.ops.training import ensure_trained

            ensure_trained(force=args.force)
        elif args.command == "model-path":
            from bot.ops.training import model_path

            print(model_path())
        elif args.command == "check":
            check_data_files()
            print(f"settings, {settings.knowledge_file.name} and crisis patterns are valid")
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


def check_data_files() -> None:
    """Fail before a server starts, with a clear message, rather than on a visitor's message."""
    from bot.domain.knowledge.loader import default as knowledge
    from bot.domain.safety.detector import CrisisDetector

    knowledge()
    CrisisDetector.from_file()


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
        # Only here: finding the model imports the training code, which loads TensorFlow.
        from bot.ops.training import model_path

        model = model_path()
        if not model.exists():
            print(f"error: no model for the current data ({model.name}); run `make train`", file=sys.stderr)
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


if __name__ == "__main__":
    sys.exit(main())
