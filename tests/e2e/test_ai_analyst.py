"""End-to-end tests of AI Analyst incident events and groups: get, list, acknowledge, comments.

Each command runs through `Darktrace.main()` against the emulator over HTTP (the `emu` fixture, tests/conftest.py).
"""
from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

import pytest

from e2e_support import iso, outputs, requests_to, run
from emulator import Emulator


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


def test_pinned_events_from_outside_the_range_only_when_asked(emu: Emulator) -> None:
    """
    Given an event pinned 10 days ago, on an appliance that returns pinned events whatever the window unless told
    otherwise (guide 2.5)
    When the events of the last 2 days are listed, then with pinned=all, then with pinned=only
    Then the pinned event is left out of the range, listed with all, and only pinned events come with only.
    """
    now = emu.now_ms()
    old = next(e for e in incident_events(emu) if now - 12 * 86_400_000 < e['createdAt'] < now - 10 * 86_400_000
               and not e['acknowledged'])
    pinned_before = {e['id'] for e in emu.dataset.incidents.values() if e['pinned']}
    old['pinned'] = True
    try:
        start = iso(now - 2 * 86_400_000)
        in_range = outputs(run(emu, 'darktrace-list-ai-analyst-incident-events', start_time=start, limit='1000'))
        assert in_range and old['id'] not in {e['id'] for e in in_range}
        assert parse_qs(requests_to(emu, '/aianalyst/incidentevents')[0]['query'])['includeallpinned'] == ['false']
        everything = outputs(run(emu, 'darktrace-list-ai-analyst-incident-events', start_time=start, pinned='all',
                                 limit='1000'))
        assert old['id'] in {e['id'] for e in everything} and len(everything) > len(in_range)
        only = outputs(run(emu, 'darktrace-list-ai-analyst-incident-events', pinned='only', limit='1000'))
        groups = {e['currentGroup'] for e in emu.dataset.incidents.values() if e['pinned']}
        assert old['id'] in {e['id'] for e in only}
        assert all(e['pinned'] or e['currentGroup'] in groups for e in only)
    finally:
        old['pinned'] = old['id'] in pinned_before


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


@pytest.mark.parametrize('group_lookup', ['strict', 'lenient'])
def test_group_by_group_id_and_by_event_id(emu: Emulator, group_lookup: str) -> None:
    """
    Given an appliance reading /aianalyst/groups ids strictly by meaning, or leniently
    When the group is asked for by its id, then by the id of one of its events
    Then both find it in one request: groupid=<group id>, then uuid=<event id>.
    """
    emu.set_settings(group_lookup=group_lookup)
    group_id, group = sorted(emu.dataset.groups.items())[0]
    event_id = group['incidentEvents'][-1]
    assert outputs(run(emu, 'darktrace-get-ai-analyst-incident-group', group_id=group_id))['id'] == group_id
    assert outputs(run(emu, 'darktrace-get-ai-analyst-incident-group', event_id=event_id))['id'] == group_id
    queries = [parse_qs(entry['query']) for entry in emu.request_log()]
    assert [query.get('groupid') or query.get('uuid') for query in queries] == [[group_id], [event_id]]
    assert 'groupid' in queries[0] and 'uuid' in queries[1]
