"""Fault matrix: every fault kind against every command, test-module and fetch, through main() and the emulator.

    python -m bench.fault_matrix                  print the tables (Markdown)
    python -m bench.fault_matrix --write-readme   also replace the `fault-matrix` block (docs/reliability.md)

Each fault hits the first request of the operation (as a proxy or an overloaded appliance would). A cell says
what the War Room got: "✓ retried" when the operation succeeded after the appliance saw the request a second
time, otherwise the head of the error message, and "sent once" when a change (POST) was not sent again. For
fetch, a second table drains an appliance while the fault keeps hitting its breach requests, and counts the
incidents lost and duplicated. A third table shows the other failures of the API notes against test-module.

Timing: Retry-After is 1 s and read timeouts are provoked by lowering Darktrace.READ_TIMEOUT_S to 0.25 s and
delaying a reply by 0.4 s. The hostile-server faults run with small limits (module constants the integration
reads at run time): a command time limit of 1 s against a reply trickled one byte every 0.6 s, and a reply cap
of 1 MiB against a 1 MiB + 1 byte body and a 1 GiB gzip bomb. Fetch narrows its window past a reply over the
cap, so in the fetch table those two hit every other run, like the faults a retry cannot cure.
"""
from __future__ import annotations

import argparse
import re
import socket
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import xsoar_platform  # noqa: E402

REPO_ROOT = xsoar_platform.REPO_ROOT

xsoar_platform.use_platform_modules()  # the stand-ins, or the real modules from XSOAR_PLATFORM_DIR
import Darktrace  # noqa: E402
from emulator import Emulator  # noqa: E402
from fault_catalogue import Fault, fault_catalogue, lowered_limits  # noqa: E402
from network import unresolvable  # noqa: E402
from readme_blocks import page_with_block, write_block  # noqa: E402
from runner.examples import example_args  # noqa: E402
from runner.targets import EMULATOR_DATASET  # noqa: E402

TEST_MODULE = 'test-module'
# What an XSOAR user knows test-module as (validation refuses the internal name in customer docs).
TEST_MODULE_LABEL = 'Test button of the instance'
FETCH = 'fetch-incidents'
READ_TIMEOUT_S = 0.25
RETRY_BUDGET_S = '5'

FAULTS = fault_catalogue(READ_TIMEOUT_S)

# The head of each message the integration gives, as a short cell text; the first match wins.
MESSAGE_HEADS = [
    ('Stopped reading the reply', 'time limit reached'),
    ("Stopped waiting for Darktrace's reply", 'time limit reached'),
    ('bytes (after decompression)', 'reply over the cap'),
    ('was expected', 'wrong reply shape'),
    ('internal error (HTTP 500', 'HTTP 500 internal error'),
    ('not valid JSON', 'not valid JSON'),
    ('login web page', 'login page, not data'),
    ('closed before Darktrace answered', 'connection closed'),
    ('did not answer within', 'read timeout'),
    ('could not serve', 'HTTP {status}'),
]


@dataclass
class Run:
    ok: bool
    error: str
    incidents: list[dict[str, Any]]
    last_run: dict[str, Any] | None


def run_operation(url: str, public: str, private: str, operation: str, args: dict[str, str],
                  last_run: dict[str, Any] | None = None, **params: str) -> Run:
    result = xsoar_platform.run_command(operation, args, xsoar_platform.instance_params(url, public, private, **{
        'retry_budget_seconds': RETRY_BUDGET_S, 'min_score': '0', 'max_alerts': '40', 'first_fetch': '3 days',
        **params}), last_run=last_run)
    error = result.error or (result.errors or [''])[0]
    return Run(not error, error, result.incidents, result.record.last_run)


def message_head(message: str) -> str:
    text = message.split('Error:\n', 1)[-1]
    for fragment, head in MESSAGE_HEADS:
        if fragment in text:
            status = text.split('(HTTP ', 1)[-1].split(')', 1)[0] if '(HTTP ' in text else ''
            return head.format(status=status)
    return text[:40]


def wait_for_delayed(emu: Emulator, method: str, path: str) -> None:
    """The emulator logs a delayed request only when it answers it, after the client gave up."""
    for _ in range(500):
        if any(e['fault'] == 'delay' and e['method'] == method and e['path'] == path for e in emu.request_log()):
            return
        threading.Event().wait(0.01)


def matrix(emu: Emulator, operations: list[str], args_of: Callable[[str], dict[str, str]]) -> list[list[str]]:
    rows = []
    for operation in operations:
        args = args_of(operation)
        emu.clear_faults()
        emu.clear_log()
        clean = run_operation(emu.url, emu.public_token, emu.private_token, operation, args)
        if not clean.ok:
            rows.append([operation] + [f'no clean run: {message_head(clean.error)}'] * len(FAULTS))
            continue
        first = emu.request_log()[0]
        method, path = first['method'], first['path']
        clean_count = sum(1 for e in emu.request_log() if e['method'] == method and e['path'] == path)
        cells = [f'{TEST_MODULE_LABEL} ({method})' if operation == TEST_MODULE else f'`{operation}` ({method})']
        for fault in FAULTS:
            emu.clear_log()
            emu.inject_fault(method=method, path=path, **fault.inject)
            with lowered_limits(Darktrace, fault):
                outcome = run_operation(emu.url, emu.public_token, emu.private_token, operation, args)
            if fault.inject['kind'] == 'delay':
                wait_for_delayed(emu, method, path)
            emu.clear_faults()
            sent = sum(1 for e in emu.request_log() if e['method'] == method and e['path'] == path)
            if outcome.ok and sent == clean_count + 1:
                cells.append('✓ retried')
            elif outcome.ok:
                cells.append(f'✓ (sent {sent}×)')
            elif method in Darktrace.IDEMPOTENT_METHODS:
                cells.append(f'✗ {message_head(outcome.error)}')
            else:
                cells.append(f'✗ {message_head(outcome.error)}, sent {"once" if sent == 1 else f"{sent}×"}')
        rows.append(cells)
    return rows


def drain_with_faults(fault: Fault) -> list[str]:
    """Fetch until caught up while the fault hits a breach request of every run (every other run when a retry
    cannot cure it, so the cursor can move at all); a failed run keeps lastRun, as the platform does."""
    with Emulator(breaches=300, span_days=2, seed=14) as emu:
        last_run: dict[str, Any] = {}
        delivered: list[int] = []
        runs = failed = 0
        for run in range(200):
            if fault.transient or run % 2 == 0:
                emu.inject_fault(method='GET', path='/modelbreaches', **fault.inject)
            with lowered_limits(Darktrace, fault):
                outcome = run_operation(emu.url, emu.public_token, emu.private_token, FETCH, {}, last_run,
                                        max_alerts='50', first_fetch='3 days')
            runs += 1
            if outcome.ok:
                last_run = outcome.last_run or last_run
            else:
                failed += 1
            delivered.extend(int(incident['dbotMirrorId']) for incident in outcome.incidents)
            caught_up = last_run.get('start_ms', 0) >= emu.now_ms() - Darktrace.SETTLE_MS - 60_000
            if outcome.ok and not outcome.incidents and caught_up:
                break
        if fault.inject['kind'] == 'delay':
            wait_for_delayed(emu, 'GET', '/modelbreaches')
        now = emu.now_ms()
        visible = {b.pbid for b in emu.dataset.breaches.values() if b.creation_time <= now}
    lost = len(visible - set(delivered))
    duplicated = len(delivered) - len(set(delivered))
    return [fault.label, str(runs), str(failed), str(len(set(delivered))), str(len(visible)), str(lost),
            str(duplicated)]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(('127.0.0.1', 0))
        return int(probe.getsockname()[1])


def other_failures(emu: Emulator) -> list[list[str]]:
    """The failures of the API notes that are not injected faults, against test-module (and one POST)."""
    rows = []

    def row(name: str, outcome: Run) -> None:
        # The first clause, with the emulator's random port hidden so the table is the same on every run.
        text = re.sub(r'https?://127\.0\.0\.1:\d+', '<url>', outcome.error.split('Error:\n', 1)[-1])
        text = re.sub(r'port \d+', 'port <port>', text)
        rows.append([name, 'ok' if outcome.ok else re.split(r'[:.] ', text, maxsplit=1)[0]])

    url, public, private = emu.url, emu.public_token, emu.private_token
    row('wrong private token', run_operation(url, public, 'wrong-private-token', TEST_MODULE, {}))
    emu.shift_clock(31 * 60)
    row('clocks 31 min apart', run_operation(url, public, private, TEST_MODULE, {}))
    emu.shift_clock(-31 * 60)
    emu.add_token_pair('bench-no-permission', 'bench-no-permission-private', set())
    row('no permission (302 to /403)', run_operation(url, 'bench-no-permission', 'bench-no-permission-private',
                                                     TEST_MODULE, {}))
    row('no permission (403 JSON)', run_operation(url, 'bench-no-permission', 'bench-no-permission-private',
                                                  'darktrace-post-to-watched-list', {'endpointsToWatch': 'x.example'}))
    row('unknown pbid (404)', run_operation(url, public, private, 'darktrace-get-model-breach', {'pbid': '999999999'}))
    with Emulator(breaches=10, span_days=1, seed=4, tls=True) as tls_emu:
        row('self-signed certificate', run_operation(tls_emu.url, tls_emu.public_token, tls_emu.private_token,
                                                     TEST_MODULE, {}, retry_budget_seconds='0'))
    # With the default 60 s budget: neither is retried for it (a refused connection is tried once more, at once).
    row('nothing listening', run_operation(f'http://127.0.0.1:{_free_port()}', public, private, TEST_MODULE, {},
                                           retry_budget_seconds='60'))
    with unresolvable('darktrace.invalid'):
        row('host name not found', run_operation('https://darktrace.invalid', public, private, TEST_MODULE, {},
                                                 retry_budget_seconds='60'))
    row('https:// URL to a plain-HTTP port', run_operation(url.replace('http://', 'https://'), public, private,
                                                           TEST_MODULE, {}, retry_budget_seconds='60'))
    emu.inject_fault('status', status=503, path='/status')
    row('503 with retry budget 0', run_operation(url, public, private, TEST_MODULE, {}, retry_budget_seconds='0'))
    emu.inject_fault('status', status=503, count=100, path='/status')
    row('503 until the 2 s budget is spent', run_operation(url, public, private, TEST_MODULE, {},
                                                           retry_budget_seconds='2'))
    emu.clear_faults()
    return rows


def table(headers: list[str], rows: list[list[str]]) -> str:
    lines = ['| ' + ' | '.join(headers) + ' |', '|' + '---|' * len(headers)]
    lines += ['| ' + ' | '.join(cell.replace('|', '\\|') for cell in row) + ' |' for row in rows]
    return '\n'.join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--write-readme', action='store_true',
                        help='replace the fault-matrix block (in docs/reliability.md)')
    options = parser.parse_args()
    setattr(Darktrace, 'READ_TIMEOUT_S', READ_TIMEOUT_S)  # short, so a delayed reply times out quickly
    started = time.monotonic()
    examples = example_args()
    operations = sorted(Darktrace.COMMANDS) + [TEST_MODULE, FETCH]
    missing = [name for name in Darktrace.COMMANDS if name not in examples]
    with Emulator(**EMULATOR_DATASET) as emu:
        rows = matrix(emu, [op for op in operations if op not in missing],
                      lambda operation: examples.get(operation, {}))
        others = other_failures(emu)
    drains = [drain_with_faults(fault) for fault in FAULTS]
    body = '\n\n'.join([
        '### Fault tolerance',
        'Measured against the emulator by `python -m bench.fault_matrix --write-readme`, which writes this section; '
        '`tests/test_faults.py` asserts the same outcomes for every command in the COMMANDS table.',
        '#### Fault kinds by operation',
        'Each fault hits the first request of the operation. "✓ retried": the appliance saw the request twice and '
        'the operation succeeded. "✗ …": the War Room error (a type-4 entry, never a traceback) begins so; "sent '
        'once": the change was not sent again. Retry budget 5 s.',
        table(['Operation'] + [fault.label for fault in FAULTS], rows),
        '#### fetch-incidents under repeated faults',
        'The fault hits a breach request of every fetch run (every other run for faults a retry cannot cure); a '
        'failed run keeps lastRun, as XSOAR does. 300 breaches over 2 days, max_alerts 50.',
        table(['Fault', 'Runs', 'Failed runs', 'Incidents', 'Breaches', 'Lost', 'Duplicated'], drains),
        f'#### Other failures ({TEST_MODULE_LABEL} unless stated)',
        table(['Failure', 'War Room message begins'], others),
    ] + ([f'Commands without a command_examples line (not in the matrix): {", ".join(missing)}'] if missing else []))
    print(body)
    print(f'\n({time.monotonic() - started:.0f} s)', file=sys.stderr)
    if options.write_readme:
        page = page_with_block('fault-matrix')
        changed = write_block(page, 'fault-matrix', body)
        print(f'{page.relative_to(REPO_ROOT)} fault-matrix block {"updated" if changed else "unchanged"}',
              file=sys.stderr)


if __name__ == '__main__':
    main()
