"""The dataset's models, model breaches and breach comments."""
from __future__ import annotations

import bisect
import random
from dataclasses import dataclass
from typing import Any, Iterable

from emulator import catalog
from emulator.state.base import DAY_MS, HOUR_MS, MINUTE_MS, PBID_BASE, mix


# Trigger-value pools drawn straight from a catalog list.
_CATALOG_POOLS: dict[str, tuple[Any, ...]] = {
    'port': tuple(catalog.PORTS), 'credential': tuple(catalog.CREDENTIAL_NAMES),
    'user_agent': tuple(catalog.USER_AGENTS), 'mime': tuple(catalog.MIME_TYPES), 'ja3': tuple(catalog.JA3_HASHES),
    'issuer': tuple(catalog.CERT_ISSUERS), 'share': tuple(catalog.SHARES),
}


class Breach:
    """One model breach; ``extra`` holds fields of an added breach that override the rendering."""
    __slots__ = ('pbid', 'time', 'creation_time', 'score', 'pid', 'did', 'acknowledged', 'extra')

    def __init__(self, pbid: int, time: int, creation_time: int, score: float, pid: int, did: int,
                 acknowledged: bool = False, extra: dict[str, Any] | None = None) -> None:
        self.pbid = pbid
        self.time = time
        self.creation_time = creation_time
        self.score = score
        self.pid = pid
        self.did = did
        self.acknowledged = acknowledged
        self.extra = extra

    def __repr__(self) -> str:
        return (f'Breach(pbid={self.pbid}, time={self.time}, creation_time={self.creation_time}, '
                f'score={self.score}, pid={self.pid}, did={self.did}, acknowledged={self.acknowledged})')


@dataclass
class ModelVersion:
    valid_from: int
    phid: int
    priority: int
    modified: int


@dataclass
class Model:
    pid: int
    uuid: str
    spec: catalog.ModelSpec
    cids: list[int]
    versions: list[ModelVersion]

    def version_at(self, time_ms: int | None) -> ModelVersion:
        """The definition in force at ``time_ms`` (None = the current one)."""
        if time_ms is None:
            return self.versions[-1]
        chosen = self.versions[0]
        for version in self.versions:
            if version.valid_from <= time_ms:
                chosen = version
        return chosen


@dataclass
class Comment:
    pbid: int
    message: str
    username: str
    time: int
    seq: int


def _has_foreign_model(model: Any, pid: int) -> bool:
    """True when an added breach carries model fields beyond identifying a known model."""
    if not isinstance(model, dict):
        return True
    for part in (model.get('then'), model.get('now')):
        if isinstance(part, dict) and set(part) - {'pid', 'uuid', 'name'}:
            return True
    return set(model) - {'then', 'now', 'pid', 'uuid'} != set()


def _filter_argument(pool: str) -> str:
    return {'watched': '.*', 'rare_hostname': '.*', 'rarity': '95', 'port': '22,23,445,3389'}.get(pool, '.*')


class BreachState:
    """Models and components, model breaches (two sorted indexes) and their comments.

    A part of `Dataset` (dataset.py), which holds the state it reads and changes."""

    # ------------------------------------------------------------------ models and components
    def _build_models(self) -> None:
        rng = self._rng('models')
        metric_ids: dict[str, int] = {}
        next_cid = 2_001
        span_ms = int(self.span_days * DAY_MS)
        for index, spec in enumerate(catalog.MODELS):
            pid = 301 + index * 3
            uuid = f'80010119-6d7f-0000-0305-5e{pid:010d}'
            base_phid = 8_000 + index * 17
            cids = []
            for component in spec.components:
                mlid = metric_ids.setdefault(component.metric, len(metric_ids) + 1)
                cid = next_cid
                next_cid += rng.randint(1, 5)
                cids.append(cid)
                self.components[cid] = self._component(cid, mlid, component, rng)
            created = self.anchor_ms - rng.randint(200, 900) * DAY_MS
            versions = [ModelVersion(valid_from=created, phid=base_phid, priority=spec.priority, modified=created)]
            if rng.random() < 0.35:
                changed = self.anchor_ms - int(span_ms * rng.uniform(0.2, 0.8))
                versions[0].priority = max(0, spec.priority - 1) if spec.category != 'Critical' else spec.priority
                versions.append(ModelVersion(valid_from=changed, phid=base_phid + 1, priority=spec.priority,
                                             modified=changed))
            model = Model(pid=pid, uuid=uuid, spec=spec, cids=cids, versions=versions)
            self.models[pid] = model
            self.models_by_uuid[uuid] = model

    @staticmethod
    def _component(cid: int, mlid: int, component: catalog.MetricFilter, rng: random.Random) -> dict[str, Any]:
        filters = [{'id': 'A', 'cfid': cid * 10 + 1, 'filtertype': component.filter_type,
                    'comparator': component.comparator, 'arguments': {'value': _filter_argument(component.pool)}},
                   {'id': 'B', 'cfid': cid * 10 + 2, 'filtertype': 'Direction', 'comparator': 'is',
                    'arguments': {'value': 'out'}}]
        return {'cid': cid, 'chid': cid + 10_000 + rng.randint(0, 99), 'mlid': mlid,
                'threshold': component.threshold, 'interval': component.interval,
                'logic': {'data': {'left': 'A', 'operator': 'AND', 'right': 'B'}, 'version': 'v0.1'},
                'filters': filters, 'active': True,
                'metric': {'mlid': mlid, 'name': component.metric, 'label': component.label}}

    def trigger_value(self, pool: str, pbid: int) -> str:
        """The value a breach's filter matched; varies with pbid, fixed for a given pbid."""
        h = mix(self.seed, pbid, 7)
        if pool == 'watched':
            names = sorted(self.watched) or ['cats.com']
            return names[h % len(names)]
        if pool in ('rare_hostname', 'hostname'):
            rare = [e['hostname'] for e in self.endpoints.values() if e['rarity'] >= 85] or ['cats.com']
            return rare[h % len(rare)]
        if pool == 'external_ip':
            return list(self.endpoints_by_ip)[h % len(self.endpoints_by_ip)]
        if pool == 'rarity':
            return str(95 + h % 6)
        if pool in _CATALOG_POOLS:
            values = _CATALOG_POOLS[pool]
            return str(values[h % len(values)])
        if pool == 'tag':
            return 'Re-Activated Device'
        if pool == 'beacon':
            return str(80 + h % 21)
        return catalog.MODELS[h % len(catalog.MODELS)].name

    # ------------------------------------------------------------------ breaches
    def _build_breaches(self, count: int) -> None:
        rng = self._rng('breaches')
        span_ms = int(self.span_days * DAY_MS)
        start = self.anchor_ms - span_ms
        pids = sorted(self.models)
        cum_weights: list[int] = []
        running = 0
        for pid in pids:
            running += self.models[pid].spec.weight
            cum_weights.append(running)
        dids = sorted(self.devices)
        rows: list[list[Any]] = []
        randrange, rand, choices, randint = rng.randrange, rng.random, rng.choices, rng.randint
        while len(rows) < count:
            time_ms = start + randrange(span_ms + 1)
            # About 3% of alert records are created hours after the activity they describe.
            delay = randint(HOUR_MS, 6 * HOUR_MS) if rand() < 0.03 else randint(1_000, 30_000)
            size = 1 if rand() >= 0.04 else randint(2, 4)
            for _ in range(min(size, count - len(rows))):
                draw = rand()
                score = 0.0 if draw < 0.02 else 1.0 if draw > 0.98 else round(rand() ** 1.3, 3)
                pid = choices(pids, cum_weights=cum_weights)[0]
                rows.append([time_ms, time_ms + delay, score, pid, dids[randrange(len(dids))], rand() < 0.1])
        self._guarantee_edge_cases(rows, rng)
        rows.sort(key=lambda row: (row[1], row[0]))
        for offset, (time_ms, creation, score, pid, did, acknowledged) in enumerate(rows):
            pbid = PBID_BASE + offset
            self.breaches[pbid] = Breach(pbid, time_ms, creation, score, pid, did, acknowledged)
        self._by_time = sorted(self.breaches.values(), key=lambda b: (b.time, b.pbid))
        self._time_keys = [(b.time, b.pbid) for b in self._by_time]
        self._by_creation = list(self.breaches.values())  # already in (creationTime, pbid) order
        self._creation_keys = [(b.creation_time, b.pbid) for b in self._by_creation]
        self._build_comments(rng)

    def _guarantee_edge_cases(self, rows: list[list[Any]], rng: random.Random) -> None:
        """Make sure even a small dataset has a tie, a late record, and the scores 0 and 1."""
        if len(rows) >= 3:
            rows[1][0], rows[1][1] = rows[0][0], rows[0][1]
            rows[2][0], rows[2][1] = rows[0][0], rows[0][1]
        if len(rows) >= 5:
            rows[3][2] = 0.0
            rows[4][2] = 1.0
        if len(rows) >= 6:
            rows[5][1] = rows[5][0] + rng.randint(2 * HOUR_MS, 5 * HOUR_MS)

    def _build_comments(self, rng: random.Random) -> None:
        for breach in self._by_creation:
            if breach.creation_time > self.anchor_ms or rng.random() >= 0.04:
                continue
            for _ in range(rng.randint(1, 2)):
                when = min(self.anchor_ms, breach.creation_time + rng.randint(5 * MINUTE_MS, 2 * DAY_MS))
                self.add_comment(breach.pbid, rng.choice(catalog.COMMENT_MESSAGES),
                                 rng.choice(catalog.COMMENT_AUTHORS), when)

    @property
    def breach_count(self) -> int:
        return len(self.breaches)

    def get_breach(self, pbid: int, now_ms: int | None = None) -> Breach | None:
        breach = self.breaches.get(pbid)
        if breach is None or (now_ms is not None and breach.creation_time > now_ms):
            return None
        return breach

    def breaches_between(self, start: int | None, end: int | None, *, on_creation: bool = False,
                         inclusive: bool = True, now_ms: int | None = None) -> list[Breach]:
        """Visible breaches whose time (or creationTime) is in the window, ascending by (key, pbid).

        ``inclusive`` makes both bounds inclusive; otherwise both are exclusive.
        """
        keys, items = (self._creation_keys, self._by_creation) if on_creation else (self._time_keys, self._by_time)
        lo = 0 if start is None else bisect.bisect_left(keys, ((start if inclusive else start + 1),))
        hi = len(keys) if end is None else bisect.bisect_left(keys, ((end + 1 if inclusive else end),))
        if on_creation and now_ms is not None:
            hi = min(hi, bisect.bisect_left(keys, (now_ms + 1,)))
            return items[lo:hi]
        window = items[lo:hi]
        if now_ms is None:
            return window
        return [breach for breach in window if breach.creation_time <= now_ms]

    def add_breaches(self, records: Iterable[dict[str, Any]], now_ms: int) -> list[int]:
        """Add full or partial breach dicts (API shape); missing fields get defaults. Returns pbids."""
        pbids = []
        for record in records:
            breach = self._breach_from_record(dict(record), now_ms)
            if breach.pbid in self.breaches:
                self._unindex(self.breaches[breach.pbid])
            self.breaches[breach.pbid] = breach
            self._index(breach)
            pbids.append(breach.pbid)
        return pbids

    def _breach_from_record(self, record: dict[str, Any], now_ms: int) -> Breach:
        pbid = int(record.pop('pbid', 0) or 0) or max(self.breaches, default=PBID_BASE - 1) + 1
        time_ms = int(record.pop('time', now_ms))
        creation = int(record.pop('creationTime', time_ms))
        score = float(record.pop('score', 0.5))
        record.pop('percentscore', None)
        record.pop('commentCount', None)
        acknowledged = bool(record.pop('acknowledged', False))
        pid = self._pid_of(record)
        did = self._did_of(record)
        if pid not in self.models and not isinstance(record.get('model'), dict):
            raise ValueError(f'unknown model pid {pid}: give a "model" object for a model the dataset lacks')
        if did not in self.devices and not isinstance(record.get('device'), dict):
            raise ValueError(f'unknown device did {did}: give a "device" object for a device the dataset lacks')
        if 'model' in record and pid in self.models and not _has_foreign_model(record['model'], pid):
            record.pop('model')
        if 'device' in record and did in self.devices and set(record['device']) <= {'did'}:
            record.pop('device')
        return Breach(pbid, time_ms, creation, score, pid, did, acknowledged, record or None)

    def _pid_of(self, record: dict[str, Any]) -> int:
        model = record.get('model')
        if isinstance(model, dict):
            version = model.get('then') or model.get('now') or model
            if isinstance(version, dict):
                if 'pid' in version:
                    return int(version['pid'])
                if version.get('uuid') in self.models_by_uuid:
                    return self.models_by_uuid[version['uuid']].pid
        if 'pid' in record:
            return int(record.pop('pid'))
        return min(self.models)

    def _did_of(self, record: dict[str, Any]) -> int:
        device = record.get('device')
        if isinstance(device, dict) and 'did' in device:
            return int(device['did'])
        if 'did' in record:
            return int(record.pop('did'))
        return min(self.devices)

    def _index(self, breach: Breach) -> None:
        position = bisect.bisect_left(self._time_keys, (breach.time, breach.pbid))
        self._time_keys.insert(position, (breach.time, breach.pbid))
        self._by_time.insert(position, breach)
        position = bisect.bisect_left(self._creation_keys, (breach.creation_time, breach.pbid))
        self._creation_keys.insert(position, (breach.creation_time, breach.pbid))
        self._by_creation.insert(position, breach)

    def _unindex(self, breach: Breach) -> None:
        position = bisect.bisect_left(self._time_keys, (breach.time, breach.pbid))
        del self._time_keys[position], self._by_time[position]
        position = bisect.bisect_left(self._creation_keys, (breach.creation_time, breach.pbid))
        del self._creation_keys[position], self._by_creation[position]

    def set_acknowledged(self, pbid: int, acknowledged: bool, when: int | None = None) -> None:
        self.breaches[pbid].acknowledged = acknowledged
        self.mark_changed('breach', pbid, when)

    def delete_breach(self, pbid: int, when: int) -> None:
        """Remove a breach from the appliance, as an expiry or an administrator does: every route then answers
        404 for it, lists and the comment feed leave it out."""
        breach = self.breaches.pop(pbid)
        self._unindex(breach)
        self.deleted[('breach', pbid)] = when
        self.mark_changed('breach', pbid, when)

    # ------------------------------------------------------------------ breach comments
    def add_comment(self, pbid: int, message: str, username: str, when: int) -> Comment:
        self._comment_seq += 1
        comment = Comment(pbid=pbid, message=message, username=username, time=when, seq=self._comment_seq)
        self.comments.setdefault(pbid, []).append(comment)
        position = bisect.bisect_left(self._comment_keys, (when, comment.seq))
        self._comment_keys.insert(position, (when, comment.seq))
        self._comment_timeline.insert(position, comment)
        self.mark_changed('breach', pbid, when)
        return comment

    def comments_between(self, start: int | None, end: int | None) -> list[Comment]:
        lo = 0 if start is None else bisect.bisect_left(self._comment_keys, (start,))
        hi = len(self._comment_keys) if end is None else bisect.bisect_left(self._comment_keys, (end + 1,))
        return self._comment_timeline[lo:hi]

    def add_breach_burst(self, count: int, created_ms: int, now_ms: int) -> list[int]:
        """``count`` breaches created in one millisecond, as a model firing on a whole subnet records them: one
        model, consecutive devices, consecutive pbids. Returns the pbids."""
        dids = sorted(self.devices)
        first = max(self.breaches, default=PBID_BASE - 1) + 1
        return self.add_breaches(({'pbid': first + n, 'time': created_ms - 1000, 'creationTime': created_ms,
                                   'score': 0.6, 'did': dids[n % len(dids)]} for n in range(count)), now_ms)
