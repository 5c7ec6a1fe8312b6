"""``python -m emulator``: run the appliance emulator in the foreground until interrupted.

Prints one line, ``EMULATOR URL=<url> PUBLIC=<public token>`` (plus ``PRIVATE=<token>`` with
``--show-private``), then serves until SIGINT or SIGTERM.
"""
from __future__ import annotations

import argparse
import signal
import sys
import threading
from typing import Any

from emulator.facade import Emulator


def parse_arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog='python -m emulator', description='Darktrace appliance emulator')
    parser.add_argument('--port', type=int, default=0, help='port on 127.0.0.1 (0 = any free port)')
    parser.add_argument('--tls', action='store_true', help='serve HTTPS with a fresh self-signed certificate')
    parser.add_argument('--breaches', type=int, default=500, help='number of generated model breaches')
    parser.add_argument('--incident-events', type=int, default=0,
                        help='number of AI Analyst incident events generated beside the seeded incidents')
    parser.add_argument('--span-days', type=float, default=7, help='days the breaches are spread over')
    parser.add_argument('--seed', type=int, default=1, help='seed of the generated dataset')
    parser.add_argument('--show-private', action='store_true', help='also print the private token')
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    arguments = parse_arguments(argv)
    emulator = Emulator(breaches=arguments.breaches, span_days=arguments.span_days, seed=arguments.seed,
                        incident_events=arguments.incident_events,
                        tls=arguments.tls, port=arguments.port)
    stopped = threading.Event()

    def request_stop(signum: int, frame: Any) -> None:
        stopped.set()

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    emulator.start()
    line = f'EMULATOR URL={emulator.url} PUBLIC={emulator.public_token}'
    if arguments.show_private:
        line += f' PRIVATE={emulator.private_token}'
    if emulator.cert_path:
        line += f' CERT={emulator.cert_path}'
    print(line, flush=True)
    try:
        while not stopped.wait(0.5):
            pass
    finally:
        emulator.stop()
    return 0


if __name__ == '__main__':
    sys.exit(main())
