"""Benchmark: drain a backlog of model breaches, AI Analyst events, or both, through fetch-incidents and print
what it cost.

    python bench/fetch_backlog.py [--sizes 10000 100000] [--max-alerts 50] [--span-days 30]
                                  [--kinds breaches ai mixed]

For each kind and backlog size, an emulator in a child process holds the records (so its memory is not
counted here); this process runs fetch-incidents through `Darktrace.main()` with the platform
stand-ins, as XSOAR would, until the backlog is drained. A mixed backlog is half breaches, half AI
Analyst events, fetched by one instance with both sources. It prints runs, incidents, duplicates,
lost records, requests and bytes received per run, milliseconds per run and peak memory
(tracemalloc) of the fetching side. Figures only: nothing here asserts on time.
"""
import argparse
import multiprocessing
import statistics
import sys
import time
import tracemalloc
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / 'xsoar_stubs'), str(ROOT)]

import demistomock  # noqa: E402

import Darktrace  # noqa: E402


# kind -> (share of the backlog that is breaches, the fetch_sources parameter)
KINDS = {'breaches': (1.0, 'Model Breaches'), 'ai': (0.0, 'AI Analyst Incidents'),
         'mixed': (0.5, 'Model Breaches,AI Analyst Incidents')}


def serve_emulator(connection: Connection, breaches: int, events: int, span_days: float) -> None:
    """Child process: run the emulator and answer the parent's questions until told to stop."""
    from emulator import Emulator
    with Emulator(breaches=breaches, incident_events=events, span_days=span_days, seed=7) as emulator:
        connection.send({'url': emulator.url, 'public': emulator.public_token, 'private': emulator.private_token})
        while True:
            question = connection.recv()
            if question == 'log':
                connection.send([(entry['path'], entry['bytes_sent']) for entry in emulator.request_log()])
                emulator.clear_log()
            elif question == 'visible':
                now = emulator.now_ms()
                first_fetch = emulator.dataset.anchor_ms - int(span_days + 1) * 86_400_000
                pbids = {str(b.pbid) for b in emulator.dataset.breaches.values() if b.creation_time <= now} \
                    if breaches else set()
                event_ids = {event_id for event_id, event in emulator.dataset.incidents.items()
                             if emulator.dataset.event_visible(event_id, now) and event['createdAt'] >= first_fetch} \
                    if events else set()
                connection.send(pbids | event_ids)
            else:
                return


def drain(kind: str, size: int, max_alerts: int, span_days: float) -> dict[str, Any]:
    breach_share, sources = KINDS[kind]
    breaches = round(size * breach_share)
    parent, child = multiprocessing.Pipe()
    process = multiprocessing.Process(target=serve_emulator, args=(child, breaches, size - breaches, span_days),
                                      daemon=True)
    process.start()
    appliance = parent.recv()
    params = {'url': appliance['url'], 'public_api_token': appliance['public'],
              'private_api_token': appliance['private'], 'min_score': '0', 'max_alerts': str(max_alerts),
              'first_fetch': f'{int(span_days) + 1} days', 'isFetch': True, 'fetch_sources': sources}
    delivered: list[str] = []
    requests_per_run: list[int] = []
    bytes_per_run: list[int] = []
    ms_per_run: list[float] = []
    last_run: dict[str, Any] = {}
    quiet_runs = 0
    tracemalloc.start()
    while quiet_runs < 2:
        demistomock.harness_reset(command='fetch-incidents', params=params, last_run=last_run)
        started = time.perf_counter()
        Darktrace.main()
        ms_per_run.append((time.perf_counter() - started) * 1000)
        if demistomock.harness.results:
            raise SystemExit(f'fetch failed: {demistomock.harness.results}')
        last_run = demistomock.harness.last_run
        incidents = [incident for batch in demistomock.harness.incidents for incident in batch]
        delivered.extend(incident['dbotMirrorId'] for incident in incidents)
        parent.send('log')
        log = parent.recv()
        requests_per_run.append(len(log))
        bytes_per_run.append(sum(sent for _, sent in log))
        quiet_runs = 0 if incidents else quiet_runs + 1
    _, peak_bytes = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    parent.send('visible')
    visible = parent.recv()
    parent.send('stop')
    process.join(timeout=10)
    return {
        'kind': kind, 'size': size, 'runs': len(ms_per_run), 'incidents': len(delivered),
        'duplicates': len(delivered) - len(set(delivered)), 'lost': len(visible - set(delivered)),
        'requests_max': max(requests_per_run), 'requests_mean': statistics.mean(requests_per_run),
        'bytes_max': max(bytes_per_run), 'bytes_mean': statistics.mean(bytes_per_run),
        'ms_median': statistics.median(ms_per_run), 'peak_mib': peak_bytes / 2 ** 20,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--sizes', type=int, nargs='+', default=[10000, 100000])
    parser.add_argument('--max-alerts', type=int, default=50)
    parser.add_argument('--span-days', type=float, default=30)
    parser.add_argument('--kinds', nargs='+', choices=list(KINDS), default=list(KINDS))
    arguments = parser.parse_args()
    print(f'fetch-incidents backlog drain, max_alerts={arguments.max_alerts}, '
          f'records spread over {arguments.span_days:g} days\n')
    header = ('backlog', 'records', 'runs', 'incidents', 'dup', 'lost', 'req/run max', 'req/run mean', 'KiB/run max',
              'KiB/run mean', 'ms/run median', 'peak MiB')
    print(' | '.join(header))
    print(' | '.join('---' for _ in header))
    for kind in arguments.kinds:
        for size in arguments.sizes:
            r = drain(kind, size, arguments.max_alerts, arguments.span_days)
            print(f"{r['kind']} | {r['size']} | {r['runs']} | {r['incidents']} | {r['duplicates']} | {r['lost']} | "
                  f"{r['requests_max']} | {r['requests_mean']:.2f} | {r['bytes_max'] / 1024:.0f} | "
                  f"{r['bytes_mean'] / 1024:.0f} | {r['ms_median']:.1f} | {r['peak_mib']:.1f}", flush=True)


if __name__ == '__main__':
    main()
