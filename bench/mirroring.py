"""Benchmark: what one incoming mirroring cycle costs the appliance, for N mirrored incidents and k changes.

    python -m bench.mirroring [--sizes 1 300 5000] [--changes 0 3 30] [--cycles 3]

An emulator holds enough model breaches and AI Analyst events; the instance starts with N of them mirrored
(a handful of AI Analyst events among them, the rest breaches) and remembered as last delivered, as after
the first cycles. Each cycle then makes k changes on the appliance, spread over acknowledgements,
unacknowledgements, new comments (breaches and AI Analyst events) and a deletion, and runs what XSOAR runs:
get-modified-remote-data once, then get-remote-data for every incident it names, through `Darktrace.main()`.
The emulator's request log gives the requests and reply bytes of each cycle; the table shows the last of
`--cycles` cycles, the target (5 + 2 x k requests), the records named and whether every change arrived.
Figures only: nothing here asserts on time.
"""
import argparse
from typing import Any

import xsoar_platform  # noqa: E402

xsoar_platform.use_platform_modules()  # the stand-ins, or the real modules from XSOAR_PLATFORM_DIR
import Darktrace  # noqa: E402
from emulator import Emulator  # noqa: E402
from emulator import views  # noqa: E402

AI_EVENTS_MIRRORED = 5  # among the N incidents, when N allows


def remembered(emu: Emulator, breaches: list[Any], event_ids: list[str]) -> dict[str, Any]:
    """The integration context after the records were mirrored in: each as the API shows it now."""
    dataset = emu.dataset
    records: dict[str, Any] = {Darktrace.MIRROR_BREACHES: {}, Darktrace.MIRROR_EVENTS: {}}
    for breach in breaches:
        shown = views.breach(dataset, breach, include_acknowledged=True, include_url=False, base_url='',
                             minimal=True, device_at_top=True)
        comments = [{'time': c.time, 'username': c.username, 'message': c.message}
                    for c in dataset.comments.get(breach.pbid, [])]
        records[Darktrace.MIRROR_BREACHES][str(breach.pbid)] = {
            't': breach.time, 's': Darktrace.breach_state(breach.acknowledged, shown['score']),
            **Darktrace.seen_comments(comments)}
    for event_id in event_ids:
        event = dataset.incidents[event_id]
        records[Darktrace.MIRROR_EVENTS][event_id] = {
            't': event['createdAt'], 's': Darktrace.event_state(event),
            **Darktrace.seen_comments(list(dataset.incident_comments.get(event_id, [])))}
    return {Darktrace.MIRROR_STATE_KEY: records}


def make_changes(emu: Emulator, breaches: list[Any], event_ids: list[str], k: int, cycle: int) -> set[str]:
    """k changes on the appliance, each to another mirrored record; returns the ids changed."""
    dataset = emu.dataset
    now = emu.now_ms()
    breaches = [breach for breach in breaches if breach.pbid in dataset.breaches]  # not deleted
    targets: list[tuple[str, Any]] = [('event', event_id) for event_id in event_ids[:k // 5]]
    count = min(k - len(targets), len(breaches))  # with fewer mirrored breaches than changes, each changes once
    targets += [('breach', breaches[(cycle * k + index) % len(breaches)]) for index in range(count)]
    changed = set()
    with dataset.lock:
        for index, (kind, target) in enumerate(targets):
            if kind == 'event':
                dataset.add_incident_comment(target, f'Reviewed in cycle {cycle}', 'analyst1', now)
                changed.add(target)
            elif index == len(targets) - 1 and k >= 10 and len(breaches) > k:
                dataset.delete_breach(target.pbid, now)
                changed.add(str(target.pbid))
            elif index % 2:
                dataset.set_acknowledged(target.pbid, not target.acknowledged, now)
                changed.add(str(target.pbid))
            else:
                dataset.add_comment(target.pbid, f'Seen in cycle {cycle}', 'analyst2', now)
                changed.add(str(target.pbid))
    return changed


def run_cycle(emu: Emulator, params: dict[str, Any], context: dict[str, Any]) -> tuple[list[str], dict[str, Any]]:
    """get-modified-remote-data, then get-remote-data for each record named; the ids named and the context."""
    last_update = Darktrace.ms_to_iso(emu.now_ms() - 60_000)
    result = xsoar_platform.run_command('get-modified-remote-data', {'lastUpdate': last_update}, params,
                                        integration_context=context)
    assert not result.failed, result.errors
    named = list(result.entries[0]['Contents'])
    context = result.integration_context
    for remote_id in named:
        result = xsoar_platform.run_command('get-remote-data', {'id': remote_id, 'lastUpdate': last_update}, params,
                                            integration_context=context)
        assert not result.failed, result.errors
        context = result.integration_context
    return named, context


def measure(emu: Emulator, n: int, k: int, cycles: int) -> dict[str, Any]:
    now = emu.now_ms()
    visible = sorted((b for b in emu.dataset.breaches.values() if b.creation_time <= now),
                     key=lambda b: b.time, reverse=True)
    event_ids = sorted(emu.dataset.incidents)[:AI_EVENTS_MIRRORED if n > AI_EVENTS_MIRRORED else 0]
    breaches = visible[:n - len(event_ids)]
    params = xsoar_platform.instance_params(emu, mirror_direction='Incoming And Outgoing', close_incident='true')
    context = remembered(emu, breaches, event_ids)
    row: dict[str, Any] = {}
    for cycle in range(cycles):
        changed = make_changes(emu, breaches[::-1], event_ids, k, cycle)
        emu.clear_log()
        named, context = run_cycle(emu, params, context)
        cost = emu.log.cost()
        # An event's comment is found by the one-event-per-cycle comment check, so it may arrive cycles later.
        missed = {remote_id for remote_id in changed if remote_id not in named}
        row = {'N': n, 'k': k, 'changed': len(changed), 'requests': cost['requests'], 'target': 5 + 2 * k,
               'bytes': cost['bytes'], 'named': len(named),
               'missed': len(missed - set(event_ids)), 'pending': len(missed & set(event_ids))}
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--sizes', type=int, nargs='+', default=[1, 300, 5000])
    parser.add_argument('--changes', type=int, nargs='+', default=[0, 3, 30])
    parser.add_argument('--cycles', type=int, default=3)
    options = parser.parse_args()
    print('| mirrored incidents (N) | changes per cycle (k) | records changed | requests per cycle | target 5 + 2k '
          '| reply bytes per cycle | records named | breach changes missed | AI Analyst comments pending |')
    print('|---:|---:|---:|---:|---:|---:|---:|---:|---:|')
    for n in options.sizes:
        for k in options.changes:
            # A fresh appliance per row, holding more breaches than any row mirrors and changes.
            with Emulator(breaches=max(n, 1) + 200 + k * options.cycles, span_days=30, seed=7) as emu:
                row = measure(emu, n, k, options.cycles)
            print(f'| {row["N"]:,} | {row["k"]} | {row["changed"]} | {row["requests"]} | {row["target"]} '
                  f'| {row["bytes"]:,} | {row["named"]} | {row["missed"]} | {row["pending"]} |', flush=True)


if __name__ == '__main__':
    main()
