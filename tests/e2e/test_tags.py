"""End-to-end tests of tags: list, tagged devices, tags of a device, tag and untag.

Each command runs through `Darktrace.main()` against the emulator over HTTP (the `emu` fixture, tests/conftest.py).
"""
from __future__ import annotations

from urllib.parse import parse_qs

import pytest

from e2e_support import (AWKWARD, ERROR_ENTRY_TYPE, SIGNATURE_FORMS, assert_signed_once_or_twice, only_request,
                         outputs, params_for, run, run_params)
from emulator import Emulator


CRITICAL_ASSET_TID = 54


def test_get_tagged_devices(emu: Emulator) -> None:
    """
    Given a tag linked to several servers
    When darktrace-get-tagged-devices runs for it
    Then context lists exactly the linked devices, with their other tags apart from this one.
    """
    expected = [link.did for link in emu.dataset.tag_links_for(CRITICAL_ASSET_TID, emu.now_ms())]
    result = outputs(run_params('darktrace-get-tagged-devices', params_for(emu), tagName='Critical Asset'))
    assert [device['deviceId'] for device in result] == expected
    assert all('Critical Asset' not in device['otherTags'] for device in result)


def test_get_tags_for_device(emu: Emulator) -> None:
    """
    Given a device with tags
    When darktrace-get-tags-for-device runs for it
    Then context lists its tags by id and name.
    """
    did = next(link.did for link in emu.dataset.tag_links_for(CRITICAL_ASSET_TID, emu.now_ms()))
    expected = [(tag['tid'], tag['name']) for tag in emu.dataset.device_tags(did, emu.now_ms())]
    result = outputs(run_params('darktrace-get-tags-for-device', params_for(emu), deviceId=str(did)))
    assert [(tag['tagId'], tag['tagName']) for tag in result] == expected
    assert all(tag['deviceId'] == did for tag in result)


def test_post_tag_to_device_then_read_it_back(emu: Emulator) -> None:
    """
    Given a device without the "Admin" tag
    When darktrace-post-tag-to-device adds it for an hour, and darktrace-get-tags-for-device runs
    Then the appliance links the tag to the device for that hour, and the device's tags include it.
    """
    did = 6
    admin = emu.dataset.tag_by_name('Admin')
    assert admin is not None
    emu.dataset.unlink_tag(admin['tid'], did)
    before_ms = emu.now_ms()
    result = outputs(run_params('darktrace-post-tag-to-device', params_for(emu), deviceId=str(did), tagName='Admin',
                                duration='3600'))
    assert result == {'deviceId': did, 'tagId': admin['tid'], 'tagName': 'Admin', 'response': 'SUCCESS'}
    assert parse_qs(only_request(emu, '/tags/entities')['body'])['duration'] == ['3600']
    (link,) = [link for link in emu.dataset.tag_links_for(admin['tid'], emu.now_ms()) if link.did == did]
    assert before_ms + 3_600_000 <= link.expiry <= emu.now_ms() + 3_600_000
    tags = outputs(run_params('darktrace-get-tags-for-device', params_for(emu), deviceId=str(did)))
    assert 'Admin' in [tag['tagName'] for tag in tags]


def test_awkward_tag_name_is_created_verbatim_on_the_appliance(emu: Emulator) -> None:
    """
    Given a tag name full of awkward characters
    When darktrace-post-tag-to-device applies it and darktrace-get-tagged-devices reads it back
    Then the appliance holds a tag with exactly that name on the device, and it is found by that name.
    """
    did = 9
    # A name no other test uses, so the tag is created here whatever order the tests run in.
    name = f'{AWKWARD} #verbatim'
    assert emu.dataset.tag_by_name(name) is None
    outputs(run_params('darktrace-post-tag-to-device', params_for(emu), deviceId=str(did), tagName=name))
    tag = emu.dataset.tag_by_name(name)
    assert tag is not None and tag['name'] == name
    assert did in [link.did for link in emu.dataset.tag_links_for(tag['tid'], emu.now_ms())]
    result = outputs(run_params('darktrace-get-tagged-devices', params_for(emu), tagName=name))
    assert did in [device['deviceId'] for device in result]


def test_list_tags_then_tag_and_untag_a_device(emu: Emulator) -> None:
    """
    Given the appliance's tags and a device
    When the tags are listed, a tag is put on the device, then removed
    Then the listing matches the appliance, and the device's tags follow each step.
    """
    tags = outputs(run(emu, 'darktrace-list-tags', limit='1000'))
    assert {t['tid'] for t in tags} == set(emu.dataset.tags)
    did = sorted(emu.dataset.devices)[7]
    posted = outputs(run(emu, 'darktrace-post-tag-to-device', deviceId=str(did), tagName='E2E Triage',
                         duration='3600'))
    assert posted['deviceId'] == did and posted['tagName'] == 'E2E Triage'
    on_device = outputs(run(emu, 'darktrace-get-tags-for-device', deviceId=str(did)))
    assert 'E2E Triage' in [t['tagName'] for t in on_device]
    removed = outputs(run(emu, 'darktrace-remove-tag-from-device', deviceId=str(did), tagName='E2E Triage'))
    assert removed == {'deviceId': did, 'tagName': 'E2E Triage', 'removed': True}
    remaining = run(emu, 'darktrace-get-tags-for-device', deviceId=str(did))
    assert remaining['Type'] != ERROR_ENTRY_TYPE, remaining['Contents']
    # A device left without tags has no context at all.
    assert 'E2E Triage' not in [t['tagName'] for t in (outputs(remaining) if remaining['EntryContext'] else [])]
    assert 'E2E Triage' not in [tag['name'] for tag in emu.dataset.device_tags(did, emu.now_ms())]


@pytest.mark.parametrize('signature_form', SIGNATURE_FORMS)
def test_tag_active_threat_and_list_it(emu: Emulator, signature_form: str) -> None:
    """
    Given an appliance checking signatures over the decoded form, the encoded form, or either
    When "Active Threat" is put on a device (a form POST), the devices tagged so are listed and the tag removed
    Then each works; the tag is applied once even when the first signature was refused.
    """
    emu.set_settings(signature_form=signature_form)
    did = sorted(emu.dataset.devices)[5]
    outputs(run(emu, 'darktrace-post-tag-to-device', deviceId=str(did), tagName='Active Threat'))
    assert_signed_once_or_twice(emu, '/tags/entities', signature_form)
    tagged = [link.did for link in emu.dataset.tag_links_for(emu.dataset.tag_by_name('Active Threat')['tid'],
                                                             emu.now_ms())]
    assert tagged.count(did) == 1
    emu.clear_log()
    listed = outputs(run(emu, 'darktrace-get-tagged-devices', tagName='Active Threat'))
    assert did in [device['deviceId'] for device in listed]
    assert_signed_once_or_twice(emu, '/tags/entities', signature_form)
    emu.clear_log()
    outputs(run(emu, 'darktrace-remove-tag-from-device', deviceId=str(did), tagName='Active Threat'))
    assert_signed_once_or_twice(emu, '/tags/entities', signature_form)
