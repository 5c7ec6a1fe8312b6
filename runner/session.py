"""Running commands and fetch cycles against a target and printing what they produce.

Exit codes: 0 success, 1 the integration reported an error (a type-4 entry, a failed fetch),
2 the runner could not start the command (syntax, unknown command, target, state file).
"""
from __future__ import annotations

import difflib

from dataclasses import dataclass, field
from typing import Any, Callable

from runner.output import Output, incident_source, json_view
from runner.spec import IntegrationSpec
from runner.syntax import CommandLine
from runner.targets import Target
from xsoar_platform import ERROR_ENTRY_TYPE, FETCH_COMMAND, run_command, run_fetch_cycle

EXIT_OK = 0
EXIT_COMMAND_FAILED = 1
EXIT_USAGE = 2


@dataclass
class Session:
    """A target plus how to run and show things on it."""

    target: Target
    spec: IntegrationSpec
    out: Output
    param_overrides: dict[str, str] = field(default_factory=dict)
    as_json: bool = False
    verbose: bool = False

    def __post_init__(self) -> None:
        self.out.add_secret(self.target.private_token)

    def run(self, parsed: CommandLine) -> int:
        """Run one command and print its entries; the exit code says whether it succeeded."""
        if parsed.command == FETCH_COMMAND:
            self.out.error('fetch-incidents is run by fetch mode: python -m runner fetch [--cycles N] [--state FILE]')
            return EXIT_USAGE
        command_spec = self.spec.command(parsed.command)
        if command_spec is None and parsed.command != 'test-module':
            self.out.error(unknown_command_message(parsed.command, ['test-module', *sorted(self.spec.commands)]))
            return EXIT_USAGE
        if parsed.platform_args:
            self.out.error(f'Note: ignoring {", ".join(sorted(parsed.platform_args))}, which only tells XSOAR how to '
                           'run a command.')
        args = dict(parsed.args)
        if command_spec is not None:
            unknown = sorted(set(args) - set(command_spec.arguments))
            if unknown:
                self.out.error(f'Note: {", ".join(unknown)} not defined for !{parsed.command} in Darktrace.yml; '
                               'passed on anyway.')
            # XSOAR fills in the YAML default of every argument left out.
            args = {**command_spec.defaults, **args}
        result = run_command(parsed.command, args, self.target.params(self.spec, self.param_overrides, False))
        entries = list(result.entries)
        if result.error is not None:  # the platform turns an escaped exception into an error entry
            entries.append({'Type': ERROR_ENTRY_TYPE, 'ContentsFormat': 'text', 'Contents': result.error})
        if self.verbose:
            self.out.logs(result.logs)
        if self.as_json:
            self.out.json(json_view(entries))
        else:
            for entry in entries:
                self.out.entry(entry)
            if not entries:
                self.out.print('(no output)')
        return EXIT_COMMAND_FAILED if result.failed else EXIT_OK

    def fetch(self, cycles: int, last_run: dict[str, Any],
              on_cycle: Callable[[dict[str, Any]], None] | None = None) -> tuple[int, dict[str, Any]]:
        """Run fetch cycles from `last_run`, printing each one's incidents; `on_cycle` gets each new lastRun.

        Stops at the first failed cycle, which (as on the platform) leaves lastRun unchanged.
        """
        params = self.target.params(self.spec, self.param_overrides, True)
        report: list[dict[str, Any]] = []
        code = EXIT_OK
        for cycle in range(1, cycles + 1):
            result = run_fetch_cycle(params, last_run)
            if self.verbose:
                self.out.logs(result.logs)
            if result.error is not None:
                self.out.error(f'Fetch cycle {cycle} of {cycles} failed; lastRun is unchanged.\n{result.error}')
                code = EXIT_COMMAND_FAILED
                break
            last_run = result.last_run or {}
            if on_cycle is not None:
                on_cycle(last_run)
            if self.as_json:
                report.append({'cycle': cycle, 'incidents': result.incidents, 'lastRun': last_run})
                continue
            plural = '' if len(result.incidents) == 1 else 's'
            events = sum(1 for incident in result.incidents if incident_source(incident)[0] == 'AI Analyst')
            by_source = f' ({len(result.incidents) - events} model breaches, {events} AI Analyst incidents)' \
                if 'AI Analyst' in str(params.get('fetch_sources')) else ''
            self.out.print(f'Fetch cycle {cycle} of {cycles}: {len(result.incidents)} incident{plural}{by_source}')
            self.out.incidents_table(result.incidents)
            self.out.print()
        if self.as_json:
            self.out.json({'cycles': report})
        return code, last_run


def unknown_command_message(command: str, known: list[str]) -> str:
    """Says the command is unknown, suggests the closest known ones, and lists them all one per line, in columns."""
    close = difflib.get_close_matches(command, known, n=3, cutoff=0.6)
    lines = [f'Unknown command "!{command}": Darktrace.yml does not define it.']
    if close:
        lines.append('Did you mean ' + ' or '.join(f'!{name}' for name in close) + '?')
    lines.append(f'The {len(known)} commands:')
    width = max(len(name) for name in known) + 3
    per_line = max(1, 110 // width)
    for start in range(0, len(known), per_line):
        lines.append('  ' + ''.join(f'!{name}'.ljust(width) for name in known[start:start + per_line]).rstrip())
    return '\n'.join(lines)
