"""Layout dynamic section: the comments on the incident's Darktrace AI Analyst incident event."""
import demistomock as demisto  # noqa: F401
from CommonServerPython import *  # noqa: F401

from typing import Any, Callable

COMMAND = 'darktrace-get-ai-analyst-comments'
BRAND = 'Darktrace NDR'  # this pack's integration only, never another instance with the same commands


def event_id(incident: dict[str, Any]) -> str | None:
    """The incident's AI Analyst event ID: its Darktrace NDR AI Analyst Event ID field, else its mirror ID."""
    for value in ((incident.get('CustomFields') or {}).get('darktracendraieventid'), incident.get('dbotMirrorId')):
        text = str(value if value is not None else '').strip()
        if text:
            return text
    return None


def event_section(incident: dict[str, Any], execute: Callable[[str, dict[str, Any]], Any]) -> CommandResults:
    """The section's text: what `darktrace-get-ai-analyst-comments` shows in the War Room."""
    event = event_id(incident)
    if event is None:
        return CommandResults(readable_output='This incident has no Darktrace AI Analyst event ID.')
    replies = execute(COMMAND, {'event_id': event, 'using-brand': BRAND}) or []
    entries = [entry for entry in replies if isinstance(entry, dict)]
    errors = [str(entry.get('Contents')) for entry in entries if entry.get('Type') == EntryType.ERROR]
    if errors:
        raise DemistoException('; '.join(errors))
    text = '\n\n'.join(str(entry.get('HumanReadable') or '') for entry in entries).strip()
    return CommandResults(readable_output=text or f'No comments found for AI Analyst event {event}.')


def main() -> None:
    try:
        return_results(event_section(demisto.incident(), demisto.executeCommand))
    except Exception as error:
        return_error(f'Could not show the comments of the Darktrace AI Analyst event: {error}')


if __name__ in ('__main__', '__builtin__', 'builtins'):
    main()
