"""/details: the events of a device or a model breach, newest first (the breach record of ?pbid= first)."""
from __future__ import annotations

from typing import Any

from emulator import views
from emulator.dataset import DAY_MS, HOUR_MS, MINUTE_MS
from emulator.params import InputError, Request, bool_param, int_param, str_param, time_window
from emulator.api.breaches import visible_breach


# ---------------------------------------------------------------------- /details
_EVENT_TYPES = ('connection', 'unusualconnection', 'newconnection', 'notice', 'devicehistory', 'modelbreach')


def get_details(request: Request) -> list[dict[str, Any]]:
    did = int_param(request, 'did')
    pbid = int_param(request, 'pbid')
    msg = str_param(request, 'msg')
    blocked = str_param(request, 'blockedconnections')
    if did is None and pbid is None and not msg and not blocked:
        raise InputError('One of did, pbid, msg or blockedconnections is required')
    event_type = str_param(request, 'eventtype') or 'connection'
    if event_type not in _EVENT_TYPES:
        raise InputError(f'Invalid value for eventtype: {event_type}')
    count = int_param(request, 'count', minimum=0)
    if request.settings.details_pairs == 'strict':
        _check_details_pairs(request)
    start, end = time_window(request)
    if pbid is not None:
        breach = visible_breach(request, pbid)
        start = breach.time - HOUR_MS if start is None else start
        end = breach.time + MINUTE_MS if end is None else end
        events = _device_events(request, breach.did, event_type, start, end, explicit_window=True)
        return [views.breach_event(request.dataset, breach)] + events[:count]
    if blocked:
        return _blocked_connection_events(request, start, end)[:count]
    end = request.now_ms if end is None else end
    explicit = start is not None
    start = end - DAY_MS if start is None else start
    if msg and did is None:
        events = [views.notice_event(request.dataset, notice)
                  for device_did in sorted(request.dataset.devices)
                  for notice in request.dataset.notices(device_did, start, end)
                  if msg.lower() in notice['msg'].lower()]
        events.sort(key=lambda event: event['timems'], reverse=True)
        return events[:count]
    if did is None or did not in request.dataset.devices:
        return []
    events = _device_events(request, did, 'notice' if msg else event_type, start, end, explicit_window=explicit)
    if msg:
        events = [event for event in events if msg.lower() in event.get('msg', '').lower()]
    return events[:count]


def _check_details_pairs(request: Request) -> None:
    """guide 2.18 and 0.4: time parameters come in pairs, and ``count`` is not used with ``starttime`` or ``from``."""
    given = {name for name in ('starttime', 'endtime', 'from', 'to') if request.param(name) not in (None, '')}
    for first, second in (('starttime', 'endtime'), ('from', 'to')):
        if (first in given) != (second in given):
            raise InputError(f'{first} and {second} must be given together')
    if given and request.param('count') not in (None, ''):
        raise InputError('count cannot be combined with a time range')


def _device_events(request: Request, did: int, event_type: str, start: int, end: int,
                   explicit_window: bool) -> list[dict[str, Any]]:
    dataset = request.dataset
    if did not in dataset.devices:
        return []
    if event_type == 'notice':
        events = [views.notice_event(dataset, notice) for notice in dataset.notices(did, start, end)]
    elif event_type == 'devicehistory':
        events = [event for event in views.device_history_events(dataset, did)
                  if not explicit_window or start <= event['timems'] <= end]
    elif event_type == 'modelbreach':
        events = [views.modelbreach_event(dataset, breach)
                  for breach in dataset.breaches_between(start, end, now_ms=request.now_ms) if breach.did == did]
    else:
        events = _connection_events(request, did, event_type, start, end)
    events.sort(key=lambda event: event['timems'], reverse=True)
    return events


def _connection_events(request: Request, did: int, event_type: str, start: int, end: int) -> list[dict[str, Any]]:
    protocol = (str_param(request, 'protocol') or '').upper()
    port = int_param(request, 'port')
    other = int_param(request, 'ddid')
    if other is None:
        other = int_param(request, 'odid')
    intext = (str_param(request, 'intext') or '').lower()
    external_hostname = str_param(request, 'externalhostname')
    full = bool_param(request, 'fulldevicedetails')
    seen: set[tuple[Any, ...]] = set()
    events = []
    for event in request.dataset.connection_events(did, start, end):
        if event_type != 'connection' and event['kind'] != event_type:
            continue
        if protocol and event['protocol'] != protocol:
            continue
        if port is not None and event['port'] != port:
            continue
        if other is not None and event['peer_did'] != other:
            continue
        if intext in ('internal', 'external') and event['external'] != (intext == 'external'):
            continue
        if external_hostname and (not event['external'] or event['peer']['hostname'] != external_hostname):
            continue
        if bool_param(request, 'deduplicate'):
            key = (event['peer_did'], event['peer'].get('ip'), event['port'], event['direction'])
            if key in seen:
                continue
            seen.add(key)
        events.append(views.connection_event(request.dataset, event, full, event_type))
    return events


def _blocked_connection_events(request: Request, start: int | None, end: int | None) -> list[dict[str, Any]]:
    dataset = request.dataset
    events: list[dict[str, Any]] = []
    for action in dataset.antigena.values():
        if (start is not None and action.start < start) or (end is not None and action.start > end):
            continue
        events.extend(views.blocked_connection_event(dataset, action, connection) for connection in action.connections)
    events.sort(key=lambda event: event['timems'], reverse=True)
    return events
