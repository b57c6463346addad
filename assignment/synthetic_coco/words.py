"""The words a synthetic caption can use for each attribute value, and how one is picked.

Every colour, shape, size and background has common synonyms ("big"/"large",
"square"/"box") and rare ones ("crimson", "rhombus"). The rare ones are picked
so seldom that they fall below the vocabulary threshold and become ``<UNK>``,
as rare words do in COCO. Colour and background words never overlap, so a
caption can be checked word by word.
"""

from __future__ import annotations

RARE_WORD_PROB = 0.001         # chance that a colour/shape/size/background word is a rare synonym

# Synonyms for each attribute value: (common words, rare words). The rare
# ones are drawn with probability RARE_WORD_PROB, so most stay below
# vocabulary.MIN_WORD_COUNT in train and become <UNK>.
SYNONYMS = {
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


def plural(noun: str) -> str:
    return noun + ("es" if noun.endswith(("s", "x")) else "s")


def synonym(rng, kind: str, value: str, plural_form: bool = False) -> str:
    """A synonym for an attribute value; rarely one of its rare synonyms."""
    common, rare = SYNONYMS[(kind, value)]
    pool = rare if rare and rng.random() < RARE_WORD_PROB else common
    word = pool[int(rng.integers(len(pool)))]
    return plural(word) if plural_form else word

