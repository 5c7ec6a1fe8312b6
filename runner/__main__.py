"""`python -m runner ...`: see runner/cli.py for the usage."""
from __future__ import annotations

import sys

from runner.cli import main

if __name__ == '__main__':
    sys.exit(main())
