"""``rnn-assignment``: the instructor command line.

    rnn-assignment data [--force ...]    build the embedded synthetic dataset
    rnn-assignment demo                  the main job (see autograder/demo.py)
    rnn-assignment report                BLEU of reference RNN and LSTM vs baselines
    rnn-assignment release --course DIR  nbgrader course set-up, hidden references, release,
                                         autograde check, student bundle (autograder/release.py)

Later subcommands (grade, bench) hang off the same parser.
"""

from __future__ import annotations

import argparse
import os
import sys

# One BLAS thread per process (unless the caller chose otherwise). The matrices
# here are small, so a second thread gains little, while BLAS threads spinning
# against other busy processes on a shared machine slowed training 10-100x in
# our measurements. Set before anything imports NumPy.
for _variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")


def _cmd_data(args, rest):
    from assignment import synthetic_coco
    return synthetic_coco.main(rest)


def _cmd_demo(args, rest):
    from .demo import run_demo
    run_demo(out_dir=args.out, data_dir=args.data_dir, num_epochs=args.epochs)
    return 0


def _cmd_report(args, rest):
    from .demo import caption_report
    caption_report(data_dir=args.data_dir, num_epochs=args.epochs)
    return 0


def _cmd_release(args, rest):
    from .release import ReleaseError, release
    try:
        release(args.course, assignment=args.assignment, check=not args.skip_checks)
    except ReleaseError as err:
        print(f"release failed: {err}", file=sys.stderr)
        return 1
    return 0


def _cmd_bench(args, rest):
    from . import bench
    return bench.main(rest)


def build_parser():
    parser = argparse.ArgumentParser(
        prog="rnn-assignment",
        description="Instructor tools for the RNN/LSTM captioning assignment.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = sub.add_parser("data", add_help=False,
                       help="build the embedded synthetic COCO-layout dataset "
                            "(same as `python -m assignment.synthetic_coco`; --help for options)")
    p.set_defaults(func=_cmd_data)

    for name, func, text in (("demo", _cmd_demo, "train the reference LSTM on the embedded data, "
                              "report BLEU against baselines, write figures"),
                             ("report", _cmd_report, "BLEU table: reference RNN and LSTM vs baselines")):
        p = sub.add_parser(name, help=text, description=text)
        p.add_argument("--data-dir", default=None, help="dataset folder (default: see load_coco_data)")
        p.add_argument("--epochs", type=int, default=None, help="training epochs (default: the demo's)")
        if name == "demo":
            p.add_argument("--out", default="outputs", help="where to write the figures (default: outputs/)")
        p.set_defaults(func=func)

    text = ("set up (or update) an nbgrader course directory, build the hidden references from "
            "the course secret, release the notebooks, check them with nbgrader autograde, "
            "write the student bundle")
    p = sub.add_parser("release", help=text, description=text)
    p.add_argument("--course", required=True, metavar="DIR",
                   help="the nbgrader course directory (created if missing)")
    p.add_argument("--assignment", default="rnn_captioning",
                   help="assignment name (default: rnn_captioning)")
    p.add_argument("--skip-checks", action="store_true",
                   help="do not autograde the solutions and the untouched release (saves "
                        "most of the time; not for a release that goes out)")
    p.set_defaults(func=_cmd_release)

    p = sub.add_parser("bench", add_help=False,
                       help="measure speed against the limits (GEMM bound, PyTorch, plain "
                            "nbgrader); --help for options")
    p.set_defaults(func=_cmd_bench)
    return parser


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser()
    # `data` and `bench` take their own options
    if argv and argv[0] in ("data", "bench"):
        args, rest = parser.parse_args(argv[:1]), argv[1:]
    else:
        args, rest = parser.parse_args(argv), []
    return args.func(args, rest) or 0


if __name__ == "__main__":
    sys.exit(main())
