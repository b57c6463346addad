"""The ``lstm`` and ``rnn`` sections of ``rnn-assignment bench``: the reference layers' speed.

Instructor-only. For each cell, size and dtype: the reference forward+backward
over a sequence (``numpy_ms``), the least the same BLAS must do
(``gemm_bound_ms``: only the matrix products), PyTorch's nn.LSTM / nn.RNN
(``torch_ms``), timed in turn, and the ratios ``vs_gemm`` and ``vs_torch``.
"""

from __future__ import annotations

import numpy as np

from assignment import backend

from .bench_timing import interleaved_median_ms, progress, synchronize

# Sizes of the sequence benchmarks: N minibatch, T time steps, D input size, H hidden size.
SIZES = {"A": dict(N=50, T=16, D=256, H=512), "B": dict(N=128, T=32, D=512, H=512)}


DTYPES = {"f32": np.float32, "f64": np.float64}


CELLS = ("lstm", "rnn")


def sequence_inputs(cell, N, T, D, H, dtype, seed=0):
    """Random inputs of a recurrent layer on the active backend: x, h0, Wx, Wh, b, dh."""
    G = 4 * H if cell == "lstm" else H  # the LSTM stacks its four gates
    rng = np.random.default_rng(seed)
    host = dict(x=rng.standard_normal((N, T, D)), h0=rng.standard_normal((N, H)),
                Wx=rng.standard_normal((D, G)) / np.sqrt(D),
                Wh=rng.standard_normal((H, G)) / np.sqrt(H),
                b=np.zeros(G), dh=rng.standard_normal((N, T, H)))
    return {k: backend.asarray(v, dtype=dtype) for k, v in host.items()}


def reference_step(cell, inputs):
    """One forward+backward of the reference layer over the sequence, as a function."""
    from ..answer_key.solution import reference
    ref = reference()
    forward, backward = {"lstm": (ref.lstm_forward, ref.lstm_backward),
                         "rnn": (ref.rnn_forward, ref.rnn_backward)}[cell]
    i = inputs

    def run():
        _, cache = forward(i["x"], i["h0"], i["Wx"], i["Wh"], i["b"])
        backward(i["dh"], cache)
    return run


def gemm_bound_step(cell, inputs):
    """Only the matrix products a forward+backward needs, on preallocated arrays.

    The least any implementation must do with the same BLAS: the same floating
    point work in as few calls as the recurrence allows. Products that do not
    depend on the previous step are one call over all N*T rows:

        forward   x Wx                (N*T, D) (D, G)
        backward  da Wx^T, x^T da     (N*T, G) ...   and  h_prev^T da  for dWh
    and the recurrent ones are T calls each:
        forward   h_{t-1} Wh          (N, H) (H, G)
        backward  da_t Wh^T           (N, G) (G, H)
    with G = 4H for the LSTM, H for the RNN. The elementwise work (gates,
    derivatives) is not counted: this is a bound, not an implementation.
    """
    xp = backend.get_backend()
    x, Wx, Wh = inputs["x"], inputs["Wx"], inputs["Wh"]
    N, T, D = x.shape
    H, G = Wh.shape
    dtype = x.dtype
    X = x.reshape(N * T, D)
    A = xp.empty((N * T, G), dtype=dtype)          # pre-activations, then their gradients
    H_prev = xp.ones((N * T, H), dtype=dtype)      # stands for the hidden states h_{t-1}
    dX = xp.empty((N * T, D), dtype=dtype)
    dWx = xp.empty((D, G), dtype=dtype)
    dWh = xp.empty((H, G), dtype=dtype)
    h = xp.ones((N, H), dtype=dtype)
    a_t = xp.empty((N, G), dtype=dtype)
    dh_t = xp.empty((N, H), dtype=dtype)
    WhT = Wh.T

    def run():
        xp.matmul(X, Wx, out=A)
        for _ in range(T):
            xp.matmul(h, Wh, out=a_t)
        for _ in range(T):
            xp.matmul(a_t, WhT, out=dh_t)
        xp.matmul(A, Wx.T, out=dX)
        xp.matmul(X.T, A, out=dWx)
        xp.matmul(H_prev.T, A, out=dWh)
    return run


def torch_step(cell, inputs, device="cpu"):
    """nn.LSTM / nn.RNN (tanh) forward+backward on the same inputs, or None without torch."""
    try:
        import torch
    except ImportError:
        return None
    host = {k: backend.to_numpy(v) for k, v in inputs.items()}
    N, T, D = host["x"].shape
    H = host["h0"].shape[1]
    dtype = torch.float32 if host["x"].dtype == np.float32 else torch.float64
    layer = (torch.nn.LSTM if cell == "lstm" else torch.nn.RNN)(D, H, batch_first=True)
    layer = layer.to(device=device, dtype=dtype)

    def tensor(a, grad=False):
        return torch.tensor(a, dtype=dtype, device=device, requires_grad=grad)
    x, h0, dh = tensor(host["x"], True), tensor(host["h0"][None], True), tensor(host["dh"])
    c0 = torch.zeros_like(h0)

    def run():
        out, _ = layer(x, (h0, c0)) if cell == "lstm" else layer(x, h0)
        out.backward(dh)
        if device != "cpu":
            torch.cuda.synchronize()
    return run


def bench_sequences(sizes, repeats, torch_device="cpu"):
    """The lstm and rnn sections: {cell: {'A_f32': {...}, ...}}."""
    results = {cell: {} for cell in CELLS}
    for cell in CELLS:
        for size in sizes:
            for dt_name, dtype in DTYPES.items():
                inputs = sequence_inputs(cell, **SIZES[size], dtype=dtype)
                runs = {"numpy_ms": (reference_step(cell, inputs), synchronize),
                        "gemm_bound_ms": (gemm_bound_step(cell, inputs), synchronize)}
                run_torch = torch_step(cell, inputs, torch_device)
                if run_torch is not None:  # torch_step synchronises by itself
                    runs["torch_ms"] = (run_torch, lambda: None)
                entry = interleaved_median_ms(runs, repeats)
                entry["vs_gemm"] = entry["numpy_ms"] / entry["gemm_bound_ms"]
                if run_torch is not None:
                    entry["vs_torch"] = entry["numpy_ms"] / entry["torch_ms"]
                results[cell][f"{size}_{dt_name}"] = entry
                progress(f"{cell} {size}_{dt_name}: " + ", ".join(
                    f"{k} {v:.3g}" for k, v in entry.items()))
    return results
