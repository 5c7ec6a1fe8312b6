"""The appliance clock: host time plus a cumulative shift that tests can move forward or back.

`host_ms()` is the one place the emulator reads the host's time (the clock below, the dataset's default
anchor): tests and the docs generator pin it there, so the data and every answer are the same at any hour.
"""
from __future__ import annotations

import threading
import time


def host_ms() -> int:
    """The host's time in epoch milliseconds."""
    return int(time.time() * 1000)


class Clock:
    """Epoch-millisecond clock of the emulated appliance."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._shift_ms = 0

    def shift(self, seconds: float) -> int:
        """Move the clock by ``seconds`` (cumulative); returns the new appliance time."""
        with self._lock:
            self._shift_ms += int(round(seconds * 1000))
        return self.now_ms()

    @property
    def shift_ms(self) -> int:
        with self._lock:
            return self._shift_ms

    @staticmethod
    def host_ms() -> int:
        # Looked up at each call, so pinning the module's host_ms pins every clock.
        return host_ms()

    def now_ms(self) -> int:
        return self.host_ms() + self.shift_ms
