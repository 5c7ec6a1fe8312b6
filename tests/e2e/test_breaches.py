"""End-to-end tests of model breaches and models: get, list, acknowledge, comments, connections, get-model(-component).

Each command runs through `Darktrace.main()` against the emulator over HTTP (the `emu` fixture, tests/conftest.py).
"""
from __future__ import annotations

from urllib.parse import parse_qs

import pytest

import Darktrace
from e2e_support import DAY_MS, ERROR_ENTRY_TYPE, HOUR_MS, iso, latest_run, outputs, requests_to, run, visible_breaches
from emulator import Emulator


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


@pytest.mark.parametrize('breach_defaults', ['notes', 'table', 'notes_ui'])
def test_breaches_keep_their_device_and_model_whatever_the_defaults(emu: Emulator, breach_defaults: str) -> None:
    """
    Given an appliance playing each reading of the guide's contradictory deviceattop and minimal defaults
    When darktrace-get-model-breach and darktrace-list-model-breaches run
    Then both send deviceattop=true and minimal=false, so each breach has its device at the top and the full model.
    """
    emu.set_settings(breach_defaults=breach_defaults)
    breach = visible_breaches(emu)[0]
    one = outputs(run(emu, 'darktrace-get-model-breach', pbid=str(breach.pbid)))
    listed = outputs(run(emu, 'darktrace-list-model-breaches', start_time='30 days', limit='5'))
    for record in [one] + listed:
        assert record['device']['did'] and record['model'].get('description') and record['triggeredComponents'][0]
    for request in requests_to(emu, '/modelbreaches'):
        query = parse_qs(request['query'])
        assert query['deviceattop'] == ['true'] and query['minimal'] == ['false']


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
    # The connections in the hour before a breach are derived from the device and the hour: pick one that has some.
    breach = next(b for b in visible_breaches(emu)[30:]
                  if emu.dataset.connection_events(b.did, b.time - HOUR_MS, b.time + 60_000))
    result = outputs(run(emu, 'darktrace-get-model-breach-connections', pbid=str(breach.pbid), limit='5'))
    connections = result['connections']
    assert result['pbid'] == breach.pbid and 0 < len(connections) <= 5
    assert all(c['eventType'] != 'policybreach' for c in connections)
    assert [c['time'] for c in connections] == sorted((c['time'] for c in connections), reverse=True)
    assert parse_qs(requests_to(emu, '/details')[0]['query'])['count'] == ['6']


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


@pytest.mark.parametrize('breach_path_route', [False, True])
def test_one_breach_and_get_remote_data(emu: Emulator, breach_path_route: bool) -> None:
    """
    Given an appliance with or without the path route for one breach
    When a breach is read, and mirrored in while acknowledged twice in a row
    Then both read it with ?pbid= in one request; the incident is closed on the first cycle only.
    """
    emu.set_settings(breach_path_route=breach_path_route)
    pbid = max(pbid for pbid, breach in emu.dataset.breaches.items() if breach.creation_time <= emu.now_ms())
    assert outputs(run(emu, 'darktrace-get-model-breach', pbid=str(pbid)))['pbid'] == pbid
    (request,) = emu.request_log()
    assert request['path'] == '/modelbreaches' and parse_qs(request['query'])['pbid'] == [str(pbid)]
    emu.dataset.set_acknowledged(pbid, True)
    first = run(emu, 'get-remote-data', id=str(pbid), lastUpdate='2020-01-01T00:00:00Z')
    context = latest_run().integration_context
    again = run(emu, 'get-remote-data', context=context, id=str(pbid), lastUpdate='2020-01-01T00:00:00Z')
    closes = [[entry for entry in result if isinstance(entry.get('Contents'), dict)
               and entry['Contents'].get('dbotIncidentClose')] for result in (first, again)]
    assert [len(found) for found in closes] == [1, 0]
    assert all(entry['path'] != f'/modelbreaches/{pbid}' for entry in emu.request_log())


@pytest.mark.parametrize('details_pairs', ['strict', 'lenient'])
def test_breach_connections_and_device_events(emu: Emulator, details_pairs: str) -> None:
    """
    Given an appliance that refuses unpaired times and count with times, or takes them
    When breach connections are asked for without a range and with an end time only, and device events over a
    week (paged by narrowing the window)
    Then every request succeeds: count alone without a range, time pairs without count otherwise, the slices
    newest first and contiguous; the events come back newest first, at most the limit.
    """
    emu.set_settings(details_pairs=details_pairs)
    now = emu.now_ms()
    breach = max((b for b in emu.dataset.breaches.values() if b.creation_time <= now), key=lambda b: b.pbid)
    plain = outputs(run(emu, 'darktrace-get-model-breach-connections', pbid=str(breach.pbid), limit='3'))
    until = outputs(run(emu, 'darktrace-get-model-breach-connections', pbid=str(breach.pbid), limit='3',
                        end_time=str(breach.time + 60_000)))
    assert len(plain['connections']) <= 3 and len(until['connections']) <= 3
    events = outputs(run(emu, 'darktrace-get-device-events', did=str(breach.did), start_time=str(now - 7 * DAY_MS),
                         end_time=str(now), limit='200'))['events']
    assert 0 < len(events) <= 200
    assert [e['time'] for e in events] == sorted((e['time'] for e in events), reverse=True)
    log = emu.request_log()
    assert all(entry['status'] == 200 for entry in log)
    queries = [parse_qs(entry['query']) for entry in log]
    assert 'count' in queries[0] and 'starttime' not in queries[0] and 'endtime' not in queries[0]
    assert all(('starttime' in q) == ('endtime' in q) and not ('count' in q and 'starttime' in q) for q in queries)
    windows = [(int(q['starttime'][0]), int(q['endtime'][0])) for q in queries if 'did' in q]
    assert windows[0] == (now - HOUR_MS + 1, now)
    assert all(older[1] == newer[0] - 1 for newer, older in zip(windows, windows[1:]))
    assert len(windows) <= Darktrace.MAX_DETAILS_REQUESTS
