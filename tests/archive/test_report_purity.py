"""The report's computation is plain functions over plain data: stdlib only, no adapters, no I/O frameworks."""

from __future__ import annotations

import ast
import pathlib

import pytest

ARCHIVE = pathlib.Path(__file__).resolve().parents[2] / "archive"
PURE = ("attendance.py", "report.py", "training.py", "exports.py", "charts.py")
ALLOWED = frozenset(
    {
        "__future__",
        "collections",
        "csv",
        "dataclasses",
        "datetime",
        "io",
        "math",
        "re",
        "secrets",
        "statistics",
        "typing",
        "urllib",
        "xml",
        "archive",
        "polls",  # the quiz score a training record needs: a pure domain itself (tests/polls/test_purity.py)
    }
)


@pytest.mark.parametrize("name", PURE)
def test_imports_only_the_stdlib_and_archive(name: str) -> None:
    roots: set[str] = set()
    for node in ast.walk(ast.parse((ARCHIVE / name).read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            roots.add("archive" if node.level else (node.module or "").split(".")[0])
    assert roots <= ALLOWED, roots - ALLOWED
