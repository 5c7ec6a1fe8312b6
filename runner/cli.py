"""Command-line entry point of the runner."""
from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path
from typing import Any, TextIO

from runner.demo import run_demo
from runner.output import Output
from runner.render import DEFAULT_WIDTH
from runner.session import EXIT_USAGE, Session
from runner.spec import load_spec
from runner.state import DEFAULT_STATE_FILE, FetchState, StateError, check_identity, load_state, save_state
from runner.syntax import CommandSyntaxError, parse_command_line, parse_shell_words
from runner.targets import (EMULATOR_DATASET, PRIVATE_TOKEN_VARIABLE, PUBLIC_TOKEN_VARIABLE, Target, TargetError,
                            appliance_target, emulator_target, parse_param_overrides)

FETCH_MODE = 'fetch'
# Output read later (a file, a pipe, CI logs) is seldom shown in a window as narrow as 80 columns.
NOT_A_TERMINAL_WIDTH = 120
USAGE = """\
python -m runner [options] '!command name=value name="two words" ...'
       python -m runner [options] fetch [--cycles N] [--state FILE]
       python -m runner --demo"""
DESCRIPTION = f"""\
Runs the Darktrace integration through Darktrace.main() as XSOAR would, and prints the War Room
output for a terminal. By default it targets an emulated appliance started for the run
({EMULATOR_DATASET['breaches']} model breaches and {EMULATOR_DATASET['incident_events']} AI Analyst incident events \
over {EMULATOR_DATASET['span_days']} days); \
what a command changes there lasts for that run only.
With --url it targets a real appliance, reading the token pair from the environment
variables {PUBLIC_TOKEN_VARIABLE} and {PRIVATE_TOKEN_VARIABLE}."""
EPILOG = """\
examples:
  python -m runner '!darktrace-get-similar-devices did=1 max_results=2'
  python -m runner '!darktrace-get-tagged-devices tagName="Critical Asset"' --json
  python -m runner test-module
  python -m runner fetch --cycles 3 --param max_alerts=10
  DARKTRACE_PUBLIC_TOKEN=... DARKTRACE_PRIVATE_TOKEN=... python -m runner --url https://dt.example.com test-module
exit codes: 0 success, 1 the integration returned an error, 2 the command could not be run."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog='python -m runner', usage=USAGE, description=DESCRIPTION, epilog=EPILOG,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('words', nargs='*', metavar='COMMAND',
                        help='a War Room command in one argument (or as separate shell words), or "fetch"')
    parser.add_argument('--json', action='store_true', help='print the context and the raw entry as JSON')
    parser.add_argument('--url', help='a real appliance, e.g. https://darktrace.example.com')
    parser.add_argument('--insecure', action='store_true', help='trust any certificate (not secure)')
    parser.add_argument('--proxy', action='store_true',
                        help='use the system proxy, from HTTPS_PROXY / HTTP_PROXY (as XSOAR\'s "Use system proxy")')
    parser.add_argument('--param', action='append', default=[], metavar='NAME=VALUE',
                        help='an instance parameter, e.g. max_alerts=50 or first_fetch="7 days" (repeatable)')
    parser.add_argument('--cycles', type=int, default=None, help='fetch mode: number of fetch cycles (default 1)')
    parser.add_argument('--state', default=None, metavar='FILE',
                        help=f'fetch mode: the lastRun file kept between runs (default {DEFAULT_STATE_FILE})')
    parser.add_argument('--width', type=int, default=None,
                        help=f'output width in columns (default: the terminal\'s; {NOT_A_TERMINAL_WIDTH} when '
                             'the output is not a terminal)')
    parser.add_argument('-v', '--verbose', action='store_true', help='also print the integration\'s log lines')
    parser.add_argument('--demo', action='store_true',
                        help='run every line of command_examples and three fetch cycles against the emulator')
    return parser


def _width(requested: int | None, stdout: TextIO) -> int:
    if requested is not None:
        return max(20, requested)
    if hasattr(stdout, 'isatty') and stdout.isatty():
        return max(20, shutil.get_terminal_size((DEFAULT_WIDTH, 24)).columns)
    return NOT_A_TERMINAL_WIDTH


def _target(options: argparse.Namespace, environ: dict[str, str], anchor_ms: int | None = None) -> Target:
    if options.url:
        return appliance_target(options.url, options.insecure, options.proxy, environ)
    target = emulator_target(anchor_ms)
    target.insecure, target.proxy = options.insecure, options.proxy
    return target


def _fetch(options: argparse.Namespace, out: Output, environ: dict[str, str]) -> int:
    cycles = 1 if options.cycles is None else options.cycles
    if cycles < 1:
        out.error('--cycles must be at least 1.')
        return EXIT_USAGE
    spec = load_spec()
    overrides = parse_param_overrides(spec, options.param)
    path = Path(options.state or DEFAULT_STATE_FILE)
    state = load_state(path)
    anchor_ms = None
    if state is not None and not options.url:
        # The emulator regenerates its breaches around a time anchor: reuse the anchor of the run
        # that wrote the state, so the same pbids sit at the same times.
        check_identity(path, state, {'target': 'emulator', **EMULATOR_DATASET}, ('target', *EMULATOR_DATASET))
        if not isinstance(state.identity.get('anchor_ms'), int):
            raise StateError(f'{path} does not say which emulated dataset it belongs to (no anchor_ms); delete it '
                             'to fetch from "first_fetch" again.')
        anchor_ms = state.identity['anchor_ms']
    target = _target(options, environ, anchor_ms)
    try:
        if state is not None:
            check_identity(path, state, target.identity, tuple(target.identity))
        session = Session(target, spec, out, overrides, as_json=options.json, verbose=options.verbose)
        if not options.json:
            out.paragraph(f'Fetching from the {target.description}; lastRun in {path}'
                          f'{" (resumed)" if state is not None else " (new: starting at first_fetch)"}.')
            out.print()

        def keep(last_run: dict[str, Any]) -> None:
            save_state(path, FetchState(identity=target.identity, last_run=last_run))

        code, _ = session.fetch(cycles, state.last_run if state is not None else {}, on_cycle=keep)
        return code
    finally:
        target.stop()


def _command(options: argparse.Namespace, out: Output, environ: dict[str, str]) -> int:
    words = options.words
    parsed = parse_command_line(words[0]) if len(words) == 1 else parse_shell_words(words)
    spec = load_spec()
    overrides = parse_param_overrides(spec, options.param)
    target = _target(options, environ)
    try:
        return Session(target, spec, out, overrides, as_json=options.json, verbose=options.verbose).run(parsed)
    finally:
        target.stop()


def main(argv: list[str] | None = None, stdout: TextIO | None = None, stderr: TextIO | None = None,
         environ: dict[str, str] | None = None) -> int:
    """Run the runner with `argv` (default: sys.argv[1:]); returns the exit code."""
    stdout = stdout or sys.stdout
    stderr = stderr or sys.stderr
    environ = dict(os.environ) if environ is None else environ
    parser = _parser()
    try:
        options = parser.parse_args(argv)
    except SystemExit as exit_request:  # --help, or an option argparse could not read (it printed why)
        return int(exit_request.code or 0)
    out = Output(stdout, stderr, _width(options.width, stdout))
    fetch_mode = bool(options.words) and options.words[0] in (FETCH_MODE, 'fetch-incidents', '!fetch-incidents')
    try:
        if (options.cycles is not None or options.state is not None) and not fetch_mode:
            raise TargetError('--cycles and --state belong to fetch mode: python -m runner fetch --cycles N')
        if options.demo:
            if options.words or options.url:
                raise TargetError('--demo runs against the emulator only, and takes no command.')
            return run_demo(out, parse_param_overrides(load_spec(), options.param), as_json=options.json,
                            verbose=options.verbose)
        if fetch_mode:
            if len(options.words) > 1:
                raise TargetError(f'fetch mode takes options only, not "{" ".join(options.words[1:])}".')
            return _fetch(options, out, environ)
        if not options.words:
            parser.print_usage(stderr)
            out.error('Give a command, "fetch", or --demo (see --help).')
            return EXIT_USAGE
        return _command(options, out, environ)
    except (CommandSyntaxError, TargetError, StateError) as error:
        out.error(str(error))
        return EXIT_USAGE
    except KeyboardInterrupt:
        out.error('Interrupted.')
        return 130
