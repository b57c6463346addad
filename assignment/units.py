"""The graded units, each declared once: what you implement, how it is called and checked.

A *unit* is one thing you implement in a notebook (a function, or
``CaptioningRNN.loss`` / ``CaptioningRNN.sample``) and one graded test cell.
``UNITS`` below says, for each: its notebook and object, how it is called
(its kind and arguments), its outputs with their points, the tolerance, the
shapes of its test cases (the public case first: its inputs are in
``assignment/public_checks.npz``; then the hidden cases that run at grading
time, with other shapes), how each input is drawn, and ``uses``: the other
functions of yours it calls (while grading, they are answered with the right
results, so one mistake costs points only once).

Nothing here is secret. The hidden cases' *values* come from a private seed
of the course; their shapes are shown in the feedback anyway.

Shapes are written with the letters N (minibatch), T (time steps), D (input
size), H (hidden size), V (vocabulary size), W (word-vector size); ``4H`` is
four times H; ``G`` is the captioning model's gate width, H for the vanilla
RNN and 4H for the LSTM.

Kinds (the call protocol):
    'forward'  obj(*inputs) -> (*outputs, cache)
    'backward' obj(*upstream, cache) -> outputs; the cache is what the
               correct ``forward`` function returns on the case's inputs
    'loss'     CaptioningRNN(...).loss(features, captions) -> (loss, grads)
    'sample'   CaptioningRNN(...).sample(features, max_length=L) -> captions
A gradient output is named 'd' + the input it belongs to (dWx <-> Wx), an
upstream gradient 'd' + the forward output it belongs to (dh <-> h).
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["Unit", "Case", "Normal", "WordIndices", "Captions", "Protocol", "UNITS",
           "PARAM_NAMES", "NOTEBOOKS", "PROTOCOLS", "notebook_units"]

RNN_NB, LSTM_NB = "RNN_Captioning", "LSTM_Captioning"
NOTEBOOKS = (RNN_NB, LSTM_NB)
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


def public(**dims) -> Case:
    cell_type, max_length = dims.pop("cell_type", None), dims.pop("max_length", None)
    return Case(dims, "", False, cell_type, max_length)


def hidden(note, **dims) -> Case:
    cell_type, max_length = dims.pop("cell_type", None), dims.pop("max_length", None)
    return Case(dims, note, True, cell_type, max_length)


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
    """The units of one notebook ('RNN_Captioning' or 'LSTM_Captioning'), in order."""
    return {k: u for k, u in UNITS.items() if u.notebook == notebook}
