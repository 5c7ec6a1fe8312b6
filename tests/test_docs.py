"""README.md, the pages in docs/, command_examples and CHANGELOG.md against Darktrace.yml.

The pages are read the way a person reads them (their Markdown tables), independently of how
tools/gen_docs.py writes them; only the tests named *_up_to_date ask gen_docs what it would
write now. The examples themselves (context and readable output) are not compared: they come
from running the integration, and `make docs` regenerates them.
"""
from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parent.parent
import gen_docs  # noqa: E402
import stage_content  # noqa: E402
from readme_blocks import BlockError, block_names, page_with_block, read_block, replace_block  # noqa: E402

README = REPO_ROOT / 'README.md'
DOCS = REPO_ROOT / 'docs'
COMMANDS_PAGE = DOCS / 'commands.md'
README_MAX_BYTES = 60 * 1024
# Which page holds each generated block.
BLOCK_PAGES = {'configuration': 'README.md', 'commands': 'README.md', 'command-reference': 'docs/commands.md',
               'fetch-benchmark': 'docs/benchmarks.md', 'fault-matrix': 'docs/reliability.md'}
INTEGRATION_YML = REPO_ROOT / 'Darktrace.yml'
COMMAND_EXAMPLES = REPO_ROOT / 'command_examples'
CHANGELOG = REPO_ROOT / 'CHANGELOG.md'
# The context output types XSOAR knows.
CONTEXT_TYPES = frozenset({'String', 'Number', 'Boolean', 'Date', 'Unknown'})
CHANGELOG_VERSION_HEADING = re.compile(r'^## \[(\d+\.\d+\.\d+)\] - (\d{4}-\d{2}-\d{2})$', re.MULTILINE)
COMMAND_MENTION = re.compile(r'(?<![\w-])darktrace-[a-z]+(?:-[a-z]+)*')
# `Darktrace.SimilarDevices.devices`, but not the file names Darktrace.py / Darktrace.yml.
CONTEXT_MENTION = re.compile(r'\bDarktrace\.[A-Z][A-Za-z]*(?:\.[A-Za-z_]+)*')


# --------------------------------------------------------------------------- reading the sources

def integration() -> dict[str, Any]:
    return yaml.safe_load(INTEGRATION_YML.read_text(encoding='utf-8'))


def yaml_commands() -> list[dict[str, Any]]:
    return integration()['script']['commands']


def readme() -> str:
    return README.read_text(encoding='utf-8')


def yaml_default(value: Any) -> str:
    """A YAML default as text: booleans lower-case, nothing when unset."""
    if value is None:
        return ''
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


def table_cells(line: str) -> list[str]:
    """The cells of one Markdown table row, with `\\|` read back as a pipe."""
    inner = line.strip()
    inner = inner[1:] if inner.startswith('|') else inner
    inner = inner[:-1] if inner.endswith('|') and not inner.endswith('\\|') else inner
    return [cell.strip().replace('\\|', '|') for cell in re.split(r'(?<!\\)\|', inner)]


def table_after(text: str, heading: str) -> list[dict[str, str]]:
    """The rows of the first table after the line `heading`, as dicts keyed by the header names."""
    lines = text.splitlines()
    start = lines.index(heading)
    index = start + 1
    while index < len(lines) and not lines[index].startswith('|'):
        if lines[index].startswith('#'):
            return []  # the next heading came first: no table
        index += 1
    headers = [cell.strip('*') for cell in table_cells(lines[index])]
    rows = []
    for line in lines[index + 2:]:
        if not line.startswith('|'):
            break
        cells = table_cells(line)
        assert len(cells) == len(headers), f'row has {len(cells)} cells, header {len(headers)}: {line}'
        rows.append(dict(zip(headers, cells)))
    return rows


def doc_pages() -> dict[str, str]:
    """README.md and every page in docs/, by path relative to the repository."""
    return {str(page.relative_to(REPO_ROOT)): page.read_text(encoding='utf-8')
            for page in [README, *sorted(DOCS.glob('*.md'))]}


def sections_of(text: str, block: str) -> dict[str, str]:
    parts = re.split(r'^### (\S+)\n', read_block(text, block), flags=re.MULTILINE)
    return {parts[index]: parts[index + 1] for index in range(1, len(parts), 2)}


def command_sections() -> dict[str, str]:
    """The README's command sections, by command name, in README order."""
    return sections_of(readme(), gen_docs.COMMANDS_BLOCK)


def reference_sections() -> dict[str, str]:
    """docs/commands.md's command sections, by command name, in page order."""
    return sections_of(COMMANDS_PAGE.read_text(encoding='utf-8'), gen_docs.COMMAND_REFERENCE_BLOCK)


def both_sections() -> dict[str, dict[str, str]]:
    return {'README.md': command_sections(), 'docs/commands.md': reference_sections()}


def example_lines() -> list[str]:
    return [line.strip() for line in COMMAND_EXAMPLES.read_text(encoding='utf-8').splitlines()
            if line.strip() and not line.lstrip().startswith('#')]


def example_command(line: str) -> str:
    return line.split(None, 1)[0].lstrip('!')


def yaml_output_types() -> dict[str, str]:
    return {output['contextPath']: output.get('type', '')
            for command in yaml_commands() for output in command.get('outputs') or []}


def newest_changelog_entry() -> tuple[str, str, str]:
    """The newest version in CHANGELOG.md, its date, and its text."""
    text = CHANGELOG.read_text(encoding='utf-8')
    headings = list(CHANGELOG_VERSION_HEADING.finditer(text))
    assert headings, 'CHANGELOG.md has no "## [x.y.z] - YYYY-MM-DD" heading'
    end = headings[1].start() if len(headings) > 1 else len(text)
    return headings[0].group(1), headings[0].group(2), text[headings[0].end():end]


# --------------------------------------------------------------------------- parameters

def test_every_parameter_is_documented_and_nothing_else() -> None:
    """Given Darktrace.yml's instance parameters
    When the README's configuration table is read
    Then it lists exactly those parameters, in the YAML's order."""
    documented = [row['Parameter'] for row in table_after(readme(), '## Configure Darktrace in Cortex')]
    assert documented == [param['name'] for param in integration()['configuration']]


def test_parameters_agree_on_required_and_default() -> None:
    """Given each instance parameter in Darktrace.yml
    When its row in the README's configuration table is read
    Then the Required column is True exactly when the YAML requires it, and the Default is the YAML's."""
    rows = {row['Parameter']: row for row in table_after(readme(), '## Configure Darktrace in Cortex')}
    for param in integration()['configuration']:
        row = rows.get(param['name'])
        assert row is not None, f'{param["name"]} is not in the configuration table'
        assert row['Required'] == ('True' if param.get('required') else 'False'), param['name']
        assert row['Default'] == yaml_default(param.get('defaultvalue')), param['name']
        assert str(param['display']).split('(')[0].strip() in row['Description'], param['name']


# --------------------------------------------------------------------------- commands

def test_every_command_is_documented_in_yaml_order_and_nothing_else() -> None:
    """Given Darktrace.yml's commands
    When the command sections of the README and of docs/commands.md are listed
    Then each has one section per YAML command, in the YAML's order, and no other."""
    for page, sections in both_sections().items():
        assert list(sections) == [command['name'] for command in yaml_commands()], page


def test_arguments_agree_on_names_required_and_default() -> None:
    """Given each command's arguments in Darktrace.yml
    When the Input table of its section in the README and in docs/commands.md is read
    Then it lists exactly those arguments, each with the YAML's required flag and default value,
    and every predefined value is named in the description."""
    for page, sections in both_sections().items():
        for command in yaml_commands():
            rows = table_after(sections[command['name']], '#### Input')
            arguments = command.get('arguments') or []
            assert [row['Argument Name'] for row in rows] == [argument['name'] for argument in arguments], \
                (page, command['name'])
            for argument, row in zip(arguments, rows):
                where = f'{page}: {command["name"]} {argument["name"]}'
                assert row['Required'] == ('Required' if argument.get('required') else 'Optional'), where
                assert row['Default'] == yaml_default(argument.get('defaultValue')), where
                for value in argument.get('predefined') or []:
                    assert yaml_default(value) in row['Description'], where


def test_context_outputs_agree_on_paths_and_types() -> None:
    """Given each command's outputs in Darktrace.yml
    When the Context Output table of its section in docs/commands.md is read
    Then it lists exactly those context paths, each with the YAML's type and description."""
    sections = reference_sections()
    for command in yaml_commands():
        rows = table_after(sections[command['name']], '#### Context Output')
        outputs = command.get('outputs') or []
        assert [row['Path'] for row in rows] == [output['contextPath'] for output in outputs], command['name']
        for output, row in zip(outputs, rows):
            assert row['Type'] == output.get('type', ''), output['contextPath']
            assert row['Description'] == ' '.join(str(output['description']).split()), output['contextPath']


def test_every_documented_context_path_has_a_type() -> None:
    """Given every Context Output table in docs/commands.md
    When each documented context path is looked at
    Then it has a type XSOAR knows (String, Number, Boolean, Date or Unknown)."""
    rows = [row for section in reference_sections().values() for row in table_after(section, '#### Context Output')]
    assert rows
    untyped = [row['Path'] for row in rows if row['Type'] not in CONTEXT_TYPES]
    assert untyped == []


def test_readme_mentions_only_commands_and_context_the_yaml_defines() -> None:
    """Given the whole README and docs pages (hand-written parts and generated blocks) and the newest
    CHANGELOG entry
    When every darktrace-... command name and every Darktrace.X context path in them is collected
    Then each command is defined in Darktrace.yml, and each path is a YAML output path, a prefix of
    one, or a key inside an output of type Unknown."""
    names = {command['name'] for command in yaml_commands()}
    types = yaml_output_types()
    texts = {**doc_pages(), 'CHANGELOG.md (newest entry)': newest_changelog_entry()[2]}
    # The migration page names the Marketplace integrations' commands on purpose; tests/test_pack.py checks it
    # against their recorded definitions and this integration's YAML.
    texts.pop('docs/migration.md', None)
    for source, text in texts.items():
        unknown_commands = sorted(set(COMMAND_MENTION.findall(text)) - names)
        assert unknown_commands == [], source

        def defined(path: str) -> bool:
            return any(path == known or known.startswith(path + '.')
                       or (path.startswith(known + '.') and kind == 'Unknown') for known, kind in types.items())

        unknown_paths = sorted({path for path in CONTEXT_MENTION.findall(text) if not defined(path)})
        assert unknown_paths == [], source


# --------------------------------------------------------------------------- command_examples

def test_command_examples_names_every_command_and_nothing_else() -> None:
    """Given command_examples and Darktrace.yml
    When the command of each example line is taken
    Then every YAML command has a line, every line names a YAML command, and each line is in
    War Room syntax (`!command name=value ...`)."""
    lines = example_lines()
    assert all(line.startswith('!') for line in lines), [line for line in lines if not line.startswith('!')]
    examples = {example_command(line) for line in lines}
    names = {command['name'] for command in yaml_commands()}
    assert sorted(names - examples) == [], 'commands without an example'
    assert sorted(examples - names) == [], 'examples of commands Darktrace.yml does not define'


def test_yaml_and_command_examples_list_commands_in_dispatch_order() -> None:
    """Given the dispatch tables of Darktrace.py (COMMANDS by domain, then MIRRORING_COMMANDS)
    When the commands of Darktrace.yml and of command_examples are read in file order
    Then both list them in that order, so the YAML, the README and the examples read like the code."""
    import Darktrace
    dispatch_order = [*Darktrace.COMMANDS, *Darktrace.MIRRORING_COMMANDS]
    assert [command['name'] for command in yaml_commands()] == dispatch_order
    first_lines = list(dict.fromkeys(example_command(line) for line in example_lines()))
    assert first_lines == dispatch_order


def test_command_examples_use_only_defined_arguments_and_give_the_required_ones() -> None:
    """Given each command_examples line, parsed with the runner's War Room syntax
    When its arguments are compared with the command's arguments in Darktrace.yml
    Then every argument it gives is defined, and every required argument is given."""
    from runner.syntax import parse_command_line

    commands = {command['name']: command for command in yaml_commands()}
    for line in example_lines():
        parsed = parse_command_line(line)
        arguments = commands[parsed.command].get('arguments') or []
        defined = {argument['name'] for argument in arguments}
        required = {argument['name'] for argument in arguments if argument.get('required')}
        assert sorted(set(parsed.args) - defined) == [], line
        assert sorted(required - set(parsed.args)) == [], line


def test_readme_examples_are_the_command_examples_lines() -> None:
    """Given command_examples
    When the Command Example of each command section of the README and docs/commands.md is read
    Then it is the first command_examples line for that command, so the pages show what was run."""
    first_lines: dict[str, str] = {}
    for line in example_lines():
        first_lines.setdefault(example_command(line), line)
    for page, sections in both_sections().items():
        for name, section in sections.items():
            match = re.search(r'^#### Command Example\n\n```\n(.*)\n```$', section, re.MULTILINE)
            assert match, f'{page}: {name}: no command example'
            assert match.group(1) == first_lines.get(name), (page, name)


def test_readme_command_sections_link_to_the_full_reference() -> None:
    """Given the README's command sections
    When each is read
    Then it holds no context (docs/commands.md has it, so the README's size does not grow with the context of
    every command) and links to the command's section of docs/commands.md."""
    for name, section in command_sections().items():
        assert '#### Context Example' not in section, name
        assert f'](docs/commands.md#{name})' in section, name


# --------------------------------------------------------------------------- generated blocks

def test_configuration_block_is_up_to_date() -> None:
    """Given the current Darktrace.yml
    When gen_docs renders the configuration block
    Then the README's configuration block is exactly that (run `make docs` when it is not)."""
    assert read_block(readme(), gen_docs.CONFIGURATION_BLOCK) == gen_docs.render_configuration(integration()) + '\n'


def test_command_tables_are_up_to_date() -> None:
    """Given the current Darktrace.yml
    When gen_docs renders each command's heading, description and Input table (README) and its full
    reference with the Context Output table (docs/commands.md)
    Then each page's section for that command starts with exactly that text (run `make docs` when not)."""
    readme_sections, reference = command_sections(), reference_sections()
    for command in yaml_commands():
        for render, sections in ((gen_docs.render_command_summary, readme_sections),
                                 (gen_docs.render_command_reference, reference)):
            actual = f'### {command["name"]}\n' + sections[command['name']]
            assert actual.startswith(render(command) + '\n\n#### Command Example'), command['name']


def test_each_generated_block_is_in_its_page_once() -> None:
    """Given README.md and the pages in docs/
    When their generated blocks are listed
    Then the blocks written by gen_docs and by the benchmark scripts are each in exactly one page, the
    one their writers expect, and readme_blocks finds each there."""
    found = [(name, page) for page, text in doc_pages().items() for name in block_names(text)]
    assert sorted(found) == sorted(BLOCK_PAGES.items())
    for name, page in BLOCK_PAGES.items():
        assert page_with_block(name, REPO_ROOT) == REPO_ROOT / page


def test_readme_is_at_most_60_kb_and_opens_with_what_a_newcomer_needs() -> None:
    """Given README.md
    When its size and its first screen (before the table of contents) are read
    Then it is at most 60 KB, and the first screen says what the integration does, gives `make demo`
    and `make test`, a runner command against the emulator (no --url) and one against an appliance."""
    text = readme()
    assert len(text.encode('utf-8')) <= README_MAX_BYTES
    first_screen = text[:text.index('\n## Contents\n')]
    assert 'Turns Darktrace model breaches, AI Analyst incidents and Darktrace/Email emails, any of them, into XSOAR incidents' in ' '.join(first_screen.split())
    assert 'make demo' in first_screen and 'make test' in first_screen
    assert re.search(r"^\$ \.venv/bin/python -m runner '!darktrace-[^']+'$", first_screen, re.MULTILINE)
    assert re.search(r'python -m runner --url https://\S+ \'!darktrace-', first_screen)


def test_readme_table_of_contents_and_links_lead_somewhere() -> None:
    """Given README.md and the pages in docs/
    When every relative Markdown link in them is followed
    Then its file exists and, when it names an anchor, the target page has that heading."""
    def anchors(text: str) -> set[str]:
        headings = re.findall(r'^#{1,6} (.+)$', text, re.MULTILINE)
        return {re.sub(r'[^\w\- ]', '', heading.strip().lower()).replace(' ', '-') for heading in headings}

    for page, text in doc_pages().items():
        for target in re.findall(r'\]\(([^)\s]+)\)', text):
            if re.match(r'^[a-z]+:', target):
                continue
            path, _, anchor = target.partition('#')
            resolved = (REPO_ROOT / page).parent / path if path else REPO_ROOT / page
            assert resolved.is_file(), f'{page}: link to {target}'
            if anchor and resolved.suffix == '.md':
                assert anchor in anchors(resolved.read_text(encoding='utf-8')), f'{page}: link to {target}'


def test_readme_runner_example_prints_what_the_runner_prints() -> None:
    """Given the runner command and output shown on the README's first screen
    When that command is run against the emulator, with output that is not a terminal
    Then it prints exactly what the README shows."""
    import io
    import shlex

    from runner.cli import main as runner_main

    block = re.search(r'^```console\n\$ \.venv/bin/python -m runner (.*?)\n(.*?)\n```$', readme(),
                      re.MULTILINE | re.DOTALL)
    assert block
    stdout = io.StringIO()
    assert runner_main(shlex.split(block.group(1)), stdout=stdout, stderr=io.StringIO(), environ={}) == 0
    assert stdout.getvalue().rstrip('\n') == block.group(2)


def test_replace_block_changes_only_the_block_and_is_idempotent() -> None:
    """Given a README with hand-written text around two blocks
    When one block is replaced, and then replaced again with the same body
    Then only that block's body changed, the second replacement changes nothing, and reading the
    block gives the body back."""
    text = ('intro\n<!-- BEGIN GENERATED: one -->\nold\n<!-- END GENERATED: one -->\nmiddle\n'
            '<!-- BEGIN GENERATED: two -->\n<!-- END GENERATED: two -->\nend\n')
    once = replace_block(text, 'two', '\n| a | b |\n\n')
    assert once == text.replace('GENERATED: two -->\n<!--', 'GENERATED: two -->\n| a | b |\n<!--')
    assert replace_block(once, 'two', '| a | b |') == once
    assert read_block(once, 'two') == '| a | b |\n'
    assert read_block(once, 'one') == 'old\n'
    assert replace_block(once, 'one', '') == once.replace('old\n', '')


@pytest.mark.parametrize('text', [
    'no markers at all\n',
    '<!-- BEGIN GENERATED: one -->\nx\n',
    '<!-- BEGIN GENERATED: one -->\n<!-- END GENERATED: one -->\n<!-- BEGIN GENERATED: one -->\n'
    '<!-- END GENERATED: one -->\n',
    '<!-- END GENERATED: one -->\n<!-- BEGIN GENERATED: one -->\n',
])
def test_replace_block_refuses_a_missing_or_malformed_block(text: str) -> None:
    """Given a README whose block `one` is missing, unterminated, duplicated or inside out
    When the block is replaced
    Then BlockError is raised instead of writing text in a guessed place."""
    with pytest.raises(BlockError):
        replace_block(text, 'one', 'body')


# --------------------------------------------------------------------------- version

def test_changelog_newest_version_is_the_version_the_pack_is_staged_with() -> None:
    """Given CHANGELOG.md and the staging script that builds the content pack for demisto-sdk
    When the newest CHANGELOG version is compared with the version stage_content derives
    Then they are equal, and the newest entry is dated."""
    version, date, _ = newest_changelog_entry()
    assert stage_content.pack_version(REPO_ROOT) == version
    assert re.fullmatch(r'20\d\d-\d\d-\d\d', date)


@pytest.mark.skipif(shutil.which('git') is None, reason='staging commits the pack with git')
def test_staged_pack_metadata_carries_the_changelog_version(tmp_path: Path) -> None:
    """Given the repository staged as a content pack, as `make validate` and `make package` do
    When the staged pack_metadata.json is read
    Then its currentVersion is the newest CHANGELOG version."""
    integration_yml = stage_content.stage(REPO_ROOT, tmp_path / 'content', stage_content.DEFAULT_AUTHOR)
    metadata = json.loads((tmp_path / 'content' / 'Packs' / stage_content.PACK_NAME / 'pack_metadata.json').read_text())
    assert (tmp_path / 'content' / integration_yml).is_file()
    assert metadata['currentVersion'] == newest_changelog_entry()[0]
    status = subprocess.run(['git', 'status', '--porcelain'], cwd=tmp_path / 'content', capture_output=True,
                            text=True, check=True)
    assert status.stdout == ''


def test_integration_yaml_carries_no_competing_version() -> None:
    """Given Darktrace.yml
    When its version fields are read
    Then it has no top-level version (demisto-sdk's integration schema forbids one: ST110, "extra
    fields not permitted"), so the pack version lives in the CHANGELOG and pack_metadata.json; and
    commonfields.version is -1, as demisto-sdk requires (BA100)."""
    document = integration()
    assert 'version' not in document
    assert document['commonfields']['version'] == -1


def test_readme_examples_are_what_the_commands_produce_now() -> None:
    """
    Given README.md, the YAML, command_examples and the integration as they are now
    When gen_docs runs every example against the emulator at its pinned time, without writing
    Then the README already holds exactly that output, so examples cannot drift from the code.
    """
    assert gen_docs.main(['--check']) == 0, 'README.md is stale: run `make docs`'
