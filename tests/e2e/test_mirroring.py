"""End-to-end tests of incident mirroring: fetch, get-remote-data, update-remote-system and get-mapping-fields run
through `Darktrace.main()` against the emulator over HTTP, as XSOAR runs them for a mirrored incident.

One emulator serves the whole module; each test picks its own breaches (visible, unacknowledged and without
comments), so the tests do not depend on their order. Reply variants are put back after every test (the `emu`
fixture rules of tests/conftest.py).
"""
from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any, Iterator

import pytest

import xsoar_platform
from e2e_support import checked
from emulator import Emulator

NOTE_ENTRY_TYPE = 1
COMMENT_TAG = 'darktrace comment'
CLOSE_CONTENTS = {'dbotIncidentClose': True, 'closeReason': 'Acknowledged in Darktrace'}


@pytest.fixture(scope='module')
def emu_server() -> Iterator[Emulator]:
    with Emulator(breaches=200, span_days=2, seed=21) as emulator:
        yield emulator


def instance(emu: Emulator, **params: Any) -> dict[str, Any]:
    return xsoar_platform.instance_params(emu, **{'min_score': '0', 'max_alerts': '50', 'first_fetch': '3 days',
                                                  'mirror_direction': 'Incoming And Outgoing', **params})


def run(emu: Emulator, command: str, args: dict[str, Any] | None = None, **params: Any) -> list[Any]:
    """Run one command through main() and return everything it handed back, failing on an error entry."""
    result = xsoar_platform.run_command(command, args, instance(emu, **params))
    if result.exception is not None:
        raise result.exception
    assert result.errors == []
    return list(result.entries)


def quiet_breaches(emu: Emulator, count: int, skip: int = 0) -> list[Any]:
    """Visible, unacknowledged breaches without comments, oldest pbid first."""
    now = emu.now_ms()
    found = [b for b in sorted(emu.dataset.breaches.values(), key=lambda b: b.pbid)
             if b.creation_time <= now and not b.acknowledged and not emu.dataset.comments.get(b.pbid)]
    assert len(found) >= skip + count
    return found[skip:skip + count]


def iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc).strftime('%Y-%m-%dT%H:%M:%S.%f')[:-3] + 'Z'


def get_remote_data(emu: Emulator, remote_id: int | str, last_update: str,
                    **params: Any) -> tuple[dict[str, Any], list[dict]]:
    """get-remote-data as XSOAR runs it: the mirrored record, and the entries for the incident."""
    mirrored, *entries = run(emu, 'get-remote-data', {'id': str(remote_id), 'lastUpdate': last_update}, **params)
    return mirrored, entries


def first_incidents(emu: Emulator, **params: Any) -> list[dict[str, Any]]:
    """The incidents of the first fetch run that creates any, lastRun carried from run to run."""
    last_run: dict[str, Any] = {}
    for _ in range(50):
        result = checked(xsoar_platform.run_fetch_cycle(instance(emu, **params), last_run))
        if result.incidents:
            return result.incidents
        last_run = result.last_run or {}
    raise AssertionError('no incident fetched')


def test_fetch_marks_incidents_for_mirroring(emu: Emulator) -> None:
    """
    Given an instance mirroring both ways
    When fetch-incidents runs
    Then every incident carries its pbid as mirror ID, the direction Both, the instance name and the comment tag.
    """
    incidents = first_incidents(emu)
    for incident in incidents:
        assert incident['dbotMirrorId'] == str(json.loads(incident['rawJSON'])['pbid'])
        assert incident['dbotMirrorDirection'] == 'Both'
        assert incident['dbotMirrorInstance'] == xsoar_platform.DEFAULT_INSTANCE  # the instance the run reported
        assert incident['dbotMirrorTags'] == [COMMENT_TAG]


def test_fetch_without_mirroring_adds_no_mirror_fields(emu: Emulator) -> None:
    """
    Given an instance that does not mirror
    When fetch-incidents runs
    Then incidents carry only the mirror ID.
    """
    incidents = first_incidents(emu, mirror_direction='None')
    assert all(set(incident).isdisjoint({'dbotMirrorDirection', 'dbotMirrorInstance', 'dbotMirrorTags'})
               for incident in incidents)


@pytest.mark.parametrize('close_incident', [True, False])
def test_acknowledgement_and_comment_in_darktrace_reach_the_incident(emu: Emulator, close_incident: bool) -> None:
    """
    Given a breach that an analyst comments on and acknowledges in Darktrace after the last mirror
    When XSOAR runs get-remote-data, with close_incident on or off
    Then the comment comes back as a note saying who and when, the mirrored breach says acknowledged, and the
    close entry follows exactly when close_incident is on.
    """
    (breach,) = quiet_breaches(emu, 1, skip=0 if close_incident else 1)
    last_update = iso(emu.now_ms() - 1000)
    with emu.dataset.lock:
        comment = emu.dataset.add_comment(breach.pbid, 'Confirmed with the device owner', 'analyst7', emu.now_ms())
    acknowledged = run(emu, 'darktrace-acknowledge-model-breach', {'pbid': str(breach.pbid)})
    assert acknowledged and breach.acknowledged is True

    mirrored, entries = get_remote_data(emu, breach.pbid, last_update, close_incident=close_incident)

    assert mirrored['pbid'] == breach.pbid and mirrored['acknowledged'] is True and mirrored['commentCount'] == 1
    note = entries[0]
    assert note['Type'] == NOTE_ENTRY_TYPE and note['ContentsFormat'] == 'markdown'
    assert note['Contents'] == (f'**Darktrace comment** by analyst7 at {iso(comment.time)}\n\n'
                                'Confirmed with the device owner')
    closing = [entry for entry in entries if entry['Contents'] == CLOSE_CONTENTS]
    assert closing == ([{'Type': NOTE_ENTRY_TYPE, 'ContentsFormat': 'json', 'Contents': CLOSE_CONTENTS}]
                       if close_incident else [])
    assert len(entries) == 1 + len(closing)


def test_get_remote_data_returns_only_comments_after_the_last_update(emu: Emulator) -> None:
    """
    Given a breach with a comment before and one after the last mirror (lastUpdate as epoch milliseconds)
    When get-remote-data runs for an unacknowledged breach with close_incident on
    Then only the later comment is returned, and no close entry.
    """
    (breach,) = quiet_breaches(emu, 1, skip=2)
    now = emu.now_ms()
    with emu.dataset.lock:
        emu.dataset.add_comment(breach.pbid, 'Already mirrored', 'analyst1', now - 60_000)
        emu.dataset.add_comment(breach.pbid, 'New since then', 'analyst2', now)
    mirrored, entries = get_remote_data(emu, breach.pbid, str(now - 30_000), close_incident=True)
    assert mirrored['acknowledged'] is False and mirrored['commentCount'] == 2
    assert [entry['Contents'].split('\n\n')[1] for entry in entries] == ['New since then']


@pytest.mark.parametrize('ack_reply, comment_reply', [('object', 'object'), ('list', 'list')])
def test_closing_the_incident_acknowledges_the_breach_and_posts_tagged_notes(
        emu: Emulator, ack_reply: str, comment_reply: str) -> None:
    """
    Given an appliance answering as a single appliance or a Unified View, and close_out on
    When XSOAR runs update-remote-system for a closed incident with one tagged note and one untagged note
    Then the breach is acknowledged, the tagged note is on the breach marked as coming from XSOAR, the untagged
    one is not, and a later get-remote-data does not bring the XSOAR comment back.
    """
    emu.set_settings(ack_reply=ack_reply, comment_reply=comment_reply)
    (breach,) = quiet_breaches(emu, 1, skip=3 if ack_reply == 'object' else 4)
    last_update = iso(emu.now_ms() - 1000)
    entries = [{'id': '12@34', 'type': 1, 'contents': 'Host isolated, ticket INC-77', 'tags': [COMMENT_TAG],
                'user': 'alice', 'format': 'markdown'},
               {'id': '13@34', 'type': 1, 'contents': 'Internal only', 'tags': ['internal'], 'user': 'alice'}]
    args = {'remoteId': str(breach.pbid), 'status': 2, 'incidentChanged': True, 'delta': {'closeReason': 'Resolved'},
            'data': {'id': '34', 'status': 2}, 'entries': entries}

    (returned,) = run(emu, 'update-remote-system', args, close_out=True)

    assert returned == str(breach.pbid)
    assert breach.acknowledged is True
    assert [comment.message for comment in emu.dataset.comments[breach.pbid]] == \
        ['[Cortex XSOAR] alice: Host isolated, ticket INC-77']
    mirrored, incoming = get_remote_data(emu, breach.pbid, last_update)
    assert mirrored['commentCount'] == 1 and incoming == []


def test_update_remote_system_leaves_the_breach_alone_when_close_out_is_off(emu: Emulator) -> None:
    """
    Given close_out off
    When update-remote-system runs for a closed incident without notes
    Then the breach stays unacknowledged and nothing is posted.
    """
    (breach,) = quiet_breaches(emu, 1, skip=5)
    emu.clear_log()
    args = {'remoteId': str(breach.pbid), 'status': 2, 'incidentChanged': True, 'delta': {'closeReason': 'Resolved'},
            'entries': []}
    assert run(emu, 'update-remote-system', args, close_out=False) == [str(breach.pbid)]
    assert breach.acknowledged is False and emu.request_log() == []


def test_get_mapping_fields_describes_the_mirrored_breach(emu: Emulator) -> None:
    """
    Given a mirroring instance
    When get-mapping-fields runs
    Then it returns the Darktrace NDR Model Breach type with every field get-remote-data mirrors.
    """
    mapping = schemes(run(emu, 'get-mapping-fields'))
    (breach,) = quiet_breaches(emu, 1, skip=6)
    mirrored, _ = get_remote_data(emu, breach.pbid, iso(emu.now_ms()))
    assert set(mapping) == {'Darktrace NDR Model Breach', 'Darktrace NDR AI Analyst Incident', 'Darktrace NDR Email'}
    assert set(mapping['Darktrace NDR Model Breach']) <= set(mirrored)


def schemes(results: list[Any]) -> dict[str, Any]:
    """get-mapping-fields' schemes by type name, whether the platform hands them over merged or one per entry."""
    return {name: fields for result in results for name, fields in result.items()}


# --- AI Analyst incidents -----------------------------------------------------------------------------------

def quiet_event(emu: Emulator, skip: int = 0) -> dict[str, Any]:
    """A visible, unacknowledged AI Analyst event without comments."""
    now = emu.now_ms()
    found = [event for event_id, event in sorted(emu.dataset.incidents.items())
             if emu.dataset.event_visible(event_id, now) and not event['acknowledged']
             and not emu.dataset.incident_comments.get(event_id)]
    assert len(found) > skip
    return found[skip]


def test_ai_analyst_incidents_are_marked_for_mirroring(emu: Emulator) -> None:
    """
    Given an instance fetching AI Analyst incidents and mirroring both ways
    When fetch-incidents runs
    Then every incident carries its event id as mirror ID, the direction, the instance and the comment tag.
    """
    incidents = first_incidents(emu, fetch_sources='AI Analyst Incidents', first_fetch='30 days')
    for incident in incidents:
        assert incident['dbotMirrorId'] == json.loads(incident['rawJSON'])['id']
        assert (incident['dbotMirrorDirection'], incident['dbotMirrorTags']) == ('Both', [COMMENT_TAG])


def test_ai_analyst_event_mirrors_in_and_out(emu: Emulator) -> None:
    """
    Given an AI Analyst event mirrored both ways, close_incident and close_out on
    When an analyst comments on it in Darktrace and XSOAR runs get-remote-data, then the incident is closed with a
    tagged note and XSOAR runs update-remote-system, then get-remote-data runs again
    Then the Darktrace comment comes in as a note; the event gets acknowledged through the AI Analyst endpoint and
    the note becomes a comment marked as from XSOAR; and that comment is not mirrored back in, while the
    acknowledgement now closes the incident.
    """
    event = quiet_event(emu)
    event_id = event['id']
    last_update = iso(emu.now_ms() - 1000)
    with emu.dataset.lock:
        emu.dataset.incident_comments.setdefault(event_id, []).append(
            {'message': 'Owner confirms the upload', 'username': 'analyst9', 'time': emu.now_ms()})
    mirrored, entries = get_remote_data(emu, event_id, last_update, close_incident=True)
    assert mirrored['id'] == event_id and mirrored['acknowledged'] is False and mirrored['commentCount'] == 1
    assert mirrored['incidentEventUrl'] == f'{emu.url}/#aiaincidentevent/{event_id}'
    assert [entry['Contents'].split('\n\n')[1] for entry in entries] == ['Owner confirms the upload']

    second_update = iso(emu.now_ms())
    args = {'remoteId': event_id, 'status': 2, 'incidentChanged': True, 'delta': {'closeReason': 'Resolved'},
            'entries': [{'type': 1, 'contents': 'Device reimaged', 'tags': [COMMENT_TAG], 'user': 'alice'}]}
    assert run(emu, 'update-remote-system', args, close_out=True) == [event_id]
    assert emu.dataset.incidents[event_id]['acknowledged'] is True
    assert [c['message'] for c in emu.dataset.incident_comments[event_id]][-1] == \
        '[Cortex XSOAR] alice: Device reimaged'

    mirrored, entries = get_remote_data(emu, event_id, second_update, close_incident=True)
    assert mirrored['acknowledged'] is True and mirrored['commentCount'] == 2
    assert entries == [{'Type': NOTE_ENTRY_TYPE, 'ContentsFormat': 'json', 'Contents': CLOSE_CONTENTS}]


def test_ai_analyst_event_left_alone_when_close_out_is_off(emu: Emulator) -> None:
    """
    Given close_out off
    When update-remote-system runs for a closed incident of an AI Analyst event, without notes
    Then nothing is sent and the event stays unacknowledged.
    """
    event = quiet_event(emu, skip=1)
    emu.clear_log()
    args = {'remoteId': event['id'], 'status': 2, 'incidentChanged': True, 'delta': {'closeReason': 'Resolved'}}
    assert run(emu, 'update-remote-system', args, close_out=False) == [event['id']]
    assert event['acknowledged'] is False and emu.request_log() == []


# --- get-modified-remote-data cycles -----------------------------------------------------------------

class Instance:
    """One XSOAR instance mirroring from the emulator: its integration context carried from run to run."""

    def __init__(self, emu: Emulator, **params: Any) -> None:
        self.emu = emu
        self.params = instance(emu, **params)
        self.context: dict[str, Any] = {}
        self.logs: list[tuple[str, str]] = []

    def run(self, command: str, args: dict[str, Any]) -> list[Any]:
        result = xsoar_platform.run_command(command, args, self.params, integration_context=self.context)
        if result.exception is not None:
            raise result.exception
        assert result.errors == []
        self.context = result.integration_context
        self.logs += result.logs
        return list(result.entries)

    def modified(self) -> list[str]:
        """One get-modified-remote-data, its cost in the emulator's request log checked."""
        self.emu.clear_log()
        (entry,) = self.run('get-modified-remote-data', {'lastUpdate': iso(self.emu.now_ms())})
        assert self.emu.log.cost()['requests'] <= 5
        return list(entry['Contents'])

    def remote_data(self, remote_id: int | str, last_update_ms: int) -> tuple[dict[str, Any], list[dict]]:
        mirrored, *entries = self.run('get-remote-data', {'id': str(remote_id), 'lastUpdate': iso(last_update_ms)})
        return mirrored, entries


def test_a_cycle_names_only_the_changed_breaches_for_five_requests(emu: Emulator) -> None:
    """
    Given five breaches mirrored in once (XSOAR ran get-remote-data for each)
    When nothing changes, then one is acknowledged and another commented on in Darktrace
    Then the quiet cycle names none of them, the next names exactly those two, each for at most five requests,
    and after get-remote-data delivers them the following cycle names none again.
    """
    breaches = quiet_breaches(emu, 5, skip=20)
    xsoar = Instance(emu)
    for breach in breaches:
        xsoar.remote_data(breach.pbid, emu.now_ms())
    ours = {str(breach.pbid) for breach in breaches}
    assert ours.isdisjoint(xsoar.modified())
    with emu.dataset.lock:
        emu.dataset.set_acknowledged(breaches[1].pbid, True, emu.now_ms())
        emu.dataset.add_comment(breaches[3].pbid, 'Owner says it was a backup job', 'analyst1', emu.now_ms())
    named = ours & set(xsoar.modified())
    assert named == {str(breaches[1].pbid), str(breaches[3].pbid)}
    for remote_id in named:
        xsoar.remote_data(remote_id, emu.now_ms())
    assert ours.isdisjoint(xsoar.modified())


@pytest.mark.parametrize('skew_minutes', [-29, -10, 10, 29])
def test_a_comment_arrives_once_whatever_the_appliance_clock(emu: Emulator, skew_minutes: int) -> None:
    """
    Given a mirrored breach and an appliance clock 10 or 29 minutes behind or ahead of XSOAR's (the appliance
    refuses requests dated more than 30 minutes off, so 29 is the most an end-to-end run can show; the unit tests
    take 30)
    When a comment is made in Darktrace between two cycles
    Then the next cycle names the breach, get-remote-data (lastUpdate on XSOAR's clock) delivers the comment once,
    and a later cycle and a later get-remote-data bring nothing more.
    """
    (breach,) = quiet_breaches(emu, 1, skip=30 + skew_minutes % 7)
    xsoar = Instance(emu)
    emu.shift_clock(skew_minutes * 60)
    try:
        xsoar_now = emu.now_ms() - skew_minutes * 60_000
        xsoar.remote_data(breach.pbid, xsoar_now)
        assert str(breach.pbid) not in xsoar.modified()
        with emu.dataset.lock:
            emu.dataset.add_comment(breach.pbid, f'Skewed by {skew_minutes} minutes', 'analyst2', emu.now_ms())
        assert str(breach.pbid) in xsoar.modified()
        _, entries = xsoar.remote_data(breach.pbid, xsoar_now)
        assert [entry['Contents'].split('\n\n')[1] for entry in entries] == [f'Skewed by {skew_minutes} minutes']
        assert str(breach.pbid) not in xsoar.modified()
        assert xsoar.remote_data(breach.pbid, emu.now_ms())[1] == []
    finally:
        emu.shift_clock(-skew_minutes * 60)


def test_a_deleted_breach_is_noted_once_and_left_alone(emu: Emulator) -> None:
    """
    Given a mirrored breach with close_incident and close_out on
    When the breach is deleted on the appliance and mirroring cycles run, then the incident is closed in XSOAR
    Then one cycle names it and get-remote-data returns one note and a close with the deletion reason; later
    cycles do not name it, and update-remote-system sends nothing, fails nothing and logs one line.
    """
    (breach,) = quiet_breaches(emu, 1, skip=40)
    xsoar = Instance(emu, close_incident='true', close_out='true')
    xsoar.remote_data(breach.pbid, emu.now_ms())
    with emu.dataset.lock:
        emu.dataset.delete_breach(breach.pbid, emu.now_ms())
    assert str(breach.pbid) in xsoar.modified()
    mirrored, entries = xsoar.remote_data(breach.pbid, emu.now_ms())
    assert mirrored == {'pbid': breach.pbid}
    assert 'no longer exists on the Darktrace appliance' in entries[0]['Contents']
    assert entries[1]['Contents'] == {'dbotIncidentClose': True, 'closeReason': 'Deleted on the Darktrace appliance'}
    assert str(breach.pbid) not in xsoar.modified() and str(breach.pbid) not in xsoar.modified()
    emu.clear_log()
    assert xsoar.run('update-remote-system', {'remoteId': str(breach.pbid), 'status': '2', 'incidentChanged': 'true',
                                              'delta': json.dumps({'closeReason': 'Resolved'}), 'entries': '[]'})
    assert emu.request_log() == []
    assert len([text for level, text in xsoar.logs if 'no longer exists' in text and level == 'info']) == 1


def test_fetched_ai_analyst_incidents_are_named_until_mirrored_in(emu: Emulator) -> None:
    """
    Given AI Analyst incidents fetched with incoming mirroring
    When get-modified-remote-data runs, get-remote-data mirrors each in, and get-modified-remote-data runs again
    Then the first cycle names every fetched event, the second none of them.
    """
    xsoar = Instance(emu, fetch_sources='AI Analyst Incidents', first_fetch='30 days')
    last_run: dict[str, Any] = {}
    fetched: set[str] = set()
    for _ in range(50):
        result = checked(xsoar_platform.run_fetch_cycle(xsoar.params, last_run, integration_context=xsoar.context))
        xsoar.context, last_run = result.integration_context, result.last_run or {}
        fetched = {incident['dbotMirrorId'] for incident in result.incidents}
        if fetched:
            break
    assert fetched and fetched <= set(xsoar.modified())
    for event_id in fetched:
        xsoar.remote_data(event_id, emu.now_ms())
    assert fetched.isdisjoint(xsoar.modified())
