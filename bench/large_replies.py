"""Large replies: War Room size, context size and peak memory of commands fed very large replies.

    python -m bench.large_replies

Each case runs one command through main() with the platform stand-ins and prints: the reply size, the readable
output size and its table rows, whether the readable output says it was cut, how many records context holds,
the context size, the peak Python memory of the run (tracemalloc) and its wall time. Cases:
- a 4-week /deviceinfo with all graph data and similar devices, from the emulator and as a synthetic reply with
  50 similar devices (672 hourly points each);
- an Advanced Search returning 10,000 hits (synthetic: the emulator aggregates far fewer);
- a tag on 5,000 devices with full device details (synthetic);
- a host name seen at 3,000 IP addresses and contacted by 3,000 devices (synthetic);
- a month of model breaches from the emulator (3,000 breaches), listed with limit 1000.
Every readable output must stay bounded (a capped table with a note) while context keeps every record.
"""
from __future__ import annotations

import json
import sys
import time
import tracemalloc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import requests_mock

import xsoar_platform  # noqa: E402

xsoar_platform.use_platform_modules()  # the stand-ins, or the real modules from XSOAR_PLATFORM_DIR
from emulator import Emulator  # noqa: E402
from runner.targets import EMULATOR_DATASET  # noqa: E402

MOCK_URL = 'https://dt.example'
HOUR_MS = 3_600_000
FOUR_WEEKS_H = 28 * 24
BASE_MS = 1_717_200_000_000
READABLE_LIMIT = 64 * 1024  # what "bounded" means here: a War Room entry an analyst can scroll


@dataclass
class Figures:
    case: str
    reply_bytes: int
    readable_chars: int
    readable_rows: int
    capped: bool
    context_records: int
    context_bytes: int
    peak_mb: float
    seconds: float


def run(command: str, url: str, public: str, private: str, args: dict[str, str]) -> tuple[dict[str, Any], float, float]:
    """Run the command; its War Room entry, the peak traced memory (MB) and the wall time (s)."""
    tracemalloc.start()
    started = time.perf_counter()
    result = xsoar_platform.run_command(command, args, xsoar_platform.instance_params(url, public, private))
    seconds = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert result.exception is None, result.error
    (entry,) = result.entries
    assert entry.get('Type') != 4, entry.get('Contents')
    return entry, peak / 2 ** 20, seconds


def figures(case: str, entry: dict[str, Any], reply_bytes: int, peak_mb: float, seconds: float,
            records: Callable[[Any], int]) -> Figures:
    readable = entry['HumanReadable']
    (context,) = entry['EntryContext'].values()
    rows = sum(1 for line in readable.splitlines() if line.startswith('| ') and not line.startswith('| ---'))
    capped = 'Showing the first' in readable or 'Showing the connections of the first' in readable
    return Figures(case, reply_bytes, len(readable), rows, capped, records(context), len(json.dumps(context)),
                   peak_mb, seconds)


@contextmanager
def mocked(path: str, reply: Any) -> Iterator[int]:
    """An appliance answering `reply` on `path`; yields the reply's size in bytes."""
    body = json.dumps(reply, separators=(',', ':'))
    with requests_mock.Mocker() as appliance:
        appliance.get(f'{MOCK_URL}{path}', text=body, headers={'Content-Type': 'application/json'})
        yield len(body)


def synthetic_device_info(similar: int) -> dict[str, Any]:
    def entry(did: int, score: int) -> dict[str, Any]:
        return {'did': did, 'similarityScore': score,
                'graphData': [{'time': BASE_MS + hour * HOUR_MS, 'count': (did * 7 + hour * 13) % 97}
                              for hour in range(FOUR_WEEKS_H)],
                'info': {'totalUsed': 5000 + did, 'totalServed': 40, 'totalDevicesAndPorts': 60,
                         'devicesAndPorts': [{'deviceAndPort': {'direction': 'out', 'device': peer, 'port': 443},
                                              'size': 100 - peer} for peer in range(40)],
                         'portsUsed': [{'port': port, 'size': port % 50, 'firstTime': BASE_MS} for port in range(20)],
                         'portsServed': [], 'devicesUsed': [{'did': peer, 'size': peer, 'firstTime': BASE_MS}
                                                            for peer in range(30)], 'devicesServed': []}}
    return {'deviceInfo': [entry(1, 100)] + [entry(100 + n, 99 - n) for n in range(similar)]}


def synthetic_search_hits(count: int) -> dict[str, Any]:
    return {'took': 812, 'timed_out': False,
            'hits': {'total': count, 'max_score': None,
                     'hits': [{'id': f'10.{n // 65536}.{n // 256 % 256}.{n % 256}', 'count': 100_000 - n}
                              for n in range(count)]},
            'kibana': {'index': ['logstash-*'], 'per_page': 10000, 'time': {'from': '2024-06-03T08:00:00Z'}}}


def synthetic_tagged_devices(count: int) -> dict[str, Any]:
    return {'entities': [{'teid': n, 'tid': 5, 'entityType': 'Device', 'entityValue': str(n), 'expiry': 0}
                         for n in range(1, count + 1)],
            'devices': [{'did': n, 'hostname': f'ws-{n:05d}.corp.example', 'devicelabel': f'Workstation {n}',
                         'ip': f'10.1.{n // 256}.{n % 256}', 'credentials': [f'user{n}'],
                         'tags': [{'tid': 5, 'name': 'Critical Asset'}, {'tid': 9, 'name': 'Finance'}]}
                        for n in range(1, count + 1)]}


def synthetic_endpoint(count: int) -> dict[str, Any]:
    return {'hostname': 'cdn.example.com', 'firsttime': BASE_MS, 'popularity': 100, 'dgascore': 0, 'locations': [],
            'ips': [{'ip': f'198.18.{n // 256}.{n % 256}', 'time': '2024-06-01 00:00:00', 'timems': BASE_MS}
                    for n in range(count)],
            'devices': [{'did': n, 'hostname': f'ws-{n:05d}', 'ip': f'10.2.{n // 256}.{n % 256}',
                         'contactTime': BASE_MS} for n in range(count)]}


def main() -> None:
    results: list[Figures] = []
    with Emulator(**EMULATOR_DATASET) as emu:
        did = min(emu.dataset.devices)
        entry, peak, seconds = run('darktrace-get-device-connection-info', emu.url, emu.public_token,
                                   emu.private_token, {'did': str(did), 'data_type': 'co',
                                                       'show_all_graph_data': 'true', 'num_similar_devices': '50',
                                                       'full_device_details': 'true'})
        results.append(figures('deviceinfo, 4 weeks, similardevices=50 (emulator)', entry,
                               emu.request_log()[-1]['bytes_sent'], peak, seconds, lambda c: len(c['deviceInfo'])))
        emu.clear_log()
        entry, peak, seconds = run('darktrace-list-model-breaches', emu.url, emu.public_token, emu.private_token,
                                   {'start_time': '30 days', 'limit': '1000'})
        results.append(figures('list-model-breaches, 30 days, limit 1000 (emulator)', entry,
                               sum(e['bytes_sent'] for e in emu.request_log()), peak, seconds, len))

    with mocked('/deviceinfo', synthetic_device_info(50)) as size:
        entry, peak, seconds = run('darktrace-get-device-connection-info', MOCK_URL, 'p', 'q',
                                   {'did': '1', 'data_type': 'co', 'show_all_graph_data': 'true',
                                    'num_similar_devices': '50'})
        results.append(figures('deviceinfo, 4 weeks, 1 + 50 similar devices (synthetic)', entry, size, peak, seconds,
                               lambda c: len(c['deviceInfo'])))
    search = synthetic_search_hits(10_000)
    with requests_mock.Mocker() as appliance:
        body = json.dumps(search, separators=(',', ':'))
        appliance.get(requests_mock.ANY, text=body, headers={'Content-Type': 'application/json'})
        entry, peak, seconds = run('darktrace-run-advanced-search-analysis', MOCK_URL, 'p', 'q', {
            'initialDate': '2024-06-03', 'initialTime': '08:00:00', 'endDate': '2024-06-03', 'endTime': '18:00:00',
            'query': '@type:conn', 'operation': 'score', 'metric': '@fields.source_ip'})
        results.append(figures('advanced search, 10,000 hits (synthetic)', entry, len(body), peak, seconds,
                               lambda c: len(c['hits']['hits'])))
    with mocked('/tags/entities', synthetic_tagged_devices(5000)) as size:
        entry, peak, seconds = run('darktrace-get-tagged-devices', MOCK_URL, 'p', 'q', {'tagName': 'Critical Asset'})
        results.append(figures('tagged devices, 5,000 devices (synthetic)', entry, size, peak, seconds, len))

    with mocked('/endpointdetails', synthetic_endpoint(3000)) as size:
        entry, peak, seconds = run('darktrace-get-external-endpoint-details', MOCK_URL, 'p', 'q', {
            'endpoint_type': 'hostname', 'endpoint_value': 'cdn.example.com', 'devices': 'true'})
        results.append(figures('endpoint details, 3,000 IPs and 3,000 devices (synthetic)', entry, size, peak, seconds,
                               lambda c: len(c['ips']) + len(c['devices'])))

    headers = ['Case', 'Reply', 'Readable output', 'Table rows shown', 'Capped with a note', 'Records in context',
               'Context', 'Peak memory', 'Time']
    print('| ' + ' | '.join(headers) + ' |')
    print('|' + '---|' * len(headers))
    for f in results:
        print(f'| {f.case} | {f.reply_bytes / 1024:,.0f} KB | {f.readable_chars / 1024:,.1f} KB | {f.readable_rows} | '
              f'{"yes" if f.capped else "no"} | {f.context_records:,} | {f.context_bytes / 1024:,.0f} KB | '
              f'{f.peak_mb:,.1f} MB | {f.seconds:.2f} s |')
    unbounded = [f.case for f in results if f.readable_chars > READABLE_LIMIT]
    if unbounded:
        print(f'\nREADABLE OUTPUT NOT BOUNDED: {unbounded}', file=sys.stderr)
        sys.exit(1)


if __name__ == '__main__':
    main()
