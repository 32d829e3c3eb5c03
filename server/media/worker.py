"""A single thread that runs submitted callables in order, off the event loop."""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from collections.abc import Callable
from typing import Any

logger = logging.getLogger(__name__)

_STOP = object()


class SerialWorker:
    """Owns one thread; `stop()` runs what was submitted, then joins it."""

    def __init__(self, name: str) -> None:
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()
        self._stopped = False

    def submit(self, fn: Callable[..., Any], *args: Any) -> None:
        if not self._stopped:
            self._queue.put((fn, args, None))

    async def call(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Run `fn` after everything already submitted and await its result."""
        if self._stopped:
            raise RuntimeError("worker stopped")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        self._queue.put((fn, args, (loop, future)))
        return await future

    async def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        self._queue.put(_STOP)
        await asyncio.to_thread(self._thread.join)

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is _STOP:
                return
            fn, args, reply = item
            try:
                result = fn(*args)
            except Exception as exc:
                if reply is None:
                    logger.exception("media worker task %s failed", getattr(fn, "__name__", fn))
                else:
                    loop, future = reply
                    loop.call_soon_threadsafe(_settle, future, None, exc)
                continue
            if reply is not None:
                loop, future = reply
                loop.call_soon_threadsafe(_settle, future, result, None)


def _settle(future: asyncio.Future[Any], result: Any, exc: BaseException | None) -> None:
    if future.done():
        return
    if exc is not None:
        future.set_exception(exc)
    else:
        future.set_result(result)
