"""Docs stay true: every setting is in the README with its default; the README shows both commands."""

from __future__ import annotations

from pathlib import Path

from server.settings import documented_settings

ROOT = Path(__file__).resolve().parents[1]


def test_every_setting_is_documented_with_its_default() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for env, default, _doc in documented_settings():
        row = next((line for line in readme.splitlines() if line.startswith(f"| `{env}` |")), None)
        assert row is not None, f"README.md does not document {env}"
        expected = f"`{default}`" if default else "(unset)"
        assert expected in row, f"README.md gives the wrong default for {env}: {row}"


def test_readme_shows_the_two_commands_first() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert readme.index("make run") < readme.index("## Configuration")
    assert readme.index("make test") < readme.index("## Configuration")


def test_ci_calls_make_test() -> None:
    assert "make test" in (ROOT / ".ci" / "run").read_text()


def test_every_websocket_frame_type_is_documented() -> None:
    from moderation.events import EVENT_TYPES
    from server.realtime.hub import SERVER_FRAME_TYPES

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## Real-time (WebSocket)") : readme.index("## Roles and tokens")]
    missing = sorted(t for t in EVENT_TYPES | SERVER_FRAME_TYPES if f"`{t}`" not in section)
    assert not missing, f"README's WebSocket section does not document: {missing}"


def test_every_poll_frame_type_is_documented() -> None:
    from server.polls.publisher import POLL_FRAME_TYPES

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## Real-time (WebSocket)") : readme.index("## Roles and tokens")]
    missing = sorted(t for t in POLL_FRAME_TYPES if f"`{t}`" not in section)
    assert not missing, f"README's WebSocket section does not document: {missing}"
