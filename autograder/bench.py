"""``rnn-assignment bench``: how fast is the reference, measured against the limits that matter.

Instructor-only. One run measures, after a warm-up, the median of several
repeats (the reference, its GEMM bound and PyTorch timed in turn, so that load
from other processes slows them alike) of:

    lstm, rnn   reference forward+backward over a sequence at sizes A and B, float32
                and float64: ``numpy_ms`` (the reference on the active backend),
                ``gemm_bound_ms`` (only the matrix products the computation needs,
                same BLAS), ``torch_ms`` (nn.LSTM / nn.RNN, same threads), and the
                ratios ``vs_gemm`` and ``vs_torch``
    train       CaptioningSolver iterations per second at the notebooks' training
                configuration, and one training iteration at size B
    gradcheck   seconds of the one-call gradient report on the notebook's small model,
                full (every coordinate) vs directional
    grading     seconds per submission of ``rnn-assignment grade`` with 1 worker, the
                speed-up with 2 workers, and our time over plain serial
                ``nbgrader autograde`` of the same submissions
    memory      peak RSS of a training run and of the grading processes

and prints a table, every ratio against its target (``TARGETS``), and JSON
(``--json PATH``). ``--quick`` is the smoke-test version (size A only, few
repeats, no grading): it runs in the test suite and says nothing about speed.

    rnn-assignment bench --json outputs/bench.json
    ASSIGNMENT_BACKEND=cupy rnn-assignment bench       # on an NVIDIA GPU (scripts/gpu_check.sh)

NumPy runs with one BLAS thread (set by ``import assignment``) unless
ASSIGNMENT_BLAS_THREADS or OPENBLAS_NUM_THREADS says otherwise; PyTorch is
given the same number of threads. docs/benchmarks.md holds the latest
results and how to read them.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from assignment import backend
from assignment.backend import use_backend
from assignment.coco_format import SPECIAL_TOKENS, START_INDEX

REPO = Path(__file__).resolve().parents[1]

# Sizes of the sequence benchmarks: N minibatch, T time steps, D input size, H hidden size.
SIZES = {"A": dict(N=50, T=16, D=256, H=512), "B": dict(N=128, T=32, D=512, H=512)}
DTYPES = {"f32": np.float32, "f64": np.float64}
CELLS = ("lstm", "rnn")

# The notebooks' training run (RNN_Captioning / LSTM_Captioning, "train a good model").
TRAIN_CONFIG = dict(wordvec_dim=128, hidden_dim=256, batch_size=100, learning_rate=2e-3)
# The notebook's gradient-check model (LSTM_Captioning): N, D, W, H, T.
GRADCHECK_MODEL = dict(N=3, D=6, W=5, H=4, T=5)

# (json key, comparison, limit): issue #5's targets. Keys name entries of the results.
TARGETS = (
    [(f"{cell}.{size}_{dt}.vs_gemm", "<=", 1.2)
     for cell in CELLS for size in SIZES for dt in DTYPES]
    + [(f"{cell}.{size}_f64.vs_torch", "<=", 1.0) for cell in CELLS for size in SIZES]
    + [(f"{cell}.{size}_f32.vs_torch", "<=", 1.3) for cell in CELLS for size in SIZES]
    + [("grading.speedup_2_workers", ">=", 1.7),
       ("grading.vs_plain_nbgrader", "<=", 1.3),
       ("train.B_gpu_speedup", ">=", 10.0)]
)


# ----------------------------------------------------------------------------- timing


def synchronize():
    """Wait for the GPU (CuPy) to finish queued work; nothing to do on NumPy."""
    if backend.backend_name() == "cupy":
        backend.get_backend().cuda.Device().synchronize()


def median_ms(fn, repeats, warmup=1, sync=synchronize):
    """Median wall time of ``fn()`` in milliseconds, over ``repeats`` calls after ``warmup``."""
    return interleaved_median_ms({"fn": (fn, sync)}, repeats, warmup)["fn"]


def interleaved_median_ms(runs, repeats, warmup=1):
    """Median milliseconds of several functions, timed in turn: {name: ms}.

    runs: {name: (fn, sync)}. Every repeat times each function once, one after
    the other, so that a burst of load from other processes (a shared machine)
    slows all of them alike and the ratios between them stay meaningful.
    """
    for fn, sync in runs.values():
        for _ in range(warmup):
            fn()
        sync()
    times = {name: [] for name in runs}
    for _ in range(repeats):
        for name, (fn, sync) in runs.items():
            start = time.perf_counter()
            fn()
            sync()
            times[name].append(time.perf_counter() - start)
    return {name: 1e3 * float(np.median(t)) for name, t in times.items()}


# ----------------------------------------------------------------- sequence kernels


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
    from .answer_key.solution import reference
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
                _progress(f"{cell} {size}_{dt_name}: " + ", ".join(
                    f"{k} {v:.3g}" for k, v in entry.items()))
    return results


# ------------------------------------------------------------------------- training


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


def training_iterations_per_s(data, cell, wordvec_dim, hidden_dim, batch_size, iterations,
                              learning_rate=2e-3, warmup=2):
    """Iterations per second of CaptioningSolver (adam) on ``data`` after ``warmup`` iterations."""
    from assignment.solver import CaptioningSolver

    from .answer_key.solution import reference
    model = reference().CaptioningRNN(data["word_to_idx"], input_dim=data["train_features"].shape[1],
                          wordvec_dim=wordvec_dim, hidden_dim=hidden_dim, cell_type=cell, seed=0)
    solver = CaptioningSolver(model, data, update_rule="adam",
                              optim_config={"learning_rate": learning_rate},
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
    section = {"config": dict(TRAIN_CONFIG, update_rule="adam")}
    try:
        from assignment.data import load_coco_data
        data = load_coco_data(max_train=2000 if quick else None)
    except Exception as err:  # no dataset built yet: say how to get one, measure the rest
        section["notebook_config"] = f"unavailable: {err}"
        data = None
    iterations = 3 if quick else 30
    for cell in CELLS:
        if data is not None:
            section[f"{cell}_it_per_s"] = training_iterations_per_s(
                data, cell, TRAIN_CONFIG["wordvec_dim"], TRAIN_CONFIG["hidden_dim"],
                TRAIN_CONFIG["batch_size"], iterations, TRAIN_CONFIG["learning_rate"])
            _progress(f"train {cell}: {section[f'{cell}_it_per_s']:.2f} it/s")
    # One LSTM training iteration at size B (the GPU target): on NumPy, and on CuPy when active.
    if not quick:
        size = SIZES["B"]
        data_b = synthetic_training_data(size["N"], size["T"], size["D"])
        args = dict(cell="lstm", wordvec_dim=size["D"], hidden_dim=size["H"],
                    batch_size=size["N"])
        with use_backend("numpy"):
            section["B_numpy_ms"] = 1e3 / training_iterations_per_s(data_b, iterations=3, **args)
        _progress(f"train size B (lstm) on NumPy: {section['B_numpy_ms']:.0f} ms/it")
        if backend.backend_name() == "cupy":
            section["B_cupy_ms"] = 1e3 / training_iterations_per_s(data_b, iterations=20, **args)
            section["B_gpu_speedup"] = section["B_numpy_ms"] / section["B_cupy_ms"]
            _progress(f"train size B (lstm) on CuPy: {section['B_cupy_ms']:.1f} ms/it")
    return section


# ------------------------------------------------------------------------ gradcheck


def bench_gradcheck():
    """Seconds of check_loss_gradients on the notebook's small LSTM model: full vs directional."""
    from assignment.gradient_check import check_loss_gradients

    from .answer_key.solution import reference
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


# -------------------------------------------------------------------------- grading


def grade_command_available():
    """(True, '') when ``rnn-assignment grade`` exists, else (False, why not)."""
    from .cli import build_parser
    parser = build_parser()
    for action in parser._subparsers._group_actions:  # argparse keeps its subcommands here
        if "grade" in getattr(action, "choices", {}):
            return True, ""
    return False, "the `rnn-assignment grade` subcommand does not exist yet"


def make_submissions(folder, count, notebooks_dir=None):
    """``folder/<student id>/<notebook>``: the source notebooks solved, one folder per student.

    Student ids are ``bench-001``, ``bench-002``, ... Returns the list of ids.
    """
    from .course import NOTEBOOKS, SOURCE_NOTEBOOKS
    from .samples import solved
    notebooks_dir = Path(notebooks_dir or SOURCE_NOTEBOOKS)
    students = [f"bench-{k:03d}" for k in range(1, count + 1)]
    for name in NOTEBOOKS:
        text = json.dumps(solved(json.loads((notebooks_dir / name).read_text())))
        for student in students:
            (Path(folder) / student).mkdir(parents=True, exist_ok=True)
            (Path(folder) / student / name).write_text(text)
    return students


def run_measured(cmd, cwd=None, env=None, timeout=None):
    """Run ``cmd``; returns (seconds, peak RSS in MiB of its largest process, CompletedProcess).

    The peak comes from a fresh wrapper interpreter's RUSAGE_CHILDREN, so it
    covers this command's process tree alone (every process its parents waited for).
    """
    wrapper = ("import resource, subprocess, sys, json\n"
               "p = subprocess.run(json.loads(sys.argv[1]))\n"
               "r = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss\n"
               "print('\\nBENCH_PEAK_RSS_KB', r, file=sys.stderr)\n"
               "sys.exit(p.returncode)\n")
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", wrapper, json.dumps([str(c) for c in cmd])],
                          cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    seconds = time.perf_counter() - start
    peak_kb = 0
    for line in proc.stderr.splitlines():
        if line.startswith("BENCH_PEAK_RSS_KB"):
            peak_kb = int(line.split()[1])
    return seconds, peak_kb / 1024, proc


def _load_average():
    """The 1-minute load average (None where the OS has none): how busy the machine was."""
    return os.getloadavg()[0] if hasattr(os, "getloadavg") else None


def _tail(text, lines=15):
    return "\n".join(text.strip().splitlines()[-lines:])


def bench_grading(num_submissions, workdir):
    """The grading section: our `grade` with 1 and 2 workers vs plain serial nbgrader autograde."""
    from .course import ASSIGNMENT, REFERENCES_ENV, Course, tools_env
    workdir = Path(workdir)
    cli = [sys.executable, "-m", "autograder.cli"]
    env = tools_env()
    section = {"submissions": num_submissions}

    course = Course(workdir / "course")
    seconds, _, proc = run_measured(cli + ["release", "--course", course.root, "--skip-checks"],
                                    env=env)
    if proc.returncode != 0:
        section["status"] = f"unavailable: the course release failed:\n{_tail(proc.stderr)}"
        return section
    section["release_s"] = seconds
    subs = workdir / "submissions"
    make_submissions(subs, num_submissions)

    # Baseline: plain serial nbgrader autograde in a copy of the same course, grading in-kernel
    # (the hidden tests find the references through the environment), no sandbox.
    plain = Course(workdir / "plain_nbgrader")
    shutil.copytree(course.root, plain.root)
    for student in sorted(os.listdir(subs)):
        shutil.copytree(subs / student, plain.root / "submitted" / student / ASSIGNMENT)
    kernel_path = [str(REPO / "autograder" / "kernel"), str(REPO)]
    plain_env = tools_env(**{REFERENCES_ENV: str(plain.references_path),
                             "PYTHONPATH": os.pathsep.join(kernel_path)})
    seconds, peak, proc = run_measured([sys.executable, "-m", "nbgrader", "autograde", ASSIGNMENT],
                                       cwd=plain.root, env=plain_env)
    if proc.returncode != 0:
        section["status"] = f"unavailable: plain nbgrader autograde failed:\n{_tail(proc.stderr)}"
        return section
    section["plain_nbgrader_s_per_submission"] = seconds / num_submissions
    section["plain_nbgrader_peak_rss_mb"] = peak
    section["plain_nbgrader_load_average"] = _load_average()
    _progress(f"plain nbgrader: {seconds / num_submissions:.1f} s per submission")

    available, why = grade_command_available()
    if not available:
        section["status"] = f"unavailable: {why}"
        return section
    for workers in (1, 2):
        graded = Course(workdir / f"course_{workers}_workers")
        shutil.copytree(course.root, graded.root)
        seconds, peak, proc = run_measured(
            cli + ["grade", "--course", graded.root, subs, "--workers", str(workers)], env=env)
        if proc.returncode != 0:
            section["status"] = (f"unavailable: `rnn-assignment grade --workers {workers}` "
                                 f"failed (exit {proc.returncode}):\n{_tail(proc.stderr)}")
            return section
        section[f"s_per_submission_{workers}_worker"] = seconds / num_submissions
        section[f"peak_rss_mb_{workers}_worker"] = peak
        # the three runs follow each other: other work on the machine may differ between them
        section[f"load_average_{workers}_worker"] = _load_average()
        _progress(f"grade, {workers} worker(s): {seconds / num_submissions:.1f} s per submission")
    section["speedup_2_workers"] = (section["s_per_submission_1_worker"]
                                    / section["s_per_submission_2_worker"])
    section["vs_plain_nbgrader"] = (section["s_per_submission_1_worker"]
                                    / section["plain_nbgrader_s_per_submission"])
    section["status"] = "measured"
    return section


# --------------------------------------------------------------------------- memory


def training_peak_rss_mb(iterations):
    """Peak RSS (MiB) of a fresh process that trains the notebook's LSTM for ``iterations``."""
    c = TRAIN_CONFIG
    code = ("from autograder import bench; from assignment.data import load_coco_data; "
            f"bench.training_iterations_per_s(load_coco_data(), 'lstm', {c['wordvec_dim']}, "
            f"{c['hidden_dim']}, {c['batch_size']}, {iterations})")
    _, peak, proc = run_measured([sys.executable, "-c", code], cwd=REPO,
                                 env=dict(os.environ, ASSIGNMENT_BACKEND="numpy"))
    if proc.returncode != 0:
        return f"unavailable: {_tail(proc.stderr, 3)}"
    return peak


# ---------------------------------------------------------------------------- report


def _blas_thread_count():
    """The thread limit of NumPy's BLAS (threadpoolctl), or a string when it cannot be told."""
    from assignment.threads import blas_threads

    counts = set(blas_threads().values())
    return counts.pop() if len(counts) == 1 else (sorted(counts) or "unknown")


def machine_info(torch_threads):
    """The machine, the BLAS NumPy uses and the thread counts: what the numbers depend on."""
    info = {"date": time.strftime("%Y-%m-%d %H:%M %Z"), "python": platform.python_version(),
            "numpy": np.__version__, "backend": backend.backend_name(),
            "platform": platform.platform(), "cpu": _cpu_name(),
            "cpus_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
            else os.cpu_count(),
            "load_average_at_start": _load_average(),
            "blas_threads": _blas_thread_count(),
            "blas": _blas_name(), "torch_threads": torch_threads}
    try:
        import torch
        info["torch"] = torch.__version__
    except ImportError:
        info["torch"] = "not installed"
    if backend.backend_name() == "cupy":
        cupy = backend.get_backend()
        props = cupy.cuda.runtime.getDeviceProperties(cupy.cuda.Device().id)
        info["gpu"] = props["name"].decode() if isinstance(props["name"], bytes) else props["name"]
        info["cupy"] = cupy.__version__
    return info


def _cpu_name():
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _blas_name():
    try:
        config = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        return " ".join(str(config.get(k, "")) for k in ("name", "version")).strip()
    except Exception:  # older NumPy: no dict form
        return "unknown"


def lookup(results, key):
    """``results['lstm']['A_f32']['vs_gemm']`` for the key 'lstm.A_f32.vs_gemm', or None."""
    node = results
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node if isinstance(node, (int, float)) else None


def check_targets(results):
    """Every target of TARGETS with its measured value, as dicts (value None: not measured)."""
    rows = []
    for key, op, limit in TARGETS:
        value = lookup(results, key)
        met = None if value is None else (value <= limit if op == "<=" else value >= limit)
        rows.append({"key": key, "value": value, "target": f"{op} {limit:g}", "met": met})
    return rows


def format_report(results):
    """The printed report: machine, sequence table, other sections, targets."""
    m = results["machine"]
    lines = [f"Benchmark, {m['date']}: {m['cpu']} ({m['cpus_usable']} usable CPUs), "
             f"backend {m['backend']}{', GPU ' + m['gpu'] if 'gpu' in m else ''}",
             f"BLAS {m['blas']}, {m['blas_threads']} thread(s); torch {m['torch']}, "
             f"{m['torch_threads']} thread(s)", "",
             "| layer | size | dtype | reference ms | GEMM bound ms | torch ms | vs_gemm | vs_torch |",
             "|---|---|---|---:|---:|---:|---:|---:|"]
    for cell in CELLS:
        for name, e in results.get(cell, {}).items():
            size, dt = name.split("_")
            lines.append(f"| {cell} | {size} | {dt} | {e['numpy_ms']:.1f} | {e['gemm_bound_ms']:.1f}"
                         f" | {_fmt(e.get('torch_ms'), '.1f')} | {e['vs_gemm']:.2f}"
                         f" | {_fmt(e.get('vs_torch'), '.2f')} |")
    for section in ("train", "gradcheck", "grading", "memory"):
        if section in results:
            lines += ["", f"{section}:"]
            lines += [f"  {k}: {_fmt(v, '.3g')}" for k, v in results[section].items()]
    lines += ["", "| target | measured | limit | met |", "|---|---:|---|---|"]
    for row in results["targets"]:
        met = {True: "yes", False: "NO", None: "not measured"}[row["met"]]
        lines.append(f"| {row['key']} | {_fmt(row['value'], '.2f')} | {row['target']} | {met} |")
    return "\n".join(lines)


def _fmt(value, spec):
    if value is None:
        return "-"
    if isinstance(value, float):
        return format(value, spec)
    return str(value)


def _progress(message):
    print(f"[bench] {message}", file=sys.stderr, flush=True)


# ------------------------------------------------------------------------------ CLI


def build_parser():
    parser = argparse.ArgumentParser(
        prog="rnn-assignment bench",
        description="Measure the reference layers against the GEMM bound and PyTorch, training "
                    "and gradient-check speed, grading throughput and memory. See "
                    "docs/benchmarks.md.")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON here")
    parser.add_argument("--quick", action="store_true",
                        help="smoke test: size A only, few repeats, no grading (under a minute; "
                             "the numbers are not measurements)")
    parser.add_argument("--submissions", type=int, default=40, metavar="N",
                        help="submissions graded in the grading section (default: 40)")
    parser.add_argument("--repeats", type=int, default=None, metavar="K",
                        help="timed repeats per sequence measurement (default: 5; 2 with --quick)")
    parser.add_argument("--sections", default="sequences,train,gradcheck,grading,memory",
                        help="comma-separated sections to run (default: all)")
    parser.add_argument("--workdir", default=None, metavar="DIR",
                        help="where the grading section builds its course (default: a "
                             "temporary folder, removed afterwards)")
    return parser


SECTIONS = ("sequences", "train", "gradcheck", "grading", "memory")


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    sections = [s.strip() for s in args.sections.split(",") if s.strip()]
    unknown = sorted(set(sections) - set(SECTIONS))
    if unknown:
        print(f"bench: unknown section(s) {', '.join(unknown)}; choose from "
              f"{', '.join(SECTIONS)}.", file=sys.stderr)
        return 2
    if args.submissions < 1:
        print("bench: --submissions must be at least 1.", file=sys.stderr)
        return 2
    repeats = args.repeats or (2 if args.quick else 5)

    torch_threads = None
    try:
        import torch
        # the same number of threads as the BLAS NumPy uses (1 unless ASSIGNMENT_BLAS_THREADS
        # or OPENBLAS_NUM_THREADS says otherwise: assignment/threads.py)
        blas_threads = _blas_thread_count()
        if isinstance(blas_threads, int):
            torch.set_num_threads(blas_threads)
        torch_threads = torch.get_num_threads()
        torch_device = "cuda" if (backend.backend_name() == "cupy"
                                  and torch.cuda.is_available()) else "cpu"
    except ImportError:
        torch_device = "cpu"

    results = {"machine": machine_info(torch_threads), "quick": args.quick,
               "repeats": repeats, "torch_device": torch_device}
    if "sequences" in sections:
        results.update(bench_sequences(["A"] if args.quick else list(SIZES), repeats,
                                       torch_device))
    if "train" in sections:
        results["train"] = bench_train(args.quick)
    if "gradcheck" in sections:
        results["gradcheck"] = bench_gradcheck()
    if "grading" in sections:
        if args.quick:
            results["grading"] = {"status": "skipped in --quick: a course release and nbgrader "
                                            "runs take minutes"}
        else:
            workdir = Path(args.workdir) if args.workdir else Path(
                tempfile.mkdtemp(prefix="rnn-bench-"))
            try:
                results["grading"] = bench_grading(args.submissions, workdir)
            finally:
                if not args.workdir:
                    shutil.rmtree(workdir, ignore_errors=True)
    if "memory" in sections:
        results["memory"] = {"training_peak_rss_mb": training_peak_rss_mb(3 if args.quick else 20)}
        grading = results.get("grading", {})
        results["memory"]["grading_worker_peak_rss_mb"] = grading.get(
            "peak_rss_mb_1_worker", f"not measured ({grading.get('status', 'grading not run')})")
    # other work on the machine makes every number slower
    results["machine"]["load_average_at_end"] = _load_average()
    results["targets"] = check_targets(results)

    print(format_report(results))
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(results, indent=2, default=str) + "\n")
        print(f"\nJSON written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
