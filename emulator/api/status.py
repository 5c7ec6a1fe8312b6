"""/status: the appliance's health and version (guide 2.38)."""
from __future__ import annotations

from typing import Any

from emulator.catalog import APPLIANCE_HOSTNAME, APPLIANCE_VERSION
from emulator.dataset import DAY_MS, format_time
from emulator.params import Request, bool_param


# ---------------------------------------------------------------------- /status
def get_status(request: Request) -> dict[str, Any]:
    dataset = request.dataset
    reply: dict[str, Any] = {
        'excessTraffic': False, 'time': format_time(request.now_ms),
        'installed': format_time(dataset.anchor_ms - 400 * DAY_MS),
        'mobileAppConfigured': False, 'version': APPLIANCE_VERSION, 'ipAddress': '10.0.2.5',
        'modelsUpdated': format_time(dataset.anchor_ms - 2 * DAY_MS), 'modelPackageVersion': '5.0-2331~20230412',
        'bundleVersion': '61023', 'bundleVariant': '', 'bundleDate': format_time(dataset.anchor_ms - 30 * DAY_MS),
        'hostname': APPLIANCE_HOSTNAME, 'inoculation': False, 'applianceOSCode': 'x',
        'license': format_time(dataset.anchor_ms + 300 * DAY_MS), 'antigenaNetworkEnabled': True,
        'antigenaNetworkConfirmationMode': False, 'type': 'master', 'diskSpaceUsed_': 37, 'diskUtilization': 12,
        'load': 21, 'cpu': 18, 'memoryUsed': 64, 'uptime': '41 days, 03:12:45',
        'label': 'Emulated Threat Visualizer', 'uuid': '8a3f4c1e-2b7d-4e6f-9a1b-0c2d3e4f5a6b',
        'connectionsPerMinuteCurrent': 4531, 'connectionsPerMinuteAverage15': 4410,
        'bandwidthCurrent': 98765432, 'bandwidthCurrentString': '98.77 Mbps',
        'bandwidthAverage15': 91234567, 'bandwidthAverage15String': '91.23 Mbps',
        'processedBandwidthCurrent': 98765432, 'processedBandwidthCurrentString': '98.77 Mbps',
        'subnets': len(dataset.subnets), 'devicesModeled': len(dataset.devices), 'dnsServers': 1,
        'activeDevices7Days': len(dataset.devices), 'models': len(dataset.models), 'modelsSuppressed': 0,
    }
    # guide 2.38: the emulated appliance has no probes, so neither `probes` nor `instances` is present; with fast=true
    # the subnet data and device counts are left out and devicesModeled shows 0
    if bool_param(request, 'fast'):
        for key in ('subnets', 'activeDevices7Days'):
            reply.pop(key)
        reply['devicesModeled'] = 0
    return reply
