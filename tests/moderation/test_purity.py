"""moderation/ is a pure core: stdlib only, and never the adapters or I/O frameworks."""

import ast
import pathlib

import pytest

PACKAGE = pathlib.Path(__file__).resolve().parents[2] / "moderation"
ALLOWED_STDLIB = frozenset(
    {"__future__", "collections", "dataclasses", "enum", "functools", "math", "re", "types", "typing", "unicodedata"}
)
FORBIDDEN = frozenset({"server", "archive", "starlette", "sqlalchemy", "redis", "aiortc", "asyncio"})
MODULES = sorted(PACKAGE.glob("*.py"))


def imported_roots(path: pathlib.Path) -> set[str]:
    roots: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            # Relative imports stay inside the package.
            roots.add("moderation" if node.level else (node.module or "").split(".")[0])
    return roots


def test_the_package_has_modules() -> None:
    assert len(MODULES) > 5


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.name)
def test_module_imports_only_the_stdlib_allow_list(path: pathlib.Path) -> None:
    roots = imported_roots(path)
    assert not roots & FORBIDDEN
    assert roots <= ALLOWED_STDLIB | {"moderation"}, roots - ALLOWED_STDLIB


def test_checker_catches_a_forbidden_import(tmp_path: pathlib.Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("import asyncio\nfrom server.db import x\nfrom . import y\n", encoding="utf-8")
    assert imported_roots(bad) == {"asyncio", "server", "moderation"}
