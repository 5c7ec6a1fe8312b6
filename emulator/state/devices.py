"""The dataset's devices, tags, endpoints and watched list, and the traffic derived from them."""
from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from emulator import catalog
from emulator.state.base import (DATATYPE_CODES, DAY_MS, DEVICE_COUNT, HOUR_MS, SPECIAL_GROUP_DIDS, TEID_BASE, TID_BASE,
                                 format_iso, format_time, mix)


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


class DeviceState:
    """Devices, subnets, tags and tag links, external endpoints, the watched list, and the traffic
    derived from them on demand (connections, notices, hourly graphs, Advanced Search records).

    A part of `Dataset` (dataset.py), which holds the state it reads and changes."""

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

    def watch(self, name: str, *, description: str | None, expiry: str | None, strength: int, iagn: bool,
              source: str, hostname: bool) -> bool:
        """Put `name` on the watched list in `source`, or update its entry (guide 2.26); True when it was new.
        An entry keeps its description unless one is given, and every source it was already in."""
        previous = self.watched.get(name)
        sources = previous.sources if previous else []
        self.watched[name] = WatchedEntry(
            name=name,
            description=description if description is not None else (previous.description if previous else ''),
            expiry=expiry, strength=strength, iagn=iagn, sources=sources + [s for s in [source] if s not in sources],
            hostname=hostname)
        return previous is None

    def unwatch(self, names: list[str], source: str | None) -> None:
        """Take `names` off the watched list: out of `source` only when given (gone once in no source)."""
        for name in names:
            entry = self.watched.get(name)
            if entry is None:
                continue
            if source:
                entry.sources = [s for s in entry.sources if s != source]
            if not source or not entry.sources:
                self.watched.pop(name)

    def clear_watched(self) -> None:
        self.watched.clear()

    def subnet_of(self, ip: str) -> dict[str, Any] | None:
        for subnet in self.subnets.values():
            if ip.startswith(str(subnet['prefix'])):
                return subnet
        return None

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
