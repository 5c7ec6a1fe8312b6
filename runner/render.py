"""War Room markdown rendered for a terminal: headings, aligned text tables, plain paragraphs.

Tables fit the terminal width: columns keep their natural width when they can; otherwise cells
are wrapped at word boundaries, and prose words are cut (after punctuation where possible) only
when no fit keeps them whole. A token an analyst copies (an id, number, UUID, URL, host name,
address, timestamp) is never cut: when one does not fit its column, the table is shown as one
`field | value` block per row instead, where a token longer than the line runs past the edge
whole. Widths are display widths, so wide (CJK) and combining characters keep every separator
in its column.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

DEFAULT_WIDTH = 80
COLUMN_SEPARATOR = ' | '
RULE_JOINT = '-+-'
MIN_COLUMN_WIDTH = 8  # below this most headers and values break mid-word; records read better then
MIN_VALUE_WIDTH = 10
MAX_CELL_LINES = 12  # a huge cell (a JSON blob) is cut here; --json shows everything
MAX_UNBROKEN_WORD = 30  # a longer prose word may be cut rather than widen its column (a token never is)
ELLIPSIS = '…'
BREAK_AFTER = frozenset('/-.:_,;&?=@')

HEADING = re.compile(r'^(#{1,6})\s+(.*?)\s*#*\s*$')
TABLE_SEPARATOR_CELL = re.compile(r'^:?-{3,}:?$')
UNESCAPED_PIPE = re.compile(r'(?<!\\)\|')
LINK = re.compile(r'\[([^\]\n]*)\]\(([^)\s]+)\)')
BOLD = re.compile(r'\*\*(.+?)\*\*')
LINE_BREAK = re.compile(r'<br\s*/?>', re.IGNORECASE)
# Ids, numbers, UUIDs, URLs, host names, e-mail and IP addresses, paths, timestamps: one run of
# letters, digits and the punctuation these use, possibly inside brackets, quotes or before a comma.
TOKEN = re.compile(r'^[(\[<"\']*[\w.:/@%+=~#?&$!*-]+[)\]>"\',;.]*$')
# Terminal control characters from appliance data must not reach the terminal (escape sequences).
CONTROL_CHARS = re.compile(r'[\x00-\x08\x0b-\x1f\x7f-\x9f]')


def sanitize(text: str) -> str:
    """Text safe to print: tabs become spaces, other control characters are dropped, newlines stay."""
    return CONTROL_CHARS.sub('', text.replace('\r\n', '\n').replace('\t', '    ').replace('\r', '\n'))


def char_width(char: str) -> int:
    if unicodedata.combining(char) or unicodedata.category(char) in ('Cf', 'Mn', 'Me'):
        return 0
    return 2 if unicodedata.east_asian_width(char) in ('W', 'F') else 1


def display_width(text: str) -> int:
    return sum(char_width(char) for char in text)


def pad(text: str, width: int) -> str:
    return text + ' ' * max(0, width - display_width(text))


def is_token(word: str) -> bool:
    """Whether `word` is one a reader copies whole (see TOKEN), so that it must never be cut."""
    return bool(TOKEN.match(word))


def _cut(word: str, width: int) -> tuple[str, str]:
    """The head of `word` that fits `width` columns (at least one character), and the rest.

    The cut goes after punctuation (as in a path, host name or timestamp) when one sits in the
    second half of the line, else at the last character that fits.
    """
    used = 0
    fits = len(word)
    for index, char in enumerate(word):
        used += char_width(char)
        if used > width and index > 0:
            fits = index
            break
    if fits == len(word):
        return word, ''
    for index in range(fits, max(1, fits // 2), -1):
        previous = word[index - 1]
        if previous in BREAK_AFTER or (previous == 'T' and index >= 2 and word[index - 2].isdigit()):
            return word[:index], word[index:]
    return word[:fits], word[fits:]


def wrap(text: str, width: int) -> list[str]:
    """`text` in lines of at most `width` columns: words are kept whole unless longer than a line,
    and a token (see is_token) longer than a line is kept whole on a line of its own."""
    width = max(1, width)
    lines: list[str] = []
    for paragraph in text.split('\n'):
        current = ''
        for word in paragraph.split():
            while display_width(word) > width and not is_token(word):
                if current:
                    lines.append(current)
                    current = ''
                head, word = _cut(word, width)
                if not word:
                    word = head
                    break
                lines.append(head)
            if not current:
                current = word
            elif display_width(current) + 1 + display_width(word) <= width:
                current += ' ' + word
            else:
                lines.append(current)
                current = word
        lines.append(current)
    return lines


def wrap_cell(text: str, width: int) -> list[str]:
    """A wrapped cell, cut to MAX_CELL_LINES lines with an ellipsis when it is longer."""
    lines = wrap(text, width)
    if len(lines) > MAX_CELL_LINES:
        # Whole words are dropped to make room for the ellipsis, so no token is left half shown.
        words = lines[MAX_CELL_LINES - 1].split()
        while words and display_width(' '.join(words + [ELLIPSIS])) > width:
            words.pop()
        lines = lines[:MAX_CELL_LINES - 1] + [' '.join(words + [ELLIPSIS])]
    return lines


def _natural_width(text: str) -> int:
    return max((display_width(line) for line in text.split('\n')), default=0)


def _longest_word(text: str) -> int:
    return max((display_width(word) for word in text.split()), default=0)


def _longest_token(text: str) -> int:
    return max((display_width(word) for word in text.split() if is_token(word)), default=0)


def fit_widths(natural: list[int], unbroken: list[int], available: int,
               tokens: list[int] | None = None) -> list[int] | None:
    """Column widths summing to at most `available`, or None when no legible fit exists.

    Like a browser's automatic table layout: natural widths when they fit; else every column gets
    the width of its longest word (`unbroken`) and the spare room goes to the columns that would
    wrap most; else, as a last resort, the columns with the longest words are cut to a common cap
    (prose words break, no column narrower than MIN_COLUMN_WIDTH nor than its longest token, from
    `tokens`, which never breaks).
    """
    if sum(natural) <= available:
        return list(natural)
    if sum(unbroken) <= available:
        widths = list(unbroken)
        gaps = [width - minimum for width, minimum in zip(natural, unbroken)]
        spare = available - sum(widths)
        total_gap = sum(gaps)
        for index, gap in enumerate(gaps):
            widths[index] += spare * gap // total_gap
        spare = available - sum(widths)
        for index in sorted(range(len(widths)), key=lambda i: natural[i] - widths[i], reverse=True):
            if spare and widths[index] < natural[index]:
                widths[index] += 1
                spare -= 1
        return widths
    # Words must break: the columns with the longest words are cut first, to a common cap.
    floors = [max(min(width, MIN_COLUMN_WIDTH), token)
              for width, token in zip(unbroken, tokens or [0] * len(unbroken))]
    if sum(floors) > available:
        return None
    low, high = 0, max(unbroken)
    while low < high:
        cap = (low + high + 1) // 2
        if sum(max(floor, min(width, cap)) for floor, width in zip(floors, unbroken)) <= available:
            low = cap
        else:
            high = cap - 1
    widths = [max(floor, min(width, low)) for floor, width in zip(floors, unbroken)]
    spare = available - sum(widths)
    for index, width in enumerate(unbroken):
        if spare and widths[index] < width:
            widths[index] += 1
            spare -= 1
    return widths


def _row_lines(cells: list[list[str]], widths: list[int]) -> list[str]:
    height = max((len(cell) for cell in cells), default=1)
    lines = []
    for line_index in range(height):
        parts = [pad(cell[line_index] if line_index < len(cell) else '', width) for cell, width in zip(cells, widths)]
        lines.append(COLUMN_SEPARATOR.join(parts).rstrip())
    return lines


def render_table(headers: list[str], rows: list[list[str]], width: int = DEFAULT_WIDTH) -> list[str]:
    """An aligned text table of at most `width` columns (cells may hold newlines)."""
    count = len(headers)
    rows = [(row + [''] * count)[:count] for row in rows]
    columns = [[row[i] for row in [headers] + rows] for i in range(count)]
    natural = [max(1, max(_natural_width(cell) for cell in column)) for column in columns]
    tokens = [max(_longest_token(cell) for cell in column) for column in columns]
    unbroken = [max(1, token, min(MAX_UNBROKEN_WORD, max(_longest_word(cell) for cell in column)))
                for token, column in zip(tokens, columns)]
    widths = fit_widths(natural, unbroken, width - len(COLUMN_SEPARATOR) * (count - 1), tokens)
    if widths is None:
        return render_records(headers, rows, width)
    rule = RULE_JOINT.join('-' * column_width for column_width in widths)
    lines = _row_lines([wrap_cell(header, w) for header, w in zip(headers, widths)], widths)
    lines.append(rule)
    wrapped = [[wrap_cell(cell, w) for cell, w in zip(row, widths)] for row in rows]
    # Rules between rows only when some row spans several lines, where rows would otherwise run together.
    ruled = any(len(cell) > 1 for row in wrapped for cell in row)
    for index, row_cells in enumerate(wrapped):
        if ruled and index:
            lines.append(rule)
        lines.extend(_row_lines(row_cells, widths))
    return lines


def render_records(headers: list[str], rows: list[list[str]], width: int = DEFAULT_WIDTH) -> list[str]:
    """Each row as a `field | value` block, for tables with too many columns for the width.

    A value token longer than the value column runs past the right edge rather than being cut;
    nothing follows it on its line, so the separators stay aligned.
    """
    key_width = min(max((_natural_width(header) for header in headers), default=1), max(MIN_COLUMN_WIDTH, width // 3))
    value_width = max(MIN_VALUE_WIDTH, width - key_width - len(COLUMN_SEPARATOR))
    widths = [key_width, value_width]
    rule = RULE_JOINT.join('-' * column_width for column_width in widths)
    lines: list[str] = []
    for index, row in enumerate(rows):
        if index:
            lines.append(rule)
        for header, cell in zip(headers, row):
            lines.extend(_row_lines([wrap_cell(header, key_width), wrap_cell(cell, value_width)], widths))
    if not rows:
        lines.append(', '.join(headers))
    return lines


def _inline(text: str, in_cell: bool) -> str:
    """Markdown inline syntax as plain text: links show their URL, bold markers go, <br> breaks the line."""
    def link(match: re.Match[str]) -> str:
        label, url = match.group(1), match.group(2)
        if in_cell or not label or label == url:
            return url
        return f'{label} ({url})'

    text = LINK.sub(link, text)
    text = BOLD.sub(r'\1', text)
    return LINE_BREAK.sub('\n', text)


def _split_row(line: str) -> list[str]:
    body = line.strip()
    if body.startswith('|'):
        body = body[1:]
    if body.endswith('|') and not body.endswith('\\|'):
        body = body[:-1]
    return [cell.strip() for cell in UNESCAPED_PIPE.split(body)]


def _cell_text(raw: str) -> str:
    return _inline(raw.replace('\\|', '|').replace('\\`', '`'), in_cell=True)


@dataclass
class _Table:
    headers: list[str]
    rows: list[list[str]]


def _parse_table(lines: list[str]) -> _Table | None:
    """A markdown table (header row, `---` row, body rows), or None when the lines are not one."""
    if len(lines) < 2:
        return None
    separator = _split_row(lines[1])
    if not separator or not all(TABLE_SEPARATOR_CELL.match(cell) for cell in separator):
        return None
    headers = [_cell_text(cell) for cell in _split_row(lines[0])]
    rows = [[_cell_text(cell) for cell in _split_row(line)] for line in lines[2:]]
    return _Table(headers, rows)


def render_markdown(markdown: str, width: int = DEFAULT_WIDTH) -> str:
    """War Room markdown as terminal text of at most `width` columns per line."""
    source = sanitize(markdown).split('\n')
    out: list[str] = []

    def blank() -> None:
        if out and out[-1] != '':
            out.append('')

    index = 0
    while index < len(source):
        line = source[index]
        if line.lstrip().startswith('|'):
            end = index
            while end < len(source) and source[end].lstrip().startswith('|'):
                end += 1
            table = _parse_table(source[index:end])
            if table is not None:
                out.extend(render_table(table.headers, table.rows, width))
                blank()
                index = end
                continue
        heading = HEADING.match(line)
        if heading:
            blank()
            title_lines = wrap(_inline(heading.group(2), in_cell=False), width)
            out.extend(title_lines)
            underline = '=' if len(heading.group(1)) <= 2 else '-'
            out.append(underline * max(display_width(title) for title in title_lines))
        elif not line.strip():
            blank()
        else:
            out.extend(wrap(_inline(line, in_cell=False), width))
        index += 1
    while out and out[-1] == '':
        out.pop()
    return '\n'.join(out)
