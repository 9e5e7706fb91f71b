"""The layering rules import-linter cannot state (its contracts are in pyproject.toml and run in scripts/test): read
from the source of src/quarry, so a rule holds for modules and packages that do not exist yet."""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"


def _module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path, root: Path) -> Iterator[tuple[int, str]]:
    """(line, module) for each import in a file, relative ones resolved; `from x import y` gives x and x.y (y may
    be a submodule)."""
    module = _module_name(path, root)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*parent, *([node.module] if node.module else [])])
            yield node.lineno, base
            for alias in node.names:
                yield node.lineno, f"{base}.{alias.name}"


def _files(root: Path, package: str) -> list[Path]:
    return sorted((root / package.replace(".", "/")).rglob("*.py"))


def emulator_imports_of_the_gateway(root: Path) -> list[str]:
    """Imports of Quarry from the emulator that are not of the emulator itself (`import quarry` included, which
    import-linter's forbidden contract cannot name without naming the emulator too)."""
    found = []
    for path in _files(root, "quarry.emulator"):
        for line, name in _imports(path, root):
            inside = name == "quarry.emulator" or name.startswith("quarry.emulator.")
            if (name == "quarry" or name.startswith("quarry.")) and not inside:
                found.append(f"{path.relative_to(root)}:{line} imports {name}")
    return found


def shared_api_modules_importing_a_dialect(root: Path) -> list[str]:
    """Imports of a dialect (`quarry.api.<name>`, a public subpackage) by a module quarry.api shares among them
    (`quarry.api._<name>`, the translation core among them), present or future."""
    api = root / "quarry" / "api"
    dialects = {path.name for path in api.iterdir() if path.is_dir() and not path.name.startswith("_")}
    found = []
    for path in sorted(api.glob("_*.py")) + sorted(api.glob("_*/**/*.py")):
        if path.name == "__init__.py" and path.parent == api:
            continue
        for line, name in _imports(path, root):
            parts = name.split(".")
            if parts[:2] == ["quarry", "api"] and len(parts) > 2 and parts[2] in dialects:
                found.append(f"{path.relative_to(root)}:{line} imports {name}")
    return found


def app_state_attributes(root: Path) -> list[str]:
    """Every `….app.state` / `app.state` in src: the app's state is reached through `quarry.api.context_of`."""
    found = []
    for path in _files(root, "quarry"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if not (isinstance(node, ast.Attribute) and node.attr == "state"):
                continue
            owner = node.value
            if (isinstance(owner, ast.Name) and owner.id == "app") or (
                isinstance(owner, ast.Attribute) and owner.attr == "app"
            ):
                found.append(f"{path.relative_to(root)}:{node.lineno} uses {ast.unparse(node)}")
    return found


@pytest.mark.parametrize(
    "rule", [emulator_imports_of_the_gateway, shared_api_modules_importing_a_dialect, app_state_attributes]
)
def test_src_keeps_the_rule(rule: Callable[[Path], list[str]]) -> None:
    assert rule(SRC) == []


def test_the_rules_find_what_they_forbid(tmp_path: Path) -> None:
    """Each rule reports a violation written into a scratch tree laid out like src/."""
    files = {
        "quarry/emulator/_app.py": "from quarry.settings import EmulatorSettings\nfrom quarry import __version__\n",
        "quarry/emulator/_ok.py": "from quarry.emulator._errors import BedrockError\nfrom . import _app\n",
        "quarry/api/__init__.py": "",
        "quarry/api/_core.py": "from quarry.api.openai._schemas import ChatMessage\nfrom . import anthropic\n",
        "quarry/api/_body.py": "from quarry.api._core import x\n",
        "quarry/api/openai/__init__.py": "",
        "quarry/api/anthropic/__init__.py": "",
        "quarry/server/_app.py": "def f(app, request):\n    app.state.x = 1\n    return request.app.state.services\n",
    }
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    assert emulator_imports_of_the_gateway(tmp_path) == [
        "quarry/emulator/_app.py:1 imports quarry.settings",
        "quarry/emulator/_app.py:1 imports quarry.settings.EmulatorSettings",
        "quarry/emulator/_app.py:2 imports quarry",
        "quarry/emulator/_app.py:2 imports quarry.__version__",
    ]
    assert shared_api_modules_importing_a_dialect(tmp_path) == [
        "quarry/api/_core.py:1 imports quarry.api.openai._schemas",
        "quarry/api/_core.py:1 imports quarry.api.openai._schemas.ChatMessage",
        "quarry/api/_core.py:2 imports quarry.api.anthropic",
    ]
    assert app_state_attributes(tmp_path) == [
        "quarry/server/_app.py:2 uses app.state",
        "quarry/server/_app.py:3 uses request.app.state",
    ]
