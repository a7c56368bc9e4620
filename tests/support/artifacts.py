"""Where tests leave what a person looks at after a failure: screenshots, server logs."""

from pathlib import Path

from bot.settings import REPO_ROOT

ARTIFACTS = REPO_ROOT / "artifacts"


def artifacts_dir(name: str) -> Path:
    path = ARTIFACTS / name
    path.mkdir(parents=True, exist_ok=True)
    return path
