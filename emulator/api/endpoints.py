"""/endpointdetails: what the appliance knows of a host name or an external IP."""
from __future__ import annotations

import ipaddress
from typing import Any

from emulator import views_endpoints
from emulator.params import InputError, Request, bool_param, str_param


# ---------------------------------------------------------------------- /endpointdetails
# RFC 1918 only: Python's is_private also covers the documentation ranges the external hosts use.
_INTERNAL_NETWORKS = tuple(ipaddress.ip_network(n) for n in ('10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16'))


def get_endpointdetails(request: Request) -> dict[str, Any]:
    hostname = str_param(request, 'hostname')
    ip = str_param(request, 'ip')
    if not hostname and not ip:
        raise InputError('hostname or ip is required')
    if hostname:
        return _hostname_details(request, hostname)
    try:
        address = ipaddress.ip_address((ip or '').strip())
    except ValueError:
        raise InputError(f'Invalid value for ip: {ip}') from None
    if any(address in network for network in _INTERNAL_NETWORKS):
        subnet = request.dataset.subnet_of(str(address))
        dids = None
        if bool_param(request, 'devices'):
            dids = [did for did, device in sorted(request.dataset.devices.items()) if device['ip'] == str(address)]
        return views_endpoints.internal_ip_details(request.dataset, subnet, dids, request.now_ms)
    return _external_ip_details(request, str(address))


def _hostname_details(request: Request, hostname: str) -> dict[str, Any]:
    endpoint = request.dataset.endpoints.get(hostname.strip().lower())
    return views_endpoints.hostname_details(request.dataset, hostname, endpoint, request.now_ms,
                                            devices=bool_param(request, 'devices'),
                                            additional_info=bool_param(request, 'additionalinfo'),
                                            score=bool_param(request, 'score'))


def _external_ip_details(request: Request, ip: str) -> dict[str, Any]:
    endpoint = request.dataset.endpoints_by_ip.get(ip)
    return views_endpoints.external_ip_details(request.dataset, ip, endpoint, request.now_ms,
                                               devices=bool_param(request, 'devices'),
                                               additional_info=bool_param(request, 'additionalinfo'),
                                               score=bool_param(request, 'score'))
