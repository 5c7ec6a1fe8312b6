"""One command or one fetch cycle, run through `Darktrace.main()` the way XSOAR runs it.

`xsoar_platform.start_run` hands the command, instance parameters, arguments and lastRun to
`demistomock`'s functions and records what the integration hands back (War Room entries, incidents,
the new lastRun, log lines).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import runner  # noqa: F401  (puts the platform modules on sys.path before the imports below)
import Darktrace
import xsoar_platform

ERROR_ENTRY_TYPE = 4
FETCH_COMMAND = 'fetch-incidents'


@dataclass
class CommandRun:
    """The War Room entries and log lines of one command."""

    entries: list[Any]
    logs: list[tuple[str, str]] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return any(is_error_entry(entry) for entry in self.entries)


@dataclass
class FetchRun:
    """One fetch cycle: the incidents created and the lastRun to keep, or the error that ended it."""

    incidents: list[dict[str, Any]]
    last_run: dict[str, Any]
    error: str | None = None
    logs: list[tuple[str, str]] = field(default_factory=list)


def is_error_entry(entry: Any) -> bool:
    return isinstance(entry, dict) and entry.get('Type') == ERROR_ENTRY_TYPE


def run_command(command: str, args: dict[str, str], params: dict[str, Any]) -> CommandRun:
    platform_run = xsoar_platform.start_run(command=command, params=params, args=args)
    try:
        Darktrace.main()
    except SystemExit:  # return_error ends the command this way, as on the platform
        pass
    except Exception as error:  # the platform turns an escaped exception into an error entry
        platform_run.results.append({'Type': ERROR_ENTRY_TYPE, 'ContentsFormat': 'text', 'Contents': str(error)})
    finally:
        xsoar_platform.end_run()
    return CommandRun(entries=list(platform_run.results), logs=list(platform_run.logs))


def run_fetch_cycle(params: dict[str, Any], last_run: dict[str, Any]) -> FetchRun:
    """One fetch-incidents run; on failure the previous lastRun is kept, as the platform does."""
    platform_run = xsoar_platform.start_run(command=FETCH_COMMAND, params=params, last_run=last_run)
    try:
        Darktrace.main()
    except SystemExit:
        pass
    except Exception as error:
        return FetchRun(incidents=[], last_run=last_run, error=str(error), logs=list(platform_run.logs))
    finally:
        xsoar_platform.end_run()
    incidents = [incident for batch in platform_run.incidents for incident in batch]
    stored = platform_run.last_run
    return FetchRun(incidents=incidents, last_run=stored if stored is not None else last_run,
                    logs=list(platform_run.logs))


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
