"""The caption grammar: random captions that are true of a scene.

About 14 templates (``TEMPLATES``) with synonyms ("big"/"large",
"square"/"box"), relations ("to the left of", "above", "next to"), counts
("two red circles") and positions ("in the top left corner"). Every caption
is true of its image and has at most MAX_WORDS words; ``describe_scene``
picks one, ``caption_scene`` several distinct ones.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ..coco_format import MAX_WORDS
from .scenes import BACKGROUNDS, COLORS, COLS, ROWS, SHAPES, SIZES, Scene, SceneObject
from .words import synonym

class Caption(NamedTuple):
    words: list[str]   # at most MAX_WORDS words, no special tokens
    template: str      # name of the grammar rule that made it




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
        words.append(synonym(rng, "size", SIZES[obj.size]))
    if use_color:
        words.append(synonym(rng, "color", COLORS[obj.color]))
    words.append(synonym(rng, "shape", SHAPES[obj.shape]) if use_shape else _pick(rng, ("shape", "object")))
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
    color = synonym(rng, "background", BACKGROUNDS[scene.background])
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
        words = [synonym(rng, "color", COLORS[obj.color])] if by_color else []
        noun = synonym(rng, "shape", SHAPES[obj.shape]) if by_shape else _pick(rng, ("shape", "object"))
        return _with_article(words + [noun], rng)
    words = [("two", "three")[len(group) - 2]]
    if len({o.size for o in group}) == 1 and rng.random() < 0.3:
        words.append(synonym(rng, "size", SIZES[obj.size]))
    if by_color:
        words.append(synonym(rng, "color", COLORS[obj.color]))
    words.append(synonym(rng, "shape", SHAPES[obj.shape], plural_form=True) if by_shape
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
    color = synonym(rng, "background", BACKGROUNDS[scene.background])
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
