"""The graded units, each declared once: what you implement, how it is called and checked.

A *unit* is one thing you implement in a notebook (a function, or
``CaptioningRNN.loss`` / ``CaptioningRNN.sample``) and one graded test cell.
``UNITS`` below says, for each: its notebook and object, how it is called
(its kind and arguments), its outputs with their points, the tolerance, the
shapes of its test cases (the public case first: its inputs are in
``assignment/public_checks.npz``; then the hidden cases that run at grading
time, with other shapes), the case's settings (the arguments that are not
arrays: ``cell_type``, ``temperature``, ``max_norm``), how each input is
drawn, and ``uses``: the other
functions of yours it calls (while grading, they are answered with the right
results, so one mistake costs points only once).

Nothing here is secret. The hidden cases' *values* come from a private seed
of the course; their shapes are shown in the feedback anyway.

Shapes are written with the letters N (minibatch), T (time steps), D (input
size), H (hidden size), V (vocabulary size), W (word-vector size), L (layers),
P (prime length), K (characters to sample); ``4H`` is four times H, ``L-1``
one less than L; ``G`` is the gate width of the case's cell type: H for the
vanilla RNN, 4H for the LSTM, 3H for the GRU.

Kinds (the call protocol):
    'forward'  obj(*inputs, **settings) -> (*outputs, cache)
    'backward' obj(*upstream, cache) -> outputs; the cache is what the
               correct ``forward`` function returns on the case's inputs
    'loss'     CaptioningRNN(...).loss(features, captions) -> (loss, grads)
    'sample'   CaptioningRNN(...).sample(features, max_length=L) -> captions
    'function' obj(*inputs, **settings) -> outputs (no cache)
An input named ``grads[0]``, ``grads[1]``, ... is one argument ``grads``, the
tuple of those arrays; an output named ``clipped[0]``, ... likewise is one
returned tuple.
A gradient output is named 'd' + the input it belongs to (dWx <-> Wx), an
upstream gradient 'd' + the forward output it belongs to (dh <-> h).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .char_lm import GATES  # gate blocks per cell type: G = GATES[cell_type] * H

__all__ = ["Unit", "Case", "Normal", "Uniform", "WordIndices", "Captions", "Protocol", "UNITS",
           "PARAM_NAMES", "NOTEBOOKS", "PROTOCOLS", "notebook_units"]

RNN_NB, LSTM_NB, LM_NB = "RNN_Captioning", "LSTM_Captioning", "CharRNN_Language_Model"
NOTEBOOKS = (RNN_NB, LSTM_NB, LM_NB)
PARAM_NAMES = ("W_embed", "W_proj", "b_proj", "Wx", "Wh", "b", "W_vocab", "b_vocab")


# --------------------------------------------------------------- how inputs are drawn


@dataclass(frozen=True)
class Normal:
    """Standard normal entries, times ``scale``, divided by sqrt(``fan_in``) when given."""

    shape: tuple
    scale: float = 1.0
    fan_in: str = ""

    def describe(self) -> str:
        scale = "" if self.scale == 1 else f" * {self.scale}"
        fan_in = f" / sqrt({self.fan_in})" if self.fan_in else ""
        return f"N(0, 1){scale}{fan_in}"


@dataclass(frozen=True)
class Uniform:
    """Entries drawn uniformly from [0, 1) (the random numbers a sampler consumes)."""

    shape: tuple

    def describe(self) -> str:
        return "uniform in [0, 1)"


@dataclass(frozen=True)
class WordIndices:
    """int32 word indices drawn uniformly from 0 .. V-1."""

    shape: tuple

    def describe(self) -> str:
        return "int32 uniform in [0, V)"


@dataclass(frozen=True)
class Captions:
    """int32 captions: <START>, random words, <END>, then <NULL> padding (recipe 'captions')."""

    shape: tuple

    def describe(self) -> str:
        return "int32 <START> words <END> <NULL>..."


# ------------------------------------------------------------------------- cases


@dataclass(frozen=True)
class Case:
    """The shapes of one case. ``note`` says what it tests (shown in feedback)."""

    dims: dict
    note: str = ""
    hidden: bool = True
    cell_type: str | None = None    # model units
    max_length: int | None = None   # captioning_sample
    settings: tuple = ()            # (name, value) pairs: the arguments that are not arrays

    @property
    def gates(self) -> int:
        """Gate blocks of the case's cell type (1 when it has none)."""
        return GATES.get(self.cell_type or dict(self.settings).get("cell_type"), 1)


def public(settings=None, **dims) -> Case:
    cell_type, max_length = dims.pop("cell_type", None), dims.pop("max_length", None)
    return Case(dims, "", False, cell_type, max_length, tuple((settings or {}).items()))


def hidden(note, settings=None, **dims) -> Case:
    cell_type, max_length = dims.pop("cell_type", None), dims.pop("max_length", None)
    return Case(dims, note, True, cell_type, max_length, tuple((settings or {}).items()))


# ------------------------------------------------------------------------- units


@dataclass(frozen=True)
class Protocol:
    """How a unit is called and what it returns (see the kinds above)."""

    kind: str
    inputs: tuple            # forward arguments (model units: features, captions, params)
    outputs: tuple           # graded outputs, in return order
    forward: str = ""        # backward units: the forward function whose cache they read
    forward_outputs: tuple = ()  # what that forward returns before its cache

    @property
    def upstream(self) -> tuple:
        return tuple("d" + name for name in self.forward_outputs)


@dataclass(frozen=True)
class Unit:
    """One graded unit, declared once."""

    notebook: str
    obj: str                 # the function you write, or 'CaptioningRNN'
    kind: str
    inputs: dict             # argument -> how it is drawn, in call (and draw) order
    outputs: dict            # output -> points, in the order the function returns them
    cases: tuple             # public case first
    upstream: dict = field(default_factory=dict)  # backward: 'd' + forward output -> draw
    forward: str = ""        # backward: the forward function that makes the cache
    uses: tuple = ()         # your functions it calls (answered right while grading)
    tolerance: float = 1e-6  # max relative error against the answer key
    recipe: str = ""         # model units: the named recipe that draws the inputs

    @property
    def points(self) -> float:
        return float(sum(self.outputs.values()))

    @property
    def protocol(self) -> Protocol:
        return Protocol(self.kind, tuple(self.inputs), tuple(self.outputs), self.forward,
                        tuple(name[1:] for name in self.upstream))


def _step_inputs(lstm: bool) -> dict:
    gates = "4H" if lstm else "H"
    inputs = {"x": Normal(("N", "D")), "prev_h": Normal(("N", "H"), 0.5)}
    if lstm:
        inputs["prev_c"] = Normal(("N", "H"), 0.5)
    return inputs | _weights("D", gates)


def _sequence_inputs(lstm: bool) -> dict:
    return ({"x": Normal(("N", "T", "D")), "h0": Normal(("N", "H"), 0.5)}
            | _weights("D", "4H" if lstm else "H"))


def _weights(fan_in: str, gates: str) -> dict:
    """Wx, Wh, b scaled so pre-activations are O(1): no saturation, no blow-up over time."""
    return {"Wx": Normal((fan_in, gates), fan_in=fan_in),
            "Wh": Normal(("H", gates), 0.8, fan_in="H"),
            "b": Normal((gates,), 0.2)}


_MODEL_PARAMS = ({"W_embed": Normal(("V", "W"), 0.5), "W_proj": Normal(("D", "H"), fan_in="D"),
                  "b_proj": Normal(("H",), 0.1)}
                 | _weights("W", "G")
                 | {"W_vocab": Normal(("H", "V"), fan_in="H"), "b_vocab": Normal(("V",), 0.1)})
assert tuple(_MODEL_PARAMS) == PARAM_NAMES


def _model_cases(**public_dims) -> tuple:
    """Captioning cases: every shape for both cell types."""
    shapes = [("", dict(public_dims)),
              ("T=1", dict(N=4, T=1, V=6, D=5, W=3, H=4)),
              ("long caption, T=20", dict(N=2, T=20, V=9, D=4, W=3, H=4)),
              ("N=1", dict(N=1, T=6, V=7, D=3, W=5, H=6))]
    cases = []
    for note, dims in shapes:
        for cell in ("rnn", "lstm"):
            label = f"{cell.upper()} cell" + (f", {note}" if note else "")
            cases.append(hidden(label, cell_type=cell, **dims) if note
                         else public(cell_type=cell, **dims))
    return tuple(sorted(cases, key=lambda c: c.hidden))


def _sample_cases() -> tuple:
    cells = ("rnn", "lstm")
    return (tuple(public(cell_type=c, N=3, V=8, D=6, W=4, H=5, max_length=6) for c in cells)
            + tuple(hidden(f"{c.upper()} cell, max_length=1", cell_type=c, N=3, V=7, D=4, W=3,
                           H=5, max_length=1) for c in cells)
            + tuple(hidden(f"{c.upper()} cell, max_length=20", cell_type=c, N=2, V=9, D=5, W=4,
                           H=6, max_length=20) for c in cells)
            + (hidden("LSTM cell, N=1", cell_type="lstm", N=1, V=6, D=3, W=5, H=4,
                      max_length=8),))


_STEP_RNN_USES = ("rnn_step_forward", "rnn_step_backward")
_STEP_LSTM_USES = ("lstm_step_forward", "lstm_step_backward")
_LAYERS = ("word_embedding_forward", "word_embedding_backward", "rnn_forward", "rnn_backward",
           "lstm_forward", "lstm_backward") + _STEP_RNN_USES + _STEP_LSTM_USES

UNITS = {
    "rnn_step_forward": Unit(
        RNN_NB, "rnn_step_forward", "forward", _step_inputs(False), {"next_h": 4},
        (public(N=3, D=10, H=4), hidden("N=1", N=1, D=4, H=5),
         hidden("D=H", N=4, D=6, H=6), hidden("H>D", N=2, D=3, H=8))),
    "rnn_step_backward": Unit(
        RNN_NB, "rnn_step_backward", "backward", _step_inputs(False),
        {"dx": 2, "dprev_h": 2, "dWx": 2, "dWh": 2, "db": 2},
        (public(N=4, D=5, H=6), hidden("N=1", N=1, D=3, H=4),
         hidden("D=H", N=3, D=5, H=5), hidden("H<D", N=6, D=7, H=3)),
        upstream={"dnext_h": Normal(("N", "H"))}, forward="rnn_step_forward"),
    "rnn_forward": Unit(
        RNN_NB, "rnn_forward", "forward", _sequence_inputs(False), {"h": 4},
        (public(N=2, T=3, D=4, H=5), hidden("T=1", N=3, T=1, D=4, H=3),
         hidden("long sequence, T=25", N=2, T=25, D=3, H=4),
         hidden("N=1, D=H", N=1, T=6, D=5, H=5)),
        uses=("rnn_step_forward",)),
    "rnn_backward": Unit(
        RNN_NB, "rnn_backward", "backward", _sequence_inputs(False),
        {"dx": 2, "dh0": 2, "dWx": 2, "dWh": 2, "db": 2},
        (public(N=2, T=10, D=3, H=5), hidden("T=1", N=3, T=1, D=4, H=4),
         hidden("long sequence, T=25", N=2, T=25, D=3, H=4),
         hidden("N=1, D=H", N=1, T=6, D=5, H=5)),
        upstream={"dh": Normal(("N", "T", "H"))}, forward="rnn_forward", uses=_STEP_RNN_USES),
    "word_embedding_forward": Unit(
        RNN_NB, "word_embedding_forward", "forward",
        {"x": WordIndices(("N", "T")), "W": Normal(("V", "D"))}, {"out": 3},
        (public(N=2, T=4, V=5, D=3), hidden("T=1", N=6, T=1, V=4, D=2),
         hidden("long sequence, T=20", N=2, T=20, V=7, D=3), hidden("N=1", N=1, T=8, V=3, D=4))),
    "word_embedding_backward": Unit(
        RNN_NB, "word_embedding_backward", "backward",
        {"x": WordIndices(("N", "T")), "W": Normal(("V", "D"))}, {"dW": 3},
        (public(N=50, T=3, V=5, D=6), hidden("T=1", N=6, T=1, V=4, D=2),
         hidden("long sequence, T=20", N=2, T=20, V=7, D=3), hidden("N=1", N=1, T=8, V=3, D=4)),
        upstream={"dout": Normal(("N", "T", "D"))}, forward="word_embedding_forward"),
    "captioning_loss": Unit(
        RNN_NB, "CaptioningRNN", "loss",
        {"features": Normal(("N", "D")), "captions": Captions(("N", "T+1"))} | _MODEL_PARAMS,
        {"loss": 2} | {"d" + p: 2 for p in PARAM_NAMES},
        _model_cases(N=3, T=5, V=8, D=6, W=4, H=5), uses=_LAYERS),
    "captioning_sample": Unit(
        RNN_NB, "CaptioningRNN", "sample", {"features": Normal(("N", "D"))} | _MODEL_PARAMS,
        {"captions": 4}, _sample_cases(),
        uses=("word_embedding_forward", "rnn_step_forward", "lstm_step_forward",
              "rnn_forward", "lstm_forward"),
        recipe="well_separated_greedy_words"),
    "lstm_step_forward": Unit(
        LSTM_NB, "lstm_step_forward", "forward", _step_inputs(True),
        {"next_h": 3, "next_c": 3},
        (public(N=3, D=4, H=5), hidden("N=1", N=1, D=3, H=4),
         hidden("H<D", N=4, D=6, H=2), hidden("H>D", N=2, D=2, H=7))),
    "lstm_step_backward": Unit(
        LSTM_NB, "lstm_step_backward", "backward", _step_inputs(True),
        {"dx": 2, "dprev_h": 2, "dprev_c": 2, "dWx": 2, "dWh": 2, "db": 2},
        (public(N=4, D=5, H=6), hidden("N=1", N=1, D=3, H=4),
         hidden("H<D", N=3, D=6, H=2), hidden("H>D", N=2, D=2, H=7)),
        upstream={"dnext_h": Normal(("N", "H")), "dnext_c": Normal(("N", "H"))},
        forward="lstm_step_forward"),
    "lstm_forward": Unit(
        LSTM_NB, "lstm_forward", "forward", _sequence_inputs(True), {"h": 4},
        (public(N=2, T=3, D=5, H=4), hidden("T=1", N=3, T=1, D=4, H=3),
         hidden("long sequence, T=25", N=2, T=25, D=3, H=4),
         hidden("N=1", N=1, T=6, D=5, H=5)),
        uses=("lstm_step_forward",)),
    "lstm_backward": Unit(
        LSTM_NB, "lstm_backward", "backward", _sequence_inputs(True),
        {"dx": 2, "dh0": 2, "dWx": 2, "dWh": 2, "db": 2},
        (public(N=2, T=10, D=5, H=6), hidden("T=1", N=3, T=1, D=4, H=3),
         hidden("long sequence, T=25", N=2, T=25, D=3, H=4),
         hidden("N=1", N=1, T=6, D=5, H=5)),
        upstream={"dh": Normal(("N", "T", "H"))}, forward="lstm_forward", uses=_STEP_LSTM_USES),
}


# ------------------------------------------------------- the language-model notebook


_GRU_STEP = _step_inputs(False) | _weights("D", "3H")
_GRU_SEQUENCE = _sequence_inputs(False) | _weights("D", "3H")
_GRU_STEP_USES = ("gru_step_forward", "gru_step_backward")
_CELL_STEPS = ("rnn_step_forward", "lstm_step_forward", "gru_step_forward")
_CELL_STEPS_BACK = ("rnn_step_backward", "lstm_step_backward", "gru_step_backward")
_STACK = {"x": Normal(("N", "T", "D")), "h0": Normal(("L", "N", "H"), 0.5),
          "c0": Normal(("L", "N", "H"), 0.5), "Wx0": Normal(("D", "G"), fan_in="D"),
          "Wxs": Normal(("L-1", "H", "G"), fan_in="H"), "Whs": Normal(("L", "H", "G"), 0.8,
                                                                      fan_in="H"),
          "bs": Normal(("L", "G"), 0.2)}
_LM = {"Wx0": Normal(("V", "G")), "Wxs": Normal(("L-1", "H", "G"), fan_in="H"),
       "Whs": Normal(("L", "H", "G"), 0.8, fan_in="H"), "bs": Normal(("L", "G"), 0.2),
       "W_out": Normal(("H", "V"), 2.0, fan_in="H"), "b_out": Normal(("V",), 0.5)}
_GRADS = {f"grads[{i}]": Normal(shape) for i, shape in
          enumerate([("A", "B"), ("B",), ("C", "A", "B")])}


def _cell(cell_type):
    return {"cell_type": cell_type}


def _sampling(cell_type, temperature):
    return {"temperature": temperature, "cell_type": cell_type}


UNITS |= {
    "gru_step_forward": Unit(
        LM_NB, "gru_step_forward", "forward", _GRU_STEP, {"next_h": 4},
        (public(N=3, D=4, H=5), hidden("N=1", N=1, D=3, H=4),
         hidden("H<D", N=4, D=6, H=2), hidden("H>D", N=2, D=2, H=7))),
    "gru_step_backward": Unit(
        LM_NB, "gru_step_backward", "backward", _GRU_STEP,
        {"dx": 2, "dprev_h": 2, "dWx": 2, "dWh": 2, "db": 2},
        (public(N=4, D=5, H=6), hidden("N=1", N=1, D=3, H=4),
         hidden("H<D", N=3, D=6, H=2), hidden("H>D", N=2, D=2, H=7)),
        upstream={"dnext_h": Normal(("N", "H"))}, forward="gru_step_forward"),
    "gru_forward": Unit(
        LM_NB, "gru_forward", "forward", _GRU_SEQUENCE, {"h": 4},
        (public(N=2, T=3, D=5, H=4), hidden("T=1", N=3, T=1, D=4, H=3),
         hidden("long sequence, T=25", N=2, T=25, D=3, H=4),
         hidden("N=1", N=1, T=6, D=5, H=5)),
        uses=("gru_step_forward",)),
    "gru_backward": Unit(
        LM_NB, "gru_backward", "backward", _GRU_SEQUENCE,
        {"dx": 2, "dh0": 2, "dWx": 2, "dWh": 2, "db": 2},
        (public(N=2, T=4, D=4, H=5), hidden("T=1", N=3, T=1, D=4, H=3),
         hidden("long sequence, T=25", N=2, T=25, D=3, H=4),
         hidden("N=1", N=1, T=6, D=5, H=5)),
        upstream={"dh": Normal(("N", "T", "H"))}, forward="gru_forward", uses=_GRU_STEP_USES),
    "multilayer_forward": Unit(
        LM_NB, "multilayer_forward", "forward", _STACK, {"h": 3, "hT": 2, "cT": 1},
        (public(_cell("gru"), N=2, T=3, D=4, H=5, L=2),
         hidden("LSTM cell, three layers", _cell("lstm"), N=2, T=4, D=3, H=4, L=3),
         hidden("RNN cell, one layer, T=1", _cell("rnn"), N=3, T=1, D=5, H=3, L=1),
         hidden("GRU cell, N=1, H>D", _cell("gru"), N=1, T=5, D=2, H=6, L=2)),
        uses=_CELL_STEPS),
    "multilayer_backward": Unit(
        LM_NB, "multilayer_backward", "backward", _STACK,
        {"dx": 2, "dh0": 2, "dc0": 1, "dWx0": 1, "dWxs": 1, "dWhs": 2, "dbs": 1},
        (public(_cell("gru"), N=2, T=3, D=3, H=4, L=2),
         hidden("LSTM cell, three layers", _cell("lstm"), N=2, T=4, D=3, H=4, L=3),
         hidden("RNN cell, one layer, T=1", _cell("rnn"), N=3, T=1, D=5, H=3, L=1),
         hidden("GRU cell, N=1, H>D", _cell("gru"), N=1, T=5, D=2, H=6, L=2)),
        upstream={"dh": Normal(("N", "T", "H")), "dhT": Normal(("L", "N", "H")),
                  "dcT": Normal(("L", "N", "H"))},
        forward="multilayer_forward", uses=_CELL_STEPS_BACK),
    "clip_by_global_norm": Unit(
        LM_NB, "clip_by_global_norm", "function", _GRADS,
        {"clipped[0]": 1, "clipped[1]": 1, "clipped[2]": 1, "norm": 1},
        (public({"max_norm": 1.0}, A=3, B=4, C=2),
         hidden("max_norm above the norm (nothing to clip)", {"max_norm": 100.0}, A=2, B=3, C=2),
         hidden("max_norm just below the norm", {"max_norm": 4.0}, A=3, B=2, C=1),
         hidden("one tiny array among large ones", {"max_norm": 0.5}, A=1, B=5, C=3))),
    "truncated_bptt_step": Unit(
        LM_NB, "truncated_bptt_step", "function",
        {"inputs": WordIndices(("N", "T")), "targets": WordIndices(("N", "T")),
         "h0": Normal(("L", "N", "H"), 0.5), "c0": Normal(("L", "N", "H"), 0.5)} | _LM,
        {"loss": 2, "dWx0": 1, "dWxs": 1, "dWhs": 1, "dbs": 1, "dW_out": 1, "db_out": 1,
         "next_h": 1, "next_c": 1},
        (public(_cell("gru"), N=2, T=5, V=6, H=4, L=2),
         hidden("LSTM cell, T=1", _cell("lstm"), N=3, T=1, V=5, H=3, L=2),
         hidden("RNN cell, one layer, N=1", _cell("rnn"), N=1, T=8, V=7, H=5, L=1),
         hidden("LSTM cell, three layers", _cell("lstm"), N=2, T=3, V=4, H=3, L=3)),
        uses=("multilayer_forward", "multilayer_backward") + _CELL_STEPS + _CELL_STEPS_BACK),
    "sample_chars": Unit(
        LM_NB, "sample_chars", "function",
        {"prime": WordIndices(("P",)), "h0": Normal(("L", "1", "H"), 0.5),
         "c0": Normal(("L", "1", "H"), 0.5)} | _LM | {"uniforms": Uniform(("K",))},
        {"sampled": 4},
        (public(_sampling("gru", 0.5), P=3, K=12, V=6, H=5, L=2),
         hidden("temperature 2, LSTM cell", _sampling("lstm", 2.0), P=2, K=10, V=7, H=4, L=2),
         hidden("temperature 1, RNN cell, one layer", _sampling("rnn", 1.0), P=4, K=15, V=5, H=6,
                L=1),
         hidden("prime of one character, K=1", _sampling("gru", 1.0), P=1, K=1, V=8, H=3, L=1)),
        uses=("multilayer_forward",) + _CELL_STEPS),
}


def _check_table():
    """The declarations agree with the protocol rules (checked when the module loads)."""
    for name, unit in UNITS.items():
        assert unit.notebook in NOTEBOOKS, name
        assert unit.cases and not unit.cases[0].hidden, name
        assert [c.hidden for c in unit.cases] == sorted(c.hidden for c in unit.cases), name
        assert (unit.kind == "backward") == bool(unit.forward) == bool(unit.upstream), name
        assert unit.forward not in unit.uses, name
        if unit.forward:
            assert UNITS[unit.forward].inputs == unit.inputs, name
            assert tuple("d" + o for o in UNITS[unit.forward].outputs) == tuple(unit.upstream)


_check_table()


# How each unit is called, by name (what the checks, the kernel and the scorer look up).
PROTOCOLS = {name: unit.protocol for name, unit in UNITS.items()}


def notebook_units(notebook) -> dict:
    """The units of one notebook (a name of ``NOTEBOOKS``), in order."""
    return {k: u for k, u in UNITS.items() if u.notebook == notebook}
