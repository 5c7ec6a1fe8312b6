"""Benchmark: drain a model-breach backlog through fetch-incidents and print what it cost.

    python bench/fetch_backlog.py [--sizes 10000 100000] [--max-alerts 50] [--span-days 30]

For each backlog size, an emulator in a child process holds the breaches (so its memory is not
counted here); this process runs fetch-incidents through `Darktrace.main()` with the platform
stand-ins, as XSOAR would, until the backlog is drained. It prints runs, incidents, duplicates,
lost breaches, requests and bytes received per run, milliseconds per run and peak memory
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
sys.path.insert(0, str(ROOT))
import xsoar_platform  # noqa: E402

xsoar_platform.use_platform_modules()  # the stand-ins, or the real modules from XSOAR_PLATFORM_DIR
import Darktrace  # noqa: E402


def serve_emulator(connection: Connection, breaches: int, span_days: float) -> None:
    """Child process: run the emulator and answer the parent's questions until told to stop."""
    from emulator import Emulator
    with Emulator(breaches=breaches, span_days=span_days, seed=7) as emulator:
        connection.send({'url': emulator.url, 'public': emulator.public_token, 'private': emulator.private_token})
        while True:
            question = connection.recv()
            if question == 'log':
                connection.send([(entry['path'], entry['bytes_sent']) for entry in emulator.request_log()])
                emulator.clear_log()
            elif question == 'visible':
                now = emulator.now_ms()
                connection.send({b.pbid for b in emulator.dataset.breaches.values() if b.creation_time <= now})
            else:
                return


def drain(size: int, max_alerts: int, span_days: float) -> dict[str, Any]:
    parent, child = multiprocessing.Pipe()
    process = multiprocessing.Process(target=serve_emulator, args=(child, size, span_days), daemon=True)
    process.start()
    appliance = parent.recv()
    params = {'url': appliance['url'], 'public_api_token': appliance['public'],
              'private_api_token': appliance['private'], 'min_score': '0', 'max_alerts': str(max_alerts),
              'first_fetch': f'{int(span_days) + 1} days', 'isFetch': True}
    delivered: list[int] = []
    requests_per_run: list[int] = []
    bytes_per_run: list[int] = []
    ms_per_run: list[float] = []
    last_run: dict[str, Any] = {}
    quiet_runs = 0
    tracemalloc.start()
    while quiet_runs < 2:
        platform_run = xsoar_platform.start_run(command='fetch-incidents', params=params, last_run=last_run)
        started = time.perf_counter()
        Darktrace.main()
        ms_per_run.append((time.perf_counter() - started) * 1000)
        if platform_run.results:
            raise SystemExit(f'fetch failed: {platform_run.results}')
        last_run = platform_run.last_run
        incidents = [incident for batch in platform_run.incidents for incident in batch]
        delivered.extend(int(incident['dbotMirrorId']) for incident in incidents)
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
        'size': size, 'runs': len(ms_per_run), 'incidents': len(delivered),
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
    arguments = parser.parse_args()
    print(f'fetch-incidents backlog drain, max_alerts={arguments.max_alerts}, '
          f'breaches spread over {arguments.span_days:g} days\n')
    header = ('breaches', 'runs', 'incidents', 'dup', 'lost', 'req/run max', 'req/run mean', 'KiB/run max',
              'KiB/run mean', 'ms/run median', 'peak MiB')
    print(' | '.join(header))
    print(' | '.join('---' for _ in header))
    for size in arguments.sizes:
        r = drain(size, arguments.max_alerts, arguments.span_days)
        print(f"{r['size']} | {r['runs']} | {r['incidents']} | {r['duplicates']} | {r['lost']} | "
              f"{r['requests_max']} | {r['requests_mean']:.2f} | {r['bytes_max'] / 1024:.0f} | "
              f"{r['bytes_mean'] / 1024:.0f} | {r['ms_median']:.1f} | {r['peak_mib']:.1f}", flush=True)


if __name__ == '__main__':
    main()
