"""``rnn-assignment release``: from the source notebooks to what students get.

Instructor-only. One call, in order:

1. check that every autograded cell's points equal the ``UNITS`` table
   (``assignment.units``, the single source of truth for points) and
   that ``assignment/public_checks.npz`` agrees with it;
2. set up the course directory (``autograder.release.course``): config, .gitignore,
   source notebooks;
3. the course secret (created once, reused) and the hidden references built
   from it; a release refuses to replace references built from another
   secret (a lost secret would silently change every hidden case);
4. ``nbgrader generate_assignment --force``: ``release/<assignment>/``, and
   the assignment with its graded cells in the gradebook;
5. a scan of the release notebooks for solution or hidden-test text;
6. unless ``--skip-checks``: real ``nbgrader autograde`` in a throwaway copy
   of the course: the source notebooks (the solutions) must get every
   autograded point, the untouched release notebooks none;
7. the student bundle ``<assignment>_student.zip`` (deterministic: the same
   sources give the same bytes).

Every step that fails raises :class:`ReleaseError` with what is wrong and
where.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

from .bundle import point_table, write_student_bundle
from .course import (ASSIGNMENT, COURSE_ID, NOTEBOOKS, SOURCE_NOTEBOOKS,
                     Course, CourseError, tools_env)
from .errors import ReleaseError

# Text that must never reach students (nbgrader removes the regions; this checks it did).
LEAK_MARKERS = ("### BEGIN SOLUTION", "### END SOLUTION", "BEGIN HIDDEN TESTS",
                "END HIDDEN TESTS", "grade_unit", "rnn_grading_kernel", "import autograder",
                "from autograder")

# Student ids of the two submissions made by the release check.
SOLUTION_STUDENT = "release-check-solutions"
UNTOUCHED_STUDENT = "release-check-untouched"


class GradedCell(NamedTuple):
    """A cell nbgrader scores: an autograded test cell, or a written answer graded by hand."""

    grade_id: str
    points: float
    manual: bool  # a written answer (a solution cell that is also graded)


@dataclass
class ReleaseResult:
    course: Course
    assignment: str
    points: dict                     # notebook -> [GradedCell], in notebook order
    checked: bool
    seconds: float = 0.0
    timings: dict = field(default_factory=dict)  # step -> seconds
    # of the autograde check: student id -> grade_id -> (score, max_score); score None for
    # a written answer left to a human grader
    check_scores: dict = field(default_factory=dict)

    @property
    def release_dir(self):
        return self.course.release_dir(self.assignment)

    @property
    def bundle_path(self):
        return self.course.bundle_path(self.assignment)


# ------------------------------------------------------------------ the whole command


def release(course_dir, assignment=ASSIGNMENT, check=True, notebooks_dir=SOURCE_NOTEBOOKS,
            echo=print, notebooks=None) -> ReleaseResult:
    """Release ``assignment`` into the course directory ``course_dir``; see the module doc.

    ``notebooks``: the notebooks to hand out (names, e.g. ``["CharRNN_Language_Model"]``);
    by default the ones the course already hands out, or all of them for a new course.
    """
    start = time.perf_counter()
    timings = {}

    def step(name, func, *args):
        t0 = time.perf_counter()
        echo(f"[release] {name} ...")
        value = func(*args)
        timings[name] = time.perf_counter() - t0
        return value

    from ..answer_key.check_files import build_references

    course = Course(course_dir)
    try:
        chosen = course.choose_notebooks(assignment, notebooks)
    except CourseError as err:
        raise ReleaseError(str(err)) from None
    check_notebooks_can_change(course, assignment, chosen)
    points = graded_cells(Path(notebooks_dir), chosen)
    check_points_against_units(points)
    check_public_checks()
    if course.references_path.exists() and not course.secret_path.exists():
        raise ReleaseError(_secret_mismatch(course, "there is no course secret"))
    try:
        step("course directory", _set_up_course, course, assignment, notebooks_dir, chosen)
        secret = course.secret()
    except CourseError as err:
        raise ReleaseError(str(err)) from None
    check_references_match_secret(course, secret)
    step("hidden references", build_references, secret, course.references_path)
    step("nbgrader generate_assignment", generate_assignment, course, assignment)
    step("leak scan", check_release_has_no_solutions, course, assignment, secret)
    scores = {}
    if check:
        scores = step("autograde check (solutions and untouched release)", check_release,
                      course, assignment)
    step("student bundle", write_student_bundle, course, assignment, points, secret)
    result = ReleaseResult(course, assignment, points, check, time.perf_counter() - start,
                           timings, scores)
    echo(summary(result))
    return result


def _set_up_course(course, assignment, notebooks_dir, notebooks):
    course.write_config(assignment)
    course.install_source(notebooks, assignment, notebooks_dir)


def check_notebooks_can_change(course, assignment, chosen):
    """nbgrader cannot change the notebooks of an assignment that has submissions: say so
    before anything in the course changes."""
    try:
        current = course.notebooks(assignment)
    except CourseError:
        return
    if current == tuple(chosen) or not course.gradebook_path.is_file():
        return
    from nbgrader.api import Gradebook, MissingEntry
    with Gradebook(course.gradebook_url, COURSE_ID) as gb:
        try:
            graded = len(gb.find_assignment(assignment).submissions)
        except MissingEntry:
            return
    if graded:
        raise ReleaseError(
            f"{course.root} hands out {', '.join(current)} and has {graded} submission(s) of "
            f"them; nbgrader cannot change the notebooks of an assignment with submissions. "
            f"Release {', '.join(chosen)} into another course directory, or another assignment "
            f"(--assignment).")


def check_references_match_secret(course, secret):
    """Existing hidden references must come from this secret (or be deleted on purpose)."""
    from assignment.formats.check_file import read_check_header

    from ..answer_key.seeds import secret_fingerprint

    if not course.references_path.exists():
        return
    try:  # any version: references of an older release are rebuilt from the same secret
        built_with = read_check_header(course.references_path).get("secret_fingerprint")
    except (OSError, ValueError) as err:
        raise ReleaseError(f"{course.references_path} cannot be read ({err}); delete it to "
                           f"rebuild it from the course secret") from None
    if built_with != secret_fingerprint(secret):
        raise ReleaseError(_secret_mismatch(course, f"{course.secret_path.name} is another one"))


def _secret_mismatch(course, what):
    return (f"{course.references_path} was built from a course secret, but {what}. A new secret "
            f"changes every hidden case: restore {course.secret_path} from your backup, or, to "
            f"start over with new hidden cases on purpose, delete {course.references_path}.")


def summary(result: ReleaseResult) -> str:
    course, a = result.course, result.assignment
    lines = [
        f"Released {a} in {result.seconds:.1f} s",
        f"  course directory   {course.root}",
        f"  release notebooks  {result.release_dir}",
        f"  student bundle     {result.bundle_path}",
        f"  hidden references  {course.references_path}  (never give these out)",
        f"  course secret      {course.secret_path}  (back it up; never give it out)",
        "",
        point_table(result.points),
        "",
        ("Checks passed: nbgrader autograde gives the solutions every autograded point and "
         "the untouched release none." if result.checked else
         "Checks skipped (--skip-checks): the release was not autograded."),
    ]
    return "\n".join(lines)


def _fmt(p):
    return f"{p:g}"


# ------------------------------------------------------------------ points = UNITS


def graded_cells(notebooks_dir, notebooks=NOTEBOOKS) -> dict:
    """notebook file name -> [GradedCell] of its graded cells, in notebook order."""
    table = {}
    for name in notebooks:
        path = Path(notebooks_dir) / name
        if not path.is_file():
            raise ReleaseError(f"source notebook missing: {path}")
        table[name] = []
        for cell in json.loads(path.read_text())["cells"]:
            meta = cell.get("metadata", {}).get("nbgrader", {})
            if meta.get("grade"):
                table[name].append(GradedCell(meta.get("grade_id", "<no grade_id>"),
                                              float(meta.get("points", 0)),
                                              bool(meta.get("solution"))))
    return table


def check_points_against_units(points) -> None:
    """Every autograded cell is ``test_<unit>`` of a UNITS entry, in its notebook, with its points.

    Written answers (graded by hand) are not units; they only need points.
    """
    from assignment.units import UNITS

    expected = {f"test_{unit}": (_unit_notebook(spec), float(spec.points))
                for unit, spec in UNITS.items()}
    problems = []
    seen = set()
    for notebook, cells in points.items():
        for grade_id, p, manual in cells:
            if grade_id in seen:
                problems.append(f"{notebook}: grade_id {grade_id} is used twice")
            seen.add(grade_id)
            if manual:
                if p <= 0:
                    problems.append(f"{notebook}: written answer {grade_id} has no points")
                continue
            if grade_id not in expected:
                problems.append(f"{notebook}: graded cell {grade_id} is not a unit of UNITS "
                                f"(autograded cells are named test_<unit>)")
                continue
            want_nb, want_p = expected[grade_id]
            if want_nb != notebook:
                problems.append(f"{notebook}: graded cell {grade_id} belongs in {want_nb} "
                                f"according to UNITS")
            if p != want_p:
                problems.append(f"{notebook}: graded cell {grade_id} has points={_fmt(p)} but "
                                f"UNITS says {_fmt(want_p)}")
    for grade_id, (nb, _) in expected.items():
        if grade_id not in seen and nb in points:  # units of the notebooks handed out
            problems.append(f"{nb}: no graded cell {grade_id} for unit {grade_id[5:]} of UNITS")
    if problems:
        raise ReleaseError("the notebooks' graded cells do not match assignment/units.py "
                           "UNITS (the single source of truth for points):\n  - "
                           + "\n  - ".join(problems))


def check_public_checks() -> None:
    """assignment/public_checks.npz (what students check against) agrees with UNITS."""
    from assignment.checks import PUBLIC_CHECKS
    from assignment.formats.check_file import read_check_file

    from assignment.units import UNITS

    rebuild = "rebuild it with `python -m autograder.answer_key.check_files` and commit it"
    if not PUBLIC_CHECKS.is_file():
        raise ReleaseError(f"{PUBLIC_CHECKS} is missing: the students' check cells need it; "
                           f"{rebuild}")
    header, units = read_check_file(PUBLIC_CHECKS)
    problems = []
    if header.get("kind") != "public":
        problems.append(f"it is a {header.get('kind')!r} file, not the public one")
    problems += [f"{u} has hidden cases" for u, c in units.items()
                 if any(case.hidden for case in c.cases)]
    for name, unit in UNITS.items():
        public_dims = [case.dims for case in unit.cases if not case.hidden]
        if name not in units:
            problems.append(f"unit {name} is missing")
        elif units[name].points != dict(unit.outputs) or \
                [case.dims for case in units[name].cases] != public_dims:
            problems.append(f"unit {name} differs from UNITS (points or public cases)")
    if problems:
        raise ReleaseError(f"{PUBLIC_CHECKS} is out of date: " + "; ".join(problems)
                           + f". {rebuild}.")


def _unit_notebook(spec):
    name = spec.notebook
    return name if name.endswith(".ipynb") else name + ".ipynb"


# ------------------------------------------------------------------ nbgrader


def nbgrader(course, *args, env=None, check=True):
    """Run ``nbgrader <args>`` (this Python's nbgrader) in the course directory."""
    proc = subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=course.root,
                          env=env or tools_env(), capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise ReleaseError(f"`nbgrader {' '.join(args)}` failed in {course.root} "
                           f"(exit {proc.returncode}):\n{_tail(proc.stdout + proc.stderr)}")
    return proc


def _tail(text, lines=40):
    return "\n".join(text.strip().splitlines()[-lines:])


def generate_assignment(course, assignment=ASSIGNMENT):
    """release/<assignment>/ from source/<assignment>/, overwriting an earlier release."""
    nbgrader(course, "generate_assignment", assignment, "--force")
    missing = [n for n in course.notebooks(assignment)
               if not (course.release_dir(assignment) / n).is_file()]
    if missing:
        raise ReleaseError(f"nbgrader generate_assignment did not write {', '.join(missing)} "
                           f"into {course.release_dir(assignment)}")


def check_release_has_no_solutions(course, assignment, secret):
    """No solution region, hidden test or secret in the release notebooks."""
    found = []
    for name in course.notebooks(assignment):
        text = (course.release_dir(assignment) / name).read_text()
        found += [f"{name}: {m!r}" for m in LEAK_MARKERS if m in text]
        if secret.hex() in text:
            found.append(f"{name}: the course secret")
    if found:
        raise ReleaseError("the release notebooks contain instructor-only text:\n  - "
                           + "\n  - ".join(found))


# ------------------------------------------------------------------ autograde check


def autograde_copy(course, assignment, submissions, workdir):
    """Grade ``submissions`` as ``rnn-assignment grade`` does, in a copy of the course under ``workdir``.

    Sandboxed kernels, scores outside them, real nbgrader autograde to record
    them (``autograder.grading.coordinator``). submissions: student id -> folder holding
    that student's notebooks. Returns (copy_root, scores) with
    scores[student][grade_id] = (score, max_score), score None for a written
    answer waiting for a human grader. The course's own gradebook and folders
    are never written.
    """
    from nbgrader.api import Gradebook, MissingEntry

    from ..grading.coordinator import GradeOptions, grade
    from ..grading.errors import GradingError

    copy = Course(Path(workdir) / "course")
    copy.root.mkdir(parents=True)
    shutil.copy2(course.config_path, copy.config_path)
    with open(copy.config_path, "a") as f:  # whatever gradebook the course uses: not this one
        f.write(f"\nc.CourseDirectory.db_url = {copy.gradebook_url!r}  # release check copy\n")
    shutil.copytree(course.source_dir(assignment), copy.source_dir(assignment))
    if course.gradebook_path.is_file():
        shutil.copy2(course.gradebook_path, copy.gradebook_path)
    else:  # the course's gradebook is a database server: a fresh SQLite one for the copy
        generate_assignment(copy, assignment)
    shutil.copytree(course.release_dir(assignment), copy.release_dir(assignment),
                    dirs_exist_ok=True)
    copy.references_path.parent.mkdir(parents=True)
    shutil.copy2(course.references_path, copy.references_path)
    incoming = Path(workdir) / "submissions"
    for student, folder in submissions.items():
        dest = incoming / student
        dest.mkdir(parents=True)
        for name in course.notebooks(assignment):
            if (Path(folder) / name).exists():
                shutil.copy2(Path(folder) / name, dest / name)
    try:
        grade(copy.root, incoming, GradeOptions(workers=min(2, len(submissions)), feedback=False,
                                                 progress=False), assignment=assignment)
    except GradingError as err:
        raise ReleaseError(f"the release check could not grade: {err}") from None
    scores = {}
    with Gradebook(copy.gradebook_url, COURSE_ID) as gb:
        for student in submissions:
            scores[student] = {}
            for name in course.notebooks(assignment):
                try:
                    nb = gb.find_submission_notebook(Path(name).stem, assignment, student)
                except MissingEntry:
                    raise ReleaseError(f"grading produced no grades for {student}/{name} in "
                                       f"{copy.root} (see {copy.root / 'grading'})") from None
                for grade_ in nb.grades:
                    waiting = grade_.auto_score is None and grade_.manual_score is None
                    scores[student][grade_.name] = (None if waiting else grade_.score,
                                                    grade_.max_score)
    return copy.root, scores


def check_release(course, assignment=ASSIGNMENT):
    """Solutions get every point and the untouched release none, graded as students will be.

    Written answers are left out of the solutions' side: nbgrader leaves them
    for grading by hand. Runs in a temporary copy; kept (and named in the
    error) only when the check fails.
    """
    manual = {c.grade_id for cells in graded_cells(course.source_dir(assignment),
                                                   course.notebooks(assignment)).values()
              for c in cells if c.manual}
    workdir = Path(tempfile.mkdtemp(prefix="rnn-release-check-"))
    copy_root, scores = autograde_copy(course, assignment, {
        SOLUTION_STUDENT: course.source_dir(assignment),
        UNTOUCHED_STUDENT: course.release_dir(assignment),
    }, workdir)
    problems = [f"{gid}: the solutions get {_fmt_score(s)} of {_fmt(m)}"
                for gid, (s, m) in sorted(scores[SOLUTION_STUDENT].items())
                if s != m and gid not in manual]
    problems += [f"{gid}: the untouched release gets {_fmt_score(s)} of {_fmt(m)} (must be 0)"
                 for gid, (s, m) in sorted(scores[UNTOUCHED_STUDENT].items()) if s != 0]
    if problems:
        raise ReleaseError(
            "release check failed (sandboxed grading, recorded by nbgrader autograde):\n  - " + "\n  - ".join(problems)
            + f"\nThe autograded notebooks are kept in "
              f"{copy_root / 'autograded'} for inspection.")
    shutil.rmtree(workdir, ignore_errors=True)
    return scores


def _fmt_score(s):
    return "no score (needs manual grading)" if s is None else _fmt(s)
