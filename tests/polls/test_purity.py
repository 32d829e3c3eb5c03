"""polls/ is a pure core like moderation/: stdlib only, never the adapters or I/O frameworks."""

import pathlib

import pytest

from tests.moderation.test_purity import FORBIDDEN, imported_roots

PACKAGE = pathlib.Path(__file__).resolve().parents[2] / "polls"
ALLOWED_STDLIB = frozenset(
    {"__future__", "collections", "dataclasses", "enum", "statistics", "types", "typing", "unicodedata"}
)
MODULES = sorted(PACKAGE.glob("*.py"))


def test_the_package_has_modules() -> None:
    assert len(MODULES) > 5


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.name)
def test_module_imports_only_the_stdlib_allow_list(path: pathlib.Path) -> None:
    roots = imported_roots(path)
    assert not roots & (FORBIDDEN | {"moderation", "jieba"})
    assert roots <= ALLOWED_STDLIB | {"polls"}, roots - ALLOWED_STDLIB
