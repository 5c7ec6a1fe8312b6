"""Property-based test of the Darktrace/Email fetch source: every email exactly once, whatever the appliance does.

An in-memory Darktrace/Email stands in for POST /emails/search so that hypothesis can try many fetch runs: random
reply orders, inclusive or exclusive window ends, emails tied in one millisecond (more than a page and than a run
takes), emails that become searchable minutes after their time (late analysis), emails still being analysed
(`in_progress`), random max_alerts, and failures injected at random requests (after which the platform keeps
lastRun and drops the run's incidents). Derandomized, like every hypothesis test here (conftest.py).
"""
from __future__ import annotations

import json
import random
from dataclasses import dataclass
from typing import Any

from hypothesis import HealthCheck, given, settings, strategies as st

import Darktrace
from Darktrace import DarktraceApiError, FetchSettings, fetch_incidents

MINUTE_MS = 60_000
HOUR_MS = 60 * MINUTE_MS
BASE_MS = 1_700_000_000_000


@dataclass
class Mail:
    uuid: str
    dtime_ms: int
    visible_ms: int  # searchable from then on (late analysis)
    settled_ms: int  # in_progress before then

    def as_hit(self, now_ms: int) -> dict[str, Any]:
        return {'uuid': self.uuid, 'dtime_unix': self.dtime_ms, 'model_score': 50, 'direction': 'inbound',
                'header_from_email': 'sender@example.net', 'header_subject': 'Hello',
                'in_progress': now_ms < self.settled_ms,
                'rcpts': [{'rcpt_to': 'a@example.com', 'rcpt_status': 'delivered', 'tags': ['Unlisted Tag']},
                          {'rcpt_to': 'b@example.com', 'rcpt_status': 'held', 'tags': ['Forged Address']}]}


class InMemoryEmail:
    """POST /emails/search over a list of emails: epoch-second windows, pages, an order and failures from a seed."""

    def __init__(self, mails: list[Mail], seed: int, inclusive_end: bool, failure_rate: float) -> None:
        self.mails = mails
        self.now_ms = BASE_MS
        self.random = random.Random(seed)
        self.inclusive_end = inclusive_end
        self.failure_rate = failure_rate
        self.server_url = 'https://dt.example'
        self.email_time_unit = 'seconds'
        self.read_bytes = 0  # what the client would count: the bytes of every reply

    def _reply(self, reply: list[dict[str, Any]]) -> list[dict[str, Any]]:
        self.read_bytes += len(json.dumps(reply))
        return reply

    def search_emails(self, body: dict[str, Any], max_bytes: int | None = None) -> list[dict[str, Any]]:
        self._maybe_fail()
        start_s, end_s = body['timeFrom'], body['timeTo']
        hits = [mail for mail in self.mails if mail.visible_ms <= self.now_ms
                and start_s <= mail.dtime_ms // 1000 and (mail.dtime_ms // 1000 <= end_s if self.inclusive_end
                                                          else mail.dtime_ms // 1000 < end_s)]
        hits.sort(key=lambda mail: (mail.dtime_ms, mail.uuid))
        # One order per window, as an appliance sorting on a field the client does not know would give.
        random.Random(start_s * 1_000_003 + end_s).shuffle(hits)
        page, size = body['page'], body['itemsPerPage']
        return self._reply([mail.as_hit(self.now_ms) for mail in hits[page * size:(page + 1) * size]])

    def get_email_tags(self) -> list[dict[str, Any]]:
        self._maybe_fail()
        return self._reply([{'name': 'Forged Address', 'status': 'critical', 'tag_id': 'fa'}])

    def _maybe_fail(self) -> None:
        if self.random.random() < self.failure_rate:
            raise DarktraceApiError('unavailable', 'Darktrace could not serve the request (HTTP 503).', 503)


mails_strategy = st.lists(st.tuples(
    st.integers(min_value=0, max_value=6 * HOUR_MS),  # dtime after BASE_MS - 6 h
    st.sampled_from([0, 0, 0, 30_000, 4 * MINUTE_MS, 9 * MINUTE_MS]),  # late analysis
    st.sampled_from([0, 0, 0, 2 * MINUTE_MS, 20 * MINUTE_MS]),  # analysis time
    st.integers(min_value=0, max_value=3),  # tie group: emails of one group share one millisecond
), min_size=1, max_size=120)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(specs=mails_strategy, tie_burst=st.integers(min_value=0, max_value=60), seed=st.integers(0, 10 ** 6),
       inclusive_end=st.booleans(), max_alerts=st.integers(min_value=1, max_value=60),
       failure_rate=st.sampled_from([0.0, 0.1, 0.3]))
def test_fetch_delivers_every_email_exactly_once(specs: list[tuple[int, int, int, int]], tie_burst: int, seed: int,
                                                 inclusive_end: bool, max_alerts: int, failure_rate: float) -> None:
    """
    Given an Email backlog with ties (emails sharing one millisecond, some groups larger than a page and a run),
          late-analysed and in-progress emails, a random reply order and window-end rule, and failing requests
    When fetch-incidents runs again and again (time passing between runs, lastRun kept after a failed run) until
         every email has settled and been searchable for a while
    Then each email became exactly one incident, with every recipient, and nothing was lost.
    """
    start = BASE_MS - 6 * HOUR_MS
    mails = [Mail(f'{index:08X}-0000-4000-8000-000000000000.1', start + (HOUR_MS * group if group else offset),
                  0, 0) for index, (offset, _, _, group) in enumerate(specs)]
    for mail, (_, late, analysis, _) in zip(mails, specs):
        mail.visible_ms, mail.settled_ms = mail.dtime_ms + late, mail.dtime_ms + analysis
    mails += [Mail(f'{index:08X}-1111-4000-8000-000000000000.1', start + 2 * HOUR_MS + 7, start + 2 * HOUR_MS + 7,
                   start) for index in range(tie_burst)]
    appliance = InMemoryEmail(mails, seed, inclusive_end, failure_rate)
    settings_ = FetchSettings(0.0, max_alerts, start - HOUR_MS, True, (Darktrace.FETCH_SOURCE_EMAIL,),
                              email=Darktrace.EmailFetchSettings(Darktrace.EmailQuery([])))
    appliance.now_ms = start
    last_run: dict[str, Any] = {}
    delivered: list[str] = []
    quiet_runs = 0
    horizon = max(max(mail.visible_ms, mail.settled_ms) for mail in mails) + Darktrace.EMAIL_OVERLAP_MS
    for _ in range(3000):
        appliance.now_ms += random.Random(seed + len(delivered)).choice((MINUTE_MS, 5 * MINUTE_MS, 20 * MINUTE_MS))
        try:
            next_run, incidents = fetch_incidents(appliance, last_run, settings_, appliance.now_ms)  # type: ignore
        except DarktraceApiError:
            continue  # the platform keeps the previous lastRun and creates no incident
        last_run = next_run
        delivered += [incident['dbotMirrorId'] for incident in incidents]
        assert all('2 recipients' in incident['name'] for incident in incidents)
        quiet_runs = quiet_runs + 1 if not incidents else 0
        if appliance.now_ms > horizon + HOUR_MS and quiet_runs >= 3:
            break
    assert len(delivered) == len(set(delivered)), 'an email became two incidents'
    assert set(delivered) == {mail.uuid for mail in mails}, 'an email was never fetched'
