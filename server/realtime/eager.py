"""Send without a task per socket: run the ASGI send coroutine synchronously until it would block.

An ASGI server's `send` for a WebSocket message writes to the transport and returns without
suspending unless the socket's write buffer is over its high-water mark. Stepping the coroutine once
therefore completes the send in the common case at the cost of a function call; only a socket that
is actually backed up gets a task, which finishes the send when the buffer drains. This relies on
the coroutine protocol alone (send/throw), not on any server's internals.
"""

from __future__ import annotations

import types
from collections.abc import Coroutine, Generator
from typing import Any


def step(coro: Coroutine[Any, Any, Any]) -> tuple[bool, Any]:
    """Run `coro` until it first suspends. (True, None) when it finished; (False, yielded) otherwise.

    Exceptions raised by the coroutine propagate to the caller.
    """
    try:
        yielded = coro.send(None)
    except StopIteration:
        return True, None
    return False, yielded


@types.coroutine
def _continue(coro: Coroutine[Any, Any, Any], yielded: Any) -> Generator[Any, Any, Any]:
    # Hand the future the coroutine is blocked on to the running Task, then feed results back in.
    while True:
        try:
            received = yield yielded
        except BaseException as exc:  # cancellation included: deliver it to the suspended send
            try:
                yielded = coro.throw(exc)
            except StopIteration as stop:
                return stop.value
        else:
            try:
                yielded = coro.send(received)
            except StopIteration as stop:
                return stop.value


async def finish(coro: Coroutine[Any, Any, Any], yielded: Any) -> Any:
    """Await the rest of a coroutine that `step` left suspended on `yielded`."""
    return await _continue(coro, yielded)
