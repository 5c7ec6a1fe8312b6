"""Darktrace/Email records in the API's reply shapes (email-facts sections cited, see state/email.py)."""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Iterable

from emulator.state.email import Email

SUMMARY_RECIPIENT_KEYS = ('rcpt_to', 'rcpt_status', 'is_read', 'is_group_email', 'tags', 'rcpt_actions_taken',
                          'action_status')


def iso_ms(epoch_ms: int) -> str:
    """email-facts 4: dtime is ISO-8601 UTC with milliseconds, '2025-04-10T15:55:27.341Z'."""
    moment = datetime.fromtimestamp(epoch_ms / 1000, tz=timezone.utc)
    return moment.strftime('%Y-%m-%dT%H:%M:%S.') + f'{epoch_ms % 1000:03d}Z'


def email_summary(email: Email, now_ms: int) -> dict[str, Any]:
    """A search hit (email-facts 3.1): no per-recipient summary, requestedRelease or campaign_id."""
    return {
        'uuid': email.uuid, 'direction': email.direction, 'dtime': iso_ms(email.dtime_ms), 'dtime_unix': email.dtime_ms,
        'header_from': f'"{email.sender_name}" <{email.sender}>', 'header_from_email': email.sender,
        'header_from_personal': email.sender_name, 'header_subject': email.subject,
        'in_progress': now_ms < email.settled_ms, 'n_links': email.n_links, 'n_attachments': email.n_attachments,
        'model_score': email.model_score, 'restricted_recipients': [],
        'rcpts': [{key: rcpt[key] for key in SUMMARY_RECIPIENT_KEYS} for rcpt in email.rcpts],
    }


def email_details(email: Email, now_ms: int) -> dict[str, Any]:
    """GET /emails/{uuid} (email-facts 3.2): the summary keys, campaign_id, and per recipient summary and
    requestedRelease."""
    details = email_summary(email, now_ms)
    details['campaign_id'] = None
    details['rcpts'] = [{**{key: rcpt[key] for key in SUMMARY_RECIPIENT_KEYS}, 'summary': list(email.summary),
                         'requestedRelease': rcpt['requestedRelease']} for rcpt in email.rcpts]
    return details


def email_message(email: Email) -> str:
    """GET /emails/{uuid}/download: the raw MIME message (email-facts 3.6)."""
    recipients = ', '.join(rcpt['rcpt_to'] for rcpt in email.rcpts)
    return (f'From: "{email.sender_name}" <{email.sender}>\r\nTo: {recipients}\r\nSubject: {email.subject}\r\n'
            f'Date: {datetime.fromtimestamp(email.dtime_ms / 1000, tz=timezone.utc):%a, %d %b %Y %H:%M:%S +0000}\r\n'
            'MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n'
            'Please review the attached invoice before Friday.\r\n')


def action_reply(action: str) -> dict[str, Any]:
    """POST /emails/{uuid}/action (email-facts 3.3): hold answers {"code": 0, "resp": "Held Email"}, release
    {"resp": "Email added to queue"}; any other action {"resp": "Action queued"}."""
    if action == 'hold':
        return {'code': 0, 'resp': 'Held Email'}
    return {'resp': 'Email added to queue'} if action == 'release' else {'resp': 'Action queued'}


def catalogue(items: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """A /resources/ catalogue (tags, actions or filters; email-facts 3.4, 3.5): a copy of each entry."""
    return [dict(item) for item in items]
