"""Stopping a long computation cleanly on SIGINT (Ctrl-C) or SIGTERM.

``stop_signals()`` is a context manager that, in the main thread, replaces the handlers of
SIGINT and SIGTERM by one that only records the signal. The computation polls
the flag's ``signum`` between two steps, saves what it must, and raises ``Interrupted``. A second
SIGINT while the first is pending raises KeyboardInterrupt at once, for a user who does not want
to wait. The previous handlers are restored on exit. Outside the main thread (where Python
cannot set handlers) it does nothing and ``signum`` stays None.

``Interrupted`` subclasses KeyboardInterrupt, so code that stops on Ctrl-C stops here too; the
CLI prints its one-line message and exits with 128 + the signal number, the shell's convention.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

__all__ = ["Interrupted", "StopFlag", "stop_signals"]

_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Interrupted(KeyboardInterrupt):
    """A computation stopped on a signal after saving its state; ``str()`` is one line."""

    def __init__(self, message: str, signum: int, step: int | None = None, checkpoint: str | None = None):
        super().__init__(message)
        self.message, self.signum, self.step, self.checkpoint = message, signum, step, checkpoint

    @property
    def exit_code(self) -> int:
        """128 + the signal number (130 for SIGINT, 143 for SIGTERM)."""
        return 128 + self.signum

    @property
    def signal_name(self) -> str:
        return signal.Signals(self.signum).name

    def __str__(self) -> str:
        return self.message


@dataclass
class StopFlag:
    """``signum``: the signal received inside ``stop_signals()``, or None."""

    signum: int | None = None
    _previous: dict = field(default_factory=dict, repr=False)


@contextmanager
def stop_signals() -> Iterator[StopFlag]:
    """Record SIGINT and SIGTERM instead of dying, for the duration of the block (see module doc)."""
    flag = StopFlag()
    if threading.current_thread() is not threading.main_thread():
        yield flag
        return

    def record(signum, frame):
        if flag.signum == signal.SIGINT and signum == signal.SIGINT:
            raise KeyboardInterrupt  # a second Ctrl-C: stop now
        flag.signum = signum

    for number in _SIGNALS:
        flag._previous[number] = signal.signal(number, record)
    try:
        yield flag
    finally:
        for number, handler in flag._previous.items():
            signal.signal(number, handler)
