"""Scenes of the synthetic dataset: what can be in an image, and how scenes are drawn at random.

A scene is a 64x64 image with 1-3 objects on a plain background. Each object
has a colour (8), a shape (6), a size (small/large) and sits in one cell of a
3x3 layout grid (top/middle/bottom x left/center/right), so that words like
"above" or "in the top left corner" are exactly true or false. Objects are
listed in reading order (by row, then by column).

The images file stores the scenes as int8 arrays (``scene_attributes``), read
back by ``scene_from_attributes``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

IMAGE_SIZE = 64
MAX_OBJECTS = 3

COLORS = ("red", "green", "blue", "yellow", "purple", "orange", "pink", "brown")
COLOR_RGB = np.array([  # (8, 3); saturated, and all far from the backgrounds
    [220, 30, 30], [30, 160, 60], [40, 80, 230], [245, 215, 30],
    [140, 50, 190], [250, 135, 20], [250, 120, 200], [130, 80, 35],
], dtype=np.float32)
SHAPES = ("circle", "square", "triangle", "star", "cross", "diamond")
SIZES = ("small", "large")
SIZE_RADIUS = (6.0, 10.0)      # half-extent in pixels of a small / large object
BACKGROUNDS = ("black", "gray", "white")
BACKGROUND_RGB = np.array([[15, 15, 15], [128, 128, 128], [240, 240, 240]], dtype=np.float32)
ROWS = ("top", "middle", "bottom")
COLS = ("left", "center", "right")
CELL_CENTERS = (11, 32, 53)    # pixel centre of each layout-grid row/column
SMALL_JITTER = 2               # small objects move up to this many pixels off the cell centre
# Large objects stay on the centre: two large objects in neighbouring cells
# (21 px apart) then never touch (2 x 10 px).


@dataclass(frozen=True)
class SceneObject:
    """One object. All fields are indices except the pixel centre (x, y)."""
    color: int   # index into COLORS
    shape: int   # index into SHAPES
    size: int    # index into SIZES (0 small, 1 large)
    row: int     # layout-grid row: 0 top, 1 middle, 2 bottom
    col: int     # layout-grid column: 0 left, 1 center, 2 right
    x: int       # centre column in pixels
    y: int       # centre row in pixels


@dataclass(frozen=True)
class Scene:
    """A background and 1-3 objects in distinct grid cells, in reading order."""
    background: int                     # index into BACKGROUNDS
    objects: tuple[SceneObject, ...]


def sample_scene(rng: np.random.Generator) -> Scene:
    """A random scene: 1-3 objects in distinct cells of the 3x3 grid.

    In about a third of the multi-object scenes two (sometimes three) objects
    share colour and shape, so that counting captions ("two red circles") occur.
    """
    num = int(rng.choice([1, 2, 3], p=[0.3, 0.4, 0.3]))
    cells = np.sort(rng.choice(9, size=num, replace=False))  # reading order
    colors = rng.integers(len(COLORS), size=num)
    shapes = rng.integers(len(SHAPES), size=num)
    sizes = rng.integers(len(SIZES), size=num)
    if num >= 2 and rng.random() < 0.35:
        copies = range(num) if (num == 3 and rng.random() < 0.3) else rng.choice(num, 2, replace=False)
        first = min(copies)
        for k in copies:
            colors[k], shapes[k] = colors[first], shapes[first]
    jitter = rng.integers(-SMALL_JITTER, SMALL_JITTER + 1, size=(num, 2))
    objects = []
    for k, cell in enumerate(cells):
        row, col = divmod(int(cell), 3)
        dx, dy = jitter[k] if sizes[k] == 0 else (0, 0)
        objects.append(SceneObject(
            color=int(colors[k]), shape=int(shapes[k]), size=int(sizes[k]), row=row, col=col,
            x=CELL_CENTERS[col] + int(dx), y=CELL_CENTERS[row] + int(dy),
        ))
    return Scene(background=int(rng.integers(len(BACKGROUNDS))), objects=tuple(objects))


def scene_attributes(scenes: list[Scene]) -> dict[str, np.ndarray]:
    """The scenes as int8 arrays (see ``h5files.write_images``), -1 where no object."""
    n = len(scenes)
    attrs = {"num_objects": np.array([len(s.objects) for s in scenes], dtype=np.int8),
             "background": np.array([s.background for s in scenes], dtype=np.int8)}
    for field in ("color", "shape", "size", "row", "col", "x", "y"):
        values = np.full((n, MAX_OBJECTS), -1, dtype=np.int8)
        for i, scene in enumerate(scenes):
            for k, obj in enumerate(scene.objects):
                values[i, k] = getattr(obj, field)
        attrs[{"x": "center_x", "y": "center_y"}.get(field, field)] = values
    return attrs


def scene_from_attributes(attributes, i: int) -> Scene:
    """Scene ``i`` back from the ``attributes`` arrays (or the h5 group) of an images file."""
    num = int(attributes["num_objects"][i])
    field = {k: np.asarray(attributes[k][i]) for k in
             ("color", "shape", "size", "row", "col", "center_x", "center_y")}
    objects = tuple(
        SceneObject(color=int(field["color"][k]), shape=int(field["shape"][k]),
                    size=int(field["size"][k]), row=int(field["row"][k]), col=int(field["col"][k]),
                    x=int(field["center_x"][k]), y=int(field["center_y"][k]))
        for k in range(num)
    )
    return Scene(background=int(attributes["background"][i]), objects=objects)
