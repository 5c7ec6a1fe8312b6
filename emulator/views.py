"""JSON shapes of the appliance's replies, built from dataset records.

Nested objects that never change (a model version, a device summary) are built once and shared
between replies; every function here returns a new top-level object, and nothing mutates a
shared nested one.
"""
from __future__ import annotations

import json
import weakref
from typing import Any

from emulator import respond
from emulator.catalog import APPLIANCE_HOSTNAME, APPLIANCE_VERSION
from emulator.dataset import (DAY_MS, AntigenaAction, Breach, Comment, Dataset, Model, TagLink, WatchedEntry,
                              format_time)

# Per-dataset caches of shared nested objects; weak, so a stopped emulator's dataset is freed.
_MODEL_CACHE: 'weakref.WeakKeyDictionary[Dataset, dict[tuple[int, int], dict[str, Any]]]' = weakref.WeakKeyDictionary()
_DEVICE_CACHE: 'weakref.WeakKeyDictionary[Dataset, dict[int, dict[str, Any]]]' = weakref.WeakKeyDictionary()
_TEXT_CACHE: 'weakref.WeakKeyDictionary[Dataset, dict[Any, str]]' = weakref.WeakKeyDictionary()

# guide 2.31: device{did, ip, ips[], sid, hostname, firstSeen, lastSeen, typename, typelabel}
_DEVICE_SUMMARY_KEYS = ('did', 'ip', 'ips', 'sid', 'hostname', 'firstSeen', 'lastSeen', 'devicelabel', 'macaddress',
                        'vendor', 'typename', 'typelabel')


# ---------------------------------------------------------------------- models and components
def model_definition(dataset: Dataset, model: Model, time_ms: int | None = None) -> dict[str, Any]:
    """A model as /models and breach ``model.then``/``model.now`` show it."""
    return dict(_model_definition(dataset, model.pid, model.version_at(time_ms).phid))


def _model_definition(dataset: Dataset, pid: int, phid: int) -> dict[str, Any]:
    cache = _MODEL_CACHE.setdefault(dataset, {})
    cached = cache.get((pid, phid))
    if cached is not None:
        return cached
    model = dataset.models[pid]
    version = next(v for v in model.versions if v.phid == phid)
    spec = model.spec
    definition: dict[str, Any] = {
        'name': spec.name, 'pid': pid, 'phid': phid, 'uuid': model.uuid,
        'logic': {'data': [{'cid': cid, 'weight': 1} for cid in model.cids], 'targetScore': 1,
                  'type': 'weightedComponentList', 'version': 1},
        'throttle': 3600, 'sharedEndpoints': False,
        'actions': {'alert': True, 'antigena': {}, 'breach': True, 'model': True, 'setPriority': False,
                    'setTag': False, 'setType': False},
        'tags': list(spec.tags), 'interval': 3600, 'delay': 0, 'sequenced': False, 'active': True,
        'modified': format_time(version.modified), 'activeTimes': {'devices': {}, 'tags': {}, 'type': 'exclusions',
                                                                   'version': 2},
        'autoUpdatable': True, 'autoUpdate': True, 'autoSuppress': True, 'description': spec.description,
        'behaviour': 'incdec1', 'defeats': [], 'created': {'by': 'System'}, 'edited': {'by': 'System'},
        'version': len([v for v in model.versions if v.phid <= phid]), 'priority': version.priority,
        'category': spec.category, 'compliance': spec.category == 'Compliance',
        'mitre': {'tactics': [], 'techniques': [technique_id for _, technique_id in spec.mitre]},
    }
    cache[(pid, phid)] = definition
    return definition


def component(dataset: Dataset, cid: int) -> dict[str, Any]:
    record = dataset.components[cid]
    return {key: value for key, value in record.items() if key != 'metric'}


# ---------------------------------------------------------------------- devices
def device(dataset: Dataset, did: int, now_ms: int, include_tags: bool = False,
           devices_endpoint: bool = False) -> dict[str, Any]:
    """A device object; fields without values are left out, as the appliance does. guide 2.20: /devices itself
    (`devices_endpoint`) names first and last seen `time` and `endtime`, unlike every other endpoint."""
    record = dict(dataset.devices[did])
    if devices_endpoint:
        record['time'], record['endtime'] = record.pop('firstSeen'), record.pop('lastSeen')
    record['ips'] = [dict(entry) for entry in record['ips']]
    if 'credentials' in record:
        record['credentials'] = list(record['credentials'])
    if include_tags:
        record['tags'] = [tag_object(tag) for tag in dataset.device_tags(did, now_ms)]
    return record


def device_summary(dataset: Dataset, did: int) -> dict[str, Any]:
    """The short device object embedded in a model breach (shared, never mutated)."""
    cache = _DEVICE_CACHE.setdefault(dataset, {})
    cached = cache.get(did)
    if cached is None:
        record = dataset.devices[did]
        cached = {key: record[key] for key in _DEVICE_SUMMARY_KEYS if key in record}
        cache[did] = cached
    return cached


def similar_device(dataset: Dataset, did: int, score: int, full: bool, now_ms: int) -> dict[str, Any]:
    record = dataset.devices[did]
    reply: dict[str, Any] = {'did': did, 'score': score}
    for key in ('ip', 'ips', 'sid', 'hostname', 'firstSeen', 'lastSeen', 'typename', 'typelabel',
                'macaddress', 'vendor'):
        if key in record:
            reply[key] = record[key]
    if full:
        for key in ('os', 'devicelabel', 'priority', 'credentials'):
            if key in record:
                reply[key] = record[key]
        reply['tags'] = [tag_object(tag) for tag in dataset.device_tags(did, now_ms)]
    return reply


def device_search(dataset: Dataset, total: int, dids: list[int], now_ms: int) -> dict[str, Any]:
    """/devicesearch (guide 2.21): {totalCount, devices[]}, each device with its tags."""
    return {'totalCount': total, 'devices': [device(dataset, did, now_ms, include_tags=True) for did in dids]}


def device_info(dataset: Dataset, entries: list[dict[str, Any]], dids: list[int] | None,
                now_ms: int) -> dict[str, Any]:
    """/deviceinfo (guide 2.19): {deviceInfo[…], devices[…]}; `devices` (fulldevicedetails) only with `dids`."""
    reply: dict[str, Any] = {'deviceInfo': entries}
    if dids is not None:
        reply['devices'] = [device(dataset, did, now_ms) for did in dids]
    return reply


def device_info_entry(did: int, similarity: int, graph: list[dict[str, int]], info: dict[str, Any]) -> dict[str, Any]:
    """One `deviceInfo` entry (guide 2.19): {did, similarityScore, graphData[{time, count}], info{…}}."""
    return {'did': did, 'similarityScore': similarity, 'graphData': graph, 'info': info}


def connections_info(*, total_used: int, total_served: int, total_devices_and_ports: int,
                     devices_and_ports: list[dict[str, Any]], ports_used: list[dict[str, Any]],
                     ports_served: list[dict[str, Any]], devices_used: list[dict[str, Any]],
                     devices_served: list[dict[str, Any]]) -> dict[str, Any]:
    """A `deviceInfo` entry's `info` (guide 2.19); its `size` values are percentages."""
    return {'totalUsed': total_used, 'totalServed': total_served, 'totalDevicesAndPorts': total_devices_and_ports,
            'devicesAndPorts': devices_and_ports, 'portsUsed': ports_used, 'portsServed': ports_served,
            'devicesUsed': devices_used, 'devicesServed': devices_served}


def graph_point(time_ms: int, count: int) -> dict[str, int]:
    """A `graphData` point of /deviceinfo (guide 2.19): {time (ms), count}."""
    return {'time': time_ms, 'count': count}


def device_and_port(item: dict[str, Any]) -> dict[str, Any]:
    """An `info.devicesAndPorts` entry (guide 2.19): {deviceAndPort{direction, device, port}, size}; the share
    grouped as "others" names no device."""
    if item['device'] == 'others':
        return {'deviceAndPort': 'others', 'size': item['size']}
    return {'deviceAndPort': {'direction': item['direction'], 'device': item['device'], 'port': item['port']},
            'size': item['size']}


def traffic_aggregate(reply_key: str, key: Any, size: int, first_time: int | None) -> dict[str, Any]:
    """A portsUsed/portsServed ({port, size, firstTime}) or devicesUsed/devicesServed ({did, size, firstTime}) entry
    of /deviceinfo (guide 2.19); "others" has no `firstTime` (None)."""
    entry: dict[str, Any] = {reply_key: key, 'size': size}
    if first_time is not None:
        entry['firstTime'] = first_time
    return entry


# ---------------------------------------------------------------------- model breaches
def breach(dataset: Dataset, record: Breach, *, include_acknowledged: bool, include_url: bool,
           base_url: str, minimal: bool, device_at_top: bool) -> dict[str, Any]:
    """One model breach as /modelbreaches returns it."""
    extra = record.extra or {}
    reply: dict[str, Any] = {'commentCount': len(dataset.comments.get(record.pbid, ())), 'pbid': record.pbid,
                             'time': record.time, 'creationTime': record.creation_time}
    if include_acknowledged:
        reply['acknowledged'] = record.acknowledged
    if include_url:
        reply['breachUrl'] = f'{base_url}/#modelbreach/{record.pbid}'
    model = dataset.models.get(record.pid)
    if 'model' in extra or model is None:
        reply['model'] = extra.get('model', {})
    else:
        then = _model_definition(dataset, model.pid, model.version_at(record.time).phid)
        now = _model_definition(dataset, model.pid, model.version_at(None).phid)
        reply['model'] = {'then': _minimal_model(then), 'now': _minimal_model(now)} if minimal \
            else {'then': then, 'now': now}
    device_object = extra.get('device') or device_summary(dataset, record.did)
    if not minimal:
        reply['triggeredComponents'] = extra.get('triggeredComponents') or (
            triggered_components(dataset, record, model) if model else [])
        if not device_at_top:
            reply['triggeredComponents'] = [{**item, 'device': device_object} for item in reply['triggeredComponents']]
    reply['score'] = record.score
    reply['percentscore'] = round(record.score * 100)
    if device_at_top:
        reply['device'] = device_object
    if not minimal:
        reply['mitreTechniques'] = extra.get('mitreTechniques') or (
            [{'technique': name, 'techniqueID': technique_id} for name, technique_id in model.spec.mitre]
            if model else [])
    for key, value in extra.items():
        if key not in ('model', 'device', 'triggeredComponents', 'mitreTechniques'):
            reply[key] = value
    return reply


def breach_text(dataset: Dataset, record: Breach, *, include_acknowledged: bool, include_url: bool,
                base_url: str, minimal: bool, device_at_top: bool) -> str:
    """The JSON text of ``breach(...)``, assembled from cached fragments in the common case.

    Serialising the shared model definitions once instead of per breach keeps a large
    /modelbreaches reply cheap; unusual variants fall back to serialising the whole object.
    """
    model = dataset.models.get(record.pid)
    if record.extra or minimal or not device_at_top or model is None:
        return _dumps(breach(dataset, record, include_acknowledged=include_acknowledged, include_url=include_url,
                             base_url=base_url, minimal=minimal, device_at_top=device_at_top))
    cache = _TEXT_CACHE.setdefault(dataset, {})
    then_phid = model.version_at(record.time).phid
    now_phid = model.version_at(None).phid
    model_text = cache.get(('model', then_phid, now_phid))
    if model_text is None:
        model_text = _dumps({'then': _model_definition(dataset, model.pid, then_phid),
                             'now': _model_definition(dataset, model.pid, now_phid)})
        cache[('model', then_phid, now_phid)] = model_text
    device_text = cache.get(('device', record.did))
    if device_text is None:
        device_text = cache[('device', record.did)] = _dumps(device_summary(dataset, record.did))
    mitre_text = cache.get(('mitre', model.pid))
    if mitre_text is None:
        mitre_text = cache[('mitre', model.pid)] = _dumps(
            [{'technique': name, 'techniqueID': technique_id} for name, technique_id in model.spec.mitre])
    optional = ''
    if include_acknowledged:
        optional += ',"acknowledged":' + ('true' if record.acknowledged else 'false')
    if include_url:
        optional += ',"breachUrl":' + _dumps(f'{base_url}/#modelbreach/{record.pbid}')
    return (f'{{"commentCount":{len(dataset.comments.get(record.pbid, ()))},"pbid":{record.pbid},'
            f'"time":{record.time},"creationTime":{record.creation_time}{optional},"model":{model_text},'
            f'"triggeredComponents":{_dumps(triggered_components(dataset, record, model))},'
            f'"score":{_dumps(record.score)},"percentscore":{round(record.score * 100)},'
            f'"device":{device_text},"mitreTechniques":{mitre_text}}}')


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(',', ':'), ensure_ascii=False)


def _minimal_model(definition: dict[str, Any]) -> dict[str, Any]:
    return {key: definition[key] for key in ('name', 'pid', 'phid', 'uuid', 'priority', 'category')}


def triggered_components(dataset: Dataset, record: Breach, model: Model) -> list[dict[str, Any]]:
    components = []
    for position, cid in enumerate(model.cids):
        source = dataset.components[cid]
        spec = model.spec.components[position]
        value = dataset.trigger_value(spec.pool, record.pbid)
        first = source['filters'][0]
        components.append({
            'time': record.time - 1000 * (len(model.cids) - position), 'cbid': record.pbid * 10 + position,
            'cid': cid, 'chid': source['chid'], 'size': 1 + record.pbid % 9, 'threshold': source['threshold'],
            'interval': source['interval'], 'logic': source['logic'], 'metric': source['metric'],
            'triggeredFilters': [
                {'cfid': first['cfid'], 'id': first['id'], 'filterType': first['filtertype'],
                 'arguments': {'value': value}, 'comparatorType': first['comparator'], 'trigger': {'value': value}},
                {'cfid': source['filters'][1]['cfid'], 'id': 'B', 'filterType': 'Direction',
                 'arguments': {'value': 'out'}, 'comparatorType': 'is', 'trigger': {'value': 'out'}},
            ],
        })
    return components


def breach_comment(comment: Comment, pid: int) -> dict[str, Any]:
    return {'message': comment.message, 'username': comment.username, 'time': comment.time, 'pid': pid}


def breach_acknowledged_list(pbid: int) -> list[dict[str, Any]]:
    """The Unified View reply to /modelbreaches/[pbid]/acknowledge and /unacknowledge (guide 2.33: the reply is not
    documented; the `ack_reply=list` switch plays this one, `object` plays ``success()``)."""
    return [{'replicate': True, 'data': [{'pbid': pbid, 'response': 'SUCCESS'}]}]


def mb_comment(comment: Comment, pid: int, model_name: str) -> dict[str, Any]:
    return {'time': comment.time, 'pbid': comment.pbid, 'username': comment.username,
            'message': comment.message, 'pid': pid, 'name': model_name}


# ---------------------------------------------------------------------- /details events
def event_device(dataset: Dataset, did: int, full: bool) -> dict[str, Any]:
    record = dataset.devices[did]
    if full:
        return {'id': did, **{k: v for k, v in record.items()}}
    reply = {'id': did, 'did': did, 'ip': record['ip'], 'sid': record['sid']}
    for key in ('macaddress', 'hostname', 'typename', 'typelabel'):
        if key in record:
            reply[key] = record[key]
    return reply


def external_device(endpoint: dict[str, Any]) -> dict[str, Any]:
    return {'id': 0, 'did': 0, 'ip': endpoint['ip'], 'hostname': endpoint['hostname'],
            'longitude': endpoint['longitude'], 'latitude': endpoint['latitude'], 'city': endpoint['city'],
            'country': endpoint['country'], 'countrycode': endpoint['countrycode'], 'asn': endpoint['asn'],
            'region': endpoint['region']}


def connection_event(dataset: Dataset, event: dict[str, Any], full: bool, event_type: str) -> dict[str, Any]:
    """A connection of /details (guide 2.18); `eventType` is the one asked for."""
    own = event_device(dataset, event['did'], full)
    if event['external']:
        other = external_device(event['peer'])
        other_name = event['peer']['hostname']
    else:
        other = event_device(dataset, event['peer_did'], full)
        other_name = event['peer'].get('hostname', event['peer']['ip'])
    own_name = own.get('hostname', own['ip'])
    outgoing = event['direction'] == 'out'
    source, destination = (own, other) if outgoing else (other, own)
    reply = {
        'time': format_time(event['timems']), 'timems': event['timems'], 'action': 'connection',
        'eventType': event_type, 'uid': event['uid'],
        'sdid': source['did'], 'ddid': destination['did'],
        'port': event['port'], 'sourcePort': event['source_port'] if outgoing else event['port'],
        'destinationPort': event['port'], 'direction': event['direction'], 'protocol': event['protocol'],
        'applicationprotocol': {443: 'HTTPS', 80: 'HTTP', 53: 'DNS', 445: 'SMB', 88: 'Kerberos', 389: 'LDAP',
                                3389: 'RDP', 22: 'SSH', 123: 'NTP'}.get(event['port'], 'Unknown'),
        'status': event['status'],
        'sourceDevice': source, 'destinationDevice': destination,
        'source': own_name if outgoing else other_name, 'destination': other_name if outgoing else own_name,
    }
    if event['kind'] != 'connection':
        reply['info'] = 'A connection the device does not usually make' if event['kind'] == 'unusualconnection' \
            else 'The first connection between these endpoints'
    return reply


def blocked_connection_event(dataset: Dataset, action: AntigenaAction, connection: dict[str, Any]) -> dict[str, Any]:
    """A connection an action blocked, as /details?blockedconnections= lists it (guide 2.18)."""
    record = dataset.devices.get(action.did, {})
    return {
        'time': format_time(action.start), 'timems': action.start, 'action': 'connection',
        'eventType': 'connection', 'blocked': True, 'status': 'failed', 'codeid': action.codeid,
        'direction': 'out', 'protocol': 'TCP', 'port': connection.get('port'),
        'destinationPort': connection.get('port'), 'sdid': action.did, 'ddid': 0,
        'source': record.get('hostname', connection.get('src')), 'destination': connection.get('dst'),
        'sourceDevice': event_device(dataset, action.did, False) if record else {},
        'destinationDevice': {'ip': connection.get('dst')},
    }


def notice_event(dataset: Dataset, notice: dict[str, Any]) -> dict[str, Any]:
    record = dataset.devices[notice['did']]
    return {'time': format_time(notice['timems']), 'timems': notice['timems'], 'action': 'notice',
            'eventType': 'notice', 'nid': notice['nid'], 'uid': notice['uid'], 'direction': 'out',
            'mlid': 0, 'type': notice['type'], 'msg': notice['msg'], 'destinationPort': 0,
            'details': '', 'sdid': notice['did'], 'source': record.get('hostname', record['ip'])}


def device_history_events(dataset: Dataset, did: int) -> list[dict[str, Any]]:
    record = dataset.devices[did]
    events = []
    for name in ('macaddress', 'hostname', 'ip', 'typename'):
        if name in record:
            events.append({'time': format_time(record['firstSeen']), 'timems': record['firstSeen'],
                           'eventType': 'devicehistory', 'name': name if name != 'macaddress' else 'mac',
                           'value': record[name], 'reason': 'DHCP' if name in ('ip', 'hostname') else 'Observed',
                           'device': did})
    for entry in record['ips'][1:]:
        events.append({'time': entry['time'], 'timems': entry['timems'], 'eventType': 'devicehistory',
                       'name': 'ip', 'value': entry['ip'], 'reason': 'DHCP', 'device': did})
    return events


def breach_event(dataset: Dataset, record: Breach) -> dict[str, Any]:
    """The breach record that opens /details?pbid=."""
    model = dataset.models.get(record.pid)
    definition = _model_definition(dataset, model.pid, model.version_at(record.time).phid) if model else {}
    return {
        'time': format_time(record.time), 'timems': record.time, 'pbid': record.pbid, 'pid': record.pid,
        'phid': definition.get('phid'), 'action': 'policybreach', 'eventType': 'policybreach',
        'creationTime': record.creation_time, 'creationTimestamp': format_time(record.creation_time),
        'name': definition.get('name', ''), 'components': list(model.cids) if model else [],
        'didRestrictions': [], 'didExclusions': [], 'throttle': definition.get('throttle', 3600),
        'sharedEndpoints': False, 'interval': definition.get('interval', 3600), 'sequenced': False,
        'active': True, 'modified': definition.get('modified', ''), 'priority': definition.get('priority', 0),
        'description': definition.get('description', ''), 'score': record.score, 'did': record.did,
    }


def modelbreach_event(dataset: Dataset, record: Breach) -> dict[str, Any]:
    model = dataset.models.get(record.pid)
    return {'time': format_time(record.time), 'timems': record.time, 'action': 'modelbreach',
            'eventType': 'modelbreach', 'pbid': record.pbid, 'pid': record.pid,
            'name': model.spec.name if model else '', 'score': record.score, 'did': record.did}


# ---------------------------------------------------------------------- tags
def tag_object(tag: dict[str, Any]) -> dict[str, Any]:
    return {**tag, 'data': dict(tag['data'])}


def tag_link(link: TagLink) -> dict[str, Any]:
    # guide 2.41: {teid, tehid, tid, entityType, entityValue (string), valid, expiry?}
    return {'teid': link.teid, 'tehid': link.teid, 'tid': link.tid, 'entityType': 'Device',
            'entityValue': str(link.did), 'valid': True, 'expiry': link.expiry}


def tag_entities(entities: list[dict[str, Any]], devices: list[dict[str, Any]]) -> dict[str, Any]:
    """/tags/entities?tag=…&fulldevicedetails=true (guide 2.41): {entities:[…], devices:[…]}."""
    return {'entities': entities, 'devices': devices}


def tag_linked(tid: int) -> dict[str, int]:
    """POST /tags/entities with `tag_reply=tid`: the tag's {tid} (``success()`` with `tag_reply=success`)."""
    return {'tid': tid}


# ---------------------------------------------------------------------- watch list
def tagged_device(dataset: Dataset, did: int, now_ms: int) -> dict[str, Any]:
    """A device as /tags/entities?fulldevicedetails=true lists it beside the tag's entities."""
    device = dataset.devices[did]
    summary: dict[str, Any] = {key: device[key] for key in ('did', 'ip', 'hostname', 'devicelabel', 'typename',
                                                            'typelabel', 'macaddress', 'vendor') if key in device}
    # As current versions list them: each credential with when it was last seen on the device (ms).
    summary['credentials'] = [{'credential': name, 'lastSeen': device.get('lastSeen')}
                              for name in device.get('credentials', [])]
    summary['tags'] = [tag_object(t) for t in dataset.device_tags(did, now_ms)]
    return summary


def watched_entry(entry: WatchedEntry) -> dict[str, Any]:
    reply: dict[str, Any] = {'name': entry.name, 'description': entry.description}
    if entry.expiry:
        reply['expiry'] = entry.expiry
    reply['strength'] = entry.strength
    reply['iagn'] = entry.iagn
    return reply


def watched_change(added: int, updated: int) -> dict[str, Any]:
    """POST /intelfeed (guide 2.26: the POST reply is not documented): {added, updated, response}."""
    return {'added': added, 'updated': updated, 'response': 'SUCCESS'}


# ---------------------------------------------------------------------- Autonomous Response
def antigena_reply(dataset: Dataset, actions: list[AntigenaAction], now_ms: int, *, include_history: bool,
                   include_connections: bool, full_devices: bool) -> Any:
    """GET /antigena (guide 2.13): an array of actions; with includeconnections and/or fulldevicedetails an object
    {actions, connections?, devices?}."""
    reply = [antigena_action(dataset, action, now_ms, include_history=include_history) for action in actions]
    if not (include_connections or full_devices):
        return reply
    shaped: dict[str, Any] = {'actions': reply}
    if include_connections:
        shaped['connections'] = [c for a in actions for c in antigena_connections(dataset, a)]
    if full_devices:
        shaped['devices'] = [antigena_device(dataset, d) for d in dict.fromkeys(a.did for a in actions)]
    return shaped


def antigena_action(dataset: Dataset, action: AntigenaAction, now_ms: int,
                    include_history: bool = False) -> dict[str, Any]:
    """One action object (guide 2.13); blocked connections are listed beside the actions, not inside them."""
    record = dataset.devices.get(action.did, {})
    active = respond.state(action, now_ms) == 'active'
    reply = {
        'codeid': action.codeid, 'did': action.did, 'ip': record.get('ip', ''), 'action': action.action,
        'manual': action.manual, 'triggerer': action.triggerer, 'label': action.label, 'detail': action.detail,
        'score': action.score, 'pbid': action.pbid, 'model': action.model, 'modeluuid': action.model_uuid,
        'start': action.start, 'expires': action.expires, 'blocked': active, 'updated': str(action.start),
        'agemail': False, 'aghost': False, 'active': action.active, 'cleared': action.cleared,
    }
    if include_history:
        # guide 2.13: history[{family, username, action (state), reason, time}]
        reply['history'] = [{'family': 'NETWORK', **entry} for entry in action.history]
    return reply


def antigena_connections(dataset: Dataset, action: AntigenaAction) -> list[dict[str, Any]]:
    """The connections an action blocked, as the top-level `connections` entries of guide 2.13:
    {action, label, did, direction, ip, port, timems, time}."""
    return [{'action': action.action, 'label': action.label, 'did': action.did, 'direction': 'outgoing',
             'ip': connection.get('dst', ''), 'port': connection.get('port', 0), 'timems': action.start,
             'time': format_time(action.start)} for connection in action.connections]


def antigena_device(dataset: Dataset, did: int) -> dict[str, Any]:
    """The device objects of `fulldevicedetails=true` (guide 2.13: did, ip, ips, sid, hostname, firstSeen,
    lastSeen, os, typename, typelabel, tags, quarantine, macaddress, vendor)."""
    record = dataset.devices.get(did, {'did': did})
    keys = ('did', 'ip', 'ips', 'sid', 'hostname', 'firstSeen', 'lastSeen', 'os', 'typename', 'typelabel',
            'macaddress', 'vendor')
    reply = {key: record[key] for key in keys if key in record}
    reply['tags'] = []
    reply['quarantine'] = False
    return reply


def manual_action(reply_key: str, codeid: int) -> dict[str, int]:
    """POST /antigena/manual: the new action's codeid under the `manual_reply_key` switch's key."""
    # guide 2.14: the example reply is {"code": 10170}; its text says "the codeid" (ambiguity 14)
    return {reply_key: codeid}


# ---------------------------------------------------------------------- AI Analyst
def incident_event(event: dict[str, Any], include_url: bool, base_url: str) -> dict[str, Any]:
    """An AI Analyst event of /aianalyst/incidentevents (guide 2.5), a copy of the stored record, with
    `incidentEventUrl` when asked for."""
    item = json.loads(json.dumps(event))
    if include_url:
        item['incidentEventUrl'] = f'{base_url}/#aiaincidentevent/{event["id"]}'
    return item


def incident_group(group: dict[str, Any], events: list[dict[str, Any]], acknowledged: bool,
                   pinned: bool) -> dict[str, Any]:
    """An incident of /aianalyst/groups (guide 2.6): the stored group with acknowledged, pinned and
    incidentEvents[{uuid, start, title, triggerDid, visible}]."""
    return {**json.loads(json.dumps(group)), 'acknowledged': acknowledged, 'pinned': pinned,
            'incidentEvents': [{'uuid': e['id'], 'start': e['periods'][0]['start'], 'title': e['title'],
                                'triggerDid': e['breachDevices'][0]['did'], 'visible': True} for e in events]}


def aianalyst_success() -> dict[str, str]:
    """/aianalyst/acknowledge, unacknowledge, pin and unpin (guide 2.7, 2.8: the reply is not documented)."""
    return {'aianalyst': 'SUCCESS'}


def incident_comments(incident_id: str, comments: list[dict[str, Any]]) -> dict[str, Any]:
    """GET /aianalyst/incident/comments (guide 2.9): an object {comments: [{username, time, incident_id, message}]},
    unlike the bare array of /modelbreaches/[pbid]/comments."""
    return {'comments': [dict(comment, incident_id=incident_id) for comment in comments]}


# ---------------------------------------------------------------------- acknowledgements
def success() -> dict[str, str]:
    """The {"response": "SUCCESS"} acknowledgement: the model-breach comment POST's example reply (guide 2.32), which
    this emulator also gives where the guide shows no reply."""
    return {'response': 'SUCCESS'}


def empty() -> dict[str, Any]:
    """An empty object: POST /antigena with `respond_post_reply=empty` (guide 2.13 shows no POST reply)."""
    return {}


# ---------------------------------------------------------------------- /status
def status(dataset: Dataset, now_ms: int, *, fast: bool) -> dict[str, Any]:
    """/status (guide 2.38) of the emulated appliance; `fast` leaves out what fast=true does."""
    reply: dict[str, Any] = {
        'excessTraffic': False, 'time': format_time(now_ms),
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
    if fast:
        for key in ('subnets', 'activeDevices7Days'):
            reply.pop(key)
        reply['devicesModeled'] = 0
    return reply
