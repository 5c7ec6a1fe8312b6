"""Regenerate the `configuration` and `commands` blocks of README.md and the command reference in docs/.

    .venv/bin/python -m tools.gen_docs            what `make docs` runs: rewrite the blocks
    .venv/bin/python -m tools.gen_docs --check    exit 1 if a page differs from what would be written

Two views of the same commands: README.md's `commands` block gives each command's description, its
Input table and its example line (the README stays short enough to read, whatever the number of commands); the
`command-reference` block of docs/commands.md gives everything: Input and Context Output tables,
the example's context, what it returns to XSOAR and its War Room output (FULL_TRIM).

Sources, so the pages cannot drift from them:
- Darktrace.yml gives the parameter table and, per command, the description, the Input table
  (argument, description with the predefined values, required, default) and the Context
  Output table (path, type, description). `render_configuration` and
  `render_command_reference` are pure functions of the YAML; tests/test_docs.py calls them.
- command_examples gives each command's example line. Every line is run, in file order,
  through `Darktrace.main()` with the platform stand-ins (xsoar_platform.run_command, the
  code path of `make demo`), against one in-process emulator holding the runner's dataset
  (runner.targets.EMULATOR_DATASET), so a line that changes state (tag added, breach
  acknowledged, comment posted) is seen by the lines after it. As XSOAR does, the YAML default
  of every argument left out is filled in. The section of a command in docs/commands.md shows its
  first line, the EntryContext of its entries as nested JSON, and their HumanReadable quoted with `>` (for a note
  without one, such as a comment mirrored in, its text Contents). What a mirroring command hands
  back to XSOAR rather than to the War Room (the mirrored breach, the mapping fields, a close
  entry) is shown as JSON under "Returned to XSOAR". update-remote-system is normally run by XSOAR
  itself; its example line passes the platform's arguments (delta, entries) as JSON text.

Determinism (running twice, today or next year, writes the same text):
- The dataset is generated from a fixed seed around a fixed anchor, `EXAMPLE_MOMENT_MS`.
- The clocks that results depend on are pinned to that same moment while the examples run:
  `Darktrace.now_ms`, the integration's one clock (open-ended ranges, relative times such as
  "7 days", expiry checks, signature dates, so the appliance accepts them), and the emulator's host
  clock (`emulator.clock.host_ms`), so comment times, tag expiries and visibility are computed at
  the moment too. The patches are undone when the run ends.
- The emulator listens on a random port; its address is written as `DOCS_APPLIANCE_URL`.
- JSON keys are sorted. Lists and readable-output tables longer than the page's `Trim` allows are
  cut, with a note giving the full size; in the README, objects also show a few keys and levels.

A missing example or a failing one stops the run with a message and leaves README.md as it was;
`--keep-going` writes anyway, with a placeholder in place of the missing or failed example.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from unittest import mock

import yaml

REPO_ROOT = Path(__file__).resolve().parent.parent
import xsoar_platform  # noqa: E402 (run from the root: python -m tools.gen_docs)

xsoar_platform.use_platform_modules()  # the stand-ins, or the real modules from XSOAR_PLATFORM_DIR

from readme_blocks import replace_block  # noqa: E402
from runner.examples import example_lines  # noqa: E402

README = REPO_ROOT / 'README.md'
COMMANDS_PAGE = REPO_ROOT / 'docs' / 'commands.md'
INTEGRATION_YML = REPO_ROOT / 'Darktrace.yml'
CONFIGURATION_BLOCK = 'configuration'
COMMANDS_BLOCK = 'commands'  # README.md
COMMAND_REFERENCE_BLOCK = 'command-reference'  # docs/commands.md

# The release day at noon UTC: the emulator's data ends here and its clock stands still here.
EXAMPLE_MOMENT_MS = int(datetime(2026, 11, 28, 12, 0, tzinfo=timezone.utc).timestamp() * 1000)
DOCS_APPLIANCE_URL = 'https://darktrace.example.com'
ERROR_ENTRY_TYPE = 4
ELIDED = '…'


@dataclass(frozen=True)
class Trim:
    """How much of an example a page shows."""

    list_items: int
    table_rows: int
    depth: int | None = None  # objects and lists nested this deep are shown as ELIDED
    keys: int | None = None  # an object shows this many keys (values that are not objects first)
    indent: int = 4


FULL_TRIM = Trim(list_items=10, table_rows=10)


# --------------------------------------------------------------------------- YAML -> tables

def load_integration(path: Path = INTEGRATION_YML) -> dict[str, Any]:
    with open(path, encoding='utf-8') as handle:
        return yaml.safe_load(handle)


def yaml_commands(document: dict[str, Any]) -> list[dict[str, Any]]:
    return list((document.get('script') or {}).get('commands') or [])


def cell(value: Any) -> str:
    """Text safe inside a Markdown table cell: one line, pipes escaped."""
    text = '' if value is None else str(value)
    return ' '.join(text.split()).replace('|', '\\|')


def table(headers: list[str], rows: list[list[Any]]) -> str:
    lines = ['| ' + ' | '.join(f'**{header}**' for header in headers) + ' |',
             '| ' + ' | '.join('---' for _ in headers) + ' |']
    lines += ['| ' + ' | '.join(cell(value) for value in row) + ' |' for row in rows]
    return '\n'.join(lines)


def default_text(value: Any) -> str:
    """A YAML default as the platform shows it: booleans lower-case, nothing when unset."""
    if value is None:
        return ''
    if isinstance(value, bool):
        return 'true' if value else 'false'
    return str(value)


def parameter_description(param: dict[str, Any]) -> str:
    display = str(param.get('display') or param['name']).strip()
    extra = str(param.get('additionalinfo') or '').strip()
    if not extra:
        return display
    return f'{display}{"" if display.endswith(".") else "."} {extra}'


def render_configuration(document: dict[str, Any]) -> str:
    rows = [[param['name'], parameter_description(param), 'True' if param.get('required') else 'False',
             default_text(param.get('defaultvalue'))]
            for param in document.get('configuration') or []]
    return '\n'.join([
        '## Configure Darktrace in Cortex',
        '',
        'Add an instance of the Darktrace integration with these parameters; the help panel of the '
        'instance settings (Darktrace_description.md) explains how to create the API token pair.',
        '',
        table(['Parameter', 'Description', 'Required', 'Default'], rows),
    ])


def argument_description(argument: dict[str, Any]) -> str:
    description = str(argument.get('description') or '').strip()
    predefined = [default_text(value) for value in argument.get('predefined') or []]
    if predefined:
        description = f'{description} Possible values are: {", ".join(predefined)}.'
    return description


def input_table(command: dict[str, Any]) -> str:
    arguments = command.get('arguments') or []
    if not arguments:
        return 'There are no input arguments for this command.'
    return table(['Argument Name', 'Description', 'Required', 'Default'],
                 [[argument['name'], argument_description(argument),
                   'Required' if argument.get('required') else 'Optional',
                   default_text(argument.get('defaultValue'))] for argument in arguments])


def render_command_summary(command: dict[str, Any]) -> str:
    """A command's heading, description and Input table: what README.md shows before the example."""
    return '\n'.join([f'### {command["name"]}', '', str(command.get('description') or '').strip(), '',
                      '#### Input', '', input_table(command)])


def render_command_reference(command: dict[str, Any]) -> str:
    """A command's heading, description, base command, Input and Context Output tables."""
    name = command['name']
    outputs = command.get('outputs') or []
    parts = [f'### {name}', '', '***', '', str(command.get('description') or '').strip(), '',
             '#### Base Command', '', f'`{name}`', '', '#### Input', '', input_table(command),
             '', '#### Context Output', '']
    if outputs:
        parts.append(table(['Path', 'Type', 'Description'],
                           [[output['contextPath'], output.get('type') or '', output.get('description') or '']
                            for output in outputs]))
    else:
        parts.append('There is no context output for this command.')
    return '\n'.join(parts)


# --------------------------------------------------------------------------- examples

@dataclass
class Example:
    """What one command_examples line produced."""

    line: str
    context: dict[str, Any] = field(default_factory=dict)
    human_readable: list[str] = field(default_factory=list)
    returned: list[Any] = field(default_factory=list)
    error: str | None = None


def context_tree(entry_context: dict[str, Any]) -> dict[str, Any]:
    """EntryContext as the context shows it: `A.B(val.x == obj.x)` keys become nested A -> B."""
    tree: dict[str, Any] = {}
    for key, value in entry_context.items():
        path = key.split('(', 1)[0].split('.')
        node = tree
        for part in path[:-1]:
            node = node.setdefault(part, {})
        leaf = path[-1]
        if leaf in node:  # two entries wrote the same key: the context keeps both
            existing = node[leaf] if isinstance(node[leaf], list) else [node[leaf]]
            node[leaf] = existing + (value if isinstance(value, list) else [value])
        else:
            node[leaf] = value
    return tree


def _replace_text(data: Any, old: str, new: str) -> Any:
    if isinstance(data, str):
        return data.replace(old, new)
    if isinstance(data, list):
        return [_replace_text(item, old, new) for item in data]
    if isinstance(data, dict):
        return {key: _replace_text(value, old, new) for key, value in data.items()}
    return data


@contextmanager
def clocks_pinned_at(moment_ms: int, emulator: Any) -> Iterator[None]:
    """Run the integration and the emulator as if it were always `moment_ms` (see the module docstring)."""
    import Darktrace

    with ExitStack() as patches:
        patches.enter_context(mock.patch.object(Darktrace, 'now_ms', lambda: moment_ms))
        patches.enter_context(mock.patch.object(emulator.clock, 'host_ms', lambda: moment_ms))
        yield


def run_examples(lines: list[str], moment_ms: int = EXAMPLE_MOMENT_MS) -> list[Example]:
    """Run every line, in order, against one emulator; one Example per line."""
    from xsoar_platform import run_command
    from runner.spec import load_spec
    from runner.syntax import CommandSyntaxError, parse_command_line
    from runner.targets import emulator_target

    spec = load_spec(INTEGRATION_YML)
    target = emulator_target(moment_ms)
    examples: list[Example] = []
    try:
        appliance_url = target.url
        params = target.params(spec, {}, is_fetch=False)
        with clocks_pinned_at(moment_ms, target.emulator):
            for line in lines:
                example = Example(line=line)
                examples.append(example)
                try:
                    parsed = parse_command_line(line)
                except CommandSyntaxError as error:
                    example.error = f'syntax: {error}'
                    continue
                command_spec = spec.command(parsed.command)
                if command_spec is None:
                    example.error = f'Darktrace.yml has no command "{parsed.command}"'
                    continue
                run = run_command(parsed.command, {**command_spec.defaults, **parsed.args}, params)
                entries = _replace_text(run.entries, appliance_url, DOCS_APPLIANCE_URL)
                errors = [str(entry.get('Contents')) for entry in entries
                          if isinstance(entry, dict) and entry.get('Type') == ERROR_ENTRY_TYPE]
                if errors or not entries:
                    example.error = '\n'.join(errors) or 'the command returned no entry'
                    continue
                entry_context: dict[str, Any] = {}
                for entry in entries:
                    if isinstance(entry, dict):
                        for key, value in (entry.get('EntryContext') or {}).items():
                            entry_context.setdefault(key, []).append(value)
                        text = entry.get('HumanReadable') or war_room_text(entry)
                        if not text and is_returned_object(entry):
                            example.returned.append(entry)
                    else:
                        text = str(entry)
                    if text:
                        example.human_readable.append(text)
                example.context = context_tree({key: values[0] if len(values) == 1 else values
                                                for key, values in entry_context.items()})
    finally:
        target.stop()
    return examples


def war_room_text(entry: dict[str, Any]) -> str:
    """The text a note without HumanReadable shows in the War Room: its Contents, when they are text."""
    contents = entry.get('Contents')
    if 'Type' in entry and isinstance(contents, str) and entry.get('ContentsFormat') in ('text', 'markdown'):
        return contents
    return ''


def is_returned_object(entry: dict[str, Any]) -> bool:
    """Whether a mirroring command handed this to XSOAR itself: an object that is not a War Room entry (the
    mirrored breach, the mapping fields), or an entry whose Contents are an instruction (a close entry)."""
    return 'Type' not in entry or isinstance(entry.get('Contents'), dict)


def command_name(line: str) -> str:
    word = line.split(None, 1)[0]
    return word[1:] if word.startswith('!') else word


# --------------------------------------------------------------------------- examples -> Markdown

def shortened(data: Any, path: str, cut: dict[str, int], trim: Trim = FULL_TRIM, depth: int = 0) -> Any:
    """`data` cut as `trim` says; `cut` records each cut list's largest length by path."""
    if isinstance(data, (dict, list)) and data and trim.depth is not None and depth >= trim.depth:
        return ELIDED
    if isinstance(data, dict):
        keys = sorted(data, key=lambda key: (isinstance(data[key], (dict, list)), key))
        shown = keys if trim.keys is None else keys[:trim.keys]
        result = {key: shortened(data[key], f'{path}.{key}' if path else key, cut, trim, depth + 1) for key in shown}
        if len(shown) < len(keys):
            result[ELIDED] = f'{len(keys) - len(shown)} more keys'
        return result
    if isinstance(data, list):
        if len(data) > trim.list_items:
            cut[path] = max(cut.get(path, 0), len(data))
        return [shortened(item, path, cut, trim, depth) for item in data[:trim.list_items]]
    return data


def cut_note(cut: dict[str, int], trim: Trim) -> str:
    items = f'first {trim.list_items} items' if trim.list_items > 1 else 'first item'
    sizes = ', '.join(f'`{path or "the list"}` has {count}' for path, count in sorted(cut.items()))
    return f'*Lists are cut to their {items} here; in full, {sizes}.*'


def shortened_tables(markdown: str, max_rows: int) -> tuple[list[str], list[int]]:
    """The lines of `markdown` with each table cut to `max_rows` rows, and the row counts of the cut tables."""
    lines = markdown.splitlines()
    kept: list[str] = []
    cut: list[int] = []
    index = 0
    while index < len(lines):
        if not lines[index].lstrip().startswith('|'):
            kept.append(lines[index])
            index += 1
            continue
        end = index
        while end < len(lines) and lines[end].lstrip().startswith('|'):
            end += 1
        rows = lines[index + 2:end]  # after the header and the |---| line
        kept += lines[index:index + 2] + rows[:max_rows]
        if len(rows) > max_rows:
            cut.append(len(rows))
        index = end
    return kept, cut


def render_context(example: Example, trim: Trim) -> list[str]:
    """The Context Example of a page: `example`'s context as JSON, cut as `trim` says, with a note."""
    if not example.context:
        return ['This example writes nothing to the context.']
    cut: dict[str, int] = {}
    context = shortened(example.context, '', cut, trim)
    parts = ['```json', json.dumps(context, indent=trim.indent, sort_keys=True, ensure_ascii=False), '```']
    return parts + (['', cut_note(cut, trim)] if cut else [])


def example_heading(example: Example | None) -> list[str]:
    """The Command Example of a page, or why there is none."""
    if example is None:
        return ['#### Command Example', '', '*No example: command_examples has no line for this command.*']
    parts = ['#### Command Example', '', '```', example.line, '```']
    if example.error is not None:
        return parts + ['', f'*The example failed against the emulator:* `{cell(example.error)}`']
    return parts


def render_example_summary(example: Example | None, name: str) -> str:
    """README.md's example: the line, with a link to the full reference."""
    parts = example_heading(example)
    parts += ['', f'[Context output, example output and War Room output](docs/commands.md#{name})']
    return '\n'.join(parts)


def render_example(example: Example | None) -> str:
    parts = example_heading(example)
    if example is None or example.error is not None:
        return '\n'.join(parts)
    parts += ['', '#### Context Example', ''] + render_context(example, FULL_TRIM)
    if example.returned:
        returned_cut: dict[str, int] = {}
        returned = shortened(example.returned, '', returned_cut, FULL_TRIM)
        parts += ['', '#### Returned to XSOAR', '', '```json',
                  json.dumps(returned, indent=4, sort_keys=True, ensure_ascii=False), '```']
        if returned_cut:
            parts += ['', cut_note(returned_cut, FULL_TRIM)]
    parts += ['', '#### Human Readable Output', '']
    if not example.human_readable:
        parts.append('This example writes nothing to the War Room.')
    cut_tables: list[int] = []
    for number, text in enumerate(example.human_readable):
        lines, cut = shortened_tables(text, FULL_TRIM.table_rows)
        cut_tables += cut
        if number:
            parts.append('')
        # As in XSOAR's own READMEs: each line quoted, blank lines left blank.
        parts += [f'>{line}' if line.strip() else '' for line in lines]
    if cut_tables:
        counts = ', '.join(str(count) for count in cut_tables)
        parts += ['', f'*Tables are cut to their first {FULL_TRIM.table_rows} rows here; in full they have {counts} '
                  'rows.*']
    return '\n'.join(parts)


def examples_note() -> str:
    from runner.targets import EMULATOR_DATASET

    moment = datetime.fromtimestamp(EXAMPLE_MOMENT_MS / 1000, tz=timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ')
    return (f'The examples are the lines of `command_examples`, run in that order by `make docs` against the '
            f'emulated appliance ({EMULATOR_DATASET["breaches"]} model breaches over {EMULATOR_DATASET["span_days"]} '
            f'days, seed {EMULATOR_DATASET["seed"]}) with every clock held at {moment}; the emulator\'s address is '
            f'shown as {DOCS_APPLIANCE_URL}. Their data is synthetic.')


def render_commands(document: dict[str, Any], examples: dict[str, Example]) -> str:
    """README.md's `commands` block: each command's description, inputs and a trimmed example."""
    intro = ['## Commands', '',
             'Run them from the War Room, an automation or a playbook. Each section gives the inputs and one '
             'example; [docs/commands.md](docs/commands.md) has the context output of every command and what each '
             'example returns.', '', examples_note()]
    sections = [render_command_summary(command) + '\n\n' + render_example_summary(examples.get(command['name']),
                                                                                 command['name'])
                for command in yaml_commands(document)]
    return '\n\n'.join(['\n'.join(intro)] + sections)


def render_command_pages(document: dict[str, Any], examples: dict[str, Example]) -> str:
    """docs/commands.md's `command-reference` block: every command in full."""
    intro = ['You can execute these commands from the CLI, as part of an automation, or in a playbook.',
             'After you successfully execute a command, a DBot message appears in the War Room with the command '
             'details.', '', examples_note()]
    sections = [render_command_reference(command) + '\n\n' + render_example(examples.get(command['name']))
                for command in yaml_commands(document)]
    return '\n\n'.join(['\n'.join(intro)] + sections)


# --------------------------------------------------------------------------- main

def generate(readme_text: str, commands_text: str, document: dict[str, Any],
             lines: list[str]) -> tuple[str, str, list[str]]:
    """README.md and docs/commands.md with their blocks regenerated, and the problems found (missing or
    failed examples)."""
    examples: dict[str, Example] = {}
    for example in run_examples(lines):
        examples.setdefault(command_name(example.line), example)
    names = [command['name'] for command in yaml_commands(document)]
    problems = [f'{name}: command_examples has no line for it' for name in names if name not in examples]
    problems += [f'{example.line}\n    {example.error}' for example in examples.values() if example.error]
    problems += [f'{name}: in command_examples but not in Darktrace.yml' for name in examples if name not in names]
    readme = replace_block(readme_text, CONFIGURATION_BLOCK, render_configuration(document))
    readme = replace_block(readme, COMMANDS_BLOCK, render_commands(document, examples))
    commands = replace_block(commands_text, COMMAND_REFERENCE_BLOCK, render_command_pages(document, examples))
    return readme, commands, problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--check', action='store_true', help='do not write; exit 1 if a page is out of date')
    parser.add_argument('--keep-going', action='store_true',
                        help='write even when an example is missing or fails (with a placeholder)')
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)

    pages = (README, COMMANDS_PAGE)
    current = [page.read_text(encoding='utf-8') for page in pages]
    *texts, problems = generate(*current, load_integration(), example_lines())
    for problem in problems:
        print(f'gen_docs: {problem}', file=sys.stderr)
    if problems and not args.keep_going:
        print('gen_docs: pages left unchanged; fix command_examples (or use --keep-going).', file=sys.stderr)
        return 1
    stale = [page for page, text, old in zip(pages, texts, current) if text != old]
    if args.check:
        for page in stale:
            print(f'gen_docs: {page.relative_to(REPO_ROOT)} is out of date; run make docs.', file=sys.stderr)
        return 1 if stale else 0
    for page, text, old in zip(pages, texts, current):
        if text != old:
            page.write_text(text, encoding='utf-8')
    written = ', '.join(str(page.relative_to(REPO_ROOT)) for page in stale) or 'nothing'
    print(f'gen_docs: updated {written} ({len(yaml_commands(load_integration()))} commands).', file=sys.stderr)
    return 0


if __name__ == '__main__':
    sys.exit(main())
