"""Property-based test of fetch-incidents: every eligible breach and AI Analyst event exactly once, whatever the
appliance does.

An in-memory appliance stands in for /modelbreaches and /aianalyst/incidentevents so that hypothesis can try
thousands of fetch runs per second, with both sources fetched at once: random reply orders, inclusive or exclusive
bounds, same-millisecond ties, breaches created hours after their activity, AI Analyst events that reach the API
after events created later or describe activity that ended hours before their creation, an appliance filtering
AI Analyst windows on createdAt or on activity periods, acknowledgements, clock skew between XSOAR and the
appliance, random max_alerts, failures injected at random runs (after which the platform keeps lastRun), and
bursts: breaches created in one millisecond and AI Analyst events tied in one, larger than the reply cap (replies
are weighed INFLATION times), the batch of a dense second and the ids the AI Analyst cursor remembers. Whatever a
run stores, the next run accepts; an event is missing only when logged by id as no longer placeable.
"""
import contextlib
import json
import random
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from hypothesis import HealthCheck, given, settings, strategies as st

import Darktrace
from Darktrace import DarktraceApiError, FetchSettings, fetch_incidents
from fake_appliance import overlapping, trimmed, within_bounds

MINUTE_MS = 60_000
HOUR_MS = 60 * MINUTE_MS
DAY_MS = 24 * HOUR_MS
BASE_MS = 1_700_000_000_000
# Replies are counted this many times their size against the client's caps, so that a burst of 150 records
# is over the fetch reply cap, as a burst of thousands is on an appliance.
INFLATION = 20


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


@dataclass
class Event:
    """An AI Analyst incident event; it reaches the API at `published`, at or after its createdAt."""
    event_id: str
    created: int
    published: int
    activity_end: int
    score: float
    acknowledged_at: int | None

    def as_reply(self, now_ms: int) -> dict[str, Any]:
        return {'id': self.event_id, 'createdAt': self.created, 'aiaScore': self.score, 'title': 'Unusual Activity',
                'category': 'suspicious', 'acknowledged': self.acknowledged(now_ms),
                'periods': [{'start': self.activity_end - HOUR_MS, 'end': self.activity_end}]}

    def acknowledged(self, now_ms: int) -> bool:
        return self.acknowledged_at is not None and self.acknowledged_at <= now_ms


class InMemoryAppliance:
    """/modelbreaches and /aianalyst/incidentevents over lists of records, with the appliance's clock, filters and
    quirks.

    Not tests/fake_appliance.FakeAppliance: these records change with time (published late, acknowledged at a
    moment, seen through a skewed appliance clock) and replies are shuffled by the generated seed; the window
    filters are the fake appliance's.
    """

    server_url = 'https://dt.example'

    def __init__(self, breaches: list[Breach], events: list[Event], order: str, inclusive: bool, time_filter: str,
                 skew_ms: int, seed: int) -> None:
        self.breaches = breaches
        self.events = events
        self.order = order
        self.inclusive = inclusive
        self.time_filter = time_filter
        self.skew_ms = skew_ms
        self.random = random.Random(seed)
        self.now_ms = 0  # the XSOAR clock; the appliance's is now_ms + skew_ms
        self.fail_on_request: int | None = None
        self.requests = {'breaches': 0, 'events': 0}
        self.record_reads = 0  # records read one by one (?pbid=, ?uuid=)
        self.read_bytes = 0  # what the client would count: replies weighed as below, one over the cap as the cap

    def _request(self, source: str, params: dict[str, Any]) -> tuple[int, int, int, float, bool]:
        """Count a request (failing it when injected); the appliance's time, and the window and filters asked for."""
        self.requests[source] += 1
        if self.fail_on_request is not None and sum(self.requests.values()) == self.fail_on_request:
            raise DarktraceApiError('unavailable', 'injected failure')
        return (self.now_ms + self.skew_ms, int(params['starttime']), int(params['endtime']),
                float(params.get('minscore') or 0), params.get('includeacknowledged') is True)

    def _read_one(self, source: str) -> int:
        self.record_reads += 1
        if self.fail_on_request is not None and sum(self.requests.values()) + self.record_reads == self.fail_on_request:
            raise DarktraceApiError('unavailable', 'injected failure')
        return self.now_ms + self.skew_ms

    def get_model_breach(self, pbid: int) -> dict[str, Any]:
        appliance_now = self._read_one('breaches')
        reply = next(b.as_reply(appliance_now) for b in self.breaches if b.pbid == pbid)
        self.read_bytes += len(json.dumps(reply)) * INFLATION
        return reply

    def get_ai_analyst_incident_events(self, params: dict[str, Any], max_bytes: int | None = None) -> Any:
        if params.get('uuid'):  # the event id overrides every other filter (guide 2.5)
            appliance_now = self._read_one('events')
            return self._capped([e.as_reply(appliance_now) for e in self.events if e.event_id == params['uuid']],
                                params, max_bytes)
        appliance_now, start, end, minimum, include_acknowledged = self._request('events', params)
        overlaps = overlapping(start, end, self.inclusive)
        found = [e for e in self.events
                 if e.published <= appliance_now and e.score >= minimum
                 and (include_acknowledged or not e.acknowledged(appliance_now))
                 and (overlaps(e.created, e.created) if self.time_filter == 'created'
                      else overlaps(e.activity_end - HOUR_MS, e.activity_end))]
        self.random.shuffle(found)
        return self._capped([e.as_reply(appliance_now) for e in found], params, max_bytes)

    def _capped(self, reply: list[dict[str, Any]], params: dict[str, Any],
                max_bytes: int | None) -> list[dict[str, Any]]:
        reply = trimmed(reply, params)
        size, max_bytes = len(json.dumps(reply)) * INFLATION, max_bytes or Darktrace.MAX_REPLY_BYTES
        self.read_bytes += min(size, max_bytes)
        if size > max_bytes:
            raise DarktraceApiError('too_large', f'more than {max_bytes} bytes')  # as the client does
        return reply

    def get_model_breaches(self, params: dict[str, Any], max_bytes: int | None = None) -> list[dict[str, Any]]:
        appliance_now, start, end, minimum, include_acknowledged = self._request('breaches', params)
        within = within_bounds(start, end, self.inclusive)
        found = [b for b in self.breaches
                 if b.creation_time <= appliance_now and within(b.creation_time) and b.score >= minimum
                 and (include_acknowledged or not b.acknowledged(appliance_now))]
        if self.order == 'shuffle':
            self.random.shuffle(found)
        else:
            found.sort(key=lambda b: b.creation_time, reverse=self.order == 'desc')
        return self._capped([b.as_reply(appliance_now) for b in found], params, max_bytes)


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
    # A burst: breaches created in one millisecond, more bytes than a fetch reply may hold.
    burst_ms = BASE_MS + draw(st.integers(0, DAY_MS))
    for pbid in range(count + 1, count + 1 + draw(st.sampled_from([0, 0, 0, 40, 150]))):
        breaches.append(Breach(pbid, burst_ms, burst_ms, draw(st.sampled_from([0.2, 0.9])), None))
    return breaches


@st.composite
def event_sets(draw: Any) -> list[Event]:
    count = draw(st.integers(0, 120))
    moments = draw(st.lists(st.integers(0, DAY_MS), min_size=1, max_size=12))
    events = []
    for number in range(count):
        created = BASE_MS + draw(st.sampled_from(moments))
        # Late publication plus early activity stays within the look-back, less the largest clock skew.
        delay = draw(st.sampled_from([0, 0, 0, 1, 5000, HOUR_MS, 4 * HOUR_MS]))
        gap = draw(st.sampled_from([0, 0, 1000, 2 * HOUR_MS, 7 * HOUR_MS]))
        score = draw(st.sampled_from([0.0, 20.0, 49.5, 50.0, 51.0, 90.0, 100.0]))
        acknowledged_at = draw(st.one_of(st.none(), st.integers(BASE_MS, BASE_MS + 3 * DAY_MS)))
        events.append(Event(f'e{number:04d}-x', created, created + delay, created - gap, score, acknowledged_at))
    # A tie: events created in one millisecond, more than the ids remembered (patched small) and the reply cap.
    tie_ms = BASE_MS + draw(st.integers(0, DAY_MS))
    for number in range(count, count + draw(st.sampled_from([0, 0, 0, 40, 150]))):
        events.append(Event(f'e{number:04d}-t', tie_ms, tie_ms, tie_ms, draw(st.sampled_from([20.0, 90.0])), None))
    return events


@contextlib.contextmanager
def small_limits() -> Iterator[list[str]]:
    """The remembered AI Analyst ids and the batch of a dense second, small enough for generated bursts to pass
    them; yields the info lines logged meanwhile."""
    saved = Darktrace.MAX_AI_ANALYST_SEEN_IDS, Darktrace.DENSE_BATCH_LIMIT, Darktrace.demisto.info
    logged: list[str] = []
    Darktrace.MAX_AI_ANALYST_SEEN_IDS, Darktrace.DENSE_BATCH_LIMIT = 30, 7
    Darktrace.demisto.info = logged.append
    try:
        yield logged
    finally:
        Darktrace.MAX_AI_ANALYST_SEEN_IDS, Darktrace.DENSE_BATCH_LIMIT, Darktrace.demisto.info = saved


SOURCE_CHOICES = [(Darktrace.FETCH_SOURCE_BREACHES, Darktrace.FETCH_SOURCE_AI_ANALYST),
                  (Darktrace.FETCH_SOURCE_BREACHES,), (Darktrace.FETCH_SOURCE_AI_ANALYST,)]


@settings(max_examples=max(150, settings.default.max_examples), deadline=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(breaches=breach_sets(),
       events=event_sets(),
       sources=st.sampled_from(SOURCE_CHOICES[:1] * 4 + SOURCE_CHOICES[1:]),
       max_alerts=st.integers(1, 60),
       min_score=st.sampled_from([0, 50]),
       ai_min_score=st.sampled_from([0, 50]),
       include_acknowledged=st.booleans(),
       order=st.sampled_from(['asc', 'desc', 'shuffle']),
       inclusive=st.booleans(),
       time_filter=st.sampled_from(['created', 'periods']),
       skew_ms=st.integers(-29 * MINUTE_MS, 29 * MINUTE_MS),
       step_ms=st.sampled_from([5 * MINUTE_MS, 30 * MINUTE_MS, 2 * HOUR_MS, 7 * HOUR_MS]),
       failing_runs=st.sets(st.integers(0, 400), max_size=40),
       seed=st.integers(0, 2 ** 16))
def test_fetch_delivers_every_eligible_record_exactly_once(
        breaches: list[Breach], events: list[Event], sources: tuple[str, ...], max_alerts: int, min_score: int,
        ai_min_score: int, include_acknowledged: bool, order: str, inclusive: bool, time_filter: str, skew_ms: int,
        step_ms: int, failing_runs: set[int], seed: int) -> None:
    """
    Given random breaches (ties, late creations, acknowledgements) and AI Analyst events (ties, late publication,
    activity ending hours before creation, acknowledgements), mostly fetched together, a random appliance (order,
    bounds, AI Analyst time filter, clock skew) and failures injected at random runs
    When fetch-incidents runs on a moving clock until both backlogs are drained, keeping lastRun only after
    runs that did not fail
    Then every eligible record of each chosen source is delivered exactly once, no ineligible one is delivered,
    no run makes more than three window requests per source (plus the listings of a dense second and the
    sweep) or reads more than FETCH_MAX_RUN_BYTES, and whatever a run stores as lastRun, the next run accepts.
    """
    with small_limits() as logged:
        missing = drain_and_check(breaches, events, sources, max_alerts, min_score, ai_min_score, include_acknowledged,
                                  order, inclusive, time_filter, skew_ms, step_ms, failing_runs, seed)
    # Only an event the horizon passed (more events than the ids remembered) before it could be placed is missing,
    # and never silently.
    unplaced = [line for line in logged if 'are not fetched' in line]
    assert all(record_id.endswith('-x') and any(record_id in line for line in unplaced) for record_id in missing)


def assert_next_run_accepts(next_run: dict[str, Any], fetch_settings: FetchSettings, now_ms: int) -> None:
    """The checks the next run makes of the lastRun this run wrote pass (none raises)."""
    breach_cursor = {key: value for key, value in next_run.items() if key not in Darktrace.SOURCE_KEYS}
    Darktrace.fetch_cursor(breach_cursor, fetch_settings, now_ms)
    Darktrace.ai_analyst_cursor(next_run.get(Darktrace.AI_ANALYST_CURSOR_KEY), fetch_settings.first_fetch_ms, now_ms)


def drain_and_check(breaches: list[Breach], events: list[Event], sources: tuple[str, ...], max_alerts: int,
                    min_score: int, ai_min_score: int, include_acknowledged: bool, order: str, inclusive: bool,
                    time_filter: str, skew_ms: int, step_ms: int, failing_runs: set[int], seed: int) -> set[str]:
    """Drain the appliance as the test says; the eligible records not delivered."""
    appliance = InMemoryAppliance(breaches, events, order, inclusive, time_filter, skew_ms, seed)
    fetch_settings = FetchSettings(min_score=min_score, max_alerts=max_alerts, first_fetch_ms=BASE_MS - HOUR_MS,
                                   include_acknowledged=include_acknowledged, sources=sources,
                                   ai_analyst_min_score=ai_min_score)
    records: dict[str, Breach | Event] = {str(b.pbid): b for b in breaches}
    records.update({e.event_id: e for e in events})
    last_run: dict[str, Any] = {}
    delivered: list[str] = []
    acknowledged_when_delivered: list[str] = []
    appliance.now_ms = BASE_MS + 12 * HOUR_MS
    end_ms = BASE_MS + 2 * DAY_MS + Darktrace.SETTLE_MS + 2 * HOUR_MS
    last_creation_ms = max((b.creation_time for b in breaches), default=BASE_MS)
    last_event_ms = max((e.published for e in events), default=BASE_MS)
    quiet_runs = 0
    drained = False
    for run in range((end_ms - appliance.now_ms) // step_ms + 3000):
        appliance.requests = {'breaches': 0, 'events': 0}
        appliance.record_reads = 0
        appliance.fail_on_request = random.Random(run).randint(1, 6) if run in failing_runs else None
        read_before = appliance.read_bytes
        try:
            next_run, incidents = fetch_incidents(appliance, last_run, fetch_settings, appliance.now_ms)
        except DarktraceApiError:
            continue  # the platform keeps the previous lastRun and creates no incident
        assert appliance.read_bytes - read_before <= Darktrace.FETCH_MAX_RUN_BYTES
        # Three windows per source, plus, for a dense second, its listings (by the second, by the millisecond, whole)
        # and the sweep's; records read one by one are at most those delivered.
        assert max(appliance.requests.values()) <= Darktrace.MAX_REQUESTS_PER_RUN + 3
        assert len(incidents) <= max_alerts and appliance.record_reads <= len(incidents)
        json.dumps(next_run)  # lastRun holds plain JSON values
        assert_next_run_accepts(next_run, fetch_settings, appliance.now_ms)
        last_run = next_run
        for incident in incidents:
            record_id = incident['dbotMirrorId']
            delivered.append(record_id)
            if records[record_id].acknowledged(appliance.now_ms + skew_ms):
                acknowledged_when_delivered.append(record_id)
        quiet_runs = 0 if incidents else quiet_runs + 1
        breaches_done = Darktrace.FETCH_SOURCE_BREACHES not in sources or \
            last_run.get('start_ms', 0) >= last_creation_ms
        events_done = Darktrace.FETCH_SOURCE_AI_ANALYST not in sources or \
            last_run.get('ai_analyst', {}).get('start_ms', 0) >= last_event_ms + skew_ms
        if appliance.now_ms >= end_ms and quiet_runs >= 3 and breaches_done and events_done:
            drained = True
            break
        appliance.now_ms = min(appliance.now_ms + step_ms, end_ms)

    assert drained, 'fetch did not catch up with the appliance'
    eligible = {str(b.pbid) for b in breaches if b.score >= min_score / 100} \
        if Darktrace.FETCH_SOURCE_BREACHES in sources else set()
    if Darktrace.FETCH_SOURCE_AI_ANALYST in sources:
        eligible |= {e.event_id for e in events if e.score >= ai_min_score}
    assert len(delivered) == len(set(delivered)), 'a record was delivered twice'
    assert set(delivered) <= eligible, 'a record below the minimum score, or of a source not chosen, was delivered'
    if include_acknowledged:
        return eligible - set(delivered)
    assert not acknowledged_when_delivered, 'an acknowledged record was delivered'
    never_acknowledged = {record_id for record_id in eligible if records[record_id].acknowledged_at is None}
    return never_acknowledged - set(delivered)
