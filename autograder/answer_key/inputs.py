"""Draw the input arrays of a case from its unit's declaration (``assignment.units``).

Every input is drawn, in the order the unit declares its inputs (then its
upstream gradients), from the case's own generator: ``Normal`` and
``Uniform`` and ``WordIndices`` draw directly, ``Captions`` by the recipe below. The scales
keep every gradient well conditioned: tanh and sigmoid arguments of order
one, recurrent weights with gain 0.8, upstream gradients N(0, 1). A backward
unit's case also gets ``"cache"``: what the answer key's forward pass returns
as its cache on these inputs (and the case's settings), so a wrong forward pass costs only its own
points. A unit with a ``recipe`` (the sampler) draws through it.
"""

from __future__ import annotations

import re

import numpy as np

from assignment.coco_format import END_INDEX, SPECIAL_TOKENS, START_INDEX
from assignment.units import UNITS, Captions, Case, Normal, Uniform, WordIndices

from .solution import reference

__all__ = ["make_inputs", "case_settings"]

_SIZE = re.compile(r"^(\d*)([A-Za-z]*)([+-]\d+)?$")


def case_settings(case: Case) -> dict:
    """What a case needs besides arrays: its declared settings; for a model case the cell type,
    the vocabulary and max_length."""
    settings = dict(case.settings)
    if case.cell_type:
        V = case.dims["V"]
        settings["cell_type"] = case.cell_type
        settings["words"] = list(SPECIAL_TOKENS) + [f"w{i}" for i in range(V - len(SPECIAL_TOKENS))]
    if case.max_length:
        settings["max_length"] = case.max_length
    return settings


def _sizes(case: Case) -> dict:
    sizes = dict(case.dims)
    if "H" in sizes:  # the gate width of the case's cell type
        sizes["G"] = case.gates * sizes["H"]
    return sizes


def _shape(shape, sizes) -> tuple:
    """('N', '4H', 'T+1', '1') -> (N, 4 * H, T + 1, 1)."""
    out = []
    for entry in shape:
        factor, name, offset = _SIZE.match(entry).groups()
        size = sizes[name] if name else 1
        out.append(int(factor or 1) * size + int(offset or 0))
    return tuple(out)


def _captions(rng, N, T, V):
    """(N, T+1) captions: <START>, words, <END>, then <NULL> padding (row 0 padded when T>=3)."""
    captions = np.zeros((N, T + 1), dtype=np.int32)
    captions[:, 0] = START_INDEX
    for n in range(N):
        words = int(rng.integers(0, T)) if not (n == 0 and T >= 3) else int(rng.integers(0, T - 2))
        captions[n, 1:1 + words] = rng.integers(3, V, size=words)  # <UNK> included
        captions[n, 1 + words] = END_INDEX
    return captions


def _draw(spec, sizes, rng):
    shape = _shape(spec.shape, sizes)
    if isinstance(spec, WordIndices):
        return rng.integers(0, sizes["V"], size=shape).astype(np.int32)
    if isinstance(spec, Uniform):
        return rng.random(shape)
    if isinstance(spec, Captions):
        return _captions(rng, shape[0], shape[1] - 1, sizes["V"])
    if isinstance(spec, Normal):
        value = rng.standard_normal(shape)
        if spec.scale != 1:
            value = value * spec.scale
        if spec.fan_in:
            value = value / np.sqrt(sizes[spec.fan_in])
        return value
    raise TypeError(f"no way to draw {spec!r}")


def _declared(unit, case, rng) -> dict:
    sizes = _sizes(case)
    return {name: _draw(spec, sizes, rng) for name, spec in unit.inputs.items()}


def _greedy_margin(params, features, cell_type, max_length):
    """Smallest gap between the best and second-best word over the steps that are checked.

    A tiny gap would let round-off flip a correct student's argmax.
    """
    ref = reference()
    h = features @ params["W_proj"] + params["b_proj"]
    c = np.zeros_like(h)
    N = features.shape[0]
    word, alive, margin = np.full(N, START_INDEX), np.ones(N, dtype=bool), np.inf
    for _ in range(max_length):
        x = params["W_embed"][word]
        if cell_type == "lstm":
            h, c, _ = ref.lstm_step_forward(x, h, c, params["Wx"], params["Wh"], params["b"])
        else:
            h, _ = ref.rnn_step_forward(x, h, params["Wx"], params["Wh"], params["b"])
        scores = np.sort(h @ params["W_vocab"] + params["b_vocab"], axis=1)
        margin = min(margin, float((scores[:, -1] - scores[:, -2])[alive].min(initial=np.inf)))
        word = (h @ params["W_vocab"] + params["b_vocab"]).argmax(axis=1)
        alive &= word != END_INDEX
        if not alive.any():
            break
    return margin


def _well_separated_greedy_words(unit, case, rng) -> dict:
    """Redraw until greedy sampling never hinges on a near tie (margin > 1e-3)."""
    for _ in range(1000):
        inputs = _declared(unit, case, rng)
        if _greedy_margin(inputs, inputs["features"], case.cell_type, case.max_length) > 1e-3:
            return inputs
    raise RuntimeError(f"could not draw a well-separated sampling case for {case}")


RECIPES = {"well_separated_greedy_words": _well_separated_greedy_words}


def make_inputs(name: str, case: Case, rng: np.random.Generator) -> dict:
    """The input arrays of one case of unit ``name`` (float64; word indices int32)."""
    unit = UNITS[name]
    inputs = RECIPES[unit.recipe](unit, case, rng) if unit.recipe else _declared(unit, case, rng)
    sizes = _sizes(case)
    for upstream, spec in unit.upstream.items():
        inputs[upstream] = _draw(spec, sizes, rng)
    if unit.kind == "backward":
        forward = getattr(reference(), unit.forward)
        inputs["cache"] = forward(*(inputs[k] for k in unit.inputs), **dict(case.settings))[-1]
    return inputs
