"""Devices: /devices, /devicesearch, /similardevices and /deviceinfo."""
from __future__ import annotations

import fnmatch
import re
import shlex
from typing import Any

from emulator import views
from emulator.dataset import GRAPH_HOURS, HOUR_MS
from emulator.params import InputError, Request, bool_param, device_or_404, int_param, str_param


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
        device_or_404(request, did)
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
    return views.device_search(dataset, len(matches), [d['did'] for d in page], request.now_ms)


def get_similardevices(request: Request) -> list[dict[str, Any]]:
    did = int_param(request, 'did')
    if did is None:
        raise InputError('did is required')
    device_or_404(request, did)
    count = int_param(request, 'count', default=5, minimum=0) or 0
    full = bool_param(request, 'fulldevicedetails')
    ranking = request.dataset.similar[did][:count]
    return [views.similar_device(request.dataset, other, score, full, request.now_ms) for other, score in ranking]


# ---------------------------------------------------------------------- /deviceinfo
def get_deviceinfo(request: Request) -> dict[str, Any]:
    did = int_param(request, 'did')
    if did is None:
        raise InputError('did is required')
    device_or_404(request, did)
    datatype = str_param(request, 'datatype') or 'co'
    if datatype not in ('co', 'sizeout', 'sizein'):
        raise InputError(f'Invalid value for datatype: {datatype}')
    interval_hours = int_param(request, 'intervalhours', default=1, minimum=1, maximum=GRAPH_HOURS) or 1
    similar_count = int_param(request, 'similardevices', default=0, minimum=0) or 0
    dids = [did] + [other for other, _ in request.dataset.similar[did][:similar_count]]
    scores = {did: 100, **dict(request.dataset.similar[did])}
    entries = [_device_info_entry(request, entry_did, scores[entry_did], datatype, interval_hours)
               for entry_did in dids]
    devices = None
    if bool_param(request, 'fulldevicedetails'):
        referenced = {d for entry in entries for d in _referenced_dids(entry['info'])} | set(dids)
        devices = [d for d in sorted(referenced) if d in request.dataset.devices]
    return views.device_info(request.dataset, entries, devices, request.now_ms)


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
    info = views.connections_info(
        total_used=profile['totalUsed'] * sum(i['size'] for i in used) // 100 if used else 0,
        total_served=profile['totalServed'] * sum(i['size'] for i in served) // 100 if served else 0,
        total_devices_and_ports=(profile['totalUsed'] if used else 0) + (profile['totalServed'] if served else 0),
        devices_and_ports=[views.device_and_port(item) for item in used + served],
        ports_used=_aggregate(used, 'port', 'port', first_time),
        ports_served=_aggregate(served, 'port', 'port', first_time),
        devices_used=_aggregate(used, 'device', 'did', first_time),
        devices_served=_aggregate(served, 'device', 'did', first_time))
    return views.device_info_entry(did, similarity, graph, info)


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
            graph.append(views.graph_point(bucket_start * HOUR_MS, total))
    return graph


def _aggregate(items: list[dict[str, Any]], source_key: str, reply_key: str, first_time: int) -> list[dict[str, Any]]:
    sizes: dict[Any, int] = {}
    offsets: dict[Any, int] = {}
    for item in items:
        sizes[item[source_key]] = sizes.get(item[source_key], 0) + item['size']
        offsets[item[source_key]] = min(offsets.get(item[source_key], item['firstOffset']), item['firstOffset'])
    return [views.traffic_aggregate(reply_key, key, size, None if key == 'others' else first_time + offsets[key])
            for key, size in sorted(sizes.items(), key=lambda pair: (pair[0] == 'others', -pair[1]))]


def _referenced_dids(info: dict[str, Any]) -> set[int]:
    return {entry['did'] for entry in info['devicesUsed'] + info['devicesServed']
            if isinstance(entry['did'], int) and entry['did'] > 0}
