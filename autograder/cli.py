"""``rnn-assignment``: the instructor command line.

    rnn-assignment data [--force ...]    build the embedded synthetic dataset
    rnn-assignment demo                  the main job (see autograder/demo/demo.py)
    rnn-assignment report                BLEU of reference RNN and LSTM vs baselines
    rnn-assignment release --course DIR  nbgrader course set-up, hidden references, release,
                                         autograde check, student bundle (autograder/release/)
    rnn-assignment grade --course DIR SUBMISSIONS [--workers N] [--student ID]
                                         sandboxed, parallel grading into nbgrader (autograder/grading/);
                                         exit 0: all graded, 3: all graded, some submissions need
                                         review (their own problems), 1: the grader failed for some
    rnn-assignment feedback|export --course DIR   feedback HTML again; the grade files again
    rnn-assignment bench [--quick]       speed against its limits (autograder/demo/bench.py)
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import assignment  # noqa: F401  (limits BLAS threads: one unless ASSIGNMENT_BLAS_THREADS says)

from assignment.units import NOTEBOOKS as NOTEBOOK_NAMES

from .grading.limits import CELL_SECONDS, MEMORY_GB, TOTAL_SECONDS


def _cmd_data(args, rest):
    from assignment import synthetic_coco
    return synthetic_coco.main(rest)


def _cmd_demo(args, rest):
    from .demo.demo import run_demo, run_grading_demo
    from .demo.lm_demo import report, train_language_model
    run_demo(out_dir=args.out, data_dir=args.data_dir, num_epochs=args.epochs)
    print("\ntraining the reference character language model (LSTM) ...")
    print(report(train_language_model()))
    if not args.no_grading:
        run_grading_demo(out_dir=args.out)
    return 0


def _cmd_report(args, rest):
    from .demo.demo import caption_report
    caption_report(data_dir=args.data_dir, num_epochs=args.epochs)
    return 0


def _cmd_release(args, rest):
    from .release.release import ReleaseError, release
    try:
        release(args.course, assignment=args.assignment, check=not args.skip_checks,
                notebooks=args.notebooks)
    except ReleaseError as err:
        print(f"release failed: {err}", file=sys.stderr)
        return 1
    return 0


# `grade`: every student graded, some submissions flagged for review (their own problems)
EXIT_REVIEW = 3


def _grade_options(args):
    from .grading.collect import DEFAULT_ZIP_REGEXP
    from .grading.coordinator import GradeOptions
    return GradeOptions(workers=args.workers, scheduler=args.scheduler, student=args.student,
                        cell_timeout=args.cell_timeout, total_timeout=args.timeout,
                        memory_gb=args.memory_gb, rerun=args.rerun,
                        feedback=not args.no_feedback, progress=not args.no_progress,
                        zip_regexp=args.zip_regexp or DEFAULT_ZIP_REGEXP,
                        timestamps=args.timestamps)


def _cmd_grade(args, rest):
    from .grading.coordinator import grade
    from .grading.errors import GradingError
    from .grading.grade_table import grade_table
    try:
        report = grade(args.course, args.submissions, _grade_options(args),
                       assignment=args.assignment)
    except GradingError as err:
        print(f"grade failed: {err}", file=sys.stderr)
        return 1
    print(grade_table(report))
    course = report.course
    collected = report.collected
    if collected is not None and collected.skipped:
        print(f"not imported ({len(collected.skipped)}): " + "; ".join(collected.skipped[:20])
              + (" ..." if len(collected.skipped) > 20 else ""), file=sys.stderr)
    if collected is not None and collected.names:
        print("graded under another id (the name is not a usable student id): " + ", ".join(
            f"{name!r} as {sid}" for sid, name in sorted(collected.names.items())),
            file=sys.stderr)
    if report.kept or report.not_graded:
        print(f"{len(report.kept) + len(report.not_graded)} notebook(s) could not be graded in "
              "this run (the worker or the sandbox failed, not the student's code): "
              f"{len(report.kept)} keep their earlier grade, {len(report.not_graded)} had none "
              "and are listed as not graded (review.csv). Run `rnn-assignment grade` again.",
              file=sys.stderr)
    flagged = sorted({s for (s, _), r in report.results.items() if r.get("flagged")})
    if flagged:
        print(f"{len(flagged)} student(s) were graded as far as their submissions allowed and "
              f"need a look (a problem of the submission, not of the grader): "
              f"{', '.join(flagged[:20])}{' ...' if len(flagged) > 20 else ''}; the reasons are "
              f"in {course / 'review.csv'}", file=sys.stderr)
    print(f"grades: {course / 'grades.csv'}, per test: {course / 'grades_by_test.csv'}, "
          f"for review: {course / 'review.csv'}, feedback: {course / 'feedback'}/")
    return 1 if report.kept or report.not_graded else (EXIT_REVIEW if flagged else 0)


def _cmd_export(args, rest):
    from .grading.errors import GradingError
    from .grading.export import export
    from .release.course import Course
    try:
        paths = export(Course(args.course), args.assignment)
    except GradingError as err:
        print(f"export failed: {err}", file=sys.stderr)
        return 1
    for name, path in paths.items():
        print(f"{name}: {path}")
    return 0


def _cmd_feedback(args, rest):
    from .grading.errors import GradingError
    from .grading.feedback import generate_feedback
    from .release.course import Course
    try:
        written = generate_feedback(Course(args.course), args.assignment, student=args.student)
    except GradingError as err:
        print(f"feedback failed: {err}", file=sys.stderr)
        return 1
    print(f"feedback written for {len(written)} student(s) under {Path(args.course) / 'feedback'}/")
    return 0


def _cmd_bench(args, rest):
    from .demo import bench
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
            p.add_argument("--out", default="outputs",
                           help="where to write the figures and the demo course (default: outputs/)")
            p.add_argument("--no-grading", action="store_true",
                           help="only train and report; skip releasing and grading the samples")
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
    p.add_argument("--notebooks", nargs="+", metavar="NAME",
                   help="the notebooks to hand out (default: the ones the course already "
                        "hands out; all of them for a new course): any of "
                        + ", ".join(NOTEBOOK_NAMES))
    p.set_defaults(func=_cmd_release)

    text = ("grade submissions: each notebook runs sandboxed on a Dask worker, is scored outside "
            "its kernel against the hidden references and recorded with nbgrader; writes "
            "grades.csv, grades_by_test.csv, review.csv and feedback")
    p = sub.add_parser("grade", help=text, description=text)
    p.add_argument("--course", required=True, metavar="DIR", help="the released course directory")
    p.add_argument("submissions", nargs="?", default=None, metavar="SUBMISSIONS",
                   help="folder of <student_id>/<notebook>.ipynb, or an LMS zip (nbgrader's "
                        "naming <assignment>_<student>_attempt_<time>_<file>); default: "
                        "regrade what is in DIR/submitted")
    p.add_argument("--workers", type=int, default=None,
                   help="local worker processes (default: half the usable cores, at least 1: each "
                        "worker also starts its next kernel while a notebook runs)")
    p.add_argument("--scheduler", default=None, metavar="ADDRESS",
                   help="a running Dask scheduler (e.g. tcp://10.0.0.5:8786) instead of local workers")
    p.add_argument("--student", default=None, metavar="ID", help="grade only this student")
    p.add_argument("--cell-timeout", type=float, default=CELL_SECONDS, metavar="SECONDS",
                   help=f"longest a cell may run (default {CELL_SECONDS:g})")
    p.add_argument("--timeout", type=float, default=TOTAL_SECONDS, metavar="SECONDS",
                   help=f"longest a notebook may run in all (default {TOTAL_SECONDS:g})")
    p.add_argument("--memory-gb", type=float, default=MEMORY_GB,
                   help=f"memory of each sandboxed process, GiB (default {MEMORY_GB:g})")
    p.add_argument("--rerun", action="store_true",
                   help="run every notebook again, even those unchanged since the last run")
    p.add_argument("--no-feedback", action="store_true", help="do not write feedback HTML")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--zip-regexp", default=None, metavar="REGEXP",
                   help="file-name pattern of the LMS zip (nbgrader FileNameCollectorPlugin."
                        "named_regexp; default: <assignment>_<student>_attempt_<time>_<notebook>)")
    p.add_argument("--timestamps", default="timestamp.txt",
                   choices=("timestamp.txt", "mtime", "none"),
                   help="submission time of a folder submission (for late penalties): each "
                        "student folder's timestamp.txt in nbgrader's format (default), the "
                        "notebooks' modification time, or none. LMS zips: the file names' time")
    p.add_argument("--assignment", default="rnn_captioning")
    p.set_defaults(func=_cmd_grade)

    for name, func, text in (
            ("export", _cmd_export, "write grades.csv (nbgrader export), grades_by_test.csv and "
                                    "review.csv from the gradebook and the stored results"),
            ("feedback", _cmd_feedback, "write the feedback HTML again (hidden tests removed)")):
        p = sub.add_parser(name, help=text, description=text)
        p.add_argument("--course", required=True, metavar="DIR")
        p.add_argument("--assignment", default="rnn_captioning")
        if name == "feedback":
            p.add_argument("--student", default=None, metavar="ID")
        p.set_defaults(func=func)

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
