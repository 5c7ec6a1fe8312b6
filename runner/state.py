"""The fetch state file: lastRun kept between runner invocations, as XSOAR keeps it between fetches.

It also records which appliance (or which emulated dataset, down to its time anchor) the lastRun
belongs to, so a later invocation against the emulator recreates the same breaches, and a state
file is never applied to a different appliance.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DEFAULT_STATE_FILE = '.runner-state.json'


class StateError(ValueError):
    """The state file cannot be used; the message says what to do."""


@dataclass
class FetchState:
    identity: dict[str, Any]
    last_run: dict[str, Any]


def load_state(path: Path) -> FetchState | None:
    if not path.exists():
        return None
    try:
        document = json.loads(path.read_text(encoding='utf-8'))
        identity, last_run = document['identity'], document['lastRun']
        if not isinstance(identity, dict) or not isinstance(last_run, dict):
            raise TypeError('identity and lastRun must be objects')
    except (ValueError, KeyError, TypeError) as error:
        raise StateError(f'{path} is not a runner fetch state file ({error}); delete it or give another --state.') \
            from None
    return FetchState(identity=identity, last_run=last_run)


def save_state(path: Path, state: FetchState) -> None:
    """Write the whole file or nothing, so an interrupted run never leaves half a lastRun."""
    temporary = path.with_name(path.name + '.tmp')
    temporary.write_text(json.dumps({'identity': state.identity, 'lastRun': state.last_run}, indent=2) + '\n',
                         encoding='utf-8')
    os.replace(temporary, path)


def check_identity(path: Path, state: FetchState, identity: dict[str, Any], keys: tuple[str, ...]) -> None:
    """Refuse a state file that belongs to another appliance or another emulated dataset."""
    if any(state.identity.get(key) != identity.get(key) for key in keys):
        raise StateError(f'{path} holds the fetch state of {state.identity.get("target")} '
                         f'({json.dumps(state.identity)}), not of this target: delete it to fetch from '
                         '"first_fetch" again, or give another --state file.')
