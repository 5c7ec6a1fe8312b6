"""Draw Darktrace_image.png, the 120x50 logo XSOAR shows for the integration.

A hexagonal ring with a bright core, followed by a pulse trace, on a dark gradient. Drawn with
the standard library only (zlib + struct) so it can be regenerated anywhere:

    python tools/make_image.py [output.png]
"""

from __future__ import annotations

import math
import struct
import sys
import zlib
from pathlib import Path

WIDTH, HEIGHT = 120, 50  # the size XSOAR requires for an integration image
SUPERSAMPLE = 4           # 4x4 samples per pixel give smooth edges without a drawing library

Color = tuple[float, float, float]
Point = tuple[float, float]

BACKGROUND_TOP: Color = (11, 22, 38)
BACKGROUND_BOTTOM: Color = (20, 42, 64)
RING: Color = (46, 196, 182)
CORE: Color = (255, 159, 28)
TRACE: Color = (144, 224, 239)

MARK_CENTRE: Point = (25.0, 25.0)
HEX_RADIUS = 17.0
HEX_STROKE = 3.2
CORE_RADIUS = 5.5
TRACE_POINTS: list[Point] = [
    (47.0, 25.0), (62.0, 25.0), (67.0, 13.0), (74.0, 37.0), (80.0, 19.0),
    (85.0, 29.0), (89.0, 25.0), (113.0, 25.0),
]
TRACE_STROKE = 2.6


def hexagon_distance(point: Point, centre: Point, radius: float) -> float:
    """Signed distance to a flat-topped regular hexagon (negative inside)."""
    x, y = abs(point[0] - centre[0]), abs(point[1] - centre[1])
    apothem = radius * math.sqrt(3) / 2
    # Fold into one sector: the larger of the distances to the top edge and to the slanted edge.
    slanted = x * math.sqrt(3) / 2 + y / 2
    return max(y, slanted) - apothem


def segment_distance(point: Point, start: Point, end: Point) -> float:
    px, py = point
    ax, ay = start
    bx, by = end
    dx, dy = bx - ax, by - ay
    t = max(0.0, min(1.0, ((px - ax) * dx + (py - ay) * dy) / (dx * dx + dy * dy)))
    return math.hypot(px - (ax + t * dx), py - (ay + t * dy))


def sample(point: Point) -> Color:
    """Colour at one sub-pixel sample: later layers paint over earlier ones."""
    blend = point[1] / HEIGHT
    red, green, blue = (top + (bottom - top) * blend for top, bottom in zip(BACKGROUND_TOP, BACKGROUND_BOTTOM))
    color: Color = (red, green, blue)
    if abs(hexagon_distance(point, MARK_CENTRE, HEX_RADIUS)) <= HEX_STROKE / 2:
        color = RING
    if math.hypot(point[0] - MARK_CENTRE[0], point[1] - MARK_CENTRE[1]) <= CORE_RADIUS:
        color = CORE
    if min(segment_distance(point, a, b) for a, b in zip(TRACE_POINTS, TRACE_POINTS[1:])) <= TRACE_STROKE / 2:
        color = TRACE
    return color


def render() -> list[bytes]:
    rows: list[bytes] = []
    step = 1.0 / SUPERSAMPLE
    offsets = [step * (i + 0.5) for i in range(SUPERSAMPLE)]
    for y in range(HEIGHT):
        row = bytearray([0])  # PNG filter type 0 (None) for every scanline
        for x in range(WIDTH):
            total = [0.0, 0.0, 0.0]
            for oy in offsets:
                for ox in offsets:
                    for channel, value in enumerate(sample((x + ox, y + oy))):
                        total[channel] += value
            row.extend(round(value / SUPERSAMPLE ** 2) for value in total)
        rows.append(bytes(row))
    return rows


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack('>I', len(data)) + kind + data + struct.pack('>I', zlib.crc32(kind + data) & 0xFFFFFFFF)


def encode_png(rows: list[bytes]) -> bytes:
    header = struct.pack('>IIBBBBB', WIDTH, HEIGHT, 8, 2, 0, 0, 0)  # 8-bit RGB, no interlace
    return (b'\x89PNG\r\n\x1a\n' + png_chunk(b'IHDR', header)
            + png_chunk(b'IDAT', zlib.compress(b''.join(rows), 9)) + png_chunk(b'IEND', b''))


def main(argv: list[str]) -> int:
    output = Path(argv[0]) if argv else Path(__file__).resolve().parent.parent / 'Darktrace_image.png'
    output.write_bytes(encode_png(render()))
    print(output)
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
