"""Points for work not done: forged records, forged evidence, and what honest mistakes cost.

Everything student code can reach in its kernel is the attacker's: the kernel
module ``rnn_grading_kernel`` (an ordinary module in ``sys.modules``), the
``assignment`` package, the grading-inputs file, and what is displayed. The
scorer believes a record only for the student's outputs on the hidden inputs,
judged against the references it holds itself (docs/grading-design.md). Each
test runs notebook cells in one namespace, then the graded test cell's hidden
part exactly as written in the notebooks (``from rnn_grading_kernel import
grade_unit`` ...), in this process standing in for the sandboxed kernel, and
scores what was published with ``autograder.grading.scoring.score_unit``, with exact
expected points:

* (a) the grading module replaced, patched or called by hand to publish a
  made-up record (empty forward passes, noise backward passes, the old
  "own-forward evidence", two guesses per answer);
* (b) the run half of ``assignment.checks`` (and ``assignment.caches``)
  patched to change what is recorded;
* (c) honest mistakes: a wrong forward pass costs only its own points, a
  known loss mistake only the loss's.

Patching the judging half (``checks.judge_case``, ``compare``) cannot be
tested in this process, which also hosts the scorer; in grading the scorer
is another process (the end-to-end corpus, tests/adversarial, does that).
"""

from __future__ import annotations

import json
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from assignment import caches, checks
from assignment.formats import record
from assignment.formats.check_file import FILE_FORMAT, REFERENCES_ENV, read_check_file
from assignment.formats.grading_inputs import INPUTS_ENV, INPUTS_VERSION
from assignment.formats.npz import write_npz
from assignment.units import UNITS
from autograder.answer_key.check_files import build_references
from autograder.answer_key.grading_inputs import build_grading_inputs
from autograder.answer_key.mistakes import MISTAKES
from autograder.answer_key.solution import reference
from autograder.grading.scoring import score_unit

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "autograder" / "kernel"))
import rnn_grading_kernel as kernel  # noqa: E402

REFERENCE_FUNCTIONS = reference().functions()  # a notebook solved right

SECRET = b"test_forgery secret"


@pytest.fixture(scope="module")
def references(tmp_path_factory):
    return build_references(SECRET, tmp_path_factory.mktemp("forgery") / "references.npz")


@pytest.fixture(scope="module")
def grading_inputs(references):
    return build_grading_inputs(references, references.with_name("grading_inputs.npz"))


@pytest.fixture(autouse=True)
def sandbox(grading_inputs, monkeypatch):
    """A sandboxed grading kernel's environment; modules that student code patches are put back."""
    monkeypatch.setenv(INPUTS_ENV, str(grading_inputs))
    monkeypatch.delenv(REFERENCES_ENV, raising=False)
    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)
    saved = {module: dict(vars(module)) for module in (kernel, checks, caches)}
    yield
    for module, before in saved.items():
        for name in [n for n in vars(module) if n not in before]:
            delattr(module, name)
        for name, value in before.items():
            if vars(module).get(name) is not value:
                setattr(module, name, value)


def notebook(*cells) -> dict:
    """Run ``cells`` like notebook cells; return their namespace (the cells' globals())."""
    namespace = {"__name__": "__notebook__"}
    for cell in cells:
        exec(compile(textwrap.dedent(cell), "<student cell>", "exec"), namespace)
    return namespace


def run_test_cell(unit, obj, namespace, references):
    """The graded test cell's hidden part, run in the notebook's namespace; scored outside."""
    published = len(kernel.PUBLISHED)
    exec(compile(f"from rnn_grading_kernel import grade_unit\n"
                 f"grade_unit({unit!r}, {obj}, globals())\n", "<test cell>", "exec"), namespace)
    outputs = [{"output_type": "display_data", "data": bundle, "metadata": {}}
               for bundle in kernel.PUBLISHED[published:]]
    return score_unit(unit, outputs, references)


def earned(score) -> dict:
    return {o.name: o.earned for o in score.outputs}


def zero(unit) -> dict:
    return {k: 0.0 for k in UNITS[unit].outputs}


def full(unit) -> dict:
    return {k: float(v) for k, v in UNITS[unit].outputs.items()}


# ------------------------------------------------------------------ the attacker's tools

# What a student can write: read the grading-inputs file (it must be readable in the
# sandbox), make a record in the kernel's own format with the format's own helpers, and
# publish it where the scorer looks.
FORGER = """
import json, os
import numpy as np
import rnn_grading_kernel as K
from assignment.formats import record as R

rng = np.random.default_rng(7)


def grading_inputs():
    with np.load(os.environ["RNN_GRADING_INPUTS"]) as f:
        return json.loads(bytes(f["__index__"]).decode()), {k: f[k] for k in f.files}


def noise(unit, inputs):
    # gradients of the right shapes (dWx <-> Wx, dprev_h <-> prev_h): random numbers
    from assignment.checks import PROTOCOLS
    return {n: rng.standard_normal(inputs[n[1:]].shape) for n in PROTOCOLS[unit].outputs}


def old_evidence(unit, inputs, outputs, arrays):
    # the evidence the old scorer turned into "the gradient of your own forward pass":
    # rows whose contraction with the upstream gradients gives exactly the noise above,
    # and forward outputs of zeros (a wrong forward pass)
    from assignment.checks import PROTOCOLS
    p = PROTOCOLS[unit]
    d = np.concatenate([inputs[k].reshape(-1) for k in p.upstream])
    evidence = {n: np.outer(g.reshape(-1), d) * (2e-5 / (d @ d)) for n, g in outputs.items()}
    forward = {k[1:]: np.zeros_like(inputs[k]) for k in p.upstream}
    return {"evidence": {n: arrays.value(v) for n, v in evidence.items()},
            "forward": {n: arrays.value(v) for n, v in forward.items()}}


def forge(unit, make_outputs, runs=(False,), evidence=False, version=None):
    index, store = grading_inputs()
    arrays = R._Arrays()
    arrays.size = -10 ** 12  # no size limit for me
    encoded = []
    for r, stubs in enumerate(runs):
        cases = []
        for case in index["units"][unit]["cases"]:
            inputs = {k: store[key] for k, key in case["inputs"].items()}
            outputs = make_outputs(unit, inputs, r)
            entry = {"failure": None, "changed": [], "changed_upstream": [], "printed": False,
                     "stderr": False, "warnings": [], "opened_instructor_file": False,
                     "outputs": {n: arrays.value(v) for n, v in outputs.items()}}
            if evidence:
                entry.update(old_evidence(unit, inputs, outputs, arrays))
            cases.append(entry)
        encoded.append({"stubs": stubs, "cases": cases})
    return {"format": R.RECORD_FORMAT, "version": version or R.RECORD_VERSION, "unit": unit,
            "secret_fingerprint": index["secret_fingerprint"], "runs": encoded,
            "arrays": arrays.blob()}


def publish(record):
    K._publish(record["unit"], record)
"""

EMPTY_RNN = """
def rnn_step_forward(x, prev_h, Wx, Wh, b):
    return np.zeros((x.shape[0], Wh.shape[0])), None

def rnn_forward(x, h0, Wx, Wh, b):
    return np.zeros((x.shape[0], x.shape[1], h0.shape[1])), None

def rnn_step_backward(dnext_h, cache):
    return tuple(noise("rnn_step_backward", {"x": cache.x, "prev_h": cache.prev_h,
                                             "Wx": cache.Wx, "Wh": cache.Wh,
                                             "b": cache.next_h[0]}).values())

def rnn_backward(dh, cache):
    return tuple(noise("rnn_backward", {"x": cache.x, "h0": cache.h0, "Wx": cache.Wx,
                                        "Wh": cache.Wh, "b": cache.h[0, 0]}).values())
"""


# --------------------------------------------------------------- (a) forged records


@pytest.mark.parametrize("unit", ["rnn_step_backward", "rnn_backward"])
@pytest.mark.parametrize("version", [None, 1], ids=["current version", "old version"])
def test_grade_unit_replaced_by_one_that_publishes_forged_evidence_earns_nothing(
        unit, version, references):
    ns = notebook(FORGER, EMPTY_RNN, f"""
        # the old attack: an empty forward pass and hand-made own-forward evidence
        # consistent with random gradients, published instead of the real record
        _real = K.grade_unit

        def fake_grade_unit(unit, obj, namespace):
            if not unit.endswith("backward"):
                return _real(unit, obj, namespace)
            runs = (True, False) if unit == "rnn_backward" else (False,)
            publish(forge(unit, lambda u, inputs, r: noise(u, inputs), runs=runs,
                          evidence=True, version={version!r}))
        K.grade_unit = fake_grade_unit
    """)
    forward = unit.replace("backward", "forward")
    assert earned(run_test_cell(forward, forward, ns, references)) == zero(forward)
    score = run_test_cell(unit, unit, ns, references)
    assert earned(score) == zero(unit), "\n".join(score.lines)


def test_a_forged_record_published_before_the_real_one_earns_nothing(references):
    ns = notebook(FORGER, EMPTY_RNN, """
        real_backward = rnn_step_backward

        def rnn_step_backward(dnext_h, cache):  # publishes its record first, once
            if not globals().get("done"):
                globals()["done"] = True
                publish(forge("rnn_step_backward", lambda u, inputs, r: noise(u, inputs),
                              evidence=True))
            return real_backward(dnext_h, cache)
    """)
    score = run_test_cell("rnn_step_backward", "rnn_step_backward", ns, references)
    assert ns["done"] and earned(score) == zero("rnn_step_backward"), "\n".join(score.lines)


RIGHT_AND_TRANSPOSED = """
def right(dnext_h, cache):
    x, prev_h, Wx, Wh, next_h = cache
    da = dnext_h * (1 - next_h ** 2)
    return {"dx": da @ Wx.T, "dprev_h": da @ Wh.T, "dWx": x.T @ da, "dWh": prev_h.T @ da,
            "db": da.sum(axis=0)}

def rnn_step_backward(dnext_h, cache):  # unsure about dWh: this one has it transposed
    grads = right(dnext_h, cache)
    grads["dWh"] = grads["dWh"].T
    return tuple(grads.values())

def two_guesses(unit, inputs, r):  # the kernel's cache of each case, both answers for dWh
    from assignment.caches import RNNStepCache
    from assignment.checks import PROTOCOLS
    forward = np.tanh(inputs["x"] @ inputs["Wx"] + inputs["prev_h"] @ inputs["Wh"] + inputs["b"])
    grads = right(inputs["dnext_h"], RNNStepCache(inputs["x"], inputs["prev_h"], inputs["Wx"],
                                                  inputs["Wh"], forward))
    if r == 0:
        grads["dWh"] = grads["dWh"].T
    return grads
"""


@pytest.mark.parametrize("runs", [(False, False), (True, False), (False, False, False)])
def test_a_record_with_two_guesses_per_answer_is_refused(runs, references):
    # rnn_step_backward calls no other function of the student, so the kernel runs it
    # once: a record with a second run would be a second guess at the answers
    ns = notebook(FORGER, RIGHT_AND_TRANSPOSED, f"""
        _real = K.grade_unit

        def grade_unit_with_a_second_guess(unit, obj, namespace):
            publish(forge(unit, two_guesses, runs={runs!r}))
            return _real(unit, obj, namespace)
        K.grade_unit = grade_unit_with_a_second_guess
    """)
    score = run_test_cell("rnn_step_backward", "rnn_step_backward", ns, references)
    # the forged record is refused; the real one (dWh transposed) counts
    assert earned(score) == {**full("rnn_step_backward"), "dWh": 0}, "\n".join(score.lines)


def test_a_patched_record_maker_adding_a_second_run_records_nothing_believable(references):
    ns = notebook(FORGER, RIGHT_AND_TRANSPOSED, """
        # the kernel's own record maker, replaced: its record offers both answers for dWh
        K.build_record = lambda unit, runs, fingerprint: forge(unit, two_guesses,
                                                               runs=(False, False))
    """)
    score = run_test_cell("rnn_step_backward", "rnn_step_backward", ns, references)
    assert score.score == 0.0 and "no result was recorded" in score.lines[0], \
        "\n".join(score.lines)


def test_a_record_of_cache_fields_or_upstream_gradients_earns_nothing(references):
    ns = notebook(FORGER, """
        def lstm_step_forward(x, prev_h, prev_c, Wx, Wh, b):
            return None, None, None

        def lstm_step_backward(dnext_h, dnext_c, cache):  # hands back what it was given
            return cache.x, dnext_h, dnext_c, cache.Wx, cache.Wh, cache.Wx.sum(axis=0)

        def upstream_as_answers(unit, inputs, r):
            return {"dx": inputs["x"], "dprev_h": inputs["dnext_h"], "dprev_c": inputs["dnext_c"],
                    "dWx": inputs["Wx"], "dWh": inputs["Wh"], "db": inputs["b"]}

        publish(forge("lstm_step_backward", upstream_as_answers))  # at cell level, early
    """)
    outputs = [{"output_type": "display_data", "data": kernel.PUBLISHED[-1], "metadata": {}}]
    assert score_unit("lstm_step_backward", outputs, references).score == 0.0
    score = run_test_cell("lstm_step_backward", "lstm_step_backward", ns, references)
    assert earned(score) == zero("lstm_step_backward"), "\n".join(score.lines)


def test_a_hand_made_record_for_a_unit_with_helpers_earns_only_what_is_right(references):
    ns = notebook(FORGER, EMPTY_RNN, """
        def stubs_then_own(unit, inputs, r):  # noise in the run with stubs, zeros in the other
            out = noise(unit, inputs)
            return out if r == 0 else {k: np.zeros_like(v) for k, v in out.items()}
        publish(forge("rnn_backward", stubs_then_own, runs=(True, False), evidence=True))
    """)
    score = run_test_cell("rnn_backward", "rnn_backward", ns, references)
    assert earned(score) == zero("rnn_backward"), "\n".join(score.lines)


# ------------------------------------------------- (b) the run half of assignment.checks


@pytest.mark.parametrize("patch", [
    # the old attack: the evidence collection replaced by made-up numbers
    """
    import assignment.checks as C
    C.collect_evidence = lambda run, unit, inputs, names=None, into=None, h=1e-5: {}
    C.gradient_from_evidence = lambda diffs, upstream, shape, h=1e-5: None
    """,
    # execute replaced: every gradient is reported as the upstream gradient's sum
    """
    import assignment.checks as C
    _execute = C.execute

    def execute(unit, obj, inputs, settings, *rest):
        run = _execute(unit, obj, inputs, settings, *rest)
        for name in run.outputs if C.PROTOCOLS[unit].kind == "backward" else ():
            run.outputs[name] = np.full_like(inputs[name[1:]], sum(
                float(inputs[k].sum()) for k in C.PROTOCOLS[unit].upstream))
        return run
    C.execute = execute
    """,
    # the cache handed to the backward pass replaced by the student's own (empty) one
    """
    import assignment.caches as caches
    caches.copy_cache = lambda cache: type(cache)(*[np.zeros_like(v) for v in cache])
    """,
    # Execution made to carry the old "forward" and "evidence" fields
    """
    import assignment.checks as C
    _Execution = C.Execution

    class Execution(_Execution):
        def __init__(self, outputs, *args, **kwargs):
            super().__init__(outputs, *args, **kwargs)
            self.forward_outputs, self.evidence = {}, {k: np.ones(3) for k in outputs}
    C.Execution = Execution
    """], ids=["evidence", "execute", "cache", "Execution"])
def test_patching_the_run_half_of_assignment_checks_earns_nothing(patch, references):
    ns = notebook(FORGER, EMPTY_RNN, patch, """
        def word_embedding_forward(x, W):
            return np.zeros(x.shape + W.shape[1:]), None

        def word_embedding_backward(dout, cache):
            return rng.standard_normal(cache.W.shape)
    """)
    for unit in ("rnn_step_forward", "rnn_step_backward", "rnn_forward", "rnn_backward",
                 "word_embedding_forward", "word_embedding_backward"):
        score = run_test_cell(unit, unit, ns, references)
        assert earned(score) == zero(unit), (unit, "\n".join(score.lines))


def test_a_patched_cache_copy_cannot_help_a_backward_pass_that_reads_its_own_cache(
        references):
    # The student's backward pass wants the cache of their own (non-standard) forward
    # pass and patches the copy to make one: what it computes is still judged against
    # the reference gradients of the hidden inputs, so a wrong forward pass's cache
    # gives wrong gradients.
    ns = notebook("""
        import assignment.caches as caches

        def rnn_step_forward(x, prev_h, Wx, Wh, b):  # no tanh: a wrong forward pass
            next_h = x @ Wx + prev_h @ Wh + b
            return next_h, (x, prev_h, Wx, Wh, next_h)

        def own_cache(cache):
            return rnn_step_forward(cache.x, cache.prev_h, cache.Wx, cache.Wh, 0.0)[1]
        caches.copy_cache = own_cache

        def rnn_step_backward(dnext_h, cache):  # right for the standard cache
            x, prev_h, Wx, Wh, next_h = cache
            da = dnext_h * (1 - next_h ** 2)
            return da @ Wx.T, da @ Wh.T, x.T @ da, prev_h.T @ da, da.sum(axis=0)
    """)
    score = run_test_cell("rnn_step_backward", "rnn_step_backward", ns, references)
    assert earned(score) == zero("rnn_step_backward"), "\n".join(score.lines)


# ------------------------------------------------------------------ (c) honest mistakes


def test_a_wrong_lstm_step_forward_costs_only_its_own_points(references):
    gate_order = next(m.impl for m in MISTAKES
                      if m.unit == "lstm_step_forward" and m.name == "gate_order_ifgo")
    ns = notebook()
    ns.update(REFERENCE_FUNCTIONS)
    ns["lstm_step_forward"] = gate_order
    expected = {"lstm_step_forward": zero("lstm_step_forward")}
    for unit in ("lstm_step_backward", "lstm_forward", "lstm_backward"):
        expected[unit] = full(unit)  # lstm_forward: replay stubs stand in for the step
    for unit, want in expected.items():
        score = run_test_cell(unit, unit, ns, references)
        assert earned(score) == want, (unit, "\n".join(score.lines))


def test_a_known_loss_mistake_in_a_students_model_costs_only_the_loss(references):
    not_averaged = next(m.impl for m in MISTAKES if m.name == "not_averaged")
    ns = notebook()
    ns.update(REFERENCE_FUNCTIONS)
    ns["CaptioningRNN"] = not_averaged
    score = run_test_cell("captioning_loss", "CaptioningRNN", ns, references)
    assert earned(score) == {**full("captioning_loss"), "loss": 0}, "\n".join(score.lines)


# ------------------------------------------------------------- files of an older release


def _older_references(path, secret):
    """A references file as a release before grader-built caches wrote it (version 1)."""
    from autograder.answer_key.seeds import secret_fingerprint
    index = {"format": FILE_FORMAT, "version": 1, "kind": "references",
             "secret_fingerprint": secret_fingerprint(secret), "units": {}}
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_npz(path, {"__index__": np.frombuffer(
        json.dumps(index).encode(), dtype=np.uint8)})


def test_a_course_released_by_an_older_version_is_refused_with_what_to_do(tmp_path):
    from autograder.release.course import Course
    from autograder.grading.coordinator import grade
    from autograder.grading.errors import GradingError
    from autograder.release.release import ReleaseError, check_references_match_secret

    course = Course(tmp_path / "course")
    course.release_dir().mkdir(parents=True)
    _older_references(course.references_path, SECRET)
    with pytest.raises(GradingError, match=r"released by an older version\. Run `rnn-assignment "
                                           r"release --course .*` again \(same secret"):
        grade(course.root)
    with pytest.raises(ValueError, match="version 1; expected .* version 2. Rebuild it"):
        read_check_file(course.references_path)
    # releasing again is what the message says: the old file's secret is still recognised
    check_references_match_secret(course, SECRET)
    with pytest.raises(ReleaseError, match="built from a course secret"):
        check_references_match_secret(course, b"another secret")


def test_grading_inputs_and_records_of_an_older_version_are_refused(tmp_path, monkeypatch):
    old = tmp_path / "grading_inputs.npz"
    monkeypatch.setenv(INPUTS_ENV, str(old))
    # 1: plain replay, own-forward evidence; 2: grader-built caches with plain replay
    # results, or sealed replay entries without caches
    for version in (1, 2):
        write_npz(old, {"__index__": np.frombuffer(json.dumps(
            {"format": "rnn-assignment-grading-inputs", "version": version, "units": {}}).encode(),
            dtype=np.uint8)})
        with pytest.raises(kernel.GradingSetupError,
                           match=f"grading inputs version {version}, .* this kernel reads "
                                 f"version {INPUTS_VERSION}"):
            kernel.grade_unit("rnn_forward", lambda *a: None, {})


# ------------------------------------------- other variants of (a) and (b) (red team)


@pytest.mark.parametrize("attack", [
    # an import hook hands the hidden part a module of the student's own
    """
    import builtins, types
    _import = builtins.__import__
    fake = types.ModuleType("rnn_grading_kernel")
    fake.grade_unit = lambda unit, obj, namespace: publish(
        forge(unit, lambda u, inputs, r: noise(u, inputs)))

    def hooked(name, *args, **kwargs):
        return fake if name == "rnn_grading_kernel" else _import(name, *args, **kwargs)
    builtins.__import__ = hooked
    """,
    # sys.modules replaced before the hidden part imports it
    """
    import sys, types
    fake = types.ModuleType("rnn_grading_kernel")
    fake.grade_unit = lambda unit, obj, namespace: publish(
        forge(unit, lambda u, inputs, r: noise(u, inputs)))
    sys.modules["rnn_grading_kernel"] = fake
    """,
    # the record writer's array encoder made to write pickles (objects that claim anything)
    """
    import pickle
    R._Arrays.blob = lambda self: __import__("base64").b64encode(pickle.dumps(
        {"anything": "equal"})).decode()
    """,
    # the record's JSON encoder patched to add a second run and a "score"
    """
    import json as _json
    _dumps = _json.dumps

    def dumps(obj, *args, **kwargs):
        if isinstance(obj, dict) and obj.get("format") == R.RECORD_FORMAT:
            obj = dict(obj, runs=obj["runs"] * 2, score=999, points=999)
        return _dumps(obj, *args, **kwargs)
    _json.dumps = dumps
    """], ids=["__import__ hook", "sys.modules", "pickled arrays", "json patched"])
def test_other_ways_to_replace_or_bend_the_record_writer_earn_nothing(attack, references):
    import builtins
    saved_import, saved_dumps = builtins.__import__, json.dumps
    saved_module, saved_blob = sys.modules["rnn_grading_kernel"], record._Arrays.blob
    try:
        ns = notebook(FORGER, EMPTY_RNN, attack)
        for unit in ("rnn_step_backward", "rnn_backward"):
            score = run_test_cell(unit, unit, ns, references)
            assert earned(score) == zero(unit), (unit, "\n".join(score.lines))
    finally:
        builtins.__import__, json.dumps = saved_import, saved_dumps
        sys.modules["rnn_grading_kernel"], record._Arrays.blob = saved_module, saved_blob


def test_outputs_that_claim_to_equal_anything_are_judged_on_their_numbers(references):
    ns = notebook(FORGER, """
        class Equal(np.ndarray):  # == anything, a float of anything, any array it is asked for
            def __eq__(self, other):
                return np.ones(np.shape(other), dtype=bool)
            __ne__ = lambda self, other: np.zeros(np.shape(other), dtype=bool)
            __float__ = lambda self: 1.0
            __array_priority__ = 1e9

        class Chameleon:  # not an array at all
            __eq__ = lambda self, other: True
            __float__ = lambda self: 0.0
            def __array__(self, dtype=None, copy=None):
                return np.zeros(3)

        def rnn_step_forward(x, prev_h, Wx, Wh, b):
            return np.zeros((x.shape[0], Wh.shape[0])).view(Equal), None

        def rnn_step_backward(dnext_h, cache):  # the upstream gradient itself, and chameleons
            return Chameleon(), dnext_h, Chameleon(), dnext_h.view(Equal), Chameleon()

        def word_embedding_backward(dout, cache):
            return dout.sum(axis=(0, 1)).view(Equal)
    """)
    for unit in ("rnn_step_forward", "rnn_step_backward", "word_embedding_backward"):
        score = run_test_cell(unit, unit, ns, references)
        assert earned(score) == zero(unit), (unit, "\n".join(score.lines))
