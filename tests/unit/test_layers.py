"""The package's layers: imports point only down (docs/architecture.md, "Layout").

settings ← domain ← store ← {gateway, actions, rasa_plugins, cli, ops}; the gateway and the
actions never import each other; nothing inside `rasa run` imports Starlette. Every import
counts, including those inside functions.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path
from typing import Dict, Iterable, Iterator, Set, Tuple

import pytest

from bot.settings import REPO_ROOT

# What each part of the code may import from this project (besides itself).
ALLOWED: Dict[str, Set[str]] = {
    "bot.settings": set(),
    "bot.domain": {"bot.settings"},
    "bot.store": {"bot.settings", "bot.domain"},
    "actions": {"bot.settings", "bot.domain"},
    "bot.rasa_plugins": {"bot.settings", "bot.domain", "bot.store"},
    "bot.gateway": {"bot.settings", "bot.domain", "bot.store"},
    "bot.ops": {"bot.settings", "bot.domain", "bot.rasa_plugins"},
    "bot.cli": {"bot.settings", "bot.domain", "bot.store", "bot.ops"},
    "bot": {"bot.cli"},
    "devtools": {"bot.settings", "bot.ops"},
}
# Third-party packages a layer must not load.
FORBIDDEN: Dict[str, Set[str]] = {
    "bot.settings": {"sqlalchemy", "starlette", "rasa", "rasa_sdk", "requests", "httpx"},
    "bot.domain": {"sqlalchemy", "starlette", "rasa", "rasa_sdk", "requests", "httpx", "redis"},
    "bot.store": {"starlette", "rasa_sdk", "requests", "httpx"},
    "actions": {"sqlalchemy", "starlette", "rasa"},
    "bot.rasa_plugins": {"starlette"},
}
PROJECT = ("bot", "actions", "devtools")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO_ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def layer_of(module: str) -> str:
    """The longest ALLOWED key that is the module or a package above it."""
    candidates = [key for key in ALLOWED if module == key or module.startswith(key + ".")]
    return max(candidates, key=len)


def imports_of(path: Path) -> Iterator[Tuple[int, str]]:
    module = module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                target = f"{base}.{node.module}" if node.module else base
            else:
                target = node.module or ""
            yield node.lineno, target
            # `from bot.store import handoffs` imports the submodule bot.store.handoffs.
            for alias in node.names:
                yield node.lineno, f"{target}.{alias.name}"


def sources(folders: Iterable[str]) -> Iterator[Path]:
    for folder in folders:
        yield from sorted((REPO_ROOT / folder).rglob("*.py"))


def violations(folders: Iterable[str] = PROJECT) -> Iterator[str]:
    for path in sources(folders):
        source_layer = layer_of(module_name(path))
        for line, target in imports_of(path):
            where = f"{path.relative_to(REPO_ROOT)}:{line}"
            top = target.split(".")[0]
            if top in PROJECT:
                target_layer = layer_of(target)
                if target_layer != source_layer and target_layer not in ALLOWED[source_layer]:
                    yield f"{where}: {source_layer} imports {target} ({target_layer})"
            elif top in FORBIDDEN.get(source_layer, set()):
                yield f"{where}: {source_layer} imports {top}"


def test_imports_point_only_down():
    assert list(violations()) == []


@pytest.mark.parametrize("source, line, expected", [
    ("bot/domain/knowledge/loader.py", "from bot.store import session_scope", "bot.domain imports bot.store"),
    ("bot/domain/safety/detector.py", "import sqlalchemy", "bot.domain imports sqlalchemy"),
    ("bot/gateway/app.py", "from actions.handoff import hand_over", "bot.gateway imports actions.handoff"),
    ("actions/handoff.py", "from bot.gateway import rasa_client", "actions imports bot.gateway"),
    ("bot/rasa_plugins/components.py", "from starlette.responses import Response",
     "bot.rasa_plugins imports starlette"),
    ("bot/settings.py", "    from bot.domain.handoffs import hours", "bot.settings imports bot.domain"),
])
def test_a_wrong_import_is_reported_with_where_it_is(tmp_path, monkeypatch, source, line, expected):
    original = REPO_ROOT / source
    copy = tmp_path / source
    copy.parent.mkdir(parents=True, exist_ok=True)
    body = original.read_text()
    if line.startswith("    "):
        body += f"\n\ndef _late():\n{line}\n"
    else:
        body = f"{line}\n{body}"
    copy.write_text(body)
    monkeypatch.setattr(sys.modules[__name__], "REPO_ROOT", tmp_path)
    found = list(violations([source.split("/")[0]]))
    assert any(expected in problem for problem in found), found
