"""Local command-line runner: executes the Darktrace integration the way XSOAR does, from a terminal.

    python -m runner '!darktrace-get-similar-devices did=1 max_results=2'
    python -m runner fetch --cycles 3
    python -m runner --demo

Commands go through `Darktrace.main()` with the XSOAR stand-ins (`xsoar_stubs/`), against an
emulated appliance started in-process, or against a real appliance with `--url`.
Never shipped with the integration, and never imported by it.
"""
from __future__ import annotations

import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
XSOAR_STUBS = REPO_ROOT / 'xsoar_stubs'

# The integration imports `demistomock` and `CommonServerPython` as top-level modules, as XSOAR
# provides them; locally the stand-ins play that part, so their folder must be importable.
for _folder in (REPO_ROOT, XSOAR_STUBS):
    if str(_folder) not in sys.path:
        sys.path.insert(0, str(_folder))
