"""How long the Test button takes to answer when it cannot reach the appliance, over real sockets.

    python -m bench.connection_errors [--limit-s 10]

Runs test-module through main(), with the default retry budget (60 s), against:
- a closed port: a 127.0.0.1 socket bound and never listening, so connecting is refused;
- a host name that does not resolve: resolution fails in this process the way an unknown name does (tests/network.py;
  no DNS query leaves the machine, so a slow or missing DNS server on this machine does not enter the figure);
- a plain-HTTP server behind an https:// URL: the emulator, serving HTTP, asked for TLS.
Prints, for each, the seconds until the War Room error, the retries logged and the head of the error; exits 1 when
one took longer than --limit-s (10 s: what issue #24 asks of the Test button) or succeeded.
"""
from __future__ import annotations

import argparse
import contextlib
import socket
import sys
import time
from collections.abc import Callable, Iterator

import xsoar_platform  # noqa: E402

xsoar_platform.use_platform_modules()  # the stand-ins, or the real modules from XSOAR_PLATFORM_DIR
from emulator import Emulator  # noqa: E402
from network import unresolvable  # noqa: E402


@contextlib.contextmanager
def closed_port() -> Iterator[str]:
    with socket.socket() as holder:
        holder.bind(('127.0.0.1', 0))
        yield f'http://127.0.0.1:{holder.getsockname()[1]}'


@contextlib.contextmanager
def unresolvable_name() -> Iterator[str]:
    with unresolvable('darktrace.invalid'):
        yield 'https://darktrace.invalid'


@contextlib.contextmanager
def plain_http_server() -> Iterator[str]:
    with Emulator(breaches=10, span_days=1, seed=5) as emulator:
        yield emulator.url.replace('http://', 'https://')


CASES: dict[str, Callable[[], contextlib.AbstractContextManager[str]]] = {
    'closed port (connection refused)': closed_port,
    'host name that does not resolve': unresolvable_name,
    'https:// URL to a plain-HTTP server': plain_http_server,
}


def measure(url: str) -> tuple[float, int, str | None]:
    """(seconds, retries logged, the error) of one test-module run against `url`."""
    params = xsoar_platform.instance_params(url, 'bench-public', 'bench-private', insecure=False, proxy=False,
                                            retry_budget_seconds='60')
    started = time.monotonic()
    result = xsoar_platform.run_command('test-module', {}, params)
    seconds = time.monotonic() - started
    retries = sum('Darktrace: retrying' in line for _, line in result.logs)
    return seconds, retries, (result.errors or [None])[0]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--limit-s', type=float, default=10.0)
    options = parser.parse_args(argv)
    print('| case | seconds | retries | error (head) |\n|---|---|---|---|')
    slow = []
    for name, case in CASES.items():
        with case() as url:
            seconds, retries, error = measure(url)
        head = ' '.join((error or 'SUCCEEDED').split('Error:', 1)[-1].split())[:110]
        print(f'| {name} | {seconds:.2f} | {retries} | {head} |', flush=True)
        if error is None or seconds > options.limit_s:
            slow.append(name)
    print(f'Limit {options.limit_s:g} s: ' + ('all within it' if not slow else f'NOT MET by {", ".join(slow)}'))
    return 1 if slow else 0


if __name__ == '__main__':
    sys.exit(main())
