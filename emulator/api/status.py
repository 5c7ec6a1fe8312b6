"""/status: the appliance's health and version (guide 2.38)."""
from __future__ import annotations

from typing import Any

from emulator import views
from emulator.params import Request, bool_param


# ---------------------------------------------------------------------- /status
def get_status(request: Request) -> dict[str, Any]:
    return views.status(request.dataset, request.now_ms, fast=bool_param(request, 'fast'))
