"""Contract tests: the emulator's replies, for every endpoint the integration calls, hold the shapes Darktrace's
Threat Visualizer API Guide 6.x documents (../shared/darktrace-api/guide-6x-facts.md, section numbers in the
comments). Each request is made through the integration's own `Darktrace.Client`, so what is checked is what the
integration sends; a test fails when a Client endpoint method has no contract here, so the emulator cannot drift
back to guesses unnoticed.

A shape lists the keys the guide shows and the kind of each value; replies may hold more. `[shape]` is an array whose
every item has the shape (and which must not be empty where the dataset has records).
"""
from __future__ import annotations

import base64
import inspect
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

import Darktrace
from emulator import Emulator

NUM = 'number'
STR = 'string'
BOOL = 'boolean'
MS = 'epoch milliseconds'
ANY = 'anything'
NUM_OR_STR = 'number or string'
OBJ = 'object'
LIST = 'array'
OPTIONAL = '?'  # a key ending in ? may be absent


def _kind_ok(value: Any, kind: str) -> bool:
    if kind == ANY:
        return True
    if kind == NUM:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind == MS:
        return isinstance(value, int) and not isinstance(value, bool) and value >= 10 ** 11
    if kind == STR:
        return isinstance(value, str)
    if kind == BOOL:
        return isinstance(value, bool)
    if kind == NUM_OR_STR:
        return isinstance(value, (int, float, str)) and not isinstance(value, bool)
    if kind == OBJ:
        return isinstance(value, dict)
    if kind == LIST:
        return isinstance(value, list)
    raise AssertionError(f'unknown kind {kind}')


def problems(value: Any, shape: Any, where: str = 'reply') -> list[str]:
    """How `value` differs from `shape` (empty when it conforms)."""
    if isinstance(shape, dict):
        if not isinstance(value, dict):
            return [f'{where}: expected an object, got {type(value).__name__}']
        found = []
        for key, inner in shape.items():
            name = key.rstrip(OPTIONAL)
            if name not in value:
                if not key.endswith(OPTIONAL):
                    found.append(f'{where}: missing key {name!r}')
                continue
            found += problems(value[name], inner, f'{where}.{name}')
        return found
    if isinstance(shape, list):
        if not isinstance(value, list):
            return [f'{where}: expected an array, got {type(value).__name__}']
        if not value:
            return [f'{where}: empty array, the dataset has records for it']
        return [problem for index, item in enumerate(value[:20]) for problem in problems(item, shape[0],
                                                                                         f'{where}[{index}]')]
    if isinstance(shape, tuple):  # any of several shapes
        options = [problems(value, option, where) for option in shape]
        return [] if any(not option for option in options) else options[0]
    return [] if _kind_ok(value, shape) else [f'{where}: expected {shape}, got {value!r:.60}']


# --- the shapes, from the guide -----------------------------------------------------------------------------------

STATUS = {'version': STR, 'time': STR, 'hostname': STR, 'diskSpaceUsed_': NUM, 'antigenaNetworkEnabled': BOOL}  # 2.38
BREACH_DEVICE = {'did': NUM, 'ip': STR, 'ips': LIST, 'sid': NUM, 'firstSeen': MS, 'lastSeen': MS}  # 2.31
MODEL_VERSION = {'name': STR, 'pid': NUM, 'phid': NUM, 'uuid': STR, 'priority': NUM, 'category': STR}
BREACH = {  # 2.31, deviceattop=true, minimal=false
    'creationTime': MS, 'commentCount': NUM, 'pbid': NUM, 'time': MS, 'score': NUM, 'percentscore': NUM,
    'model': {'then': MODEL_VERSION, 'now': MODEL_VERSION},
    'triggeredComponents': [{'time': MS, 'cbid': NUM, 'cid': NUM, 'chid': NUM, 'size': NUM, 'threshold': NUM,
                             'interval': NUM, 'logic': {'data': ANY, 'version': ANY},
                             'metric': {'mlid': NUM, 'name': STR, 'label': STR}, 'triggeredFilters': LIST}],
    'device': BREACH_DEVICE,
}
BREACH_COMMENT = {'message': STR, 'username': STR, 'time': MS, 'pid': NUM}  # 2.32: a bare array
FEED_COMMENT = {'time': MS, 'pbid': NUM, 'username': STR, 'message': STR, 'pid': NUM, 'name': STR}  # 2.27
CHANGE_ACCEPTED = ({'response': STR}, {'aianalyst': STR}, {})  # replies the guide does not document
DETAILS_CONNECTION = {'time': STR, 'timems': MS, 'action': STR, 'eventType': STR, 'uid': STR, 'sdid': NUM,
                      'direction': STR, 'protocol': STR}  # 2.18
MODEL = {'name': STR, 'pid': NUM, 'phid': NUM, 'uuid': STR, 'logic': {'data': LIST, 'type': STR, 'version': ANY},
         'tags': LIST, 'interval': NUM, 'active': BOOL, 'priority': NUM, 'description': STR}  # 2.30
COMPONENT = {'cid': NUM, 'chid': NUM, 'mlid': NUM, 'threshold': NUM, 'interval': NUM,
             'logic': {'data': OBJ, 'version': STR}, 'filters': [{'id': STR, 'cfid': NUM, 'filtertype': STR,
                                                                  'comparator': STR, 'arguments': OBJ}]}  # 2.16
SEARCHED_DEVICE = {'did': NUM, 'ip': STR, 'sid': NUM, 'firstSeen': MS, 'lastSeen': MS, 'typename': STR}  # 2.21
DEVICE = {'did': NUM, 'ip': STR, 'ips': [{'ip': STR, 'timems': MS, 'time': STR, 'sid': NUM}], 'sid': NUM,
          'time': MS, 'endtime': MS, 'typename': STR, 'typelabel': STR, 'tags': LIST}  # 2.20, includetags
SIMILAR_DEVICE = {'did': NUM, 'score': NUM, 'ip': STR, 'sid': NUM, 'firstSeen': MS, 'lastSeen': MS}  # 2.36
DEVICE_INFO = {'deviceInfo': [{'did': NUM, 'similarityScore': NUM, 'graphData': [{'time': MS, 'count': NUM}],
                               'info': {'totalUsed': NUM, 'totalServed': NUM}}]}  # 2.19
ENDPOINT_HOSTNAME = {'hostname': STR, 'firsttime': MS, 'devices?': LIST}  # 2.23
ANALYSIS = {'took': NUM, 'timed_out': BOOL, '_shards': OBJ, 'hits': {'total': NUM, 'hits': LIST},
            'darktraceChildError': STR, 'kibana': {'index': LIST, 'per_page': NUM, 'time': OBJ}}  # 2.2
ANALYSIS_BY_TYPE = {
    'terms': {**ANALYSIS, 'aggregations': {'terms': {'doc_count_error_upper_bound': NUM, 'sum_other_doc_count': NUM,
                                                     'buckets': [{'key': ANY, 'doc_count': NUM}]}}},
    'mean': {**ANALYSIS, 'aggregations': {'stats': {'count': NUM, 'min': NUM, 'max': NUM, 'avg': NUM, 'sum': NUM}}},
    'trend': {**ANALYSIS, 'hits': {'total': NUM, 'count': NUM, 'hits': [{'id': ANY, 'count': NUM, 'start': NUM,
                                                                         'trend': NUM}]}},
    'score': {**ANALYSIS, 'hits': {'total': NUM, 'count': NUM, 'hits': [{'id': ANY, 'count': NUM}]}},
}
TAG = {'tid': NUM, 'expiry': NUM, 'thid': NUM, 'name': STR, 'restricted': BOOL,
       'data': {'auto': BOOL, 'color': NUM, 'description': STR}, 'isReferenced': BOOL}  # 2.40
TAG_ENTITY = {'teid': NUM, 'tehid': NUM, 'tid': NUM, 'entityType': STR, 'entityValue': STR, 'valid': ANY}  # 2.41
WATCHED = {'name': STR, 'description': STR, 'strength': NUM, 'iagn': BOOL, 'expiry?': STR}  # 2.26, fulldetails
AI_EVENT = {  # 2.5
    'summariser?': STR, 'mitreTactics': LIST, 'acknowledged': BOOL, 'pinned': BOOL, 'createdAt': MS,
    'attackPhases': LIST, 'title': STR, 'id': STR, 'category': STR, 'currentGroup': STR, 'groupCategory': STR,
    'groupScore': NUM_OR_STR, 'aiaScore': NUM, 'summary': ANY, 'periods': [{'start': MS, 'end': MS}],
    'breachDevices': [{'identifier': ANY, 'hostname?': ANY, 'ip': STR, 'did': NUM, 'sid': NUM}],
    'relatedBreaches': LIST, 'details': LIST,
}
AI_GROUP = {  # 2.6
    'id': STR, 'active': BOOL, 'acknowledged': BOOL, 'pinned': BOOL, 'incidentEvents': [
        {'uuid': STR, 'start': MS, 'title': STR, 'triggerDid': NUM, 'visible': BOOL}],
    'devices': LIST, 'category': STR, 'groupScore': NUM, 'start': MS, 'end': MS}
AI_COMMENTS = {'comments': LIST}  # 2.9: an object, unlike the breach comments' bare array
ACTION = {  # 2.13
    'codeid': NUM, 'did': NUM, 'ip': STR, 'action': STR, 'manual': BOOL, 'triggerer': ANY, 'label': STR,
    'detail': STR, 'score': NUM, 'pbid': NUM, 'model': STR, 'modeluuid': STR, 'start': MS, 'expires': MS,
    'blocked': BOOL, 'updated': STR, 'agemail': BOOL, 'aghost': BOOL, 'active': BOOL, 'cleared': BOOL}
BLOCKED_CONNECTION = {'action': STR, 'label': STR, 'did': NUM, 'direction': STR, 'ip': STR, 'port': NUM,
                      'timems': MS, 'time': STR}
RESPOND_DEVICE = {'did': NUM, 'ip': STR, 'ips': LIST, 'sid': NUM, 'firstSeen': MS, 'lastSeen': MS,
                  'typename': STR, 'typelabel': STR, 'tags': LIST, 'quarantine': ANY}


# --- the calls ------------------------------------------------------------------------------------------------------

@pytest.fixture(scope='module')
def emu() -> Iterator[Emulator]:
    with Emulator(breaches=120, span_days=3, seed=19) as emulator:
        yield emulator


@pytest.fixture
def client(emu: Emulator) -> Darktrace.Client:
    return Darktrace.Client(emu.url, emu.public_token, emu.private_token, retry_budget_s=0)


def _encoded_search(emu: Emulator) -> str:
    end = Darktrace.utc_moment(emu.dataset.anchor_ms)
    start = Darktrace.utc_moment(emu.dataset.anchor_ms - 6 * 3_600_000)
    query = {'search': '@type:conn', 'fields': [], 'offset': 0, 'timeframe': 'custom', 'size': 100,
             'time': {'from': Darktrace.iso_seconds(start), 'to': Darktrace.iso_seconds(end), 'user_interval': 0}}
    return base64.b64encode(json.dumps(query).encode()).decode()


def _pbid(emu: Emulator) -> int:
    now = emu.now_ms()
    return max(b.pbid for b in emu.dataset.breaches.values() if b.creation_time <= now)


def _did(emu: Emulator) -> int:
    return min(emu.dataset.devices)


def _event(emu: Emulator) -> str:
    now = emu.now_ms()
    return max((e for e in emu.dataset.incidents.values() if e['createdAt'] <= now), key=lambda e: e['createdAt'])['id']


def _linked_tag(emu: Emulator) -> tuple[str, int]:
    """A tag on a device: (its name, the device's did)."""
    link = min(emu.dataset.tag_links.values(), key=lambda item: item.teid)
    return emu.dataset.tags[link.tid]['name'], link.did


def _commented_feed(client: Darktrace.Client, emu: Emulator) -> Any:
    """The comment feed over a window in which a breach was just commented, so it cannot pass empty."""
    client.add_model_breach_comment(_pbid(emu), 'contract feed')
    feed = client.get_breach_comment_feed(emu.now_ms() - WINDOW, emu.now_ms() + 60_000, 100)
    assert any(comment.get('message') == 'contract feed' for comment in feed)
    return feed


@dataclass(frozen=True)
class Contract:
    method: str  # the Client method
    call: Callable[[Darktrace.Client, Emulator], Any]
    shape: Any
    section: str


WINDOW = 3 * 86_400_000
CONTRACTS = [
    Contract('get_status', lambda c, e: c.get_status(fast=True), STATUS, '2.38'),
    Contract('get_model_breaches', lambda c, e: c.get_model_breaches({
        'starttime': e.now_ms() - WINDOW, 'endtime': e.now_ms(), 'deviceattop': True, 'minimal': False,
        'includeacknowledged': True}), [BREACH], '2.31'),
    Contract('get_model_breach', lambda c, e: c.get_model_breach(_pbid(e)), (BREACH, [BREACH]), '2.31'),
    Contract('acknowledge_model_breach', lambda c, e: c.acknowledge_model_breach(_pbid(e)), CHANGE_ACCEPTED, '2.33'),
    Contract('unacknowledge_model_breach', lambda c, e: c.unacknowledge_model_breach(_pbid(e)), CHANGE_ACCEPTED,
             '2.33'),
    Contract('add_model_breach_comment', lambda c, e: c.add_model_breach_comment(_pbid(e), 'contract'),
             ({'response': STR}, [ANY]), '2.32'),
    Contract('get_model_breach_comments', lambda c, e: c.get_model_breach_comments(_pbid(e)), [BREACH_COMMENT],
             '2.32'),
    Contract('get_breach_comment_feed', lambda c, e: _commented_feed(c, e), [FEED_COMMENT], '2.27'),
    Contract('get_details', lambda c, e: c.get_details({'did': _did(e), 'count': 20}), [DETAILS_CONNECTION], '2.18'),
    Contract('get_model', lambda c, e: c.get_model(e.dataset.models[e.dataset.breaches[_pbid(e)].pid].uuid),
             (MODEL, [MODEL]), '2.30'),
    Contract('get_model_component', lambda c, e: c.get_model_component(min(e.dataset.components)), COMPONENT, '2.16'),
    Contract('search_devices', lambda c, e: c.search_devices(None, 'lastSeen', 'desc', 20, 0),
             {'totalCount': NUM, 'devices': [SEARCHED_DEVICE]}, '2.21'),
    Contract('get_device', lambda c, e: c.get_device(_did(e)), (DEVICE, [DEVICE]), '2.20'),
    Contract('get_similar_devices', lambda c, e: c.get_similar_devices(_did(e), 5), [SIMILAR_DEVICE], '2.36'),
    Contract('get_device_info', lambda c, e: c.get_device_info({'did': _did(e), 'datatype': 'co'}), DEVICE_INFO,
             '2.19'),
    Contract('get_endpoint_details', lambda c, e: c.get_endpoint_details('hostname', min(e.dataset.endpoints), False,
                                                                         True, True), ENDPOINT_HOSTNAME, '2.23'),
    Contract('get_tagged_devices', lambda c, e: c.get_tagged_devices(_linked_tag(e)[0]),
             {'entities': [TAG_ENTITY], 'devices': LIST}, '2.41'),
    Contract('get_device_tags', lambda c, e: c.get_device_tags(_linked_tag(e)[1]), [TAG], '2.41'),
    Contract('add_tag_to_device', lambda c, e: c.add_tag_to_device(_did(e), 'Contract', 3600),
             ({'tid': NUM}, {'response': STR}), '2.41'),
    Contract('get_tags', lambda c, e: c.get_tags(), [TAG], '2.40'),
    Contract('remove_tag_from_device', lambda c, e: c.remove_tag_from_device(_did(e), 'Contract'), CHANGE_ACCEPTED,
             '2.41'),
    Contract('add_to_watched_list', lambda c, e: c.add_to_watched_list({'addlist': 'contract.example',
                                                                        'source': 'Contract'}), CHANGE_ACCEPTED,
             '2.26'),
    Contract('get_watched_endpoints', lambda c, e: c.get_watched_endpoints('ThreatIntel'), [WATCHED], '2.26'),
    Contract('get_watched_sources', lambda c, e: c.get_watched_sources(), [STR], '2.26'),
    Contract('remove_from_watched_list', lambda c, e: c.remove_from_watched_list('contract.example', 'Contract'),
             CHANGE_ACCEPTED, '2.26'),
    Contract('get_ai_analyst_incident_events', lambda c, e: c.get_ai_analyst_incident_events({
        'starttime': e.now_ms() - WINDOW, 'endtime': e.now_ms(), 'includeacknowledged': True}), [AI_EVENT], '2.5'),
    Contract('acknowledge_ai_analyst_event', lambda c, e: c.acknowledge_ai_analyst_event(_event(e)),
             CHANGE_ACCEPTED, '2.7'),
    Contract('unacknowledge_ai_analyst_event', lambda c, e: c.unacknowledge_ai_analyst_event(_event(e)),
             CHANGE_ACCEPTED, '2.7'),
    Contract('add_ai_analyst_comment', lambda c, e: c.add_ai_analyst_comment(_event(e), 'contract'), CHANGE_ACCEPTED,
             '2.9'),
    Contract('get_ai_analyst_comments', lambda c, e: c.get_ai_analyst_comments(_event(e)), AI_COMMENTS, '2.9'),
    Contract('get_ai_analyst_groups', lambda c, e: c.get_ai_analyst_groups({'uuid': _event(e)}), [AI_GROUP], '2.6'),
    Contract('get_respond_actions', lambda c, e: c.get_respond_actions({'includecleared': True}), [ACTION], '2.13'),
    Contract('change_respond_action', lambda c, e: c.change_respond_action({'codeid': 5003, 'duration': 7200,
                                                                           'reason': 'contract'}),
             CHANGE_ACCEPTED, '2.13'),
    Contract('create_respond_action', lambda c, e: c.create_respond_action({'did': _did(e), 'action': 'pol',
                                                                           'duration': 600, 'reason': ''}),
             {'code': NUM}, '2.14'),
]
ANALYSES = [Contract('advanced_search_analyze',
                     lambda c, e, kind=kind: c.advanced_search_analyze(
                         '@fields.orig_bytes' if kind == 'mean' else '@fields.dest_port', kind, _encoded_search(e)),
                     shape, '2.2') for kind, shape in ANALYSIS_BY_TYPE.items()]
RESPOND_OBJECT_FORMS = [  # 2.13: the reply turns into an object with includeconnections and/or fulldevicedetails
    ({'includeconnections': True}, {'actions': [ACTION], 'connections': [BLOCKED_CONNECTION]}),
    ({'fulldevicedetails': True}, {'actions': [ACTION], 'devices': [RESPOND_DEVICE]}),
    ({'includeconnections': True, 'fulldevicedetails': True},
     {'actions': [ACTION], 'connections': [BLOCKED_CONNECTION], 'devices': [RESPOND_DEVICE]}),
]


CONTRACT_IDS = [f'{c.method}-{c.section}' for c in CONTRACTS] + [f'analyze-{kind}' for kind in ANALYSIS_BY_TYPE]


@pytest.mark.parametrize('contract', CONTRACTS + ANALYSES, ids=CONTRACT_IDS)
def test_reply_has_the_guides_shape(emu: Emulator, client: Darktrace.Client, contract: Contract) -> None:
    """
    Given the emulator in its default (guide) mode
    When the integration's Client calls the endpoint
    Then the reply has the shape the guide documents for it.
    """
    assert problems(contract.call(client, emu), contract.shape) == []


@pytest.mark.parametrize('params, shape', RESPOND_OBJECT_FORMS, ids=['connections', 'devices', 'both'])
def test_respond_object_forms(emu: Emulator, client: Darktrace.Client, params: dict[str, Any], shape: Any) -> None:
    """
    Given RESPOND actions, one of which blocked connections
    When /antigena is read with includeconnections and/or fulldevicedetails
    Then the reply is the guide's object form (2.13), not an array.
    """
    assert problems(client.get_respond_actions({'includecleared': True, **params}), shape) == []


def test_watched_list_plain_get_is_an_array_of_names(emu: Emulator, client: Darktrace.Client) -> None:
    """
    Given the watched list
    When /intelfeed is read without fulldetails
    Then the reply is an array of strings (guide 2.26).
    """
    assert problems(client.request('GET', '/intelfeed', {'source': 'ThreatIntel'}), [STR]) == []


def test_every_endpoint_the_integration_calls_has_a_contract() -> None:
    """
    Given the integration's Client
    When its endpoint methods (those that send a request) are listed
    Then each has a contract here.
    """
    calling = {name for name, function in inspect.getmembers(Darktrace.Client, inspect.isfunction)
               if 'self.request(' in inspect.getsource(function) and name != 'request'}
    calling.discard('email_request')  # Darktrace/Email's replies: tests/e2e/test_email.py checks their shapes
    assert calling == {contract.method for contract in CONTRACTS + ANALYSES}


@pytest.mark.parametrize('value, shape, expected', [
    ({'a': 1}, {'a': NUM}, []),
    ({'a': '1'}, {'a': NUM}, ["reply.a: expected number, got '1'"]),
    ({}, {'a?': NUM}, []),
    ({}, {'a': NUM}, ["reply: missing key 'a'"]),
    ([], [NUM], ['reply: empty array, the dataset has records for it']),
    ({'x': 1}, ({'y': NUM}, {'x': NUM}), []),
    (5, MS, ['reply: expected epoch milliseconds, got 5']),
])
def test_the_shape_checker(value: Any, shape: Any, expected: list[str]) -> None:
    """
    Given a value and a shape
    When they are compared
    Then each difference is named, with where it is.
    """
    assert problems(value, shape) == expected
