"""The language model runs on a device backend without silent host conversions.

``strict_xp`` behaves like CuPy on the CPU: mixing a NumPy array into device
arrays, or NumPy touching a device array, raises. Training a few chunks,
measuring bits per character, reading hidden states and sampling must work
with it, and give the numbers the NumPy backend gives.
"""

from __future__ import annotations

import numpy as np
import pytest

import strict_xp
from assignment.backend import asarray, to_numpy, use_backend
from assignment.char_data import ChunkIterator
from assignment.char_lm import PARAM_NAMES, CharLMTrainer, bits_per_character, hidden_states, init_char_lm
from charlm_solutions import load


def _run(backend, cell_type):
    ns = load()
    text = np.random.default_rng(0).integers(0, 6, size=400)
    with use_backend(backend):
        params = init_char_lm(6, 4, num_layers=2, cell_type=cell_type, seed=0, dtype=np.float64)
        trainer = CharLMTrainer(params, ns["truncated_bptt_step"], ChunkIterator(text, 3, 8), cell_type,
                                clip=lambda grads: ns["clip_by_global_norm"](grads, 1.0), progress=False)
        trainer.train(5)
        assert all(type(params[n]) is type(asarray(np.zeros(1))) for n in PARAM_NAMES)  # still on the backend
        bpc = bits_per_character(ns["multilayer_forward"], params, text[:100], cell_type, streams=2, chunk_length=7)
        hidden = hidden_states(ns["multilayer_forward"], params, text[:30], cell_type, chunk_length=7)
        state = asarray(np.zeros((2, 1, 4)))
        sampled = ns["sample_chars"](asarray(np.array([1, 2])), state, state,
                                     *(params[n] for n in PARAM_NAMES), asarray(np.linspace(0.05, 0.95, 10)),
                                     0.8, cell_type)
        return trainer.loss_history, bpc, hidden, to_numpy(sampled)


@pytest.mark.parametrize("cell_type", ["rnn", "lstm", "gru"])
def test_training_evaluation_and_sampling_agree_on_a_strict_device_backend(cell_type):
    host = _run("numpy", cell_type)
    device = _run(strict_xp, cell_type)
    np.testing.assert_allclose(device[0], host[0], rtol=1e-12)
    assert device[1] == pytest.approx(host[1], rel=1e-12)
    np.testing.assert_allclose(device[2], host[2], rtol=1e-12, atol=1e-14)
    np.testing.assert_array_equal(device[3], host[3])
