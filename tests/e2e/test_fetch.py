"""End-to-end tests of fetch-incidents against the emulator over HTTP, through `Darktrace.main()`."""
import json
from typing import Any

import pytest

import xsoar_platform

import Darktrace
from emulator import Emulator

HOUR_MS = 3600 * 1000
MAX_RUNS = 300


def fetch_once(emulator: Emulator, last_run: dict[str, Any], allow_failure: bool = False,
               **params: Any) -> tuple[dict[str, Any], list[dict]]:
    """One fetch cycle as XSOAR runs it; on failure the previous lastRun is kept and no incident is created.

    A failure is accepted only where the test injected faults, and only in the form the platform's return_error
    raises (a plain Exception with the command's error text); anything else is a bug and fails the test."""
    instance = xsoar_platform.instance_params(emulator, **{'min_score': '0', 'max_alerts': '40',
                                                           'first_fetch': '3 days', **params})
    result = xsoar_platform.run_fetch_cycle(instance, last_run)
    assert result.exit_code is None, f'fetch-incidents exited with {result.exit_code!r}'
    error = result.exception
    if error is not None:  # the platform's return_error raises during fetch-incidents
        assert allow_failure, f'fetch-incidents failed without an injected fault: {error!r}'
        assert type(error) is Exception and str(error).startswith('Failed to execute fetch-incidents'), repr(error)
        assert result.incidents == [], 'a failed run handed over incidents'
        return last_run, []
    return result.record.last_run, result.incidents


def caught_up(emulator: Emulator, last_run: dict[str, Any]) -> bool:
    """The cursor has reached the moments the appliance may still be recording."""
    return last_run.get('start_ms', 0) >= emulator.now_ms() - Darktrace.SETTLE_MS - 60_000


def drain(emulator: Emulator, last_run: dict[str, Any] | None = None, **params: Any) -> tuple[dict, list[int]]:
    """Fetch until a run delivers nothing and the cursor has caught up; fails if that takes more than MAX_RUNS."""
    last_run = last_run or {}
    delivered: list[int] = []
    for _ in range(MAX_RUNS):
        last_run, incidents = fetch_once(emulator, last_run, **params)
        delivered.extend(int(incident['dbotMirrorId']) for incident in incidents)
        if not incidents and caught_up(emulator, last_run):
            return last_run, delivered
    raise AssertionError(f'fetch did not catch up within {MAX_RUNS} runs (cursor {last_run})')


def visible_pbids(emulator: Emulator, min_score: float = 0) -> set[int]:
    now = emulator.now_ms()
    return {b.pbid for b in emulator.dataset.breaches.values() if b.creation_time <= now and b.score >= min_score}


@pytest.mark.parametrize('order', ['asc', 'desc', 'shuffle'])
@pytest.mark.parametrize('inclusive_bounds', [True, False])
def test_fetch_drains_every_breach_exactly_once(order: str, inclusive_bounds: bool) -> None:
    """
    Given an appliance replying in ascending, descending or shuffled order, with inclusive or exclusive bounds,
    holding ties, late creations and acknowledged breaches
    When fetch-incidents runs until drained
    Then every visible breach becomes exactly one incident.
    """
    with Emulator(breaches=400, span_days=2, seed=11, order=order, inclusive_bounds=inclusive_bounds) as emulator:
        _, delivered = drain(emulator)
        assert len(delivered) == len(set(delivered))
        assert set(delivered) == visible_pbids(emulator)


def test_fetch_applies_min_score_and_acknowledged_filters() -> None:
    """
    Given min_score 60 and acknowledged breaches excluded
    When fetch-incidents drains the appliance
    Then only unacknowledged breaches scoring at least 0.6 are delivered, and all of them.
    """
    with Emulator(breaches=300, span_days=2, seed=12) as emulator:
        _, delivered = drain(emulator, min_score='60', include_acknowledged='false')
        request = next(entry for entry in emulator.request_log() if entry['path'] == '/modelbreaches')
        assert 'minscore=0.6' in request['query'] and 'includeacknowledged=false' in request['query']
        breaches = emulator.dataset.breaches
        assert all(breaches[pbid].score >= 0.6 and not breaches[pbid].acknowledged for pbid in delivered)
        expected = {pbid for pbid in visible_pbids(emulator, 0.6) if not breaches[pbid].acknowledged}
        assert set(delivered) == expected


def test_fetch_delivers_a_late_breach_once_it_appears() -> None:
    """
    Given a drained appliance
    When a breach appears whose activity was five hours earlier, and fetch runs again
    Then it is delivered exactly once, with occurred set from its activity time.
    """
    with Emulator(breaches=100, span_days=1, seed=13) as emulator:
        last_run, first = drain(emulator)
        now = emulator.now_ms()
        (late_pbid,) = emulator.add_breaches([{'time': now - 5 * HOUR_MS, 'creationTime': now - 1000, 'score': 0.7}])
        last_run, second = drain(emulator, last_run)
        assert second == [late_pbid] and late_pbid not in first
        _, third = drain(emulator, last_run)
        assert third == []


def test_fetch_survives_failures_without_loss_or_duplicates() -> None:
    """
    Given an appliance that fails some fetch requests (500, truncated JSON, an HTML login page)
    When fetch-incidents runs until drained, the platform keeping lastRun after each failed run
    Then every breach is still delivered exactly once.
    """
    with Emulator(breaches=300, span_days=2, seed=14) as emulator:
        last_run: dict[str, Any] = {}
        delivered: list[int] = []
        faults = iter([('status', 500), ('truncate', None), ('html_login', None)])
        drained = False
        for run in range(MAX_RUNS):
            if run % 3 == 1:
                kind, status = next(faults, (None, None))
                if kind:
                    emulator.inject_fault(kind, status=status, path='/modelbreaches')
            last_run, incidents = fetch_once(emulator, last_run, allow_failure=True)
            delivered.extend(int(incident['dbotMirrorId']) for incident in incidents)
            if not incidents and caught_up(emulator, last_run):
                drained = True
                break
        assert drained, f'fetch did not catch up within {MAX_RUNS} runs'
        # Every fault was thrown and hit a fetch request; otherwise the failures were not tested.
        assert sorted(entry['fault'] for entry in emulator.request_log() if entry['fault']) == \
            ['html_login', 'status', 'truncate']
        assert len(delivered) == len(set(delivered))
        assert set(delivered) == visible_pbids(emulator)


def test_fetch_incident_carries_the_breach_link_and_score() -> None:
    """
    Given breaches on the appliance
    When one fetch runs
    Then each incident's rawJSON has breachUrl and percentscore, and dbotMirrorId is the pbid.
    """
    with Emulator(breaches=50, span_days=1, seed=15) as emulator:
        last_run: dict[str, Any] = {}
        incidents: list[dict] = []
        for _ in range(MAX_RUNS):
            last_run, incidents = fetch_once(emulator, last_run)
            if incidents or caught_up(emulator, last_run):
                break
        assert incidents
        for incident in incidents:
            raw = json.loads(incident['rawJSON'])
            assert raw['breachUrl'] and 'percentscore' in raw
            assert incident['dbotMirrorId'] == str(raw['pbid'])
            assert incident['name'].startswith(f"Darktrace Model Breach {raw['pbid']}: ")


# --- AI Analyst incidents, alone and beside model breaches ---------------------------------------------------

BOTH_SOURCES = 'Model Breaches,AI Analyst Incidents'


def drain_records(emulator: Emulator, last_run: dict[str, Any] | None = None, allow_failure: bool = False,
                  **params: Any) -> tuple[dict, list[dict]]:
    """Fetch until two runs in a row deliver nothing and both cursors have caught up (the AI Analyst sweep for late
    events comes in the run after its cursor moved); fails after MAX_RUNS runs."""
    last_run = last_run or {}
    delivered: list[dict] = []
    quiet_runs = 0
    for _ in range(MAX_RUNS):
        last_run, incidents = fetch_once(emulator, last_run, allow_failure,
                                         **{'first_fetch': str(first_fetch_ms(emulator)), **params})
        delivered.extend(incidents)
        sources = params.get('fetch_sources', 'Model Breaches')
        breaches_caught_up = 'Model Breaches' not in sources or caught_up(emulator, last_run)
        events_caught_up = 'AI Analyst Incidents' not in sources or \
            last_run.get('ai_analyst', {}).get('start_ms', 0) >= emulator.now_ms() - 60_000
        quiet_runs = quiet_runs + 1 if not incidents and breaches_caught_up and events_caught_up else 0
        if quiet_runs == 2:
            return last_run, delivered
    raise AssertionError(f'fetch did not catch up within {MAX_RUNS} runs (cursor {last_run})')


def first_fetch_ms(emulator: Emulator) -> int:
    """The first fetch time of these tests: three days before the dataset's anchor, as epoch milliseconds."""
    return emulator.dataset.anchor_ms - 72 * HOUR_MS


def visible_event_ids(emulator: Emulator) -> set[str]:
    """The events the appliance shows now, created since the first fetch time."""
    now = emulator.now_ms()
    return {event_id for event_id, event in emulator.dataset.incidents.items()
            if emulator.dataset.event_visible(event_id, now) and event['createdAt'] >= first_fetch_ms(emulator)}


def split_by_source(incidents: list[dict]) -> tuple[list[int], list[str]]:
    pbids = [int(i['dbotMirrorId']) for i in incidents if i['dbotMirrorId'].isdigit()]
    event_ids = [i['dbotMirrorId'] for i in incidents if not i['dbotMirrorId'].isdigit()]
    return pbids, event_ids


@pytest.mark.parametrize('ai_time_filter', ['created', 'periods'])
@pytest.mark.parametrize('inclusive_bounds', [True, False])
def test_fetch_drains_a_mixed_backlog_exactly_once(ai_time_filter: str, inclusive_bounds: bool) -> None:
    """
    Given an appliance holding model breaches and AI Analyst events (ties, events published late, activity ending
    hours before creation), filtering AI Analyst windows on createdAt or on activity periods, with inclusive or
    exclusive bounds
    When fetch-incidents runs with both sources until drained
    Then every visible breach and every visible event becomes exactly one incident, and the AI Analyst incidents
    carry the event, its link and their record kind.
    """
    with Emulator(breaches=300, incident_events=300, span_days=2, seed=16, ai_time_filter=ai_time_filter,
                  inclusive_bounds=inclusive_bounds) as emulator:
        _, delivered = drain_records(emulator, fetch_sources=BOTH_SOURCES, max_alerts='30')
        pbids, event_ids = split_by_source(delivered)
        assert len(pbids) == len(set(pbids)) and set(pbids) == visible_pbids(emulator)
        assert len(event_ids) == len(set(event_ids)) and set(event_ids) == visible_event_ids(emulator)
        for incident in delivered:
            if not incident['dbotMirrorId'].isdigit():
                raw = json.loads(incident['rawJSON'])
                assert raw['darktraceRecordKind'] == 'AI Analyst Incident' and raw['id'] == incident['dbotMirrorId']
                assert raw['incidentEventUrl'] == f"{emulator.url}/#aiaincidentevent/{raw['id']}"
        request = next(entry for entry in emulator.request_log() if entry['path'] == '/aianalyst/incidentevents')
        assert 'includeacknowledged=true' in request['query'] and 'includeincidenteventurl=true' in request['query']


def test_fetch_delivers_an_ai_analyst_event_published_late_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """
    Given a drained appliance, the integration's clock following the appliance's
    When ten minutes later an AI Analyst event appears whose createdAt is two hours old and whose activity ended five
    hours before that, and fetch runs again (the appliance filtering on activity periods)
    Then it is delivered exactly once, with occurred set from its activity.
    """
    with Emulator(breaches=50, incident_events=100, span_days=1, seed=17, ai_time_filter='periods') as emulator:
        monkeypatch.setattr(Darktrace, 'now_ms', emulator.now_ms)
        last_run, first = drain_records(emulator, fetch_sources='AI Analyst Incidents')
        emulator.shift_clock(10 * 60)  # fetch runs on a schedule: time passes between the drains
        now = emulator.now_ms()
        activity_start = now - 8 * HOUR_MS
        (late_id,) = emulator.add_incident_events([{
            'createdAt': now - 2 * HOUR_MS, 'periods': [{'start': activity_start, 'end': now - 7 * HOUR_MS}]}])
        last_run, second = drain_records(emulator, last_run, fetch_sources='AI Analyst Incidents')
        assert [incident['dbotMirrorId'] for incident in second] == [late_id]
        assert second[0]['occurred'] == Darktrace.ms_to_iso(activity_start)
        assert late_id not in {incident['dbotMirrorId'] for incident in first}
        _, third = drain_records(emulator, last_run, fetch_sources='AI Analyst Incidents')
        assert third == []


def test_fetch_of_both_sources_survives_failures_without_loss_or_duplicates() -> None:
    """
    Given an appliance that fails some AI Analyst and model breach requests (500, truncated JSON, a login page)
    When fetch-incidents runs with both sources until drained, the platform keeping lastRun after each failed run
    Then every breach and every event is still delivered exactly once.
    """
    with Emulator(breaches=200, incident_events=200, span_days=2, seed=18) as emulator:
        last_run: dict[str, Any] = {}
        delivered: list[dict] = []
        faults = iter([('status', 500, '/aianalyst'), ('truncate', None, '/modelbreaches'),
                       ('html_login', None, '/aianalyst'), ('truncate', None, '/aianalyst')])
        for run in range(MAX_RUNS):
            if run % 3 == 1:
                kind, status, path = next(faults, (None, None, None))
                if kind:
                    emulator.inject_fault(kind, status=status, path=path)
            last_run, incidents = fetch_once(emulator, last_run, allow_failure=True, fetch_sources=BOTH_SOURCES,
                                             first_fetch=str(first_fetch_ms(emulator)))
            delivered.extend(incidents)
            if run > 12 and not incidents and caught_up(emulator, last_run):
                break
        _, rest = drain_records(emulator, last_run, fetch_sources=BOTH_SOURCES)
        pbids, event_ids = split_by_source(delivered + rest)
        assert sorted(entry['fault'] for entry in emulator.request_log() if entry['fault']) == \
            ['html_login', 'status', 'truncate', 'truncate']
        assert len(pbids) == len(set(pbids)) and set(pbids) == visible_pbids(emulator)
        assert len(event_ids) == len(set(event_ids)) and set(event_ids) == visible_event_ids(emulator)



# --- bursts: more records in one millisecond than one reply holds ----------------------------------------------

def test_fetch_delivers_500_breaches_created_in_one_millisecond_exactly_once() -> None:
    """
    Given 500 breaches created in the same millisecond a day ago (a model firing on a whole subnet), more bytes
    than a fetch reply may hold even for one second
    When fetch-incidents runs with max_alerts 50 until drained
    Then no run fails, no run hands over more than 50, and every visible breach becomes exactly one incident; the
    dense second is listed by pbid and creation time.
    """
    with Emulator(breaches=100, span_days=2, seed=19) as emulator:
        burst = set(emulator.dataset.add_breach_burst(500, emulator.now_ms() - 24 * HOUR_MS, emulator.now_ms()))
        last_run: dict[str, Any] = {}
        delivered: list[int] = []
        for _ in range(MAX_RUNS):
            last_run, incidents = fetch_once(emulator, last_run, max_alerts='50')
            assert len(incidents) <= 50
            delivered.extend(int(incident['dbotMirrorId']) for incident in incidents)
            if not incidents and caught_up(emulator, last_run):
                break
        assert len(delivered) == len(set(delivered)) and set(delivered) == visible_pbids(emulator) >= burst
        assert any('responsedata=pbid%2CcreationTime' in entry['query'] or 'responsedata=pbid,creationTime'
                   in entry['query'] for entry in emulator.request_log())


@pytest.mark.parametrize('ai_time_filter', ['created', 'periods'])
def test_fetch_delivers_3000_ai_analyst_events_tied_in_one_millisecond_exactly_once(ai_time_filter: str) -> None:
    """
    Given 3,000 AI Analyst events created in one millisecond (more than the ids the cursor remembers and than one
    reply holds), beside a backlog, the appliance filtering on createdAt or on activity periods
    When fetch-incidents runs with max_alerts 50 until drained
    Then no run fails (each accepts the lastRun the one before wrote), and every visible event becomes exactly one
    incident.
    """
    with Emulator(breaches=50, incident_events=100, span_days=2, seed=20, ai_time_filter=ai_time_filter) as emulator:
        tie = set(emulator.dataset.add_incident_event_burst(3000, emulator.now_ms() - 30 * HOUR_MS,
                                                            emulator.now_ms()))
        _, delivered = drain_records(emulator, fetch_sources='AI Analyst Incidents', max_alerts='50')
        event_ids = [incident['dbotMirrorId'] for incident in delivered]
        assert len(event_ids) == len(set(event_ids)) and set(event_ids) == visible_event_ids(emulator) >= tie
