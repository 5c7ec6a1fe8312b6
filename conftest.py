"""Repository-wide pytest setup.

The integration imports ``demistomock`` and ``CommonServerPython`` as top-level modules, the way
XSOAR provides them: the stand-ins in ``xsoar_stubs/``, or the real modules from the folder named
by XSOAR_PLATFORM_DIR (see xsoar_platform.py). That folder, and the repository root (for
``Darktrace``, ``emulator``, ``runner``), go first on ``sys.path`` so every test can import them; ``tests/``
follows, for the test helpers (the fake appliance, the fake DNS, the e2e helpers). Shared fixtures are in
tests/conftest.py.
"""
from __future__ import annotations

import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(REPO_ROOT / 'tests'))
sys.path.insert(0, str(REPO_ROOT))
import xsoar_platform  # noqa: E402

PLATFORM_DIR = xsoar_platform.use_platform_modules()


def pytest_report_header() -> str:
    return f'XSOAR platform modules: {PLATFORM_DIR}'
