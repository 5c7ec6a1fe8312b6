"""Darktrace/Email state: seeded, deterministic emails with their recipients, tags and action states.

Record shapes follow the public evidence summed up in docs/email.md (cited "email-facts N", the sections of the
evidence notes): an email has a ``uuid`` of a UUID plus ``.n`` (3.2), a time in ms (4), one entry per recipient
with its delivery status, read flag, tags and actions taken (4). What the evidence leaves open is a choice here:
an email becomes searchable ``visible_ms`` after its time (late analysis, 10 question 2), and stays
``in_progress`` until ``settled_ms``.
"""
from __future__ import annotations

import random
import uuid as uuid_module
from dataclasses import dataclass, field
from typing import Any, Iterable

MINUTE_MS = 60 * 1000
HOUR_MS = 60 * MINUTE_MS
DAY_MS = 24 * HOUR_MS

# email-facts 3.4: tag objects have tag_id, name, description, status (critical | warn | info), readable_status and
# category (Content | Association | History | null); "Forged Address" (fa) is a recorded critical tag.
TAG_CATALOGUE: tuple[dict[str, Any], ...] = (
    {'tag_id': 'fa', 'name': 'Forged Address', 'status': 'critical', 'category': 'Association',
     'description': 'The sender address imitates a known correspondent.'},
    {'tag_id': 'cl', 'name': 'Credential Lure', 'status': 'critical', 'category': 'Content',
     'description': 'The message asks the recipient to enter credentials.'},
    {'tag_id': 'ml', 'name': 'Malicious Link', 'status': 'critical', 'category': 'Content',
     'description': 'A link leads to a site known to host malware.'},
    {'tag_id': 'uc', 'name': 'Unusual Correspondent', 'status': 'warn', 'category': 'History',
     'description': 'The recipient has never corresponded with this sender.'},
    {'tag_id': 'sa', 'name': 'Suspicious Attachment', 'status': 'warn', 'category': 'Content',
     'description': 'An attachment has an unusual type for this sender.'},
    {'tag_id': 'ns', 'name': 'New Sender Domain', 'status': 'warn', 'category': 'Association',
     'description': 'The sending domain was registered recently.'},
    {'tag_id': 'mk', 'name': 'Marketing', 'status': 'info', 'category': 'Content',
     'description': 'Bulk marketing mail.'},
    {'tag_id': 'ex', 'name': 'External Sender', 'status': 'info', 'category': None,
     'description': 'The sender is outside the organisation.'},
)
SEVERITY_LABELS = {'critical': 'Critical', 'warn': 'Warn', 'info': 'Info'}

# email-facts 3.3 and 4: actions the API takes (hold, release) and the labels rcpt_actions_taken records; the others
# are the console's vocabulary (email-facts 3.3, [MCP-O] 5), which the emulated appliance also offers.
ACTION_CATALOGUE: tuple[dict[str, str], ...] = (
    {'action': 'hold', 'label': 'Hold message', 'description': 'Hold the message before it reaches the mailbox.'},
    {'action': 'release', 'label': 'Release message', 'description': 'Release a held message to its recipients.'},
    {'action': 'moveToJunk', 'label': 'Move to junk', 'description': 'Move the delivered message to junk.'},
    {'action': 'stripAllAttachments', 'label': 'Strip attachments', 'description': 'Remove every attachment.'},
)
# The filters real clients send (email-facts 3.1); the shape of /resources/filters is not public (3.5).
FILTER_CATALOGUE: tuple[dict[str, Any], ...] = (
    {'apiFilter': 'Email.Antigena Email Anomaly', 'type': 'number', 'operators': ['>', '<', '=']},
    {'apiFilter': 'Model Tag Severity', 'type': 'select', 'operators': ['=']},
    {'apiFilter': 'Connection.Direction', 'type': 'select', 'operators': ['=']},
    {'apiFilter': 'Action.Action Taken', 'type': 'select', 'operators': ['=']},
    {'apiFilter': 'Antigena Tag', 'type': 'select', 'operators': ['=']},
    {'apiFilter': 'Recipient.Email', 'type': 'text', 'operators': ['~*', '=']},
    {'apiFilter': 'Header.From.Email', 'type': 'text', 'operators': ['~*', '=']},
    {'apiFilter': 'Header.Subject.Subject Value', 'type': 'text', 'operators': ['~*', '=']},
)
SHOWCASE_UUID = 'BA13B274-03F3-46D6-8698-244DFF1037A0.1'  # the uuid form of email-facts 3.2
SUBJECTS = ('Invoice overdue', 'Password expiry notice', 'Quarterly report', 'Shared document', 'Team lunch',
            'Payment details changed', 'Your parcel is waiting', 'Board meeting agenda')
SENDERS = (('Accounts Team', 'accounts@supplier-invoices.example'), ('IT Helpdesk', 'helpdesk@it-support.example'),
           ('Jane Roe', 'jane.roe@partner.example'), ('Newsletter', 'news@marketing.example'),
           ('CEO Office', 'ceo@example-corp.example'))
RECIPIENTS = ('alice@example.com', 'bob@example.com', 'carol@example.com', 'dave@example.com', 'erin@example.com',
              'finance@example.com')


@dataclass
class Email:
    """One message as the Email service keeps it; `rcpts` are its recipients' entries (email-facts 4)."""
    uuid: str
    dtime_ms: int
    direction: str
    sender_name: str
    sender: str
    subject: str
    model_score: int
    n_links: int
    n_attachments: int
    rcpts: list[dict[str, Any]]
    visible_ms: int  # searchable from then on
    settled_ms: int  # in_progress before then
    summary: list[str] = field(default_factory=list)


class EmailDataset:
    """Every email of the emulated Darktrace/Email, from a seed: `emails` spread over `span_days` before
    `anchor_ms`, some analysed late, in progress, held or released."""

    def __init__(self, anchor_ms: int, emails: int = 0, span_days: float = 2, seed: int = 1) -> None:
        self.anchor_ms = anchor_ms
        self.tags = [dict(tag, readable_status=SEVERITY_LABELS[tag['status']]) for tag in TAG_CATALOGUE]
        self.emails: dict[str, Email] = {}
        self._rng = random.Random(seed * 7919 + 17)
        span_ms = int(span_days * DAY_MS)
        for _ in range(emails - 1):
            self.add(self.generated(anchor_ms - self._rng.randint(0, span_ms)))
        if emails:  # one known email for examples and demos: held for three recipients, with tags of each severity
            self.add({'uuid': SHOWCASE_UUID, 'dtime_ms': anchor_ms - 2 * HOUR_MS, 'sender_name': 'Accounts Team',
                      'sender': 'accounts@supplier-invoices.example', 'subject': 'Invoice overdue',
                      'model_score': 92, 'direction': 'inbound', 'status': 'held', 'late_ms': 0, 'analysis_ms': 0,
                      'recipients': ['alice@example.com', 'bob@example.com', 'finance@example.com'],
                      'tags': ['Forged Address', 'Unusual Correspondent', 'External Sender']})

    def generated(self, dtime_ms: int, **overrides: Any) -> dict[str, Any]:
        """A realistic email at `dtime_ms`: 1-4 recipients, tags of every severity, some held or released."""
        rng = self._rng
        name, sender = SENDERS[rng.randrange(len(SENDERS))]
        recipients = rng.sample(RECIPIENTS, rng.randint(1, 4))
        tags = rng.sample([tag['name'] for tag in TAG_CATALOGUE], rng.randint(0, 3))
        status = rng.choice(('delivered', 'delivered', 'delivered', 'held', 'released'))
        spec = {'dtime_ms': dtime_ms, 'sender_name': name, 'sender': sender,
                'subject': SUBJECTS[rng.randrange(len(SUBJECTS))], 'model_score': rng.randint(0, 100),
                'direction': rng.choice(('inbound', 'inbound', 'inbound', 'outbound', 'internal')),
                'recipients': recipients, 'tags': tags, 'status': status, 'n_links': rng.randint(0, 5),
                'n_attachments': rng.randint(0, 2), 'late_ms': rng.choice((0, 0, 0, 30_000, 4 * MINUTE_MS)),
                'analysis_ms': rng.choice((0, 0, 0, 0, 2 * MINUTE_MS)), 'uuid': self._uuid()}
        spec.update(overrides)
        return spec

    def _uuid(self) -> str:
        return f'{uuid_module.UUID(int=self._rng.getrandbits(128), version=4)}'.upper() + '.1'

    def add(self, spec: dict[str, Any]) -> str:
        """Add an email from a spec (the keys of `generated`, any left out drawn from the seed); returns its uuid."""
        spec = {**self.generated(int(spec.get('dtime_ms', self.anchor_ms))), **spec}
        actions = {'held': ['Hold message'], 'released': ['Hold message', 'Release message']}.get(spec['status'], [])
        rcpts = [{'rcpt_to': address, 'rcpt_status': spec['status'], 'is_read': spec['status'] == 'delivered'
                  and position % 2 == 0, 'is_group_email': address.startswith('finance'), 'tags': list(spec['tags']),
                  'rcpt_actions_taken': list(actions), 'action_status': bool(actions),
                  'requestedRelease': None}
                 for position, address in enumerate(spec['recipients'])]
        email = Email(uuid=spec['uuid'], dtime_ms=spec['dtime_ms'], direction=spec['direction'],
                      sender_name=spec['sender_name'], sender=spec['sender'], subject=spec['subject'],
                      model_score=spec['model_score'], n_links=spec['n_links'], n_attachments=spec['n_attachments'],
                      rcpts=rcpts, visible_ms=spec['dtime_ms'] + spec['late_ms'],
                      settled_ms=spec['dtime_ms'] + spec['analysis_ms'],
                      summary=[f'This email was sent by {spec["sender"]}.',
                               f'It carries {len(spec["tags"])} notable indicators.'])
        self.emails[email.uuid] = email
        return email.uuid

    def add_many(self, specs: Iterable[dict[str, Any]]) -> list[str]:
        return [self.add(spec) for spec in specs]

    def take_action(self, email: Email, recipients: list[dict[str, Any]], action: str, label: str) -> None:
        """Record `action` (its catalogue `label`) on those `recipients` of `email`; a hold or a release also sets
        their status (email-facts 3.3)."""
        for rcpt in recipients:
            rcpt['rcpt_actions_taken'].append(label)
            rcpt['action_status'] = True
            rcpt['rcpt_status'] = {'hold': 'held', 'release': 'released'}.get(action, rcpt['rcpt_status'])
