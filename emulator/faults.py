"""Fault injection: a queue of pending faults and one rule per fault kind.

A fault applies to the next ``count`` signed-API requests whose method matches (None = any)
and whose path starts with ``path`` (None = any). Faults apply before authentication, the way
a proxy or an overloaded appliance fails before it looks at credentials. The control interface
under ``/_emulator/`` is never faulted.

Hostile-server faults: ``trickle`` sends the normal answer's body one byte every ``delay_s`` seconds;
``trickle_headers`` the whole answer so, from the first byte of its status line;
``huge_body`` a 200 JSON reply of ``size_bytes`` (an empty list padded with spaces);
``gzip_bomb`` the same body gzip-compressed (about 1,000 times smaller on the wire), built lazily
from one cached compressed block; ``wrong_shape`` a 200 whose JSON is ``payload``; ``echo_error``
a ``status`` (500 by default; 401 gives an HTML page) whose body echoes the request headers,
tokens and signature included. A ``status`` fault's ``retry_after`` may be any text.
"""
from __future__ import annotations

import functools
import gzip
import json
import threading
import time
from dataclasses import asdict, dataclass
from typing import Any, Callable, Iterator, Protocol

from emulator.wire import LOGIN_PAGE, Response, html_response, json_response, status_phrase

FAULT_KINDS = ('status', 'delay', 'truncate', 'html_login', 'reset', 'trickle', 'trickle_headers', 'huge_body',
               'gzip_bomb', 'wrong_shape', 'echo_error')
DEFAULT_HUGE_BYTES = 2 ** 30
BLOCK_BYTES = 2 ** 20


@dataclass
class Fault:
    """One pending fault; ``count`` is how many more requests it will hit."""
    kind: str
    count: int = 1
    method: str | None = None
    path: str | None = None
    status: int | None = None
    retry_after: float | int | str | None = None
    delay_s: float | None = None
    size_bytes: int | None = None
    payload: Any = None

    def matches(self, method: str, path: str) -> bool:
        if self.method is not None and self.method.upper() != method.upper():
            return False
        return self.path is None or path.startswith(self.path)


def make_fault(kind: str, count: int = 1, method: str | None = None, path: str | None = None,
               status: int | None = None, retry_after: float | int | str | None = None,
               delay_s: float | None = None, size_bytes: int | None = None, payload: Any = None) -> Fault:
    """Validate the arguments of ``Emulator.inject_fault`` and build the Fault."""
    if kind not in FAULT_KINDS:
        raise ValueError(f'unknown fault kind {kind!r}; known: {list(FAULT_KINDS)}')
    if not isinstance(count, int) or isinstance(count, bool) or count < 1:
        raise ValueError('count must be a positive integer')
    if kind == 'status' or (kind == 'echo_error' and status is not None):
        if not isinstance(status, int) or not 400 <= status <= 599:
            raise ValueError(f'a {kind} fault needs status between 400 and 599')
    if kind == 'delay' or (kind in ('trickle', 'trickle_headers') and delay_s is not None):
        if not isinstance(delay_s, (int, float)) or delay_s < 0:
            raise ValueError(f'a {kind} fault needs delay_s >= 0')
    if size_bytes is not None and (not isinstance(size_bytes, int) or size_bytes < 2):
        raise ValueError('size_bytes must be a whole number of at least 2')
    if retry_after is not None and not isinstance(retry_after, str) and (
            not isinstance(retry_after, (int, float)) or retry_after < 0):
        raise ValueError('retry_after must be a number of seconds >= 0, or text (sent as it is)')
    return Fault(kind=kind, count=count, method=method, path=path, status=status,
                 retry_after=retry_after, delay_s=delay_s, size_bytes=size_bytes, payload=payload)


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

    headers: Any  # the request headers

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
    if isinstance(fault.retry_after, str):
        reply.headers['Retry-After'] = fault.retry_after
    elif fault.retry_after is not None:
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


def _trickle_rule(fault: Fault, answer: Callable[[], Response], connection: Connection) -> Response:
    reply = answer()
    body, reply.body = reply.body, b''
    reply.stream, reply.length = (body[i:i + 1] for i in range(len(body))), len(body)
    reply.interval_s = 1.0 if fault.delay_s is None else float(fault.delay_s)
    return reply


def _trickle_headers_rule(fault: Fault, answer: Callable[[], Response], connection: Connection) -> Response:
    reply = _trickle_rule(fault, answer, connection)
    reply.trickle_head = True
    return reply


def _padded_list(size: int, block: bytes) -> Iterator[bytes]:
    """An empty JSON list padded with spaces to `size` bytes: '[', whole blocks, the rest, ']'."""
    yield b'['
    blocks, rest = divmod(size - 2, BLOCK_BYTES)
    for _ in range(blocks):
        yield block
    yield b' ' * rest + b']'


def _huge_body_rule(fault: Fault, answer: Callable[[], Response], connection: Connection) -> Response:
    size = fault.size_bytes or DEFAULT_HUGE_BYTES
    return Response(status=200, stream=_padded_list(size, b' ' * BLOCK_BYTES), length=size)


@functools.lru_cache(maxsize=None)
def _gzip_member(data: bytes) -> bytes:
    return gzip.compress(data, compresslevel=9, mtime=0)


def _gzip_bomb_rule(fault: Fault, answer: Callable[[], Response], connection: Connection) -> Response:
    # A gzip stream may hold several members, each decompressed in turn: one cached member of a
    # block of spaces, repeated, inflates to `size` bytes without ever being built in memory.
    size = fault.size_bytes or DEFAULT_HUGE_BYTES
    blocks, rest = divmod(size - 2, BLOCK_BYTES)
    head, block, tail = _gzip_member(b'['), _gzip_member(b' ' * BLOCK_BYTES), _gzip_member(b' ' * rest + b']')
    members = [head] + [block] * blocks + [tail]
    return Response(status=200, stream=iter(members), length=sum(map(len, members)),
                    headers={'Content-Encoding': 'gzip'})


def _wrong_shape_rule(fault: Fault, answer: Callable[[], Response], connection: Connection) -> Response:
    return json_response(fault.payload)


def _echo_error_rule(fault: Fault, answer: Callable[[], Response], connection: Connection) -> Response:
    status = int(fault.status or 500)
    echoed = {name: value for name, value in connection.headers.items()}
    if status == 401:
        lines = ''.join(f'<li>{name}: {value}</li>' for name, value in echoed.items())
        return html_response(f'<html><head><title>401 Authorization Required</title></head><body><h1>401 '
                             f'Authorization Required</h1><p>Request headers:</p><ul>{lines}</ul></body></html>',
                             status=status)
    return json_response({'error': f'Internal error handling request with headers {json.dumps(echoed)}'},
                         status=status)


FAULT_RULES: dict[str, FaultRule] = {
    'status': _status_rule,
    'delay': _delay_rule,
    'truncate': _truncate_rule,
    'html_login': _html_login_rule,
    'reset': _reset_rule,
    'trickle': _trickle_rule,
    'trickle_headers': _trickle_headers_rule,
    'huge_body': _huge_body_rule,
    'gzip_bomb': _gzip_bomb_rule,
    'wrong_shape': _wrong_shape_rule,
    'echo_error': _echo_error_rule,
}
