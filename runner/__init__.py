"""Local command-line runner: executes the Darktrace integration the way XSOAR does, from a terminal.

    python -m runner '!darktrace-get-similar-devices did=1 max_results=2'
    python -m runner fetch --cycles 3
    python -m runner --demo

Commands go through `Darktrace.main()` with the XSOAR platform modules (the stand-ins in
`xsoar_stubs/`, or the real ones from XSOAR_PLATFORM_DIR), against an emulated appliance started
in-process, or against a real appliance with `--url`.
Never shipped with the integration, and never imported by it.
"""
from __future__ import annotations

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent

# The integration imports `demistomock` and `CommonServerPython` as top-level modules, as XSOAR
# provides them; xsoar_platform puts the folder they come from on sys.path.
import xsoar_platform  # noqa: E402

xsoar_platform.use_platform_modules()
