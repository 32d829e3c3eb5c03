"""`make run` (python -m server run) says which system program is missing, before anything else."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from server import tools

ROOT = Path(__file__).resolve().parents[2]


def test_run_without_ffmpeg_stops_with_a_message_naming_it(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "PATH": str(tmp_path),
        "PYTHONPATH": str(ROOT),
        "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/x.db",
    }
    done = subprocess.run(
        [sys.executable, "-m", "server", "run"], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 1
    assert "ffmpeg: report stills" in done.stderr and "apt-get install ffmpeg" in done.stderr
    assert not (tmp_path / "x.db").exists()  # nothing started


def test_every_program_checked_is_named_in_the_readme() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    start = readme.index("## Two commands")
    section = readme[start : readme.index("## Configuration")]
    assert all(f"`{name}`" in section for name in tools.REQUIRED)


def test_this_machine_has_them() -> None:
    assert tools.problem() is None
