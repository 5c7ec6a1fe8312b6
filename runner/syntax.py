"""War Room command syntax: `!command name=value name="two words" name='a "b"' name=`raw text``.

Values are unquoted words, or quoted with double quotes, single quotes or backquotes. Inside
double or single quotes a backslash escapes the closing quote or another backslash (any other
backslash is kept, so Windows paths survive); inside backquotes everything is literal, which is
how XSOAR lets a value hold both kinds of quote.
"""
from __future__ import annotations

from dataclasses import dataclass, field

QUOTES = ('"', "'", '`')

# Arguments the platform consumes itself and never hands to the integration.
PLATFORM_ARGUMENTS = frozenset({
    'using', 'using-brand', 'using-category', 'execution-timeout', 'extend-context', 'ignore-outputs',
    'raw-response', 'auto-extract',
})


class CommandSyntaxError(ValueError):
    """The command line is not valid War Room syntax; the message says where and why."""


@dataclass
class CommandLine:
    """A parsed command: its name (without `!`), the arguments for the integration, and the
    platform arguments that the runner does not pass on."""

    command: str
    args: dict[str, str] = field(default_factory=dict)
    platform_args: dict[str, str] = field(default_factory=dict)


def _add_argument(parsed: CommandLine, name: str, value: str) -> None:
    if name in parsed.args or name in parsed.platform_args:
        raise CommandSyntaxError(f'Argument "{name}" is given twice.')
    if name in PLATFORM_ARGUMENTS:
        parsed.platform_args[name] = value
    else:
        parsed.args[name] = value


def _command_name(word: str) -> str:
    name = word[1:] if word.startswith('!') else word
    if not name:
        raise CommandSyntaxError('Missing command name: write it as !command-name name=value ...')
    return name


def _read_quoted(text: str, start: int) -> tuple[str, int]:
    """The value of the quoted string opening at `start`, and the index just past its closing quote."""
    quote = text[start]
    chars: list[str] = []
    index = start + 1
    while index < len(text):
        char = text[index]
        if quote != '`' and char == '\\' and index + 1 < len(text) and text[index + 1] in (quote, '\\'):
            chars.append(text[index + 1])
            index += 2
            continue
        if char == quote:
            return ''.join(chars), index + 1
        chars.append(char)
        index += 1
    raise CommandSyntaxError(f'Unterminated {quote} quote starting at character {start + 1}.')


def parse_command_line(line: str) -> CommandLine:
    """Parse one War Room command line, e.g. `!darktrace-get-tagged-devices tagName="Critical Asset"`."""
    text = line.strip()
    if not text:
        raise CommandSyntaxError('Empty command: write it as !command-name name=value ...')
    end = 0
    while end < len(text) and not text[end].isspace():
        end += 1
    parsed = CommandLine(command=_command_name(text[:end]))
    index = end
    while True:
        while index < len(text) and text[index].isspace():
            index += 1
        if index >= len(text):
            return parsed
        name_start = index
        while index < len(text) and text[index] != '=' and not text[index].isspace():
            index += 1
        name = text[name_start:index]
        if index >= len(text) or text[index] != '=':
            raise CommandSyntaxError(f'Argument "{name}" has no value: write it as {name}=value.')
        if not name:
            raise CommandSyntaxError(f'A value at character {index + 1} has no argument name: write name=value.')
        index += 1
        if index < len(text) and text[index] in QUOTES:
            value, index = _read_quoted(text, index)
            if index < len(text) and not text[index].isspace():
                raise CommandSyntaxError(f'Unexpected text after the closing quote of "{name}" at character '
                                         f'{index + 1}: put a space between arguments.')
        else:
            value_start = index
            while index < len(text) and not text[index].isspace():
                index += 1
            value = text[value_start:index]  # a quote inside a bare word is literal, as in name=O'Brien
        _add_argument(parsed, name, value)


def parse_shell_words(words: list[str]) -> CommandLine:
    """A command given as several shell words (`!cmd` `name=value` ...), already unquoted by the shell."""
    parsed = CommandLine(command=_command_name(words[0]))
    for word in words[1:]:
        name, separator, value = word.partition('=')
        if not separator or not name:
            raise CommandSyntaxError(f'Argument "{word}" is not name=value.')
        _add_argument(parsed, name, value)
    return parsed
