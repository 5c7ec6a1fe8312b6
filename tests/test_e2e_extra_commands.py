"""End-to-end tests of the triage commands: each runs through `Darktrace.main()` against the emulator over HTTP.

One emulator serves the whole module. Tests that change state (acknowledgements, comments, tags, the watched
list) each pick their own objects, so the tests do not depend on their order; realism switches are put back
after every test.
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Iterator
from urllib.parse import parse_qs

import pytest

import xsoar_platform
import Darktrace
from emulator import Emulator

ERROR_ENTRY_TYPE = 4
DAY_MS = 86_400_000
DEFAULT_SETTINGS = {'order': 'desc', 'ack_reply': 'object', 'comment_reply': 'object', 'model_uuid_reply': 'list'}


@pytest.fixture(scope='module')
def emu() -> Iterator[Emulator]:
    with Emulator(breaches=300, span_days=7, seed=11) as emulator:
        yield emulator


@pytest.fixture(autouse=True)
def fresh_log(emu: Emulator) -> Iterator[None]:
    emu.clear_log()
    yield
    emu.set_settings(**DEFAULT_SETTINGS)


def run(emu: Emulator, command: str, **args: str) -> dict[str, Any]:
    """Run one command through main() and return its single War Room entry."""
    platform_run = xsoar_platform.start_run(command=command, params={
        'url': emu.url, 'public_api_token': emu.public_token, 'private_api_token': emu.private_token,
        'min_score': '0'}, args=args)
    try:
        Darktrace.main()
    except SystemExit as exited:  # return_error ends a failed command with exit code 0, as on the platform
        assert exited.code in (0, None), f'{command} exited with {exited.code!r}'
    (entry,) = platform_run.results
    return entry


def outputs(entry: dict[str, Any]) -> Any:
    """The command's context outputs (its one EntryContext value)."""
    assert entry['Type'] != ERROR_ENTRY_TYPE, entry['Contents']
    (value,) = entry['EntryContext'].values()
    return value


def iso(ms: int) -> str:
    moment = datetime.fromtimestamp(ms / 1000, tz=timezone.utc)
    return moment.strftime('%Y-%m-%dT%H:%M:%S') + f'.{moment.microsecond // 1000:03d}Z'


def visible_breaches(emu: Emulator) -> list[Any]:
    now = emu.now_ms()
    return sorted((b for b in emu.dataset.breaches.values() if b.creation_time <= now), key=lambda b: b.pbid)


def requests_to(emu: Emulator, path: str) -> list[dict[str, Any]]:
    return [entry for entry in emu.request_log() if entry['path'] == path]


# --- model breaches ---------------------------------------------------------------------------------

def test_get_model_breach(emu: Emulator) -> None:
    """
    Given a breach on the appliance
    When darktrace-get-model-breach runs
    Then context matches the appliance's record: score as a number, ISO times, model, device and link.
    """
    breach = visible_breaches(emu)[0]
    model = emu.dataset.models[breach.pid]
    result = outputs(run(emu, 'darktrace-get-model-breach', pbid=str(breach.pbid)))
    assert result['pbid'] == breach.pbid and result['score'] == breach.score
    assert result['percentscore'] == round(breach.score * 100)
    assert result['time'] == iso(breach.time) and result['creationTime'] == iso(breach.creation_time)
    assert result['model']['uuid'] == model.uuid and result['model']['name'] == model.spec.name
    assert result['device']['did'] == breach.did and result['acknowledged'] == breach.acknowledged
    assert result['breachUrl'] == f'{emu.url}/#modelbreach/{breach.pbid}'


def test_get_model_breach_unknown_pbid_is_reported(emu: Emulator) -> None:
    """
    Given a pbid the appliance does not have
    When darktrace-get-model-breach runs
    Then an error entry says Darktrace found nothing.
    """
    entry = run(emu, 'darktrace-get-model-breach', pbid='999999999')
    assert entry['Type'] == ERROR_ENTRY_TYPE and 'found nothing' in entry['Contents']


@pytest.mark.parametrize('order', ['desc', 'asc', 'shuffle'])
def test_list_model_breaches_pages_newest_first_in_any_reply_order(emu: Emulator, order: str) -> None:
    """
    Given the appliance answers in descending, ascending or shuffled order
    When pages 1 and 2 of darktrace-list-model-breaches run with a minimum score of 50
    Then they are the newest breaches scoring at least 0.5, acknowledged or not, in order and without overlap.
    """
    emu.set_settings(order=order)
    start_ms = emu.dataset.anchor_ms - 8 * 86_400_000
    expected = [b.pbid for b in sorted((b for b in visible_breaches(emu) if b.time >= start_ms and b.score >= 0.5),
                                       key=lambda b: (b.time, b.pbid), reverse=True)]
    args = {'start_time': iso(start_ms), 'min_score': '50', 'limit': '20'}
    assert len(expected) > 40, 'the dataset must fill both pages for the comparison to mean anything'
    first = outputs(run(emu, 'darktrace-list-model-breaches', **args, page='1'))
    second = outputs(run(emu, 'darktrace-list-model-breaches', **args, page='2'))
    assert [b['pbid'] for b in first] + [b['pbid'] for b in second] == expected[:40]
    query = parse_qs(requests_to(emu, '/modelbreaches')[0]['query'])
    assert query['minscore'] == ['0.5'] and query['includeacknowledged'] == ['true']


def test_list_model_breaches_acknowledged_filter(emu: Emulator) -> None:
    """
    Given acknowledged and unacknowledged breaches
    When darktrace-list-model-breaches runs with acknowledged=true
    Then only acknowledged breaches are listed.
    """
    result = outputs(run(emu, 'darktrace-list-model-breaches', start_time='8 days', acknowledged='true',
                         limit='1000'))
    expected = {b.pbid for b in visible_breaches(emu) if b.acknowledged
                and b.time >= emu.dataset.anchor_ms - 7 * 86_400_000}
    assert expected, 'the dataset must hold acknowledged breaches for the filter to be tested'
    assert result and all(b['acknowledged'] is True for b in result)
    # The appliance's own record agrees, so the flag in context is not merely copied from a filter value.
    assert all(emu.dataset.breaches[b['pbid']].acknowledged for b in result)
    assert expected <= {b['pbid'] for b in result}


@pytest.mark.parametrize('ack_reply', ['object', 'list'])
def test_acknowledge_then_unacknowledge_model_breach(emu: Emulator, ack_reply: str) -> None:
    """
    Given an unacknowledged breach, and the appliance answering as a single appliance or a Unified View
    When it is acknowledged, then unacknowledged
    Then the appliance's record follows each step, and context says so.
    """
    emu.set_settings(ack_reply=ack_reply)
    breach = next(b for b in visible_breaches(emu)[10:] if not b.acknowledged)
    acknowledged = outputs(run(emu, 'darktrace-acknowledge-model-breach', pbid=str(breach.pbid)))
    assert acknowledged == {'pbid': breach.pbid, 'acknowledged': True} and breach.acknowledged is True
    shown = outputs(run(emu, 'darktrace-get-model-breach', pbid=str(breach.pbid)))
    assert shown['acknowledged'] is True
    unacknowledged = outputs(run(emu, 'darktrace-unacknowledge-model-breach', pbid=str(breach.pbid)))
    assert unacknowledged == {'pbid': breach.pbid, 'acknowledged': False} and breach.acknowledged is False


@pytest.mark.parametrize('comment_reply', ['object', 'list'])
def test_post_then_get_model_breach_comments(emu: Emulator, comment_reply: str) -> None:
    """
    Given the appliance answers a comment POST with SUCCESS or with the created comment
    When a comment is posted, then the comments are read
    Then the new comment is among them, oldest first, with ISO times.
    """
    emu.set_settings(comment_reply=comment_reply)
    breach = visible_breaches(emu)[20 + len(comment_reply)]
    message = f'Escalated to IR ({comment_reply} reply) | ticket #42'
    posted = outputs(run(emu, 'darktrace-post-comment-to-model-breach', pbid=str(breach.pbid), message=message))
    assert posted['pbid'] == breach.pbid and posted['postedComment']['message'] == message
    result = outputs(run(emu, 'darktrace-get-model-breach-comments', pbid=str(breach.pbid)))
    assert result['comments'][-1]['message'] == message
    times = [c['time'] for c in result['comments']]
    assert times == sorted(times) and all(t.endswith('Z') for t in times)


def test_get_model_breach_connections(emu: Emulator) -> None:
    """
    Given a breach whose device has connections around it
    When darktrace-get-model-breach-connections runs with limit 5
    Then at most 5 connections come back, newest first, without the breach record, from one request with
    count (one more, for the breach record) and no time.
    """
    breach = visible_breaches(emu)[30]
    result = outputs(run(emu, 'darktrace-get-model-breach-connections', pbid=str(breach.pbid), limit='5'))
    connections = result['connections']
    assert result['pbid'] == breach.pbid and 0 < len(connections) <= 5
    assert all(c['eventType'] != 'policybreach' for c in connections)
    assert [c['time'] for c in connections] == sorted((c['time'] for c in connections), reverse=True)
    assert parse_qs(requests_to(emu, '/details')[0]['query'])['count'] == ['6']


# --- models -------------------------------------------------------------------------------------------

@pytest.mark.parametrize('model_uuid_reply', ['list', 'object'])
def test_get_model(emu: Emulator, model_uuid_reply: str) -> None:
    """
    Given /models?uuid= answering a one-element list or an object
    When darktrace-get-model runs
    Then the model is in context keyed by its uuid.
    """
    emu.set_settings(model_uuid_reply=model_uuid_reply)
    model = next(iter(emu.dataset.models_by_uuid.values()))
    result = outputs(run(emu, 'darktrace-get-model', uuid=model.uuid))
    assert result['uuid'] == model.uuid and result['pid'] == model.pid and result['name'] == model.spec.name


def test_get_model_component(emu: Emulator) -> None:
    """
    Given a model component
    When darktrace-get-model-component runs
    Then its threshold and filters are in context keyed by cid.
    """
    cid, component = next(iter(emu.dataset.components.items()))
    result = outputs(run(emu, 'darktrace-get-model-component', cid=str(cid)))
    assert result['cid'] == cid and result['threshold'] == component['threshold']
    assert [f['filtertype'] for f in result['filters']] == [f['filtertype'] for f in component['filters']]


# --- devices ------------------------------------------------------------------------------------------

def test_search_devices_asks_for_at_most_300_and_stops_at_the_total(emu: Emulator) -> None:
    """
    Given fewer devices than the limit
    When darktrace-search-devices runs with limit 1000
    Then the first request asks for the appliance's maximum of 300, and no further request is made once the
    total is reached.
    """
    result = outputs(run(emu, 'darktrace-search-devices', limit='1000', order_by='hostname', order='asc'))
    searches = requests_to(emu, '/devicesearch')
    assert len(searches) == 1
    assert parse_qs(searches[0]['query'])['count'] == ['300'] and parse_qs(searches[0]['query'])['offset'] == ['0']
    assert len(result) == len(emu.dataset.devices)
    hostnames = [d.get('hostname') for d in result if d.get('hostname')]
    assert len(hostnames) > 1 and hostnames == sorted(hostnames)


def test_search_devices_by_field(emu: Emulator) -> None:
    """
    Given a field query for one device's host name
    When darktrace-search-devices runs
    Then that device is found, keyed by deviceId.
    """
    did, device = next((d, r) for d, r in sorted(emu.dataset.devices.items()) if r.get('hostname'))
    result = outputs(run(emu, 'darktrace-search-devices', query=f'hostname:"{device["hostname"]}"'))
    assert did in [d['deviceId'] for d in result]


def test_get_device(emu: Emulator) -> None:
    """
    Given a device
    When darktrace-get-device runs
    Then its details are in context with ISO times.
    """
    did, device = sorted(emu.dataset.devices.items())[3]
    result = outputs(run(emu, 'darktrace-get-device', did=str(did)))
    assert result['deviceId'] == did and result['ip'] == device['ip']
    assert result['lastSeen'] == iso(device['lastSeen']) and isinstance(result['tags'], list)


@pytest.mark.parametrize('event_type', ['connection', 'notice', 'devicehistory'])
def test_get_device_events(emu: Emulator, event_type: str) -> None:
    """
    Given the device of a recent breach (for device history, a device whose IP address changed within the last
    two days)
    When darktrace-get-device-events runs for a type of event over the last two days
    Then there are events, all of that type, newest first, and the range was read in epoch ms, newest slice
    first and without count, to its start unless 20 events were found before.
    """
    if event_type == 'devicehistory':
        # Most devices' history is older than two days; only a recent IP change falls inside the window.
        did, change = next((did, entry) for did, device in sorted(emu.dataset.devices.items())
                           for entry in device['ips'][1:] if entry['timems'] >= emu.now_ms() - 1.5 * DAY_MS)
    else:
        did, change = visible_breaches(emu)[-1].did, None
    result = outputs(run(emu, 'darktrace-get-device-events', did=str(did), event_type=event_type,
                         start_time='2 days', limit='20'))
    assert result['did'] == did and result['eventType'] == event_type and 0 < len(result['events']) <= 20
    if change is not None:
        assert change['ip'] in [event.get('value') for event in result['events']]
    assert all(event['eventType'] == event_type for event in result['events'])
    times = [event['time'] for event in result['events']]
    assert times == sorted(times, reverse=True)
    queries = [parse_qs(request['query']) for request in requests_to(emu, '/details')]
    windows = [(int(query['starttime'][0]), int(query['endtime'][0])) for query in queries]
    assert all('count' not in query for query in queries)
    assert all(older[1] == newer[0] - 1 for newer, older in zip(windows, windows[1:]))  # newest slice first
    if len(result['events']) < 20:  # then the whole range was read
        assert windows[0][1] - windows[-1][0] == pytest.approx(2 * 86_400_000, abs=60_000)


# --- AI Analyst ---------------------------------------------------------------------------------------

def incident_events(emu: Emulator) -> list[dict[str, Any]]:
    now = emu.now_ms()
    return sorted((e for e in emu.dataset.incidents.values() if e['createdAt'] <= now),
                  key=lambda e: e['createdAt'], reverse=True)


def test_get_ai_analyst_incident_event(emu: Emulator) -> None:
    """
    Given an AI Analyst incident event
    When darktrace-get-ai-analyst-incident-event runs
    Then it is in context keyed by id with numeric scores and ISO times.
    """
    event = incident_events(emu)[0]
    result = outputs(run(emu, 'darktrace-get-ai-analyst-incident-event', event_id=event['id']))
    assert result['id'] == event['id'] and result['aiaScore'] == event['aiaScore']
    assert result['createdAt'] == iso(event['createdAt']) and result['currentGroup'] == event['currentGroup']


def test_list_ai_analyst_incident_events(emu: Emulator) -> None:
    """
    Given incident events over the last two weeks
    When darktrace-list-ai-analyst-incident-events runs for that range with a minimum group score of 40
    Then the matching events come back newest first.
    """
    start_ms = emu.dataset.anchor_ms - 15 * 86_400_000
    expected = [e['id'] for e in incident_events(emu) if e['createdAt'] >= start_ms and e['groupScore'] >= 40]
    assert expected and len(expected) < len(incident_events(emu)), 'the score filter must keep some and drop some'
    result = outputs(run(emu, 'darktrace-list-ai-analyst-incident-events', start_time=iso(start_ms),
                         min_group_score='40', limit='1000'))
    assert [e['id'] for e in result] == expected


def test_acknowledge_then_unacknowledge_ai_analyst_incident_event(emu: Emulator) -> None:
    """
    Given an unacknowledged incident event
    When it is acknowledged, then unacknowledged
    Then the appliance's record follows each step.
    """
    event = next(e for e in incident_events(emu)[1:] if not e['acknowledged'])
    assert outputs(run(emu, 'darktrace-acknowledge-ai-analyst-incident-event', event_id=event['id'])) == \
        {'id': event['id'], 'acknowledged': True}
    assert emu.dataset.incidents[event['id']]['acknowledged'] is True
    assert parse_qs(requests_to(emu, '/aianalyst/acknowledge')[0]['body']) == {'uuid': [event['id']]}
    assert outputs(run(emu, 'darktrace-unacknowledge-ai-analyst-incident-event', event_id=event['id'])) == \
        {'id': event['id'], 'acknowledged': False}
    assert emu.dataset.incidents[event['id']]['acknowledged'] is False


def test_post_then_get_ai_analyst_comments(emu: Emulator) -> None:
    """
    Given an incident event
    When a comment is posted, then the comments are read
    Then the new comment is the last one.
    """
    event = incident_events(emu)[2]
    posted = outputs(run(emu, 'darktrace-post-comment-to-ai-analyst-incident-event', event_id=event['id'],
                         message='Owner confirmed: test traffic'))
    assert posted == {'id': event['id'], 'postedComment': {'message': 'Owner confirmed: test traffic'}}
    result = outputs(run(emu, 'darktrace-get-ai-analyst-comments', event_id=event['id']))
    assert result['comments'][-1]['message'] == 'Owner confirmed: test traffic'


def test_get_ai_analyst_incident_group_by_id_and_through_an_event(emu: Emulator) -> None:
    """
    Given an incident event and its group
    When darktrace-get-ai-analyst-incident-group runs with the group id, then with the event id
    Then both find the same group, which lists the event.
    """
    event = incident_events(emu)[0]
    by_group = outputs(run(emu, 'darktrace-get-ai-analyst-incident-group', group_id=event['currentGroup']))
    by_event = outputs(run(emu, 'darktrace-get-ai-analyst-incident-group', event_id=event['id']))
    assert by_group['id'] == by_event['id'] == event['currentGroup']
    assert event['id'] in [e['uuid'] for e in by_group['incidentEvents']]


# --- watched list and tags ----------------------------------------------------------------------------

def test_watched_list_add_with_options_list_and_remove(emu: Emulator) -> None:
    """
    Given a new entry with an expiry, a source and hostname=true
    When it is posted, the list is read, then the entry is removed
    Then the appliance stored the options, the list shows it with its details, and after removal it is gone.
    """
    entry = outputs(run(emu, 'darktrace-post-to-watched-list', endpointsToWatch='e2e-watch.example',
                        description='e2e', expiry='2031-05-01T00:00:00Z', source='XSOAR', hostname='true'))
    assert entry == [{'endpoint': 'e2e-watch.example', 'Watched': True, 'description': 'e2e',
                      'expiry': '2031-05-01T00:00:00Z', 'source': 'XSOAR'}]
    stored = emu.dataset.watched['e2e-watch.example']
    assert stored.source == 'XSOAR' and stored.hostname is True and stored.expiry == '2031-05-01T00:00:00Z'
    listed = outputs(run(emu, 'darktrace-list-watched-endpoints', limit='1000'))
    mine = next(item for item in listed if item['endpoint'] == 'e2e-watch.example')
    assert mine['expiry'] == '2031-05-01T00:00:00Z' and mine['description'] == 'e2e'
    removed = outputs(run(emu, 'darktrace-remove-from-watched-list', endpointsToRemove='e2e-watch.example'))
    assert removed == [{'endpoint': 'e2e-watch.example', 'Watched': False}]
    assert 'e2e-watch.example' not in emu.dataset.watched


def test_post_to_watched_list_without_options_sends_the_old_body(emu: Emulator) -> None:
    """
    Given only endpoints, as existing playbooks send
    When darktrace-post-to-watched-list runs
    Then the request body is exactly the old one.
    """
    outputs(run(emu, 'darktrace-post-to-watched-list', endpointsToWatch='e2e-plain.example'))
    (request,) = requests_to(emu, '/intelfeed')
    assert request['body'] == '{"addlist":"e2e-plain.example"}'
    assert 'e2e-plain.example' in emu.dataset.watched


def test_list_tags_then_tag_and_untag_a_device(emu: Emulator) -> None:
    """
    Given the appliance's tags and a device
    When the tags are listed, a tag is put on the device, then removed
    Then the listing matches the appliance, and the device's tags follow each step.
    """
    tags = outputs(run(emu, 'darktrace-list-tags', limit='1000'))
    assert {t['tid'] for t in tags} == set(emu.dataset.tags)
    did = sorted(emu.dataset.devices)[7]
    posted = outputs(run(emu, 'darktrace-post-tag-to-device', deviceId=str(did), tagName='E2E Triage',
                         duration='3600'))
    assert posted['deviceId'] == did and posted['tagName'] == 'E2E Triage'
    on_device = outputs(run(emu, 'darktrace-get-tags-for-device', deviceId=str(did)))
    assert 'E2E Triage' in [t['tagName'] for t in on_device]
    removed = outputs(run(emu, 'darktrace-remove-tag-from-device', deviceId=str(did), tagName='E2E Triage'))
    assert removed == {'deviceId': did, 'tagName': 'E2E Triage', 'removed': True}
    remaining = run(emu, 'darktrace-get-tags-for-device', deviceId=str(did))
    assert remaining['Type'] != ERROR_ENTRY_TYPE, remaining['Contents']
    # A device left without tags has no context at all.
    assert 'E2E Triage' not in [t['tagName'] for t in (outputs(remaining) if remaining['EntryContext'] else [])]
    assert 'E2E Triage' not in [tag['name'] for tag in emu.dataset.device_tags(did, emu.now_ms())]


# --- arguments -----------------------------------------------------------------------------------------

@pytest.mark.parametrize('command, args, fragment', [
    ('darktrace-get-model-breach', {'pbid': '1/../../status'}, '"pbid"'),
    ('darktrace-list-model-breaches', {'min_score': '150'}, 'from 0 to 100'),
    ('darktrace-list-model-breaches', {'start_time': '2024-02-01', 'end_time': '2024-01-01'}, 'is before'),
    ('darktrace-get-model', {'uuid': 'x&pid=1'}, 'model UUID'),
    ('darktrace-search-devices', {'limit': '5000'}, 'from 1 to 1000'),
    ('darktrace-get-ai-analyst-incident-group', {}, 'exactly one of'),
    ('darktrace-remove-from-watched-list', {'endpointsToRemove': 'not a host'}, '"not a host"'),
])
def test_bad_arguments_send_nothing(emu: Emulator, command: str, args: dict[str, str], fragment: str) -> None:
    """
    Given an argument the command refuses
    When the command runs through main()
    Then an error entry names the argument and the appliance receives no request.
    """
    entry = run(emu, command, **args)
    assert entry['Type'] == ERROR_ENTRY_TYPE and fragment in entry['Contents']
    assert emu.request_log() == []
