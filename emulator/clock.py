"""The appliance clock: host time plus a cumulative shift that tests can move forward or back."""
from __future__ import annotations

import threading
import time


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
        return int(time.time() * 1000)

    def now_ms(self) -> int:
        return self.host_ms() + self.shift_ms
