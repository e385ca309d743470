"""How a run is stopped from outside: Ctrl-C, SIGTERM and SIGHUP end it like Ctrl-C, each with its own exit code."""

from __future__ import annotations

import signal
import sys
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from conformance.errors import StoppedBySignal
from conformance.transport import STOP_REQUESTED

if TYPE_CHECKING:
    from collections.abc import Iterator
    from types import FrameType


@dataclass
class Stop:
    """The signal that stopped a run; Ctrl-C unless SIGTERM or SIGHUP came first."""

    signum: int = signal.SIGINT


# Stopped like Ctrl-C: what CI runners send a step they cancel or time out (SIGTERM), and a closed terminal.
_STOP_SIGNALS = (signal.SIGTERM, signal.SIGHUP)


@contextmanager
def ctrl_c_sticks() -> Iterator[Stop]:
    """Within a run, Ctrl-C also stops every later request, even where a library swallowed its KeyboardInterrupt.

    SIGTERM and SIGHUP stop the run the same way (StoppedBySignal is a KeyboardInterrupt), and the run ends
    with 128 + the signal. Only where Python's own handling is in place (the main thread, SIGINT's default
    handler, SIGTERM and SIGHUP not ignored nor caught): a caller's own handling is left alone.
    """
    STOP_REQUESTED.clear()
    stop = Stop()
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return

    def on_stop(signum: int, frame: FrameType | None) -> None:
        if not STOP_REQUESTED.is_set():
            stop.signum = signum
        STOP_REQUESTED.set()
        if signum == signal.SIGINT:
            signal.default_int_handler(signum, frame)
        raise StoppedBySignal(signum)

    previous = {
        signum: handler
        for signum, handler in ((number, signal.getsignal(number)) for number in (signal.SIGINT, *_STOP_SIGNALS))
        if handler is (signal.default_int_handler if signum == signal.SIGINT else signal.SIG_DFL)
    }
    if not previous:
        yield stop
        return
    previous_hook = sys.unraisablehook

    def quiet_ctrl_c(unraisable: Any) -> None:  # noqa: ANN401 - sys.UnraisableHookArgs, private to typeshed
        # Ctrl-C that lands in a garbage-collector callback (Hypothesis has one) cannot be raised from it:
        # Python would print it as an ignored exception, with a traceback. The next request stops the run.
        if isinstance(unraisable.exc_value, KeyboardInterrupt) and STOP_REQUESTED.is_set():
            return
        previous_hook(unraisable)

    for signum in previous:
        signal.signal(signum, on_stop)
    sys.unraisablehook = quiet_ctrl_c
    try:
        yield stop
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        sys.unraisablehook = previous_hook


def while_interrupted(error: BaseException) -> bool:
    """Whether an error was raised while a KeyboardInterrupt was being handled, however deep."""
    seen: set[int] = set()
    cause: BaseException | None = error
    while cause is not None and id(cause) not in seen:
        if isinstance(cause, KeyboardInterrupt):
            return True
        seen.add(id(cause))
        cause = cause.__context__
    return False
