"""The fault catalogue: every fault kind thrown at the integration through the emulator, written once.

tests/test_faults.py asserts what each does to every command, test-module and fetch; bench/fault_matrix.py prints
the same outcomes as the tables of docs/reliability.md. A fault is what `Emulator.inject_fault` takes, whether
retrying a GET cures it, what the War Room must say when it is not cured, and the integration's limits (module
constants read at run time) lowered while it runs, so a hostile server's fault ends in seconds, not minutes.
"""
from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from types import ModuleType
from typing import Any

NOT_RETRIED = 'It was not retried'
STOPPED_WAITING = "Stopped waiting for Darktrace's reply"
# A read timeout is provoked by a reply delayed this much longer than the (lowered) read timeout.
READ_TIMEOUT_MARGIN_S = 0.15
# Hostile-server faults run with small limits, so nothing waits minutes or reads a gigabyte.
HOSTILE_COMMAND_TIME_LIMIT_S = 1.0
TRICKLE_INTERVAL_S = 0.6  # even a 2-byte reply then takes longer than the limit
HEAD_TRICKLE_INTERVAL_S = 0.1  # a status line and headers of 150 bytes or more then take 15 s or more
# Each trickled byte comes within the read timeout, so only the command's time limit can end the read.
TRICKLE_LIMITS = (('COMMAND_TIME_LIMIT_S', HOSTILE_COMMAND_TIME_LIMIT_S), ('READ_TIMEOUT_S', 5.0))
HOSTILE_REPLY_CAP = 2 ** 20
# The fetch run's read budget grows with the fetch cap, so a reply over it still narrows the window within the run.
CAP_LIMITS = (('MAX_REPLY_BYTES', HOSTILE_REPLY_CAP), ('FETCH_MAX_REPLY_BYTES', HOSTILE_REPLY_CAP),
              ('FETCH_MAX_RUN_BYTES', 3 * HOSTILE_REPLY_CAP))
OVER_THE_CAP = 'more than 1,048,576 bytes'


@dataclass(frozen=True)
class Fault:
    """One fault kind as `Emulator.inject_fault` takes it, and whether retrying a GET cures it."""

    name: str  # the test id
    label: str  # the fault matrix's column
    inject: dict[str, Any]
    transient: bool
    get_error: str = ''  # what the War Room must say when a GET is not cured by retrying
    post_errors: tuple[str, ...] = ()  # what it must say when a POST fails this way
    limits: tuple[tuple[str, Any], ...] = ()  # Darktrace constants lowered while this fault runs


def fault_catalogue(read_timeout_s: float) -> list[Fault]:
    """Every fault kind; a read timeout is provoked with the integration's read timeout lowered to read_timeout_s."""
    return [
        Fault('429', '429 + Retry-After 1', {'kind': 'status', 'status': 429, 'retry_after': 1}, True,
              post_errors=('(HTTP 429)', NOT_RETRIED)),
        Fault('500', '500', {'kind': 'status', 'status': 500}, False, get_error='internal error (HTTP 500',
              post_errors=('(HTTP 500)', NOT_RETRIED)),
        Fault('502', '502', {'kind': 'status', 'status': 502}, True, post_errors=('(HTTP 502)', NOT_RETRIED)),
        Fault('503', '503', {'kind': 'status', 'status': 503}, True, post_errors=('(HTTP 503)', NOT_RETRIED)),
        Fault('504', '504', {'kind': 'status', 'status': 504}, True, post_errors=('(HTTP 504)', NOT_RETRIED)),
        Fault('truncate', 'truncated body', {'kind': 'truncate'}, False, get_error='not valid JSON',
              post_errors=('not valid JSON', 'probably applied')),
        Fault('html_login', 'HTML login page', {'kind': 'html_login'}, False, get_error='login web page',
              post_errors=('login web page',)),
        Fault('reset', 'connection reset', {'kind': 'reset'}, True,
              post_errors=('closed before Darktrace answered', NOT_RETRIED)),
        Fault('read_timeout', 'read timeout', {'kind': 'delay', 'delay_s': read_timeout_s + READ_TIMEOUT_MARGIN_S},
              True, post_errors=('did not answer within', NOT_RETRIED), limits=(('READ_TIMEOUT_S', read_timeout_s),)),
        # A hostile or broken server: none of these is cured by retrying, and none may stall, exhaust or crash.
        Fault('trickle', f'trickle 1 B / {TRICKLE_INTERVAL_S} s', {'kind': 'trickle', 'delay_s': TRICKLE_INTERVAL_S},
              False, get_error='Stopped reading the reply',
              post_errors=('Stopped reading the reply', 'probably applied'), limits=TRICKLE_LIMITS),
        # The status line and headers too, so the reply is stalled before the integration's own reading starts.
        Fault('trickle_headers', f'trickled headers 1 B / {HEAD_TRICKLE_INTERVAL_S} s',
              {'kind': 'trickle_headers', 'delay_s': HEAD_TRICKLE_INTERVAL_S}, False, get_error=STOPPED_WAITING,
              post_errors=(STOPPED_WAITING, 'probably applied'), limits=TRICKLE_LIMITS),
        Fault('huge_body', '1 MiB + 1 body', {'kind': 'huge_body', 'size_bytes': HOSTILE_REPLY_CAP + 1}, False,
              get_error=OVER_THE_CAP, post_errors=(OVER_THE_CAP, 'probably applied'), limits=CAP_LIMITS),
        Fault('gzip_bomb', 'gzip bomb 1 GiB', {'kind': 'gzip_bomb'}, False,
              get_error=f'{OVER_THE_CAP} (after decompression)',
              post_errors=(f'{OVER_THE_CAP} (after decompression)', 'probably applied'), limits=CAP_LIMITS),
        Fault('wrong_shape', 'reply 42', {'kind': 'wrong_shape', 'payload': 42}, False,
              get_error='with the number 42 where', post_errors=('with the number 42 where', 'took effect')),
        Fault('echo_error', '500 echoing headers', {'kind': 'echo_error'}, False,
              get_error='internal error (HTTP 500', post_errors=('(HTTP 500)', NOT_RETRIED)),
        Fault('retry_after_garbage', '503 + Retry-After garbage',
              {'kind': 'status', 'status': 503, 'retry_after': 'garbage'}, True,
              post_errors=('(HTTP 503)', NOT_RETRIED)),
    ]


@contextlib.contextmanager
def lowered_limits(integration: ModuleType, fault: Fault) -> Iterator[None]:
    """The fault's limits set on the integration module for the block, then put back."""
    saved = {name: getattr(integration, name) for name, _ in fault.limits}
    for name, value in fault.limits:
        setattr(integration, name, value)
    try:
        yield
    finally:
        for name, value in saved.items():
            setattr(integration, name, value)
