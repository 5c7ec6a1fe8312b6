"""/endpointdetails replies (guide 2.23): what the appliance knows of an internal IP, a host name or an external IP.
The shape depends on the query; `firsttime` is all lower case, unlike `firstSeen`/`lastSeen` in `devices[]`."""
from __future__ import annotations

from typing import Any

from emulator import views
from emulator.dataset import Dataset, format_time


def internal_ip_details(dataset: Dataset, subnet: dict[str, Any] | None, dids: list[int] | None,
                        now_ms: int) -> dict[str, Any]:
    """/endpointdetails of an internal IP (guide 2.23): {name: "internal_ip", subnetlabel, subnetid, subnetnetwork,
    devices?[]}; `devices` only when `dids` is given."""
    reply: dict[str, Any] = {'name': 'internal_ip'}
    if subnet:
        reply.update({'subnetlabel': subnet['label'], 'subnetid': subnet['sid'], 'subnetnetwork': subnet['network']})
    if dids is not None:
        reply['devices'] = [views.device(dataset, did, now_ms) for did in dids]
    return reply


def hostname_details(dataset: Dataset, hostname: str, endpoint: dict[str, Any] | None, now_ms: int, *,
                     devices: bool, additional_info: bool, score: bool) -> dict[str, Any]:
    """/endpointdetails of a host name (guide 2.23): {hostname, firsttime, devices[]}, with additionalinfo `ips` and
    `locations`, with score `popularity` (100 - rarity) and `dgascore`."""
    reply: dict[str, Any] = {'hostname': hostname}
    if endpoint:
        reply['firsttime'] = endpoint['firsttime']
    reply['devices'] = endpoint_devices(dataset, endpoint, now_ms) if devices and endpoint else []
    if additional_info:
        reply['ips'] = [{'ip': endpoint['ip'], 'timems': endpoint['firsttime'],
                         'time': format_time(endpoint['firsttime']), 'asn': endpoint['asn']}] if endpoint else []
        reply['locations'] = [{'latitude': endpoint['latitude'], 'longitude': endpoint['longitude'],
                               'country': endpoint['country'], 'city': endpoint['city']}] if endpoint else []
    if score:
        reply['popularity'] = 100 - endpoint['rarity'] if endpoint else 0
        reply['dgascore'] = endpoint['dgascore'] if endpoint else 0
    return reply


def external_ip_details(dataset: Dataset, ip: str, endpoint: dict[str, Any] | None, now_ms: int, *,
                        devices: bool, additional_info: bool, score: bool) -> dict[str, Any]:
    """/endpointdetails of an external IP (guide 2.23): {ip, firsttime, country, asn, city, region, longitude,
    latitude, hostnames? (additionalinfo), devices?[], popularity? (score: 100 - rarity)}."""
    reply: dict[str, Any] = {'ip': ip}
    if endpoint:
        reply.update({'firsttime': endpoint['firsttime'], 'country': endpoint['country'], 'asn': endpoint['asn'],
                      'city': endpoint['city'], 'region': endpoint['region'], 'longitude': endpoint['longitude'],
                      'latitude': endpoint['latitude']})
        if additional_info:
            reply['hostnames'] = [{'hostname': endpoint['hostname'], 'count': 1}]
    if devices:
        reply['devices'] = endpoint_devices(dataset, endpoint, now_ms) if endpoint else []
    if score:
        reply['popularity'] = 100 - endpoint['rarity'] if endpoint else 0
    return reply


def endpoint_devices(dataset: Dataset, endpoint: dict[str, Any] | None, now_ms: int) -> list[dict[str, Any]]:
    """The devices that reached an endpoint (guide 2.23 `devices[]`): device objects with `lastTime`."""
    if not endpoint:
        return []
    return [{**views.device(dataset, did, now_ms), 'lastTime': dataset.devices[did]['lastSeen']}
            for did in endpoint['devices']]
