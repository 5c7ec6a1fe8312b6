"""Layout dynamic section: the connections of the incident's Darktrace model breach."""
import demistomock as demisto  # noqa: F401
from CommonServerPython import *  # noqa: F401

from typing import Any, Callable

COMMAND = 'darktrace-get-model-breach-connections'
BRAND = 'Darktrace NDR'  # this pack's integration only, never another instance with the same commands


def breach_pbid(incident: dict[str, Any]) -> int | None:
    """The incident's pbid: its Darktrace Model Breach ID field, else its mirror ID when that is a pbid."""
    for value in ((incident.get('CustomFields') or {}).get('darktracendrpbid'), incident.get('dbotMirrorId')):
        text = str(value if value is not None else '').strip().removesuffix('.0')
        if text.isdigit() and int(text) > 0:
            return int(text)
    return None


def breach_section(incident: dict[str, Any], execute: Callable[[str, dict[str, Any]], Any]) -> CommandResults:
    """The section's text: what `darktrace-get-model-breach-connections` shows in the War Room."""
    pbid = breach_pbid(incident)
    if pbid is None:
        return CommandResults(readable_output='This incident has no Darktrace model breach ID.')
    replies = execute(COMMAND, {'pbid': pbid, 'limit': 20, 'using-brand': BRAND}) or []
    entries = [entry for entry in replies if isinstance(entry, dict)]
    errors = [str(entry.get('Contents')) for entry in entries if entry.get('Type') == EntryType.ERROR]
    if errors:
        raise DemistoException('; '.join(errors))
    text = '\n\n'.join(str(entry.get('HumanReadable') or '') for entry in entries).strip()
    return CommandResults(readable_output=text or f'No connections found for model breach {pbid}.')


def main() -> None:
    try:
        return_results(breach_section(demisto.incident(), demisto.executeCommand))
    except Exception as error:
        return_error(f'Could not show the connections of the Darktrace model breach: {error}')


if __name__ in ('__main__', '__builtin__', 'builtins'):
    main()
