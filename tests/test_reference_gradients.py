"""The reference solution (the answer key built from the notebooks, autograder.answer_key.solution) against numerical gradients and known values.

Everything here runs in float64 on the NumPy backend. What is checked:
* every backward pass against centred-difference gradients (several shapes,
  including T = 1 and N = 1), with the provided tools
  eval_numerical_gradient_array and the one-call check_layer_gradients;
* the whole captioning loss, coordinate by coordinate and along random directions;
* forward values: the published values of the standard assignment's check
  cells, and closed forms on tiny inputs;
* backward passes leave their inputs (upstream gradients, caches) untouched;
* sample(): greedy, starts after <START>, <NULL> after <END>, shape, dtype;
* the loss ignores <NULL> padding;
* input validation names the argument and what was wrong;
* the same code runs on a strict CuPy stand-in (tests/strict_xp.py).
"""

from __future__ import annotations

import copy
import functools
import math

import numpy as np
import pytest

import strict_xp
from assignment.backend import asarray, to_numpy, use_backend
from assignment.gradient_check import (
    check_layer_gradients,
    check_loss_gradients,
    eval_numerical_gradient_array,
    rel_error,
)
from assignment.layers import temporal_affine_forward, temporal_softmax_loss
from assignment.units import UNITS
from autograder.answer_key.inputs import make_inputs
from autograder.answer_key.solution import reference

ref = reference()

# Largest elementwise relative error of a correct backward pass against
# centred differences (h = 1e-5, float64). Typical values are 1e-10 to 1e-9;
# the worst entry is one whose gradient is tiny (a near-cancellation over the
# batch), where round-off of ~1e-11 becomes relative. Over many random inputs
# the worst entry stays below ~2e-8 for the RNN and the embedding and ~1e-6
# for the LSTM (saturating gates make more tiny entries). A real bug gives
# 1e-3 or worse, so these bounds separate right from wrong by >1000x.
LAYER_TOL = 5e-8
LSTM_TOL = 1e-6
# The whole loss (~6 nats) is differentiated coordinate by coordinate;
# round-off of eps * |loss| / h on its smallest gradient entries limits the
# elementwise relative error to ~1e-7 (RNN) and ~1e-6 (LSTM, with a larger
# step h = 1e-4 that trades round-off for truncation error). Along random
# directions the comparison is of two sums, and far more precise. A bug (a
# missing sum over time, a wrong gate) gives 1e-2 or worse.
LOSS_TOL = 1e-5
LOSS_STEP = {"rnn": 1e-5, "lstm": 1e-4}
DIRECTIONAL_TOL = 1e-7

# (N, T, D, H): a general case, a single step, a single sequence, both at once
SHAPES = [(3, 5, 4, 6), (2, 1, 5, 3), (1, 4, 3, 5), (1, 1, 2, 2)]
SHAPE_IDS = [f"N{n}-T{t}-D{d}-H{h}" for n, t, d, h in SHAPES]


def layer_inputs(seed, N, T, D, H, gates=1, sequence=True):
    """Well-scaled float64 inputs: x, h0 / prev_h, Wx, Wh, b (gates=4 for the LSTM)."""
    rng = np.random.default_rng(seed)
    x_shape = (N, T, D) if sequence else (N, D)
    return {
        "x": rng.standard_normal(x_shape),
        "h": rng.standard_normal((N, H)),
        "Wx": rng.standard_normal((D, gates * H)) / np.sqrt(D),
        "Wh": rng.standard_normal((H, gates * H)) / np.sqrt(H),
        "b": 0.1 * rng.standard_normal(gates * H),
    }


def assert_gradients_match(analytic, numerical, tol=LAYER_TOL):
    for name, num in numerical.items():
        err = rel_error(num, analytic[name])
        assert err <= tol, f"{name}: relative error {err:.2e} > {tol:.0e}"


# ------------------------------------------------------------ vanilla RNN gradients


@pytest.mark.parametrize("N,T,D,H", SHAPES, ids=SHAPE_IDS)
def test_rnn_step_backward_matches_numerical_gradient(N, T, D, H):
    p = layer_inputs(1, N, T, D, H, sequence=False)
    x, h, Wx, Wh, b = p.values()
    next_h, cache = ref.rnn_step_forward(x, h, Wx, Wh, b)
    dnext_h = np.random.default_rng(2).standard_normal(next_h.shape)
    dx, dh, dWx, dWh, db = ref.rnn_step_backward(dnext_h, cache)

    def f(_):
        return ref.rnn_step_forward(x, h, Wx, Wh, b)[0]

    numerical = {name: eval_numerical_gradient_array(f, p[name], dnext_h) for name in p}
    assert_gradients_match(dict(x=dx, h=dh, Wx=dWx, Wh=dWh, b=db), numerical)


@pytest.mark.parametrize("N,T,D,H", SHAPES, ids=SHAPE_IDS)
def test_rnn_backward_matches_numerical_gradient(N, T, D, H):
    p = layer_inputs(3, N, T, D, H)
    x, h0, Wx, Wh, b = p.values()
    hs, cache = ref.rnn_forward(x, h0, Wx, Wh, b)
    dhs = np.random.default_rng(4).standard_normal(hs.shape)
    dx, dh0, dWx, dWh, db = ref.rnn_backward(dhs, cache)

    def f(_):
        return ref.rnn_forward(x, h0, Wx, Wh, b)[0]

    numerical = {name: eval_numerical_gradient_array(f, p[name], dhs) for name in p}
    assert_gradients_match(dict(x=dx, h=dh0, Wx=dWx, Wh=dWh, b=db), numerical)


# ------------------------------------------------------------------- LSTM gradients


@pytest.mark.parametrize("N,T,D,H", SHAPES, ids=SHAPE_IDS)
def test_lstm_step_backward_matches_numerical_gradient(N, T, D, H):
    p = layer_inputs(5, N, T, D, H, gates=4, sequence=False)
    p["c"] = np.random.default_rng(6).standard_normal((N, H))
    x, h, Wx, Wh, b, c = p.values()
    next_h, next_c, cache = ref.lstm_step_forward(x, h, c, Wx, Wh, b)
    rng = np.random.default_rng(7)
    dnext_h, dnext_c = rng.standard_normal(next_h.shape), rng.standard_normal(next_c.shape)
    dx, dh, dc, dWx, dWh, db = ref.lstm_step_backward(dnext_h, dnext_c, cache)

    def f_h(_):
        return ref.lstm_step_forward(x, h, c, Wx, Wh, b)[0]

    def f_c(_):
        return ref.lstm_step_forward(x, h, c, Wx, Wh, b)[1]

    # the loss sees both outputs: its gradient is the sum of the two paths
    numerical = {name: eval_numerical_gradient_array(f_h, p[name], dnext_h)
                 + eval_numerical_gradient_array(f_c, p[name], dnext_c) for name in p}
    assert_gradients_match(dict(x=dx, h=dh, c=dc, Wx=dWx, Wh=dWh, b=db), numerical, tol=LSTM_TOL)


@pytest.mark.parametrize("N,T,D,H", SHAPES, ids=SHAPE_IDS)
def test_lstm_backward_matches_numerical_gradient(N, T, D, H):
    p = layer_inputs(8, N, T, D, H, gates=4)
    x, h0, Wx, Wh, b = p.values()
    hs, cache = ref.lstm_forward(x, h0, Wx, Wh, b)
    dhs = np.random.default_rng(9).standard_normal(hs.shape)
    dx, dh0, dWx, dWh, db = ref.lstm_backward(dhs, cache)

    def f(_):
        return ref.lstm_forward(x, h0, Wx, Wh, b)[0]

    numerical = {name: eval_numerical_gradient_array(f, p[name], dhs) for name in p}
    assert_gradients_match(dict(x=dx, h=dh0, Wx=dWx, Wh=dWh, b=db), numerical, tol=LSTM_TOL)


# --------------------------------------------------------- word embedding gradients


@pytest.mark.parametrize("N,T,V,D", [(3, 5, 7, 4), (1, 1, 3, 2), (2, 6, 2, 3)],
                         ids=["N3-T5-V7", "N1-T1-V3", "N2-T6-V2"])
def test_word_embedding_backward_matches_numerical_gradient(N, T, V, D):
    rng = np.random.default_rng(10)
    x = rng.integers(V, size=(N, T))
    W = rng.standard_normal((V, D))
    out, cache = ref.word_embedding_forward(x, W)
    dout = rng.standard_normal(out.shape)
    dW = ref.word_embedding_backward(dout, cache)
    num = eval_numerical_gradient_array(lambda _: ref.word_embedding_forward(x, W)[0], W, dout)
    assert rel_error(dW, num) <= LAYER_TOL


def test_word_embedding_backward_adds_the_gradient_of_every_occurrence_of_a_word():
    x = np.array([[1, 1, 3], [1, 0, 1]])  # word 1 four times, word 2 never
    W = np.zeros((4, 2))
    dout = np.arange(12, dtype=np.float64).reshape(2, 3, 2) + 1
    _, cache = ref.word_embedding_forward(x, W)
    dW = ref.word_embedding_backward(dout, cache)

    expected = np.zeros_like(W)
    for n in range(2):
        for t in range(3):
            expected[x[n, t]] += dout[n, t]
    np.testing.assert_array_equal(dW, expected)
    np.testing.assert_array_equal(dW[1], dout[0, 0] + dout[0, 1] + dout[1, 0] + dout[1, 2])
    np.testing.assert_array_equal(dW[2], 0.0)


# ------------------------------------------------------ the one-call gradient report


def _layer_cases():
    """Every backward unit of the declarations: (its forward, it, the inputs of its public case)."""
    cases = {}
    for name, unit in UNITS.items():
        if unit.kind == "backward":
            case = unit.cases[0]
            inputs = make_inputs(name, case, np.random.default_rng(20))
            forward = functools.partial(ref[unit.forward], **dict(case.settings))  # cell_type
            cases[name] = (forward, ref[name], {k: inputs[k] for k in unit.inputs})
    return cases


def _gated(unit_name):
    """A gated cell: its weights stack several gates (a declared width such as '4H')."""
    return any(size[0].isdigit() or size == "G" for spec in UNITS[unit_name].inputs.values()
               for size in spec.shape)


@pytest.mark.parametrize("layer", list(_layer_cases()))
def test_check_layer_gradients_passes_for_every_reference_layer(layer):
    forward, backward, inputs = _layer_cases()[layer]
    tol = LSTM_TOL if _gated(layer) else LAYER_TOL
    report = check_layer_gradients(forward, backward, inputs, tol=tol, verbose=False)
    print(report)
    assert report.passed, str(report)


# ------------------------------------------------------- the whole captioning loss

SMALL_VOCAB = {"<NULL>": 0, "<START>": 1, "<END>": 2, "a": 3, "b": 4, "c": 5, "d": 6}
SMALL_CAPTIONS = np.array([
    [1, 3, 4, 2, 0, 0],
    [1, 5, 2, 0, 0, 0],
    [1, 3, 3, 6, 3, 2],
])


def small_float64_model(cell_type, seed=0, scale=0.5):
    """A tiny float64 model whose weights are all of order one.

    The standard initialisation (word vectors / 100) makes some gradients so
    small that finite differences of the whole loss cannot resolve them.
    """
    model = ref.CaptioningRNN(SMALL_VOCAB, input_dim=7, wordvec_dim=4, hidden_dim=5,
                              cell_type=cell_type, dtype=np.float64, seed=seed)
    rng = np.random.default_rng(seed + 100)
    for p in model.params.values():
        p[...] = scale * rng.standard_normal(p.shape)
    features = rng.standard_normal((SMALL_CAPTIONS.shape[0], 7))
    return model, features


@pytest.mark.parametrize("cell_type", ["rnn", "lstm"])
def test_captioning_loss_gradients_match_numerical_gradients(cell_type):
    model, features = small_float64_model(cell_type)
    report = check_loss_gradients(lambda: model.loss(features, SMALL_CAPTIONS), model.params,
                                  tol=LOSS_TOL, h=LOSS_STEP[cell_type], verbose=False,
                                  title=f"CaptioningRNN({cell_type!r}).loss")
    print(report)
    assert report.passed, str(report)
    assert set(report.errors) == set(model.params)


@pytest.mark.parametrize("cell_type", ["rnn", "lstm"])
def test_captioning_loss_gradients_match_along_random_directions(cell_type):
    model, features = small_float64_model(cell_type, seed=1)
    report = check_loss_gradients(lambda: model.loss(features, SMALL_CAPTIONS), model.params,
                                  tol=DIRECTIONAL_TOL, h=1e-5, directional=True,
                                  num_directions=8, verbose=False,
                                  title=f"CaptioningRNN({cell_type!r}).loss")
    print(report)
    assert report.passed, str(report)


@pytest.mark.parametrize("cell_type", ["rnn", "lstm"])
def test_gradients_have_the_names_shapes_and_dtype_of_the_parameters(cell_type):
    model = ref.CaptioningRNN(SMALL_VOCAB, input_dim=7, wordvec_dim=4, hidden_dim=5,
                              cell_type=cell_type, seed=0)  # float32 by default
    features = np.random.default_rng(0).standard_normal((3, 7)).astype(np.float32)
    loss, grads = model.loss(features, SMALL_CAPTIONS)
    assert np.ndim(loss) == 0 and np.isfinite(float(loss))
    assert set(grads) == set(model.params)
    for name, p in model.params.items():
        assert grads[name].shape == p.shape, name
        assert grads[name].dtype == np.float32, name


# ----------------------------------------------------- forward values: known numbers
# The check cells of the standard (Stanford CS231n) assignment, with the
# expected values printed there: instructors can reuse these cells unchanged.


def test_rnn_step_forward_reproduces_the_standard_check_cell():
    N, D, H = 3, 10, 4
    x = np.linspace(-0.4, 0.7, num=N * D).reshape(N, D)
    prev_h = np.linspace(-0.2, 0.5, num=N * H).reshape(N, H)
    Wx = np.linspace(-0.1, 0.9, num=D * H).reshape(D, H)
    Wh = np.linspace(-0.3, 0.7, num=H * H).reshape(H, H)
    b = np.linspace(-0.2, 0.4, num=H)
    next_h, _ = ref.rnn_step_forward(x, prev_h, Wx, Wh, b)
    expected = np.asarray([
        [-0.58172089, -0.50182032, -0.41232771, -0.31410098],
        [0.66854692, 0.79562378, 0.87755553, 0.92795967],
        [0.97934501, 0.99144213, 0.99646691, 0.99854353]])
    assert rel_error(next_h, expected) < 1e-7


def test_rnn_forward_reproduces_the_standard_check_cell():
    N, T, D, H = 2, 3, 4, 5
    x = np.linspace(-0.1, 0.3, num=N * T * D).reshape(N, T, D)
    h0 = np.linspace(-0.3, 0.1, num=N * H).reshape(N, H)
    Wx = np.linspace(-0.2, 0.4, num=D * H).reshape(D, H)
    Wh = np.linspace(-0.4, 0.1, num=H * H).reshape(H, H)
    b = np.linspace(-0.7, 0.1, num=H)
    h, _ = ref.rnn_forward(x, h0, Wx, Wh, b)
    expected = np.asarray([
        [[-0.42070749, -0.27279261, -0.11074945, 0.05740409, 0.22236251],
         [-0.39525808, -0.22554661, -0.0409454, 0.14649412, 0.32397316],
         [-0.42305111, -0.24223728, -0.04287027, 0.15997045, 0.35014525]],
        [[-0.55857474, -0.39065825, -0.19198182, 0.02378408, 0.23735671],
         [-0.27150199, -0.07088804, 0.13562939, 0.33099728, 0.50158768],
         [-0.51014825, -0.30524429, -0.06755202, 0.17806392, 0.40333043]]])
    assert rel_error(h, expected) < 1e-6


def test_word_embedding_forward_reproduces_the_standard_check_cell():
    V, D = 5, 3
    x = np.asarray([[0, 3, 1, 2], [2, 1, 0, 3]])
    W = np.linspace(0, 1, num=V * D).reshape(V, D)
    out, _ = ref.word_embedding_forward(x, W)
    np.testing.assert_array_equal(out, W[x])
    assert out[0, 1].tolist() == pytest.approx([0.64285714, 0.71428571, 0.78571429])


def test_lstm_step_forward_reproduces_the_standard_check_cell():
    N, D, H = 3, 4, 5
    x = np.linspace(-0.4, 1.2, num=N * D).reshape(N, D)
    prev_h = np.linspace(-0.3, 0.7, num=N * H).reshape(N, H)
    prev_c = np.linspace(-0.4, 0.9, num=N * H).reshape(N, H)
    Wx = np.linspace(-2.1, 1.3, num=4 * D * H).reshape(D, 4 * H)
    Wh = np.linspace(-0.7, 2.2, num=4 * H * H).reshape(H, 4 * H)
    b = np.linspace(0.3, 0.7, num=4 * H)
    next_h, next_c, _ = ref.lstm_step_forward(x, prev_h, prev_c, Wx, Wh, b)
    expected_next_h = np.asarray([
        [0.24635157, 0.28610883, 0.32240467, 0.35525807, 0.38474904],
        [0.49223563, 0.55611431, 0.61507696, 0.66844003, 0.7159181],
        [0.56735664, 0.66310127, 0.74419266, 0.80889665, 0.858299]])
    expected_next_c = np.asarray([
        [0.32986176, 0.39145139, 0.451556, 0.51014116, 0.56717407],
        [0.66382255, 0.76674007, 0.87195994, 0.97902709, 1.08751345],
        [0.74192008, 0.90592151, 1.07717006, 1.25120233, 1.42395676]])
    assert rel_error(next_h, expected_next_h) < 1e-7
    assert rel_error(next_c, expected_next_c) < 1e-7


def test_lstm_forward_reproduces_the_standard_check_cell():
    N, D, H, T = 2, 5, 4, 3
    x = np.linspace(-0.4, 0.6, num=N * T * D).reshape(N, T, D)
    h0 = np.linspace(-0.4, 0.8, num=N * H).reshape(N, H)
    Wx = np.linspace(-0.2, 0.9, num=4 * D * H).reshape(D, 4 * H)
    Wh = np.linspace(-0.3, 0.6, num=4 * H * H).reshape(H, 4 * H)
    b = np.linspace(0.2, 0.7, num=4 * H)
    h, _ = ref.lstm_forward(x, h0, Wx, Wh, b)
    expected = np.asarray([
        [[0.01764008, 0.01823233, 0.01882671, 0.0194232],
         [0.11287491, 0.12146228, 0.13018446, 0.13902939],
         [0.31358768, 0.33338627, 0.35304453, 0.37250975]],
        [[0.45767879, 0.4761092, 0.4936887, 0.51041945],
         [0.6704845, 0.69350089, 0.71486014, 0.7346449],
         [0.81733511, 0.83677871, 0.85403753, 0.86935314]]])
    assert rel_error(h, expected) < 1e-6


@pytest.mark.parametrize("cell_type,feature_range,expected_loss", [
    ("rnn", (-1.5, 0.3), 9.83235591003),
    ("lstm", (-0.5, 1.7), 9.82445935443),
])
def test_captioning_loss_reproduces_the_standard_check_cell(cell_type, feature_range, expected_loss):
    # note the vocabulary of that cell: no <START>/<END>, and index 1 unused
    N, D, W, H = 10, 20, 30, 40
    word_to_idx = {"<NULL>": 0, "cat": 2, "dog": 3}
    V, T = len(word_to_idx), 13
    model = ref.CaptioningRNN(word_to_idx, input_dim=D, wordvec_dim=W, hidden_dim=H,
                              cell_type=cell_type, dtype=np.float64)
    for k, v in model.params.items():
        model.params[k] = np.linspace(-1.4, 1.3, num=v.size).reshape(*v.shape)
    features = np.linspace(*feature_range, num=N * D).reshape(N, D)
    captions = (np.arange(N * T) % V).reshape(N, T)
    loss, _ = model.loss(features, captions)
    assert abs(float(loss) - expected_loss) < 1e-9


# ---------------------------------------------------- forward values: closed forms


def test_rnn_step_forward_of_one_unit_is_tanh_of_the_weighted_sum():
    x, prev_h = np.array([[1.0, 2.0]]), np.array([[0.5]])
    Wx, Wh, b = np.array([[0.1], [0.2]]), np.array([[0.4]]), np.array([-0.3])
    next_h, _ = ref.rnn_step_forward(x, prev_h, Wx, Wh, b)
    assert next_h.shape == (1, 1)
    assert next_h[0, 0] == pytest.approx(math.tanh(0.1 + 0.4 + 0.2 - 0.3), abs=1e-15)


def test_rnn_forward_chains_the_steps_from_h0():
    p = layer_inputs(30, 2, 3, 4, 5)
    h, _ = ref.rnn_forward(p["x"], p["h"], p["Wx"], p["Wh"], p["b"])
    prev = p["h"]
    for t in range(3):
        prev = np.tanh(p["x"][:, t] @ p["Wx"] + prev @ p["Wh"] + p["b"])
        np.testing.assert_allclose(h[:, t], prev, rtol=0, atol=1e-14)


def test_lstm_step_forward_reads_the_gates_in_the_order_i_f_o_g():
    # no weights, H = 1, and a different pre-activation for every gate block
    a_i, a_f, a_o, a_g = 0.3, -1.2, 2.0, 0.7
    x, prev_h, prev_c = np.zeros((1, 2)), np.zeros((1, 1)), np.array([[0.8]])
    Wx, Wh, b = np.zeros((2, 4)), np.zeros((1, 4)), np.array([a_i, a_f, a_o, a_g])
    next_h, next_c, _ = ref.lstm_step_forward(x, prev_h, prev_c, Wx, Wh, b)

    def sig(z):
        return 1 / (1 + math.exp(-z))

    c = sig(a_f) * 0.8 + sig(a_i) * math.tanh(a_g)
    assert next_c[0, 0] == pytest.approx(c, abs=1e-15)
    assert next_h[0, 0] == pytest.approx(sig(a_o) * math.tanh(c), abs=1e-15)


def test_lstm_with_zero_weights_halves_the_cell_every_step():
    # all gates sigmoid(0) = 1/2 and g = tanh(0) = 0: c_t = c_{t-1} / 2
    N, D, H = 2, 3, 4
    prev_c = np.linspace(-1, 1, N * H).reshape(N, H)
    next_h, next_c, _ = ref.lstm_step_forward(np.ones((N, D)), np.ones((N, H)), prev_c,
                                              np.zeros((D, 4 * H)), np.zeros((H, 4 * H)),
                                              np.zeros(4 * H))
    np.testing.assert_allclose(next_c, prev_c / 2, rtol=0, atol=1e-15)
    np.testing.assert_allclose(next_h, np.tanh(prev_c / 2) / 2, rtol=0, atol=1e-15)


def test_lstm_forward_starts_from_a_zero_cell_and_chains_the_steps():
    p = layer_inputs(31, 2, 3, 4, 5, gates=4)
    h, _ = ref.lstm_forward(p["x"], p["h"], p["Wx"], p["Wh"], p["b"])
    prev_h, prev_c = p["h"], np.zeros((2, 5))
    for t in range(3):
        prev_h, prev_c, _ = ref.lstm_step_forward(p["x"][:, t], prev_h, prev_c,
                                                  p["Wx"], p["Wh"], p["b"])
        np.testing.assert_array_equal(h[:, t], prev_h)


# --------------------------------------------- backward passes leave inputs alone


def _arrays_in(obj):
    """Every NumPy array inside a cache (NamedTuples, lists, tuples), in order."""
    if isinstance(obj, np.ndarray):
        return [obj]
    if isinstance(obj, (tuple, list)):
        return [a for item in obj for a in _arrays_in(item)]
    return []


@pytest.mark.parametrize("layer", list(_layer_cases()))
def test_backward_does_not_modify_its_upstream_gradients_or_cache(layer):
    forward, backward, inputs = _layer_cases()[layer]
    *outs, cache = forward(*inputs.values())
    rng = np.random.default_rng(40)
    douts = [rng.standard_normal(o.shape) for o in outs]
    douts_before = copy.deepcopy(douts)
    cache_before = copy.deepcopy(_arrays_in(cache))
    assert cache_before, "the cache holds no arrays?"

    first = backward(*douts, cache)
    second = backward(*douts, cache)

    for before, after in zip(douts_before, douts):
        np.testing.assert_array_equal(after, before)
    for before, after in zip(cache_before, _arrays_in(cache)):
        np.testing.assert_array_equal(after, before)
    # and so a second call gives the same gradients
    for g1, g2 in zip(first if isinstance(first, tuple) else (first,),
                      second if isinstance(second, tuple) else (second,)):
        np.testing.assert_array_equal(g1, g2)


def test_caches_are_named_tuples_with_named_fields():
    p = layer_inputs(41, 2, 3, 4, 5, gates=4, sequence=False)
    *_, cache = ref.lstm_step_forward(p["x"], p["h"], np.zeros((2, 5)), p["Wx"], p["Wh"], p["b"])
    assert {"i", "f", "o", "g", "prev_c"} <= set(cache._fields)
    *_, cache = ref.rnn_step_forward(p["x"], p["h"], p["Wx"][:, :5], p["Wh"][:, :5], p["b"][:5])
    assert {"x", "prev_h", "next_h"} <= set(cache._fields)


# ------------------------------------------------------------------------ sample()

CHAIN_VOCAB = {"<NULL>": 0, "<START>": 1, "<END>": 2, "a": 3, "b": 4}


def chain_model(cell_type, successor):
    """A model whose greedy caption is fixed: after word w it always says successor[w].

    Word vectors are one-hot (wordvec_dim = hidden_dim = V), the hidden state
    ignores h0 and the past (W_proj = Wh = 0), Wx maps word w to the one-hot
    of its successor, and W_vocab is the identity, so argmax picks it.
    """
    V = len(CHAIN_VOCAB)
    model = ref.CaptioningRNN(CHAIN_VOCAB, input_dim=3, wordvec_dim=V, hidden_dim=V,
                              cell_type=cell_type, dtype=np.float64, seed=0)
    step = np.zeros((V, V))
    for w, nxt in successor.items():
        step[CHAIN_VOCAB[w], CHAIN_VOCAB[nxt]] = 3.0
    p = model.params
    p["W_embed"][...] = np.eye(V)
    p["W_proj"][...] = 0
    p["Wh"][...] = 0
    p["W_vocab"][...] = np.eye(V)
    p["b_vocab"][...] = 0
    if cell_type == "rnn":
        p["Wx"][...] = step
        p["b"][...] = 0
    else:  # i = o = 1, f = 0 (saturated), g = tanh(step): h = tanh(tanh(step))
        p["Wx"][...] = 0
        p["Wx"][:, 3 * V:] = step
        p["b"][...] = np.concatenate([np.full(V, 30.0), np.full(V, -30.0),
                                      np.full(V, 30.0), np.zeros(V)])
    return model


@pytest.mark.parametrize("cell_type", ["rnn", "lstm"])
def test_sample_starts_after_start_and_pads_with_null_after_end(cell_type):
    # without the padding rule the caption would go on: ... <END> a b <END> a ...
    successor = {"<START>": "a", "a": "b", "b": "<END>", "<END>": "a", "<NULL>": "a"}
    model = chain_model(cell_type, successor)
    features = np.zeros((4, 3))
    captions = model.sample(features, max_length=7)
    assert isinstance(captions, np.ndarray)
    assert captions.dtype == np.int32
    assert captions.shape == (4, 7)
    a, b, end, null = 3, 4, 2, 0
    np.testing.assert_array_equal(captions, np.tile([a, b, end, null, null, null, null], (4, 1)))


@pytest.mark.parametrize("cell_type", ["rnn", "lstm"])
def test_sample_stops_at_max_length_when_no_end_comes(cell_type):
    successor = {"<START>": "a", "a": "b", "b": "a", "<END>": "a", "<NULL>": "a"}
    model = chain_model(cell_type, successor)
    captions = model.sample(np.zeros((2, 3)), max_length=5)
    np.testing.assert_array_equal(captions, np.tile([3, 4, 3, 4, 3], (2, 1)))
    assert model.sample(np.zeros((2, 3)), max_length=1).tolist() == [[3], [3]]


def greedy_sample_one_row_at_a_time(model, features, max_length):
    """A plain, unvectorised greedy sampler to compare sample() with."""
    p = model.params
    out = np.zeros((features.shape[0], max_length), dtype=np.int32)
    for n in range(features.shape[0]):
        h = features[n:n + 1] @ p["W_proj"] + p["b_proj"]
        c = np.zeros_like(h)
        word = model.word_to_idx["<START>"]
        for t in range(max_length):
            x = p["W_embed"][[word]]
            if model.cell_type == "lstm":
                h, c, _ = ref.lstm_step_forward(x, h, c, p["Wx"], p["Wh"], p["b"])
            else:
                h, _ = ref.rnn_step_forward(x, h, p["Wx"], p["Wh"], p["b"])
            word = int(np.argmax(h @ p["W_vocab"] + p["b_vocab"]))
            out[n, t] = word
            if word == model.word_to_idx["<END>"]:
                break
    return out


@pytest.mark.parametrize("cell_type", ["rnn", "lstm"])
def test_sample_matches_a_row_by_row_greedy_sampler(cell_type):
    vocab = {"<NULL>": 0, "<START>": 1, "<END>": 2, **{f"w{k}": k for k in range(3, 12)}}
    model = ref.CaptioningRNN(vocab, input_dim=6, wordvec_dim=5, hidden_dim=8,
                              cell_type=cell_type, dtype=np.float64, seed=3)
    rng = np.random.default_rng(3)
    for p in model.params.values():
        p[...] = rng.standard_normal(p.shape)
    model.params["b_vocab"][2] += 1.0  # <END> likely enough that rows end at different steps
    features = rng.standard_normal((16, 6))
    captions = model.sample(features, max_length=12)
    expected = greedy_sample_one_row_at_a_time(model, features, 12)
    np.testing.assert_array_equal(captions, expected)
    # the rows should not all be alike, or this test would prove little
    ended_at = [list(row).index(2) if 2 in row else None for row in captions]
    assert len(set(ended_at)) >= 3, captions


# ------------------------------------------------------------------- loss masking


def _unmasked_scores(model, features, captions):
    """The scores at every step, computed with the layers directly."""
    p = model.params
    x = p["W_embed"][captions[:, :-1]]
    h0 = features @ p["W_proj"] + p["b_proj"]
    forward = ref.lstm_forward if model.cell_type == "lstm" else ref.rnn_forward
    h, _ = forward(x, h0, p["Wx"], p["Wh"], p["b"])
    return temporal_affine_forward(h, p["W_vocab"], p["b_vocab"])[0]


@pytest.mark.parametrize("cell_type", ["rnn", "lstm"])
def test_the_loss_ignores_the_scores_at_null_targets(cell_type):
    # <NULL> is read as an input only after <END>, at steps whose target is
    # <NULL> too: changing its word vector moves the scores there, not the loss.
    model, features = small_float64_model(cell_type, seed=2)
    loss, grads = model.loss(features, SMALL_CAPTIONS)
    scores = _unmasked_scores(model, features, SMALL_CAPTIONS)

    model.params["W_embed"][0] += 1.0
    new_loss, _ = model.loss(features, SMALL_CAPTIONS)
    new_scores = _unmasked_scores(model, features, SMALL_CAPTIONS)

    targets = SMALL_CAPTIONS[:, 1:]
    reads_null = SMALL_CAPTIONS[:, :-1] == 0
    assert reads_null.any() and (targets[reads_null] == 0).all()
    assert np.abs(new_scores - scores)[reads_null].min() > 1e-3   # those scores moved
    np.testing.assert_array_equal(new_scores[~reads_null], scores[~reads_null])
    assert float(new_loss) == float(loss)
    np.testing.assert_array_equal(grads["W_embed"][0], 0.0)
    # without the mask the loss would have changed
    everywhere = np.ones_like(reads_null)
    assert (float(temporal_softmax_loss(new_scores, targets, everywhere)[0])
            != float(temporal_softmax_loss(scores, targets, everywhere)[0]))


@pytest.mark.parametrize("cell_type", ["rnn", "lstm"])
def test_extra_null_padding_changes_neither_loss_nor_gradients(cell_type):
    model, features = small_float64_model(cell_type, seed=3)
    loss, grads = model.loss(features, SMALL_CAPTIONS)
    padded = np.pad(SMALL_CAPTIONS, ((0, 0), (0, 4)))  # four more <NULL> columns
    padded_loss, padded_grads = model.loss(features, padded)
    assert float(padded_loss) == pytest.approx(float(loss), rel=1e-14)
    for name in grads:
        np.testing.assert_allclose(padded_grads[name], grads[name], rtol=1e-12, atol=1e-15,
                                   err_msg=name)


def test_loss_is_summed_over_time_and_averaged_over_the_batch():
    model, features = small_float64_model("rnn", seed=4)
    loss, _ = model.loss(features, SMALL_CAPTIONS)
    per_row = [float(model.loss(features[n:n + 1], SMALL_CAPTIONS[n:n + 1])[0]) for n in range(3)]
    assert float(loss) == pytest.approx(sum(per_row) / 3, rel=1e-12)


# ------------------------------------------------------------- construction


@pytest.mark.parametrize("cell_type,G", [("rnn", 5), ("lstm", 20)])
def test_parameters_have_the_standard_names_shapes_and_dtype(cell_type, G):
    V = len(SMALL_VOCAB)
    model = ref.CaptioningRNN(SMALL_VOCAB, input_dim=7, wordvec_dim=4, hidden_dim=5,
                              cell_type=cell_type, seed=0)
    shapes = {name: p.shape for name, p in model.params.items()}
    assert shapes == {"W_embed": (V, 4), "W_proj": (7, 5), "b_proj": (5,), "Wx": (4, G),
                      "Wh": (5, G), "b": (G,), "W_vocab": (5, V), "b_vocab": (V,)}
    assert all(p.dtype == np.float32 for p in model.params.values())
    for name in ("b_proj", "b_vocab"):
        np.testing.assert_array_equal(model.params[name], 0.0)
    # zero biases, but for the LSTM's forget gate (block [H:2H] of i, f, o, g): 1
    forget = np.zeros(G, dtype=bool)
    forget[5:10] = cell_type == "lstm"
    np.testing.assert_array_equal(model.params["b"], np.where(forget, 1.0, 0.0))


def test_initial_weights_have_the_standard_scales():
    V, D, W, H = 300, 400, 256, 512
    vocab = {"<NULL>": 0, **{f"w{k}": k for k in range(1, V)}}
    model = ref.CaptioningRNN(vocab, input_dim=D, wordvec_dim=W, hidden_dim=H, seed=0)
    expected_std = {"W_embed": 1 / 100, "W_proj": 1 / np.sqrt(D), "Wx": 1 / np.sqrt(W),
                    "Wh": 1 / np.sqrt(H), "W_vocab": 1 / np.sqrt(H)}
    for name, std in expected_std.items():
        assert float(np.std(model.params[name])) == pytest.approx(std, rel=0.02), name


def test_the_seed_fixes_the_weights_and_the_global_random_state_is_untouched():
    state = np.random.get_state()
    a = ref.CaptioningRNN(SMALL_VOCAB, input_dim=7, wordvec_dim=4, hidden_dim=5, seed=7)
    b = ref.CaptioningRNN(SMALL_VOCAB, input_dim=7, wordvec_dim=4, hidden_dim=5, seed=7)
    c = ref.CaptioningRNN(SMALL_VOCAB, input_dim=7, wordvec_dim=4, hidden_dim=5, seed=8)
    after = np.random.get_state()
    assert state[0] == after[0] and np.array_equal(state[1], after[1]) and state[2:] == after[2:]
    for name in a.params:
        np.testing.assert_array_equal(a.params[name], b.params[name])
    assert not np.array_equal(a.params["Wx"], c.params["Wx"])


# ---------------------------------------------------------------- validation


def test_unknown_cell_type_is_refused_by_name():
    with pytest.raises(ValueError, match=r"cell_type must be 'rnn' or 'lstm', got 'gru'"):
        ref.CaptioningRNN(SMALL_VOCAB, cell_type="gru")


def test_vocabulary_without_null_is_refused():
    vocab = {k: v for k, v in SMALL_VOCAB.items() if k != "<NULL>"}
    with pytest.raises(ValueError, match=r"word_to_idx.*missing: <NULL>"):
        ref.CaptioningRNN(vocab)
    with pytest.raises(TypeError, match=r"word_to_idx must be a dict.*list"):
        ref.CaptioningRNN(["<NULL>", "<START>"])


def test_sampling_needs_start_and_end_tokens():
    model = ref.CaptioningRNN({"<NULL>": 0, "cat": 1, "<END>": 2}, input_dim=3, wordvec_dim=2,
                              hidden_dim=2, seed=0)
    with pytest.raises(ValueError, match=r"<START>.*to sample captions; missing: <START>"):
        model.sample(np.zeros((1, 3)))


@pytest.mark.parametrize("kwargs,error,message", [
    (dict(hidden_dim=0), ValueError, r"hidden_dim must be a positive integer, got 0"),
    (dict(input_dim=2.5), ValueError, r"input_dim must be a positive integer, got 2.5"),
    (dict(wordvec_dim=True), ValueError, r"wordvec_dim must be a positive integer"),
    (dict(dtype=np.int32), TypeError, r"dtype must be a floating-point type.*int32"),
])
def test_bad_sizes_and_dtype_are_refused_by_name(kwargs, error, message):
    with pytest.raises(error, match=message):
        ref.CaptioningRNN(SMALL_VOCAB, **kwargs)


@pytest.fixture
def tiny_model():
    return ref.CaptioningRNN(SMALL_VOCAB, input_dim=7, wordvec_dim=4, hidden_dim=5, seed=0)


@pytest.mark.parametrize("features,message", [
    (np.zeros((3, 6)), r"features must have shape \(N, input_dim\) = \(N, 7\), got shape \(3, 6\)"),
    (np.zeros(7), r"features must have shape .* got shape \(7,\)"),
])
def test_features_of_the_wrong_shape_are_refused(tiny_model, features, message):
    with pytest.raises(ValueError, match=message):
        tiny_model.loss(features, SMALL_CAPTIONS)
    with pytest.raises(ValueError, match=message):
        tiny_model.sample(features)


def test_integer_features_are_refused(tiny_model):
    with pytest.raises(TypeError, match=r"features must be a floating-point array, got dtype int"):
        tiny_model.loss(np.zeros((3, 7), dtype=np.int64), SMALL_CAPTIONS)


@pytest.mark.parametrize("captions,error,message", [
    (np.zeros((2, 6), dtype=int), ValueError,
     r"captions must have shape \(N, T \+ 1\) = \(3, at least 2\).*got shape \(2, 6\)"),
    (np.zeros((3, 1), dtype=int), ValueError, r"captions must have shape.*got shape \(3, 1\)"),
    (np.zeros(6, dtype=int), ValueError, r"captions must have shape.*got shape \(6,\)"),
    (np.zeros((3, 6)), TypeError, r"captions must be an integer array.*got dtype float64"),
])
def test_bad_captions_are_refused(tiny_model, captions, error, message):
    with pytest.raises(error, match=message):
        tiny_model.loss(np.zeros((3, 7), dtype=np.float32), captions)


@pytest.mark.parametrize("max_length", [0, -3, 2.0, None])
def test_bad_max_length_is_refused(tiny_model, max_length):
    with pytest.raises(ValueError, match=r"max_length must be a positive integer"):
        tiny_model.sample(np.zeros((1, 7), dtype=np.float32), max_length=max_length)


# ------------------------------------------------------------ any array backend


def test_reference_runs_on_a_strict_device_backend_without_host_conversions():
    """Same numbers on NumPy and on a CuPy stand-in that refuses any silent host transfer."""
    vocab = {"<NULL>": 0, "<START>": 1, "<END>": 2, **{f"w{k}": k for k in range(3, 12)}}
    rng = np.random.default_rng(50)
    features = rng.standard_normal((6, 7)).astype(np.float32)
    captions = rng.integers(0, 12, size=(6, 8)).astype(np.int32)
    results = {}
    for name in ("numpy", strict_xp):
        with use_backend(name):
            for cell_type in ("rnn", "lstm"):
                model = ref.CaptioningRNN(vocab, input_dim=7, wordvec_dim=5, hidden_dim=6,
                                          cell_type=cell_type, seed=50)
                model.params["b_vocab"][2] += 1.0  # make <END> come early in some rows
                loss, grads = model.loss(asarray(features), asarray(captions))
                sampled = model.sample(asarray(features), max_length=9)
                assert isinstance(sampled, np.ndarray) and sampled.dtype == np.int32
                results[name if name == "numpy" else "strict", cell_type] = (
                    float(loss), {k: to_numpy(g) for k, g in grads.items()}, sampled)
    for cell_type in ("rnn", "lstm"):
        host, device = results["numpy", cell_type], results["strict", cell_type]
        assert device[0] == pytest.approx(host[0], rel=1e-6)
        for k in host[1]:
            np.testing.assert_allclose(device[1][k], host[1][k], rtol=1e-5, atol=1e-7, err_msg=k)
        np.testing.assert_array_equal(device[2], host[2])


def test_the_compute_path_uses_xp_never_numpy_directly():
    """``np.`` may appear only in CaptioningRNN.__init__ (dtypes, host-side initial weights)."""
    import ast

    from autograder.answer_key.solution import solution_cells

    offending = []
    for notebook, cell, source in solution_cells():
        tree = ast.parse(source)
        allowed = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef) and node.name == "__init__":
                allowed |= {id(n) for n in ast.walk(node)}
        offending += [f"{notebook}, cell {cell}, line {n.lineno}: np.{n.attr}"
                      for n in ast.walk(tree)
                      if isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name)
                      and n.value.id == "np" and id(n) not in allowed]
    assert not offending, offending
