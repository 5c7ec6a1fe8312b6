"""The unsigned control interface under ``/_emulator/``: the Python API of ``Emulator`` over HTTP.

=======  ======================  ===================================================================
POST     /_emulator/faults       JSON {kind, count, method, path, status, retry_after, delay_s, size_bytes,
                                 payload} (or a list)
GET      /_emulator/faults       pending faults
DELETE   /_emulator/faults       clear every pending fault
POST     /_emulator/clock        JSON {"seconds": N}: shift the appliance clock (cumulative)
GET      /_emulator/clock        {"now_ms", "shift_ms"}
POST     /_emulator/settings     JSON {name: value, ...}; GET returns the settings
POST     /_emulator/breaches     JSON list of breach dicts (or {"breaches": [...]}) -> {"pbids": [...]}
POST     /_emulator/tokens       JSON {public, private, permissions?}
GET      /_emulator/log          the request log (a list); DELETE clears it
GET      /_emulator/state        counts, now_ms, settings, pending faults
=======  ======================  ===================================================================

Replies are JSON; a bad argument gives 400 {"error": ...}, an unknown path 404 {"error": ...}.
"""
from __future__ import annotations

import json
from typing import Any, Callable, Iterable, Protocol

from emulator.auth import Authenticator
from emulator.clock import Clock
from emulator.faults import FaultQueue, make_fault
from emulator.requestlog import RequestLog
from emulator.settings import SettingsStore
from emulator.wire import Response, json_response

PREFIX = '/_emulator'


class Controlled(Protocol):
    """The parts of the facade (facade.py) the control interface drives."""

    faults: FaultQueue
    clock: Clock
    settings_store: SettingsStore
    authenticator: Authenticator
    log: RequestLog

    def add_breaches(self, breaches: Iterable[dict[str, Any]]) -> list[int]: ...

    def state(self) -> dict[str, Any]: ...


_FAULT_ARGUMENTS = ('kind', 'count', 'method', 'path', 'status', 'retry_after', 'delay_s', 'size_bytes', 'payload')


def _faults_post(emulator: Controlled, payload: Any) -> Any:
    for fault in payload if isinstance(payload, list) else [payload]:
        if not isinstance(fault, dict):
            raise ValueError('a fault is a JSON object')
        unknown = set(fault) - set(_FAULT_ARGUMENTS)
        if unknown:
            raise ValueError(f'unknown fault arguments: {sorted(unknown)}')
        emulator.faults.add(make_fault(**fault))
    return {'faults': emulator.faults.pending()}


def _faults_get(emulator: Controlled, payload: Any) -> Any:
    return {'faults': emulator.faults.pending()}


def _faults_delete(emulator: Controlled, payload: Any) -> Any:
    emulator.faults.clear()
    return {'faults': []}


def _clock_post(emulator: Controlled, payload: Any) -> Any:
    if not isinstance(payload, dict):
        raise ValueError('expected {"seconds": N}')
    seconds = payload.get('seconds', payload.get('shift_seconds'))
    if not isinstance(seconds, (int, float)) or isinstance(seconds, bool):
        raise ValueError('expected {"seconds": N}')
    emulator.clock.shift(seconds)
    return _clock_get(emulator, payload)


def _clock_get(emulator: Controlled, payload: Any) -> Any:
    return {'now_ms': emulator.clock.now_ms(), 'shift_ms': emulator.clock.shift_ms}


def _settings_post(emulator: Controlled, payload: Any) -> Any:
    if not isinstance(payload, dict):
        raise ValueError('expected a JSON object of settings')
    return {'settings': emulator.settings_store.update(**payload)}


def _settings_get(emulator: Controlled, payload: Any) -> Any:
    return {'settings': emulator.settings_store.as_dict()}


def _breaches_post(emulator: Controlled, payload: Any) -> Any:
    breaches = payload.get('breaches') if isinstance(payload, dict) else payload
    if not isinstance(breaches, list) or not all(isinstance(item, dict) for item in breaches):
        raise ValueError('expected a list of breach objects')
    return {'pbids': emulator.add_breaches(breaches)}


def _tokens_post(emulator: Controlled, payload: Any) -> Any:
    if not isinstance(payload, dict) or not isinstance(payload.get('public'), str) \
            or not isinstance(payload.get('private'), str):
        raise ValueError('expected {"public", "private", "permissions"?}')
    permissions = payload.get('permissions')
    emulator.authenticator.add_token_pair(payload['public'], payload['private'],
                                          None if permissions is None else set(permissions))
    return {'public': payload['public']}


def _log_get(emulator: Controlled, payload: Any) -> Any:
    return emulator.log.entries()


def _log_delete(emulator: Controlled, payload: Any) -> Any:
    emulator.log.clear()
    return {'response': 'SUCCESS'}


def _state_get(emulator: Controlled, payload: Any) -> Any:
    return emulator.state()


_OPERATIONS: dict[tuple[str, str], Callable[[Controlled, Any], Any]] = {
    ('POST', 'faults'): _faults_post, ('GET', 'faults'): _faults_get, ('DELETE', 'faults'): _faults_delete,
    ('POST', 'clock'): _clock_post, ('GET', 'clock'): _clock_get,
    ('POST', 'settings'): _settings_post, ('GET', 'settings'): _settings_get,
    ('POST', 'breaches'): _breaches_post, ('POST', 'tokens'): _tokens_post,
    ('GET', 'log'): _log_get, ('DELETE', 'log'): _log_delete,
    ('GET', 'state'): _state_get,
}


def is_control_path(raw_path: str) -> bool:
    return raw_path == PREFIX or raw_path.startswith(PREFIX + '/')


def handle(emulator: Controlled, method: str, raw_path: str, raw_query: str, body: bytes) -> Response:
    name = raw_path[len(PREFIX):].strip('/')
    operation = _OPERATIONS.get((method.upper(), name))
    if operation is None:
        return json_response({'error': f'no control operation {method} {raw_path}'}, status=404)
    try:
        payload = json.loads(body.decode('utf-8')) if body.strip() else {}
        return json_response(operation(emulator, payload))
    except (ValueError, TypeError, KeyError) as error:
        return json_response({'error': str(error)}, status=400)
