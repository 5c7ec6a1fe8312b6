"""The signed API: one small handler per endpoint, reading and changing the dataset.

A handler takes a ``Request`` (params.py) and returns a JSON-serialisable payload (sent with
200) or a ``Response``. Bad parameters raise ``InputError`` (400 ``{"error", "response":
"INPUT ERROR"}``) and missing objects raise ``NotFound`` (404 ``{"error"}``). Each route names
the permission it needs (see auth.py) and how the appliance refuses a token pair lacking it: a
302 to ``/403`` for most routes, a 403 JSON body for a few.

Choices where the API documentation is silent: /details returns events newest first (the
breach record of ``?pbid=`` stays first); /mbcomments and AI Analyst lists are newest first.
"""
from __future__ import annotations

import fnmatch
import ipaddress
import json
import re
import shlex
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable
from urllib.parse import unquote

from emulator import respond, search, views
from emulator.catalog import ANTIGENA_ACTIONS, APPLIANCE_HOSTNAME, APPLIANCE_VERSION
from emulator.dataset import DAY_MS, GRAPH_HOURS, HOUR_MS, MINUTE_MS, Breach, WatchedEntry, format_iso, format_time
from emulator.params import (InputError, NotFound, Request, bool_param, float_param, id_list, int_param, str_param,
                             time_window)
from emulator.settings import Settings
from emulator.wire import Response, json_response

YEAR_MS = 365 * DAY_MS

Handler = Callable[[Request], Any]


@dataclass(frozen=True)
class Route:
    method: str
    pattern: re.Pattern[str]
    permission: str
    handler: Handler
    forbidden: str = 'redirect'  # 'redirect' = 302 /403, 'json' = 403 {"error": "403 Forbidden"}


def _device_or_404(request: Request, did: int) -> dict[str, Any]:
    device = request.dataset.devices.get(did)
    if device is None:
        raise NotFound(f'Device {did} not found')
    return device


# ---------------------------------------------------------------------- /status
def get_status(request: Request) -> dict[str, Any]:
    dataset = request.dataset
    reply: dict[str, Any] = {
        'excessTraffic': False, 'time': format_time(request.now_ms),
        'installed': format_time(dataset.anchor_ms - 400 * DAY_MS),
        'mobileAppConfigured': False, 'version': APPLIANCE_VERSION, 'ipAddress': '10.0.2.5',
        'modelsUpdated': format_time(dataset.anchor_ms - 2 * DAY_MS), 'modelPackageVersion': '5.0-2331~20230412',
        'bundleVersion': '61023', 'bundleVariant': '', 'bundleDate': format_time(dataset.anchor_ms - 30 * DAY_MS),
        'hostname': APPLIANCE_HOSTNAME, 'inoculation': False, 'applianceOSCode': 'x',
        'license': format_time(dataset.anchor_ms + 300 * DAY_MS), 'antigenaNetworkEnabled': True,
        'antigenaNetworkConfirmationMode': False, 'type': 'master', 'diskSpaceUsed_': 37, 'diskUtilization': 12,
        'load': 21, 'cpu': 18, 'memoryUsed': 64, 'uptime': '41 days, 03:12:45',
        'label': 'Emulated Threat Visualizer', 'uuid': '8a3f4c1e-2b7d-4e6f-9a1b-0c2d3e4f5a6b',
        'connectionsPerMinuteCurrent': 4531, 'connectionsPerMinuteAverage15': 4410,
        'bandwidthCurrent': 98765432, 'bandwidthCurrentString': '98.77 Mbps',
        'bandwidthAverage15': 91234567, 'bandwidthAverage15String': '91.23 Mbps',
        'processedBandwidthCurrent': 98765432, 'processedBandwidthCurrentString': '98.77 Mbps',
        'subnets': len(dataset.subnets), 'devicesModeled': len(dataset.devices), 'dnsServers': 1,
        'activeDevices7Days': len(dataset.devices), 'models': len(dataset.models), 'modelsSuppressed': 0,
    }
    # guide 2.38: the emulated appliance has no probes, so neither `probes` nor `instances` is present; with fast=true
    # the subnet data and device counts are left out and devicesModeled shows 0
    if bool_param(request, 'fast'):
        for key in ('subnets', 'activeDevices7Days'):
            reply.pop(key)
        reply['devicesModeled'] = 0
    return reply


# ---------------------------------------------------------------------- /modelbreaches
def _breach_flags(request: Request) -> dict[str, Any]:
    return {'include_acknowledged': bool_param(request, 'includeacknowledged'),
            'include_url': bool_param(request, 'includebreachurl'), 'base_url': request.base_url,
            # guide ambiguities 1, 2: the defaults of minimal and deviceattop contradict each other in the guide
            'minimal': bool_param(request, 'minimal', default=request.settings.breach_defaults == 'notes_ui'),
            'device_at_top': bool_param(request, 'deviceattop', default=request.settings.breach_defaults != 'table')}


def _render_breach(request: Request, breach: Breach) -> dict[str, Any]:
    return views.breach(request.dataset, breach, **_breach_flags(request))


def _visible_breach(request: Request, pbid: int) -> Breach:
    breach = request.dataset.get_breach(pbid, request.now_ms)
    if breach is None:
        raise NotFound(f'Model breach {pbid} not found')
    return breach


def get_modelbreaches(request: Request) -> Any:
    pbid = int_param(request, 'pbid')
    if pbid is not None:
        return _render_breach(request, _visible_breach(request, pbid))
    did = int_param(request, 'did')
    pid = int_param(request, 'pid')
    uuid = str_param(request, 'uuid')
    minscore = float_param(request, 'minscore', 0.0, 1.0)
    count = int_param(request, 'count', minimum=0)
    include_acknowledged = bool_param(request, 'includeacknowledged')
    on_creation = bool_param(request, 'creationtime')
    start, end = time_window(request)
    if start is None:
        # Without a start the appliance returns up to one year.
        start = (end if end is not None else request.now_ms) - YEAR_MS
    window = request.dataset.breaches_between(start, end, on_creation=on_creation,
                                              inclusive=request.settings.inclusive_bounds, now_ms=request.now_ms)
    selected = [breach for breach in window
                if (include_acknowledged or not breach.acknowledged)
                and (did is None or breach.did == did)
                and (pid is None or breach.pid == pid)
                and (minscore is None or breach.score >= minscore)]
    if uuid is not None:
        model = request.dataset.models_by_uuid.get(uuid)
        selected = [breach for breach in selected if model is not None and breach.pid == model.pid]
    if request.settings.order == 'desc':
        selected.reverse()
    elif request.settings.order == 'shuffle':
        request.shuffle.shuffle(selected)
    if count is not None and request.settings.honour_count:
        selected = selected[:count]
    if request.query.get('responsedata'):
        return [_render_breach(request, breach) for breach in selected]
    flags = _breach_flags(request)
    text = '[' + ','.join(views.breach_text(request.dataset, breach, **flags) for breach in selected) + ']'
    return Response(status=200, body=text.encode('utf-8'))


def get_modelbreach(request: Request) -> dict[str, Any]:
    return _render_breach(request, _visible_breach(request, int(request.path_args['pbid'])))


def _ack_reply(request: Request, pbid: int) -> Any:
    if request.settings.ack_reply == 'list':
        return [{'replicate': True, 'data': [{'pbid': pbid, 'response': 'SUCCESS'}]}]
    return {'response': 'SUCCESS'}


def _set_acknowledged(request: Request, acknowledged: bool) -> Any:
    breach = _visible_breach(request, int(request.path_args['pbid']))
    request.dataset.set_acknowledged(breach.pbid, acknowledged, request.now_ms)
    return _ack_reply(request, breach.pbid)


def post_acknowledge(request: Request) -> Any:
    return _set_acknowledged(request, True)


def post_unacknowledge(request: Request) -> Any:
    return _set_acknowledged(request, False)


# ---------------------------------------------------------------------- breach comments
def _comment_message(request: Request) -> str:
    message = request.body.get('message')
    if not isinstance(message, str) or not message.strip():
        raise InputError('message is required')
    return message


def get_breach_comments(request: Request) -> list[dict[str, Any]]:
    breach = _visible_breach(request, int(request.path_args['pbid']))
    comments = sorted(request.dataset.comments.get(breach.pbid, []), key=lambda item: (item.time, item.seq))
    return [views.breach_comment(comment, breach.pid) for comment in comments]


def post_breach_comment(request: Request) -> Any:
    breach = _visible_breach(request, int(request.path_args['pbid']))
    message = _comment_message(request)
    comment = request.dataset.add_comment(breach.pbid, message, request.token_pair.username, request.now_ms)
    if request.settings.comment_reply == 'list':
        return [views.breach_comment(comment, breach.pid)]
    return {'response': 'SUCCESS'}


def get_mbcomments(request: Request) -> list[dict[str, Any]]:
    dataset = request.dataset
    pbid = int_param(request, 'pbid')
    count = int_param(request, 'count', default=100, minimum=0)
    start, end = time_window(request)
    if pbid is not None:
        comments = [c for c in dataset.comments.get(pbid, []) if (start is None or c.time >= start)
                    and (end is None or c.time <= end)]
    else:
        comments = dataset.comments_between(start, end)
    visible = [c for c in comments if dataset.get_breach(c.pbid, request.now_ms) is not None]
    visible.sort(key=lambda item: (item.time, item.seq), reverse=True)
    reply = []
    for comment in visible[:count]:
        model = dataset.models.get(dataset.breaches[comment.pbid].pid)
        reply.append(views.mb_comment(comment, model.pid if model else 0, model.spec.name if model else ''))
    return reply


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
        breach = _visible_breach(request, pbid)
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
        rendered = views.connection_event(request.dataset, event, full)
        rendered['eventType'] = event_type if event_type != 'connection' else 'connection'
        events.append(rendered)
    return events


def _blocked_connection_events(request: Request, start: int | None, end: int | None) -> list[dict[str, Any]]:
    dataset = request.dataset
    events: list[dict[str, Any]] = []
    for action in dataset.antigena.values():
        if (start is not None and action.start < start) or (end is not None and action.start > end):
            continue
        device = dataset.devices.get(action.did, {})
        for connection in action.connections:
            events.append({
                'time': format_time(action.start), 'timems': action.start, 'action': 'connection',
                'eventType': 'connection', 'blocked': True, 'status': 'failed', 'codeid': action.codeid,
                'direction': 'out', 'protocol': 'TCP', 'port': connection.get('port'),
                'destinationPort': connection.get('port'), 'sdid': action.did, 'ddid': 0,
                'source': device.get('hostname', connection.get('src')), 'destination': connection.get('dst'),
                'sourceDevice': views.event_device(dataset, action.did, False) if device else {},
                'destinationDevice': {'ip': connection.get('dst')},
            })
    events.sort(key=lambda event: event['timems'], reverse=True)
    return events


# ---------------------------------------------------------------------- devices
_SEENSINCE = re.compile(r'^(\d+)\s*(s|sec|second|min|minute|h|hour|d|day|w|week)?s?$')
_SEENSINCE_UNITS = {None: 1, 's': 1, 'sec': 1, 'second': 1, 'min': 60, 'minute': 60, 'h': 3600, 'hour': 3600,
                    'd': 86400, 'day': 86400, 'w': 604800, 'week': 604800}


def _seen_since(request: Request) -> int | None:
    text = str_param(request, 'seensince')
    if not text:
        return None
    match = _SEENSINCE.match(text.strip().lower())
    if not match:
        raise InputError('Invalid value for seensince')
    return request.now_ms - int(match.group(1)) * _SEENSINCE_UNITS[match.group(2)] * 1000


def get_devices(request: Request) -> Any:
    dataset = request.dataset
    include_tags = bool_param(request, 'includetags')
    did = int_param(request, 'did')
    if did is not None:
        _device_or_404(request, did)
        return views.device(dataset, did, request.now_ms, include_tags, devices_endpoint=True)
    ip = str_param(request, 'ip')
    mac = (str_param(request, 'mac') or '').lower()
    sid = int_param(request, 'sid')
    since = _seen_since(request)
    count = int_param(request, 'count', minimum=0)
    dids = [d for d, device in sorted(dataset.devices.items())
            if (ip is None or ip in [entry['ip'] for entry in device['ips']] or device['ip'] == ip)
            and (not mac or device.get('macaddress', '').lower() == mac)
            and (sid is None or device['sid'] == sid)
            and (since is None or device['lastSeen'] >= since)]
    return [views.device(dataset, d, request.now_ms, include_tags, devices_endpoint=True) for d in dids[:count]]


_SEARCH_FIELDS = {'label': ('devicelabel',), 'type': ('typename', 'typelabel'), 'hostname': ('hostname',),
                  'ip': ('ip',), 'mac': ('macaddress',), 'vendor': ('vendor',), 'os': ('os',)}
_ORDER_BY = ('priority', 'hostname', 'ip', 'macaddress', 'vendor', 'os', 'firstSeen', 'lastSeen',
             'devicelabel', 'typelabel')


def _search_terms(query: str) -> list[tuple[str | None, str]]:
    try:
        tokens = shlex.split(query)
    except ValueError:
        raise InputError('Invalid query') from None
    terms: list[tuple[str | None, str]] = []
    for token in tokens:
        name, separator, value = token.partition(':')
        if separator and name in _SEARCH_FIELDS or (separator and name == 'tag'):
            terms.append((name, value))
        else:
            terms.append((None, token))
    return terms


def _device_matches(device: dict[str, Any], tag_names: list[str], field_name: str | None, value: str) -> bool:
    pattern = value.lower()
    if field_name is None:
        searched = ('hostname', 'ip', 'macaddress', 'vendor', 'devicelabel', 'os', 'typelabel')
        haystack = [str(device.get(key, '')) for key in searched] + tag_names
        if '*' in pattern:
            return any(fnmatch.fnmatchcase(item.lower(), pattern) for item in haystack)
        return any(pattern in item.lower() for item in haystack)
    candidates = tag_names if field_name == 'tag' else [
        str(device[key]) for key in _SEARCH_FIELDS[field_name] if key in device]
    if field_name == 'ip':
        candidates += [entry['ip'] for entry in device['ips']]
    return any(fnmatch.fnmatchcase(item.lower(), pattern) for item in candidates)


def get_devicesearch(request: Request) -> dict[str, Any]:
    dataset = request.dataset
    count = min(int_param(request, 'count', default=100, minimum=1) or 100, 300)
    offset = int_param(request, 'offset', default=0, minimum=0) or 0
    order_by = str_param(request, 'orderBy') or 'lastSeen'
    if order_by not in _ORDER_BY:
        raise InputError(f'Invalid value for orderBy: {order_by}')
    order = (str_param(request, 'order') or 'desc').lower()
    if order not in ('asc', 'desc'):
        raise InputError(f'Invalid value for order: {order}')
    terms = _search_terms(str_param(request, 'query') or '')
    since = _seen_since(request)
    matches = []
    for did, device in dataset.devices.items():
        tag_names = [tag['name'] for tag in dataset.device_tags(did, request.now_ms)]
        if since is not None and device['lastSeen'] < since:
            continue
        if all(_device_matches(device, tag_names, name, value) for name, value in terms):
            matches.append(device)
    present: list[dict[str, Any]] = [d for d in matches if d.get(order_by) is not None]
    absent = [d for d in matches if d.get(order_by) is None]
    present.sort(key=lambda d: (d[order_by], d['did']), reverse=order == 'desc')
    ordered = present + sorted(absent, key=lambda d: d['did'])
    page = ordered[offset:offset + count]
    return {'totalCount': len(matches),
            'devices': [views.device(dataset, d['did'], request.now_ms, include_tags=True) for d in page]}


def get_similardevices(request: Request) -> list[dict[str, Any]]:
    did = int_param(request, 'did')
    if did is None:
        raise InputError('did is required')
    _device_or_404(request, did)
    count = int_param(request, 'count', default=5, minimum=0) or 0
    full = bool_param(request, 'fulldevicedetails')
    ranking = request.dataset.similar[did][:count]
    return [views.similar_device(request.dataset, other, score, full, request.now_ms) for other, score in ranking]


# ---------------------------------------------------------------------- /endpointdetails
# RFC 1918 only: Python's is_private also covers the documentation ranges the external hosts use.
_INTERNAL_NETWORKS = tuple(ipaddress.ip_network(n) for n in ('10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16'))


def get_endpointdetails(request: Request) -> dict[str, Any]:
    hostname = str_param(request, 'hostname')
    ip = str_param(request, 'ip')
    if not hostname and not ip:
        raise InputError('hostname or ip is required')
    if hostname:
        return _hostname_details(request, hostname)
    try:
        address = ipaddress.ip_address((ip or '').strip())
    except ValueError:
        raise InputError(f'Invalid value for ip: {ip}') from None
    if any(address in network for network in _INTERNAL_NETWORKS):
        subnet = request.dataset.subnet_of(str(address))
        reply: dict[str, Any] = {'name': 'internal_ip'}
        if subnet:
            reply.update({'subnetlabel': subnet['label'], 'subnetid': subnet['sid'],
                          'subnetnetwork': subnet['network']})
        if bool_param(request, 'devices'):
            reply['devices'] = [views.device(request.dataset, did, request.now_ms)
                                for did, device in sorted(request.dataset.devices.items())
                                if device['ip'] == str(address)]
        return reply
    return _external_ip_details(request, str(address))


def _hostname_details(request: Request, hostname: str) -> dict[str, Any]:
    endpoint = request.dataset.endpoints.get(hostname.strip().lower())
    reply: dict[str, Any] = {'hostname': hostname}
    if endpoint:
        reply['firsttime'] = endpoint['firsttime']
    reply['devices'] = _endpoint_devices(request, endpoint) if bool_param(request, 'devices') and endpoint else []
    if bool_param(request, 'additionalinfo'):
        reply['ips'] = [{'ip': endpoint['ip'], 'timems': endpoint['firsttime'],
                         'time': format_time(endpoint['firsttime']),
                         'asn': endpoint['asn']}] if endpoint else []
        reply['locations'] = [{'latitude': endpoint['latitude'], 'longitude': endpoint['longitude'],
                               'country': endpoint['country'], 'city': endpoint['city']}] if endpoint else []
    if bool_param(request, 'score'):
        reply['popularity'] = 100 - endpoint['rarity'] if endpoint else 0
        reply['dgascore'] = endpoint['dgascore'] if endpoint else 0
    return reply


def _external_ip_details(request: Request, ip: str) -> dict[str, Any]:
    endpoint = request.dataset.endpoints_by_ip.get(ip)
    reply: dict[str, Any] = {'ip': ip}
    if endpoint:
        reply.update({'firsttime': endpoint['firsttime'], 'country': endpoint['country'], 'asn': endpoint['asn'],
                      'city': endpoint['city'], 'region': endpoint['region'], 'longitude': endpoint['longitude'],
                      'latitude': endpoint['latitude']})
        if bool_param(request, 'additionalinfo'):
            reply['hostnames'] = [{'hostname': endpoint['hostname'], 'count': 1}]
    if bool_param(request, 'devices'):
        reply['devices'] = _endpoint_devices(request, endpoint) if endpoint else []
    if bool_param(request, 'score'):
        reply['popularity'] = 100 - endpoint['rarity'] if endpoint else 0
    return reply


def _endpoint_devices(request: Request, endpoint: dict[str, Any] | None) -> list[dict[str, Any]]:
    if not endpoint:
        return []
    return [{**views.device(request.dataset, did, request.now_ms), 'lastTime': request.dataset.devices[did]['lastSeen']}
            for did in endpoint['devices']]


# ---------------------------------------------------------------------- /deviceinfo
def get_deviceinfo(request: Request) -> dict[str, Any]:
    did = int_param(request, 'did')
    if did is None:
        raise InputError('did is required')
    _device_or_404(request, did)
    datatype = str_param(request, 'datatype') or 'co'
    if datatype not in ('co', 'sizeout', 'sizein'):
        raise InputError(f'Invalid value for datatype: {datatype}')
    interval_hours = int_param(request, 'intervalhours', default=1, minimum=1, maximum=GRAPH_HOURS) or 1
    similar_count = int_param(request, 'similardevices', default=0, minimum=0) or 0
    dids = [did] + [other for other, _ in request.dataset.similar[did][:similar_count]]
    scores = {did: 100, **dict(request.dataset.similar[did])}
    entries = [_device_info_entry(request, entry_did, scores[entry_did], datatype, interval_hours)
               for entry_did in dids]
    reply: dict[str, Any] = {'deviceInfo': entries}
    if bool_param(request, 'fulldevicedetails'):
        referenced = {d for entry in entries for d in _referenced_dids(entry['info'])} | set(dids)
        reply['devices'] = [views.device(request.dataset, d, request.now_ms)
                            for d in sorted(referenced) if d in request.dataset.devices]
    return reply


def _device_info_entry(request: Request, did: int, similarity: int, datatype: str,
                       interval_hours: int) -> dict[str, Any]:
    profile = request.dataset.connection_profile(did)
    used, served = profile['used'], profile['served']
    odid = int_param(request, 'odid')
    port = int_param(request, 'port')
    external_domain = str_param(request, 'externaldomain')
    share = 100
    if odid is not None:
        used = [item for item in used if item['device'] == odid]
        served = [item for item in served if item['device'] == odid]
        share = sum(item['size'] for item in used + served)
    if port is not None:
        used = [item for item in used if item['port'] == port]
        served = [item for item in served if item['port'] == port]
        share = sum(item['size'] for item in used + served)
    if external_domain:
        used = [item for item in used if item['device'] == 0]
        served = []
        share = sum(item['size'] for item in used) if external_domain in request.dataset.endpoints else 0
    graph = _graph_data(request, did, datatype, interval_hours, share)
    first_time = profile['firstTime']
    return {'did': did, 'similarityScore': similarity, 'graphData': graph, 'info': {
        'totalUsed': profile['totalUsed'] * sum(i['size'] for i in used) // 100 if used else 0,
        'totalServed': profile['totalServed'] * sum(i['size'] for i in served) // 100 if served else 0,
        'totalDevicesAndPorts': (profile['totalUsed'] if used else 0) + (profile['totalServed'] if served else 0),
        'devicesAndPorts': [_device_and_port(item) for item in used + served],
        'portsUsed': _aggregate(used, 'port', 'port', first_time),
        'portsServed': _aggregate(served, 'port', 'port', first_time),
        'devicesUsed': _aggregate(used, 'device', 'did', first_time),
        'devicesServed': _aggregate(served, 'device', 'did', first_time),
    }}


def _graph_data(request: Request, did: int, datatype: str, interval_hours: int, share: int) -> list[dict[str, int]]:
    last_hour = request.now_ms // HOUR_MS
    first_hour = last_hour - GRAPH_HOURS + 1
    show_all = bool_param(request, 'showallgraphdata')
    graph = []
    for bucket_start in range(first_hour, last_hour + 1, interval_hours):
        total = sum(request.dataset.hourly_activity(did, datatype, hour)
                    for hour in range(bucket_start, min(bucket_start + interval_hours, last_hour + 1)))
        total = total * share // 100
        if total or show_all:
            graph.append({'time': bucket_start * HOUR_MS, 'count': total})
    return graph


def _device_and_port(item: dict[str, Any]) -> Any:
    if item['device'] == 'others':
        return {'deviceAndPort': 'others', 'size': item['size']}
    return {'deviceAndPort': {'direction': item['direction'], 'device': item['device'], 'port': item['port']},
            'size': item['size']}


def _aggregate(items: list[dict[str, Any]], source_key: str, reply_key: str, first_time: int) -> list[dict[str, Any]]:
    sizes: dict[Any, int] = {}
    offsets: dict[Any, int] = {}
    for item in items:
        sizes[item[source_key]] = sizes.get(item[source_key], 0) + item['size']
        offsets[item[source_key]] = min(offsets.get(item[source_key], item['firstOffset']), item['firstOffset'])
    reply = []
    for key, size in sorted(sizes.items(), key=lambda pair: (pair[0] == 'others', -pair[1])):
        entry: dict[str, Any] = {reply_key: key, 'size': size}
        if key != 'others':
            entry['firstTime'] = first_time + offsets[key]
        reply.append(entry)
    return reply


def _referenced_dids(info: dict[str, Any]) -> set[int]:
    return {entry['did'] for entry in info['devicesUsed'] + info['devicesServed']
            if isinstance(entry['did'], int) and entry['did'] > 0}


# ---------------------------------------------------------------------- tags
def get_tags(request: Request) -> list[dict[str, Any]]:
    tid = int_param(request, 'tid')
    name = str_param(request, 'tag')
    return [views.tag_object(tag) for t, tag in sorted(request.dataset.tags.items())
            if (tid is None or t == tid) and (name is None or tag['name'] == name)]


def get_tag_entities(request: Request) -> Any:
    dataset = request.dataset
    did = int_param(request, 'did')
    name = str_param(request, 'tag')
    if did is not None:
        if did not in dataset.devices:
            return []
        return [views.tag_object(tag) for tag in dataset.device_tags(did, request.now_ms)]
    if not name:
        raise InputError('did or tag is required')
    tag = dataset.tag_by_name(name)
    links = dataset.tag_links_for(tag['tid'], request.now_ms) if tag else []
    entities = [views.tag_link(link) for link in links]
    if not bool_param(request, 'fulldevicedetails'):
        return entities
    devices = []
    for link in links:
        device = dataset.devices.get(link.did)
        if device is None:
            continue
        summary: dict[str, Any] = {key: device[key] for key in ('did', 'ip', 'hostname', 'devicelabel', 'typename',
                                                                'typelabel', 'macaddress', 'vendor') if key in device}
        # As current versions list them: each credential with when it was last seen on the device (ms).
        summary['credentials'] = [{'credential': name, 'lastSeen': device.get('lastSeen')}
                                  for name in device.get('credentials', [])]
        summary['tags'] = [views.tag_object(t) for t in dataset.device_tags(link.did, request.now_ms)]
        devices.append(summary)
    return {'entities': entities, 'devices': devices}


def post_tag_entity(request: Request) -> Any:
    did = int_param(request, 'did')
    name = str_param(request, 'tag')
    if did is None or not name:
        raise InputError('did and tag are required')
    _device_or_404(request, did)
    duration = int_param(request, 'duration', minimum=0)
    tag = request.dataset.tag_by_name(name) or request.dataset.create_tag(name)
    expiry = request.now_ms + duration * 1000 if duration else 0
    request.dataset.link_tag(tag['tid'], did, expiry)
    if request.settings.tag_reply == 'success':
        return {'response': 'SUCCESS'}
    return {'tid': tag['tid']}


def delete_tag_entity(request: Request) -> dict[str, str]:
    did = int_param(request, 'did')
    name = str_param(request, 'tag')
    if did is None or not name:
        raise InputError('did and tag are required')
    _device_or_404(request, did)
    tag = request.dataset.tag_by_name(name)
    if tag is None:
        raise NotFound(f'Tag {name} not found')
    request.dataset.unlink_tag(tag['tid'], did)
    return {'response': 'SUCCESS'}


# ---------------------------------------------------------------------- /intelfeed
def get_intelfeed(request: Request) -> list[Any]:
    """guide 2.26: names (strings), or `fulldetails` objects, of one source; `sources=true` lists the sources.
    Without `source`, the `intelfeed_default_source` switch plays the "default" source only (guide: "with no source
    given, the source is default") or every source."""
    entries = sorted(request.dataset.watched.values(), key=lambda entry: entry.name)
    if bool_param(request, 'sources'):
        return sorted({source for entry in entries for source in entry.sources})
    source = str_param(request, 'source')
    if not source and request.settings.intelfeed_default_source == 'default_only':
        source = 'default'
    if source:
        entries = [entry for entry in entries if source in entry.sources]
    if bool_param(request, 'fulldetails'):
        return [views.watched_entry(entry) for entry in entries]
    return [entry.name for entry in entries]


def _remove_watched(request: Request, names: list[str], source: str | None) -> dict[str, Any]:
    """guide 2.26: `source` must be given with removeentry when several sources exist; with it, the entry leaves
    that source only."""
    dataset = request.dataset
    if not source and len({s for entry in dataset.watched.values() for s in entry.sources}) > 1:
        raise InputError('source must be given with removeentry when several sources exist')
    for name in names:
        entry = dataset.watched.get(name)
        if entry is None:
            continue
        if source:
            entry.sources = [s for s in entry.sources if s != source]
        if not source or not entry.sources:
            dataset.watched.pop(name)
    return {'added': 0, 'updated': 0, 'response': 'SUCCESS'}


def post_intelfeed(request: Request) -> dict[str, Any]:
    dataset = request.dataset
    description = str_param(request, 'description')
    source = str_param(request, 'source')
    if description is not None and len(description) >= 256:
        raise InputError('description must be shorter than 256 characters')
    if source is not None and len(source) >= 64:
        raise InputError('source must be shorter than 64 characters')
    if bool_param(request, 'removeall'):
        dataset.watched.clear()
        return {'added': 0, 'updated': 0, 'response': 'SUCCESS'}
    remove = str_param(request, 'removeentry')
    if remove:
        return _remove_watched(request, _entry_names(remove), source)
    names = _entry_names(str_param(request, 'addlist') or '') + _entry_names(str_param(request, 'addentry') or '')
    if not names:
        raise InputError('One of addentry, addlist, removeentry or removeall is required')
    expiry = str_param(request, 'expiry')
    if expiry:
        try:
            datetime.fromisoformat(expiry.replace('Z', '+00:00'))
        except ValueError:
            raise InputError('Invalid value for expiry: expected an ISO 8601 UTC time') from None
    strength = int_param(request, 'strength', default=100, minimum=0, maximum=100)
    added = updated = 0
    for name in dict.fromkeys(names):
        if name in dataset.watched:
            updated += 1
        else:
            added += 1
        previous = dataset.watched.get(name)
        sources = previous.sources if previous else []
        dataset.watched[name] = WatchedEntry(
            name=name,
            description=description if description is not None else (previous.description if previous else ''),
            expiry=expiry or None, strength=strength if strength is not None else 100,
            iagn=bool_param(request, 'iagn'), sources=sources + [s for s in [source or 'default'] if s not in sources],
            hostname=bool_param(request, 'hostname'))
    return {'added': added, 'updated': updated, 'response': 'SUCCESS'}


def _entry_names(text: str) -> list[str]:
    return [part.strip().lower() for part in re.split(r'[,\n\r]+', text) if part.strip()]


# ---------------------------------------------------------------------- Advanced Search
def get_search(request: Request) -> dict[str, Any]:
    query = search.decode_query(request.path_args['query'])
    size, offset = search.size_and_offset(query)
    records, start, end = search.run(request.dataset, query, request.now_ms)
    records.reverse()
    hits = [{'_index': f'logstash-{APPLIANCE_HOSTNAME}-{r["@timestamp"][:10].replace("-", ".")}', '_type': 'doc',
             '_id': r['@fields']['uid'], '_score': None,
             '_source': {'@fields': dict(r['@fields']), '@type': r['@type'], '@timestamp': r['@timestamp'],
                         'source_device': r['source_device']},
             'sort': [r['epoch_ms']]} for r in records[offset:offset + size]]
    return {**search.elastic(len(records), hits), 'kibana': search.kibana(query, start, end, size)}


def get_analyze(request: Request) -> dict[str, Any]:
    field_name = unquote(request.path_args['field'])
    analysis = request.path_args['analysis']
    if analysis not in ('mean', 'terms', 'trend', 'score'):
        raise InputError(f'Invalid analysis: {analysis}')
    query = search.decode_query(request.path_args['query'])
    size, offset = search.size_and_offset(query)
    records, start, end = search.run(request.dataset, query, request.now_ms)
    # Each analysis looks at up to 10,000 records; offset moves that window.
    records = records[offset:offset + 10_000]
    values = [search.field_value(r, field_name) for r in records]
    values = [v for v in values if v is not None]
    # guide 2.2: every type shares took, timed_out, _shards, hits, darktraceChildError and kibana
    reply = search.elastic(len(records), [])
    reply['darktraceChildError'] = ''
    if analysis == 'mean':  # guide 2.2: aggregations.stats {count, min, max, avg, sum}; no buckets
        numbers = [v for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)]
        reply['aggregations'] = {'stats': {
            'count': len(numbers), 'min': min(numbers) if numbers else None, 'max': max(numbers) if numbers else None,
            'avg': sum(numbers) / len(numbers) if numbers else None, 'sum': sum(numbers) if numbers else 0}}
    else:
        counts = search.value_counts(values)
        top = sorted(counts.items(), key=lambda pair: (-pair[1], str(pair[0])))[:size or 10]
        if analysis == 'terms':
            reply['aggregations'] = {'terms': {
                'doc_count_error_upper_bound': 0, 'sum_other_doc_count': len(values) - sum(n for _, n in top),
                'buckets': [{'key': key, 'doc_count': n} for key, n in top]}}
        elif analysis == 'score':  # guide 2.2: no aggregations; hits.hits [{id, count}], hits.count
            reply['hits']['hits'] = [{'id': key, 'count': n} for key, n in top]
            reply['hits']['count'] = len(records)
        else:  # trend, guide 2.2: no aggregations; hits.hits [{id, count, start, trend}], hits.count
            middle = start + (end - start) // 2
            early = search.value_counts([search.field_value(r, field_name) for r in records if r['epoch_ms'] < middle])
            reply['hits']['hits'] = [{'id': key, 'count': n, 'start': early.get(key, 0),
                                      'trend': round((n - 2 * early.get(key, 0)) / max(early.get(key, 0), 1) * 100, 2)}
                                     for key, n in top]
            reply['hits']['count'] = len(records)
    reply['kibana'] = search.kibana(query, start, end, size)
    return reply


def get_graph(request: Request) -> dict[str, Any]:
    mode = request.path_args['mode']
    interval = int(request.path_args['interval'])
    if mode not in ('count', 'mean') or interval <= 0:
        raise InputError('Invalid graph: mode must be count or mean and interval > 0')
    query = search.decode_query(request.path_args['query'])
    records, start, end = search.run(request.dataset, query, request.now_ms)
    if (end - start) // interval > 10_000:
        raise InputError('Invalid graph: too many buckets')
    field_name = str(query.get('field', '@fields.orig_bytes'))
    buckets: dict[int, list[Any]] = {}
    for record in records:
        bucket_key = record['epoch_ms'] - record['epoch_ms'] % interval
        buckets.setdefault(bucket_key, []).append(search.field_value(record, field_name))
    reply_buckets = []
    for key in range(start - start % interval, end + 1, interval):
        values = buckets.get(key, [])
        bucket: dict[str, Any] = {'key': key, 'key_as_string': format_iso(key), 'doc_count': len(values)}
        if mode == 'mean':
            numbers = [v for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)]
            bucket['value'] = sum(numbers) / len(numbers) if numbers else None
        reply_buckets.append(bucket)
    reply = search.elastic(len(records), [])
    reply['aggregations'] = {mode: {'buckets': reply_buckets}}
    reply['kibana'] = search.kibana(query, start, end, 0)
    return reply


# ---------------------------------------------------------------------- models and components
def get_models(request: Request) -> Any:
    dataset = request.dataset
    uuid = str_param(request, 'uuid')
    pid = int_param(request, 'pid')
    if uuid is not None:
        model = dataset.models_by_uuid.get(uuid)
        if model is None:
            raise NotFound(f'Model {uuid} not found')
        definition = views.model_definition(dataset, model)
        return definition if request.settings.model_uuid_reply == 'object' else [definition]
    if pid is not None:
        return _model_or_404(request, pid)
    return [views.model_definition(dataset, model) for _, model in sorted(dataset.models.items())]


def _model_or_404(request: Request, pid: int) -> dict[str, Any]:
    model = request.dataset.models.get(pid)
    if model is None:
        raise NotFound(f'Model {pid} not found')
    return views.model_definition(request.dataset, model)


def get_model(request: Request) -> dict[str, Any]:
    return _model_or_404(request, int(request.path_args['pid']))


def get_components(request: Request) -> Any:
    cid = int_param(request, 'cid')
    if cid is not None:
        return _component_or_404(request, cid)
    return [views.component(request.dataset, c) for c in sorted(request.dataset.components)]


def _component_or_404(request: Request, cid: int) -> dict[str, Any]:
    if cid not in request.dataset.components:
        raise NotFound(f'Component {cid} not found')
    return views.component(request.dataset, cid)


def get_component(request: Request) -> dict[str, Any]:
    return _component_or_404(request, int(request.path_args['cid']))


# ---------------------------------------------------------------------- AI Analyst
def _ai_window(request: Request) -> tuple[int, int]:
    start, end = time_window(request)
    end = request.now_ms if end is None else end
    return (end - 7 * DAY_MS if start is None else start), end


def _pinned_events(request: Request) -> list[dict[str, Any]]:
    """Visible events that are pinned or belong to an incident holding a pinned event (guide 2.5, 2.8)."""
    dataset = request.dataset
    pinned_groups = {e['currentGroup'] for e in dataset.incidents.values() if e['pinned']}
    return [e for event_id, e in dataset.incidents.items()
            if (e['pinned'] or e['currentGroup'] in pinned_groups) and dataset.event_visible(event_id, request.now_ms)]


def _with_pinned(request: Request, window: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """guide 2.5: pinned events come back whatever the window unless includeallpinned=false (default true);
    includeonlypinned=true returns them alone."""
    if bool_param(request, 'includeonlypinned'):
        return _pinned_events(request)
    if not bool_param(request, 'includeallpinned', default=True):
        return window
    known = {e['id'] for e in window}
    return window + [e for e in _pinned_events(request) if e['id'] not in known]


def get_incidentevents(request: Request) -> list[dict[str, Any]]:
    dataset = request.dataset
    uuids = id_list(request.param('uuid'))
    if uuids:
        events = [dataset.incidents[u] for u in uuids if dataset.event_visible(u, request.now_ms)]
    else:
        start, end = _ai_window(request)
        window = dataset.incident_events_between(start, end, on_periods=request.settings.ai_time_filter == 'periods',
                                                 inclusive=request.settings.inclusive_bounds, now_ms=request.now_ms)
        window = _with_pinned(request, window)
        include_acknowledged = bool_param(request, 'includeacknowledged')
        minscore = float_param(request, 'minscore', 0, 100)
        maxscore = float_param(request, 'maxscore', 0, 100)
        mingroupscore = float_param(request, 'mingroupscore', 0, 100)
        did = int_param(request, 'did')
        group_ids = id_list(request.param('groupid'))
        critical_only = bool_param(request, 'groupcritical')
        events = [e for e in window
                  if (include_acknowledged or not e['acknowledged'])
                  and (minscore is None or e['aiaScore'] >= minscore)
                  and (maxscore is None or e['aiaScore'] <= maxscore)
                  and (mingroupscore is None or e['groupScore'] >= mingroupscore)
                  and (did is None or any(d['did'] == did for d in e['breachDevices']))
                  and (not group_ids or e['currentGroup'] in group_ids)
                  and (not critical_only or e['groupCategory'] == 'critical')]
    events = sorted(events, key=lambda e: e['createdAt'], reverse=True)
    include_url = bool_param(request, 'includeincidenteventurl')
    reply = []
    for event in events:
        item = json.loads(json.dumps(event))
        if include_url:
            item['incidentEventUrl'] = f'{request.base_url}/#aiaincidentevent/{event["id"]}'
        reply.append(item)
    return reply


def get_groups(request: Request) -> list[dict[str, Any]]:
    """``groupid`` selects groups by their own id and ``uuid`` the groups holding those incident
    events; with ``group_lookup=lenient`` either parameter takes either kind of id."""
    dataset = request.dataset
    event_ids = id_list(request.param('uuid'))
    group_ids = id_list(request.param('groupid'))
    if request.settings.group_lookup == 'lenient':
        event_ids = group_ids = event_ids + group_ids
    ids = [group_id for group_id, group in dataset.groups.items()
           if group_id in group_ids or any(event_id in group['incidentEvents'] for event_id in event_ids)]
    if (event_ids or group_ids) and not ids:
        return []
    start, end = _ai_window(request)
    include_acknowledged = bool_param(request, 'includeacknowledged')
    minscore = float_param(request, 'minscore', 0, 100)
    # guide 2.6: pinned incidents come back whatever the window unless includeallpinned=false
    only_pinned = bool_param(request, 'includeonlypinned')
    all_pinned = only_pinned or bool_param(request, 'includeallpinned', default=True)
    reply = []
    for group in sorted(dataset.groups.values(), key=lambda g: g['start'], reverse=True):
        events = [dataset.incidents[e] for e in group['incidentEvents']]
        acknowledged = all(e['acknowledged'] for e in events)
        pinned = any(e['pinned'] for e in events)
        outside = group['end'] < start or group['start'] > end
        if ids:
            if group['id'] not in ids:
                continue
        elif ((only_pinned and not pinned) or (outside and not (all_pinned and pinned))
              or (acknowledged and not include_acknowledged)
              or (minscore is not None and group['groupScore'] < minscore)):
            continue
        reply.append({**json.loads(json.dumps(group)), 'acknowledged': acknowledged, 'pinned': pinned,
                      'incidentEvents': [{'uuid': e['id'], 'start': e['periods'][0]['start'], 'title': e['title'],
                                          'triggerDid': e['breachDevices'][0]['did'], 'visible': True}
                                         for e in events]})
    return reply


def _set_incident_flag(request: Request, flag: str, value: bool) -> dict[str, str]:
    uuids = id_list(request.param('uuid'))
    if not uuids:
        raise InputError('uuid is required')
    missing = [u for u in uuids if u not in request.dataset.incidents]
    if missing:
        raise NotFound(f'Incident event {missing[0]} not found')
    for u in uuids:
        request.dataset.incidents[u][flag] = value
        request.dataset.mark_changed('event', u, request.now_ms)
    return {'aianalyst': 'SUCCESS'}


def post_ai_acknowledge(request: Request) -> dict[str, str]:
    return _set_incident_flag(request, 'acknowledged', True)


def post_ai_unacknowledge(request: Request) -> dict[str, str]:
    return _set_incident_flag(request, 'acknowledged', False)


def post_ai_pin(request: Request) -> dict[str, str]:
    return _set_incident_flag(request, 'pinned', True)


def post_ai_unpin(request: Request) -> dict[str, str]:
    return _set_incident_flag(request, 'pinned', False)


def _incident_or_404(request: Request, incident_id: str | None) -> str:
    if not incident_id:
        raise InputError('incident_id is required')
    if incident_id not in request.dataset.incidents:
        raise NotFound(f'Incident event {incident_id} not found')
    return incident_id


def get_incident_comments(request: Request) -> dict[str, Any]:
    incident_id = _incident_or_404(request, str_param(request, 'incident_id'))
    comments = request.dataset.incident_comments.get(incident_id, [])
    return {'comments': [dict(comment, incident_id=incident_id) for comment in comments]}


def post_incident_comment(request: Request) -> dict[str, str]:
    incident_id = _incident_or_404(request, str_param(request, 'incident_id'))
    message = _comment_message(request)
    request.dataset.add_incident_comment(incident_id, message, request.token_pair.username, request.now_ms)
    return {'response': 'SUCCESS'}


# ---------------------------------------------------------------------- Autonomous Response
# The state rules live in respond.py; these handlers read parameters and render replies.
def _antigena_window(request: Request) -> tuple[int | None, int | None]:
    """guide 2.13: starttime/endtime and from/to must be paired."""
    for first, second in (('starttime', 'endtime'), ('from', 'to')):
        if (request.param(first) is None) != (request.param(second) is None):
            raise InputError(f'{first} and {second} must be specified in pairs')
    return time_window(request)


def get_antigena(request: Request) -> Any:
    """guide 2.13: an array of actions; with includeconnections and/or fulldevicedetails an object
    {actions, connections?, devices?}. With no window: every action expiring in the future or in the last 14 days."""
    dataset = request.dataset
    include_cleared = bool_param(request, 'includecleared')
    need_confirming = bool_param(request, 'needconfirming')
    pbid = int_param(request, 'pbid')
    did = int_param(request, 'did') if request.settings.antigena_did == 'honoured' else None
    start, end = _antigena_window(request)
    now = request.now_ms
    actions = [a for _, a in sorted(dataset.antigena.items())
               if (include_cleared or not a.cleared)
               and (not need_confirming or respond.state(a, now) == 'pending')
               and (pbid is None or a.pbid == pbid) and (did is None or a.did == did)
               and ((start is None and a.expires >= now - 14 * DAY_MS) or (start is not None and a.start >= start))
               and (end is None or a.start <= end) and a.start <= now]
    reply = [views.antigena_action(dataset, action, now, include_history=bool_param(request, 'includehistory'))
             for action in actions]
    include_connections = bool_param(request, 'includeconnections')
    full_devices = bool_param(request, 'fulldevicedetails')
    if not (include_connections or full_devices):
        return reply
    shaped: dict[str, Any] = {'actions': reply}
    if include_connections:
        shaped['connections'] = [c for a in actions for c in views.antigena_connections(dataset, a)]
    if full_devices:
        shaped['devices'] = [views.antigena_device(dataset, d) for d in dict.fromkeys(a.did for a in actions)]
    return shaped


def _respond_reason(request: Request) -> str:
    reason = str_param(request, 'reason') or ''
    if request.settings.respond_audit and not reason.strip():
        # The guide says only that the POST fails; this emulator answers as for any bad input.
        raise InputError('A reason is required: Audit Antigena is enabled')
    return reason


def post_antigena(request: Request) -> dict[str, str]:
    """guide 2.13: JSON {codeid, activate | clear | duration, reason}."""
    codeid = int_param(request, 'codeid')
    if codeid is None:
        raise InputError('codeid is required')
    action = request.dataset.antigena.get(codeid)
    if action is None:
        raise NotFound(f'Action {codeid} not found')
    activate = bool_param(request, 'activate')
    clear = bool_param(request, 'clear')
    duration = int_param(request, 'duration', minimum=1)
    reason = _respond_reason(request)
    username = request.token_pair.username
    try:
        if activate and clear:
            raise respond.Refused('Give only one of activate or clear')
        if clear:
            respond.clear(action, request.now_ms, username, reason)
        elif activate and duration is not None:
            respond.reactivate(action, request.now_ms, duration, username, reason)
        elif activate:
            respond.activate(action, request.now_ms, username, reason)
        elif duration is not None:
            respond.extend(action, request.now_ms, duration, username, reason,
                           from_start=request.settings.extend_from == 'start')
        else:
            raise respond.Refused('One of activate, clear or duration is required')
    except respond.Refused as refused:
        raise InputError(str(refused)) from None
    return {'response': 'SUCCESS'} if request.settings.respond_post_reply == 'success' else {}


def _connections(request: Request) -> list[dict[str, Any]]:
    connections = request.param('connections') or []
    if isinstance(connections, str):
        try:
            connections = json.loads(connections)
        except ValueError:
            raise InputError('Invalid value for connections') from None
    if not isinstance(connections, list) or not all(
            isinstance(c, dict) and isinstance(c.get('src'), str) and isinstance(c.get('dst'), str)
            and (c.get('port') is None or (isinstance(c['port'], int) and 0 < c['port'] < 65536))
            for c in connections):
        raise InputError('Invalid value for connections: expected [{"src", "dst", "port"}]')
    return connections


def post_antigena_manual(request: Request) -> dict[str, int]:
    did = int_param(request, 'did')
    kind = str_param(request, 'action')
    duration = int_param(request, 'duration', minimum=1)
    if did is None or kind is None or duration is None:
        raise InputError('did, action and duration are required')
    _device_or_404(request, did)
    try:
        action = respond.create_manual(request.dataset.antigena, did, kind, duration,
                                       _respond_reason(request), request.token_pair.username,
                                       _connections(request), request.now_ms, ANTIGENA_ACTIONS)
    except respond.Refused as refused:
        raise InputError(str(refused)) from None
    # guide 2.14: the example reply is {"code": 10170}; its text says "the codeid" (ambiguity 14)
    return {request.settings.manual_reply_key: action.codeid}


# ---------------------------------------------------------------------- the route table
RESPOND_PERMISSIONS = frozenset({'antigena', 'antigena_write'})  # the routes the `respond` setting governs

def _route(method: str, pattern: str, permission: str, handler: Handler, forbidden: str = 'redirect') -> Route:
    return Route(method, re.compile(f'^{pattern}$'), permission, handler, forbidden)


_PBID = r'/modelbreaches/(?P<pbid>\d+)'

ROUTES: tuple[Route, ...] = (
    _route('GET', '/status', 'status', get_status),
    _route('GET', '/modelbreaches', 'modelbreaches', get_modelbreaches),
    _route('GET', _PBID, 'modelbreaches', get_modelbreach),
    _route('POST', _PBID + '/acknowledge', 'modelbreaches_write', post_acknowledge),
    _route('POST', _PBID + '/unacknowledge', 'modelbreaches_write', post_unacknowledge),
    _route('GET', _PBID + '/comments', 'comments', get_breach_comments),
    _route('POST', _PBID + '/comments', 'comments', post_breach_comment),
    _route('GET', '/mbcomments', 'comments', get_mbcomments),
    _route('GET', '/details', 'details', get_details),
    _route('GET', '/devices', 'devices', get_devices),
    _route('GET', '/devicesearch', 'devicesearch', get_devicesearch),
    _route('GET', '/similardevices', 'similardevices', get_similardevices),
    _route('GET', '/endpointdetails', 'endpointdetails', get_endpointdetails),
    _route('GET', '/deviceinfo', 'deviceinfo', get_deviceinfo),
    _route('GET', '/tags', 'tags', get_tags),
    _route('GET', '/tags/entities', 'tags', get_tag_entities),
    _route('POST', '/tags/entities', 'tags_write', post_tag_entity),
    _route('DELETE', '/tags/entities', 'tags_write', delete_tag_entity),
    _route('GET', '/intelfeed', 'intelfeed', get_intelfeed),
    _route('POST', '/intelfeed', 'intelfeed_write', post_intelfeed, forbidden='json'),
    _route('GET', '/advancedsearch/api/search/(?P<query>.+)', 'advancedsearch', get_search),
    _route('GET', '/advancedsearch/api/analyze/(?P<field>[^/]+)/(?P<analysis>[^/]+)/(?P<query>.+)',
           'advancedsearch', get_analyze),
    _route('GET', '/advancedsearch/api/graph/(?P<mode>[^/]+)/(?P<interval>\\d+)/(?P<query>.+)',
           'advancedsearch', get_graph),
    _route('GET', '/models', 'models', get_models),
    _route('GET', '/models/(?P<pid>\\d+)', 'models', get_model),
    _route('GET', '/components', 'components', get_components),
    _route('GET', '/components/(?P<cid>\\d+)', 'components', get_component),
    _route('GET', '/aianalyst/incidentevents', 'aianalyst', get_incidentevents),
    _route('GET', '/aianalyst/groups', 'aianalyst', get_groups),
    _route('POST', '/aianalyst/acknowledge', 'aianalyst_write', post_ai_acknowledge),
    _route('POST', '/aianalyst/unacknowledge', 'aianalyst_write', post_ai_unacknowledge),
    _route('POST', '/aianalyst/pin', 'aianalyst_write', post_ai_pin),
    _route('POST', '/aianalyst/unpin', 'aianalyst_write', post_ai_unpin),
    _route('GET', '/aianalyst/incident/comments', 'aianalyst', get_incident_comments),
    _route('POST', '/aianalyst/incident/comments', 'aianalyst_write', post_incident_comment),
    _route('GET', '/antigena', 'antigena', get_antigena),
    _route('POST', '/antigena', 'antigena_write', post_antigena, forbidden='json'),
    _route('POST', '/antigena/manual', 'antigena_write', post_antigena_manual, forbidden='json'),
)


def find_route(method: str, raw_path: str, settings: Settings | None = None) -> tuple[Route, dict[str, str]] | None:
    """The route for a method and raw path (a trailing slash is tolerated, as Express does).

    The path route for one breach exists only when the ``breach_path_route`` setting says so.
    """
    path = raw_path.rstrip('/') or '/'
    for route in ROUTES:
        if route.method != method.upper():
            continue
        if route.handler is get_modelbreach and settings is not None and not settings.breach_path_route:
            continue
        match = route.pattern.match(path)
        if match:
            return route, match.groupdict()
    return None


def call(route: Route, request: Request) -> Response:
    """Run a handler; turn its payload or its InputError/NotFound into a Response."""
    try:
        payload = route.handler(request)
    except InputError as error:
        return json_response({'error': str(error), 'response': 'INPUT ERROR'}, status=400)
    except NotFound as error:
        return json_response({'error': str(error)}, status=404)
    if isinstance(payload, Response):
        return payload
    field_name = request.query.get('responsedata')
    if field_name and request.method == 'GET':
        payload = _trim(payload, field_name)
    return json_response(payload)


def _trim(payload: Any, field_name: str) -> Any:
    """``responsedata=<field>``: keep one top-level field of the object or of each item; a comma list keeps each
    field named (guide 0.6: ``responsedata=did,hostname``, ``responsedata=model,percentscore,device``)."""
    if isinstance(payload, list):
        return [_trim(item, field_name) for item in payload]
    if isinstance(payload, dict):
        names = [name for name in field_name.split(',') if name]
        return {name: payload[name] for name in names if name in payload}
    return payload
