"""Everything the runner prints goes through `Output`, which keeps secrets off the terminal."""
from __future__ import annotations

import json
import re
from typing import Any, TextIO
from urllib.parse import quote

from runner.render import render_markdown, render_table, sanitize, wrap
from xsoar_platform import FILE_ENTRY_TYPE, file_path, is_error_entry

# Plain text to the renderer (asterisks would read as bold markers), and the emulator's mark too.
REDACTED = '<redacted>'
# A secret this long is masked wherever it appears, even run together with other text; a shorter
# one only where it stands alone, so that it cannot mask part of an unrelated word, id or number.
MIN_EMBEDDED_SECRET = 16
SEVERITY_NAMES = {0: 'Unknown', 0.5: 'Informational', 1: 'Low', 2: 'Medium', 3: 'High', 4: 'Critical'}


def secret_pattern(secret: str) -> re.Pattern[str]:
    """Where `secret` shows in text: as itself, percent-encoded (a URL) or JSON-escaped (a reply body)."""
    forms = sorted({secret, quote(secret, safe=''), json.dumps(secret)[1:-1]}, key=len, reverse=True)
    alternatives = '|'.join(re.escape(form) for form in forms)
    if len(secret) >= MIN_EMBEDDED_SECRET:
        return re.compile(alternatives)
    return re.compile(rf'(?<![\w-])(?:{alternatives})(?![\w-])')


class Output:
    """Writes to stdout/stderr at a given width, replacing every secret it was told about.

    Text is masked before it is laid out, so a table keeps its alignment and a secret cannot
    escape by being wrapped across two lines; what is printed is masked once more.
    """

    def __init__(self, stdout: TextIO, stderr: TextIO, width: int) -> None:
        self.stdout = stdout
        self.stderr = stderr
        self.width = width
        self._secrets: dict[str, re.Pattern[str]] = {}

    def add_secret(self, secret: str) -> None:
        if secret and secret not in self._secrets:
            self._secrets[secret] = secret_pattern(secret)

    def redact(self, text: str) -> str:
        for pattern in self._secrets.values():
            text = pattern.sub(REDACTED, text)
        return text

    def print(self, text: str = '') -> None:
        self.stdout.write(self.redact(text) + '\n')
        self.stdout.flush()

    def error(self, text: str) -> None:
        self.stderr.write(self.redact(sanitize(text)) + '\n')
        self.stderr.flush()

    def paragraph(self, text: str) -> None:
        """Plain text wrapped to the output width."""
        for line in wrap(self.redact(sanitize(text)), self.width):
            self.print(line)

    def json(self, value: Any) -> None:
        self.print(json.dumps(value, indent=2, ensure_ascii=False, default=str))

    def section(self, title: str) -> None:
        """A heading that separates the steps of the demo."""
        self.print()
        self.print('=' * self.width)
        for line in wrap(self.redact(sanitize(title)), self.width):
            self.print(line)
        self.print('=' * self.width)

    def logs(self, logs: list[tuple[str, str]]) -> None:
        for level, message in logs:
            self.error(f'[{level}] {message}')

    def entry(self, entry: Any) -> None:
        """One War Room entry as the War Room shows it: the readable output, else the contents."""
        if isinstance(entry, str):
            self.print(render_markdown(self.redact(entry), self.width))
            return
        if not isinstance(entry, dict):
            self.print(sanitize(json.dumps(entry, indent=2, ensure_ascii=False, default=str)))
            return
        if is_field_mapping(entry):
            self.print(render_markdown(self.redact(mapping_tables(entry)), self.width))
            return
        if is_error_entry(entry):
            self.error(str(entry.get('Contents') or ''))
            return
        if entry.get('Type') == FILE_ENTRY_TYPE and entry.get('FileID'):
            written = file_path(entry)
            size = written.stat().st_size if written.is_file() else 0
            self.print(f'File {sanitize(str(entry.get("File") or ""))} ({size:,} bytes), written to:\n{written}')
            return
        readable = entry.get('HumanReadable')
        contents = entry.get('Contents')
        if readable:
            self.print(render_markdown(self.redact(str(readable)), self.width))
        elif isinstance(contents, str) and entry.get('ContentsFormat') in ('text', 'markdown', None):
            self.print(render_markdown(self.redact(contents), self.width))
        elif contents is not None:
            self.print(sanitize(json.dumps(contents, indent=2, ensure_ascii=False, default=str)))

    def incidents_table(self, incidents: list[dict[str, Any]]) -> None:
        if not incidents:
            self.print('No new incidents.')
            return
        # The name says the source ("Darktrace Model Breach ..." or "Darktrace AI Analyst Incident: ..."); the id is
        # the pbid or the event id.
        rows = [[str(incident_source(incident)[1] or ''), str(incident.get('occurred') or ''),
                 severity_name(incident.get('severity')), sanitize(str(incident.get('name') or ''))]
                for incident in incidents]
        rows = [[self.redact(cell) for cell in row] for row in rows]
        for line in render_table(['id', 'occurred', 'severity', 'name'], rows, self.width):
            self.print(line)


def is_field_mapping(value: dict[str, Any]) -> bool:
    """What get-mapping-fields hands the platform: {record type: {field: description}}, not a War Room entry."""
    return bool(value) and 'Type' not in value and 'Contents' not in value and all(
        isinstance(fields, dict) and all(isinstance(text, str) for text in fields.values())
        for fields in value.values())


def mapping_tables(mapping: dict[str, dict[str, str]]) -> str:
    """One Markdown table per record type, as the mapping editor lists the fields."""
    def cell(text: str) -> str:
        return ' '.join(str(text).split()).replace('|', '\\|')

    blocks = []
    for type_name, fields in mapping.items():
        rows = [f'| {cell(name)} | {cell(description)} |' for name, description in fields.items()]
        blocks.append('\n'.join([f'### {type_name}: {len(fields)} fields for mappers', '| Field | Description |',
                                  '|---|---|', *rows]))
    return '\n\n'.join(blocks) + '\n'


def severity_name(severity: Any) -> str:
    if isinstance(severity, (int, float)) and severity in SEVERITY_NAMES:
        return SEVERITY_NAMES[severity]
    return str(severity)


def json_view(entries: list[Any]) -> Any:
    """The --json form of a command's entries: its context and its raw entry."""
    views = [{'EntryContext': (entry.get('EntryContext') or {}) if isinstance(entry, dict) else {},
              'Entry': entry} for entry in entries]
    return views[0] if len(views) == 1 else views


def incident_source(incident: dict[str, Any]) -> tuple[str, Any]:
    """Where an incident came from, ('breach', pbid) or ('AI Analyst', event id): its mirror id (all digits for a
    breach), else the id in its raw JSON."""
    record_id = incident.get('dbotMirrorId')
    if not record_id:
        try:
            raw = json.loads(incident.get('rawJSON') or '{}')
        except ValueError:
            raw = {}
        record_id = raw.get('pbid') or raw.get('id') if isinstance(raw, dict) else None
    return ('breach' if str(record_id).isdigit() else 'AI Analyst'), record_id
