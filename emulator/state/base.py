"""What every part of the dataset shares: time units, seeding constants, the hash that derives data, times as text."""
from __future__ import annotations

import random
import time as time_module
from typing import Any


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


def floor_to(ms: int, unit_ms: int) -> int:
    return ms - ms % unit_ms


def uuid_from(rng: random.Random) -> str:
    text = f'{rng.getrandbits(128):032x}'
    return f'{text[:8]}-{text[8:12]}-4{text[13:16]}-{text[16:20]}-{text[20:32]}'


def breach_device_record(did: int, device: dict[str, Any]) -> dict[str, Any]:
    """How an AI Analyst event names a device it involves."""
    # guide 2.5: breachDevices[{identifier, hostname, ip, mac, subnet, did, sid}]
    breach_device = {'did': did, 'ip': device['ip'], 'sid': device['sid'],
                     'identifier': device.get('hostname', device['ip'])}
    if 'hostname' in device:
        breach_device['hostname'] = device['hostname']
    if 'macaddress' in device:
        breach_device['mac'] = device['macaddress']
    return breach_device


def format_time(ms: int) -> str:
    """``YYYY-MM-DD HH:MM:SS`` UTC, the appliance's readable timestamp."""
    return time_module.strftime('%Y-%m-%d %H:%M:%S', time_module.gmtime(ms // 1000))


def format_iso(ms: int) -> str:
    return time_module.strftime('%Y-%m-%dT%H:%M:%SZ', time_module.gmtime(ms // 1000))
