"""Property-based test of fetch-incidents: every eligible breach exactly once, whatever the appliance does.

An in-memory appliance stands in for /modelbreaches so that hypothesis can try thousands of fetch
runs per second: random reply orders, inclusive or exclusive bounds, same-millisecond ties, breaches
created hours after their activity, acknowledgements, clock skew between XSOAR and the appliance,
random max_alerts, and failures injected at random runs (after which the platform keeps lastRun).
"""
import json
import random
from dataclasses import dataclass
from typing import Any

from hypothesis import HealthCheck, given, settings, strategies as st

import Darktrace
from Darktrace import DarktraceApiError, FetchSettings, fetch_incidents

MINUTE_MS = 60_000
HOUR_MS = 60 * MINUTE_MS
DAY_MS = 24 * HOUR_MS
BASE_MS = 1_700_000_000_000


@dataclass
class Breach:
    pbid: int
    time: int
    creation_time: int
    score: float
    acknowledged_at: int | None  # appliance time at which an analyst acknowledges it, if ever

    def as_reply(self, now_ms: int) -> dict[str, Any]:
        return {'pbid': self.pbid, 'time': self.time, 'creationTime': self.creation_time, 'score': self.score,
                'acknowledged': self.acknowledged(now_ms),
                'model': {'then': {'name': 'Device::Test', 'category': 'Suspicious', 'priority': 4}}}

    def acknowledged(self, now_ms: int) -> bool:
        return self.acknowledged_at is not None and self.acknowledged_at <= now_ms


class InMemoryAppliance:
    """/modelbreaches over a list of breaches, with the appliance's clock, filters and quirks."""

    def __init__(self, breaches: list[Breach], order: str, inclusive: bool, skew_ms: int, seed: int) -> None:
        self.breaches = breaches
        self.order = order
        self.inclusive = inclusive
        self.skew_ms = skew_ms
        self.random = random.Random(seed)
        self.now_ms = 0  # the XSOAR clock; the appliance's is now_ms + skew_ms
        self.fail_on_request: int | None = None
        self.requests = 0

    def get_model_breaches(self, params: dict[str, Any], max_bytes: int | None = None) -> list[dict[str, Any]]:
        self.requests += 1
        if self.fail_on_request is not None and self.requests == self.fail_on_request:
            raise DarktraceApiError('unavailable', 'injected failure')
        appliance_now = self.now_ms + self.skew_ms
        start, end = int(params['starttime']), int(params['endtime'])
        minimum = float(params.get('minscore') or 0)
        include_acknowledged = params.get('includeacknowledged') is True
        if self.inclusive:
            def within(t: int) -> bool: return start <= t <= end
        else:
            def within(t: int) -> bool: return start < t < end
        found = [b for b in self.breaches
                 if b.creation_time <= appliance_now and within(b.creation_time) and b.score >= minimum
                 and (include_acknowledged or not b.acknowledged(appliance_now))]
        if self.order == 'shuffle':
            self.random.shuffle(found)
        else:
            found.sort(key=lambda b: b.creation_time, reverse=self.order == 'desc')
        return [b.as_reply(appliance_now) for b in found]


@st.composite
def breach_sets(draw: Any) -> list[Breach]:
    count = draw(st.integers(0, 120))
    # Few distinct activity times, so that many breaches share a millisecond.
    moments = draw(st.lists(st.integers(0, DAY_MS), min_size=1, max_size=12))
    breaches = []
    for pbid in range(1, count + 1):
        activity = BASE_MS + draw(st.sampled_from(moments))
        lateness = draw(st.sampled_from([0, 0, 0, 1, 5000, 3 * HOUR_MS, 20 * HOUR_MS]))
        score = draw(st.sampled_from([0.0, 0.2, 0.49, 0.5, 0.51, 0.9, 1.0]))
        acknowledged_at = draw(st.one_of(st.none(), st.integers(BASE_MS, BASE_MS + 3 * DAY_MS)))
        breaches.append(Breach(pbid, activity, activity + lateness, score, acknowledged_at))
    return breaches


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(breaches=breach_sets(),
       max_alerts=st.integers(1, 60),
       min_score=st.sampled_from([0, 50]),
       include_acknowledged=st.booleans(),
       order=st.sampled_from(['asc', 'desc', 'shuffle']),
       inclusive=st.booleans(),
       skew_ms=st.integers(-29 * MINUTE_MS, 29 * MINUTE_MS),
       step_ms=st.sampled_from([5 * MINUTE_MS, 30 * MINUTE_MS, 2 * HOUR_MS, 7 * HOUR_MS]),
       failing_runs=st.sets(st.integers(0, 400), max_size=40),
       seed=st.integers(0, 2 ** 16))
def test_fetch_delivers_every_eligible_breach_exactly_once(
        breaches: list[Breach], max_alerts: int, min_score: int, include_acknowledged: bool, order: str,
        inclusive: bool, skew_ms: int, step_ms: int, failing_runs: set[int], seed: int) -> None:
    """
    Given random breaches (ties, late creations, acknowledgements), a random appliance (order, bounds, clock skew)
    and failures injected at random runs
    When fetch-incidents runs on a moving clock until the backlog is drained, keeping lastRun only after
    runs that did not fail
    Then every eligible breach is delivered exactly once and no ineligible one is delivered.
    """
    appliance = InMemoryAppliance(breaches, order, inclusive, skew_ms, seed)
    fetch_settings = FetchSettings(min_score=min_score, max_alerts=max_alerts, first_fetch_ms=BASE_MS - HOUR_MS,
                                   include_acknowledged=include_acknowledged)
    by_pbid = {b.pbid: b for b in breaches}
    last_run: dict[str, Any] = {}
    delivered: list[int] = []
    acknowledged_when_delivered: list[int] = []
    appliance.now_ms = BASE_MS + 12 * HOUR_MS
    end_ms = BASE_MS + 2 * DAY_MS + Darktrace.SETTLE_MS + 2 * HOUR_MS
    last_creation_ms = max((b.creation_time for b in breaches), default=BASE_MS)
    quiet_runs = 0
    drained = False
    for run in range((end_ms - appliance.now_ms) // step_ms + 3000):
        appliance.requests = 0
        appliance.fail_on_request = random.Random(run).randint(1, 3) if run in failing_runs else None
        try:
            next_run, incidents = fetch_incidents(appliance, last_run, fetch_settings, appliance.now_ms)
        except DarktraceApiError:
            continue  # the platform keeps the previous lastRun and creates no incident
        assert appliance.requests <= Darktrace.MAX_REQUESTS_PER_RUN
        json.dumps(next_run)  # lastRun holds plain JSON values
        last_run = next_run
        for incident in incidents:
            pbid = int(incident['dbotMirrorId'])
            delivered.append(pbid)
            if by_pbid[pbid].acknowledged(appliance.now_ms + skew_ms):
                acknowledged_when_delivered.append(pbid)
        quiet_runs = 0 if incidents else quiet_runs + 1
        if appliance.now_ms >= end_ms and quiet_runs >= 3 and last_run.get('start_ms', 0) >= last_creation_ms:
            drained = True
            break
        appliance.now_ms = min(appliance.now_ms + step_ms, end_ms)

    assert drained, 'fetch did not catch up with the appliance'
    eligible_score = [b for b in breaches if b.score >= min_score / 100]
    assert len(delivered) == len(set(delivered)), 'a breach was delivered twice'
    assert set(delivered) <= {b.pbid for b in eligible_score}, 'a breach below the minimum score was delivered'
    if include_acknowledged:
        assert set(delivered) == {b.pbid for b in eligible_score}
    else:
        assert not acknowledged_when_delivered, 'an acknowledged breach was delivered'
        never_acknowledged = {b.pbid for b in eligible_score if b.acknowledged_at is None}
        assert never_acknowledged <= set(delivered)
