"""`--demo`: every line of `command_examples`, then three fetch cycles, against a fresh emulator.

Every step must succeed: a failing line is reported at the end and makes the exit code 1.
"""
from __future__ import annotations

import time

from runner.examples import COMMAND_EXAMPLES, example_lines
from runner.output import Output
from runner.session import EXIT_COMMAND_FAILED, EXIT_OK, Session
from runner.spec import load_spec
from runner.syntax import CommandSyntaxError, parse_command_line
from runner.targets import emulator_target

DEMO_FETCH_CYCLES = 3
# Ten incidents a cycle keeps the three fetch tables short enough to read; --param max_alerts=N overrides.
# Both sources, so the tables show model breaches and AI Analyst incidents side by side.
DEMO_PARAMS = {'max_alerts': '10', 'fetch_sources': 'Model Breaches,AI Analyst Incidents'}


def run_demo(out: Output, param_overrides: dict[str, str], as_json: bool = False, verbose: bool = False) -> int:
    lines = example_lines()
    started = time.monotonic()
    target = emulator_target()
    failures: list[str] = []
    try:
        session = Session(target, load_spec(), out, {**DEMO_PARAMS, **param_overrides}, as_json=as_json,
                          verbose=verbose)
        out.paragraph(f'Darktrace integration demo against the {target.description}: {len(lines)} commands from '
                      f'{COMMAND_EXAMPLES.name}, then {DEMO_FETCH_CYCLES} fetch cycles '
                      f'(max_alerts={session.param_overrides["max_alerts"]}).')
        for number, line in enumerate(lines, 1):
            out.section(f'[{number}/{len(lines)}] {line}')
            try:
                code = session.run(parse_command_line(line))
            except CommandSyntaxError as error:
                out.error(str(error))
                code = EXIT_COMMAND_FAILED
            if code != EXIT_OK:
                failures.append(line)
        out.section(f'fetch-incidents: {DEMO_FETCH_CYCLES} cycles from a new instance '
                    '(lastRun carried from cycle to cycle)')
        code, _ = session.fetch(DEMO_FETCH_CYCLES, {})
        if code != EXIT_OK:
            failures.append('fetch-incidents')
    finally:
        target.stop()
    elapsed = time.monotonic() - started
    if failures:
        out.error(f'Demo failed: {len(failures)} step(s) did not succeed:\n' + '\n'.join(failures))
        return EXIT_COMMAND_FAILED
    out.print(f'Demo finished: {len(lines)} commands and {DEMO_FETCH_CYCLES} fetch cycles succeeded '
              f'in {elapsed:.1f} s.')
    return EXIT_OK
