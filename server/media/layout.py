"""Where each on-air member goes in the 1280×720 programme: pure geometry, first member first.

Speaker and slides share one shape (the first large on the left, the others in a column on the right);
they differ in who comes first (server/media/stage.py decides). Grid gives everyone the same tile.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

WIDTH, HEIGHT = 1280, 720
LARGE_WIDTH = 960  # the large tile: three quarters of the width, the column of small ones beside it
SMALL_WIDTH, SMALL_HEIGHT = 320, 180


class Layout(enum.StrEnum):
    SPEAKER = "speaker"  # the one answering (or the first on air) large, the others small
    GRID = "grid"  # equal tiles
    SLIDES = "slides"  # the screen share large, cameras beside it


@dataclass(frozen=True)
class Rect:
    x: int
    y: int
    w: int
    h: int


def rectangles(layout: Layout, count: int) -> list[Rect]:
    if count <= 0:
        return []
    if count == 1:
        return [Rect(0, 0, WIDTH, HEIGHT)]
    if layout is Layout.GRID:
        half_w, half_h = WIDTH // 2, HEIGHT // 2
        if count == 2:
            return [Rect(0, HEIGHT // 4, half_w, half_h), Rect(half_w, HEIGHT // 4, half_w, half_h)]
        cells = [Rect(0, 0, half_w, half_h), Rect(half_w, 0, half_w, half_h)]
        if count == 3:
            return [*cells, Rect(WIDTH // 4, half_h, half_w, half_h)]
        return [*cells, Rect(0, half_h, half_w, half_h), Rect(half_w, half_h, half_w, half_h)][:count]
    small = count - 1
    top = (HEIGHT - small * SMALL_HEIGHT) // 2
    return [Rect(0, 0, LARGE_WIDTH, HEIGHT)] + [
        Rect(LARGE_WIDTH, top + i * SMALL_HEIGHT, SMALL_WIDTH, SMALL_HEIGHT) for i in range(small)
    ]


def fit(source_w: int, source_h: int, box: Rect) -> Rect:
    """The largest even-sized rectangle of the source's aspect inside `box`, centred (letterbox)."""
    scale = min(box.w / max(source_w, 1), box.h / max(source_h, 1))
    w = max(2, int(source_w * scale) // 2 * 2)
    h = max(2, int(source_h * scale) // 2 * 2)
    return Rect(box.x + (box.w - w) // 2 // 2 * 2, box.y + (box.h - h) // 2 // 2 * 2, w, h)
