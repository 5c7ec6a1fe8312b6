"""`command_examples`: one War Room command per line, run by the demo, the docs generator and the tests."""
from __future__ import annotations

from pathlib import Path

from runner import REPO_ROOT
from runner.syntax import parse_command_line

COMMAND_EXAMPLES = REPO_ROOT / 'command_examples'


def example_lines(path: Path = COMMAND_EXAMPLES) -> list[str]:
    """The commands, one per line; blank lines and `#` comments are skipped."""
    if not path.is_file():
        return []
    return [line.strip() for line in path.read_text(encoding='utf-8').splitlines()
            if line.strip() and not line.lstrip().startswith('#')]


def example_args(path: Path = COMMAND_EXAMPLES) -> dict[str, dict[str, str]]:
    """The arguments of each command's first line, parsed as the War Room parses them."""
    examples: dict[str, dict[str, str]] = {}
    for line in example_lines(path):
        parsed = parse_command_line(line)
        examples.setdefault(parsed.command, parsed.args)
    return examples
