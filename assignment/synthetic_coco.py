"""The embedded offline captioning dataset: rendered shape scenes in the COCO layout.

Students without the real COCO features (or without internet) train on this
instead. One command builds it, deterministically from a seed, in well under a
minute on a laptop::

    python -m assignment.synthetic_coco            # or: make data
    python -m assignment.synthetic_coco --help     # options (seed, sizes, output folder)

What is in a scene
    A 64x64 RGB image with 1-3 objects on a plain background. Each object has
    a colour (8), a shape (6), a size (small/large) and sits in one cell of a
    3x3 layout grid (top/middle/bottom x left/center/right), so that words
    like "above" or "in the top left corner" are exactly true or false.
    Objects are listed in reading order (by row, then by column).

How captions are made
    A small grammar (``describe_scene``) with ~14 templates, synonyms
    ("big"/"large", "square"/"box"), relations ("to the left of", "above",
    "next to"), counts ("two red circles") and positions ("in the top left
    corner"). Every caption is true of its image and has at most 15 words.
    A few rare synonyms ("crimson", "rhombus") appear so seldom that they fall
    below the vocabulary threshold and become ``<UNK>``, as in COCO.

How features are made
    A fixed convolutional network in NumPy (``extract_features``) plays the
    role of VGG-16 fc7: hand-designed colour-opponent channels and oriented
    edge filters on an object mask, maxpool, a 3x3 conv with random weights
    drawn from ``FEATURE_SEED`` (independent of the data seed), ReLU, maxpool,
    then average and max pooling over a 4x4 grid: 2 x 4 x 4 x 64 = 2048
    numbers per image. The ``_pca`` files hold those features projected on
    the 512 principal components of the *train* features.
    ``datasets/feature_probe.py`` shows that the scene content (count,
    colours, shapes, sizes, positions) is linearly recoverable from them.

Files written (the layout of the real COCO captioning data, plus images)
    coco2014_captions.h5
        train_captions   int32 (M_train, 17)  <START> w1 .. wk <END> <NULL>...
        train_image_idxs int32 (M_train,)     row of the caption's image
        val_captions     int32 (M_val, 17)
        val_image_idxs   int32 (M_val,)
    coco2014_vocab.json  {"idx_to_word": [...], "word_to_idx": {...}}
                         <NULL>=0, <START>=1, <END>=2, <UNK>=3, then words by
                         train frequency (ties alphabetical)
    {split}2014_vgg16_fc7.h5      features float32 (N, 2048), scaled so that
                                  the mean of x**2 over the train set is 1
    {split}2014_vgg16_fc7_pca.h5  features float32 (N, 512), centred with the
                                  train mean, scaled so the average variance of
                                  a component over the train set is 1
    {split}2014_urls.txt          one line per image: synthetic://{split}2014/000123
    {split}2014_images.h5         images uint8 (N, 64, 64, 3) and the group
                                  ``attributes`` (the scene, for probing and tests):
        num_objects  int8 (N,)     1..3
        background   int8 (N,)     index into BACKGROUNDS
        color        int8 (N, 3)   index into COLORS, -1 where there is no object
        shape        int8 (N, 3)   index into SHAPES, -1 padded
        size         int8 (N, 3)   index into SIZES, -1 padded
        row, col     int8 (N, 3)   layout-grid cell (0..2), -1 padded
        center_x, center_y int8 (N, 3)  object centre in pixels, -1 padded
        The group's attributes hold the name lists (JSON), e.g. "color_names".
    MANIFEST.json                 size and SHA-256 of every file, and the
                                  parameters (seed, sizes, builder version)

Every .h5 file carries a root attribute ``dataset_id`` (from the seed, the
sizes and the builder version) so the loader can tell when files from two
builds are mixed. Rebuilding with the same parameters gives byte-identical
files. The build writes into a hidden sibling folder and renames it at the
end, so an interrupted build never leaves a folder that looks complete.

Only NumPy, h5py and the standard library are used.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import h5py
import numpy as np

from assignment.checksums import ChecksumError, read_manifest, verify_manifest, write_manifest

__all__ = [
    "DEFAULT_DIR", "BUILDER_VERSION", "FEATURE_SEED", "FILENAMES",
    "COLORS", "SHAPES", "SIZES", "BACKGROUNDS", "ROWS", "COLS", "LEXICON",
    "SceneObject", "Scene", "Caption",
    "sample_scene", "render_scene", "describe_scene", "caption_scene",
    "scene_from_attributes", "build_vocab", "encode_caption",
    "TEMPLATES", "FEATURE_DIM", "extract_features", "fit_pca",
    "build_dataset", "is_built", "main",
]

# Bump when anything changes the bytes written for a given seed: the
# dataset_id changes with it, so old folders are rebuilt instead of reused.
BUILDER_VERSION = "1"

DEFAULT_DIR = Path(__file__).resolve().parent.parent / "datasets" / "synthetic_coco"

IMAGE_SIZE = 64
MAX_OBJECTS = 3
MAX_WORDS = 15                 # words between <START> and <END>
CAPTION_LENGTH = MAX_WORDS + 2  # 17 tokens per row, as in the COCO files
MIN_WORD_COUNT = 5             # train occurrences a word needs to get its own index
RARE_WORD_PROB = 0.001         # chance that a colour/shape/size/background word is a rare synonym
FEATURE_SEED = 2014            # weights of the feature extractor; never the data seed
PCA_DIM = 512

SPECIAL_TOKENS = ("<NULL>", "<START>", "<END>", "<UNK>")
NULL, START, END, UNK = range(4)

CAPTIONS_FILE = "coco2014_captions.h5"
VOCAB_FILE = "coco2014_vocab.json"


def _split_files(split: str) -> list[str]:
    return [
        f"{split}2014_vgg16_fc7.h5",
        f"{split}2014_vgg16_fc7_pca.h5",
        f"{split}2014_urls.txt",
        f"{split}2014_images.h5",
    ]


# Every data file of a complete build (MANIFEST.json lists exactly these).
FILENAMES = (CAPTIONS_FILE, VOCAB_FILE, *_split_files("train"), *_split_files("val"))


# ---------------------------------------------------------------------------
# The scene vocabulary: what can be in an image
# ---------------------------------------------------------------------------

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

# Synonyms for each attribute value: (common words, rare words). The rare
# ones are drawn with probability RARE_WORD_PROB, so most stay below
# MIN_WORD_COUNT in train and become <UNK>.
_SYNONYMS = {
    ("color", "red"): (("red",), ("crimson", "scarlet")),
    ("color", "green"): (("green",), ("emerald", "lime")),
    ("color", "blue"): (("blue",), ("azure", "cobalt")),
    ("color", "yellow"): (("yellow",), ("golden", "lemon")),
    ("color", "purple"): (("purple", "violet"), ("lilac", "plum")),
    ("color", "orange"): (("orange",), ("tangerine", "amber")),
    ("color", "pink"): (("pink",), ("magenta", "salmon")),
    ("color", "brown"): (("brown",), ("chocolate", "tan")),
    ("shape", "circle"): (("circle", "disc"), ("orb",)),
    ("shape", "square"): (("square", "box"), ("tile",)),
    ("shape", "triangle"): (("triangle",), ()),
    ("shape", "star"): (("star",), ()),
    ("shape", "cross"): (("cross",), ("plus",)),
    ("shape", "diamond"): (("diamond",), ("rhombus", "lozenge")),
    ("size", "small"): (("small", "little", "tiny"), ("minuscule", "petite")),
    ("size", "large"): (("large", "big"), ("huge", "enormous", "giant")),
    ("background", "black"): (("black", "dark"), ("ebony",)),
    ("background", "gray"): (("gray", "grey"), ("slate", "silver")),
    ("background", "white"): (("white",), ("ivory", "snowy")),
}


def _plural(noun: str) -> str:
    return noun + ("es" if noun.endswith(("s", "x")) else "s")


def _build_lexicon() -> dict[str, tuple[str, str]]:
    lexicon = {}
    for (kind, value), (common, rare) in _SYNONYMS.items():
        for word in common + rare:
            lexicon[word] = (kind, value)
            if kind == "shape":
                lexicon[_plural(word)] = (kind, value)
    return lexicon


# word -> (kind, value) for every attribute word a caption can contain, e.g.
# LEXICON["box"] == ("shape", "square"), LEXICON["grey"] == ("background", "gray").
# Colour and background words never overlap, so a caption can be checked word by word.
LEXICON = _build_lexicon()
NUMBER_WORDS = {"one": 1, "two": 2, "three": 3}


# ---------------------------------------------------------------------------
# Scenes
# ---------------------------------------------------------------------------

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


def _scene_attributes(scenes: list[Scene]) -> dict[str, np.ndarray]:
    """The scenes as int8 arrays (see the module docstring), -1 where no object."""
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


# ---------------------------------------------------------------------------
# Rendering
# ---------------------------------------------------------------------------

_SUPERSAMPLE = 4  # 4x4 samples per pixel: smooth edges for free (the masks are precomputed)


def _shape_mask(shape: str, dx: np.ndarray, dy: np.ndarray, r: float) -> np.ndarray:
    """Whether the points (dx, dy) (any shape; y grows downwards) lie inside the shape."""
    ax, ay = np.abs(dx), np.abs(dy)
    if shape == "circle":
        return dx**2 + dy**2 <= (0.95 * r) ** 2
    if shape == "square":
        return np.maximum(ax, ay) <= 0.8 * r
    if shape == "diamond":  # taller than wide, so it never looks like a tilted square
        return ax / (0.75 * r) + ay / r <= 1.0
    if shape == "cross":  # a plus sign with arms a third as wide as long
        arm = 0.3 * r
        return ((ax <= r) & (ay <= arm)) | ((ax <= arm) & (ay <= r))
    if shape == "triangle":  # pointing up, circumradius R, centred on its centroid
        big = 1.15 * r
        return (dy <= big / 2) & (ax <= (dy + big) / np.sqrt(3.0))
    if shape == "star":  # five points: tips at 1.1 R, notches at 0.5 R
        outer, inner = 1.1 * r, 0.5 * r
        # Fold the angle into one half-spike [0, 36 deg] measured from a tip
        # (tips point up); there the edge is the line from the tip to the notch.
        theta = np.degrees(np.arctan2(dx, -dy)) % 72.0
        theta = np.radians(np.minimum(theta, 72.0 - theta))
        rho = np.hypot(dx, dy)
        px, py = rho * np.sin(theta), rho * np.cos(theta)  # folded point, tip along +y
        tip = np.array([0.0, outer])
        notch = inner * np.array([np.sin(np.radians(36.0)), np.cos(np.radians(36.0))])
        normal = np.array([tip[1] - notch[1], notch[0] - tip[0]])  # points away from the centre
        return px * normal[0] + py * normal[1] <= normal @ tip
    raise ValueError(f"unknown shape {shape!r}; expected one of {SHAPES}")


def _coverage_template(shape: int, size: int) -> np.ndarray:
    """Fraction of each pixel covered by an object centred on the middle pixel.

    Returns float32 (S, S) with S = 2 * ceil(1.2 R) + 1, computed once per
    (shape, size) with _SUPERSAMPLE**2 samples per pixel.
    """
    r = SIZE_RADIUS[size]
    half = int(np.ceil(1.2 * r))
    offsets = (np.arange(_SUPERSAMPLE) + 0.5) / _SUPERSAMPLE - 0.5
    pixels = np.arange(-half, half + 1)
    samples = (pixels[:, None] + offsets[None, :]).ravel()          # (S * s,)
    y, x = np.meshgrid(samples, samples, indexing="ij")             # (S * s, S * s)
    size = len(pixels)
    inside = _shape_mask(SHAPES[shape], x, y, r).reshape(size, _SUPERSAMPLE, size, _SUPERSAMPLE)
    return inside.mean(axis=(1, 3)).astype(np.float32)


_TEMPLATES = {(s, z): _coverage_template(s, z) for s in range(len(SHAPES)) for z in range(len(SIZES))}
_PAD = max(t.shape[0] for t in _TEMPLATES.values())  # canvas margin so no template needs clipping


def render_scene(scene: Scene) -> np.ndarray:
    """The image of a scene: uint8 (64, 64, 3), objects alpha-blended by coverage."""
    size = IMAGE_SIZE + 2 * _PAD
    canvas = np.empty((size, size, 3), dtype=np.float32)
    canvas[:] = BACKGROUND_RGB[scene.background]
    for obj in scene.objects:
        cover = _TEMPLATES[(obj.shape, obj.size)]  # (S, S)
        half = cover.shape[0] // 2
        y0, x0 = _PAD + obj.y - half, _PAD + obj.x - half
        patch = canvas[y0:y0 + cover.shape[0], x0:x0 + cover.shape[1]]  # view, (S, S, 3)
        patch += cover[:, :, None] * (COLOR_RGB[obj.color] - patch)
    image = canvas[_PAD:_PAD + IMAGE_SIZE, _PAD:_PAD + IMAGE_SIZE]
    return np.clip(np.rint(image), 0, 255).astype(np.uint8)


# ---------------------------------------------------------------------------
# Captions: a small grammar whose every sentence is true of the scene
# ---------------------------------------------------------------------------

class Caption(NamedTuple):
    words: list[str]   # at most MAX_WORDS words, no special tokens
    template: str      # name of the grammar rule that made it


def _word(rng, kind: str, value: str, plural: bool = False) -> str:
    """A synonym for an attribute value; rarely one of its rare synonyms."""
    common, rare = _SYNONYMS[(kind, value)]
    pool = rare if rare and rng.random() < RARE_WORD_PROB else common
    word = pool[int(rng.integers(len(pool)))]
    return _plural(word) if plural else word


def _pick(rng, options):
    return options[int(rng.integers(len(options)))]


def _with_article(words: list[str], rng, allow_one: bool = False) -> list[str]:
    if allow_one and rng.random() < 0.1:
        return ["one"] + words
    return ["an" if words[0][0] in "aeiou" else "a"] + words


def _matches(obj: SceneObject, color: int | None, shape: int | None, size: int | None) -> bool:
    return ((color is None or obj.color == color) and (shape is None or obj.shape == shape)
            and (size is None or obj.size == size))


def _noun_phrase(scene: Scene, obj: SceneObject, rng, article: str = "a") -> list[str]:
    """'a big red circle', 'the green star', 'a small shape', ...

    Shape is named 90% of the time (else 'shape'/'object'), colour 85%, size
    45%. ``article`` 'the' is only used when the description is unique in
    the scene; it falls back to 'a' otherwise. 'one' replaces 'a' now and
    then when the object is alone ('there is one red circle').
    """
    use_shape = rng.random() < 0.9
    use_color = rng.random() < 0.85 or not use_shape  # never just "a shape"
    use_size = rng.random() < 0.45
    words = []
    if use_size:
        words.append(_word(rng, "size", SIZES[obj.size]))
    if use_color:
        words.append(_word(rng, "color", COLORS[obj.color]))
    words.append(_word(rng, "shape", SHAPES[obj.shape]) if use_shape else _pick(rng, ("shape", "object")))
    if article == "the":
        key = (obj.color if use_color else None, obj.shape if use_shape else None,
               obj.size if use_size else None)
        if sum(_matches(o, *key) for o in scene.objects) == 1:
            return ["the"] + words
    return _with_article(words, rng, allow_one=len(scene.objects) == 1)


def _position_phrases(obj: SceneObject) -> list[list[str]]:
    """Every phrase for where an object is, e.g. 'in the top left corner', 'at the top'."""
    phrases = []
    row, col = ROWS[obj.row], COLS[obj.col]
    if obj.row != 1 and obj.col != 1:
        phrases += [["in", "the", row, col, "corner"], ["in", "the", row, col]]
    if obj.row == 1 and obj.col == 1:
        phrases += [["in", "the", "center"], ["in", "the", "middle"]]
    if obj.row != 1 and obj.col == 1:
        phrases += [["in", "the", row, "middle"]]
    if obj.row != 1:
        phrases += [["at", "the", row], ["near", "the", row]]
    if obj.col != 1:
        phrases += [["on", "the", col], ["on", "the", col, "side"]]
    return phrases


def _relation_phrases(a: SceneObject, b: SceneObject) -> list[list[str]]:
    """Every phrase r such that 'a r b' is true, e.g. 'to the left of', 'above'."""
    phrases = []
    if a.col < b.col:
        phrases += [["to", "the", "left", "of"], ["left", "of"]]
    if a.col > b.col:
        phrases += [["to", "the", "right", "of"], ["right", "of"]]
    if a.row < b.row:
        phrases += [["above"]]
    if a.row > b.row:
        phrases += [["below"], ["under"], ["beneath"]]
    if abs(a.row - b.row) + abs(a.col - b.col) == 1:  # neighbouring cells
        phrases += [["next", "to"], ["beside"]]
    return phrases


def _background_phrase(scene: Scene, rng) -> list[str]:
    color = _word(rng, "background", BACKGROUNDS[scene.background])
    return _pick(rng, (["on", "a", color, "background"], ["against", "a", color, "background"],
                       ["with", "a", color, "background"]))


def _groups(scene: Scene, by_color: bool, by_shape: bool) -> list[list[SceneObject]]:
    """Objects grouped by colour and/or shape, groups in order of first appearance."""
    groups: dict[tuple, list[SceneObject]] = {}
    for obj in scene.objects:
        key = (obj.color if by_color else None, obj.shape if by_shape else None)
        groups.setdefault(key, []).append(obj)
    return list(groups.values())


def _group_phrase(scene: Scene, group: list[SceneObject], rng, by_color: bool, by_shape: bool) -> list[str]:
    """'two red circles', 'three stars', 'two green shapes', or a noun phrase for one object."""
    obj = group[0]
    if len(group) == 1:
        if by_color and by_shape:
            return _noun_phrase(scene, obj, rng)
        words = [_word(rng, "color", COLORS[obj.color])] if by_color else []
        noun = _word(rng, "shape", SHAPES[obj.shape]) if by_shape else _pick(rng, ("shape", "object"))
        return _with_article(words + [noun], rng)
    words = [("two", "three")[len(group) - 2]]
    if len({o.size for o in group}) == 1 and rng.random() < 0.3:
        words.append(_word(rng, "size", SIZES[obj.size]))
    if by_color:
        words.append(_word(rng, "color", COLORS[obj.color]))
    words.append(_word(rng, "shape", SHAPES[obj.shape], plural=True) if by_shape
                 else _pick(rng, ("shapes", "objects")))
    return words


def _join(phrases: list[list[str]]) -> list[str]:
    """'x', 'x and y', 'x y and z' (COCO captions carry no commas)."""
    words = []
    for k, phrase in enumerate(phrases):
        if k == len(phrases) - 1 and k > 0:
            words.append("and")
        words += phrase
    return words


def _shuffled(objects, rng) -> list[SceneObject]:
    return [objects[k] for k in rng.permutation(len(objects))]


# The templates. Each takes (scene, rng) and returns a list of words, or None
# when it does not apply to that scene.

def _t_object(scene, rng):
    if len(scene.objects) != 1:
        return None
    words = _noun_phrase(scene, scene.objects[0], rng)
    return words + _background_phrase(scene, rng) if rng.random() < 0.5 else words


def _t_there_is(scene, rng):
    if len(scene.objects) != 1:
        return None
    obj = scene.objects[0]
    return ["there", "is"] + _noun_phrase(scene, obj, rng) + _pick(rng, _position_phrases(obj))


def _t_object_position(scene, rng):
    if len(scene.objects) != 1:
        return None
    obj = scene.objects[0]
    where = _pick(rng, _position_phrases(obj))
    what = _noun_phrase(scene, obj, rng)
    return where + ["there", "is"] + what if rng.random() < 0.3 else what + where


def _t_picture_of(scene, rng):
    prefix = _pick(rng, (["a", "picture", "of"], ["an", "image", "of"], ["a", "drawing", "of"]))
    by_color = rng.random() < 0.8
    parts = [_group_phrase(scene, g, rng, by_color, True)
             for g in _groups(scene, by_color, by_shape=True)]
    return prefix + _join([parts[k] for k in rng.permutation(len(parts))])


def _t_single(scene, rng):
    if len(scene.objects) != 1:
        return None
    phrase = _noun_phrase(scene, scene.objects[0], rng)[1:]  # drop the article
    start = _pick(rng, (["a", "single"], ["only", "one"], ["just", "one"]))
    return start + phrase + (_background_phrase(scene, rng) if rng.random() < 0.4 else [])


def _t_background_with(scene, rng):
    color = _word(rng, "background", BACKGROUNDS[scene.background])
    start = _with_article([color, "background", "with"], rng)
    if len(scene.objects) == 1:
        obj = scene.objects[0]
        tail = _pick(rng, _position_phrases(obj)) if rng.random() < 0.4 else []
        return start + _noun_phrase(scene, obj, rng) + tail
    if rng.random() < 0.5:
        return start + [("two", "three")[len(scene.objects) - 2], _pick(rng, ("shapes", "objects"))]
    return start + _join([_noun_phrase(scene, o, rng) for o in _shuffled(scene.objects, rng)])


def _t_list(scene, rng):
    if len(scene.objects) < 2:
        return None
    phrases = [_noun_phrase(scene, o, rng) for o in _shuffled(scene.objects, rng)]
    if rng.random() < 0.4:  # "a red circle with a blue star and a green cross"
        return phrases[0] + ["with"] + _join(phrases[1:])
    return _join(phrases)


def _t_relation(scene, rng):
    if len(scene.objects) < 2:
        return None
    a, b = _shuffled(scene.objects, rng)[:2]
    words = _noun_phrase(scene, a, rng) + _pick(rng, _relation_phrases(a, b)) + _noun_phrase(scene, b, rng)
    if len(scene.objects) == 3 and rng.random() < 0.5:
        return ["three", _pick(rng, ("shapes", "objects")), "with"] + words
    return ["there", "is"] + words if rng.random() < 0.25 else words


def _t_definite_relation(scene, rng):
    """'the red circle is above the blue star' (only with unique descriptions)."""
    if len(scene.objects) < 2:
        return None
    a, b = _shuffled(scene.objects, rng)[:2]
    first, second = _noun_phrase(scene, a, rng, "the"), _noun_phrase(scene, b, rng, "the")
    if first[0] != "the" or second[0] != "the":
        return None
    return first + ["is"] + _pick(rng, _relation_phrases(a, b)) + second


def _t_positions(scene, rng):
    """'a red circle in the top left corner and a blue star at the bottom'."""
    if len(scene.objects) != 2:
        return None
    return _join([_noun_phrase(scene, o, rng) + _pick(rng, _position_phrases(o))
                  for o in _shuffled(scene.objects, rng)])


def _t_count(scene, rng):
    """'two shapes on a black background', 'three different shapes'."""
    num = len(scene.objects)
    if num < 2:
        return None
    words = [("two", "three")[num - 2]]
    options = ["plain"]
    if len({o.shape for o in scene.objects}) == num:
        options.append("different shapes")
    if len({o.color for o in scene.objects}) == num:
        options.append("different colors")
    choice = _pick(rng, options)
    if choice == "different shapes":
        words += ["different", "shapes"]
    elif choice == "different colors":
        words += [_pick(rng, ("shapes", "objects")), "of", "different", "colors"]
    else:
        words += [_pick(rng, ("shapes", "objects"))]
    return words + _background_phrase(scene, rng) if rng.random() < 0.5 else words


def _grouped_template(by_color, by_shape, doc):
    """A template that counts the objects sharing colour and/or shape (None if none do)."""
    def template(scene, rng):
        groups = _groups(scene, by_color=by_color, by_shape=by_shape)
        if len(groups) == len(scene.objects):  # nothing to count
            return None
        parts = [_group_phrase(scene, g, rng, by_color, by_shape) for g in groups]
        return _join([parts[k] for k in rng.permutation(len(parts))])
    template.__doc__ = doc
    return template


_t_groups = _grouped_template(True, True, "'two red circles and a blue star', 'three green triangles'.")
_t_shape_groups = _grouped_template(False, True, "'two circles and a star' (colours left out).")
_t_color_groups = _grouped_template(True, False, "'two red shapes and a blue object' (shapes left out).")


TEMPLATES = {
    "object": _t_object, "there_is": _t_there_is, "object_position": _t_object_position,
    "picture_of": _t_picture_of, "single": _t_single, "background_with": _t_background_with,
    "list": _t_list, "relation": _t_relation, "definite_relation": _t_definite_relation,
    "positions": _t_positions, "count": _t_count, "groups": _t_groups,
    "shape_groups": _t_shape_groups, "color_groups": _t_color_groups,
}
_TEMPLATE_NAMES = tuple(TEMPLATES)


def describe_scene(scene: Scene, rng: np.random.Generator) -> Caption:
    """One random true caption of ``scene`` with at most MAX_WORDS words.

    Picks a template at random among those that apply and fit; the last
    resort ('a red circle' / 'two shapes') always fits.
    """
    for _ in range(50):
        name = _TEMPLATE_NAMES[int(rng.integers(len(_TEMPLATE_NAMES)))]
        words = TEMPLATES[name](scene, rng)
        if words is not None and len(words) <= MAX_WORDS:
            return Caption(words, name)
    if len(scene.objects) == 1:  # pragma: no cover - 50 misses in a row do not happen
        return Caption(_noun_phrase(scene, scene.objects[0], rng), "object")
    return Caption([("two", "three")[len(scene.objects) - 2], "shapes"], "count")


def caption_scene(scene: Scene, rng: np.random.Generator, count: int = 5) -> list[Caption]:
    """``count`` captions of one scene, distinct when the grammar allows it."""
    captions, seen = [], set()
    for _ in range(count):
        for _attempt in range(10):
            caption = describe_scene(scene, rng)
            if " ".join(caption.words) not in seen:
                break
        seen.add(" ".join(caption.words))
        captions.append(caption)
    return captions


# ---------------------------------------------------------------------------
# Vocabulary and encoding
# ---------------------------------------------------------------------------

def build_vocab(train_captions: list[list[str]], min_count: int = MIN_WORD_COUNT) -> list[str]:
    """``idx_to_word``: the special tokens, then every word seen at least
    ``min_count`` times in ``train_captions``, by decreasing count (ties
    alphabetical). Rarer words will be encoded as ``<UNK>``."""
    counts = Counter(word for words in train_captions for word in words)
    kept = sorted((w for w, c in counts.items() if c >= min_count), key=lambda w: (-counts[w], w))
    return list(SPECIAL_TOKENS) + kept


def encode_caption(words: list[str], word_to_idx: dict[str, int]) -> np.ndarray:
    """int32 (17,): <START> w1 .. wk <END> <NULL> ..., unknown words as <UNK>."""
    if len(words) > MAX_WORDS:
        raise ValueError(f"caption has {len(words)} words, at most {MAX_WORDS} fit: {' '.join(words)}")
    row = np.full(CAPTION_LENGTH, NULL, dtype=np.int32)
    row[0] = START
    row[1:len(words) + 1] = [word_to_idx.get(w, UNK) for w in words]
    row[len(words) + 1] = END
    return row


# ---------------------------------------------------------------------------
# Features: a fixed convolutional network (im2col + matmul, float32)
# ---------------------------------------------------------------------------
#
# Layer 1 is hand-designed, layer 2 is random with a fixed seed:
#   1. colour-opponent channels (a 1x1 conv + ReLU): +-luminance, +-(red-green),
#      +-(yellow-blue): 6 channels that tell the 8 object colours apart;
#   2. an object mask: backgrounds are grey-scale and every object colour is
#      saturated, so the chroma |red-green| + |yellow-blue| (clipped at
#      MASK_CHROMA) is 1 on objects and 0 elsewhere, whatever their colour;
#   3. oriented edges of that mask: 5x5 derivative-of-Gaussian filters at 8
#      orientations, ReLU of both signs (16 channels). They describe shape
#      independently of colour, which random filters on RGB do poorly;
#   4. maxpool 2 -> conv3x3 (22 -> 64, random, FEATURE_SEED) -> ReLU -> maxpool 2:
#      combinations of edges and colours (corners, tips, curves) on a 16x16 map;
#   5. the average and the maximum of that map over each cell of a 4x4 grid.

_NUM_ORIENTATIONS = 8
_OPPONENT = np.array([  # RGB in [0, 1] (3,) -> luminance, red-green, yellow-blue (3,)
    [1 / 3, 1.0, 0.5],
    [1 / 3, -1.0, 0.5],
    [1 / 3, 0.0, -1.0],
], dtype=np.float32)
MASK_CHROMA = 0.15     # chroma at which a pixel counts as fully "object" (brown has ~0.45)
_EDGE_GAIN = 2.0       # edge responses of a full-contrast mask edge are about 1
_COLOR_GAIN = 3.0      # opponent channels weighted up so colour is not drowned by edges
_CONV2 = (3, 2 * _NUM_ORIENTATIONS + 6, 64)  # kernel size, input and output channels
_GRID = 4              # the last feature map is pooled onto a 4x4 grid
FEATURE_DIM = 2 * _GRID * _GRID * _CONV2[2]  # average + max pooling: 2048


def _edge_filters(size: int = 5, sigma: float = 1.2) -> np.ndarray:
    """Derivative-of-Gaussian filters (size, size, 1, 8) at 8 orientations, each
    with zero mean (flat regions give 0) and unit response to a step edge."""
    r = np.arange(size) - size // 2
    y, x = np.meshgrid(r, r, indexing="ij")
    filters = []
    for k in range(_NUM_ORIENTATIONS):
        angle = np.pi * k / _NUM_ORIENTATIONS
        u = x * np.cos(angle) + y * np.sin(angle)  # coordinate across the edge
        g = -u * np.exp(-(x**2 + y**2) / (2 * sigma**2))
        g -= g.mean()
        filters.append(g / (np.abs(g).sum() / 2))
    return np.stack(filters, axis=-1)[:, :, None, :].astype(np.float32)


def _random_conv_weights() -> np.ndarray:
    """Layer-2 weights (k, k, C_in, C_out), He-initialised from FEATURE_SEED, each
    filter with zero mean over its inputs (uniform input -> no response)."""
    k, c_in, c_out = _CONV2
    rng = np.random.default_rng(FEATURE_SEED)
    w = rng.standard_normal((k, k, c_in, c_out)).astype(np.float32)
    w -= w.mean(axis=(0, 1, 2), keepdims=True)
    w *= np.sqrt(2.0 / (k * k * c_in)) / w.std(axis=(0, 1, 2), keepdims=True)
    return w


def _conv(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """'Same' convolution. x (B, H, W, C_in), w (k, k, C_in, C_out) -> (B, H, W, C_out)."""
    k, _, c_in, c_out = w.shape
    p = k // 2
    xp = np.pad(x, ((0, 0), (p, p), (p, p), (0, 0)))
    # im2col: every k x k x C_in window as one row, (B*H*W, k*k*C_in), then one matmul
    windows = np.lib.stride_tricks.sliding_window_view(xp, (k, k), axis=(1, 2))  # (B, H, W, C_in, k, k)
    cols = windows.transpose(0, 1, 2, 4, 5, 3).reshape(-1, k * k * c_in)
    out = cols @ w.reshape(k * k * c_in, c_out)
    return out.reshape(x.shape[0], x.shape[1], x.shape[2], c_out)


def _relu_both_signs(x: np.ndarray) -> np.ndarray:
    """(..., C) -> (..., 2C): ReLU(x) and ReLU(-x), so no sign of a response is lost."""
    return np.maximum(np.concatenate([x, -x], axis=-1), 0)


def _max_pool(x: np.ndarray, s: int) -> np.ndarray:
    """Non-overlapping s x s max pooling, (B, H, W, C) -> (B, H/s, W/s, C)."""
    b, h, w, c = x.shape
    return x.reshape(b, h // s, s, w // s, s, c).max(axis=(2, 4))


def extract_features(images: np.ndarray, batch_size: int = 64, progress: bool = False,
                     desc: str = "features") -> np.ndarray:
    """Raw (unscaled) features of uint8 images (N, 64, 64, 3) -> float32 (N, 2048).

    See the comment above for the layers. The result is a pure function of
    the pixels: the same image always gives the same features. ``progress``
    shows a progress bar (images done) labelled ``desc``.
    """
    from .progress import progress_bar

    edges_w, conv2_w = _edge_filters(), _random_conv_weights()
    out = np.empty((len(images), FEATURE_DIM), dtype=np.float32)
    bar = progress_bar(total=len(images), desc=desc, unit="image", disable=not progress,
                       leave=True)
    for start in range(0, len(images), batch_size):
        x = images[start:start + batch_size].astype(np.float32) / 255.0  # (B, 64, 64, 3)
        opponent = x @ _OPPONENT
        opponent[..., 0] -= 0.5                           # luminance around 0
        opponent = _relu_both_signs(opponent)             # (B, 64, 64, 6): +L +RG +BY -L -RG -BY
        chroma = opponent[..., [1, 2, 4, 5]].sum(axis=-1, keepdims=True)
        mask = np.minimum(chroma, MASK_CHROMA) / MASK_CHROMA         # (B, 64, 64, 1)
        edges = _relu_both_signs(_EDGE_GAIN * _conv(mask, edges_w))  # (B, 64, 64, 16)
        h = _max_pool(np.concatenate([edges, _COLOR_GAIN * opponent], axis=-1), 2)  # (B, 32, 32, 22)
        h = _max_pool(np.maximum(_conv(h, conv2_w), 0), 2)          # (B, 16, 16, 64)
        b, size, _, c = h.shape
        s = size // _GRID
        cells = h.reshape(b, _GRID, s, _GRID, s, c)
        pooled = np.concatenate([cells.mean(axis=(2, 4)), cells.max(axis=(2, 4))], axis=-1)  # (B, 4, 4, 128)
        out[start:start + b] = pooled.reshape(b, -1)
        bar.update(b)
    bar.close()
    return out


def fit_pca(train: np.ndarray, dim: int = PCA_DIM) -> tuple[np.ndarray, np.ndarray]:
    """Mean (F,) and the top ``dim`` principal directions (F, dim) of ``train`` (N, F).

    Computed in float64. Each direction's sign is fixed (largest entry
    positive) so that rebuilds give identical files. With fewer than ``dim``
    independent train rows (tiny test builds) the missing directions are zero.
    """
    x = train.astype(np.float64)
    mean = x.mean(axis=0)
    x -= mean
    n, f = x.shape
    if n > f:  # eigenvectors of the F x F scatter matrix x^T x
        eigvals, components = np.linalg.eigh(x.T @ x)
    else:      # fewer rows than features: go through the N x N Gram matrix x x^T
        eigvals, u = np.linalg.eigh(x @ x.T)
        components = (x.T @ u) / np.sqrt(np.maximum(eigvals, 1e-300))  # unit columns (F, N)
    order = np.argsort(eigvals)[::-1]
    eigvals, components = eigvals[order], components[:, order]
    valid = eigvals > 1e-9 * max(eigvals.max(), 1e-300)  # drop directions without variance
    components = components[:, :dim] * valid[:dim]
    if components.shape[1] < dim:
        components = np.pad(components, ((0, 0), (0, dim - components.shape[1])))
    signs = np.sign(components[np.argmax(np.abs(components), axis=0), np.arange(dim)])
    components *= np.where(signs == 0, 1.0, signs)
    return mean, components


# ---------------------------------------------------------------------------
# Building the folder
# ---------------------------------------------------------------------------

def _dataset_id(seed: int, num_train: int, num_val: int, captions_per_image: int) -> str:
    """A short name that changes with anything that changes the files."""
    params = f"v{BUILDER_VERSION}-seed{seed}-train{num_train}-val{num_val}-cap{captions_per_image}"
    digest = hashlib.sha256(params.encode()).hexdigest()[:8]
    return f"synthetic_coco-{params}-{digest}"


def _rng(seed: int, split: str, purpose: str) -> np.random.Generator:
    """An independent stream per (split, purpose): the train scenes do not
    change when num_val changes, and the captions not when rendering does."""
    return np.random.default_rng([seed, ("train", "val").index(split), ("scenes", "captions").index(purpose)])


def _log(verbose: bool, message: str) -> None:
    if verbose:
        print(message, flush=True)


def _write_h5(path: Path, dataset_id: str, arrays: dict[str, np.ndarray], **dataset_options) -> None:
    with h5py.File(path, "w") as f:
        f.attrs["dataset_id"] = dataset_id
        for key, value in arrays.items():
            f.create_dataset(key, data=value, track_times=False, **dataset_options)


def _write_images(path: Path, dataset_id: str, images: np.ndarray, scenes: list[Scene]) -> None:
    with h5py.File(path, "w") as f:
        f.attrs["dataset_id"] = dataset_id
        # One chunk per image: showing one image reads one small chunk.
        f.create_dataset("images", data=images, chunks=(1, IMAGE_SIZE, IMAGE_SIZE, 3),
                         compression="gzip", compression_opts=4, track_times=False)
        group = f.create_group("attributes")
        for key, value in _scene_attributes(scenes).items():
            group.create_dataset(key, data=value, track_times=False)
        names = {"color_names": COLORS, "shape_names": SHAPES, "size_names": SIZES,
                 "background_names": BACKGROUNDS, "row_names": ROWS, "col_names": COLS}
        for key, value in names.items():
            group.attrs[key] = json.dumps(list(value))
        group.attrs["padding"] = -1


def _make_split(split: str, num_images: int, seed: int, captions_per_image: int, verbose: bool):
    """Scenes, images (N, 64, 64, 3) uint8 and captions (lists of words) of one split."""
    scene_rng, caption_rng = _rng(seed, split, "scenes"), _rng(seed, split, "captions")
    scenes = [sample_scene(scene_rng) for _ in range(num_images)]
    images = np.stack([render_scene(s) for s in scenes]) if scenes else \
        np.zeros((0, IMAGE_SIZE, IMAGE_SIZE, 3), np.uint8)
    captions, image_idxs = [], []
    for i, scene in enumerate(scenes):
        for caption in caption_scene(scene, caption_rng, captions_per_image):
            captions.append(caption.words)
            image_idxs.append(i)
    _log(verbose, f"  {split}: {num_images} scenes rendered, {len(captions)} captions")
    return scenes, images, captions, np.array(image_idxs, dtype=np.int32)


def _params(seed, num_train, num_val, captions_per_image) -> dict:
    return {"dataset": "synthetic_coco", "builder_version": BUILDER_VERSION, "seed": seed,
            "num_train": num_train, "num_val": num_val, "captions_per_image": captions_per_image,
            "dataset_id": _dataset_id(seed, num_train, num_val, captions_per_image)}


def _file_sizes_mb(directory: Path) -> dict[str, float]:
    return {name: round((directory / name).stat().st_size / 2**20, 2) for name in FILENAMES}


def is_built(out_dir: str | Path = DEFAULT_DIR) -> bool:
    """Whether ``out_dir`` holds a complete build: a manifest listing every
    data file, and every file present with the size the manifest records."""
    out_dir = Path(out_dir)
    try:
        manifest = read_manifest(out_dir)
        if manifest is None or not set(FILENAMES) <= set(manifest["files"]):
            return False
        verify_manifest(out_dir, FILENAMES, quick=True)
    except ChecksumError:
        return False
    return True


def _matching_build(out_dir: Path, params: dict) -> dict | None:
    """The manifest of ``out_dir`` if it is a verified build with ``params``."""
    if not is_built(out_dir):
        return None
    manifest = read_manifest(out_dir)
    if any(manifest.get(key) != value for key, value in params.items()):
        return None
    try:
        verify_manifest(out_dir, FILENAMES)  # full SHA-256 check, a second or two
    except ChecksumError:
        return None
    return manifest


def _process_alive(pid: int) -> bool:
    if os.name == "nt":  # os.kill(pid, 0) would send Ctrl-C on Windows: assume it runs
        return True
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return False
    except PermissionError:
        return True      # it exists, it is just not ours
    return True


def _remove_stale_folders(out_dir: Path) -> None:
    """Delete hidden half-builds (and swapped-out old builds) left by killed
    processes; those of builds still running are left alone."""
    for pattern in (f".{out_dir.name}.partial-*", f".{out_dir.name}.old-*"):
        for path in out_dir.parent.glob(pattern):
            pid = path.name.rsplit("-", 1)[-1]
            if pid.isdigit() and int(pid) != os.getpid() and _process_alive(int(pid)):
                continue  # another build is running right now
            shutil.rmtree(path, ignore_errors=True)


def _check_replaceable(out_dir: Path) -> None:
    """Refuse to replace a folder that holds anything but a synthetic build:
    ``--out ~/Documents`` must not delete someone's documents."""
    if not out_dir.exists():
        return
    if not out_dir.is_dir():
        raise ValueError(f"{out_dir} exists and is not a folder; choose another output folder.")
    ours = set(FILENAMES) | {"MANIFEST.json", "MANIFEST.json.tmp"}
    strangers = sorted(p.name for p in out_dir.iterdir() if p.name not in ours)
    if strangers:
        raise ValueError(
            f"{out_dir} already holds files that are not part of the synthetic dataset "
            f"({', '.join(strangers[:5])}{', ...' if len(strangers) > 5 else ''}); the build would "
            "replace the whole folder. Choose another output folder, or empty this one.")


def build_dataset(out_dir: str | Path = DEFAULT_DIR, seed: int = 231, num_train: int = 8000,
                  num_val: int = 1000, captions_per_image: int = 5, force: bool = False,
                  verbose: bool = True) -> dict:
    """Build the synthetic dataset into ``out_dir``; return a summary dict.

    If ``out_dir`` already holds a verified build with the same parameters,
    nothing is rebuilt (unless ``force``) and the summary says ``skipped``.

    Summary keys: out_dir, dataset_id, seed, num_train, num_val,
    captions_per_image, num_train_captions, num_val_captions, vocab_size,
    num_unk_tokens, feature_dim, pca_dim, seconds (per step and total),
    file_sizes_mb, total_mb, skipped.
    """
    for name, value, low in (("seed", seed, 0), ("num_train", num_train, 1), ("num_val", num_val, 1),
                             ("captions_per_image", captions_per_image, 1)):
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < low:
            raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
    out_dir = Path(out_dir).resolve()
    params = _params(int(seed), int(num_train), int(num_val), int(captions_per_image))
    dataset_id = params["dataset_id"]

    if not force:
        manifest = _matching_build(out_dir, params)
        if manifest is not None:
            _log(verbose, f"The synthetic dataset in {out_dir} is complete and verified "
                          f"({dataset_id}); nothing to do. Use --force to rebuild.")
            summary = {key: manifest[key] for key in params if key != "dataset"}
            summary.update(out_dir=str(out_dir), skipped=True, file_sizes_mb=_file_sizes_mb(out_dir))
            summary["total_mb"] = round(sum(summary["file_sizes_mb"].values()), 2)
            return summary

    _check_replaceable(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_folders(out_dir)
    tmp_dir = out_dir.parent / f".{out_dir.name}.partial-{os.getpid()}"
    shutil.rmtree(tmp_dir, ignore_errors=True)
    tmp_dir.mkdir()
    _log(verbose, f"Building the synthetic captioning dataset ({dataset_id}) in {out_dir} ...")
    try:
        summary = _build_into(tmp_dir, params, verbose)
        # Swap the finished folder in. Only these renames touch out_dir, so a
        # crash leaves either the old folder, or none (never a half one).
        old_dir = out_dir.parent / f".{out_dir.name}.old-{os.getpid()}"
        _check_replaceable(out_dir)  # again: it may have changed during the build
        if out_dir.exists():
            out_dir.rename(old_dir)
        tmp_dir.rename(out_dir)
        shutil.rmtree(old_dir, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp_dir, ignore_errors=True)
        raise
    summary["out_dir"] = str(out_dir)
    if verbose:
        _print_summary(summary)
    return summary


def _build_into(directory: Path, params: dict, verbose: bool) -> dict:
    """Write every file of the dataset into ``directory``; the summary dict."""
    start = time.perf_counter()
    seconds = {}
    seed, dataset_id, per_image = params["seed"], params["dataset_id"], params["captions_per_image"]

    # 1. Scenes, images and captions (words).
    t = time.perf_counter()
    splits = {split: _make_split(split, params[f"num_{split}"], seed, per_image, verbose)
              for split in ("train", "val")}
    seconds["scenes_and_captions"] = time.perf_counter() - t

    # 2. Vocabulary from the train captions only, then encode both splits.
    idx_to_word = build_vocab(splits["train"][2])
    word_to_idx = {w: i for i, w in enumerate(idx_to_word)}
    (directory / VOCAB_FILE).write_text(
        json.dumps({"idx_to_word": idx_to_word, "word_to_idx": word_to_idx}, indent=1) + "\n")
    arrays = {}
    for split, (_, _, captions, image_idxs) in splits.items():
        arrays[f"{split}_captions"] = np.stack([encode_caption(w, word_to_idx) for w in captions])
        arrays[f"{split}_image_idxs"] = image_idxs
    _write_h5(directory / CAPTIONS_FILE, dataset_id, arrays)

    # 3. Images, their scene attributes and the URLs.
    t = time.perf_counter()
    for split, (scenes, images, _, _) in splits.items():
        _write_images(directory / f"{split}2014_images.h5", dataset_id, images, scenes)
        urls = "".join(f"synthetic://{split}2014/{i:06d}\n" for i in range(len(images)))
        (directory / f"{split}2014_urls.txt").write_text(urls)
    seconds["write_images"] = time.perf_counter() - t

    # 4. Features, then PCA fitted on train only and applied to both splits.
    t = time.perf_counter()
    raw = {split: extract_features(splits[split][1], progress=verbose, desc=f"{split} features")
           for split in ("train", "val")}
    seconds["features"] = time.perf_counter() - t
    _log(verbose, f"  features: {FEATURE_DIM} per image in {seconds['features']:.1f} s")
    t = time.perf_counter()
    scale = np.float32(1.0 / np.sqrt(np.mean(np.square(raw["train"], dtype=np.float64)) + 1e-12))
    mean, components = fit_pca(raw["train"])
    projected = {split: ((raw[split] - mean) @ components).astype(np.float32) for split in raw}
    # One global factor so that a PCA component has variance 1 on average:
    # h0 = features @ W_proj then starts at a sensible scale.
    pca_scale = np.float32(1.0 / np.sqrt(np.mean(np.var(projected["train"], axis=0)) + 1e-12))
    seconds["pca"] = time.perf_counter() - t
    for split in raw:
        _write_h5(directory / f"{split}2014_vgg16_fc7.h5", dataset_id, {"features": raw[split] * scale})
        _write_h5(directory / f"{split}2014_vgg16_fc7_pca.h5", dataset_id,
                  {"features": projected[split] * pca_scale})

    # 5. The manifest last: its presence marks the folder complete.
    t = time.perf_counter()
    write_manifest(directory, FILENAMES, extra={k: v for k, v in params.items()})
    seconds["manifest"] = time.perf_counter() - t
    seconds["total"] = time.perf_counter() - start

    summary = {key: value for key, value in params.items() if key != "dataset"}
    summary.update(
        num_train_captions=len(arrays["train_captions"]), num_val_captions=len(arrays["val_captions"]),
        vocab_size=len(idx_to_word),
        num_unk_tokens=int((arrays["train_captions"] == UNK).sum() + (arrays["val_captions"] == UNK).sum()),
        feature_dim=FEATURE_DIM, pca_dim=PCA_DIM,
        seconds={k: round(v, 2) for k, v in seconds.items()},
        file_sizes_mb=_file_sizes_mb(directory), skipped=False,
    )
    summary["total_mb"] = round(sum(summary["file_sizes_mb"].values()), 2)
    return summary


def _print_summary(summary: dict) -> None:
    print(f"Done in {summary['seconds']['total']:.1f} s: {summary['out_dir']}")
    for name, mb in summary["file_sizes_mb"].items():
        print(f"  {name:32s} {mb:8.2f} MB")
    print(f"  {'total':32s} {summary['total_mb']:8.2f} MB")
    print(f"  images: {summary['num_train']} train, {summary['num_val']} val; captions: "
          f"{summary['num_train_captions']} train, {summary['num_val_captions']} val; "
          f"vocabulary: {summary['vocab_size']} words ({summary['num_unk_tokens']} <UNK> tokens)")


# ---------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------

def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m assignment.synthetic_coco",
        description=(
            "Build the offline synthetic captioning dataset: rendered scenes of simple "
            "shapes with several true captions each, stored in the same files as the real "
            "COCO captioning data (captions, vocabulary, CNN features and their PCA-512 "
            "variant), plus the images. Deterministic: the same seed gives the same files. "
            "Takes under a minute; an existing complete build with the same settings is kept."),
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_DIR,
                        help="output folder (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=231, help="random seed of the data (default: %(default)s)")
    parser.add_argument("--num-train", type=int, default=8000, help="train images (default: %(default)s)")
    parser.add_argument("--num-val", type=int, default=1000, help="validation images (default: %(default)s)")
    parser.add_argument("--force", action="store_true", help="rebuild even if a matching build exists")
    parser.add_argument("--quiet", action="store_true", help="print nothing but errors")
    args = parser.parse_args(argv)
    try:
        build_dataset(out_dir=args.out, seed=args.seed, num_train=args.num_train,
                      num_val=args.num_val, force=args.force, verbose=not args.quiet)
    except (ValueError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
