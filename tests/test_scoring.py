"""Grading split in two: the kernel records (rnn_grading_kernel), the scorer judges (autograder.grading.scoring).

The "kernel" is this process: autograder/kernel is put on sys.path as in a
grading sandbox, RNN_GRADING_INPUTS names a grading-inputs file built from a
references file of a test secret, and RNN_ASSIGNMENT_REFERENCES is unset (the
sandbox has none). Every published record goes through
``score_unit`` exactly as the coordinator will do it. Checked here:
* the reference earns every point; one wrong gradient costs only its points;
* one mistake is charged once: replay stubs stand in for a broken helper, a
  backward pass is graded on the grader's cache (a wrong forward pass costs
  only its own points), and a loss wrong the way of a known mistake keeps the
  gradients of that mistake;
* the kernel never holds an expected value, and numpy monkeypatched in the
  kernel changes nothing;
* forged or garbage records earn nothing and never raise; records are capped;
* the trusted fallback gives the same points as the sandbox path.
"""

from __future__ import annotations

import base64
import copy
import io
import json
import sys
import textwrap
import zipfile
from pathlib import Path

import numpy as np
import pytest

from assignment import caches
from assignment.checks import PROTOCOLS
from assignment.formats.check_file import REFERENCES_ENV
from assignment.formats.grading_inputs import INPUTS_ENV
from assignment.formats.record import RECORD_MIME
from assignment.layers import (
    temporal_affine_backward,
    temporal_affine_forward,
    temporal_softmax_loss,
)
from assignment.units import UNITS
from autograder.answer_key.check_files import build_references, load_cases
from autograder.answer_key.grading_inputs import build_grading_inputs
from autograder.answer_key.mistakes import MISTAKES
from autograder.answer_key.solution import reference
from autograder.grading.scoring import UnitScore, score_unit

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "autograder" / "kernel"))
import rnn_grading_kernel as kernel  # noqa: E402

ref = reference()
REFERENCE_FUNCTIONS = ref.functions()  # a notebook solved right

SECRET = b"test_scoring secret"


@pytest.fixture(scope="module")
def references(tmp_path_factory):
    return build_references(SECRET, tmp_path_factory.mktemp("scoring") / "references.npz")


@pytest.fixture(scope="module")
def grading_inputs(references):
    return build_grading_inputs(references, references.with_name("grading_inputs.npz"))


@pytest.fixture(autouse=True)
def sandbox(grading_inputs, monkeypatch):
    """The environment of a sandboxed grading kernel."""
    monkeypatch.setenv(INPUTS_ENV, str(grading_inputs))
    monkeypatch.delenv(REFERENCES_ENV, raising=False)
    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)


def notebook(*cells, **names) -> dict:
    """Run ``cells`` like notebook cells; return their namespace (the cells' globals())."""
    namespace = {"np": np, "__name__": "__notebook__", **names}
    for cell in cells:
        exec(compile(textwrap.dedent(cell), "<student cell>", "exec"), namespace)
    return namespace


def record_of(unit, obj, namespace) -> list:
    """Run the kernel half; the test cell's outputs as nbformat dicts."""
    published = len(kernel.PUBLISHED)
    assert kernel.grade_unit(unit, obj, namespace) is None
    return [{"output_type": "display_data", "data": bundle, "metadata": {}}
            for bundle in kernel.PUBLISHED[published:]]


def graded(unit, obj, namespace, references) -> UnitScore:
    return score_unit(unit, record_of(unit, obj, namespace), references)


def earned(score: UnitScore) -> dict:
    return {o.name: o.earned for o in score.outputs}


CORRECT_RNN = """
def rnn_step_forward(x, prev_h, Wx, Wh, b):
    next_h = np.tanh(x @ Wx + prev_h @ Wh + b)
    return next_h, (x, prev_h, Wx, Wh, next_h)

def rnn_step_backward(dnext_h, cache):
    x, prev_h, Wx, Wh, next_h = cache
    da = dnext_h * (1 - next_h ** 2)
    return da @ Wx.T, da @ Wh.T, x.T @ da, prev_h.T @ da, da.sum(axis=0)
"""

BROKEN_STEP_BACKWARD = """
def rnn_step_backward(dnext_h, cache):  # forgets tanh' everywhere
    x, prev_h, Wx, Wh, next_h = cache
    return dnext_h @ Wx.T, dnext_h @ Wh.T, x.T @ dnext_h, prev_h.T @ dnext_h, dnext_h.sum(0)
"""

STUDENT_RNN = """
from assignment.caches import RNNCache

def rnn_forward(x, h0, Wx, Wh, b):
    h, prev_h = [], h0
    for t in range(x.shape[1]):
        prev_h, _ = rnn_step_forward(x[:, t], prev_h, Wx, Wh, b)
        h.append(prev_h)
    h = np.stack(h, axis=1)
    return h, RNNCache(x, h0, Wx, Wh, h)

def rnn_backward(dh, cache):
    N, T, H = dh.shape
    dx, dprev, grads = [None] * T, np.zeros((N, H)), None
    for t in reversed(range(T)):
        dx[t], dprev, dWx, dWh, db = rnn_step_backward(dh[:, t] + dprev, cache.step(t))
        step = (dWx, dWh, db)
        grads = step if grads is None else tuple(g + s for g, s in zip(grads, step))
    return (np.stack(dx, axis=1), dprev) + grads
"""


# ----------------------------------------------------------------- the scores


@pytest.mark.parametrize("unit", list(UNITS))
def test_the_reference_earns_every_point_through_the_record(unit, references):
    score = graded(unit, getattr(ref, UNITS[unit].obj), dict(REFERENCE_FUNCTIONS), references)
    assert type(score.score) is float and score.score == score.total == UNITS[unit].points
    assert score.grade_id == f"test_{unit}" and score.notebook == UNITS[unit].notebook
    assert [o.name for o in score.outputs] == list(UNITS[unit].outputs)
    assert all(o.message == f"right on all {len(UNITS[unit].cases)} cases" for o in score.outputs)
    assert "wrong" not in "\n".join(score.lines)


def test_a_wrong_dWh_loses_exactly_the_points_of_dWh(references):
    ns = notebook(CORRECT_RNN, """
        def rnn_step_backward(dnext_h, cache):
            x, prev_h, Wx, Wh, next_h = cache
            da = dnext_h * (1 - next_h ** 2)
            return da @ Wx.T, da @ Wh.T, x.T @ da, da.T @ prev_h, da.sum(axis=0)
    """)
    score = graded("rnn_step_backward", ns["rnn_step_backward"], ns, references)
    assert earned(score) == {"dx": 2, "dprev_h": 2, "dWx": 2, "dWh": 0, "db": 2}
    assert score.score == 8.0
    dWh = next(o for o in score.outputs if o.name == "dWh")
    assert dWh.message.startswith("wrong on the public case") and "looks transposed" in dWh.message
    assert "rnn_step_backward: 8 / 10 points" in score.lines


def _rnn_notebook_model(**overrides):
    """The RNN notebook's model: its own layers (reference ones here), no LSTM functions."""
    from test_checks_and_grading import STUDENT_MODEL  # tests/ is on sys.path (rootdir)
    own = ("rnn_forward", "rnn_backward", "word_embedding_forward", "word_embedding_backward")
    names = {k: REFERENCE_FUNCTIONS[k] for k in own}
    names.update(overrides)
    return notebook(STUDENT_MODEL, ReferenceModel=ref.CaptioningRNN,
                    temporal_affine_forward=temporal_affine_forward,
                    temporal_affine_backward=temporal_affine_backward,
                    temporal_softmax_loss=temporal_softmax_loss, **names)


def test_the_loss_is_not_charged_for_a_broken_rnn_backward(references):
    broken = next(m.impl for m in MISTAKES if m.unit == "rnn_backward")
    assert graded("rnn_backward", broken, dict(REFERENCE_FUNCTIONS), references).score < 10
    ns = _rnn_notebook_model(rnn_backward=broken)
    before = dict(ns)
    score = graded("captioning_loss", ns["CaptioningRNN"], ns, references)
    assert score.score == 18.0, "\n".join(score.lines)  # RNN and LSTM cases, via replay
    assert ns == before  # the stubs are gone again


def test_rnn_backward_is_not_charged_for_a_broken_rnn_step_backward(references):
    ns = notebook(CORRECT_RNN, BROKEN_STEP_BACKWARD, STUDENT_RNN)
    assert graded("rnn_step_backward", ns["rnn_step_backward"], ns, references).score < 10
    score = graded("rnn_backward", ns["rnn_backward"], ns, references)
    assert score.score == 10.0, "\n".join(score.lines)


def test_a_backward_pass_on_a_wrong_forward_pass_is_judged_on_the_grader_cache(references):
    ns = notebook("""
        def rnn_forward(x, h0, Wx, Wh, b):  # transposed Wh, inline
            h, prev_h = [], h0
            for t in range(x.shape[1]):
                prev_h = np.tanh(x[:, t] @ Wx + prev_h @ Wh.T + b)
                h.append(prev_h)
            h = np.stack(h, axis=1)
            return h, (x, h0, Wx, Wh, h)
        def rnn_backward(dh, cache):  # the exact derivative of that (wrong) forward pass
            x, h0, Wx, Wh, h = cache
            dx, dWx, dWh = np.zeros_like(x), np.zeros_like(Wx), np.zeros_like(Wh)
            db, dprev = np.zeros(Wh.shape[0]), np.zeros_like(h0)
            for t in reversed(range(x.shape[1])):
                prev_h = h0 if t == 0 else h[:, t - 1]
                da = (dh[:, t] + dprev) * (1 - h[:, t] ** 2)
                dx[:, t], dprev = da @ Wx.T, da @ Wh
                dWx += x[:, t].T @ da
                dWh += (prev_h.T @ da).T
                db += da.sum(axis=0)
            return dx, dprev, dWx, dWh, db
    """)
    assert graded("rnn_forward", ns["rnn_forward"], ns, references).score == 0.0
    # Before grader caches this pair earned 10 ("the gradient of your own forward pass"),
    # judged from evidence the kernel reported, which a forger could make up. Now the
    # backward pass is judged as a backward pass of the layer the notebook specifies: it
    # propagates through Wh instead of Wh.T, so every output that depends on the carried
    # gradient is wrong; dx, dWx and db are right only on the T=1 case, hence 0 too.
    score = graded("rnn_backward", ns["rnn_backward"], ns, references)
    assert earned(score) == {"dx": 0, "dh0": 0, "dWx": 0, "dWh": 0, "db": 0}, \
        "\n".join(score.lines)
    assert "your own" not in "\n".join(score.lines)


LOSS_MISTAKES = [m for m in MISTAKES if m.unit == "captioning_loss"]


@pytest.mark.parametrize("mistake", LOSS_MISTAKES, ids=lambda m: m.name)
def test_a_known_loss_mistake_costs_only_the_loss(mistake, references):
    score = graded("captioning_loss", mistake.impl, dict(REFERENCE_FUNCTIONS), references)
    points = UNITS["captioning_loss"].outputs
    assert earned(score) == {k: (0 if k == "loss" else v) for k, v in points.items()}, \
        "\n".join(score.lines)
    text = "\n".join(score.lines)
    assert mistake.hint in text and "one mistake is charged once" in text


@pytest.mark.parametrize("edit", [
    ("mask = captions_out != self._null", "mask = np.ones_like(captions_out, dtype=bool)"),
    ("loss, dscores = temporal_softmax_loss(scores, captions_out, mask)",
     "loss, dscores = temporal_softmax_loss(scores, captions_out, mask)\n"
     "        loss, dscores = loss * len(features), dscores * len(features)")],
    ids=["mask ignored", "not averaged"])
def test_a_known_loss_mistake_in_the_rnn_notebook_costs_only_the_loss(edit, references):
    # The RNN notebook has no LSTM layers: on the LSTM cases the model's calls to
    # lstm_forward / lstm_backward are answered by the replay tables, which hold the calls
    # of the known loss mistakes too (their upstream gradients differ from the right ones)
    from test_checks_and_grading import STUDENT_MODEL
    assert STUDENT_MODEL.count(edit[0]) == 1
    own = ("rnn_forward", "rnn_backward", "word_embedding_forward", "word_embedding_backward")
    ns = notebook(STUDENT_MODEL.replace(*edit), ReferenceModel=ref.CaptioningRNN,
                  temporal_affine_forward=temporal_affine_forward,
                  temporal_affine_backward=temporal_affine_backward,
                  temporal_softmax_loss=temporal_softmax_loss,
                  **{k: REFERENCE_FUNCTIONS[k] for k in own})
    score = graded("captioning_loss", ns["CaptioningRNN"], ns, references)
    points = UNITS["captioning_loss"].outputs
    assert earned(score) == {k: (0 if k == "loss" else v) for k, v in points.items()}, \
        "\n".join(score.lines)


def test_an_unknown_wrong_loss_earns_no_gradient_credit(references):
    class DoubleLoss(ref.CaptioningRNN):
        """Twice the right loss, and exactly its gradients."""

        def loss(self, features, captions):
            loss, grads = super().loss(features, captions)
            return 2 * loss, {k: 2 * v for k, v in grads.items()}

    # Before, these gradients earned 16 as "the gradients of your own loss", from loss
    # values the kernel reported (forgeable). Twice the loss is no known mistake (it
    # equals "not averaged" only on the N=2 case), so nothing in the references vouches
    # for these gradients: they are wrong, like the loss.
    score = graded("captioning_loss", DoubleLoss, dict(REFERENCE_FUNCTIONS), references)
    assert score.score == 0.0, "\n".join(score.lines)


def test_a_known_loss_mistake_with_other_gradients_keeps_nothing_but_the_right_ones(references):
    mask_ignored = next(m.impl for m in LOSS_MISTAKES if m.name == "mask_ignored")

    class HalfDone(mask_ignored):
        """The loss of a known mistake; dW_vocab right, db_vocab that mistake's, the rest zero."""

        def loss(self, features, captions):
            loss, grads = super().loss(features, captions)
            right = ref.CaptioningRNN.loss(self, features, captions)[1]
            grads = {k: np.zeros_like(v) for k, v in grads.items()} | {
                "W_vocab": right["W_vocab"], "b_vocab": grads["b_vocab"]}
            return loss, grads

    score = graded("captioning_loss", HalfDone, dict(REFERENCE_FUNCTIONS), references)
    assert earned(score) == {"loss": 0, "dW_embed": 0, "dW_proj": 0, "db_proj": 0, "dWx": 0,
                             "dWh": 0, "db": 0, "dW_vocab": 2, "db_vocab": 2}, \
        "\n".join(score.lines)


# ------------------------------------------------------------ what the kernel holds


def test_the_grading_inputs_hold_no_expected_value(references, grading_inputs):
    """Every array of the file is a case input, an offset of a sealed call or a sealed result,
    and none of them is, or contains the bytes of, any expected output of any case."""
    with np.load(grading_inputs, allow_pickle=False) as data:
        index = json.loads(bytes(data["__index__"]).decode())
        stored = {k: data[k] for k in data.files if k != "__index__"}
    assert set(index) == {"format", "version", "seal", "secret_fingerprint", "units"}
    text = json.dumps(index)
    assert "expected" not in text and "mistake" not in text
    assert SECRET.decode() not in text

    def keys_in(tree):
        if isinstance(tree, dict):
            return set().union(*(keys_in(v) for v in tree.values()))
        if isinstance(tree, list):
            return set().union(*(keys_in(v) for v in tree))
        return {tree} if isinstance(tree, str) and tree in stored else set()

    inputs, offsets, boxes = set(), [], []
    for unit in index["units"].values():
        for case in unit["cases"]:
            # the case's inputs (for a backward case, also its grader-built cache)
            inputs |= keys_in({k: v for k, v in case.items() if k != "calls"})
            for call in case["calls"]:
                assert set(call) <= {"fn", "grid", "offsets", "id", "tag", "hint", "box"}
                offsets += [stored["replay_offsets"][i:i + n] for i, n in call["offsets"]]
                start, size = call["box"]
                boxes.append(stored["replay_boxes"][start:start + size].tobytes())
    # nothing else is in the file
    assert inputs | {"replay_offsets", "replay_boxes"} == set(stored)
    assert stored["replay_boxes"].dtype == np.uint8 and stored["replay_offsets"].dtype == np.float64
    assert ((0 <= stored["replay_offsets"]) & (stored["replay_offsets"] < 1)).all()
    print(f"\ngrading inputs: {len(stored)} arrays: {len(inputs)} inputs, {len(boxes)} sealed "
          f"calls with {len(offsets)} float arguments")

    by_size = {}
    for a in [stored[k].astype(np.float64) for k in inputs] + offsets:
        by_size.setdefault(a.size, []).append(a.reshape(-1))
    sealed = b"".join(boxes)
    checked = 0
    for name, unit in load_cases(references).items():
        for case in unit.cases:
            # the inputs are there; so is a backward case's cache (forward values on that
            # case's own inputs), which is no unit's answer: the check of every expected
            # output below shows it
            def there(v):
                return any(s.shape == np.shape(v) and np.array_equal(s, v)
                           for s in (stored[k] for k in inputs))
            assert all(there(v) for k, v in case.inputs.items() if k != "cache")
            if PROTOCOLS[name].kind == "backward":
                assert all(there(v) for v in caches.to_arrays(case.inputs["cache"])[1].values())
            # (not the known mistakes' outputs: db of a step with N=1 that forgot tanh' is
            # dnext_h, an input)
            for group in [case.expected]:
                for output, value in group.items():
                    value = np.asarray(value, dtype=np.float64)
                    if value.size <= 1:
                        continue  # a scalar loss proves nothing either way
                    if any(np.array_equal(value, v) for k, v in case.inputs.items()
                           if k != "cache"):
                        continue  # an output that is an input by definition (c0 passed through
                        # a GRU; gradients already within max_norm): nothing to hide
                    for a in by_size.get(value.size, []):  # not even reshaped or to round-off
                        assert not np.allclose(a, value.reshape(-1), rtol=1e-6, atol=1e-12), \
                            f"{name}, {case.label}: {output} is in the file"
                    assert value.tobytes() not in sealed, f"{name}: {output} in a sealed result"
                    checked += 1
    assert checked > 150


def test_monkeypatched_numpy_in_the_kernel_changes_nothing(references):
    ns = notebook("""
        import numpy
        def rnn_step_forward(x, prev_h, Wx, Wh, b):
            numpy.allclose = numpy.array_equal = lambda *args, **kwargs: True
            numpy.testing.assert_allclose = lambda *args, **kwargs: None
            numpy.isfinite = lambda a: numpy.ones(numpy.shape(a), dtype=bool)
            return numpy.zeros((x.shape[0], Wh.shape[0])), None
        def rnn_forward(x, h0, Wx, Wh, b):  # garbage arguments for the stub
            h = [rnn_step_forward(x[:, t] * 0, h0 * 0, Wx, Wh, b)[0] for t in range(x.shape[1])]
            return numpy.stack(h, axis=1), None
    """)
    saved = np.allclose, np.array_equal, np.testing.assert_allclose, np.isfinite
    try:
        assert graded("rnn_step_forward", ns["rnn_step_forward"], ns, references).score == 0
        assert graded("rnn_forward", ns["rnn_forward"], ns, references).score == 0
    finally:
        np.allclose, np.array_equal, np.testing.assert_allclose, np.isfinite = saved


# --------------------------------------------------------------- untrusted records


def _bundle(outputs) -> dict:
    return outputs[0]["data"][RECORD_MIME]


def _blob(arrays: dict) -> str:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for key, a in arrays.items():
            out = io.BytesIO()
            np.lib.format.write_array(out, np.asarray(a), allow_pickle=True)
            zf.writestr(key + ".npy", out.getvalue())
    return base64.b64encode(buf.getvalue()).decode()


def _forgeries(good):
    """Broken, forged and hostile variants of a genuine record."""
    def edit(fn):
        record = copy.deepcopy(good)
        fn(record)
        return record

    first = good["runs"][0]["cases"][0]
    yield "not JSON", "{not json"
    yield "a list", [1, 2, 3]
    yield "bad base64", edit(lambda r: r.update(arrays="%%%not base64%%%"))
    yield "not a zip", edit(lambda r: r.update(arrays=base64.b64encode(b"PK junk").decode()))
    yield "a pickle", edit(lambda r: r.update(arrays=_blob(
        {k: np.array([{"evil": 1}], dtype=object) for k in ("a0", "a1", "a2")})))
    yield "another course", edit(lambda r: r.update(secret_fingerprint="0" * 12))
    yield "another unit", edit(lambda r: r.update(unit="rnn_forward"))
    yield "missing cases", edit(lambda r: r["runs"][0].update(cases=r["runs"][0]["cases"][:1]))
    yield "unknown array", edit(lambda r: r["runs"][0]["cases"][0]["outputs"].update(
        next_h={"array": "a999"}))
    yield "wrong types", edit(lambda r: r["runs"][0]["cases"][0].update(
        outputs=[1], failure=7, warnings="x"))
    yield "huge message", edit(lambda r: r["runs"][0]["cases"][0].update(
        failure={"message": "1.2345 " * 10 ** 5, "not_implemented": "yes", "timed_out": 0}))
    assert first


def test_forged_and_garbage_records_earn_nothing_and_never_raise(references):
    ns = notebook(CORRECT_RNN)
    genuine = record_of("rnn_step_forward", ns["rnn_step_forward"], ns)
    assert score_unit("rnn_step_forward", genuine, references).score == 4.0
    good = _bundle(genuine)
    for what, forged in _forgeries(good):
        outputs = [{"output_type": "display_data", "data": {RECORD_MIME: forged}}]
        score = score_unit("rnn_step_forward", outputs, references)
        assert score.score == 0.0, what
        assert "no result was recorded" in score.lines[0], what
    for garbage in (None, "x", [None, 1, "x", {"output_type": "display_data", "data": 5}],
                    [{"output_type": "error", "ename": "ValueError", "evalue": "bad 3.14159"}]):
        score = score_unit("rnn_step_forward", garbage, references)
        assert score.score == 0.0 and "3.14159" not in "\n".join(score.lines)
    error = [{"output_type": "error", "ename": "ValueError", "evalue": "bad 3.14159"}]
    assert "the test cell raised ValueError: bad <number>" in \
        score_unit("rnn_step_forward", error, references).lines[0]
    assert "kernel died" in score_unit("rnn_step_forward", [], references,
                                       not_run_reason="the kernel died").lines[0]


def test_hostile_values_in_a_valid_record_are_judged_wrong_not_crashed_on(references):
    ns = notebook(CORRECT_RNN)
    good = _bundle(record_of("rnn_step_backward", ns["rnn_step_backward"], ns))
    hostile = {"a900": np.full((4, 5), np.nan), "a901": np.full((4, 6), 1e308),
               "a902": np.ones((3, 3, 3), dtype=np.int8), "a903": np.zeros(0)}
    record = copy.deepcopy(good)
    with zipfile.ZipFile(io.BytesIO(base64.b64decode(good["arrays"]))) as zf:
        arrays = {n[:-4]: np.lib.format.read_array(zf.open(n)) for n in zf.namelist()}
    arrays.update(hostile)
    record["arrays"] = _blob(arrays)
    for case in record["runs"][0]["cases"]:
        case["outputs"].update(dx={"array": "a900"}, dprev_h={"array": "a901"},
                               dWx={"array": "a902"}, dWh={"array": "a903"},
                               db={"type": "list"}, extra={"array": "a900"})
        case["extra key"] = {"anything": [1, 2]}
    score = score_unit("rnn_step_backward",
                       [{"output_type": "display_data", "data": {RECORD_MIME: record}}],
                       references)
    assert score.score == 0.0
    text = "\n".join(score.lines)
    assert "contains NaN" in text and "is a list, not an array" in text


def test_an_oversized_output_is_recorded_as_too_large(references):
    ns = notebook("""
        def word_embedding_forward(x, W):
            return np.zeros((3000, 3000)), None  # 9 million numbers
    """)
    outputs = record_of("word_embedding_forward", ns["word_embedding_forward"], ns)
    record = _bundle(outputs)
    assert len(json.dumps(record)) < 100_000
    assert record["runs"][0]["cases"][0]["outputs"]["out"] == {"too_large": True,
                                                               "shape": [3000, 3000]}
    score = score_unit("word_embedding_forward", outputs, references)
    assert score.score == 0.0 and "has shape (3000, 3000)" in score.outputs[0].message


def test_the_first_record_of_the_unit_counts(references):
    right = notebook(CORRECT_RNN)
    wrong = notebook("""
        def rnn_step_forward(x, prev_h, Wx, Wh, b):
            return np.tanh(x @ Wx + b), None
    """)
    good = record_of("rnn_step_forward", right["rnn_step_forward"], right)
    bad = record_of("rnn_step_forward", wrong["rnn_step_forward"], wrong)
    other = record_of("rnn_forward", ref.rnn_forward, dict(REFERENCE_FUNCTIONS))
    assert score_unit("rnn_step_forward", other + bad + good, references).score == 0.0
    assert score_unit("rnn_step_forward", other + good + bad, references).score == 4.0


# ------------------------------------------------------------------ trusted fallback


@pytest.mark.parametrize("mistake", [m for m in MISTAKES if m.unit in (
    "rnn_backward", "captioning_loss", "lstm_step_forward")][:4], ids=lambda m: m.name)
def test_the_trusted_fallback_gives_the_same_points_as_the_sandbox_path(mistake, references,
                                                                         monkeypatch, capsys):
    sandbox = graded(mistake.unit, mistake.impl, dict(REFERENCE_FUNCTIONS), references)
    capsys.readouterr()
    monkeypatch.setenv(REFERENCES_ENV, str(references))
    monkeypatch.delenv(INPUTS_ENV)  # the fallback builds the inputs itself
    points = kernel.grade_unit(mistake.unit, mistake.impl, dict(REFERENCE_FUNCTIONS))
    assert type(points) is float and points == sandbox.score < UNITS[mistake.unit].points
    out = capsys.readouterr().out
    assert "\n".join(sandbox.lines) in out
