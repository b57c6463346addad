"""The language model's solution functions: gradients, clipping, state carrying, sampling.

Each backward pass is checked against centred differences in float64
(assignment.gradient_check: relative errors of 1e-8 and below for a correct
pass), with inputs chosen so that no gradient entry is nearly zero (the
elementwise relative error of an entry near zero is round-off over round-off).
"""

from __future__ import annotations

import functools

import numpy as np
import pytest

from assignment.caches import GRUCache, GRUStepCache, MultilayerCache, copy_cache, from_arrays, to_arrays
from assignment.char_data import ChunkIterator
from assignment.char_lm import GATES, PARAM_NAMES, CharLMTrainer, init_char_lm
from assignment.gradient_check import check_layer_gradients, check_loss_gradients
from charlm_solutions import load


def _stack_inputs(rng, cell_type, N=2, T=3, D=4, H=3, L=2, scale=0.4):
    G = GATES[cell_type]
    return dict(x=rng.standard_normal((N, T, D)), h0=rng.standard_normal((L, N, H)),
                c0=rng.standard_normal((L, N, H)), Wx0=scale * rng.standard_normal((D, G * H)),
                Wxs=scale * rng.standard_normal((L - 1, H, G * H)),
                Whs=scale * rng.standard_normal((L, H, G * H)), bs=scale * rng.standard_normal((L, G * H)))


def test_gru_step_backward_matches_numerical_gradients():
    ns = load()
    rng = np.random.default_rng(0)
    N, D, H = 3, 4, 5
    inputs = dict(x=rng.standard_normal((N, D)), prev_h=rng.standard_normal((N, H)),
                  Wx=0.5 * rng.standard_normal((D, 3 * H)), Wh=0.5 * rng.standard_normal((H, 3 * H)),
                  b=0.5 * rng.standard_normal(3 * H))
    report = check_layer_gradients(ns["gru_step_forward"], ns["gru_step_backward"], inputs, tol=1e-7)
    assert report.passed, report.errors


def test_gru_backward_matches_numerical_gradients():
    ns = load()
    rng = np.random.default_rng(2)
    N, T, D, H = 2, 4, 3, 5
    inputs = dict(x=rng.standard_normal((N, T, D)), h0=rng.standard_normal((N, H)),
                  Wx=0.5 * rng.standard_normal((D, 3 * H)), Wh=0.5 * rng.standard_normal((H, 3 * H)),
                  b=0.5 * rng.standard_normal(3 * H))
    report = check_layer_gradients(ns["gru_forward"], ns["gru_backward"], inputs, tol=1e-7)
    assert report.passed, report.errors


@pytest.mark.parametrize("cell_type", sorted(GATES))
def test_multilayer_backward_matches_numerical_gradients(cell_type):
    ns = load()
    inputs = _stack_inputs(np.random.default_rng(4), cell_type)
    forward = functools.partial(ns["multilayer_forward"], cell_type=cell_type)
    report = check_layer_gradients(forward, ns["multilayer_backward"], inputs, tol=1e-7)
    assert report.passed, report.errors


@pytest.mark.parametrize("cell_type", sorted(GATES))
def test_truncated_bptt_step_gradients_match_numerical_ones(cell_type):
    # the loss sums many steps: its numerical gradient carries ~1e-6 of round-off on small entries
    ns = load()
    rng = np.random.default_rng(5)
    V, H, L, N = 5, 4, 2, 2
    params = {name: 0.5 * rng.standard_normal(value.shape) for name, value in
              init_char_lm(V, H, L, cell_type, dtype=np.float64).items()}
    stream = np.stack([rng.permutation(np.arange(7) % V) for _ in range(N)])
    h0, c0 = rng.standard_normal((L, N, H)), rng.standard_normal((L, N, H))

    def chunk_loss():
        loss, *grads, _, _ = ns["truncated_bptt_step"](stream[:, :6], stream[:, 1:], h0, c0,
                                                       *(params[n] for n in PARAM_NAMES), cell_type)
        return loss, dict(zip(PARAM_NAMES, grads))
    report = check_loss_gradients(chunk_loss, params, tol=1e-5)
    assert report.passed, report.errors


def test_truncated_bptt_step_carries_the_state_two_chunks_end_where_one_long_chunk_ends():
    ns = load()
    rng = np.random.default_rng(1)
    V, H, L, N = 6, 5, 2, 3
    params = [init_char_lm(V, H, L, "lstm", seed=2, dtype=np.float64)[n] for n in PARAM_NAMES]
    stream = rng.integers(0, V, size=(N, 9))
    h0, c0 = rng.standard_normal((L, N, H)), rng.standard_normal((L, N, H))
    step = ns["truncated_bptt_step"]
    *_, h_long, c_long = step(stream[:, :8], stream[:, 1:], h0, c0, *params, "lstm")
    *_, h_mid, c_mid = step(stream[:, :4], stream[:, 1:5], h0, c0, *params, "lstm")
    *_, h_end, c_end = step(stream[:, 4:8], stream[:, 5:9], h_mid, c_mid, *params, "lstm")
    np.testing.assert_allclose(h_end, h_long, rtol=0, atol=1e-14)
    np.testing.assert_allclose(c_end, c_long, rtol=0, atol=1e-14)


def test_truncated_bptt_step_cuts_the_gradient_at_the_chunk_end():
    # the weight gradients are those of this chunk's loss alone: no gradient enters through the
    # last state (changing what follows the chunk cannot change them)
    ns = load()
    rng = np.random.default_rng(3)
    V, H, L, N = 5, 4, 1, 2
    params = {n: v for n, v in init_char_lm(V, H, L, "gru", seed=0, dtype=np.float64).items()}
    stream = rng.integers(0, V, size=(N, 7))
    zeros = np.zeros((L, N, H))
    loss, *grads, _, _ = ns["truncated_bptt_step"](stream[:, :6], stream[:, 1:], zeros, zeros,
                                                   *(params[n] for n in PARAM_NAMES), "gru")
    x = np.eye(V)[stream[:, :6]]
    h, hT, cT, cache = ns["multilayer_forward"](x, zeros, zeros, params["Wx0"], params["Wxs"],
                                                params["Whs"], params["bs"], "gru")
    scores = h @ params["W_out"] + params["b_out"]
    probs = np.exp(scores - scores.max(axis=2, keepdims=True))
    probs /= probs.sum(axis=2, keepdims=True)
    dscores = probs.copy()
    np.put_along_axis(dscores, stream[:, 1:, None], np.take_along_axis(probs, stream[:, 1:, None], 2) - 1, 2)
    dscores /= N * 6
    dh = dscores @ params["W_out"].T
    expected = ns["multilayer_backward"](dh, np.zeros_like(hT), np.zeros_like(cT), cache)
    for got, want in zip(grads[:4], expected[3:]):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-15)


def test_trainer_carries_the_state_between_chunks_and_resets_it_at_each_pass_or_when_asked():
    ns = load()
    seen = []

    def recording_step(inputs, targets, h0, c0, *rest):
        seen.append(np.array(h0))
        result = ns["truncated_bptt_step"](inputs, targets, h0, c0, *rest)
        seen.append(np.array(result[-2]))
        return result

    text = np.random.default_rng(0).integers(0, 5, size=200)
    chunks = ChunkIterator(text, batch_size=2, chunk_length=10)  # 9 chunks per pass
    for carry in (True, False):
        seen.clear()
        trainer = CharLMTrainer(init_char_lm(5, 3, 1, "rnn", dtype=np.float64), recording_step, chunks,
                                "rnn", carry_state=carry, progress=False)
        trainer.train(len(chunks) + 1)
        starts, ends = seen[0::2], seen[1::2]
        assert not np.any(starts[0]) and not np.any(starts[len(chunks)])  # each pass starts at zero
        for k in range(1, len(chunks)):
            if carry:
                np.testing.assert_array_equal(starts[k], ends[k - 1])
            else:
                assert not np.any(starts[k])


def test_clip_by_global_norm_scales_every_array_by_one_factor():
    ns = load()
    rng = np.random.default_rng(0)
    grads = (rng.standard_normal((3, 4)), 10 * rng.standard_normal(5), rng.standard_normal((2, 2, 2)))
    originals = [g.copy() for g in grads]
    norm_expected = np.sqrt(sum((g ** 2).sum() for g in grads))
    clipped, norm = ns["clip_by_global_norm"](grads, 2.0)
    assert float(norm) == pytest.approx(norm_expected, rel=1e-14)
    for g, c, original in zip(grads, clipped, originals):
        np.testing.assert_array_equal(g, original)  # not modified in place
        np.testing.assert_allclose(c, g * 2.0 / norm_expected, rtol=1e-14)
    # per-element clipping would leave the small entries alone and change the direction
    assert np.sqrt(sum((c ** 2).sum() for c in clipped)) == pytest.approx(2.0, rel=1e-14)


def test_clip_by_global_norm_leaves_small_gradients_unchanged():
    ns = load()
    grads = (np.array([0.3, -0.4]),)
    clipped, norm = ns["clip_by_global_norm"](grads, 1.0)
    assert float(norm) == pytest.approx(0.5)
    np.testing.assert_array_equal(clipped[0], grads[0])


def test_trainer_applies_the_clip_function_before_the_update():
    ns = load()
    text = np.random.default_rng(0).integers(0, 5, size=200)
    chunks = ChunkIterator(text, batch_size=2, chunk_length=10)
    params = init_char_lm(5, 3, 1, "rnn", dtype=np.float64)
    before = {n: v.copy() for n, v in params.items()}
    trainer = CharLMTrainer(params, ns["truncated_bptt_step"], chunks, "rnn", update_rule="sgd",
                            learning_rate=1.0, clip=lambda g: ns["clip_by_global_norm"](g, 1e-3),
                            progress=False)
    trainer.train(1)
    step = np.sqrt(sum(((params[n] - before[n]) ** 2).sum() for n in PARAM_NAMES))
    assert trainer.grad_norm_history[0] > 1e-2  # the clip matters
    assert step == pytest.approx(1e-3, rel=1e-9)


def _tiny_model(cell_type="gru", V=5, H=4, L=2):
    params = init_char_lm(V, H, L, cell_type, seed=1, dtype=np.float64, weight_scale=2.0)
    return [params[n] for n in PARAM_NAMES], np.zeros((L, 1, H))


def test_sampling_is_deterministic_under_a_seed():
    ns = load()
    params, zeros = _tiny_model()
    prime = np.array([1, 2, 3])
    runs = [ns["sample_chars"](prime, zeros, zeros, *params, np.random.default_rng(7).random(30), 1.0, "gru")
            for _ in range(2)]
    np.testing.assert_array_equal(runs[0], runs[1])
    other = ns["sample_chars"](prime, zeros, zeros, *params, np.random.default_rng(8).random(30), 1.0, "gru")
    assert not np.array_equal(runs[0], other)


def test_sampling_follows_softmax_of_scores_over_temperature():
    ns = load()
    params, zeros = _tiny_model()
    prime = np.array([0, 4])
    h, *_ = ns["multilayer_forward"](np.eye(5)[prime][None], zeros, zeros, *params[:4], "gru")
    scores = h[0, -1] @ params[4] + params[5]
    for temperature in (0.3, 1.0, 2.5):
        p = np.exp(scores / temperature - (scores / temperature).max())
        p /= p.sum()
        grid = (np.arange(400) + 0.5) / 400
        first = [ns["sample_chars"](prime, zeros, zeros, *params, np.array([u]), temperature, "gru")[0] for u in grid]
        np.testing.assert_allclose(np.bincount(first, minlength=5) / 400, p, atol=1 / 400 + 1e-12)


def test_sampling_near_zero_temperature_is_greedy_and_feeds_back_its_choice():
    ns = load()
    params, zeros = _tiny_model("lstm")
    prime = np.array([2])
    sampled = ns["sample_chars"](prime, zeros, zeros, *params, np.full(6, 0.999), 1e-4, "lstm")
    sequence, h_state, c_state = list(prime), zeros, zeros
    for k in range(6):  # greedy decoding by hand, one character at a time
        h, h_state, c_state, _ = ns["multilayer_forward"](np.eye(5)[[sequence[-1]]][None], h_state, c_state,
                                                          *params[:4], "lstm")
        sequence.append(int(np.argmax(h[0, -1] @ params[4] + params[5])))
    assert sampled.tolist() == sequence[1:]


@pytest.mark.parametrize("cell_type", ["gru", "lstm", "rnn"])
def test_new_caches_round_trip_through_arrays(cell_type):
    ns = load()
    inputs = _stack_inputs(np.random.default_rng(0), cell_type)
    *_, cache = ns["multilayer_forward"](**inputs, cell_type=cell_type)
    kind, arrays = to_arrays(cache)
    rebuilt = from_arrays(kind, arrays)
    assert type(rebuilt) is MultilayerCache and len(rebuilt.layers) == 2
    for layer, rebuilt_layer in zip(cache.layers, rebuilt.layers):
        for step, rebuilt_step in zip(layer, rebuilt_layer):
            assert type(rebuilt_step) is type(step)
            for a, b in zip(step, rebuilt_step):
                np.testing.assert_array_equal(a, b)
    dh = np.ones((2, 3, 3))
    zero = np.zeros((2, 2, 3))
    np.testing.assert_array_equal(ns["multilayer_backward"](dh, zero, zero, copy_cache(cache))[0],
                                  ns["multilayer_backward"](dh, zero, zero, cache)[0])


def test_gru_cache_round_trips_and_rejects_foreign_steps():
    ns = load()
    rng = np.random.default_rng(0)
    _, cache = ns["gru_forward"](rng.standard_normal((2, 3, 4)), rng.standard_normal((2, 5)),
                                 rng.standard_normal((4, 15)), rng.standard_normal((5, 15)), rng.standard_normal(15))
    kind, arrays = to_arrays(cache)
    assert kind == "GRUCache" and sorted({k.split(".")[1] for k in arrays}) == ["0", "1", "2"]
    rebuilt = from_arrays(kind, arrays)
    assert all(type(s) is GRUStepCache for s in rebuilt.steps)
    with pytest.raises(TypeError, match="GRUStepCache"):
        to_arrays(GRUCache([("not", "a", "step")]))
