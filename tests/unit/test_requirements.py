"""Every distribution the code imports is declared: production's in requirements.in, the tests' and
tools' in requirements-dev.in; the production lock holds no test tool and agrees with the dev lock."""

from __future__ import annotations

import ast
import re
import sys
from functools import lru_cache
from importlib.metadata import distributions as installed, packages_distributions
from pathlib import Path
from typing import Dict, Set

import pytest

from bot.settings import REPO_ROOT

LOCAL = {"bot", "actions", "devtools", "tests", "benchmarks"}


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def declared(path: Path) -> Set[str]:
    names = set()
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line.startswith("-r "):
            names |= declared(path.parent / line[3:].strip())
        elif line:
            names.add(canonical(re.split(r"[\[=<>!~; ]", line, maxsplit=1)[0]))
    return names


def pins(path: Path) -> Dict[str, str]:
    found = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#"):
            name, version = line.split("==")
            found[canonical(re.sub(r"\[.*\]", "", name))] = version
    return found


def imported_modules(folder: str) -> Dict[str, str]:
    """Top-level third-party modules imported anywhere under the folder (lazy imports too), with a file."""
    found: Dict[str, str] = {}
    for path in sorted((REPO_ROOT / folder).rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = ([alias.name for alias in node.names] if isinstance(node, ast.Import)
                     else [node.module] if isinstance(node, ast.ImportFrom) and node.module and not node.level
                     else [])
            for name in names:
                top = name.split(".")[0]
                if top not in sys.stdlib_module_names and top not in LOCAL and top != "__future__":
                    found.setdefault(top, str(path.relative_to(REPO_ROOT)))
    return found


@lru_cache(maxsize=None)
def distributions_of(module: str) -> Set[str]:
    """The installed distributions that provide a top-level module. Python 3.10's
    packages_distributions misses those without top_level.txt, so their RECORD is read too."""
    found = {canonical(dist) for dist in packages_distributions().get(module, ())}
    if not found:
        entry = re.compile(rf"^{re.escape(module)}(/|\.py,)", re.M)
        found = {canonical(dist.metadata["Name"]) for dist in installed()
                 if entry.search(dist.read_text("RECORD") or "")}
    return found


PRODUCTION = declared(REPO_ROOT / "requirements.in")
DEVELOPMENT = declared(REPO_ROOT / "requirements-dev.in")


@pytest.mark.parametrize("folder, allowed", [("bot", PRODUCTION), ("actions", PRODUCTION),
                                             ("tests", DEVELOPMENT), ("benchmarks", DEVELOPMENT),
                                             ("devtools", DEVELOPMENT)], ids=["bot", "actions", "tests",
                                                                              "benchmarks", "devtools"])
def test_every_imported_distribution_is_declared(folder, allowed):
    undeclared = {module: where for module, where in imported_modules(folder).items()
                  if not distributions_of(module) & allowed}
    assert undeclared == {}, "declare their distributions in requirements.in (or requirements-dev.in for tests)"


def test_the_production_lock_agrees_with_the_dev_lock_and_holds_no_test_tool():
    production, development = pins(REPO_ROOT / "requirements.lock"), pins(REPO_ROOT / "requirements-dev.lock")
    assert {name: version for name, version in production.items() if development.get(name) != version} == {}
    assert PRODUCTION <= set(production), PRODUCTION - set(production)
    assert DEVELOPMENT <= set(development), DEVELOPMENT - set(development)
    test_tools = DEVELOPMENT - PRODUCTION - {"requests", "websockets", "aiohttp", "anyio"}
    assert {"pytest", "playwright", "mypy", "ruff"} <= test_tools
    assert test_tools & set(production) == set()


PUBLIC = declared(REPO_ROOT / "requirements-public.in")
# What runs on Python 3.11 in .venv-public: the gateway and the action server, with what they import.
PUBLIC_FOLDERS = ("bot/gateway", "bot/store", "bot/domain", "actions")


@pytest.mark.parametrize("folder", PUBLIC_FOLDERS)
def test_what_the_gateway_and_actions_import_is_in_the_public_environment(folder):
    undeclared = {module: where for module, where in imported_modules(folder).items()
                  if not distributions_of(module) & PUBLIC}
    assert undeclared == {}, "declare their distributions in requirements-public.in"


def test_the_public_lock_pins_what_requirements_public_in_declares():
    public = pins(REPO_ROOT / "requirements-public.lock")
    assert PUBLIC <= set(public), PUBLIC - set(public)
    assert "rasa" not in public and "tensorflow" not in public
