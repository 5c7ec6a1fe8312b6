"""/endpointdetails: what the appliance knows of a host name or an external IP."""
from __future__ import annotations

import ipaddress
from typing import Any

from emulator import views
from emulator.dataset import format_time
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
        reply: dict[str, Any] = {'name': 'internal_ip'}
        if subnet:
            reply.update({'subnetlabel': subnet['label'], 'subnetid': subnet['sid'],
                          'subnetnetwork': subnet['network']})
        if bool_param(request, 'devices'):
            reply['devices'] = [views.device(request.dataset, did, request.now_ms)
                                for did, device in sorted(request.dataset.devices.items())
                                if device['ip'] == str(address)]
        return reply
    return _external_ip_details(request, str(address))


def _hostname_details(request: Request, hostname: str) -> dict[str, Any]:
    endpoint = request.dataset.endpoints.get(hostname.strip().lower())
    reply: dict[str, Any] = {'hostname': hostname}
    if endpoint:
        reply['firsttime'] = endpoint['firsttime']
    reply['devices'] = _endpoint_devices(request, endpoint) if bool_param(request, 'devices') and endpoint else []
    if bool_param(request, 'additionalinfo'):
        reply['ips'] = [{'ip': endpoint['ip'], 'timems': endpoint['firsttime'],
                         'time': format_time(endpoint['firsttime']),
                         'asn': endpoint['asn']}] if endpoint else []
        reply['locations'] = [{'latitude': endpoint['latitude'], 'longitude': endpoint['longitude'],
                               'country': endpoint['country'], 'city': endpoint['city']}] if endpoint else []
    if bool_param(request, 'score'):
        reply['popularity'] = 100 - endpoint['rarity'] if endpoint else 0
        reply['dgascore'] = endpoint['dgascore'] if endpoint else 0
    return reply


def _external_ip_details(request: Request, ip: str) -> dict[str, Any]:
    endpoint = request.dataset.endpoints_by_ip.get(ip)
    reply: dict[str, Any] = {'ip': ip}
    if endpoint:
        reply.update({'firsttime': endpoint['firsttime'], 'country': endpoint['country'], 'asn': endpoint['asn'],
                      'city': endpoint['city'], 'region': endpoint['region'], 'longitude': endpoint['longitude'],
                      'latitude': endpoint['latitude']})
        if bool_param(request, 'additionalinfo'):
            reply['hostnames'] = [{'hostname': endpoint['hostname'], 'count': 1}]
    if bool_param(request, 'devices'):
        reply['devices'] = _endpoint_devices(request, endpoint) if endpoint else []
    if bool_param(request, 'score'):
        reply['popularity'] = 100 - endpoint['rarity'] if endpoint else 0
    return reply


def _endpoint_devices(request: Request, endpoint: dict[str, Any] | None) -> list[dict[str, Any]]:
    if not endpoint:
        return []
    return [{**views.device(request.dataset, did, request.now_ms), 'lastTime': request.dataset.devices[did]['lastSeen']}
            for did in endpoint['devices']]
