"""Helpers of the end-to-end tests: one command through `Darktrace.main()` against the emulator, and what it sent.

Commands run through the one harness (xsoar_platform.run_command) exactly as the platform runs them; the
emulator verifies every DTAPI signature the way an appliance does, and its request log shows what reached
the wire.
"""
from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

import xsoar_platform
from emulator import Emulator

ERROR_ENTRY_TYPE = xsoar_platform.ERROR_ENTRY_TYPE
DAY_MS = 86_400_000
HOUR_MS = 3_600_000
PUBLIC_TOKEN = 'e2e-public-token'
PRIVATE_TOKEN = 'e2e-private-9c41f7d2b8a6'
WRONG_PRIVATE_TOKEN = 'e2e-wrong-private-5d0e3a91c2'
LIMITED_PUBLIC_TOKEN = 'e2e-limited-public'  # may only read and change tags
LIMITED_PRIVATE_TOKEN = 'e2e-limited-private-7b2e90'
SECRETS = (PRIVATE_TOKEN, WRONG_PRIVATE_TOKEN, LIMITED_PRIVATE_TOKEN)
# Characters that break naive encoding or signing: spaces, the query delimiters & = + / %, both
# quotes, Latin accents, a symbol outside Latin-1 and CJK (multi-byte UTF-8).
AWKWARD = 'Zoë & "Team" = a+b/c 100% \'q\' ✓ 東京'
AWKWARD_SOURCE = 'src & =+/% "é"'  # the appliance takes source names shorter than 64 characters
SIGNATURE_FORMS = ['decoded', 'encoded', 'either']
_latest: list[xsoar_platform.RunResult] = []


def checked(result: xsoar_platform.RunResult) -> xsoar_platform.RunResult:
    """`result`, once sure main() ended as on the platform: no escaped exception, exit code 0 if any."""
    if result.exception is not None:
        raise result.exception
    # return_error ends a failed command with exit code 0, as on the platform
    assert result.exit_code in (0, None), f'{result.command} exited with {result.exit_code!r}'
    return result


def run(emu: Emulator, command: str, context: dict[str, Any] | None = None, **args: str) -> Any:
    """Run one command with the emulator's own token pair (and the instance's integration context); its War Room
    entry (its list of entries for get-remote-data)."""
    params = xsoar_platform.instance_params(emu, min_score='0', mirror_direction='Incoming', close_incident='true')
    result = checked(xsoar_platform.run_command(command, args, params, integration_context=context))
    _latest[:] = [result]
    if command == 'get-remote-data':
        return list(result.entries)
    (entry,) = result.entries
    return entry


def latest_run() -> xsoar_platform.RunResult:
    """What the latest run() produced."""
    return _latest[0]


def params_for(emu: Emulator, **overrides: Any) -> dict[str, Any]:
    """Instance parameters with the e2e token pair, TLS verified, no proxy."""
    return xsoar_platform.instance_params(emu.url, PUBLIC_TOKEN, PRIVATE_TOKEN, **{
        'insecure': False, 'proxy': False, 'retry_budget_seconds': '5', **overrides})


def run_params(command: str, params: dict[str, Any], **args: str) -> Any:
    """Run one command with `params`; its one War Room entry, after checking no secret leaked."""
    result = checked(xsoar_platform.run_command(command, args, params))
    assert_no_secret(result.entries, result.logs)
    (entry,) = result.entries
    return entry


def assert_no_secret(*values: Any) -> None:
    text = json.dumps(values, default=str)
    for secret in SECRETS:
        assert secret not in text


def outputs(entry: Any) -> Any:
    """The command's context outputs (its one EntryContext value); fails on an error entry."""
    assert isinstance(entry, dict) and entry['Type'] != ERROR_ENTRY_TYPE, entry
    (value,) = entry['EntryContext'].values()
    return value


def error_text(entry: Any) -> str:
    assert isinstance(entry, dict) and entry['Type'] == ERROR_ENTRY_TYPE, entry
    return entry['Contents']


def only_request(emu: Emulator, path_prefix: str) -> dict[str, Any]:
    requests = [entry for entry in emu.request_log() if entry['path'].startswith(path_prefix)]
    assert len(requests) == 1, requests
    return requests[0]


def requests_to(emu: Emulator, path: str) -> list[dict[str, Any]]:
    return [entry for entry in emu.request_log() if entry['path'] == path]


def statuses(emu: Emulator, path: str) -> list[int]:
    return [entry['status'] for entry in requests_to(emu, path)]


def assert_signed_once_or_twice(emu: Emulator, path: str, signature_form: str) -> None:
    """One accepted request when the appliance takes decoded signatures; else a refused one, then the other form."""
    expected = [400, 200] if signature_form == 'encoded' else [200]
    assert statuses(emu, path) == expected


def iso(ms: int) -> str:
    moment = datetime.fromtimestamp(ms / 1000, tz=timezone.utc)
    return moment.strftime('%Y-%m-%dT%H:%M:%S') + f'.{moment.microsecond // 1000:03d}Z'


def visible_breaches(emu: Emulator) -> list[Any]:
    now = emu.now_ms()
    return sorted((b for b in emu.dataset.breaches.values() if b.creation_time <= now), key=lambda b: b.pbid)
