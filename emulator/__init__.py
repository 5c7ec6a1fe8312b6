"""A Darktrace Threat Visualizer appliance emulator for tests, the runner and benchmarks.

It answers the signed DTAPI on 127.0.0.1 from a seeded dataset, with switches for the
behaviours real appliances disagree on, fault injection, a movable clock and a request log.
The integration never imports it.

    from emulator import Emulator
    with Emulator(breaches=500, span_days=7, seed=1) as emu:
        ...  # emu.url, emu.public_token, emu.private_token
"""
from emulator.facade import Emulator

__all__ = ['Emulator']
