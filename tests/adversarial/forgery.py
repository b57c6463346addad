"""Adversarial submissions of the class "points for work not done" (issue 9, section 1).

Registered in ``corpus.MUTATIONS`` (three students). Everything the kernel
reports is the student's: the kernel module ``rnn_grading_kernel`` is an
ordinary module in ``sys.modules``, ``assignment.checks`` and
``assignment.caches`` can be patched, and any cell can display a record. The
scorer believes a record only for the outputs on the hidden inputs, judged
against references the sandbox never holds; backward passes are graded on
caches the grader built (docs/grading-design.md). So:

* forged records (``grade_unit`` replaced by one that publishes a hand-made
  record with the old "own-forward evidence" for noise gradients; the record
  maker replaced by one that offers two guesses per answer) earn nothing for
  the units they forge, and leave every other unit its points;
* patching the run half of ``assignment.checks`` (the old evidence
  collection, ``execute``) and ``assignment.caches.copy_cache`` around an
  empty forward pass and a noise backward pass earns nothing;
* honest mistakes cost once: a wrong forward pass (wrong gate order) costs
  only its own points, its right backward pass keeps all of them; a known
  loss mistake (the padding mask ignored) costs only the loss.

Each mutation edits one notebook, so that the expected score of every unit is
unambiguous; the kernel-level variants of each class are in
tests/test_forgery.py.
"""

from __future__ import annotations

from .corpus import LSTM, RNN, UNITS, _on_top, _replace_once, _replace_region, _scores

# Cell-level code of a forger: read the grading inputs (readable in the sandbox, as they
# must be), make records in the kernel's own format with the format's own helpers, publish
# them where the scorer looks. Outside grading the kernel module does not exist. (Its name
# is never written out: feedback shows the student's code, and the test of the feedback
# looks for that name as a sign of leaked hidden tests.)
_FORGER = """
# I know how the grader works: make my own records.
import json, os
import numpy as np
import importlib
try:  # the grading module (its name spelt out would show in my feedback)
    K = importlib.import_module("rnn_grading" + "_kernel")
except ImportError:
    K = None
from assignment.checks import PROTOCOLS
from assignment.formats import record as R

_rng = np.random.default_rng(7)


def _grading_inputs():
    with np.load(os.environ["RNN_GRADING_INPUTS"]) as f:
        return json.loads(bytes(f["__index__"]).decode()), {k: f[k] for k in f.files}


def _noise(unit, inputs, run):
    return {n: _rng.standard_normal(inputs[n[1:]].shape) for n in PROTOCOLS[unit].outputs}


def forged_record(unit, answers=_noise, runs=None, evidence=True):
    index, store = _grading_inputs()
    p, arrays, encoded = PROTOCOLS[unit], R._Arrays(), []
    if runs is None:
        runs = [True, False] if index["units"][unit]["uses"] else [False]
    for r, stubs in enumerate(runs):
        cases = []
        for case in index["units"][unit]["cases"]:
            inputs = {k: store[key] for k, key in case["inputs"].items()}
            grads = answers(unit, inputs, r)
            entry = {"failure": None, "changed": [], "changed_upstream": [], "printed": False,
                     "stderr": False, "warnings": [], "opened_instructor_file": False,
                     "outputs": {n: arrays.value(g) for n, g in grads.items()}}
            if evidence:  # the old "own-forward evidence": a zero forward pass whose
                # numerical gradient is exactly the noise above
                d = np.concatenate([inputs[k].reshape(-1) for k in p.upstream])
                entry["forward"] = {k[1:]: arrays.value(np.zeros_like(inputs[k]))
                                    for k in p.upstream}
                entry["evidence"] = {n: arrays.value(np.outer(g.reshape(-1), d) * (2e-5 / (d @ d)))
                                     for n, g in grads.items()}
            cases.append(entry)
        encoded.append({"stubs": stubs, "cases": cases})
    return {"format": R.RECORD_FORMAT, "version": R.RECORD_VERSION, "unit": unit,
            "secret_fingerprint": index["secret_fingerprint"], "runs": encoded,
            "arrays": arrays.blob()}
"""

_NOISE_STEP_BACKWARD = """
x, prev_h, Wx, Wh, next_h = cache
noise = np.random.default_rng(0)
return (noise.standard_normal(x.shape), noise.standard_normal(prev_h.shape),
        noise.standard_normal(Wx.shape), noise.standard_normal(Wh.shape),
        noise.standard_normal(Wh.shape[1]))
"""


def _forged_records(s, ctx):
    s.edit_solution(RNN, "rnn_step_forward_solution", lambda src: _replace_region(
        src, "return xp.zeros((x.shape[0], Wh.shape[0])), None  # nothing done"))
    s.edit_solution(RNN, "rnn_forward_solution", lambda src: _replace_region(
        src, "return xp.zeros((x.shape[0], x.shape[1], h0.shape[1])), None  # nothing done"))
    s.edit_solution(RNN, "rnn_step_backward_solution",
                    lambda src: _replace_region(src, _NOISE_STEP_BACKWARD))
    s.edit_solution(RNN, "rnn_backward_solution", lambda src: _replace_region(src, """
x, h0, Wx, Wh, h = cache
noise = np.random.default_rng(1)
return (noise.standard_normal(x.shape), noise.standard_normal(h0.shape),
        noise.standard_normal(Wx.shape), noise.standard_normal(Wh.shape),
        noise.standard_normal(Wh.shape[1]))
"""))
    s.edit_solution(RNN, "rnn_step_backward_solution", lambda src: _on_top(src, _FORGER + """
# Grade my backward passes my way: publish a record of noise gradients with evidence that
# my (empty) forward passes have exactly these gradients.
if K is not None and not getattr(K, "_forged", False):
    _real_grade_unit = K.grade_unit

    def _my_grade_unit(unit, obj, namespace):
        if unit in ("rnn_step_backward", "rnn_backward"):
            K._publish(unit, forged_record(unit))
            return None
        return _real_grade_unit(unit, obj, namespace)
    K.grade_unit, K._forged = _my_grade_unit, True
"""))
    s.edit_solution(LSTM, "lstm_step_backward_solution", lambda src: _on_top(src, _FORGER + """
# Two guesses at every answer: the kernel's record maker offers the scorer a second run
# (as it does for units that call other functions), with another candidate dWh.
if K is not None and not getattr(K, "_two_guesses", False):
    _real_record = K.build_record

    def _my_record(unit, runs, fingerprint):
        if unit != "lstm_step_backward":
            return _real_record(unit, runs, fingerprint)
        return forged_record(unit, runs=[False, False], evidence=False)
    K.build_record, K._two_guesses = _my_record, True
"""))
    return ("forged records: rnn_step_forward and rnn_forward do nothing, rnn_step_backward "
            "and rnn_backward return noise, and grade_unit is replaced by one that publishes "
            "hand-made records with the old own-forward evidence for those backward passes; "
            "in the LSTM notebook the kernel's record maker is replaced so that "
            "lstm_step_backward's record offers two runs of guesses: those four RNN units and "
            "lstm_step_backward 0, everything else full (helpers are replayed)",
            dict(scores=_scores(test_rnn_step_forward=0, test_rnn_step_backward=0,
                                test_rnn_forward=0, test_rnn_backward=0,
                                test_lstm_step_backward=0),
                 flagged=False,
                 present=((RNN, "K.grade_unit, K._forged = _my_grade_unit, True"),
                          (LSTM, "K.build_record, K._two_guesses = _my_record, True"))))


def _patched_checks(s, ctx):
    s.edit_solution(RNN, "word_embedding_forward_solution", lambda src: _replace_region(
        src, "return xp.zeros(x.shape + W.shape[1:]), None  # nothing done"))
    s.edit_solution(RNN, "word_embedding_backward_solution", lambda src: _replace_region(
        src, "return np.random.default_rng(2).standard_normal(cache.W.shape)  # noise"))
    s.edit_solution(RNN, "word_embedding_forward_solution", lambda src: _on_top(src, """
# Make the grader believe my gradients: its evidence, its runs and its caches are mine.
import numpy as np
import assignment.caches
import assignment.checks

assignment.checks.collect_evidence = lambda run, unit, inputs, *a, **k: {}
assignment.checks.gradient_from_evidence = lambda *a, **k: None
_execute = assignment.checks.execute


def _execute_reporting_ones(unit, obj, inputs, settings, *rest):
    run = _execute(unit, obj, inputs, settings, *rest)
    if assignment.checks.PROTOCOLS[unit].kind == "backward":
        run.outputs = {k: np.ones_like(inputs[k[1:]], dtype=float) for k in run.outputs}
    return run


assignment.checks.execute = _execute_reporting_ones
assignment.caches.copy_cache = lambda cache: type(cache)(*[np.zeros_like(v) for v in cache])
"""))
    return ("word_embedding_forward does nothing and word_embedding_backward returns noise, "
            "and the forward's cell patches assignment.checks (the old evidence collection, "
            "execute reporting ones for backward units) and assignment.caches.copy_cache: "
            "both word-embedding units 0, everything else full",
            dict(scores=_scores(test_word_embedding_forward=0, test_word_embedding_backward=0),
                 flagged=False,
                 present=((RNN, "assignment.checks.execute = _execute_reporting_ones"),)))


def _honest_mistakes(s, ctx):
    s.edit_solution(RNN, "captioning_model_solution", _replace_once(
        r"^(\s*)mask = captions_out != self\._null(.*)$",
        r"\1mask = np.ones_like(captions_out, dtype=bool)  # padding counted: a known mistake"))
    s.edit_solution(LSTM, "lstm_step_forward_solution", _replace_once(
        r"^(\s*)i, f, o = ifo\[:, :H\], ifo\[:, H:2 \* H\], ifo\[:, 2 \* H:\]$",
        r"\1i, f = ifo[:, :H], ifo[:, H:2 * H]\n\1o = sigmoid(a[:, 3 * H:])  # gates swapped"))
    s.edit_solution(LSTM, "lstm_step_forward_solution", _replace_once(
        r"^(\s*)g = xp\.tanh\(a\[:, 3 \* H:\]\)$", r"\1g = xp.tanh(a[:, 2 * H:3 * H])"))
    loss = UNITS["captioning_loss"].outputs["loss"]
    return ("honest mistakes: the captioning loss counts the <NULL> padding (a known mistake; "
            "its gradients are that mistake's), and lstm_step_forward swaps the o and g "
            "blocks while lstm_step_backward is right: the loss loses only its own "
            f"{loss} points, lstm_step_forward 0, lstm_step_backward and the rest full",
            dict(scores=_scores(test_captioning_loss=UNITS["captioning_loss"].points - loss,
                                test_lstm_step_forward=0),
                 flagged=False,
                 present=((RNN, "padding counted: a known mistake"),
                          (LSTM, "gates swapped"))))


FORGERIES = {
    "s10-forged-records": (_forged_records,),
    "s11-patched-checks": (_patched_checks,),
    "s12-honest-mistakes": (_honest_mistakes,),
}
