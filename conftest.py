"""Repository-wide pytest setup.

The integration imports ``demistomock`` and ``CommonServerPython`` as top-level modules, the way
XSOAR provides them; locally those are the stand-ins in ``xsoar_stubs/``. Putting that folder, and
the repository root (for ``Darktrace``, ``emulator``, ``runner``), first on ``sys.path`` lets every
test import them without packaging.
"""
from __future__ import annotations

import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent
XSOAR_STUBS = REPO_ROOT / 'xsoar_stubs'


def _put_first_on_path(*folders: Path) -> None:
    for folder in reversed(folders):
        entry = str(folder)
        while entry in sys.path:
            sys.path.remove(entry)
        sys.path.insert(0, entry)


_put_first_on_path(XSOAR_STUBS, REPO_ROOT)
