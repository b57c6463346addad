"""The main job, end to end on the embedded dataset (``make demo``).

Builds the synthetic dataset if missing, trains the reference LSTM captioning
model for a short run, prints val BLEU against the baselines and writes two
figures: the loss curve and a few val images with their generated and
reference captions. ``caption_report`` does the same for both cell types; it
produces the BLEU table quoted in the docs.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import numpy as np

from assignment.data import caption_tokens, load_coco_data, load_images, references_by_image
from assignment.metrics import bleu_scores, evaluate_captioning_bleu

from . import baselines
from .training import train_reference_model


def _table(rows):
    """Format {name: {'BLEU-1': ..}} as a fixed-width text table."""
    keys = ["BLEU-1", "BLEU-2", "BLEU-3", "BLEU-4"]
    width = max(len(n) for n in rows) + 2
    lines = [" " * width + "  ".join(f"{k:>7}" for k in keys)]
    for name, scores in rows.items():
        lines.append(f"{name:<{width}}" + "  ".join(f"{scores[k]:7.3f}" for k in keys))
    return "\n".join(lines)


def baseline_scores(data, split="val"):
    refs = references_by_image(data, split)
    references = [refs[i] for i in sorted(refs)]
    return {
        "most frequent caption": bleu_scores(references, baselines.most_frequent_caption(data, split)),
        "nearest neighbour": bleu_scores(references, baselines.nearest_neighbour(data, split)),
    }


def save_caption_figure(model, data, path, split="val", num_images=8, seed=0):
    """A grid of ``num_images`` random images of ``split`` with generated and reference captions."""
    import matplotlib
    matplotlib.use("Agg")
    from assignment.backend import asarray, to_numpy
    from assignment.plots import show_captioned_images

    refs = references_by_image(data, split)
    rng = np.random.default_rng(seed)
    image_idxs = rng.choice(np.array(sorted(refs)), size=num_images, replace=False)
    sampled = to_numpy(model.sample(asarray(data[f"{split}_features"][image_idxs])))
    generated = [caption_tokens(row, data["idx_to_word"]) for row in sampled]
    fig = show_captioned_images(load_images(data, split, image_idxs), generated,
                                [refs[i] for i in image_idxs],
                                titles=[f"{split} image {i}" for i in image_idxs])
    fig.savefig(path, dpi=110)
    return path


def run_demo(out_dir="outputs", data_dir=None, cell_type="lstm", num_epochs=None):
    """``make demo``: train, evaluate against baselines, write figures. Returns the BLEU rows."""
    import matplotlib
    matplotlib.use("Agg")
    from assignment.plots import plot_loss

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    data = load_coco_data(data_dir)
    print(f"data: {len(data['train_captions'])} train captions of {len(data['train_features'])} images, "
          f"{len(data['val_captions'])} val captions, vocabulary of {len(data['idx_to_word'])} words, "
          f"features {data['train_features'].shape[1]}-d  (from {data['base_dir']})")
    overrides = {} if num_epochs is None else {"num_epochs": num_epochs}
    print(f"training the reference {cell_type.upper()} captioning model ...")
    model, solver = train_reference_model(data, cell_type, **overrides)
    print(f"final training loss {np.mean(solver.loss_history[-20:]):.3f} "
          f"(first iterations {np.mean(solver.loss_history[:5]):.3f})")

    rows = {f"reference {cell_type.upper()}": evaluate_captioning_bleu(model, data, "val")}
    rows.update(baseline_scores(data))
    print(f"\nBLEU on the {len(references_by_image(data, 'val'))} val images:")
    print(_table(rows))

    plot_loss(solver.loss_history, title=f"{cell_type.upper()} captioning: training loss").savefig(
        out / "demo_loss.png", dpi=110)
    figure = save_caption_figure(model, data, out / "demo_captions.png")
    print(f"\nwrote {out / 'demo_loss.png'} and {figure}")
    print(f"demo finished in {time.perf_counter() - t0:.0f} s")
    return rows


def caption_report(data_dir=None, num_epochs=None):
    """BLEU of the reference RNN and LSTM against the baselines (the docs' table)."""
    data = load_coco_data(data_dir)
    overrides = {} if num_epochs is None else {"num_epochs": num_epochs}
    rows = {}
    for cell_type in ("rnn", "lstm"):
        t0 = time.perf_counter()
        model, solver = train_reference_model(data, cell_type, **overrides)
        rows[f"reference {cell_type.upper()}"] = evaluate_captioning_bleu(model, data, "val")
        print(f"{cell_type}: trained in {time.perf_counter() - t0:.0f} s, "
              f"final loss {np.mean(solver.loss_history[-20:]):.3f}")
    rows.update(baseline_scores(data))
    print(_table(rows))
    return rows


def _hands_out_others(course_dir, notebooks) -> bool:
    """Whether the demo course in ``course_dir`` exists with other notebooks (source or release)."""
    from ..release.course import Course
    course = Course(course_dir)
    if not course.root.exists():
        return False
    return any(sorted(p.name for p in folder.glob("*.ipynb")) != sorted(notebooks)
               for folder in (course.source_dir(), course.release_dir()))


def run_grading_demo(out_dir="outputs", workers=None, cell_timeout=30.0):
    """``make demo``, second half: release into a demo course and grade sample submissions.

    The course is ``<out_dir>/demo_course`` (kept between runs: its secret and
    gradebook are reused, and unchanged submissions are not run again). The
    samples (``autograder.demo.samples``): a full solution, the untouched release,
    a partial one and a few broken ones. Prints the grade table; returns the
    GradeReport.
    """
    from ..grading.coordinator import GradeOptions, grade
    from ..grading.dask_run import default_workers
    from ..grading.grade_table import grade_table
    from ..release.course import NOTEBOOKS
    from ..release.release import release
    from .samples import write_samples

    t0 = time.perf_counter()
    out = Path(out_dir)
    course_dir = out / "demo_course"
    if _hands_out_others(course_dir, NOTEBOOKS):  # an older demo's course: nbgrader cannot
        shutil.rmtree(course_dir)                  # change the notebooks once graded
    print(f"\nreleasing the assignment into {course_dir} ...")
    result = release(course_dir, check=False, echo=lambda *a, **k: None, notebooks=NOTEBOOKS)
    samples = write_samples(result.course.source_dir(), result.course.release_dir(),
                            out / "demo_submissions", result.course.notebooks())
    print(f"grading {len(samples)} sample submissions (sandboxed, "
          f"{workers or default_workers()} worker(s)):")
    for student, text in samples.items():
        print(f"  {student:<15} {text}")
    report = grade(course_dir, out / "demo_submissions",
                   GradeOptions(workers=workers, cell_timeout=cell_timeout, total_timeout=300))
    print()
    print(grade_table(report))
    print(f"\ngrades: {course_dir / 'grades.csv'}  per test: {course_dir / 'grades_by_test.csv'}  "
          f"feedback: {course_dir / 'feedback'}/")
    print(f"grading demo finished in {time.perf_counter() - t0:.0f} s")
    return report
