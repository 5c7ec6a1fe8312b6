"""The dataset's AI Analyst incident events and groups."""
from __future__ import annotations

import bisect
import random
from typing import Any, Iterable

from emulator import catalog
from emulator.state.base import DAY_MS, HOUR_MS, MINUTE_MS, breach_device_record, uuid_from


class AIAnalystState:
    """AI Analyst incident events and groups, their comments, and the backlog of late events.

    A part of `Dataset` (dataset.py), which holds the state it reads and changes."""

    # ------------------------------------------------------------------ AI Analyst
    def _build_ai_analyst(self) -> None:
        rng = self._rng('aianalyst')
        categories = ('critical', 'critical', 'suspicious', 'suspicious', 'suspicious', 'compliance')
        for _ in range(10):
            group_id = f'g{uuid_from(rng)}'
            category = rng.choice(categories)
            group_score = round(rng.uniform(20, 100), 2)
            did = rng.choice(sorted(self.devices))
            group_start = self.anchor_ms - rng.randint(DAY_MS, 14 * DAY_MS)
            event_ids = []
            created = group_start
            for _ in range(rng.randint(1, 4)):
                event = self._incident_event(rng, group_id, category, group_score, did, created)
                self._add_event(event, created)
                event_ids.append(event['id'])
                created += rng.randint(10 * MINUTE_MS, 5 * HOUR_MS)
            events = [self.incidents[event_id] for event_id in event_ids]
            self.groups[group_id] = {
                'id': group_id, 'category': category, 'groupScore': group_score,
                'start': events[0]['periods'][0]['start'], 'end': max(e['periods'][-1]['end'] for e in events),
                'active': rng.random() < 0.7, 'userTriggered': False,
                'incidentEvents': event_ids, 'devices': [did], 'initialDevices': [did],
                'mitreTactics': sorted({t for e in events for t in e['mitreTactics']}),
                'previousIds': [], 'edges': [],
            }
            for event in events:
                if rng.random() < 0.3:
                    message = rng.choice(catalog.COMMENT_MESSAGES)
                    username = rng.choice(catalog.COMMENT_AUTHORS)
                    self.add_incident_comment(event['id'], message, username,
                                              min(self.anchor_ms, event['createdAt'] + rng.randint(MINUTE_MS, DAY_MS)))

    def _build_incident_backlog(self, count: int) -> None:
        """``count`` events spread over the span like the breaches, most alone in their incident."""
        rng = self._rng('aianalyst-backlog')
        span_ms = int(self.span_days * DAY_MS)
        start = self.anchor_ms - span_ms
        rows: list[list[int]] = []  # createdAt, publication delay, gap between activity end and createdAt
        while len(rows) < count:
            created = start + rng.randrange(span_ms + 1)
            size = 1 if rng.random() >= 0.04 else rng.randint(2, 4)  # same-millisecond ties
            for _ in range(min(size, count - len(rows))):
                draw = rng.random()
                # About 3% reach the API late; about 3% describe activity that ended hours before creation.
                delay = rng.randint(30 * MINUTE_MS, 3 * HOUR_MS) if draw < 0.03 else 0
                gap = rng.randint(2 * HOUR_MS, 8 * HOUR_MS) if 0.03 <= draw < 0.06 else rng.randint(0, 5 * MINUTE_MS)
                rows.append([created, delay, gap])
        if len(rows) >= 5:  # even a small backlog has a tie, a late event and an early activity
            rows[1][0] = rows[2][0] = rows[0][0]
            rows[3][1] = 2 * HOUR_MS
            rows[4][2] = 6 * HOUR_MS
        rows.sort()
        dids = sorted(self.devices)
        endpoints = sorted(self.endpoints)
        categories = ('critical', 'suspicious', 'suspicious', 'compliance', 'informational')
        for created, delay, gap in rows:
            title, summary = rng.choice(catalog.AI_ANALYST_TITLES)
            did = dids[rng.randrange(len(dids))]
            device = self.devices[did]
            category = rng.choice(categories)
            event_id = uuid_from(rng)
            group_id = f'g{event_id}'
            end = created - gap
            periods = [{'start': end - rng.randint(5 * MINUTE_MS, 2 * HOUR_MS), 'end': end}]
            if rng.random() < 0.1:
                periods.insert(0, {'start': periods[0]['start'] - rng.randint(2 * HOUR_MS, DAY_MS),
                                   'end': periods[0]['start'] - HOUR_MS})
            position = bisect.bisect_left(self._creation_keys, (created,))
            related = self._by_creation[max(0, position - 2):position]
            breach_device = breach_device_record(did, device)
            score = round(rng.uniform(5, 100), 1)
            event = {
                'id': event_id, 'acknowledged': rng.random() < 0.1, 'pinned': False, 'createdAt': created,
                'title': title, 'category': category, 'currentGroup': group_id, 'groupCategory': category,
                'groupScore': score, 'aiaScore': score,
                # Some appliances send a structured summary; most send text.
                'summary': summary if rng.random() >= 0.1 else {'text': summary, 'device': breach_device['identifier']},
                'mitreTactics': [rng.choice(catalog.MITRE_TACTICS)], 'breachDevices': [breach_device],
                'relatedBreaches': [{'modelName': self.models[b.pid].spec.name, 'pbid': b.pbid,
                                     'threatScore': round(b.score * 100, 1), 'timestamp': b.time} for b in related],
                'details': self._event_details(breach_device, endpoints[rng.randrange(len(endpoints))],
                                               rng.choice((443, 80, 8443))),
                'periods': periods, 'attackPhases': [rng.randint(1, 6)],
            }
            self.groups[group_id] = {
                'id': group_id, 'category': category, 'groupScore': score, 'start': periods[0]['start'],
                'end': end, 'active': False, 'userTriggered': False, 'incidentEvents': [event_id],
                'devices': [did], 'initialDevices': [did], 'mitreTactics': event['mitreTactics'],
                'previousIds': [], 'edges': [],
            }
            self._add_event(event, created + delay)

    def _add_event(self, event: dict[str, Any], published: int) -> None:
        event_id = event['id']
        if event_id in self.incidents:
            old = self.incidents[event_id]
            self._event_keys.pop(bisect.bisect_left(self._event_keys, (old['createdAt'], event_id)))
        self.incidents[event_id] = event
        bisect.insort(self._event_keys, (event['createdAt'], event_id))
        self._event_published[event_id] = published
        for period in event.get('periods') or []:
            self._event_lead_ms = max(self._event_lead_ms, event['createdAt'] - period['start'])
            self._event_trail_ms = max(self._event_trail_ms, period['end'] - event['createdAt'])

    def set_incident_flag(self, event_ids: list[str], flag: str, value: bool, when: int) -> None:
        """Acknowledge, unacknowledge, pin or unpin incident events (`flag` 'acknowledged' or 'pinned')."""
        for event_id in event_ids:
            self.incidents[event_id][flag] = value
            self.mark_changed('event', event_id, when)

    def add_incident_comment(self, event_id: str, message: str, username: str, when: int) -> dict[str, Any]:
        """A comment on an AI Analyst event, in the reply's shape (guide 2.9); its id is kept apart, as the API
        shows none."""
        self._comment_seq += 1
        comment = {'message': message, 'username': username, 'time': when}
        self.incident_comments.setdefault(event_id, []).append(comment)
        self.incident_comment_ids.setdefault(event_id, []).append(self._comment_seq)
        self.mark_changed('event', event_id, when)
        return comment

    def delete_incident_event(self, event_id: str, when: int) -> None:
        """Remove an AI Analyst event (and its incident once it holds no other): lists leave it out, reads by
        uuid find nothing, its comments and acknowledgement answer 404."""
        event = self.incidents.pop(event_id)
        self._event_keys.pop(bisect.bisect_left(self._event_keys, (event['createdAt'], event_id)))
        self._event_published.pop(event_id, None)
        self.incident_comments.pop(event_id, None)
        group = self.groups.get(event.get('currentGroup'))
        if group is not None:
            group['incidentEvents'] = [other for other in group['incidentEvents'] if other != event_id]
            if not group['incidentEvents']:
                del self.groups[group['id']]
        self.deleted[('event', event_id)] = when
        self.mark_changed('event', event_id, when)

    def event_visible(self, event_id: str, now_ms: int) -> bool:
        return event_id in self.incidents and self._event_published[event_id] <= now_ms

    def incident_events_between(self, start: int, end: int, *, on_periods: bool = False, inclusive: bool = True,
                                now_ms: int | None = None) -> list[dict[str, Any]]:
        """Visible events whose createdAt (or one of whose activity periods) is in the window, ascending by
        (createdAt, id). ``inclusive`` makes both bounds inclusive; otherwise both are exclusive."""
        if inclusive:
            def within(low: int, high: int) -> bool:
                return low <= end and high >= start
        else:
            def within(low: int, high: int) -> bool:
                return low < end and high > start
        if on_periods:  # a period lies within [createdAt - lead, createdAt + trail]
            low_key, high_key = start - self._event_trail_ms, end + self._event_lead_ms
        else:
            low_key, high_key = start, end
        lo = bisect.bisect_left(self._event_keys, (low_key,))
        hi = bisect.bisect_left(self._event_keys, (high_key + 1,))
        found = []
        for created, event_id in self._event_keys[lo:hi]:
            event = self.incidents[event_id]
            if now_ms is not None and self._event_published[event_id] > now_ms:
                continue
            if on_periods:
                if not any(within(period['start'], period['end']) for period in event.get('periods') or []):
                    continue
            elif not within(created, created):
                continue
            found.append(event)
        return found

    def add_incident_events(self, records: Iterable[dict[str, Any]], now_ms: int) -> list[str]:
        """Add AI Analyst events (API shape; ``publishedAt`` is when one reaches the API, default its createdAt).
        Missing fields get defaults; a new event is its own incident. Returns the ids."""
        ids = []
        for record in records:
            record = dict(record)
            published = record.pop('publishedAt', None)
            created = int(record.get('createdAt', now_ms))
            event_id = str(record.get('id') or uuid_from(random.Random(f'{self.seed}:event:{len(self.incidents)}')))
            did = int(record.get('did', min(self.devices)))
            device = self.devices.get(did, {'did': did, 'ip': '10.0.0.1'})
            event = {'id': event_id, 'acknowledged': False, 'pinned': False, 'createdAt': created,
                     'title': 'Unusual Activity', 'category': 'suspicious', 'currentGroup': f'g{event_id}',
                     'groupCategory': 'suspicious', 'groupScore': 50.0, 'aiaScore': 50.0,
                     'summary': 'The device behaved unusually.', 'mitreTactics': [],
                     'breachDevices': [{'did': did, 'ip': device['ip'], 'hostname': device.get('hostname')}],
                     'relatedBreaches': [], 'details': [], 'periods': [{'start': created - HOUR_MS, 'end': created}]}
            event.update({key: value for key, value in record.items() if key != 'did'})
            self.groups.setdefault(event['currentGroup'], {
                'id': event['currentGroup'], 'category': event['category'], 'groupScore': event['groupScore'],
                'start': min(p['start'] for p in event['periods']), 'end': max(p['end'] for p in event['periods']),
                'active': True, 'userTriggered': False, 'incidentEvents': [event_id], 'devices': [did],
                'initialDevices': [did], 'mitreTactics': event['mitreTactics'], 'previousIds': [], 'edges': []})
            self._add_event(event, created if published is None else int(published))
            ids.append(event_id)
        return ids

    def add_incident_event_burst(self, count: int, created_ms: int, now_ms: int) -> list[str]:
        """``count`` AI Analyst events created in one millisecond, each its own incident. Returns the ids."""
        return self.add_incident_events(({'id': f'burst-{created_ms}-{n:05d}', 'createdAt': created_ms}
                                         for n in range(count)), now_ms)

    def _event_details(self, breach_device: dict[str, Any], endpoint: str, port: int) -> list[list[dict[str, Any]]]:
        return [[
            {'header': 'Breaching Device', 'contents': [
                {'key': None, 'type': 'device', 'values': [breach_device]}]},
            {'header': 'Connection Details', 'contents': [
                {'key': 'Destination', 'type': 'externalHost', 'values': [
                    {'hostname': endpoint, 'ip': self.endpoints[endpoint]['ip']}]},
                {'key': 'Destination port', 'type': 'integer', 'values': [port]}]},
        ]]

    def _incident_event(self, rng: random.Random, group_id: str, category: str, group_score: float,
                        did: int, created: int) -> dict[str, Any]:
        title, summary = rng.choice(catalog.AI_ANALYST_TITLES)
        device = self.devices[did]
        earlier = self.breaches_between(created - DAY_MS, created, now_ms=self.anchor_ms)
        related = [b for b in earlier if b.did == did][:3] or earlier[:2]
        start = created - rng.randint(10 * MINUTE_MS, 3 * HOUR_MS)
        endpoint = rng.choice(sorted(self.endpoints))
        breach_device = breach_device_record(did, device)
        return {
            'id': uuid_from(rng), 'acknowledged': rng.random() < 0.15, 'pinned': rng.random() < 0.1,
            'createdAt': created, 'title': title, 'category': category,
            'currentGroup': group_id, 'groupCategory': category, 'groupScore': group_score,
            'aiaScore': round(rng.uniform(10, 100), 2), 'summary': summary,
            'mitreTactics': rng.sample(catalog.MITRE_TACTICS, rng.randint(1, 2)),
            'breachDevices': [breach_device],
            'relatedBreaches': [{'modelName': self.models[b.pid].spec.name, 'pbid': b.pbid,
                                 'threatScore': round(b.score * 100, 1), 'timestamp': b.time} for b in related],
            'details': self._event_details(breach_device, endpoint, rng.choice((443, 80, 8443))),
            'periods': [{'start': start, 'end': created}],
            'attackPhases': [rng.randint(1, 6)],
        }
