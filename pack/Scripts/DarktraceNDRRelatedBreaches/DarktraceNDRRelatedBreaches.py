"""Layout dynamic section: the model breaches related to the incident's Darktrace AI Analyst event."""
import demistomock as demisto  # noqa: F401
from CommonServerPython import *  # noqa: F401

from typing import Any, Callable

COMMAND = 'darktrace-get-model-breach'
BRAND = 'Darktrace NDR'  # this pack's integration only, never another instance with the same commands
MAX_BREACHES = 10  # a section stays readable, and opening the layout sends at most this many requests


def related_pbids(incident: dict[str, Any]) -> list[int]:
    """The pbids in the incident's Darktrace NDR Related Model Breaches field (numbers or text), in order, once each."""
    values = (incident.get('CustomFields') or {}).get('darktracendrrelatedbreaches') or []
    pbids: list[int] = []
    for value in values if isinstance(values, list) else [values]:
        text = str(value).strip().removesuffix('.0')
        if text.isdigit() and int(text) > 0 and int(text) not in pbids:
            pbids.append(int(text))
    return pbids


def breaches_section(incident: dict[str, Any], execute: Callable[[str, dict[str, Any]], Any]) -> CommandResults:
    """The section's text: what `darktrace-get-model-breach` shows for each related breach."""
    pbids = related_pbids(incident)
    if not pbids:
        return CommandResults(readable_output='This AI Analyst event lists no related model breaches.')
    texts, errors = [], []
    for pbid in pbids[:MAX_BREACHES]:
        replies = execute(COMMAND, {'pbid': pbid, 'using-brand': BRAND}) or []
        entries = [entry for entry in replies if isinstance(entry, dict)]
        errors += [f'{pbid}: {entry.get("Contents")}' for entry in entries if entry.get('Type') == EntryType.ERROR]
        texts += [str(entry.get('HumanReadable') or '') for entry in entries if entry.get('Type') != EntryType.ERROR]
    if errors and not any(text.strip() for text in texts):  # nothing to show: an error entry, so a playbook sees it
        raise DemistoException('Could not get model breach ' + '; '.join(errors))
    if errors:  # shown with what did load, so one missing breach does not hide the others
        texts.append('Could not get model breach ' + '; '.join(errors))
    if len(pbids) > MAX_BREACHES:
        texts.append(f'{len(pbids) - MAX_BREACHES} more related model breaches are in the incident field.')
    return CommandResults(readable_output='\n\n'.join(text for text in texts if text.strip()))


def main() -> None:
    try:
        return_results(breaches_section(demisto.incident(), demisto.executeCommand))
    except Exception as error:
        return_error(f'Could not show the related Darktrace model breaches: {error}')


if __name__ in ('__main__', '__builtin__', 'builtins'):
    main()
