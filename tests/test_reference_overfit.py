"""The reference captioning model can memorise a small training set.

The classic sanity check of the assignment: 50 training captions of the
default dataset (``load_coco_data(max_train=50)``), with their image features,
fitted by Adam on that one fixed batch. A correct model drives the loss
(summed over time, averaged over captions) below 0.1 within 100 iterations;
a wrong gradient (a missing sum over time steps, a swapped gate, the mask
ignored) leaves it far above.

Sizes: the model's defaults (wordvec_dim = hidden_dim = 128, smaller than
the notebook's 256/512) keep this to a few seconds on two CPU cores;
float32 as students train. Learning rate 2e-2: over several subsample and
weight seeds the RNN crosses 0.1 after 18-25 iterations and ends near 0.003,
the LSTM crosses it after 31-40 and ends near 0.008, so the bound holds with a
wide margin (at 1e-2 the LSTM needs 50-75 iterations). The
loss cannot reach zero when two of the 50 captions describe the same image
(same features, different words): each such pair leaves ~0.03, which is why
the bound is 0.1 and not 0.01.
"""

from __future__ import annotations

import numpy as np
import pytest

from assignment.data import load_coco_data
from assignment.optim import adam
from autograder.answer_key.solution import reference

CaptioningRNN = reference().CaptioningRNN

NUM_CAPTIONS = 50
NUM_ITERATIONS = 100
TARGET_LOSS = 0.1
LEARNING_RATE = 2e-2


@pytest.fixture(scope="module")
def small_data():
    """50 captions of the default dataset and the features of their images."""
    data = load_coco_data(max_train=NUM_CAPTIONS)
    captions = data["train_captions"]
    features = data["train_features"][data["train_image_idxs"]]
    assert captions.shape[0] == NUM_CAPTIONS
    return data["word_to_idx"], features, captions


def overfit(model, features, captions):
    """Adam on one fixed batch; returns the loss of every iteration."""
    configs = {name: {"learning_rate": LEARNING_RATE} for name in model.params}
    history = []
    for _ in range(NUM_ITERATIONS):
        loss, grads = model.loss(features, captions)
        history.append(float(loss))
        for name in model.params:
            model.params[name], configs[name] = adam(model.params[name], grads[name], configs[name])
    return history


@pytest.mark.slow
@pytest.mark.parametrize("cell_type", ["rnn", "lstm"])
def test_reference_model_overfits_fifty_captions(small_data, cell_type):
    word_to_idx, features, captions = small_data
    model = CaptioningRNN(word_to_idx, input_dim=features.shape[1], wordvec_dim=128,
                          hidden_dim=128, cell_type=cell_type, dtype=np.float32, seed=0)
    history = overfit(model, features, captions)

    first_below = next((i + 1 for i, loss in enumerate(history) if loss < TARGET_LOSS), None)
    print(f"\n{cell_type}: loss {history[0]:.3f} -> {history[-1]:.4f} after {NUM_ITERATIONS} "
          f"Adam iterations (lr {LEARNING_RATE}); first below {TARGET_LOSS} at iteration {first_below}")
    # untrained: about log(V) nats for each of the ~10 words of a caption
    assert history[0] > 10, f"the untrained model should start far from the target, got {history[0]:.3f}"
    assert history[-1] < TARGET_LOSS, (
        f"{cell_type}: final loss {history[-1]:.4f} after {NUM_ITERATIONS} iterations is not "
        f"below {TARGET_LOSS}; history every 10 iterations: "
        + ", ".join(f"{loss:.3f}" for loss in history[::10]))
