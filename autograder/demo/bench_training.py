"""The ``train``, ``gradcheck`` and training-memory sections of ``rnn-assignment bench``.

Instructor-only. Training speed at the notebooks' configuration
(``autograder.demo.training.TRAIN_CONFIG``) and one iteration at size B (the
GPU target); the one-call gradient report, full against directional; the peak
memory of a training run in a fresh process.
"""

from __future__ import annotations

import os
import sys
import time

import numpy as np

from assignment import backend
from assignment.backend import use_backend
from assignment.coco_format import SPECIAL_TOKENS, START_INDEX

from ..release.course import REPO
from .bench_layers import CELLS, SIZES
from .bench_timing import progress, run_measured, synchronize, tail
from .training import TRAIN_CONFIG

# The notebook's gradient-check model (LSTM_Captioning): N, D, W, H, T.
GRADCHECK_MODEL = dict(N=3, D=6, W=5, H=4, T=5)


def synthetic_training_data(N, T, D, vocab=1000, num_captions=2000, num_images=500, seed=0):
    """A ``load_coco_data``-shaped dict of random captions (T + 1 words) and D-dim features."""
    rng = np.random.default_rng(seed)
    words = list(SPECIAL_TOKENS) + [f"w{i}" for i in range(vocab - len(SPECIAL_TOKENS))]
    captions = rng.integers(len(SPECIAL_TOKENS), vocab, size=(num_captions, T + 1)).astype(np.int32)
    captions[:, 0] = START_INDEX
    return {"word_to_idx": {w: i for i, w in enumerate(words)}, "idx_to_word": words,
            "train_captions": captions,
            "train_image_idxs": rng.integers(0, num_images, size=num_captions).astype(np.int32),
            "train_features": rng.standard_normal((num_images, D)).astype(np.float32)}


def training_iterations_per_s(data, cell, iterations, wordvec_dim=TRAIN_CONFIG["wordvec_dim"],
                              hidden_dim=TRAIN_CONFIG["hidden_dim"],
                              batch_size=TRAIN_CONFIG["batch_size"], warmup=2):
    """Iterations per second of CaptioningSolver on ``data`` after ``warmup`` iterations.

    The update rule and its settings are ``TRAIN_CONFIG``'s; the sizes default to it.
    """
    from assignment.solver import CaptioningSolver

    from ..answer_key.solution import reference
    model = reference().CaptioningRNN(data["word_to_idx"], input_dim=data["train_features"].shape[1],
                          wordvec_dim=wordvec_dim, hidden_dim=hidden_dim, cell_type=cell, seed=0)
    solver = CaptioningSolver(model, data, update_rule=TRAIN_CONFIG["update_rule"],
                              optim_config=dict(TRAIN_CONFIG["optim_config"]),
                              batch_size=batch_size, num_epochs=10 ** 6, verbose=False,
                              progress=False, seed=0, max_iterations=warmup)
    solver.train()          # warm-up: first allocations, Adam's moments, CuPy kernel compilation
    synchronize()
    solver.max_iterations = iterations
    start = time.perf_counter()
    solver.train()          # train() reads the loss back every iteration: no sync needed
    synchronize()
    return iterations / (time.perf_counter() - start)


def bench_train(quick):
    """The train section: notebook configuration (embedded data) and size B (synthetic)."""
    section = {"config": dict(TRAIN_CONFIG)}
    try:
        from assignment.data import load_coco_data
        data = load_coco_data(max_train=2000 if quick else None)
    except Exception as err:  # no dataset built yet: say how to get one, measure the rest
        section["notebook_config"] = f"unavailable: {err}"
        data = None
    iterations = 3 if quick else 30
    for cell in CELLS:
        if data is not None:
            section[f"{cell}_it_per_s"] = training_iterations_per_s(data, cell, iterations)
            progress(f"train {cell}: {section[f'{cell}_it_per_s']:.2f} it/s")
    # One LSTM training iteration at size B (the GPU target): on NumPy, and on CuPy when active.
    if not quick:
        size = SIZES["B"]
        data_b = synthetic_training_data(size["N"], size["T"], size["D"])
        args = dict(cell="lstm", wordvec_dim=size["D"], hidden_dim=size["H"],
                    batch_size=size["N"])
        with use_backend("numpy"):
            section["B_numpy_ms"] = 1e3 / training_iterations_per_s(data_b, iterations=3, **args)
        progress(f"train size B (lstm) on NumPy: {section['B_numpy_ms']:.0f} ms/it")
        if backend.backend_name() == "cupy":
            section["B_cupy_ms"] = 1e3 / training_iterations_per_s(data_b, iterations=20, **args)
            section["B_gpu_speedup"] = section["B_numpy_ms"] / section["B_cupy_ms"]
            progress(f"train size B (lstm) on CuPy: {section['B_cupy_ms']:.1f} ms/it")
    return section


def bench_gradcheck():
    """Seconds of check_loss_gradients on the notebook's small LSTM model: full vs directional."""
    from assignment.gradient_check import check_loss_gradients

    from ..answer_key.solution import reference
    CaptioningRNN = reference().CaptioningRNN
    m = GRADCHECK_MODEL
    vocab = {"<NULL>": 0, "<START>": 1, "<END>": 2, "cat": 3, "dog": 4}
    rng = np.random.default_rng(0)
    section = {"model": dict(m, V=len(vocab), cell_type="lstm")}
    with use_backend("numpy"):
        model = CaptioningRNN(vocab, input_dim=m["D"], wordvec_dim=m["W"], hidden_dim=m["H"],
                              cell_type="lstm", dtype=np.float64, seed=0)
        # as in the notebook: weights larger than the initialisation, so no gradient is tiny
        for name, value in model.params.items():
            model.params[name] = 0.5 * rng.standard_normal(value.shape)
        features = rng.standard_normal((m["N"], m["D"]))
        captions = rng.integers(0, len(vocab), size=(m["N"], m["T"] + 1))
        section["parameters"] = int(sum(p.size for p in model.params.values()))
        for name, directional in (("full_s", False), ("directional_s", True)):
            start = time.perf_counter()
            report = check_loss_gradients(lambda: model.loss(features, captions), model.params,
                                          directional=directional, tol=1e-5, verbose=False)
            section[name] = time.perf_counter() - start
            section[name.replace("_s", "_passed")] = bool(report.passed)
    section["full_over_directional"] = section["full_s"] / section["directional_s"]
    return section


def training_peak_rss_mb(iterations):
    """Peak RSS (MiB) of a fresh process that trains the notebook's LSTM for ``iterations``."""
    code = ("from autograder.demo.bench_training import training_iterations_per_s; "
            "from assignment.data import load_coco_data; "
            f"training_iterations_per_s(load_coco_data(), 'lstm', {iterations})")
    _, peak, proc = run_measured([sys.executable, "-c", code], cwd=REPO,
                                 env=dict(os.environ, ASSIGNMENT_BACKEND="numpy"))
    if proc.returncode != 0:
        return f"unavailable: {tail(proc.stderr, 3)}"
    return peak
