"""Tags: /tags and /tags/entities."""
from __future__ import annotations

from typing import Any

from emulator import views
from emulator.params import InputError, NotFound, Request, bool_param, device_or_404, int_param, str_param


# ---------------------------------------------------------------------- tags
def get_tags(request: Request) -> list[dict[str, Any]]:
    tid = int_param(request, 'tid')
    name = str_param(request, 'tag')
    return [views.tag_object(tag) for t, tag in sorted(request.dataset.tags.items())
            if (tid is None or t == tid) and (name is None or tag['name'] == name)]


def get_tag_entities(request: Request) -> Any:
    dataset = request.dataset
    did = int_param(request, 'did')
    name = str_param(request, 'tag')
    if did is not None:
        if did not in dataset.devices:
            return []
        return [views.tag_object(tag) for tag in dataset.device_tags(did, request.now_ms)]
    if not name:
        raise InputError('did or tag is required')
    tag = dataset.tag_by_name(name)
    links = dataset.tag_links_for(tag['tid'], request.now_ms) if tag else []
    entities = [views.tag_link(link) for link in links]
    if not bool_param(request, 'fulldevicedetails'):
        return entities
    devices = [views.tagged_device(dataset, link.did, request.now_ms) for link in links if link.did in dataset.devices]
    return views.tag_entities(entities, devices)


def post_tag_entity(request: Request) -> Any:
    did = int_param(request, 'did')
    name = str_param(request, 'tag')
    if did is None or not name:
        raise InputError('did and tag are required')
    device_or_404(request, did)
    duration = int_param(request, 'duration', minimum=0)
    tag = request.dataset.tag_by_name(name) or request.dataset.create_tag(name)
    expiry = request.now_ms + duration * 1000 if duration else 0
    request.dataset.link_tag(tag['tid'], did, expiry)
    return views.success() if request.settings.tag_reply == 'success' else views.tag_linked(tag['tid'])


def delete_tag_entity(request: Request) -> dict[str, str]:
    did = int_param(request, 'did')
    name = str_param(request, 'tag')
    if did is None or not name:
        raise InputError('did and tag are required')
    device_or_404(request, did)
    tag = request.dataset.tag_by_name(name)
    if tag is None:
        raise NotFound(f'Tag {name} not found')
    request.dataset.unlink_tag(tag['tid'], did)
    return views.success()
