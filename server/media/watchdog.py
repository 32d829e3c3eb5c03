"""Loss of media: a publisher whose RTP stops without a goodbye (a browser that died, a cable pulled).

ICE consent takes ~30 s to notice such a peer (aioice: 6 failed checks, 5 s apart); viewers
should not see LIVE over a frozen picture that long. `watch_media` runs for each publisher
session and reports when its frames stop for `MEDIA_LOSS_SECONDS` and when they come back.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable

# A publisher sends tens of frames a second (audio every 20 ms, video at 15-30 fps, and a
# keyframe at least every segment because we ask for one): 3 s of nothing is a lost peer,
# not a quiet one, and leaves room within the 5 s in which viewers must be told.
MEDIA_LOSS_SECONDS = 3.0
# How often the frame counter is read: detection within MEDIA_LOSS_SECONDS + this.
CHECK_INTERVAL_SECONDS = 0.5

FlowCallback = Callable[[bool], Awaitable[None] | None]


async def watch_media(
    frames: Callable[[], int],
    on_flow: FlowCallback,
    loss_after: float = MEDIA_LOSS_SECONDS,
    interval: float = CHECK_INTERVAL_SECONDS,
) -> None:
    """Call `on_flow(False)` once `frames()` has not moved for `loss_after` s, `on_flow(True)` when
    it moves again. Armed by the first frame: ICE and DTLS set-up is not a loss. Runs until cancelled."""
    loop = asyncio.get_running_loop()
    seen = frames()
    last_frame_at: float | None = None
    flowing = True
    while True:
        await asyncio.sleep(interval)
        count, now = frames(), loop.time()
        if count != seen:
            seen, last_frame_at = count, now
            if not flowing:
                flowing = True
                await _call(on_flow, True)
        elif flowing and last_frame_at is not None and now - last_frame_at >= loss_after:
            flowing = False
            await _call(on_flow, False)


async def _call(callback: FlowCallback, flowing: bool) -> None:
    result = callback(flowing)
    if inspect.isawaitable(result):
        await result
