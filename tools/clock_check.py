"""Runs the end-to-end suite with every clock pinned at each hour of a day, across a year end.

The tests pin the integration's and the emulator's clocks at one moment (DARKTRACE_TEST_NOW, conftest.py). Data
the emulator derives per device and hour, relative times and the dataset's seven days differ with that moment, so a
test that passes only at some hours (a time bomb) passes `make test` and fails here. The moments are the 24 hours
from 2026-12-31T01:00Z to 2027-01-01T00:00Z: every hour of the day, the last one on the new year, and each with a
dataset that spans the year end.

    python tools/clock_check.py [--hours N] [pytest paths and options]   (default: tests/e2e)

Prints one line per moment (passed or failed, and how long it took) and exits 1 if any failed.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
YEAR_END = datetime(2027, 1, 1, tzinfo=timezone.utc)


def moments(hours: int) -> list[str]:
    """`hours` whole hours ending at the year end, oldest first, as ISO 8601 UTC."""
    return [(YEAR_END - timedelta(hours=back)).strftime('%Y-%m-%dT%H:%M:%SZ') for back in range(hours - 1, -1, -1)]


def run_at(moment: str, pytest_args: list[str]) -> tuple[bool, float, str]:
    """Runs pytest with the clocks at `moment`; (passed, seconds, its last output line)."""
    started = time.monotonic()
    process = subprocess.run(
        [sys.executable, '-m', 'pytest', '-q', '-x', '-p', 'no:cacheprovider', *pytest_args],
        cwd=REPO_ROOT, env={**os.environ, 'DARKTRACE_TEST_NOW': moment}, capture_output=True, text=True, check=False)
    lines = (process.stdout or process.stderr).strip().splitlines()
    return process.returncode == 0, time.monotonic() - started, '\n'.join(lines[-15:]) if lines else ''


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--hours', type=int, default=24, help='how many hours before the year end (default 24)')
    options, pytest_args = parser.parse_known_args(argv)
    pytest_args = pytest_args or ['tests/e2e']
    started = time.monotonic()
    failed = []
    for moment in moments(options.hours):
        passed, seconds, tail = run_at(moment, pytest_args)
        print(f'{moment}  {"passed" if passed else "FAILED"}  {seconds:5.1f} s', flush=True)
        if not passed:
            failed.append(moment)
            print(tail, flush=True)
    print(f'{options.hours} moments in {time.monotonic() - started:.0f} s'
          + (f'; reproduce with DARKTRACE_TEST_NOW={failed[0]} make test' if failed else ''))
    # The plain closing line CI reads: one count per moment of the clock.
    print(f'clock-check: {options.hours - len(failed)} passed, {len(failed)} failed')
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
