"""Models and their components: /models and /components."""
from __future__ import annotations

from typing import Any

from emulator import views
from emulator.params import NotFound, Request, int_param, str_param


# ---------------------------------------------------------------------- models and components
def get_models(request: Request) -> Any:
    dataset = request.dataset
    uuid = str_param(request, 'uuid')
    pid = int_param(request, 'pid')
    if uuid is not None:
        model = dataset.models_by_uuid.get(uuid)
        if model is None:
            raise NotFound(f'Model {uuid} not found')
        definition = views.model_definition(dataset, model)
        return definition if request.settings.model_uuid_reply == 'object' else [definition]
    if pid is not None:
        return _model_or_404(request, pid)
    return [views.model_definition(dataset, model) for _, model in sorted(dataset.models.items())]


def _model_or_404(request: Request, pid: int) -> dict[str, Any]:
    model = request.dataset.models.get(pid)
    if model is None:
        raise NotFound(f'Model {pid} not found')
    return views.model_definition(request.dataset, model)


def get_model(request: Request) -> dict[str, Any]:
    return _model_or_404(request, int(request.path_args['pid']))


def get_components(request: Request) -> Any:
    cid = int_param(request, 'cid')
    if cid is not None:
        return _component_or_404(request, cid)
    return [views.component(request.dataset, c) for c in sorted(request.dataset.components)]


def _component_or_404(request: Request, cid: int) -> dict[str, Any]:
    if cid not in request.dataset.components:
        raise NotFound(f'Component {cid} not found')
    return views.component(request.dataset, cid)


def get_component(request: Request) -> dict[str, Any]:
    return _component_or_404(request, int(request.path_args['cid']))
