"""The drill: the outside probes of issue 12 replayed against real servers, each bounded in time.

Every test under tests/drill/ is marked `drill`.
"""

from __future__ import annotations

import pathlib

import pytest

HERE = pathlib.Path(__file__).resolve().parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in item.path.parents:
            item.add_marker(pytest.mark.drill)
