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
import shutil
import sys
import tempfile
from pathlib import Path

from assignment import backend

from .bench_grading import bench_grading
from .bench_layers import SIZES, bench_sequences
from .bench_report import blas_thread_count, check_targets, format_report, machine_info
from .bench_timing import load_average
from .bench_training import bench_gradcheck, bench_train, training_peak_rss_mb


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
        blas_threads = blas_thread_count()
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
    results["machine"]["load_average_at_end"] = load_average()
    results["targets"] = check_targets(results)

    print(format_report(results))
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(results, indent=2, default=str) + "\n")
        print(f"\nJSON written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
