"""Seeded, deterministic state of the emulated appliance.

Everything a route reads or changes lives here: subnets, devices, tags and tag links, models
and components, external endpoints, the watched list (intel feed), model breaches and their
comments, AI Analyst incident events and groups, and Autonomous Response actions. Connection
history, notices, Advanced Search logs and hourly graph data are derived on demand from a hash
of (seed, device, hour), so they are deterministic without being stored.

Model breaches are kept in two indexes sorted by ``(time, pbid)`` and ``(creationTime, pbid)``;
a window query is two bisections and a slice, never a scan of every breach. A breach is visible
only once ``creationTime <= now`` on the appliance clock.

AI Analyst incident events are indexed by ``(createdAt, id)`` the same way. An event is visible
once its publication time has passed: usually its ``createdAt``, but a few reach the API late,
after events created later. A backlog of ``incident_events`` more events, spread like the
breaches, holds such late events, events whose activity periods end hours before their creation,
and events sharing a ``createdAt`` millisecond.

The JSON shapes of the replies are not built here: see views.py.
"""
from __future__ import annotations

import bisect
import random
import threading
import time as time_module
from dataclasses import dataclass, field
from typing import Any, Iterable

from emulator import catalog, clock, respond
from emulator.respond import AntigenaAction  # noqa: F401 (re-exported for views)

MINUTE_MS = 60_000
HOUR_MS = 3_600_000
DAY_MS = 86_400_000
GRAPH_HOURS = 28 * 24
DEVICE_COUNT = 60
PBID_BASE = 10_001
TID_BASE = 50
TEID_BASE = 200
SPECIAL_GROUP_DIDS = (-3, -4, -5, -6)
DATATYPE_CODES = {'co': 1, 'sizeout': 2, 'sizein': 3}

_MASK64 = (1 << 64) - 1


def mix(*values: int) -> int:
    """A 64-bit splitmix-style hash: cheap determinism for data derived per device and hour."""
    state = 0x9E3779B97F4A7C15
    for value in values:
        state = ((state ^ (value & _MASK64)) * 0xBF58476D1CE4E5B9) & _MASK64
        state ^= state >> 31
        state = (state * 0x94D049BB133111EB) & _MASK64
        state ^= state >> 29
    return state


# Trigger-value pools drawn straight from a catalog list.
_CATALOG_POOLS: dict[str, tuple[Any, ...]] = {
    'port': tuple(catalog.PORTS), 'credential': tuple(catalog.CREDENTIAL_NAMES),
    'user_agent': tuple(catalog.USER_AGENTS), 'mime': tuple(catalog.MIME_TYPES), 'ja3': tuple(catalog.JA3_HASHES),
    'issuer': tuple(catalog.CERT_ISSUERS), 'share': tuple(catalog.SHARES),
}


def floor_to(ms: int, unit_ms: int) -> int:
    return ms - ms % unit_ms


def _uuid_from(rng: random.Random) -> str:
    text = f'{rng.getrandbits(128):032x}'
    return f'{text[:8]}-{text[8:12]}-4{text[13:16]}-{text[16:20]}-{text[20:32]}'


def _breach_device(did: int, device: dict[str, Any]) -> dict[str, Any]:
    """How an AI Analyst event names a device it involves."""
    # guide 2.5: breachDevices[{identifier, hostname, ip, mac, subnet, did, sid}]
    breach_device = {'did': did, 'ip': device['ip'], 'sid': device['sid'],
                     'identifier': device.get('hostname', device['ip'])}
    if 'hostname' in device:
        breach_device['hostname'] = device['hostname']
    if 'macaddress' in device:
        breach_device['mac'] = device['macaddress']
    return breach_device


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


@dataclass
class TagLink:
    teid: int
    tid: int
    did: int
    expiry: int  # 0 = never


@dataclass
class WatchedEntry:
    """One watched name; it may belong to several sources (guide 2.26), its details shared by all of them."""
    name: str
    description: str
    expiry: str | None
    strength: int
    iagn: bool
    sources: list[str]
    hostname: bool


class Dataset:
    """The appliance's state, generated from ``seed`` with breaches spread over ``span_days``
    ending at ``anchor_ms`` (default: now, floored to the minute)."""

    def __init__(self, breaches: int = 500, span_days: float = 7, seed: int = 1,
                 anchor_ms: int | None = None, incident_events: int = 0) -> None:
        if breaches < 0:
            raise ValueError('breaches must be >= 0')
        if incident_events < 0:
            raise ValueError('incident_events must be >= 0')
        if span_days <= 0:
            raise ValueError('span_days must be > 0')
        self.seed = seed
        self.span_days = span_days
        self.anchor_ms = floor_to(clock.host_ms(), MINUTE_MS) if anchor_ms is None else int(anchor_ms)
        # One lock for the whole state: handlers are short, and readers must not see half an update.
        self.lock = threading.RLock()
        self.subnets: dict[int, dict[str, Any]] = {int(s['sid']): dict(s) for s in catalog.SUBNETS}
        self.devices: dict[int, dict[str, Any]] = {}
        self.similar: dict[int, list[tuple[int, int]]] = {}
        self.tags: dict[int, dict[str, Any]] = {}
        self.tag_links: dict[int, TagLink] = {}
        self.endpoints: dict[str, dict[str, Any]] = {}
        self.endpoints_by_ip: dict[str, dict[str, Any]] = {}
        self.models: dict[int, Model] = {}
        self.models_by_uuid: dict[str, Model] = {}
        self.components: dict[int, dict[str, Any]] = {}
        self.watched: dict[str, WatchedEntry] = {}
        self.breaches: dict[int, Breach] = {}
        self._time_keys: list[tuple[int, int]] = []
        self._by_time: list[Breach] = []
        self._creation_keys: list[tuple[int, int]] = []
        self._by_creation: list[Breach] = []
        self.comments: dict[int, list[Comment]] = {}
        self._comment_keys: list[tuple[int, int]] = []
        self._comment_timeline: list[Comment] = []
        self._comment_seq = 0
        self.incidents: dict[str, dict[str, Any]] = {}
        self.groups: dict[str, dict[str, Any]] = {}
        self.incident_comments: dict[str, list[dict[str, Any]]] = {}
        # What mirroring works from. The API shows no change time, comment id or deletion (guide 2.31, 2.27, 2.9:
        # no such keys), so these are kept beside the records: for tests and benchmarks to know what truly changed.
        self.changed_at: dict[tuple[str, Any], int] = {}  # ('breach', pbid) or ('event', id) -> last change, ms
        self.deleted: dict[tuple[str, Any], int] = {}  # records removed from the appliance -> when
        self.incident_comment_ids: dict[str, list[int]] = {}  # beside incident_comments, one id per comment
        self._event_keys: list[tuple[int, str]] = []  # (createdAt, id), sorted
        self._event_published: dict[str, int] = {}  # when each event reaches the API
        # How far activity periods reach before (lead) and after (trail) createdAt, to bound period searches.
        self._event_lead_ms = 0
        self._event_trail_ms = 0
        self.antigena: dict[int, AntigenaAction] = {}
        self._build_devices()
        self._build_tags()
        self._build_endpoints()
        self._build_models()
        self._build_watched()
        self._build_breaches(breaches)
        self._build_ai_analyst()
        self._build_incident_backlog(incident_events)
        self._build_antigena()

    def _rng(self, part: str) -> random.Random:
        # A generator per part, so changing the breach count leaves the devices unchanged.
        return random.Random(f'{self.seed}:{part}')

    # ------------------------------------------------------------------ devices
    def _build_devices(self) -> None:
        rng = self._rng('devices')
        kinds = catalog.DEVICE_KINDS
        weights = [kind.weight for kind in kinds]
        next_host = {int(s['sid']): 10 for s in catalog.SUBNETS}
        used_names: dict[str, int] = {}
        for did in range(1, DEVICE_COUNT + 1):
            kind = kinds[did - 1] if did <= len(kinds) else rng.choices(kinds, weights)[0]
            sid = kind.sid
            next_host[sid] += rng.randint(1, 4)
            ip = f'{self.subnets[sid]["prefix"]}{next_host[sid]}'
            last_seen = self.anchor_ms - rng.randint(0, 6 * HOUR_MS)
            if rng.random() < 0.1:
                last_seen = self.anchor_ms - rng.randint(3 * DAY_MS, 20 * DAY_MS)
            first_seen = last_seen - rng.randint(20 * DAY_MS, 400 * DAY_MS)
            device: dict[str, Any] = {'did': did, 'ip': ip, 'ips': [], 'sid': sid}
            hostname = self._hostname_for(kind, rng, used_names)
            if hostname:
                device['hostname'] = hostname
            device['firstSeen'] = first_seen
            device['lastSeen'] = last_seen
            os_name = rng.choice(kind.oses)
            if os_name:
                device['os'] = os_name
            device['typename'] = kind.typename
            device['typelabel'] = kind.typelabel
            vendor = rng.choice(kind.vendors)
            if vendor or rng.random() < 0.5:
                device['macaddress'] = ':'.join(f'{rng.randrange(256) & (0xFC if i == 0 else 0xFF):02x}'
                                                for i in range(6))
            if vendor:
                device['vendor'] = vendor
            if rng.random() < 0.25:
                device['devicelabel'] = rng.choice(catalog.DEVICE_LABELS)
            if kind.typename in ('server', 'dnsserver', 'firewall'):
                device['priority'] = rng.randint(3, 5)
            else:
                device['priority'] = rng.choice((0, 0, 0, 0, 1, -1, 2))
            if kind.typename in ('desktop', 'laptop'):
                device['credentials'] = [rng.choice(catalog.CREDENTIAL_NAMES)]
            elif kind.typename == 'server' and rng.random() < 0.5:
                device['credentials'] = ['svc-backup']
            ips = [{'ip': ip, 'timems': last_seen, 'time': format_time(last_seen), 'sid': sid}]
            if kind.typename in ('laptop', 'mobile') and rng.random() < 0.5:
                old_ip = f'{self.subnets[sid]["prefix"]}{rng.randint(150, 250)}'
                old_time = last_seen - rng.randint(DAY_MS, 10 * DAY_MS)
                ips.append({'ip': old_ip, 'timems': old_time, 'time': format_time(old_time), 'sid': sid})
            device['ips'] = ips
            self.devices[did] = device
        for did, device in self.devices.items():
            self.similar[did] = self._similarity_ranking(device, rng)

    @staticmethod
    def _hostname_for(kind: catalog.DeviceKind, rng: random.Random, used: dict[str, int]) -> str:
        if kind.typename in ('mobile', 'iot', 'camera') and rng.random() < 0.3:
            return ''
        stem = rng.choice(kind.hostname_stems)
        used[stem] = used.get(stem, 0) + 1
        if kind.typename == 'mobile':
            return f'{stem}-{rng.getrandbits(16):04x}'
        if kind.typename == 'laptop' and used[stem] == 1:
            return stem
        name = f'{stem}{used[stem]:02d}' if kind.typename in ('server', 'dnsserver', 'firewall') \
            else f'{stem}-{used[stem]:02d}'
        if kind.typename in ('server', 'dnsserver', 'desktop') and rng.random() < 0.5:
            name += '.corp.example'
        return name

    def _similarity_ranking(self, device: dict[str, Any], rng: random.Random) -> list[tuple[int, int]]:
        ranking = []
        for other_did, other in self.devices.items():
            if other_did == device['did']:
                continue
            score = 80 if other['typename'] == device['typename'] else 20
            score += 8 if other['sid'] == device['sid'] else 0
            score += 5 if other.get('vendor') and other.get('vendor') == device.get('vendor') else 0
            score += rng.randint(-10, 6)
            ranking.append((other_did, max(1, min(99, score))))
        ranking.sort(key=lambda item: (-item[1], item[0]))
        return ranking[:15]

    def device_tags(self, did: int, now_ms: int) -> list[dict[str, Any]]:
        tids = [link.tid for link in self.tag_links.values()
                if link.did == did and (link.expiry == 0 or link.expiry > now_ms)]
        return [self.tags[tid] for tid in sorted(set(tids)) if tid in self.tags]

    # ------------------------------------------------------------------ tags
    def _build_tags(self) -> None:
        rng = self._rng('tags')
        for index, (name, description, color, referenced) in enumerate(catalog.TAGS):
            tid = TID_BASE + index
            self.tags[tid] = {
                'tid': tid, 'expiry': 0, 'thid': tid + 13, 'name': name, 'restricted': False,
                'data': {'auto': False, 'color': color, 'description': description, 'visibility': 'Public'},
                'isReferenced': referenced,
            }
        by_kind: dict[str, list[int]] = {}
        for did, device in self.devices.items():
            by_kind.setdefault(device['typename'], []).append(did)
        inactive = [did for did, d in self.devices.items() if d['lastSeen'] < self.anchor_ms - 2 * DAY_MS]
        workstations = by_kind.get('desktop', []) + by_kind.get('laptop', [])
        plan: list[tuple[str, list[int]]] = [
            ('Active Threat', rng.sample(sorted(self.devices), 3)),
            ('Admin', rng.sample(workstations, min(4, len(workstations)))),
            ('Re-Activated Device', (inactive or sorted(self.devices))[:2]),
            ('Guest', [did for did, d in self.devices.items() if d['sid'] == 3]),
            ('Critical Asset', by_kind.get('server', [])[:5]),
            ('Domain Controller', by_kind.get('dnsserver', [])),
            ('Security Device', by_kind.get('firewall', [])),
            ('Multi-use', rng.sample(workstations, min(2, len(workstations)))),
        ]
        for name, dids in plan:
            tid = self.tag_by_name(name)['tid']  # type: ignore[index]
            for did in dids:
                self.link_tag(tid, did, expiry=0)
        # One temporary tag, to show expiry on a link.
        first_threat = plan[0][1][0]
        for link in self.tag_links.values():
            if link.did == first_threat and link.tid == TID_BASE:
                link.expiry = self.anchor_ms + 3 * DAY_MS

    def tag_by_name(self, name: str) -> dict[str, Any] | None:
        for tag in self.tags.values():
            if tag['name'] == name:
                return tag
        return None

    def create_tag(self, name: str) -> dict[str, Any]:
        tid = max(self.tags, default=TID_BASE - 1) + 1
        tag = {'tid': tid, 'expiry': 0, 'thid': tid + 13, 'name': name, 'restricted': False,
               'data': {'auto': False, 'color': 150, 'description': '', 'visibility': 'Public'},
               'isReferenced': False}
        self.tags[tid] = tag
        return tag

    def link_tag(self, tid: int, did: int, expiry: int) -> TagLink:
        for link in self.tag_links.values():
            if link.tid == tid and link.did == did:
                link.expiry = expiry
                return link
        teid = max(self.tag_links, default=TEID_BASE - 1) + 1
        link = TagLink(teid=teid, tid=tid, did=did, expiry=expiry)
        self.tag_links[teid] = link
        return link

    def unlink_tag(self, tid: int, did: int) -> bool:
        for teid, link in list(self.tag_links.items()):
            if link.tid == tid and link.did == did:
                del self.tag_links[teid]
                return True
        return False

    def tag_links_for(self, tid: int, now_ms: int) -> list[TagLink]:
        return [link for link in sorted(self.tag_links.values(), key=lambda item: item.teid)
                if link.tid == tid and (link.expiry == 0 or link.expiry > now_ms)]

    # ------------------------------------------------------------------ endpoints and watch list
    def _build_endpoints(self) -> None:
        rng = self._rng('endpoints')
        for (hostname, ip, country, code, city, region, asn, lat, lon, rarity, dga) in catalog.EXTERNAL_ENDPOINTS:
            endpoint = {'hostname': hostname, 'ip': ip, 'country': country, 'countrycode': code, 'city': city,
                        'region': region, 'asn': asn, 'latitude': lat, 'longitude': lon, 'rarity': rarity,
                        'dgascore': dga, 'firsttime': self.anchor_ms - rng.randint(2 * DAY_MS, 900 * DAY_MS),
                        'devices': sorted(rng.sample(sorted(self.devices), rng.randint(0, 4)))}
            self.endpoints[hostname] = endpoint
            self.endpoints_by_ip[ip] = endpoint

    def _build_watched(self) -> None:
        rng = self._rng('watched')
        for name, description, strength, iagn, source, hostname in catalog.WATCHED_ENTRIES:
            expiry = None
            if rng.random() < 0.4:
                expiry = format_iso(self.anchor_ms + rng.randint(10, 90) * DAY_MS)
            self.watched[name] = WatchedEntry(name, description, expiry, strength, iagn, [source], hostname)

    def subnet_of(self, ip: str) -> dict[str, Any] | None:
        for subnet in self.subnets.values():
            if ip.startswith(str(subnet['prefix'])):
                return subnet
        return None

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

    def mark_changed(self, kind: str, record_id: Any, when: int | None) -> None:
        """Note when a record last changed (``when`` None: a change outside the appliance clock's view)."""
        if when is not None:
            self.changed_at[(kind, record_id)] = when

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

    # ------------------------------------------------------------------ AI Analyst
    def _build_ai_analyst(self) -> None:
        rng = self._rng('aianalyst')
        categories = ('critical', 'critical', 'suspicious', 'suspicious', 'suspicious', 'compliance')
        for _ in range(10):
            group_id = f'g{_uuid_from(rng)}'
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
            event_id = _uuid_from(rng)
            group_id = f'g{event_id}'
            end = created - gap
            periods = [{'start': end - rng.randint(5 * MINUTE_MS, 2 * HOUR_MS), 'end': end}]
            if rng.random() < 0.1:
                periods.insert(0, {'start': periods[0]['start'] - rng.randint(2 * HOUR_MS, DAY_MS),
                                   'end': periods[0]['start'] - HOUR_MS})
            position = bisect.bisect_left(self._creation_keys, (created,))
            related = self._by_creation[max(0, position - 2):position]
            breach_device = _breach_device(did, device)
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
            event_id = str(record.get('id') or _uuid_from(random.Random(f'{self.seed}:event:{len(self.incidents)}')))
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

    def add_breach_burst(self, count: int, created_ms: int, now_ms: int) -> list[int]:
        """``count`` breaches created in one millisecond, as a model firing on a whole subnet records them: one
        model, consecutive devices, consecutive pbids. Returns the pbids."""
        dids = sorted(self.devices)
        first = max(self.breaches, default=PBID_BASE - 1) + 1
        return self.add_breaches(({'pbid': first + n, 'time': created_ms - 1000, 'creationTime': created_ms,
                                   'score': 0.6, 'did': dids[n % len(dids)]} for n in range(count)), now_ms)

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
        breach_device = _breach_device(did, device)
        return {
            'id': _uuid_from(rng), 'acknowledged': rng.random() < 0.15, 'pinned': rng.random() < 0.1,
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

    # ------------------------------------------------------------------ Autonomous Response
    def _build_antigena(self) -> None:
        def model_for(did: int, start: int) -> tuple[str, str, int]:
            # The device's latest breach in the day before the action, else the first model.
            earlier = self.breaches_between(start - DAY_MS, start, now_ms=self.anchor_ms)
            recent = [b for b in earlier if b.did == did][-1:]
            model = self.models[recent[0].pid] if recent else self.models[min(self.models)]
            return model.spec.name, model.uuid, recent[0].pbid if recent else 0

        self.antigena = respond.seed(respond.SeedContext(
            anchor_ms=self.anchor_ms, dids=sorted(self.devices), device_ip=lambda did: self.devices[did]['ip'],
            endpoints=sorted(self.endpoints), endpoint_ip=lambda name: self.endpoints[name]['ip'],
            model_for=model_for, usernames=tuple(catalog.COMMENT_AUTHORS), catalog_actions=catalog.ANTIGENA_ACTIONS),
            self._rng('antigena'))

    # ------------------------------------------------------------------ derived traffic
    def connection_events(self, did: int, start: int, end: int) -> list[dict[str, Any]]:
        """The device's connections in [start, end], ascending; at most 31 days are derived."""
        device = self.devices.get(did)
        if device is None or end < start:
            return []
        start = max(start, end - 31 * DAY_MS)
        endpoints = list(self.endpoints.values())
        dids = sorted(self.devices)
        busy = 2 if device['typename'] in ('server', 'dnsserver', 'firewall') else 0
        events = []
        for hour in range(start // HOUR_MS, end // HOUR_MS + 1):
            seed = mix(self.seed, did, hour)
            for index in range(seed % 4 + busy):
                h = mix(seed, index)
                when = hour * HOUR_MS + h % HOUR_MS
                if when < start or when > end:
                    continue
                external = (h >> 8) % 3 != 0
                if external:
                    peer: dict[str, Any] = endpoints[(h >> 16) % len(endpoints)]
                    peer_did = 0
                    port = (443, 443, 443, 80, 53, 123, 8443)[(h >> 24) % 7]
                else:
                    peer_did = dids[(h >> 16) % len(dids)]
                    peer = self.devices[peer_did]
                    port = (445, 53, 88, 389, 3389, 135, 22, 443)[(h >> 24) % 8]
                kind = 'connection'
                if (h >> 40) % 17 == 0:
                    kind = 'newconnection'
                elif (h >> 44) % 11 == 0:
                    kind = 'unusualconnection'
                events.append({
                    'timems': when, 'did': did, 'peer_did': peer_did, 'peer': peer, 'external': external,
                    'port': port, 'source_port': 49_152 + (h >> 32) % 16_000,
                    'protocol': 'UDP' if port in (53, 123) else 'TCP',
                    'direction': 'in' if not external and (h >> 36) % 5 == 0 else 'out',
                    'kind': kind, 'status': 'failed' if (h >> 48) % 13 == 0 else 'ongoing',
                    'uid': f'C{h & 0xFFFFFFFFFFFF:012x}{did:04x}',
                })
        events.sort(key=lambda event: (event['timems'], event['uid']))
        return events

    def notices(self, did: int, start: int, end: int) -> list[dict[str, Any]]:
        """Zeek-style notices raised on the device in [start, end], ascending."""
        kinds = (('SSL::Invalid_Server_Cert', 'SSL certificate validation failed with (self signed certificate)'),
                 ('Scan::Port_Scan', 'scanned at least 15 unique ports of host'),
                 ('HTTP::Unusual_User_Agent', 'Unusual user agent python-requests/2.31.0'),
                 ('DNS::Unusual_Query', 'Unusual DNS query for xj3k9qv7.dga-domain.top'))
        start = max(start, end - 31 * DAY_MS)
        notices = []
        for hour in range(start // HOUR_MS, end // HOUR_MS + 1):
            h = mix(self.seed, did, hour, 99)
            if h % 6 != 0:
                continue
            when = hour * HOUR_MS + (h >> 8) % HOUR_MS
            if start <= when <= end:
                notice_type, message = kinds[(h >> 32) % len(kinds)]
                notices.append({'timems': when, 'did': did, 'type': notice_type, 'msg': message,
                                'nid': (h >> 16) % 1_000_000, 'uid': f'N{h & 0xFFFFFFFFFF:010x}'})
        return notices

    def hourly_activity(self, did: int, datatype: str, hour: int) -> int:
        """Connections (co) or bytes (sizeout/sizein) of the device in one epoch hour."""
        device = self.devices[did]
        h = mix(self.seed, did, hour, DATATYPE_CODES[datatype])
        hour_of_day = hour % 24
        weekday = (hour // 24 + 3) % 7  # 1970-01-01 was a Thursday
        typename = device['typename']
        if typename in ('server', 'dnsserver', 'firewall'):
            base = 320
        elif typename in ('desktop', 'laptop'):
            base = 140 if 8 <= hour_of_day <= 18 and weekday < 5 else (6 if typename == 'desktop' else 0)
        elif typename == 'mobile':
            base = 30 if 7 <= hour_of_day <= 22 else 0
        else:
            base = 15
        count = base * (600 + h % 800) // 1000
        if datatype != 'co' and count:
            count *= 900 + (h >> 20) % 4_000
            if datatype == 'sizein':
                count *= 3
        return int(count)

    def connection_profile(self, did: int) -> dict[str, Any]:
        """Who and which ports the device talks to over the four-week window, as shares of 100."""
        rng = random.Random(f'{self.seed}:profile:{did}')
        device = self.devices[did]
        others = [d for d in sorted(self.devices) if d != did]
        peers: list[int | str] = [0, 0, rng.choice(others), rng.choice(others), *rng.sample(SPECIAL_GROUP_DIDS, 2)]
        ports: list[int | str] = [53, 443, 80, 123, 67, 445, '5001 - 10000', 3389, 1514]
        used = []
        for _ in range(rng.randint(6, 10)):
            used.append({'direction': 'out', 'device': rng.choice(peers), 'port': rng.choice(ports)})
        served = []
        if device['typename'] in ('server', 'dnsserver', 'firewall'):
            for _ in range(rng.randint(2, 5)):
                served.append({'direction': 'in', 'device': rng.choice(others), 'port': rng.choice((443, 445, 53, 22))})
        return {
            'used': _shares(used, rng), 'served': _shares(served, rng),
            'totalUsed': rng.randint(300, 5_000), 'totalServed': rng.randint(100, 3_000) if served else 0,
            'firstTime': device['firstSeen'],
        }

    def search_records(self, start: int, end: int) -> list[dict[str, Any]]:
        """Advanced Search log records (conn, dns, http, ssl) in [start, end], ascending."""
        if end < start:
            return []
        start = max(start, end - 31 * DAY_MS)
        per_hour = (('conn', 6), ('dns', 4), ('http', 2), ('ssl', 2))
        dids = sorted(self.devices)
        endpoints = list(self.endpoints.values())
        records = []
        for hour in range(start // HOUR_MS, end // HOUR_MS + 1):
            for type_index, (log_type, count) in enumerate(per_hour):
                for index in range(count):
                    h = mix(self.seed, hour, type_index, index)
                    when = hour * HOUR_MS + h % HOUR_MS
                    if start <= when <= end:
                        device = self.devices[dids[(h >> 12) % len(dids)]]
                        endpoint = endpoints[(h >> 20) % len(endpoints)]
                        records.append(_search_record(log_type, when, h, device, endpoint))
        records.sort(key=lambda record: (record['epoch_ms'], record['@fields']['uid']))
        return records


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


def _shares(pairs: list[dict[str, Any]], rng: random.Random) -> list[dict[str, Any]]:
    """Merge duplicate (device, port) pairs and give them integer sizes summing to 100."""
    merged: dict[tuple[Any, Any, str], int] = {}
    for pair in pairs:
        key = (pair['device'], pair['port'], pair['direction'])
        merged[key] = merged.get(key, 0) + rng.randint(1, 30)
    if not merged:
        return []
    total = sum(merged.values())
    shares = []
    for (device, port, direction), weight in sorted(merged.items(), key=lambda item: -item[1]):
        shares.append({'direction': direction, 'device': device, 'port': port,
                       'size': max(1, weight * 99 // total), 'firstOffset': rng.randint(0, 20) * DAY_MS})
    shares.append({'direction': 'others', 'device': 'others', 'port': 'others', 'size': 1, 'firstOffset': 0})
    return shares


def _search_record(log_type: str, when: int, h: int, device: dict[str, Any],
                   endpoint: dict[str, Any]) -> dict[str, Any]:
    uid = f'C{h & 0xFFFFFFFFFFFF:012x}'
    fields: dict[str, Any] = {'uid': uid, 'source_ip': device['ip'], 'source_port': 49_152 + (h >> 30) % 16_000,
                              'dest_ip': endpoint['ip'], 'epochdate': when / 1000}
    if log_type == 'conn':
        port = (443, 80, 53, 8443, 22)[(h >> 40) % 5]
        fields.update({'dest_port': port, 'proto': 'udp' if port == 53 else 'tcp',
                       'service': {443: 'ssl', 80: 'http', 53: 'dns', 8443: 'ssl', 22: 'ssh'}[port],
                       'orig_bytes': (h >> 8) % 50_000, 'resp_bytes': (h >> 24) % 200_000,
                       'duration': round(((h >> 16) % 30_000) / 1000, 3),
                       'conn_state': ('SF', 'S0', 'RSTO', 'SF')[(h >> 50) % 4]})
    elif log_type == 'dns':
        fields.update({'dest_port': 53, 'proto': 'udp', 'query': endpoint['hostname'],
                       'qtype_name': ('A', 'AAAA', 'TXT')[(h >> 40) % 3], 'rcode_name': 'NOERROR',
                       'answers': [endpoint['ip']]})
    elif log_type == 'http':
        fields.update({'dest_port': 80, 'host': endpoint['hostname'], 'method': ('GET', 'POST')[(h >> 40) % 2],
                       'uri': f'/{("index.html", "api/v1/update", "download.exe", "beacon")[(h >> 44) % 4]}',
                       'status_code': (200, 200, 404, 302)[(h >> 48) % 4],
                       'user_agent': catalog.USER_AGENTS[(h >> 52) % len(catalog.USER_AGENTS)]})
    else:
        fields.update({'dest_port': 443, 'server_name': endpoint['hostname'], 'version': 'TLSv12',
                       'cipher': 'TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256',
                       'validation_status': ('ok', 'self signed certificate')[(h >> 40) % 2],
                       'ja3': catalog.JA3_HASHES[(h >> 44) % len(catalog.JA3_HASHES)]})
    return {'@type': log_type, '@timestamp': format_iso(when), 'epoch_ms': when, '@fields': fields,
            'source_device': device.get('hostname', device['ip'])}


def format_time(ms: int) -> str:
    """``YYYY-MM-DD HH:MM:SS`` UTC, the appliance's readable timestamp."""
    return time_module.strftime('%Y-%m-%d %H:%M:%S', time_module.gmtime(ms // 1000))


def format_iso(ms: int) -> str:
    return time_module.strftime('%Y-%m-%dT%H:%M:%SZ', time_module.gmtime(ms // 1000))
