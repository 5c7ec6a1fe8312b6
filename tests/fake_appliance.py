"""The in-process appliance of the fetch unit tests: /modelbreaches and /aianalyst/incidentevents over lists of records.

Ways the appliance is faked, and why each remains:
- this fake: fetch_incidents() takes any object with the client's two fetch methods, so fetch logic is tested in
  process, thousands of runs a second, with the appliance's filters, reply orders and bounds (Darktrace_test.py);
- tests/test_fetch_property.py's InMemoryAppliance: the world hypothesis generates, whose records change with
  time (published late, acknowledged at a moment, a skewed appliance clock); it builds on this fake's filters;
- requests-mock (Darktrace_test.py): the exact requests and recorded-shape replies of the client and commands;
- the emulator (tests/e2e/, faults, secrets): the appliance over HTTP, signatures checked, for end-to-end tests.
"""
from __future__ import annotations

import json
from typing import Any

import Darktrace
from Darktrace import DarktraceApiError

SERVER_URL = 'https://dt.example'


def within_bounds(start: int, end: int, inclusive: bool) -> Any:
    """Whether a moment falls in [start, end] (inclusive bounds) or (start, end)."""
    if inclusive:
        return lambda moment: start <= moment <= end
    return lambda moment: start < moment < end


def overlapping(start: int, end: int, inclusive: bool) -> Any:
    """Whether a period [low, high] meets the window, its bounds inclusive or not."""
    if inclusive:
        return lambda low, high: low <= end and high >= start
    return lambda low, high: low < end and high > start


class FakeAppliance:
    """/modelbreaches (and, given events, /aianalyst/incidentevents) with the appliance's filters.

    Breaches are filtered on creationTime or time as asked and sorted `order` ('desc' or 'asc'); events on createdAt
    or on their activity periods (`time_filter` 'created' or 'periods'), newest first.
    """

    server_url = SERVER_URL

    def __init__(self, breaches: list[dict[str, Any]], events: list[dict[str, Any]] | None = None,
                 *, order: str = 'desc', inclusive: bool = True, time_filter: str = 'created') -> None:
        self.breaches = breaches
        self.events = events or []
        self.order = order
        self.inclusive = inclusive
        self.time_filter = time_filter
        self.requests: list[dict[str, Any]] = []
        self.event_requests: list[dict[str, Any]] = []
        # 1 = the first request fails; breach requests count breach requests, event requests count both kinds.
        self.fail_on_request: int | None = None
        self.reply: Any = None  # when set, every breach request gets exactly this reply
        self.reply_sizes: list[int] = []  # bytes of each breach reply, as far as the client read it
        self.event_reply_sizes: list[int] = []  # likewise for each AI Analyst reply
        self.record_reads = 0  # breaches and events read one by one (?pbid=, ?uuid=)
        self.record_bytes = 0  # their bytes

    @property
    def read_bytes(self) -> int:
        """What the client would count: every reply's bytes, one over the cap as the cap."""
        return sum(self.reply_sizes) + sum(self.event_reply_sizes) + self.record_bytes

    def get_model_breaches(self, params: dict[str, Any], max_bytes: int | None = None) -> Any:
        self.requests.append(params)
        if len(self.requests) == self.fail_on_request:
            raise DarktraceApiError('unavailable', 'appliance down')
        if self.reply is not None:
            return self.reply
        field = 'creationTime' if params.get('creationtime') else 'time'
        within = within_bounds(params['starttime'], params['endtime'], self.inclusive)
        minimum = float(params.get('minscore') or 0)
        found = [b for b in self.breaches
                 if within(Darktrace.time_ms(b.get(field)) or 0) and float(b.get('score') or 0) >= minimum]
        found.sort(key=lambda b: Darktrace.time_ms(b.get(field)) or 0, reverse=self.order == 'desc')
        return capped(trimmed(found, params), max_bytes, self.reply_sizes)

    def get_model_breach(self, pbid: int) -> dict[str, Any]:
        """?pbid=: one breach, as an object (guide 2.31)."""
        self.record_reads += 1
        found = [b for b in self.breaches if b['pbid'] == pbid]
        if not found:
            raise DarktraceApiError('not_found', f'no breach {pbid}')
        self.record_bytes += len(json.dumps(found[0]))
        return found[0]

    def get_ai_analyst_incident_events(self, params: dict[str, Any], max_bytes: int | None = None) -> Any:
        self.event_requests.append(params)
        if len(self.requests) + len(self.event_requests) == self.fail_on_request:
            raise DarktraceApiError('unavailable', 'appliance down')
        if params.get('uuid'):  # the event id overrides every other filter (guide 2.5)
            self.record_reads += 1
            found = [e for e in self.events if e['id'] == params['uuid']]
            self.record_bytes += len(json.dumps(found))
            return found
        return capped(trimmed(self.events_between(params), params), max_bytes, self.event_reply_sizes)

    def events_between(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        overlaps = overlapping(params['starttime'], params['endtime'], self.inclusive)
        minimum = float(params.get('minscore') or 0)
        found = [e for e in self.events if e['aiaScore'] >= minimum and (
            overlaps(e['createdAt'], e['createdAt']) if self.time_filter == 'created'
            else any(overlaps(p['start'], p['end']) for p in e['periods']))]
        return sorted(found, key=lambda e: e['createdAt'], reverse=True)


def trimmed(records: list[dict[str, Any]], params: dict[str, Any]) -> list[dict[str, Any]]:
    """`responsedata=a,b`: each record cut down to those top-level fields (guide 0.6)."""
    if not params.get('responsedata'):
        return records
    names = str(params['responsedata']).split(',')
    return [{name: record[name] for name in names if name in record} for record in records]


def capped(reply: list[dict[str, Any]], max_bytes: int | None, sizes: list[int]) -> list[dict[str, Any]]:
    """The reply, or the client's too_large error when it is more than `max_bytes`; `sizes` records what was read."""
    size, max_bytes = len(json.dumps(reply)), max_bytes or Darktrace.MAX_REPLY_BYTES
    sizes.append(min(size, max_bytes))
    if size > max_bytes:
        raise DarktraceApiError('too_large', f'more than {max_bytes} bytes')
    return reply
