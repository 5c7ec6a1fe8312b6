"""Fault injection: a queue of pending faults and one rule per fault kind.

A fault applies to the next ``count`` signed-API requests whose method matches (None = any)
and whose path starts with ``path`` (None = any). Faults apply before authentication, the way
a proxy or an overloaded appliance fails before it looks at credentials. The control interface
under ``/_emulator/`` is never faulted.
"""
from __future__ import annotations

import threading
import time
from dataclasses import asdict, dataclass
from typing import Any, Callable, Protocol

from emulator.wire import LOGIN_PAGE, Response, html_response, json_response, status_phrase

FAULT_KINDS = ('status', 'delay', 'truncate', 'html_login', 'reset')


@dataclass
class Fault:
    """One pending fault; ``count`` is how many more requests it will hit."""
    kind: str
    count: int = 1
    method: str | None = None
    path: str | None = None
    status: int | None = None
    retry_after: float | int | None = None
    delay_s: float | None = None

    def matches(self, method: str, path: str) -> bool:
        if self.method is not None and self.method.upper() != method.upper():
            return False
        return self.path is None or path.startswith(self.path)


def make_fault(kind: str, count: int = 1, method: str | None = None, path: str | None = None,
               status: int | None = None, retry_after: float | int | None = None,
               delay_s: float | None = None) -> Fault:
    """Validate the arguments of ``Emulator.inject_fault`` and build the Fault."""
    if kind not in FAULT_KINDS:
        raise ValueError(f'unknown fault kind {kind!r}; known: {list(FAULT_KINDS)}')
    if not isinstance(count, int) or isinstance(count, bool) or count < 1:
        raise ValueError('count must be a positive integer')
    if kind == 'status':
        if not isinstance(status, int) or not 400 <= status <= 599:
            raise ValueError('a status fault needs status between 400 and 599')
    if kind == 'delay':
        if not isinstance(delay_s, (int, float)) or delay_s < 0:
            raise ValueError('a delay fault needs delay_s >= 0')
    if retry_after is not None and (not isinstance(retry_after, (int, float)) or retry_after < 0):
        raise ValueError('retry_after must be a number of seconds >= 0')
    return Fault(kind=kind, count=count, method=method, path=path, status=status,
                 retry_after=retry_after, delay_s=delay_s)


class FaultQueue:
    """Pending faults in the order they were injected; the oldest matching one fires."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []

    def add(self, fault: Fault) -> None:
        with self._lock:
            self._faults.append(fault)

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def pending(self) -> list[dict[str, Any]]:
        with self._lock:
            return [asdict(fault) for fault in self._faults]

    def take(self, method: str, path: str) -> Fault | None:
        """Consume one hit of the first matching fault, returning a copy of it."""
        with self._lock:
            for fault in self._faults:
                if fault.matches(method, path):
                    fault.count -= 1
                    if fault.count <= 0:
                        self._faults.remove(fault)
                    return Fault(**{**asdict(fault), 'count': 1})
        return None


class Connection(Protocol):
    """What a fault rule may do to the client connection."""

    def reset(self) -> None:
        """Drop the connection abruptly (RST), sending nothing."""


# A rule turns (fault, the normal answer, the connection) into the reply to send, or None when
# nothing is to be sent. The normal answer is computed lazily: only some rules need it.
FaultRule = Callable[[Fault, Callable[[], Response], Connection], Response | None]


def _status_rule(fault: Fault, answer: Callable[[], Response], connection: Connection) -> Response:
    status = int(fault.status or 500)
    phrase = status_phrase(status)
    if status in (502, 503, 504):
        # Gateway errors come from the reverse proxy in front of the appliance, as HTML.
        reply = html_response(
            f'<html><head><title>{status} {phrase}</title></head><body><center><h1>{status} {phrase}'
            f'</h1></center><hr><center>nginx</center></body></html>\n', status=status)
    else:
        reply = json_response({'error': phrase}, status=status)
    if fault.retry_after is not None:
        reply.headers['Retry-After'] = str(int(fault.retry_after) if float(fault.retry_after).is_integer()
                                           else fault.retry_after)
    return reply


def _delay_rule(fault: Fault, answer: Callable[[], Response], connection: Connection) -> Response:
    time.sleep(float(fault.delay_s or 0))
    return answer()


def _truncate_rule(fault: Fault, answer: Callable[[], Response], connection: Connection) -> Response:
    reply = answer()
    # Headers stay consistent (Content-Length is that of the cut body): the HTTP exchange
    # succeeds and only the JSON is broken, as when an upstream proxy cuts a buffered reply.
    reply.body = reply.body[:len(reply.body) // 2]
    return reply


def _html_login_rule(fault: Fault, answer: Callable[[], Response], connection: Connection) -> Response:
    return html_response(LOGIN_PAGE, status=200)


def _reset_rule(fault: Fault, answer: Callable[[], Response], connection: Connection) -> None:
    connection.reset()
    return None


FAULT_RULES: dict[str, FaultRule] = {
    'status': _status_rule,
    'delay': _delay_rule,
    'truncate': _truncate_rule,
    'html_login': _html_login_rule,
    'reset': _reset_rule,
}
