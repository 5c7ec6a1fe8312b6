"""Draw pack/doc_files/<playbook>.png, the picture of each playbook's task graph.

demisto-sdk wants one image per playbook (RM116), normally a screenshot of the XSOAR editor. This draws
the same graph from the playbook YAML instead: each task at its editor position with its name (and the
command or script it runs), and an arrow to each next task labelled with the branch taken. It needs
Pillow, which the project's locks do not carry, so it runs from a throwaway environment:

    python3 -m venv /tmp/draw && /tmp/draw/bin/pip install pillow pyyaml
    /tmp/draw/bin/python tools/draw_playbooks.py

Run it after changing a playbook; tests/test_pack.py fails while a playbook has no image.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import yaml
from PIL import Image, ImageDraw, ImageFont

REPO_ROOT = Path(__file__).resolve().parent.parent
PLAYBOOKS = REPO_ROOT / 'pack' / 'Playbooks'
DOC_FILES = REPO_ROOT / 'pack' / 'doc_files'
BOX_WIDTH, BOX_HEIGHT, MARGIN = 300, 56, 30
COLOURS = {'start': '#2ec4b6', 'title': '#e0e6ee', 'condition': '#ffd166', 'playbook': '#b8c1ec',
           'regular': '#ffffff'}
FONT_PATHS = ('/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf', 'DejaVuSans.ttf')


def font(size: int) -> ImageFont.ImageFont:
    for path in FONT_PATHS:
        try:
            return ImageFont.truetype(path, size)
        except OSError:
            continue
    return ImageFont.load_default()


def position(task: dict) -> tuple[float, float]:
    view = json.loads(task.get('view') or '{}').get('position') or {}
    return float(view.get('x', 0)), float(view.get('y', 0))


def box_lines(task: dict) -> list[str]:
    name = task['task'].get('name') or task['type']
    runs = (task['task'].get('script') or '').split('|||')[-1] or task['task'].get('scriptName') or ''
    return [name[:42]] + ([runs[:46]] if runs and runs != name else [])


def draw(playbook: dict) -> Image.Image:
    tasks = playbook['tasks']
    places = {task_id: position(task) for task_id, task in tasks.items()}
    left = min(x for x, _ in places.values()) - MARGIN
    top = min(y for _, y in places.values()) - MARGIN
    width = int(max(x for x, _ in places.values()) - left + BOX_WIDTH + 160)
    height = int(max(y for _, y in places.values()) - top + BOX_HEIGHT + 60)
    image = Image.new('RGB', (width, height), '#f7f9fc')
    pen = ImageDraw.Draw(image)
    name_font, small_font = font(13), font(11)
    for task_id, task in tasks.items():
        x, y = places[task_id]
        for label, targets in (task.get('nexttasks') or {}).items():
            for target in targets:
                tx, ty = places[target]
                start = (x - left + BOX_WIDTH / 2, y - top + BOX_HEIGHT)
                end = (tx - left + BOX_WIDTH / 2, ty - top)
                pen.line([start, end], fill='#555555', width=2)
                pen.ellipse([end[0] - 4, end[1] - 4, end[0] + 4, end[1] + 4], fill='#555555')
                if label != '#none#':
                    pen.text(((start[0] + end[0]) / 2 + 6, (start[1] + end[1]) / 2 - 6), label, fill='#8a3b12',
                             font=small_font)
    for task_id, task in tasks.items():
        x, y = places[task_id]
        box = [x - left, y - top, x - left + BOX_WIDTH, y - top + BOX_HEIGHT]
        pen.rounded_rectangle(box, radius=8, fill=COLOURS.get(task['type'], '#ffffff'), outline='#38506b', width=2)
        for number, line in enumerate(box_lines(task)):
            pen.text((box[0] + 10, box[1] + 10 + 20 * number), line, fill='#1b2838',
                     font=name_font if number == 0 else small_font)
    pen.text((MARGIN / 2, height - 24), playbook['name'], fill='#333333', font=name_font)
    return image


def main() -> int:
    DOC_FILES.mkdir(exist_ok=True)
    for path in sorted(PLAYBOOKS.glob('playbook-*.yml')):
        target = DOC_FILES / f'{path.stem.removeprefix("playbook-")}.png'
        draw(yaml.safe_load(path.read_text(encoding='utf-8'))).save(target, optimize=True)
        print(target.relative_to(REPO_ROOT))
    return 0


if __name__ == '__main__':
    sys.exit(main())
