"""Tests of the local runner: War Room syntax, terminal rendering, the CLI modes and the demo.

CLI tests call `runner.cli.main()` in-process with captured streams (each invocation starts and
stops its own emulated appliance, as a real invocation does); the demo runs as a subprocess,
exactly as `make demo` runs it.
"""
from __future__ import annotations

import ast
import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any, Iterator
from urllib.parse import quote

import pytest
import yaml

from CommonServerPython import tableToMarkdown
from emulator import Emulator
from emulator.state.email import SHOWCASE_UUID
from runner import REPO_ROOT
from runner.cli import NOT_A_TERMINAL_WIDTH, main
from runner.examples import example_lines
from runner.output import REDACTED, Output
from runner.render import ELLIPSIS, MAX_CELL_LINES, display_width, is_token, render_markdown, render_table
from runner.syntax import CommandSyntaxError, parse_command_line, parse_shell_words
from runner.targets import EMULATOR_DATASET, PRIVATE_TOKEN_VARIABLE, PUBLIC_TOKEN_VARIABLE

WIDTH = 80


def run_cli(*argv: str, environ: dict[str, str] | None = None) -> tuple[int, str, str]:
    stdout, stderr = io.StringIO(), io.StringIO()
    code = main(list(argv), stdout=stdout, stderr=stderr, environ=environ if environ is not None else {})
    return code, stdout.getvalue(), stderr.getvalue()


def separator_columns(line: str) -> list[int]:
    """Display columns of the table separators on a line ('|' on content lines, '+' on rules)."""
    columns, position = [], 0
    for char in line:
        if char in '|+':
            columns.append(position)
        position += display_width(char)
    return columns


def assert_aligned(lines: list[str]) -> None:
    expected = separator_columns(lines[0])
    assert expected, lines[0]
    for line in lines:
        assert separator_columns(line) == expected, f'{line!r} is not aligned with {lines[0]!r}'


def assert_fits(text: str, width: int = WIDTH) -> None:
    for line in text.splitlines():
        assert display_width(line) <= width, f'{display_width(line)} columns: {line!r}'


def table_cells(lines: list[str]) -> list[list[str]]:
    """Read a rendered table back: each row's cells, the fragments of wrapped cells joined by spaces."""
    rows: list[list[list[str]]] = [[]]
    for line in lines:
        if set(line) <= set('-+'):
            rows.append([])
            continue
        bounds = [-2] + [index for index, char in enumerate(line) if char == '|'] + [len(line) + 1]
        fragments = [line[start + 2:end - 1].strip() for start, end in zip(bounds, bounds[1:])]
        rows[-1].append(fragments)
    cells = []
    for block in rows:
        if block:
            cells.append([' '.join(part for part in column if part) for column in zip(*block)])
    return cells


# --- War Room syntax ----------------------------------------------------------------------------------------

def test_parses_bare_values_and_the_exclamation_mark() -> None:
    """
    Given a command with unquoted arguments
    When it is parsed
    Then the name loses its "!" and every argument is a string, an "=" inside a value included.
    """
    parsed = parse_command_line('!darktrace-get-similar-devices did=1 max_results=2 filter=a=b')
    assert parsed.command == 'darktrace-get-similar-devices'
    assert parsed.args == {'did': '1', 'max_results': '2', 'filter': 'a=b'}


@pytest.mark.parametrize(('line', 'expected'), [
    ('!cmd description="two words"', 'two words'),
    ("!cmd description='a \"b\"'", 'a "b"'),
    ('!cmd description=`it\'s "both" \\n kept`', 'it\'s "both" \\n kept'),
    ('!cmd description="say \\"hi\\""', 'say "hi"'),
    ("!cmd description='it\\'s'", "it's"),
    ('!cmd description="C:\\temp\\new"', 'C:\\temp\\new'),
    ('!cmd description="a \\\\ b"', 'a \\ b'),
    ('!cmd description="Zoë & 東京 = 100%"', 'Zoë & 東京 = 100%'),
    ('!cmd description=""', ''),
    ('!cmd description=', ''),
    ("!cmd description=O'Brien", "O'Brien"),
    ('!cmd description="line one\nline two"', 'line one\nline two'),
])
def test_parses_war_room_quoting(line: str, expected: str) -> None:
    """
    Given a value written with War Room quoting (double, single or back quotes, escapes, empty)
    When the command line is parsed
    Then the argument holds exactly the intended text.
    """
    assert parse_command_line(line).args == {'description': expected}


@pytest.mark.parametrize(('line', 'fragment'), [
    ('!cmd tag="unterminated', 'Unterminated " quote'),
    ('!cmd did', 'has no value'),
    ('!cmd did=1 did=2', 'given twice'),
    ('!cmd tag="a"b', 'after the closing quote'),
    ('!cmd =value', 'no argument name'),
    ('   ', 'Empty command'),
])
def test_reports_syntax_errors(line: str, fragment: str) -> None:
    """
    Given a malformed command line
    When it is parsed
    Then a syntax error says what is wrong.
    """
    with pytest.raises(CommandSyntaxError, match=fragment):
        parse_command_line(line)


def test_separates_platform_arguments_and_accepts_shell_words() -> None:
    """
    Given a command with the platform's own "using" argument, and a command split into shell words
    When they are parsed
    Then "using" is not an integration argument, and shell words keep their spaces.
    """
    parsed = parse_command_line('!darktrace-list-tags limit=5 using=Darktrace_instance_1')
    assert parsed.args == {'limit': '5'} and parsed.platform_args == {'using': 'Darktrace_instance_1'}
    words = parse_shell_words(['darktrace-get-tagged-devices', 'tagName=Critical Asset'])
    assert words.command == 'darktrace-get-tagged-devices' and words.args == {'tagName': 'Critical Asset'}
    assert parse_command_line('test-module').command == 'test-module'


# --- terminal rendering -------------------------------------------------------------------------------------

def test_table_that_fits_keeps_its_natural_widths() -> None:
    """
    Given a small table from tableToMarkdown
    When it is rendered for the terminal
    Then the heading is underlined and every column is as wide as its widest value.
    """
    rows = [{'Device ID': 1, 'Hostname': 'ws-01'}, {'Device ID': 22, 'Hostname': 'srv-db01'}]
    markdown = tableToMarkdown('Devices', rows, headers=['Device ID', 'Hostname'])
    assert render_markdown(markdown, WIDTH) == (
        'Devices\n'
        '-------\n'
        'Device ID | Hostname\n'
        '----------+---------\n'
        '1         | ws-01\n'
        '22        | srv-db01')


def assert_tokens_whole(lines: list[str], cells: list[str]) -> None:
    """Every id, URL, host name and number of `cells` appears unbroken on one of `lines`."""
    for cell in cells:
        for word in str(cell).split():
            if is_token(word):
                assert any(word in line for line in lines), f'{word!r} was split'


def test_wide_table_is_wrapped_to_80_columns_without_losing_text_or_alignment() -> None:
    """
    Given a table with long multi-word descriptions, model names and a URL
    When it is rendered at 80 columns
    Then no line is wider than 80, every separator stays in its column, every cell reads back
    intact, and the prose wraps between words while the URL and ids stay whole.
    """
    url = 'https://dt.example/#mb/10001'
    rows = [{'Breach ID': 10001, 'Model': 'Anomalous Connection::Data Sent to Rare Domain',
             'Description': 'A device has sent an unusually large volume '
             'of data to a rare external domain it never contacted before.', 'Link': url},
            {'Breach ID': 10002, 'Model': 'Compliance::Possible Tor Usage',
             'Description': 'A device connected to a Tor relay.', 'Link': url}]
    headers = ['Breach ID', 'Model', 'Description', 'Link']
    lines = render_markdown(tableToMarkdown('Breaches', rows, headers=headers), WIDTH).splitlines()[2:]
    assert_fits('\n'.join(lines))
    assert_aligned(lines)
    cells = table_cells(lines)
    assert cells[0] == headers
    # Every row and every cell is compared: zip() alone would stop quietly at a lost row or column.
    assert len(cells) == 1 + len(rows) and all(len(rendered) == len(headers) for rendered in cells)
    for row, rendered in zip(rows, cells[1:]):
        for header, cell in zip(headers, rendered):
            assert cell == str(row[header])
        assert_tokens_whole(lines, list(row.values()))
    assert 'Anomalous Connection::Data Sent to Rare Domain' in ' '.join(cell for row in cells for cell in row)


def test_token_wider_than_its_column_switches_to_records_and_stays_whole() -> None:
    """
    Given a table holding a URL, a UUID and host names that cannot all fit 80 columns side by side
    When it is rendered at 80 columns
    Then it is shown as "field | value" blocks, the URL longer than the line runs past the edge on a
    line of its own instead of being cut, every other line fits, and the separators stay aligned.
    """
    url = 'https://darktrace.example.com/#modelbreach/10001?from=2024-01-01T00:00:00Z&to=2024-01-31T00:00:00Z'
    row = {'Breach ID': '10001', 'Event': '4b3e1f0a-9c7d-4e2b-8a61-0f5d2c9e7b13',
           'Device': 'srv-backup01.corp.example', 'Time': '2024-01-01T00:00:00.000Z', 'Link': url}
    lines = render_table(list(row), [list(row.values())], WIDTH)
    assert lines[0] == 'Breach ID | 10001'
    assert f'Link      | {url}' in lines
    assert_aligned(lines)
    assert_fits('\n'.join(line for line in lines if url not in line))
    assert_tokens_whole(lines, list(row.values()))


@pytest.mark.parametrize('token', [
    '4b3e1f0a-9c7d-4e2b-8a61-0f5d2c9e7b13',
    'https://darktrace.example.com/#aiaincidentevent/4b3e1f0a-9c7d-4e2b-8a61-0f5d2c9e7b13',
    '1234567890123456789012345678901234567890',
    'fe80:0000:0000:0000:0204:61ff:fe9d:f156',
    'srv-backup01.eu-west-1.compute.corp.example.com',
])
def test_no_width_cuts_an_id_url_or_number(token: str) -> None:
    """
    Given a two-column table and a sentence holding an id, URL, number or address
    When they are rendered at every width from 20 to 120 columns
    Then the token always appears whole on one line.
    """
    rows = [['a short label', f'see {token} for details'], ['another label', token]]
    for width in range(20, 121):
        lines = render_table(['Name', 'Value'], rows, width)
        assert sum(token in line for line in lines) == 2, f'{token} split at width {width}: {lines}'
        paragraph = render_markdown(f'The value {token} is shown whole.', width).splitlines()
        assert any(token in line for line in paragraph), f'{token} split at width {width}: {paragraph}'


def test_prose_words_may_still_wrap_inside_a_narrow_column() -> None:
    """
    Given a table whose long description has to wrap in a narrow column
    When it is rendered at 40 columns
    Then the description is wrapped between words and nothing is lost.
    """
    text = 'A device has sent an unusually large volume of data to a rare external domain.'
    lines = render_table(['ID', 'Description'], [['7', text]], 40)
    assert_fits('\n'.join(lines), 40)
    assert len(lines) > 3
    assert ' '.join(table_cells(lines)[1][1].split()) == text


def test_line_breaks_and_escaped_pipes_in_cells() -> None:
    """
    Given cells holding a newline (which tableToMarkdown writes as <br>) and a pipe (written as \\|)
    When the table is rendered
    Then the newline becomes a second line inside the same column and the pipe shows as |.
    """
    markdown = tableToMarkdown('T', [{'Name': 'first line\nsecond line', 'Note': 'a|b'}], headers=['Name', 'Note'])
    lines = render_markdown(markdown, WIDTH).splitlines()[2:]
    assert lines == ['Name        | Note',
                     '------------+-----',
                     'first line  | a|b',
                     'second line |']


def test_wide_characters_keep_columns_aligned() -> None:
    """
    Given cells with CJK characters (two columns each on a terminal) and combining accents
    When the table is rendered
    Then separators line up by display width, not by character count.
    """
    lines = render_table(['City', 'Note'], [['東京', 'x'], ['Zoe\u0308', 'y'], ['Paris', 'z']], WIDTH)
    assert_aligned(lines)
    assert lines[2] == '東京  | x'


def test_table_with_too_many_columns_becomes_field_value_blocks() -> None:
    """
    Given a table with twelve columns that cannot fit 80 columns legibly
    When it is rendered
    Then each row is shown as aligned "field | value" lines, none wider than 80.
    """
    headers = [f'Field number {index}' for index in range(12)]
    rows = [[f'value-{row}-{index}-abcdefgh' for index in range(12)] for row in range(2)]
    lines = render_table(headers, rows, WIDTH)
    assert_fits('\n'.join(lines))
    assert_aligned(lines)
    assert lines[0] == 'Field number 0  | value-0-0-abcdefgh'
    assert sum(line.startswith('Field number 11 |') for line in lines) == 2


def test_very_long_cell_is_cut_with_an_ellipsis() -> None:
    """
    Given a cell far longer than a screen
    When the table is rendered
    Then the cell stops after the line limit and ends with an ellipsis.
    """
    lines = render_table(['Key', 'Blob'], [['k', ' '.join(['word'] * 2000)]], WIDTH)
    assert len(lines) == 2 + MAX_CELL_LINES
    assert lines[-1].endswith(ELLIPSIS)
    assert_fits('\n'.join(lines))


def test_cell_cut_at_the_line_limit_ends_on_a_whole_token() -> None:
    """
    Given a cell listing far more host names than fit the line limit
    When the table is rendered
    Then the cell's last line holds whole host names followed by the ellipsis, none cut short.
    """
    hosts = [f'srv-{index:04d}.corp.example' for index in range(500)]
    lines = render_table(['Key', 'Hosts'], [['k', ' '.join(hosts)]], WIDTH)
    assert len(lines) == 2 + MAX_CELL_LINES
    shown = lines[-1].split(' | ', 1)[1].split()
    assert shown[-1] == ELLIPSIS and shown[:-1] and set(shown[:-1]) <= set(hosts)
    assert_fits('\n'.join(lines))


def test_headings_links_and_empty_tables() -> None:
    """
    Given War Room markdown with headings, a link in a cell, a link in text and an empty table
    When it is rendered
    Then headings are underlined, links show their URL, and bold markers are gone.
    """
    markdown = ('## Model breach 1\n|Link|\n|---|\n| [Open in Darktrace](https://dt.example/#mb/1) |\n'
                'See [the docs](https://docs.example).\n### Comments\n**No entries.**\n')
    assert render_markdown(markdown, WIDTH) == (
        'Model breach 1\n==============\nLink\n------------------------\nhttps://dt.example/#mb/1\n\n'
        'See the docs (https://docs.example).\n\nComments\n--------\nNo entries.')


def test_control_characters_from_the_appliance_do_not_reach_the_terminal() -> None:
    """
    Given a value holding a terminal escape sequence
    When it is rendered
    Then the escape character is dropped.
    """
    assert '\x1b' not in render_markdown('|Name|\n|---|\n| \x1b[31mred |\n', WIDTH)


def test_output_redacts_secrets() -> None:
    """
    Given an Output that knows a private token
    When text containing the token is printed to stdout or stderr
    Then the token is replaced.
    """
    stdout, stderr = io.StringIO(), io.StringIO()
    out = Output(stdout, stderr, WIDTH)
    out.add_secret('s3cret-private')
    out.print('token s3cret-private here')
    out.error('and s3cret-private there')
    assert 's3cret-private' not in stdout.getvalue() + stderr.getvalue()
    assert REDACTED in stdout.getvalue() and REDACTED in stderr.getvalue()


def test_a_short_secret_masks_only_where_it_stands_alone() -> None:
    """
    Given an Output that knows a short private token, "dt42"
    When text holds it alone, and also inside unrelated words, ids, host names and numbers
    Then only the standalone occurrences are masked and every other word prints unchanged.
    """
    stdout = io.StringIO()
    out = Output(stdout, io.StringIO(), WIDTH)
    out.add_secret('dt42')
    out.print('token=dt42& "dt42" dt42. dt420 xdt42 dt42-host srv-dt42 mdt42_1 pbid 1dt42')
    assert stdout.getvalue() == (f'token={REDACTED}& "{REDACTED}" {REDACTED}. dt420 xdt42 dt42-host srv-dt42 '
                                 'mdt42_1 pbid 1dt42\n')


def test_a_long_secret_is_masked_even_run_together_with_other_text() -> None:
    """
    Given an Output that knows a full-length private token
    When a reply echoes it run together with other text, percent-encoded in a URL and JSON-escaped
    Then every form is masked.
    """
    secret = 'Ab3/dE+f9"gH1=jK2&lM4'
    stdout = io.StringIO()
    out = Output(stdout, io.StringIO(), WIDTH)
    out.add_secret(secret)
    out.print(f'key{secret}tail')
    out.print(f'https://dt.example/?k={quote(secret, safe="")}')
    out.json({'echo': secret})
    text = stdout.getvalue()
    assert secret not in text and quote(secret, safe='') not in text and json.dumps(secret)[1:-1] not in text
    assert text.count(REDACTED) == 3 and text.startswith(f'key{REDACTED}tail\n')


def test_a_secret_in_a_table_is_masked_before_layout() -> None:
    """
    Given an Output that knows a private token holding characters no token has, and a War Room
    table echoing it in a column too narrow for it
    When the entry is printed at 30 columns
    Then the token appears nowhere, not even in pieces, and the table's separators stay aligned.
    """
    secret = 'Zq{8x}' * 7
    stdout = io.StringIO()
    out = Output(stdout, io.StringIO(), 30)
    out.add_secret(secret)
    markdown = tableToMarkdown('Echo', [{'Name': 'a longer name here', 'Value': f'got {secret} back'},
                                        {'Name': 'b', 'Value': 'plain'}], headers=['Name', 'Value'])
    out.entry({'Type': 1, 'HumanReadable': markdown, 'Contents': {}})
    text = stdout.getvalue()
    assert 'Zq{8x}' not in text and REDACTED in text
    assert_aligned(text.splitlines()[2:])
    assert_fits(text, 30)


# --- commands through the CLI -----------------------------------------------------------------------------

def test_command_prints_the_war_room_table_for_a_terminal() -> None:
    """
    Given the emulated appliance
    When the runner runs a command given in War Room syntax with a quoted value
    Then it prints the readable output as an aligned table within 80 columns, and exits 0.
    """
    code, stdout, stderr = run_cli('!darktrace-get-tagged-devices tagName="Critical Asset"', '--width', '80')
    assert code == 0, stderr
    lines = stdout.splitlines()
    assert lines[:2] == ['Devices tagged "Critical Asset"', '-------------------------------']
    assert_fits(stdout)
    assert_aligned(lines[2:])
    # Long cells wrap inside their column: the host name and the credential with its last-seen time.
    assert 'srv-web01.corp.' in stdout and 'svc-backup (last' in stdout


class TerminalStream(io.StringIO):
    """Captured output that says it is a terminal, as a console window does."""

    def isatty(self) -> bool:
        return True


def test_output_that_is_not_a_terminal_is_laid_out_for_120_columns() -> None:
    """
    Given output going to a file or pipe, and no --width
    When the runner lists model breaches (a table too wide to show side by side)
    Then its rules span 120 columns, nothing else is wider, and each breach link is whole on its line.
    """
    code, stdout, stderr = run_cli('!darktrace-list-model-breaches limit=2')
    assert code == 0, stderr
    assert max(display_width(line) for line in stdout.splitlines()) == NOT_A_TERMINAL_WIDTH
    assert len(re.findall(r'^Link +\| http://127\.0\.0\.1:\d+/#modelbreach/\d+$', stdout, re.MULTILINE)) == 2


def test_output_to_a_terminal_takes_the_terminal_width(monkeypatch: pytest.MonkeyPatch) -> None:
    """
    Given output going to a terminal 100 columns wide, and no --width
    When the runner lists model breaches
    Then the output is laid out for 100 columns.
    """
    monkeypatch.setattr('shutil.get_terminal_size', lambda fallback=(80, 24): os.terminal_size((100, 40)))
    stdout = TerminalStream()
    code = main(['!darktrace-list-model-breaches', 'limit=2'], stdout=stdout, stderr=io.StringIO(), environ={})
    assert code == 0
    assert max(display_width(line) for line in stdout.getvalue().splitlines()) == 100


def test_command_given_as_shell_words() -> None:
    """
    Given a command whose words were already split and unquoted by the shell
    When the runner runs it
    Then the value with a space reaches the integration whole.
    """
    code, stdout, stderr = run_cli('!darktrace-get-tagged-devices', 'tagName=Critical Asset')
    assert code == 0, stderr
    assert 'Devices tagged "Critical Asset"' in stdout


def test_json_prints_the_context_and_the_raw_entry() -> None:
    """
    Given the emulated appliance
    When a command runs with --json
    Then stdout is one JSON document with the EntryContext and the whole War Room entry.
    """
    code, stdout, stderr = run_cli('!darktrace-get-similar-devices did=1 max_results=2', '--json')
    assert code == 0, stderr
    document = json.loads(stdout)
    (key,) = document['EntryContext']
    assert key.startswith('Darktrace.SimilarDevices(')
    assert document['EntryContext'][key]['deviceId'] == 1
    assert document['Entry']['Type'] == 1 and len(document['Entry']['Contents']) == 2
    assert document['Entry']['HumanReadable'].startswith('### Devices similar to device 1')


def test_test_module_prints_ok() -> None:
    """
    Given the emulated appliance
    When the runner runs test-module
    Then it prints ok and exits 0.
    """
    assert run_cli('test-module') == (0, 'ok\n', '')


def test_a_file_entry_names_the_file_and_where_it_was_written(engine_folder: Path) -> None:
    """
    Given the emulated appliance's Darktrace/Email
    When the runner runs darktrace-email-email-download
    Then it prints the file's name, size and the path in the engine's working folder that holds the message.
    """
    code, printed, errors = run_cli('darktrace-email-email-download', f'uuid={SHOWCASE_UUID}')
    assert (code, errors) == (0, '')
    match = re.fullmatch(rf'File {re.escape(SHOWCASE_UUID)}\.eml \(([\d,]+) bytes\), written to:\n(\S+)\n', printed)
    assert match, printed
    written = Path(match.group(2))
    assert written.parent == engine_folder
    assert written.read_bytes().startswith(b'From: ') and written.stat().st_size == int(match.group(1).replace(',', ''))


def test_error_entry_is_printed_as_the_war_room_shows_it_with_exit_code_1() -> None:
    """
    Given an invalid argument value
    When the command runs
    Then stderr holds exactly the text of the type-4 entry, stdout is empty, and the exit code is 1.
    """
    code, stdout, stderr = run_cli('!darktrace-get-similar-devices did=abc max_results=2')
    assert code == 1 and stdout == ''
    assert stderr == ('Failed to execute darktrace-get-similar-devices command.\nError:\n'
                      'Invalid "did"="abc": expected a whole number of at least 1.\n')


def test_appliance_error_gives_exit_code_1() -> None:
    """
    Given a model breach id the appliance does not have
    When darktrace-get-model-breach runs
    Then the War Room error says Darktrace found nothing, with exit code 1.
    """
    code, _, stderr = run_cli('!darktrace-get-model-breach pbid=999999')
    assert code == 1 and 'found nothing' in stderr


@pytest.mark.parametrize(('argv', 'fragment'), [
    (['!darktrace-no-such-command'], 'Unknown command "!darktrace-no-such-command"'),
    (['!darktrace-get-tagged-devices tagName="Critical'], 'Unterminated'),
    (['!darktrace-list-tags', '--param', 'no_such_param=1'], 'no such instance parameter'),
    (['!darktrace-list-tags', '--param', 'private_api_token=x'], 'not accepted'),
    (['!darktrace-list-tags', '--cycles', '2'], 'fetch mode'),
    ([], 'Give a command'),
])
def test_runner_usage_errors_exit_2(argv: list[str], fragment: str) -> None:
    """
    Given a command the runner cannot start (unknown name, bad syntax, bad option)
    When the runner is invoked
    Then it explains why on stderr and exits 2.
    """
    code, _, stderr = run_cli(*argv)
    assert code == 2 and fragment in stderr


def test_unknown_command_suggests_the_closest_and_lists_every_command_on_its_own() -> None:
    """
    Given a mistyped command name
    When the runner is invoked
    Then it exits 2, suggests the closest command names, and lists every command on lines of its own, not one long
    comma-separated line.
    """
    code, _, stderr = run_cli('!darktrace-get-modl-breach')
    lines = stderr.splitlines()
    assert code == 2 and lines[0] == 'Unknown command "!darktrace-get-modl-breach": Darktrace.yml does not define it.'
    assert lines[1].startswith('Did you mean !darktrace-get-model-breach')
    listed = [name for line in lines[3:] for name in line.split()]
    assert '!test-module' in listed and '!darktrace-list-tags' in listed and '!get-mapping-fields' in listed
    assert all(len(line) <= 120 and ',' not in line for line in lines)


def test_get_mapping_fields_prints_a_table_per_record_type() -> None:
    """
    Given the emulator
    When !get-mapping-fields runs
    Then each mirrored record type is printed as a table of its fields and their descriptions, not nothing.
    """
    code, stdout, _ = run_cli('!get-mapping-fields')
    assert code == 0
    assert 'Darktrace NDR Model Breach: ' in stdout and 'Darktrace NDR AI Analyst Incident: ' in stdout
    assert any(line.startswith('pbid') and 'Model breach ID.' in line for line in stdout.splitlines())
    assert '{' not in stdout


# --- fetch mode ---------------------------------------------------------------------------------------------

def fetched(stdout: str) -> list[dict[str, Any]]:
    return [incident for cycle in json.loads(stdout)['cycles'] for incident in cycle['incidents']]


def test_fetch_state_persists_between_invocations_without_duplicates(tmp_path: Path) -> None:
    """
    Given no state file
    When fetch runs two cycles, and a second invocation runs two more from the same state file
    Then the state file holds lastRun and the dataset identity, and the two invocations together deliver
         the breaches in creation order from the first one, with no gap and no duplicate.
    """
    state = tmp_path / 'state.json'
    code, first_out, stderr = run_cli('fetch', '--cycles', '2', '--state', str(state), '--param', 'max_alerts=7',
                                      '--json')
    assert code == 0, stderr
    saved = json.loads(state.read_text())
    assert saved['identity']['target'] == 'emulator' and saved['lastRun']['start_ms'] > 0
    code, second_out, stderr = run_cli('fetch', '--cycles', '2', '--state', str(state), '--param', 'max_alerts=7',
                                       '--json')
    assert code == 0, stderr
    first, second = fetched(first_out), fetched(second_out)
    assert first and second
    pbids = [int(incident['dbotMirrorId']) for incident in first + second]
    assert len(set(pbids)) == len(pbids)
    # The same dataset as both invocations: the state file carries its time anchor.
    dataset = Emulator(anchor_ms=saved['identity']['anchor_ms'], **EMULATOR_DATASET).dataset
    first_creation = json.loads(first[0]['rawJSON'])['creationTime']
    expected = [breach.pbid for breach in dataset.breaches_between(first_creation, None, on_creation=True)]
    assert pbids == expected[:len(pbids)]


def test_fetch_prints_a_table_per_cycle(tmp_path: Path) -> None:
    """
    Given a new state file
    When fetch runs one cycle
    Then it prints the cycle's incidents with id (the pbid), occurred, severity and name, within the 120
    columns used when the output is not a terminal.
    """
    code, stdout, stderr = run_cli('fetch', '--state', str(tmp_path / 's.json'), '--param', 'max_alerts=3')
    assert code == 0, stderr
    found = re.search(r'^Fetch cycle 1 of 1: (\d+) incidents?$', stdout, re.MULTILINE)
    assert found and 1 <= int(found.group(1)) <= 3
    table = stdout[found.end():].strip().splitlines()
    assert [cell.strip() for cell in table[0].split(' | ')] == ['id', 'occurred', 'severity', 'name']
    assert_aligned(table)
    assert_fits(stdout, NOT_A_TERMINAL_WIDTH)
    severities = {line.split(' | ')[2].strip() for line in table[2:] if line[:1].isdigit()}
    assert severities and severities <= {'Low', 'Medium', 'High', 'Critical'}


def test_fetch_shows_both_sources(tmp_path: Path) -> None:
    """
    Given an instance fetching model breaches and AI Analyst incidents
    When fetch runs two cycles
    Then each cycle says how many incidents came from each source, and the table lists both kinds by id and name.
    """
    code, stdout, stderr = run_cli('fetch', '--cycles', '2', '--state', str(tmp_path / 's.json'), '--param',
                                   'max_alerts=6', '--param', 'fetch_sources=Model Breaches,AI Analyst Incidents')
    assert code == 0, stderr
    counts = re.findall(r'^Fetch cycle \d of 2: (\d+) incidents \((\d+) model breaches, (\d+) AI Analyst incidents\)$',
                        stdout, re.MULTILINE)
    assert len(counts) == 2 and all(int(total) == int(breaches) + int(events) for total, breaches, events in counts)
    assert sum(int(breaches) for _, breaches, _ in counts) and sum(int(events) for _, _, events in counts)
    assert re.search(r'^\d+ +\| ', stdout, re.MULTILINE), 'no row of a model breach (pbid)'
    assert re.search(r'^[0-9a-f]{8}-[0-9a-f-]+ *\| ', stdout, re.MULTILINE), 'no row of an AI Analyst event (event id)'
    assert_fits(stdout, NOT_A_TERMINAL_WIDTH)


def test_fetch_refuses_a_state_file_of_another_target(tmp_path: Path) -> None:
    """
    Given a state file written for another appliance
    When fetch runs against the emulator with it
    Then it refuses with exit code 2 and leaves the file unchanged.
    """
    state = tmp_path / 'state.json'
    original = json.dumps({'identity': {'target': 'https://other.example'}, 'lastRun': {'start_ms': 1}})
    state.write_text(original)
    code, _, stderr = run_cli('fetch', '--state', str(state))
    assert code == 2 and 'https://other.example' in stderr
    assert state.read_text() == original


# --- a real appliance with --url ------------------------------------------------------------------------------

@pytest.fixture(scope='module')
def appliance() -> Iterator[Emulator]:
    """An emulator standing in for a real appliance reached with --url."""
    with Emulator(breaches=50, span_days=2, seed=5) as emulator:
        emulator.add_token_pair('runner-public', 'runner-private-3e8a1f')
        yield emulator


def test_url_refuses_to_run_without_the_token_variables(appliance: Emulator) -> None:
    """
    Given --url and no token variables in the environment
    When the runner is invoked
    Then it names both variables, exits 2, and sends nothing.
    """
    appliance.clear_log()
    code, stdout, stderr = run_cli('--url', appliance.url, 'test-module', environ={})
    assert code == 2 and stdout == ''
    assert PUBLIC_TOKEN_VARIABLE in stderr and PRIVATE_TOKEN_VARIABLE in stderr
    code, _, stderr = run_cli('--url', appliance.url, 'test-module', environ={PUBLIC_TOKEN_VARIABLE: 'runner-public'})
    assert code == 2 and PRIVATE_TOKEN_VARIABLE in stderr and PUBLIC_TOKEN_VARIABLE + ' ' not in stderr
    assert appliance.request_log() == []


def test_url_uses_the_token_variables_and_never_prints_the_private_token(appliance: Emulator) -> None:
    """
    Given --url with the token pair in the environment
    When test-module runs with the right private token, and again with a wrong one and verbose logs
    Then the first prints ok, the second the signature error, and neither prints a private token.
    """
    environ = {PUBLIC_TOKEN_VARIABLE: 'runner-public', PRIVATE_TOKEN_VARIABLE: 'runner-private-3e8a1f'}
    assert run_cli('--url', appliance.url, 'test-module', environ=environ) == (0, 'ok\n', '')
    wrong = {**environ, PRIVATE_TOKEN_VARIABLE: 'runner-wrong-private-77c2'}
    code, stdout, stderr = run_cli('--url', appliance.url, '-v', '!darktrace-list-tags', environ=wrong)
    assert code == 1 and 'API SIGNATURE ERROR' in stderr
    assert 'runner-wrong-private-77c2' not in stdout + stderr and 'runner-private-3e8a1f' not in stdout + stderr


# --- boundaries ----------------------------------------------------------------------------------------------

def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding='utf-8'))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name.split('.')[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module.split('.')[0])
    return names


def test_integration_and_emulator_never_import_the_runner_or_each_other() -> None:
    """
    Given Darktrace.py and the emulator package
    When their imports are read
    Then Darktrace.py imports neither the runner nor the emulator, and the emulator never imports Darktrace.
    """
    assert not imported_modules(REPO_ROOT / 'Darktrace.py') & {'runner', 'emulator'}
    for module in sorted((REPO_ROOT / 'emulator').glob('*.py')):
        assert not imported_modules(module) & {'Darktrace', 'runner'}, module


# --- command_examples and the demo -------------------------------------------------------------------------

def test_command_examples_has_one_valid_line_per_yaml_command() -> None:
    """
    Given Darktrace.yml and command_examples
    When the example lines are parsed
    Then there is exactly one line for each command of the YAML, using only arguments the YAML defines.
    """
    with open(REPO_ROOT / 'Darktrace.yml', encoding='utf-8') as handle:
        commands = {command['name']: {argument['name'] for argument in command.get('arguments') or []}
                    for command in yaml.safe_load(handle)['script']['commands']}
    parsed = [parse_command_line(line) for line in example_lines()]
    assert sorted(example.command for example in parsed) == sorted(commands)
    for example in parsed:
        assert set(example.args) <= commands[example.command], example


def test_demo_runs_end_to_end() -> None:
    """
    Given the repository
    When `python -m runner --demo` runs, as `make demo` does
    Then it exits 0 after a heading and output for every example line and three fetch cycles of model breaches
         and AI Analyst incidents, with no line wider than 80 columns.
    """
    completed = subprocess.run([sys.executable, '-m', 'runner', '--demo', '--width', str(WIDTH)], cwd=REPO_ROOT,
                               capture_output=True, text=True, encoding='utf-8', timeout=300)
    assert completed.returncode == 0, completed.stderr
    lines = example_lines()
    assert lines, 'command_examples holds no example line'
    for number, line in enumerate(lines, 1):
        assert f'[{number}/{len(lines)}] {line.split()[0]}' in completed.stdout
    for cycle in (1, 2, 3):
        found = re.search(rf'^Fetch cycle {cycle} of 3: (\d+) incidents? \((\d+) model breaches, (\d+) AI Analyst '
                          r'incidents\)$', completed.stdout, re.MULTILINE)
        assert found and int(found.group(1)) > 0 and int(found.group(2)) + int(found.group(3)) == int(found.group(1))
    assert 'Demo finished' in completed.stdout
    assert_fits(completed.stdout)
