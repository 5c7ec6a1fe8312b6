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
    instance = {'url': emulator.url, 'public_api_token': emulator.public_token,
                'private_api_token': emulator.private_token, 'min_score': '0', 'max_alerts': '40',
                'first_fetch': '3 days', **params}
    platform_run = xsoar_platform.start_run(command='fetch-incidents', params=instance, last_run=last_run)
    try:
        Darktrace.main()
    except Exception as error:  # the platform's return_error raises during fetch-incidents
        assert allow_failure, f'fetch-incidents failed without an injected fault: {error!r}'
        assert type(error) is Exception and str(error).startswith('Failed to execute fetch-incidents'), repr(error)
        assert platform_run.incidents == [], 'a failed run handed over incidents'
        return last_run, []
    incidents = [incident for batch in platform_run.incidents for incident in batch]
    return platform_run.last_run, incidents


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
