"""The graded units, their points and their test cases: the one table (``UNITS``).

Instructor-only. For every unit (one thing a student implements, one graded
cell; see docs/grading-design.md) the table says which notebook it is in, the
name of the student's object, the points of each output, the tolerance, the
shapes of its cases (the public ones first, then the hidden ones: T=1, a long
sequence, N=1, other D/H) and ``uses``: the other student functions it may
call, which the grader replaces by replay stubs of the reference while it
grades the unit (one mistake is charged once).

Case values are drawn from a seed: fixed for the public cases (students have
them in ``assignment/public_checks.npz``), derived from the private course
secret by HMAC-SHA256 for the hidden ones, so every course gets different
hidden inputs and the same secret always gives the same ones. Expected
outputs come from ``autograder.reference`` in float64; the outputs of the
known mistakes (``autograder.mistakes``) are stored next to them for hints.

    build_public_checks()               -> assignment/public_checks.npz (committed)
    build_references(secret, path)      -> every case with its expected outputs, for the
                                           scorer (never released, never in a sandbox)
    build_grading_inputs(refs, path)    -> the cases' inputs and sealed replay tables, for
                                           the student's kernel (no expected value)
    python -m autograder.hidden_cases   rebuilds the public file
"""

from __future__ import annotations

import copy
import hashlib
import hmac
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from assignment import checks
from assignment.checks import PROTOCOLS
from assignment.formats.check_file import CheckCase, UnitChecks, read_check_file, write_check_file
from assignment.formats.grading_inputs import GradingInputsWriter, SealedCalls

from . import reference as ref
from .mistakes import mistakes_for

__all__ = ["Case", "Unit", "UNITS", "hidden_seed", "public_seed", "make_inputs",
           "case_settings", "build_references", "build_public_checks", "load_cases",
           "secret_fingerprint", "notebook_units", "build_grading_inputs"]

PUBLIC_KEY = b"rnn-captioning-assignment: public cases"
SPECIAL_WORDS = ("<NULL>", "<START>", "<END>", "<UNK>")


@dataclass(frozen=True)
class Case:
    """The shapes of one case. ``note`` says what it tests (shown in feedback)."""

    dims: dict
    note: str = ""
    hidden: bool = True
    cell_type: str | None = None    # model units
    max_length: int | None = None   # captioning_sample


def public(**dims):
    cell_type = dims.pop("cell_type", None)
    max_length = dims.pop("max_length", None)
    return Case(dims, "", False, cell_type, max_length)


def hidden(note, **dims):
    cell_type = dims.pop("cell_type", None)
    max_length = dims.pop("max_length", None)
    return Case(dims, note, True, cell_type, max_length)


@dataclass(frozen=True)
class Unit:
    """One graded unit: where it lives, what it is worth, how it is tested."""

    notebook: str
    obj: str                 # the student's function, or 'CaptioningRNN'
    outputs: dict            # output -> points, in the order the function returns them
    cases: tuple             # public cases first
    uses: tuple = ()         # student functions replaced by replay stubs of the reference
    tolerance: float = 1e-6  # max relative error against the reference

    @property
    def points(self) -> float:
        return float(sum(self.outputs.values()))


RNN_NB, LSTM_NB = "RNN_Captioning", "LSTM_Captioning"
_STEP_RNN_USES = ("rnn_step_forward", "rnn_step_backward")
_STEP_LSTM_USES = ("lstm_step_forward", "lstm_step_backward")
_LAYERS = ("word_embedding_forward", "word_embedding_backward", "rnn_forward", "rnn_backward",
           "lstm_forward", "lstm_backward") + _STEP_RNN_USES + _STEP_LSTM_USES


def _model_cases(**public_dims):
    """Captioning cases: every shape for both cell types."""
    shapes = [("", dict(public_dims))]
    shapes += [("T=1", dict(N=4, T=1, V=6, D=5, W=3, H=4)),
               ("long caption, T=20", dict(N=2, T=20, V=9, D=4, W=3, H=4)),
               ("N=1", dict(N=1, T=6, V=7, D=3, W=5, H=6))]
    cases = []
    for note, dims in shapes:
        for cell in ("rnn", "lstm"):
            label = f"{cell.upper()} cell" + (f", {note}" if note else "")
            cases.append(hidden(label, cell_type=cell, **dims) if note
                         else public(cell_type=cell, **dims))
    return tuple(sorted(cases, key=lambda c: c.hidden))


def _sample_cases():
    cases = [public(cell_type=c, N=3, V=8, D=6, W=4, H=5, max_length=6) for c in ("rnn", "lstm")]
    cases += [hidden(f"{c.upper()} cell, max_length=1", cell_type=c, N=3, V=7, D=4, W=3, H=5,
                     max_length=1) for c in ("rnn", "lstm")]
    cases += [hidden(f"{c.upper()} cell, max_length=20", cell_type=c, N=2, V=9, D=5, W=4, H=6,
                     max_length=20) for c in ("rnn", "lstm")]
    cases += [hidden("LSTM cell, N=1", cell_type="lstm", N=1, V=6, D=3, W=5, H=4, max_length=8)]
    return tuple(cases)


UNITS = {
    "rnn_step_forward": Unit(
        RNN_NB, "rnn_step_forward", {"next_h": 4},
        (public(N=3, D=10, H=4), hidden("N=1", N=1, D=4, H=5),
         hidden("D=H", N=4, D=6, H=6), hidden("H>D", N=2, D=3, H=8))),
    "rnn_step_backward": Unit(
        RNN_NB, "rnn_step_backward", {"dx": 2, "dprev_h": 2, "dWx": 2, "dWh": 2, "db": 2},
        (public(N=4, D=5, H=6), hidden("N=1", N=1, D=3, H=4),
         hidden("D=H", N=3, D=5, H=5), hidden("H<D", N=6, D=7, H=3))),
    "rnn_forward": Unit(
        RNN_NB, "rnn_forward", {"h": 4},
        (public(N=2, T=3, D=4, H=5), hidden("T=1", N=3, T=1, D=4, H=3),
         hidden("long sequence, T=25", N=2, T=25, D=3, H=4),
         hidden("N=1, D=H", N=1, T=6, D=5, H=5)),
        uses=("rnn_step_forward",)),
    "rnn_backward": Unit(
        RNN_NB, "rnn_backward", {"dx": 2, "dh0": 2, "dWx": 2, "dWh": 2, "db": 2},
        (public(N=2, T=10, D=3, H=5), hidden("T=1", N=3, T=1, D=4, H=4),
         hidden("long sequence, T=25", N=2, T=25, D=3, H=4),
         hidden("N=1, D=H", N=1, T=6, D=5, H=5)),
        uses=_STEP_RNN_USES),
    "word_embedding_forward": Unit(
        RNN_NB, "word_embedding_forward", {"out": 3},
        (public(N=2, T=4, V=5, D=3), hidden("T=1", N=6, T=1, V=4, D=2),
         hidden("long sequence, T=20", N=2, T=20, V=7, D=3), hidden("N=1", N=1, T=8, V=3, D=4))),
    "word_embedding_backward": Unit(
        RNN_NB, "word_embedding_backward", {"dW": 3},
        (public(N=50, T=3, V=5, D=6), hidden("T=1", N=6, T=1, V=4, D=2),
         hidden("long sequence, T=20", N=2, T=20, V=7, D=3), hidden("N=1", N=1, T=8, V=3, D=4))),
    "captioning_loss": Unit(
        RNN_NB, "CaptioningRNN",
        {"loss": 2, "dW_embed": 2, "dW_proj": 2, "db_proj": 2, "dWx": 2, "dWh": 2, "db": 2,
         "dW_vocab": 2, "db_vocab": 2},
        _model_cases(N=3, T=5, V=8, D=6, W=4, H=5),
        uses=_LAYERS),
    "captioning_sample": Unit(
        RNN_NB, "CaptioningRNN", {"captions": 4}, _sample_cases(),
        uses=("word_embedding_forward", "rnn_step_forward", "lstm_step_forward",
              "rnn_forward", "lstm_forward")),
    "lstm_step_forward": Unit(
        LSTM_NB, "lstm_step_forward", {"next_h": 3, "next_c": 3},
        (public(N=3, D=4, H=5), hidden("N=1", N=1, D=3, H=4),
         hidden("H<D", N=4, D=6, H=2), hidden("H>D", N=2, D=2, H=7))),
    "lstm_step_backward": Unit(
        LSTM_NB, "lstm_step_backward",
        {"dx": 2, "dprev_h": 2, "dprev_c": 2, "dWx": 2, "dWh": 2, "db": 2},
        (public(N=4, D=5, H=6), hidden("N=1", N=1, D=3, H=4),
         hidden("H<D", N=3, D=6, H=2), hidden("H>D", N=2, D=2, H=7))),
    "lstm_forward": Unit(
        LSTM_NB, "lstm_forward", {"h": 4},
        (public(N=2, T=3, D=5, H=4), hidden("T=1", N=3, T=1, D=4, H=3),
         hidden("long sequence, T=25", N=2, T=25, D=3, H=4),
         hidden("N=1", N=1, T=6, D=5, H=5)),
        uses=("lstm_step_forward",)),
    "lstm_backward": Unit(
        LSTM_NB, "lstm_backward", {"dx": 2, "dh0": 2, "dWx": 2, "dWh": 2, "db": 2},
        (public(N=2, T=10, D=5, H=6), hidden("T=1", N=3, T=1, D=4, H=3),
         hidden("long sequence, T=25", N=2, T=25, D=3, H=4),
         hidden("N=1", N=1, T=6, D=5, H=5)),
        uses=_STEP_LSTM_USES),
}


def _check_table():
    """The table agrees with the call protocols and the contract."""
    for name, unit in UNITS.items():
        assert tuple(unit.outputs) == PROTOCOLS[name].outputs, name
        assert unit.cases and not unit.cases[0].hidden, name
        assert [c.hidden for c in unit.cases] == sorted(c.hidden for c in unit.cases), name
        assert PROTOCOLS[name].forward not in unit.uses, name


_check_table()


def notebook_units(notebook) -> dict:
    """The units of one notebook ('RNN_Captioning' or 'LSTM_Captioning'), in order."""
    return {k: u for k, u in UNITS.items() if u.notebook == notebook}


# ------------------------------------------------------------------------ seeds


def _secret_bytes(secret) -> bytes:
    if isinstance(secret, str):
        secret = secret.encode()
    if not isinstance(secret, (bytes, bytearray)) or not secret:
        raise ValueError("The course secret must be non-empty bytes (or a str).")
    return bytes(secret)


def hidden_seed(secret: bytes, unit: str, case_index: int) -> int:
    """Seed of one case: HMAC-SHA256(secret, 'unit/case_index'), first 8 bytes."""
    digest = hmac.new(_secret_bytes(secret), f"{unit}/{case_index}".encode(),
                      hashlib.sha256).digest()
    return int.from_bytes(digest[:8], "big")


def public_seed(unit: str, case_index: int) -> int:
    """Seed of a public case: the same construction with a published key."""
    return hidden_seed(PUBLIC_KEY, unit, case_index)


def secret_fingerprint(secret: bytes) -> str:
    """A short public identifier of a secret (to tell which secret built a file)."""
    return hmac.new(_secret_bytes(secret), b"fingerprint", hashlib.sha256).hexdigest()[:12]


# ----------------------------------------------------------------------- inputs


def case_settings(unit: str, case: Case) -> dict:
    """What a model case needs besides arrays: cell type, vocabulary, max_length."""
    settings = {}
    if case.cell_type:
        V = case.dims["V"]
        settings["cell_type"] = case.cell_type
        settings["words"] = list(SPECIAL_WORDS) + [f"w{i}" for i in range(V - len(SPECIAL_WORDS))]
    if case.max_length:
        settings["max_length"] = case.max_length
    return settings


def _weights(rng, D, H, gates, scale_h=0.8):
    """Wx, Wh, b scaled so pre-activations are O(1): no saturation, no blow-up over time."""
    G = gates * H
    return {"Wx": rng.standard_normal((D, G)) / np.sqrt(D),
            "Wh": rng.standard_normal((H, G)) * scale_h / np.sqrt(H),
            "b": rng.standard_normal(G) * 0.2}


def _captions(rng, N, T, V):
    """(N, T+1) captions: <START>, words, <END>, then <NULL> padding (row 0 padded when T>=3)."""
    captions = np.zeros((N, T + 1), dtype=np.int32)
    captions[:, 0] = 1
    for n in range(N):
        words = int(rng.integers(0, T)) if not (n == 0 and T >= 3) else int(rng.integers(0, T - 2))
        captions[n, 1:1 + words] = rng.integers(3, V, size=words)  # <UNK> included
        captions[n, 1 + words] = 2
    return captions


def _model_params(rng, dims, cell_type):
    V, D, W, H = dims["V"], dims["D"], dims["W"], dims["H"]
    params = {"W_embed": rng.standard_normal((V, W)) * 0.5,
              "W_proj": rng.standard_normal((D, H)) / np.sqrt(D),
              "b_proj": rng.standard_normal(H) * 0.1}
    params.update(_weights(rng, W, H, 4 if cell_type == "lstm" else 1))
    params.update({"W_vocab": rng.standard_normal((H, V)) / np.sqrt(H),
                   "b_vocab": rng.standard_normal(V) * 0.1})
    return params


def _greedy_margin(params, features, cell_type, max_length):
    """Smallest gap between the best and second-best word over the steps that are checked.

    A tiny gap would let round-off flip a correct student's argmax.
    """
    h = features @ params["W_proj"] + params["b_proj"]
    c = np.zeros_like(h)
    N = features.shape[0]
    word, alive, margin = np.full(N, 1), np.ones(N, dtype=bool), np.inf
    for _ in range(max_length):
        x = params["W_embed"][word]
        if cell_type == "lstm":
            h, c, _ = ref.lstm_step_forward(x, h, c, params["Wx"], params["Wh"], params["b"])
        else:
            h, _ = ref.rnn_step_forward(x, h, params["Wx"], params["Wh"], params["b"])
        scores = np.sort(h @ params["W_vocab"] + params["b_vocab"], axis=1)
        margin = min(margin, float((scores[:, -1] - scores[:, -2])[alive].min(initial=np.inf)))
        word = (h @ params["W_vocab"] + params["b_vocab"]).argmax(axis=1)
        alive &= word != 2
        if not alive.any():
            break
    return margin


def make_inputs(unit: str, case: Case, rng: np.random.Generator) -> dict:
    """The input arrays of one case (float64; word indices int32), drawn from ``rng``.

    Scales keep every gradient well conditioned: tanh and sigmoid arguments of
    order one, recurrent weights with gain 0.8, upstream gradients N(0, 1).
    A backward unit's case also gets ``"cache"``: what the reference forward
    pass returns as its cache on these inputs (an ``assignment.caches`` type).
    The student's backward pass is graded on it, so a wrong forward pass costs
    only its own points. These inputs are drawn from this unit's own seed, so
    the cache holds forward values of no forward unit's case.
    """
    d = case.dims
    N, D, H = d.get("N"), d.get("D"), d.get("H")
    if unit.startswith(("rnn_step", "lstm_step")):
        lstm = unit.startswith("lstm")
        inputs = {"x": rng.standard_normal((N, D)), "prev_h": rng.standard_normal((N, H)) * 0.5}
        if lstm:
            inputs["prev_c"] = rng.standard_normal((N, H)) * 0.5
        inputs.update(_weights(rng, D, H, 4 if lstm else 1))
    elif unit.startswith(("rnn_", "lstm_")):
        inputs = {"x": rng.standard_normal((N, d["T"], D)),
                  "h0": rng.standard_normal((N, H)) * 0.5}
        inputs.update(_weights(rng, D, H, 4 if unit.startswith("lstm") else 1))
    elif unit.startswith("word_embedding"):
        inputs = {"x": rng.integers(0, d["V"], size=(N, d["T"])).astype(np.int32),
                  "W": rng.standard_normal((d["V"], D))}
    elif unit == "captioning_loss":
        inputs = {"features": rng.standard_normal((N, D)),
                  "captions": _captions(rng, N, d["T"], d["V"])}
        inputs.update(_model_params(rng, d, case.cell_type))
    elif unit == "captioning_sample":
        for _ in range(1000):
            inputs = {"features": rng.standard_normal((N, D))}
            inputs.update(_model_params(rng, d, case.cell_type))
            if _greedy_margin(inputs, inputs["features"], case.cell_type, case.max_length) > 1e-3:
                break
        else:  # pragma: no cover - the margin is almost always large
            raise RuntimeError(f"could not draw a well-separated sampling case for {case}")
    else:
        raise ValueError(f"Unknown unit {unit!r}.")
    p = PROTOCOLS[unit]
    for name in p.upstream:  # backward units: the upstream gradients
        shape = {"dnext_h": (N, H), "dnext_c": (N, H), "dh": (N, d.get("T"), H),
                 "dout": (N, d.get("T"), D)}[name]
        inputs[name] = rng.standard_normal(shape)
    if p.kind == "backward":
        inputs["cache"] = getattr(ref, p.forward)(*(inputs[k] for k in p.inputs))[-1]
    return inputs


# --------------------------------------------------------------------- building


def _label(case: Case, hidden_number: int) -> str:
    if not case.hidden:
        return "public case" + (f" ({case.cell_type.upper()} cell)" if case.cell_type else "")
    return f"hidden case {hidden_number} ({case.note})"


def _build_case(name, unit: Unit, case: Case, seed: int, label: str) -> CheckCase:
    inputs = make_inputs(name, case, np.random.default_rng(seed))
    settings = case_settings(name, case)
    right = checks.execute(name, getattr(ref, unit.obj), inputs, settings)
    expected = {k: np.asarray(v, dtype=np.int32 if k == "captions" else np.float64)
                for k, v in right.outputs.items()}
    stored = CheckCase(label, case.hidden, dict(case.dims), settings, inputs, expected, {})
    end = settings.get("words", []).index("<END>") if "words" in settings else None
    for mistake in mistakes_for(name):
        try:
            wrong = checks.execute(name, mistake.impl, inputs, settings).outputs
        except checks.StudentCodeError:
            continue  # e.g. a transposed Wx when D != H: a shape error, not a hint
        differs = {k: np.asarray(v) for k, v in wrong.items()
                   if not checks.compare(k, np.asarray(v), expected[k], unit.tolerance,
                                         end_token=end).ok}
        if differs:
            stored.mistakes[mistake.name] = differs
    return stored


def _unit_checks(name, cases) -> UnitChecks:
    unit = UNITS[name]
    return UnitChecks(name, unit.notebook, unit.obj, dict(unit.outputs), unit.tolerance,
                      {m.name: m.hint for m in mistakes_for(name)}, cases)


def _build(secret, include_hidden) -> dict:
    units = {}
    for name, unit in UNITS.items():
        cases, hidden_number = [], 0
        for index, case in enumerate(unit.cases):
            if case.hidden and not include_hidden:
                continue
            hidden_number += case.hidden
            seed = hidden_seed(secret, name, index) if case.hidden else public_seed(name, index)
            cases.append(_build_case(name, unit, case, seed, _label(case, hidden_number)))
        units[name] = _unit_checks(name, cases)
    return units


def build_references(secret: bytes, path) -> Path:
    """Write every unit's public and hidden cases, with expected outputs, to ``path``.

    The file holds the hidden inputs and answers: keep it with the course
    secret, never in the release or a grading sandbox. ``autograder.scoring``
    reads it (outside the student's kernel).
    """
    header = {"kind": "references", "secret_fingerprint": secret_fingerprint(secret),
              "total_points": {nb: sum(u.points for u in UNITS.values() if u.notebook == nb)
                               for nb in (RNN_NB, LSTM_NB)}}
    return write_check_file(path, header, _build(secret, include_hidden=True))


def build_public_checks(path=checks.PUBLIC_CHECKS) -> Path:
    """Write only the public cases (fixed seeds) to ``assignment/public_checks.npz``."""
    return write_check_file(path, {"kind": "public"}, _build(None, include_hidden=False))


def load_cases(path) -> dict:
    """Read a file written by build_references or build_public_checks: {unit: UnitChecks}."""
    return read_check_file(path)[1]


if __name__ == "__main__":
    print(f"wrote {build_public_checks()}")


# ---------------------------------------------------------------- grading inputs
#
# What the student's kernel gets while it is graded (the format and its layout:
# assignment/formats/grading_inputs.py). "calls" are the calls the reference
# made, on a case, to the functions of UNITS[unit].uses (nested calls
# included, in the order they returned; for the loss also those of its known
# mistakes, see _replay_calls), each sealed (assignment.formats.replay_seal).


def _record_calls(name, unit: Unit, inputs, settings, sealed: SealedCalls, impl=None) -> list:
    """Run the reference on one case with the ``uses`` functions wrapped by recorders.

    The reference calls its helpers through its module globals (and the
    captioning model through ``_SEQUENCE_LAYERS``), so both are patched for
    the duration; nested calls (rnn_forward -> rnn_step_forward) are recorded
    too, in the order they return. Each call is sealed (``SealedCalls.add``).
    """
    calls = []

    def recorder(fn_name, fn):
        def recorded(*args):
            before = copy.deepcopy(args)  # the arguments as passed (a helper may not change them)
            result = fn(*args)
            calls.append(sealed.add(fn_name, before, result))
            return result
        return recorded

    originals = {k: getattr(ref, k) for k in unit.uses}
    layers = dict(ref._SEQUENCE_LAYERS)
    wrapped = {k: recorder(k, f) for k, f in originals.items()}
    # every step of sample(), also after every caption has ended (the captions are the
    # same), so that a sampler that does not stop early still gets its steps replayed
    ref._SAMPLE_STOPS_EARLY = False
    try:
        for k, f in wrapped.items():
            setattr(ref, k, f)
        for cell, (forward, backward) in layers.items():
            ref._SEQUENCE_LAYERS[cell] = (wrapped.get(forward.__name__, forward),
                                          wrapped.get(backward.__name__, backward))
        checks.execute(name, impl or getattr(ref, unit.obj), inputs, settings)
    finally:
        for k, f in originals.items():
            setattr(ref, k, f)
        ref._SEQUENCE_LAYERS.update(layers)
        ref._SAMPLE_STOPS_EARLY = True
    return calls


def _replay_calls(name, unit: Unit, case: CheckCase, sealed: SealedCalls) -> list:
    """The replay table of one case: the calls the reference made to ``unit.uses``.

    For the captioning loss also the calls each known loss mistake makes (the
    same layers, called with that mistake's upstream gradients), so that a
    student whose loss is wrong in a known way gets the layers' answers to
    their calls too: their gradients are then that mistake's, and keep their
    points (checks.judge_case); without them the LSTM cases of the RNN
    notebook, which has no LSTM layers of its own, could not be computed at
    all. They are sealed like the others. Calls already in the table (the
    same lookup id and grids: the same arguments to round-off) are not
    repeated.
    """
    if not unit.uses:
        return []
    calls = _record_calls(name, unit, case.inputs, case.settings, sealed)
    if PROTOCOLS[name].kind == "loss":
        def same(call):
            # The lookup id hashes the arguments' cells on their grids; the grids (one
            # exponent per float argument) are part of what the call was: the loss not
            # averaged over N=4 passes 4 * dh, whose cells on its own grid are dh's
            return call["id"], tuple(call["grid"])

        seen = {same(c) for c in calls}
        for mistake in mistakes_for(name):
            try:
                more = _record_calls(name, unit, case.inputs, case.settings, sealed, mistake.impl)
            except checks.StudentCodeError:
                continue
            for call in more:
                if same(call) not in seen:
                    seen.add(same(call))
                    calls.append(call)
    return calls


def build_grading_inputs(references_path, out_path) -> Path:
    """Write what the student's kernel needs to be graded, and nothing more, to ``out_path``.

    Read from the references file (``build_references``): every case's inputs
    and settings (a backward case's with its grader-built cache), plus the
    sealed replay tables (the reference's calls to the
    ``uses`` functions of each unit). No expected output, no mistake output,
    no secret (only its public fingerprint). Deterministic:
    the same references give the same bytes. The file is read-only in every
    sandbox; ``rnn_grading_kernel`` finds it through ``RNN_GRADING_INPUTS``.
    """
    header, units = read_check_file(references_path)
    if header.get("kind") != "references":
        raise ValueError(f"{references_path} holds only the public cases; build the grading "
                         "inputs from the references file (build_references).")
    writer = GradingInputsWriter(header.get("secret_fingerprint"))
    for name, unit in UNITS.items():
        if name not in units or units[name].points != dict(unit.outputs):
            raise ValueError(f"{references_path} is out of date (unit {name} differs from "
                             "autograder/hidden_cases.py): rebuild it with build_references.")
        writer.add_unit(name, unit.uses)
        for case in units[name].cases:
            writer.add_case(name, case, _replay_calls(name, unit, case, writer.sealed))
    return writer.write(out_path)
