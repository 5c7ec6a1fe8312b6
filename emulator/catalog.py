"""Fixed vocabularies the dataset draws from: device kinds, vendors, models, endpoints, tags.

Everything here is constant; the seeded choices among these values are made in dataset.py.
Addresses use the documentation ranges (RFC 5737) for external hosts.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

APPLIANCE_HOSTNAME = 'dt-appliance-01'
APPLIANCE_VERSION = '6.1.23 (f35936c6)'

SUBNETS: list[dict[str, Any]] = [
    {'sid': 1, 'label': 'Corporate LAN', 'network': '10.0.1.0/24', 'prefix': '10.0.1.'},
    {'sid': 2, 'label': 'Server VLAN', 'network': '10.0.2.0/24', 'prefix': '10.0.2.'},
    {'sid': 3, 'label': 'Guest Wi-Fi', 'network': '192.168.16.0/24', 'prefix': '192.168.16.'},
    {'sid': 4, 'label': 'IoT and Printers', 'network': '172.16.5.0/24', 'prefix': '172.16.5.'},
]


@dataclass(frozen=True)
class DeviceKind:
    typename: str
    typelabel: str
    weight: int
    sid: int
    vendors: tuple[str, ...]
    oses: tuple[str, ...]
    hostname_stems: tuple[str, ...]


DEVICE_KINDS: tuple[DeviceKind, ...] = (
    DeviceKind('desktop', 'Desktop', 14, 1, ('Dell Inc.', 'Hewlett Packard', 'Lenovo'),
               ('Windows 10', 'Windows 11'), ('ws-fin', 'ws-hr', 'ws-eng', 'ws-ops')),
    DeviceKind('laptop', 'Laptop', 14, 1, ('Apple, Inc.', 'Lenovo', 'Dell Inc.'),
               ('macOS 14', 'Windows 11', 'Ubuntu 22.04'),
               ('lt-jsmith', 'lt-achen', 'lt-mgarcia', 'lt-pkumar', 'lt-lnovak', 'lt-obrien', 'lt-tanaka')),
    DeviceKind('server', 'Server', 10, 2, ('VMware, Inc.', 'Dell Inc.', 'Supermicro'),
               ('Linux 5.15', 'Windows Server 2019', 'Windows Server 2022'),
               ('srv-db', 'srv-web', 'srv-files', 'srv-backup', 'srv-build')),
    DeviceKind('dnsserver', 'DNS Server', 2, 2, ('VMware, Inc.',), ('Windows Server 2019',), ('dc',)),
    DeviceKind('mobile', 'Mobile Device', 8, 3, ('Apple, Inc.', 'Samsung Electronics Co.,Ltd', 'Google, Inc.'),
               ('iOS 17', 'Android 14'), ('iphone', 'galaxy', 'pixel')),
    DeviceKind('printer', 'Printer', 4, 4, ('Brother Industries, Ltd.', 'Hewlett Packard', 'Xerox Corporation'),
               ('',), ('prn-2f', 'prn-3f', 'prn-lobby')),
    DeviceKind('camera', 'Camera', 4, 4, ('Axis Communications AB', 'Hangzhou Hikvision Digital Technology'),
               ('Linux 4.9',), ('cam-lobby', 'cam-dock', 'cam-parking')),
    DeviceKind('iot', 'IoT Device', 3, 4, ('Espressif Inc.', 'Amazon Technologies Inc.', ''),
               ('',), ('thermostat', 'badge-reader', 'smart-tv')),
    DeviceKind('firewall', 'Firewall', 1, 2, ('Palo Alto Networks', 'Fortinet, Inc.'), ('PAN-OS 10',), ('fw-edge',)),
)

DEVICE_LABELS: tuple[str, ...] = (
    'Finance Workstation', 'Build Agent', 'Domain Controller', 'Reception Printer', 'CEO Laptop',
    'Backup Target', 'Lobby Camera', 'vSensor01', 'Jump Host', 'Payroll DB',
)

CREDENTIAL_NAMES: tuple[str, ...] = (
    'jsmith', 'achen', 'mgarcia', 'pkumar', 'lnovak', 'obrien', 'ktanaka', 'svc-backup', 'administrator',
)

# (name, description, color hue, referenced by a model)
TAGS: tuple[tuple[str, str, int, bool], ...] = (
    ('Active Threat', 'Device is under active investigation', 0, True),
    ('Admin', 'Administrative workstation or account', 200, True),
    ('Re-Activated Device', 'Device returned after a long absence', 40, True),
    ('Guest', 'Unmanaged guest device', 120, False),
    ('Critical Asset', 'Business-critical system', 300, True),
    ('Domain Controller', 'Active Directory domain controller', 260, True),
    ('Security Device', 'Security appliance or sensor', 180, False),
    ('No Device Tracking', 'Exclude from device tracking', 60, False),
    ('Multi-use', 'Shared device used by several people', 90, False),
    ('Antigena All', 'Autonomous Response applies to every action', 330, True),
)


@dataclass(frozen=True)
class MetricFilter:
    """A model component: the metric it counts and the filter whose trigger value varies."""
    metric: str
    label: str
    filter_type: str
    comparator: str
    pool: str           # which vocabulary supplies trigger values: see dataset._trigger_pool
    threshold: float
    interval: int


@dataclass(frozen=True)
class ModelSpec:
    name: str
    category: str
    priority: int
    tags: tuple[str, ...]
    description: str
    mitre: tuple[tuple[str, str], ...]
    components: tuple[MetricFilter, ...]
    weight: int


def _mf(metric: str, label: str, filter_type: str, comparator: str, pool: str,
        threshold: float = 1, interval: int = 3600) -> MetricFilter:
    return MetricFilter(metric, label, filter_type, comparator, pool, threshold, interval)


MODELS: tuple[ModelSpec, ...] = (
    ModelSpec('Compromise::Watched Domain', 'Critical', 5, ('AP: C2 Comms',),
              'A device is connecting to a domain on the watched list.',
              (('Application Layer Protocol: DNS', 'T1071.004'),),
              (_mf('dnsrequests', 'DNS Requests', 'DNS host lookup', 'matches', 'watched'),), 6),
    ModelSpec('Anomalous Connection::Data Sent to Rare Domain', 'Suspicious', 4, ('AP: Exfiltration',),
              'A device has sent an unusually large volume of data to a rare external domain.',
              (('Exfiltration Over C2 Channel', 'T1041'),),
              (_mf('externalclientdatatransfervolume', 'External Data Transfer', 'Connection hostname',
                   'matches', 'rare_hostname', 10_000_000),
               _mf('externalclientdatatransfervolume', 'External Data Transfer', 'Rare domain', '>',
                   'rarity', 95)), 9),
    ModelSpec('Device::Suspicious Port Scan', 'Informational', 3, ('AP: Scanning',),
              'A device has made connections to many ports on an internal host.',
              (('Network Service Discovery', 'T1046'),),
              (_mf('internalconnections', 'Internal Connections', 'Destination port', 'in', 'port', 50, 600),), 10),
    ModelSpec('Compromise::Beaconing Activity To External Rare', 'Critical', 5, ('AP: C2 Comms', 'AP: Beaconing'),
              'A device is making regular connections to a rare external endpoint.',
              (('Web Protocols', 'T1071.001'), ('Non-Standard Port', 'T1571')),
              (_mf('externalconnections', 'External Connections', 'Connection hostname', 'matches',
                   'rare_hostname', 20),), 7),
    ModelSpec('Anomalous File::Exe from Rare External Location', 'Suspicious', 4, ('AP: Tooling',),
              'A device downloaded an executable from a rare external location.',
              (('Ingress Tool Transfer', 'T1105'),),
              (_mf('filedownloads', 'File Downloads', 'Mime type', 'matches', 'mime'),), 6),
    ModelSpec('Anomalous Connection::Unusual Admin SMB Session', 'Suspicious', 4, ('AP: Lateral Movement',),
              'A device started an SMB session with administrative credentials it does not normally use.',
              (('SMB/Windows Admin Shares', 'T1021.002'),),
              (_mf('smbsessions', 'SMB Sessions', 'Credential', 'matches', 'credential'),), 5),
    ModelSpec('Compliance::Remote Management Tool On Server', 'Compliance', 2, ('Remote Access',),
              'A remote management tool was used on a server.',
              (('Remote Access Software', 'T1219'),),
              (_mf('externalconnections', 'External Connections', 'Connection hostname', 'matches',
                   'hostname'),), 5),
    ModelSpec('Compliance::Possible Tor Usage', 'Compliance', 3, ('Tor',),
              'A device connected to an endpoint known to be a Tor relay.',
              (('Proxy: Multi-hop Proxy', 'T1090.003'),),
              (_mf('externalconnections', 'External Connections', 'Destination IP', 'in', 'external_ip'),), 4),
    ModelSpec('Device::New User Agent To Internal Server', 'Informational', 1, (),
              'A device used a user agent that has not been seen before against an internal server.',
              (('Exploit Public-Facing Application', 'T1190'),),
              (_mf('httprequests', 'HTTP Requests', 'User agent', 'matches', 'user_agent'),), 8),
    ModelSpec('Device::Attack and Recon Tools', 'Critical', 5, ('AP: Tooling', 'AP: Scanning'),
              'A device is using a user agent associated with attack or reconnaissance tools.',
              (('Active Scanning', 'T1595'),),
              (_mf('httprequests', 'HTTP Requests', 'User agent', 'matches', 'user_agent'),), 3),
    ModelSpec('Anomalous Server Activity::Outgoing from Server', 'Suspicious', 4, ('AP: C2 Comms',),
              'A server made an outgoing connection it does not normally make.',
              (('Application Layer Protocol', 'T1071'),),
              (_mf('externalconnections', 'External Connections', 'Destination port', 'in', 'port'),), 6),
    ModelSpec('Unusual Activity::Unusual Activity from Re-Activated Device', 'Informational', 2, (),
              'A device that had been inactive for a long time is active again.',
              (('Valid Accounts', 'T1078'),),
              (_mf('connections', 'Connections', 'Tagged with', 'has tag', 'tag'),), 4),
    ModelSpec('Compromise::SSL Beaconing to Rare Destination', 'Critical', 5, ('AP: C2 Comms', 'AP: Beaconing'),
              'Regular SSL connections to a rare destination.',
              (('Encrypted Channel', 'T1573'),),
              (_mf('sslconnections', 'SSL Connections', 'JA3 hash', 'matches', 'ja3'),
               _mf('sslconnections', 'SSL Connections', 'Connection hostname', 'matches', 'rare_hostname')), 4),
    ModelSpec('Antigena::Network::External Threat::Antigena Suspicious File Block', 'Informational', 0,
              ('Antigena',), 'Autonomous Response blocked a suspicious file download.',
              (('Ingress Tool Transfer', 'T1105'),),
              (_mf('filedownloads', 'File Downloads', 'Mime type', 'matches', 'mime'),), 3),
    ModelSpec('Device::Anomalous SMB Followed By Multiple Model Breaches', 'Critical', 5, ('AP: Lateral Movement',),
              'Unusual SMB activity followed by several model breaches on the same device.',
              (('Remote Services', 'T1021'),),
              (_mf('modelbreaches', 'Model Breaches', 'Model name', 'matches', 'model_name', 3),), 2),
    ModelSpec('Anomalous Connection::Uncommon 1 GiB Outbound', 'Suspicious', 4, ('AP: Exfiltration',),
              'More than 1 GiB was sent to an external endpoint.',
              (('Exfiltration Over Alternative Protocol', 'T1048'),),
              (_mf('externalclientdatatransfervolume', 'External Data Transfer', 'Destination IP', 'in',
                   'external_ip', 1_073_741_824),), 4),
    ModelSpec('Compliance::SMB Drive Write', 'Compliance', 1, (),
              'A device wrote to an SMB share it does not normally use.',
              (('Remote Services: SMB/Windows Admin Shares', 'T1021.002'),),
              (_mf('smbwrites', 'SMB Writes', 'Share', 'matches', 'share'),), 6),
    ModelSpec('Device::Unusual LDAP Bind and Search Activity', 'Informational', 3, ('AP: Reconnaissance',),
              'A device performed an unusual amount of LDAP binds and searches.',
              (('Account Discovery: Domain Account', 'T1087.002'),),
              (_mf('ldaprequests', 'LDAP Requests', 'Destination port', 'in', 'port'),), 4),
    ModelSpec('Anomalous Connection::Suspicious Self-Signed SSL', 'Suspicious', 4, ('AP: C2 Comms',),
              'A device connected to a rare endpoint presenting a self-signed certificate.',
              (('Encrypted Channel: Asymmetric Cryptography', 'T1573.002'),),
              (_mf('sslconnections', 'SSL Connections', 'Certificate issuer', 'matches', 'issuer'),), 5),
    ModelSpec('Compromise::High Volume of Connections with Beacon Score', 'Critical', 5, ('AP: Beaconing',),
              'Many connections with a high beaconing score.',
              (('Application Layer Protocol', 'T1071'),),
              (_mf('externalconnections', 'External Connections', 'Beaconing score', '>', 'beacon', 80),), 3),
)

# (hostname, ip, country, country code, city, region, asn, latitude, longitude, rarity 0..100, dga score)
EXTERNAL_ENDPOINTS: tuple[tuple[str, str, str, str, str, str, str, float, float, int, int], ...] = (
    ('cats.com', '203.0.113.10', 'United States', 'US', 'Ashburn', 'North America', 'AS14618 Amazon.com, Inc.',
     39.0437, -77.4875, 100, 0),
    ('update.vendor-cdn.net', '203.0.113.20', 'United States', 'US', 'San Jose', 'North America',
     'AS13335 Cloudflare, Inc.', 37.3382, -121.8863, 5, 0),
    ('login.saas-portal.io', '203.0.113.30', 'Ireland', 'IE', 'Dublin', 'Europe', 'AS8075 Microsoft Corporation',
     53.3498, -6.2603, 2, 0),
    ('telemetry.example.org', '203.0.113.40', 'Netherlands', 'NL', 'Amsterdam', 'Europe', 'AS16509 Amazon.com, Inc.',
     52.3676, 4.9041, 10, 0),
    ('files.rare-host.xyz', '198.51.100.23', 'Russia', 'RU', 'Moscow', 'Europe', 'AS48666 Example Hosting LLC',
     55.7558, 37.6173, 98, 12),
    ('c2-relay.badexample.ru', '198.51.100.66', 'Russia', 'RU', 'Saint Petersburg', 'Europe',
     'AS57043 Example VPS Ltd', 59.9311, 30.3609, 100, 35),
    ('pastebin-mirror.cc', '198.51.100.77', 'Seychelles', 'SC', 'Victoria', 'Africa', 'AS204957 Example Net',
     -4.6191, 55.4513, 97, 20),
    ('static.news-site.com', '203.0.113.50', 'United Kingdom', 'GB', 'London', 'Europe', 'AS54113 Fastly, Inc.',
     51.5072, -0.1276, 8, 0),
    ('api.weather-data.net', '203.0.113.60', 'Germany', 'DE', 'Frankfurt am Main', 'Europe',
     'AS24940 Hetzner Online GmbH', 50.1109, 8.6821, 40, 0),
    ('mail.partner-corp.com', '203.0.113.70', 'France', 'FR', 'Paris', 'Europe', 'AS16276 OVH SAS',
     48.8566, 2.3522, 60, 0),
    ('dl.softwarehub.org', '203.0.113.80', 'United States', 'US', 'Seattle', 'North America',
     'AS16509 Amazon.com, Inc.', 47.6062, -122.3321, 70, 0),
    ('tracker.adnet.biz', '203.0.113.90', 'Singapore', 'SG', 'Singapore', 'Asia', 'AS45102 Alibaba Cloud',
     1.3521, 103.8198, 55, 3),
    ('vpn.remote-access.io', '192.0.2.15', 'Canada', 'CA', 'Toronto', 'North America', 'AS812 Rogers Communications',
     43.6532, -79.3832, 85, 0),
    ('cloud-storage.example.com', '192.0.2.25', 'United States', 'US', 'Boardman', 'North America',
     'AS16509 Amazon.com, Inc.', 45.8399, -119.7006, 15, 0),
    ('ntp.pool-time.org', '192.0.2.35', 'Sweden', 'SE', 'Stockholm', 'Europe', 'AS1299 Arelion Sweden AB',
     59.3293, 18.0686, 1, 0),
    ('xj3k9qv7.dga-domain.top', '198.51.100.101', 'China', 'CN', 'Shenzhen', 'Asia', 'AS4134 Chinanet',
     22.5431, 114.0579, 100, 96),
    ('qpz7w2mr.dga-domain.top', '198.51.100.102', 'China', 'CN', 'Shenzhen', 'Asia', 'AS4134 Chinanet',
     22.5431, 114.0579, 100, 93),
    ('remote-support.anydesk-example.com', '192.0.2.45', 'Germany', 'DE', 'Stuttgart', 'Europe',
     'AS31898 Oracle Corporation', 48.7758, 9.1829, 90, 0),
    ('tor-exit.relay-example.net', '198.51.100.150', 'Netherlands', 'NL', 'Rotterdam', 'Europe',
     'AS60729 Example Privacy e.V.', 51.9244, 4.4777, 99, 5),
    ('cdn.jsdelivr-example.net', '192.0.2.55', 'United States', 'US', 'Chicago', 'North America',
     'AS13335 Cloudflare, Inc.', 41.8781, -87.6298, 3, 0),
)

# (name, description, strength, iagn, source, is hostname)
WATCHED_ENTRIES: tuple[tuple[str, str, int, bool, str, bool], ...] = (
    ('c2-relay.badexample.ru', 'Known C2 relay', 100, True, 'ThreatIntel', False),
    ('files.rare-host.xyz', 'Malware staging host', 90, False, 'ThreatIntel', False),
    ('pastebin-mirror.cc', 'Paste site used for exfiltration', 70, False, 'default', False),
    ('198.51.100.66', 'C2 address', 100, True, 'ThreatIntel', False),
    ('xj3k9qv7.dga-domain.top', 'DGA domain seen in phishing campaign', 80, False, 'CTI Feed', True),
    ('tor-exit.relay-example.net', 'Tor exit relay', 50, False, 'default', True),
)

COMMENT_AUTHORS: tuple[str, ...] = ('analyst.jane', 'm.chen', 'soc-automation', 'r.okafor')
COMMENT_MESSAGES: tuple[str, ...] = (
    'Investigating with the device owner.',
    'Confirmed benign: scheduled backup job.',
    'Escalated to incident response.',
    'Matches threat intel from this morning.',
    'False positive, tuning the model.',
    'User contacted, laptop reimaged.',
)

USER_AGENTS: tuple[str, ...] = (
    'Mozilla/5.0 (Windows NT 10.0; Win64; x64)', 'python-requests/2.31.0', 'curl/8.4.0',
    'Nmap Scripting Engine', 'sqlmap/1.7', 'Go-http-client/1.1',
)
MIME_TYPES: tuple[str, ...] = ('application/x-dosexec', 'application/x-msdownload', 'application/zip',
                               'application/vnd.ms-cab-compressed')
JA3_HASHES: tuple[str, ...] = ('72a589da586844d7f0818ce684948eea', 'a0e9f5d64349fb13191bc781f81f42e1',
                               '6734f37431670b3ab4292b8f60f29984')
CERT_ISSUERS: tuple[str, ...] = ('CN=localhost', 'CN=Internet Widgits Pty Ltd', 'CN=server.local')
SHARES: tuple[str, ...] = ('\\\\srv-files01\\finance$', '\\\\srv-files02\\hr', '\\\\srv-backup01\\admin$')
PORTS: tuple[int, ...] = (22, 23, 80, 135, 139, 443, 445, 3389, 5985, 8080, 8443, 4444)

AI_ANALYST_TITLES: tuple[tuple[str, str], ...] = (
    ('Possible HTTP Command and Control', 'C2 traffic to a rare external endpoint over HTTP.'),
    ('Scanning of Multiple Devices', 'The device scanned many internal hosts on common ports.'),
    ('Suspicious Remote Service Control Activity', 'Remote service control over SMB to several devices.'),
    ('Possible SSL Command and Control', 'Regular SSL connections to a rare endpoint with a self-signed certificate.'),
    ('Unusual External Data Transfer', 'A large volume of data was uploaded to a rare external endpoint.'),
    ('Suspicious Download of Executable', 'An executable was downloaded from a rare location.'),
    ('Extensive Unusual SSH Connections', 'Many SSH sessions to internal servers the device does not use.'),
    ('Access of Probable Unencrypted Password Files', 'Files named like password stores were read over SMB.'),
)
MITRE_TACTICS: tuple[str, ...] = ('command-and-control', 'discovery', 'lateral-movement', 'exfiltration',
                                  'execution', 'credential-access', 'initial-access')

ANTIGENA_ACTIONS: tuple[tuple[str, str, str], ...] = (
    ('connection', 'Block matching connections', 'Block connections to {target} on port {port}'),
    ('pol', 'Enforce pattern of life', 'Restrict the device to its normal pattern of life'),
    ('gpol', 'Enforce group pattern of life', 'Restrict the device to its peer group pattern of life'),
    ('quarantine', 'Quarantine device', 'Block all connections to and from the device'),
    ('quarantineOutgoing', 'Block all outgoing traffic', 'Block every outgoing connection from the device'),
    ('quarantineIncoming', 'Block all incoming traffic', 'Block every incoming connection to the device'),
)
