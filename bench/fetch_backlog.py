"""Benchmark: drain a backlog of model breaches, AI Analyst events, or both, through fetch-incidents and print
what it cost.

    python -m bench.fetch_backlog [--sizes 10000 100000] [--ai-sizes 10000 30000 100000] [--max-alerts 50]
                                  [--span-days 30] [--kinds breaches ai mixed] [--dense 20000 7]
                                  [--bursts breach:500 breach:5000 ai:3000 email:2000] [--email-sizes 10000 30000]

For each kind and backlog size, an emulator in a child process holds the records (so its memory is not
counted here); a fresh child process runs fetch-incidents through `Darktrace.main()` with the platform
modules, as XSOAR would, until the backlog is drained. A mixed backlog is half breaches, half AI Analyst
events, fetched by one instance with both sources. It prints runs, incidents, duplicates, lost records,
requests and bytes sent per run, the bytes the integration read in its largest run and its largest reply
(after decompression; a reply over the cap counts as the bytes read before it stopped), milliseconds per
run, and peak memory of the fetching side: tracemalloc's peak and the growth of the process's maximum
resident set over the idle process. A dense backlog (`--dense`: 20,000 breaches over 7 days) is answered
in shuffled order. The burst rows (`--bursts`) add, ten days back in a backlog of 1,000 records of that source,
that many breaches created in one millisecond, or AI Analyst events tied in one. Bytes read per run (mean and
max) are what the integration read, from its own request log; "read/delivered" divides the mean by the mean
bytes of the incidents it handed over per run (their rawJSON). Figures only: nothing here asserts on time or
memory.
"""
import argparse
import multiprocessing
import re
import resource
import statistics
import time
import tracemalloc
from multiprocessing.connection import Connection
from typing import Any

import xsoar_platform  # noqa: E402

xsoar_platform.use_platform_modules()  # the stand-ins, or the real modules from XSOAR_PLATFORM_DIR
import Darktrace  # noqa: E402


# kind -> (share of the backlog that is breaches, the fetch_sources parameter)
KINDS = {'breaches': (1.0, 'Model Breaches'), 'ai': (0.0, 'AI Analyst Incidents'),
         'mixed': (0.5, 'Model Breaches,AI Analyst Incidents'), 'email': (0.0, 'Darktrace/Email')}
# The integration's debug line for each request: "... -> HTTP 200, 12345 bytes in 0.01 s" or "-> HTTP 200, too_large".
READ_PATTERN = re.compile(r' -> HTTP \d+, (?:(\d+) bytes|(too_large))')


def serve_emulator(connection: Connection, breaches: int, events: int, span_days: float, order: str,
                   burst: tuple[str, int] | None = None, email: bool = False) -> None:
    """Child process: run the emulator and answer the parent's questions until told to stop."""
    from emulator import Emulator
    emails = events if email else 0
    # An Email backlog ends an hour ago, so every email has been analysed and is searchable when the drain ends.
    with Emulator(breaches=breaches, incident_events=0 if email else events, span_days=span_days, seed=7, order=order,
                  emails=emails, email_span_days=span_days,
                  anchor_ms=int(time.time() * 1000) - 3_600_000 if email else None) as emulator:
        if burst and burst[0] == 'email':  # that many emails in one millisecond, among the backlog
            tie_ms = emulator.now_ms() - 10 * 86_400_000
            emulator.add_emails({'dtime_ms': tie_ms, 'late_ms': 0, 'analysis_ms': 0,
                                 'uuid': f'{index:08X}-7777-4000-8000-000000000000.1'} for index in range(burst[1]))
        elif burst:
            dataset = emulator.dataset
            add = dataset.add_breach_burst if burst[0] == 'breach' else dataset.add_incident_event_burst
            add(burst[1], emulator.now_ms() - 10 * 86_400_000, emulator.now_ms())
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
                uuids = set(emulator.email_dataset.emails) if emails else set()
                connection.send(pbids | (set() if email else event_ids) | uuids)
            else:
                return


def reply_sizes(logs: list[tuple[str, str]]) -> list[int]:
    """Bytes the integration read per reply, from its debug log."""
    sizes = []
    for _, message in logs:
        found = READ_PATTERN.search(message)
        if found:
            sizes.append(int(found.group(1)) if found.group(1) else Darktrace.FETCH_MAX_REPLY_BYTES)
    return sizes


def max_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def caught_up(last_run: dict[str, Any]) -> bool:
    """Whether every source's cursor has reached the moment past which the appliance may still record items."""
    settled_ms = time.time() * 1000 - Darktrace.SETTLE_MS - 60_000
    cursors = [last_run, last_run.get(Darktrace.AI_ANALYST_CURSOR_KEY) or {}]
    email_cursor = last_run.get(Darktrace.EMAIL_CURSOR_KEY) or {}
    email_settled_ms = time.time() * 1000 - Darktrace.EMAIL_SETTLE_MS - 60_000
    return all(cursor['start_ms'] >= settled_ms for cursor in cursors if 'start_ms' in cursor) \
        and email_cursor.get('hw_ms', email_settled_ms) >= email_settled_ms


def drain(kind: str, size: int, max_alerts: int, span_days: float, order: str = 'desc',
          burst: tuple[str, int] | None = None) -> dict[str, Any]:
    breach_share, sources = KINDS[kind]
    breaches = round(size * breach_share)
    parent, child = multiprocessing.Pipe()
    process = multiprocessing.Process(target=serve_emulator, daemon=True,
                                      args=(child, breaches, size - breaches, span_days, order, burst, kind == 'email'))
    process.start()
    appliance = parent.recv()
    params = xsoar_platform.instance_params(appliance['url'], appliance['public'], appliance['private'],
                                           min_score='0', max_alerts=str(max_alerts),
                                           first_fetch=f'{int(span_days) + 1} days', isFetch=True,
                                           fetch_sources=sources)
    delivered: list[str] = []
    requests_per_run: list[int] = []
    bytes_per_run: list[int] = []
    ms_per_run: list[float] = []
    last_run: dict[str, Any] = {}
    largest_reply = 0
    read_per_run: list[int] = []
    delivered_bytes_per_run: list[int] = []
    quiet_runs = 0
    idle_rss_mib = max_rss_mib()
    tracemalloc.start()
    while quiet_runs < 2:
        started = time.perf_counter()
        result = xsoar_platform.run_fetch_cycle(params, last_run)
        ms_per_run.append((time.perf_counter() - started) * 1000)
        if result.entries or result.exception is not None:
            raise SystemExit(f'fetch failed: {result.errors or result.entries}')
        last_run = result.last_run or {}
        sizes = reply_sizes(result.logs)
        largest_reply = max([largest_reply] + sizes)
        read_per_run.append(sum(sizes))
        incidents = result.incidents
        delivered_bytes_per_run.append(sum(len(incident['rawJSON'].encode()) for incident in incidents))
        delivered.extend(incident['dbotMirrorId'] for incident in incidents)
        parent.send('log')
        log = parent.recv()
        requests_per_run.append(len(log))
        bytes_per_run.append(sum(sent for _, sent in log))
        quiet_runs = quiet_runs + 1 if not incidents and caught_up(last_run) else 0
    _, peak_bytes = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    rss_growth_mib = max_rss_mib() - idle_rss_mib
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
        'largest_reply': largest_reply, 'read_max': max(read_per_run), 'rss_growth_mib': rss_growth_mib,
        'read_mean': statistics.mean(read_per_run),
        'read_ratio': statistics.mean(read_per_run) / max(1.0, statistics.mean(delivered_bytes_per_run)),
    }


def scenario_child(connection: Connection, *arguments: Any) -> None:
    connection.send(drain(*arguments))


def run_scenario(*arguments: Any) -> dict[str, Any]:
    """`drain` in a fresh child process, so each scenario's memory is measured from an idle process."""
    parent, child = multiprocessing.Pipe()
    process = multiprocessing.Process(target=scenario_child, args=(child, *arguments))
    process.start()
    result = parent.recv()
    process.join()
    return dict(result)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--sizes', type=int, nargs='*', default=[10000, 100000])
    parser.add_argument('--max-alerts', type=int, default=50)
    parser.add_argument('--span-days', type=float, default=30)
    parser.add_argument('--ai-sizes', type=int, nargs='*', default=[10000, 30000, 100000])
    parser.add_argument('--email-sizes', type=int, nargs='*', default=[10000, 30000])
    parser.add_argument('--kinds', nargs='+', choices=list(KINDS), default=list(KINDS))
    parser.add_argument('--bursts', nargs='*', default=['breach:500', 'breach:5000', 'ai:3000', 'email:2000'],
                        help='SOURCE:COUNT records created in one millisecond, SOURCE breach, ai or email')
    parser.add_argument('--dense', type=float, nargs=2, default=[20000, 7], metavar=('BREACHES', 'DAYS'),
                        help='the shuffled dense breach backlog of the last row; 0 0 leaves it out')
    arguments = parser.parse_args()
    print(f'fetch-incidents backlog drain, max_alerts={arguments.max_alerts}, '
          f'records spread over {arguments.span_days:g} days unless stated\n')
    header = ('backlog', 'records', 'runs', 'incidents', 'dup', 'lost', 'req/run max', 'req/run mean',
              'KiB/run max', 'KiB/run mean', 'read KiB/run max', 'read KiB/run mean', 'read/delivered',
              'largest reply KiB', 'ms/run median', 'peak MiB', 'max RSS growth MiB')
    print(' | '.join(header))
    print(' | '.join('---' for _ in header))
    scenarios: list[tuple[str, str, int, float, str, tuple[str, int] | None]] = [
        (kind, kind, size, arguments.span_days, 'desc', None) for kind in arguments.kinds
        for size in {'ai': arguments.ai_sizes, 'email': arguments.email_sizes}.get(kind, arguments.sizes)]
    if arguments.dense[0]:
        scenarios.append((f'breaches over {arguments.dense[1]:g} days, shuffled', 'breaches', int(arguments.dense[0]),
                          arguments.dense[1], 'shuffle', None))
    for burst in arguments.bursts:
        source, count = burst.split(':')
        what = {'breach': 'breaches', 'ai': 'AI Analyst events', 'email': 'Darktrace/Email emails'}[source]
        label = f'{int(count):,} {what} in one ms'
        scenarios.append((label, {'breach': 'breaches', 'ai': 'ai', 'email': 'email'}[source], 1000,
                          arguments.span_days, 'desc', (source, int(count))))
    for label, kind, size, span_days, order, burst_spec in scenarios:
        r = run_scenario(kind, size, arguments.max_alerts, span_days, order, burst_spec)
        records = size + (burst_spec[1] if burst_spec else 0)
        print(f"{label} | {records} | {r['runs']} | {r['incidents']} | {r['duplicates']} | {r['lost']} | "
              f"{r['requests_max']} | {r['requests_mean']:.2f} | {r['bytes_max'] / 1024:.0f} | "
              f"{r['bytes_mean'] / 1024:.0f} | {r['read_max'] / 1024:.0f} | {r['read_mean'] / 1024:.0f} | "
              f"{r['read_ratio']:.2f} | {r['largest_reply'] / 1024:.0f} | "
              f"{r['ms_median']:.1f} | {r['peak_mib']:.1f} | {r['rss_growth_mib']:.1f}", flush=True)


if __name__ == '__main__':
    main()
