"""No backend is named outside providers/ (issue 15: "backends described by data").

Everything the rest of Chatdeck may know of a backend is a field of its ``BackendInfo``; so the code of the other
packages never spells a backend's name, never imports a backend's modules, and never names a variable after one.
The names come from the registry (every built-in backend), not from this file.

What is checked is code: string literals (f-string parts too), identifiers and imports. Comments and docstrings
are prose for people and may say "HuggingChat". Allowed, each with its reason:
- storage/migrations/: they must stay as they ran (historical data, e.g. a default backend of their day);
- the URL of seed 002's endpoint, ``/api/ai/<the REST backend>/...``: fixed by the seed's spec, so it is spelled
  out where routes and help texts show it (which backend answers it is ``BackendInfo.rest_api``).
bench/ is not checked: it drives specific simulators by name.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from providers import registry

ROOT = Path(__file__).resolve().parent.parent
CHECKED = ("access", "api", "arena", "imaging", "markup", "runner", "services", "sharing", "storage", "views",
           "application.py", "streamlit_app.py")
EXCLUDED = (ROOT / "storage" / "migrations",)  # historical data (see the module docstring)
SEED_URL = f"/api/ai/{registry.rest_backend()}/"  # seed 002's endpoint (see the module docstring)


def backend_names() -> set[str]:
    return {name.lower() for name in registry.BACKENDS}


def backend_modules() -> set[str]:
    """The module-name stems of the built-in backends (``allenai`` covers providers/allenai_wire.py too)."""
    return {factory.__module__.rsplit(".", 1)[-1] for factory in registry._FACTORIES.values()}


def _docstrings(tree: ast.AST) -> set[int]:
    """ids of the string constants that are statements of their own (docstrings, bare strings)."""
    return {id(node.value) for node in ast.walk(tree)
            if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
            and isinstance(node.value.value, str)}


def _identifier_parts(name: str) -> set[str]:
    return {part.lower() for part in name.split("_") if part}


def mentions(source: str, names: set[str], modules: set[str]) -> list[str]:
    """Where ``source`` names a backend: ``"line: what"`` for each mention found."""
    tree = ast.parse(source)
    prose = _docstrings(tree)
    word = re.compile(r"(?i)(?<![a-z0-9])(" + "|".join(map(re.escape, sorted(names))) + r")(?![a-z0-9])")
    found = []
    for node in ast.walk(tree):
        line = getattr(node, "lineno", 0)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in prose:
            text = node.value.replace(SEED_URL, "/api/ai/<seed endpoint>/")
            found += [f"{line}: string {m.group(0)!r}" for m in word.finditer(text)]
        elif isinstance(node, ast.Name | ast.Attribute | ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef
                             | ast.arg | ast.keyword | ast.alias):
            identifier = (node.id if isinstance(node, ast.Name) else node.attr if isinstance(node, ast.Attribute)
                          else node.arg if isinstance(node, ast.arg | ast.keyword) else node.name)
            if identifier and _identifier_parts(identifier.rsplit(".", 1)[-1]) & names:
                found.append(f"{line}: identifier {identifier}")
        if isinstance(node, ast.ImportFrom | ast.Import):
            imported = [node.module or ""] if isinstance(node, ast.ImportFrom) else [a.name for a in node.names]
            if isinstance(node, ast.ImportFrom) and node.module == "providers":
                imported = [f"providers.{a.name}" for a in node.names]
            for module in imported:
                parts = module.split(".")
                if parts[0] == "providers" and len(parts) > 1 and any(
                        parts[1] == stem or parts[1].startswith(stem + "_") for stem in modules):
                    found.append(f"{line}: imports {module}")
    return found


def checked_files() -> list[Path]:
    files: list[Path] = []
    for entry in CHECKED:
        path = ROOT / entry
        files += [path] if path.is_file() else sorted(path.rglob("*.py"))
    return [f for f in files if not any(f.is_relative_to(excluded) for excluded in EXCLUDED)]


def test_no_backend_is_named_outside_providers() -> None:
    names, modules = backend_names(), backend_modules()
    assert names and modules
    found = {str(f.relative_to(ROOT)): hits for f in checked_files()
             if (hits := mentions(f.read_text(encoding="utf-8"), names, modules))}
    assert found == {}, "backend names outside providers/ (make them BackendInfo fields or registry functions)"


def test_the_check_finds_each_kind_of_mention() -> None:
    """The check itself: every way of naming a backend is caught, prose and the seed's URL are not."""
    names, modules = backend_names(), backend_modules()
    for name in sorted(registry.BACKENDS):
        stem = registry._FACTORIES[name].__module__.rsplit(".", 1)[-1]
        source = (f'"""About {name}."""\n'  # a docstring: prose
                  f"# {name} in a comment\n"
                  f"KEYS = frozenset({{{name!r}}})\n"
                  f"if provider == {name.upper()!r}: pass\n"
                  f"label = f'{{x}} via {name}'\n"
                  f"{name}_url = 1\n"
                  f"from providers import {stem}\n"
                  f"from providers.{stem}_wire import x\n"
                  f"ROUTE = '{SEED_URL}{{publisher}}'\n")
        hits = mentions(source, names, modules)
        assert sorted({int(h.split(":")[0]) for h in hits}) == [3, 4, 5, 6, 7, 8], (name, hits)
