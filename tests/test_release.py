"""``rnn-assignment release``: course directory, secret, release notebooks, student bundle,
and real nbgrader autograding of what the release produces.

One module-scoped fixture releases into a temporary course once (with the
autograde check), then releases again through the CLI (``--skip-checks``) to
show that the secret is reused and the products are byte-identical. A second
fixture autogrades two edited submissions with plain ``nbgrader autograde``
in a copy of that course.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import subprocess
import sys
import time
import tomllib
import zipfile
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import yaml

from assignment import caches
from assignment.formats.check_file import read_check_file
from assignment.units import UNITS
from autograder.release.course import COURSE_ID, NOTEBOOKS, REFERENCES_ENV, Course, tools_env
from autograder.release.release import (SOLUTION_STUDENT, UNTOUCHED_STUDENT, ReleaseError,
                                autograde_copy, check_points_against_units, graded_cells,
                                release)
from autograder.release.bundle import student_bundle_entries

REPO = Path(__file__).resolve().parents[1]
ASSIGNMENT = "rnn_captioning"
AUTOGRADED_TOTAL = sum(u.points for u in UNITS.values())
# written answers, graded by hand (graded solution cells): grade_id -> points
WRITTEN = {meta["grade_id"]: meta["points"]
           for name in NOTEBOOKS
           for cell in json.loads((REPO / "notebooks" / name).read_text())["cells"]
           for meta in [cell["metadata"].get("nbgrader", {})]
           if meta.get("grade") and meta.get("solution")}
TOTAL = AUTOGRADED_TOTAL + sum(WRITTEN.values())

pytestmark = pytest.mark.slow


def _snapshot(course: Course):
    return SimpleNamespace(
        secret=course.secret_path.read_bytes(),
        secret_mode=stat.S_IMODE(course.secret_path.stat().st_mode),
        references=course.references_path.read_bytes(),
        bundle=course.bundle_path(ASSIGNMENT).read_bytes(),
        notebooks={n: (course.release_dir(ASSIGNMENT) / n).read_bytes() for n in NOTEBOOKS},
    )


@pytest.fixture(scope="module")
def released(tmp_path_factory):
    course = Course(tmp_path_factory.mktemp("release") / "course")
    printed = []
    start = time.perf_counter()
    result = release(course.root, echo=printed.append)  # with the autograde check
    seconds = time.perf_counter() - start
    first = _snapshot(course)
    again = subprocess.run([sys.executable, "-m", "autograder.cli", "release", "--course",
                            str(course.root), "--skip-checks"], cwd=REPO, env=tools_env(),
                           capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stdout + again.stderr
    print(f"\nrelease with checks: {seconds:.1f} s; steps: "
          + ", ".join(f"{k} {v:.1f} s" for k, v in result.timings.items()))
    return SimpleNamespace(course=course, result=result, printed="\n".join(printed),
                           first=first, second=_snapshot(course), cli=again)


@pytest.fixture(scope="module")
def bundle(released):
    with zipfile.ZipFile(released.course.bundle_path(ASSIGNMENT)) as zf:
        return {info.filename: zf.read(info) for info in zf.infolist()}


def _text_of(files: dict) -> str:
    return "\n".join(data.decode("utf-8", "replace") for name, data in files.items()
                     if not name.endswith(".npz"))


# ------------------------------------------------------------ course directory


def _full_marks():
    """Every autograded cell's points."""
    return {f"test_{name}": unit.points for name, unit in UNITS.items()}


def test_course_directory_has_config_source_release_gradebook_and_gitignore(released):
    course = released.course
    assert course.config_path.is_file()
    assert sorted(p.name for p in course.source_dir(ASSIGNMENT).iterdir()) == sorted(NOTEBOOKS)
    for name in NOTEBOOKS:  # the source notebooks are the repository's, unchanged
        assert (course.source_dir(ASSIGNMENT) / name).read_bytes() == \
            (REPO / "notebooks" / name).read_bytes()
    assert sorted(p.name for p in course.release_dir(ASSIGNMENT).iterdir()) == sorted(NOTEBOOKS)
    ignored = course.root.joinpath(".gitignore").read_text().split()
    assert ".course_secret" in ignored and "hidden/" in ignored


def test_gradebook_holds_the_assignment_with_every_graded_cell_and_its_points(released):
    from nbgrader.api import Gradebook

    with Gradebook(released.course.gradebook_url, COURSE_ID) as gb:
        cells = {(nb.name, cell.name, cell.max_score)
                 for nb in gb.find_assignment(ASSIGNMENT).notebooks for cell in nb.grade_cells}
    autograded = {(nb, gid, p) for nb, gid, p in cells if gid not in WRITTEN}
    assert autograded == {(u.notebook, f"test_{name}", u.points) for name, u in UNITS.items()}
    assert {gid: p for _, gid, p in cells if gid in WRITTEN} == WRITTEN


def test_config_points_kernels_at_the_hidden_references_next_to_it(released, monkeypatch):
    from traitlets.config.loader import PyFileConfigLoader

    monkeypatch.setenv(REFERENCES_ENV, "placeholder")
    monkeypatch.delenv(REFERENCES_ENV)  # unset now; restored (unset) after the test
    course = released.course
    config = PyFileConfigLoader("nbgrader_config.py", path=str(course.root)).load_config()
    assert config.CourseDirectory.root == str(course.root)
    assert config.CourseDirectory.course_id == "rnn-captioning"
    assert "ASSIGNMENT = 'rnn_captioning'" in course.config_path.read_text()
    assert Path(os.environ[REFERENCES_ENV]) == course.references_path


def test_config_does_not_override_references_set_by_the_caller(released, monkeypatch):
    from traitlets.config.loader import PyFileConfigLoader

    monkeypatch.setenv(REFERENCES_ENV, "/elsewhere/references.npz")
    PyFileConfigLoader("nbgrader_config.py", path=str(released.course.root)).load_config()
    assert os.environ[REFERENCES_ENV] == "/elsewhere/references.npz"


# ------------------------------------------------------------ secret, determinism


def test_secret_is_created_once_with_mode_0600_and_reused(released):
    first, second = released.first, released.second
    assert first.secret_mode == 0o600 and second.secret_mode == 0o600
    assert re.fullmatch(rb"[0-9a-f]{64}\n", first.secret)
    assert second.secret == first.secret


def test_releasing_again_gives_byte_identical_references_notebooks_and_bundle(released):
    first, second = released.first, released.second
    assert second.references == first.references
    assert second.notebooks == first.notebooks
    assert second.bundle == first.bundle


def test_release_refuses_to_replace_references_of_a_lost_secret(released, tmp_path):
    course = Course(tmp_path / "course")
    course.references_path.parent.mkdir(parents=True)
    shutil.copy2(released.course.references_path, course.references_path)
    with pytest.raises(ReleaseError, match="restore .*course_secret"):
        release(course.root, check=False, echo=lambda line: None)
    assert not course.secret_path.exists()
    course.secret()  # a new secret: still refused, the references are another secret's
    with pytest.raises(ReleaseError, match="another one"):
        release(course.root, check=False, echo=lambda line: None)
    assert course.references_path.read_bytes() == released.first.references


def test_a_new_course_gets_other_hidden_cases(released, tmp_path):
    from autograder.answer_key.check_files import build_references

    other = build_references(b"another course's secret", tmp_path / "references.npz")
    assert other.read_bytes() != released.first.references


# ------------------------------------------------------------ summary and checks


def test_summary_names_the_paths_the_point_table_and_the_passed_check(released):
    text = released.printed
    course = released.course
    for path in (course.release_dir(ASSIGNMENT), course.bundle_path(ASSIGNMENT),
                 course.references_path):
        assert str(path) in text
    for name, unit in UNITS.items():
        assert f"| {unit.notebook}.ipynb | test_{name} | {unit.points:g} |" in text
    assert f"**assignment total** | **{TOTAL:g}**" in text
    assert "Checks passed" in text
    assert "Checks skipped" in released.cli.stdout  # the --skip-checks run says so


def test_release_check_gave_the_solutions_every_point_and_the_untouched_release_none(released):
    scores = released.result.check_scores
    ids = {f"test_{name}" for name in UNITS} | set(WRITTEN)
    assert set(scores[SOLUTION_STUDENT]) == ids and set(scores[UNTOUCHED_STUDENT]) == ids
    assert {g: s for g, (s, m) in scores[SOLUTION_STUDENT].items() if g not in WRITTEN} == \
        _full_marks()
    # written answers wait for a human grader; untouched ones are 0 automatically
    assert {g: s for g, (s, m) in scores[SOLUTION_STUDENT].items() if g in WRITTEN} == \
        {g: None for g in WRITTEN}
    assert {g: s for g, (s, m) in scores[UNTOUCHED_STUDENT].items()} == {g: 0 for g in ids}


def test_the_language_model_notebook_handed_in_alone_is_graded_on_its_own(released, tmp_path):
    """A course may hand out any of the notebooks: the language model's, submitted alone, gets
    every autograded point of its own units (those that call RNN and LSTM steps it does not
    have included); the notebooks not handed in earn nothing."""
    name = "CharRNN_Language_Model.ipynb"
    folder = tmp_path / "alone"
    folder.mkdir()
    (folder / name).write_bytes((released.course.source_dir(ASSIGNMENT) / name).read_bytes())
    start = time.perf_counter()
    _, scores = autograde_copy(released.course, ASSIGNMENT, {"lm-only": folder}, tmp_path / "w")
    print(f"\ngrading {name} alone (sandboxed, recorded by nbgrader): "
          f"{time.perf_counter() - start:.1f} s")
    mine = {f"test_{unit}": u.points for unit, u in UNITS.items() if u.notebook == name[:-6]}
    got = scores["lm-only"]
    assert {g: got[g][0] for g in mine} == mine
    assert all(not s for g, (s, m) in got.items() if g not in mine and g not in WRITTEN)


@pytest.mark.slow
def test_a_course_hands_out_the_notebooks_it_chooses_and_keeps_that_choice(tmp_path):
    """``release --notebooks``: only those are in source/, release/, the gradebook and the
    bundle; a later release without the option keeps the course's choice."""
    from nbgrader.api import Gradebook

    course = Course(tmp_path / "course")
    lm = "CharRNN_Language_Model.ipynb"
    release(course.root, check=False, echo=lambda line: None,
            notebooks=["CharRNN_Language_Model"])
    assert course.notebooks(ASSIGNMENT) == (lm,)
    assert sorted(p.name for p in course.release_dir(ASSIGNMENT).glob("*.ipynb")) == [lm]
    with Gradebook(course.gradebook_url, COURSE_ID) as gb:
        assert [n.name for n in gb.find_assignment(ASSIGNMENT).notebooks] == [lm[:-6]]
    bundle = {name for name, _ in student_bundle_entries(course, ASSIGNMENT, {})}
    assert {n for n in bundle if n.endswith(".ipynb")} == {f"{ASSIGNMENT}/{lm}"}
    release(course.root, check=False, echo=lambda line: None)      # the choice is kept
    assert course.notebooks(ASSIGNMENT) == (lm,)
    with Gradebook(course.gradebook_url, COURSE_ID) as gb:          # once students submitted,
        gb.add_student("s1")                                        # nbgrader cannot change them
        gb.add_submission(ASSIGNMENT, "s1")
    with pytest.raises(ReleaseError, match="1 submission.*cannot change the notebooks"):
        release(course.root, check=False, echo=lambda line: None, notebooks=NOTEBOOKS)
    assert course.notebooks(ASSIGNMENT) == (lm,)                    # nothing was changed


def test_an_unknown_notebook_is_refused_with_the_ones_to_choose_from(tmp_path):
    with pytest.raises(ReleaseError, match="unknown notebook.*Nope.ipynb.*choose among "
                                           ".*RNN_Captioning.ipynb"):
        release(tmp_path / "course", check=False, echo=lambda line: None, notebooks=["Nope"])


def test_points_that_disagree_with_units_stop_the_release():
    table = graded_cells(REPO / "notebooks")
    check_points_against_units(table)  # the committed notebooks agree
    notebook = "RNN_Captioning.ipynb"
    table[notebook] = [c._replace(points=c.points + 1) if c.grade_id == "test_rnn_forward" else c
                       for c in table[notebook]]
    with pytest.raises(ReleaseError, match=r"test_rnn_forward has points=5 but UNITS says 4"):
        check_points_against_units(table)


# ------------------------------------------------------------ nothing leaks


def _code_lines(notebook_bytes):
    cells = json.loads(notebook_bytes)["cells"]
    return [line for c in cells if c["cell_type"] == "code" for line in
            "".join(c["source"]).splitlines()]


def _squash(line):
    return re.sub(r"\s+", "", line)


def _solution_lines(notebook_path):
    """(lines inside solution regions, lines outside them) of a source notebook, squashed."""
    inside, outside, active = set(), set(), False
    for line in _code_lines(notebook_path.read_bytes()):
        if "### BEGIN SOLUTION" in line:
            active = True
        elif "### END SOLUTION" in line:
            active = False
        else:
            (inside if active else outside).add(_squash(line))
    return inside, outside


def test_release_notebooks_have_no_solution_regions_hidden_tests_or_grading_calls(released):
    for name, data in released.first.notebooks.items():
        text = data.decode()
        for marker in ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS",
                       "END HIDDEN TESTS", "grade_unit", "kernel_grading", "autograder.answer_key"):
            assert marker not in text, f"{name} contains {marker!r}"


def test_release_notebooks_have_no_solution_code(released):
    for name, data in released.first.notebooks.items():
        inside, outside = _solution_lines(REPO / "notebooks" / name)
        # lines that are only ever solution code (not also given to students elsewhere)
        secret_lines = {ln for ln in inside
                        if len(ln) >= 12 and ln not in outside}
        leaked = secret_lines & {_squash(ln) for ln in _code_lines(data)}
        assert not leaked, f"{name} contains solution code: {sorted(leaked)[:5]}"
        assert len(inside) >= 20  # the test sees real solution regions


def _reference_numbers(path, per_array=5):
    """A few printed forms of hidden inputs and expected values of the references file."""
    numbers = set()
    for unit in read_check_file(path)[1].values():
        for case in unit.cases:
            if not case.hidden:
                continue
            groups = [case.inputs, case.expected]
            if "cache" in case.inputs:  # a backward case's cache: hidden forward values
                groups.append(caches.to_arrays(case.inputs["cache"])[1])
            for values in groups:
                for arr in (v for k, v in values.items() if k != "cache"):
                    flat = np.asarray(arr, dtype=float).ravel()
                    for v in flat[(abs(flat) > 0.01) & (abs(flat) < 100)][:per_array]:
                        numbers.add(f"{v:.6f}")
    return numbers


def test_no_hidden_input_or_reference_value_reaches_students(released, bundle):
    numbers = _reference_numbers(released.course.references_path)
    assert len(numbers) > 200
    shipped = _text_of(bundle) + "".join(d.decode() for d in released.first.notebooks.values())
    found = sorted(n for n in numbers if n in shipped)
    assert not found, f"hidden values in the release: {found[:5]}"


# ------------------------------------------------------------ the student bundle


def test_bundle_holds_exactly_the_student_files(released, bundle):
    package = {p.relative_to(REPO).as_posix() for p in (REPO / "assignment").rglob("*.py")}
    expected = {f"{ASSIGNMENT}/{p}" for p in package | set(NOTEBOOKS) | {
        "assignment/public_checks.npz", "README.md", "pyproject.toml", "environment.yml",
        "datasets/get_coco_captioning.py"} | {
        f"datasets/corpora/{p.name}" for p in (REPO / "datasets" / "corpora").iterdir()}}
    assert set(bundle) == expected
    assert list(bundle) == sorted(bundle)  # sorted entries, for reproducible bytes
    for name in NOTEBOOKS:
        assert bundle[f"{ASSIGNMENT}/{name}"] == released.first.notebooks[name]


def test_bundle_entries_have_fixed_timestamps(released):
    with zipfile.ZipFile(released.course.bundle_path(ASSIGNMENT)) as zf:
        assert {info.date_time for info in zf.infolist()} == {(1980, 1, 1, 0, 0, 0)}


def test_bundle_has_no_instructor_material(released, bundle):
    assert not [n for n in bundle if "autograder" in n or "__pycache__" in n
                or n.endswith((".pyc", "references.npz", ".course_secret"))]
    secret_hex = released.first.secret.strip()
    for name, data in bundle.items():
        assert secret_hex not in data and bytes.fromhex(secret_hex.decode()) not in data, name
    text = _text_of(bundle)
    for marker in ("BEGIN HIDDEN TESTS", "grade_unit", "kernel_grading"):
        assert marker not in text
    # (the release notebooks' own checks are above; the package may *mention* solution regions)
    assert not re.search(r"^\s*(from|import)\s+autograder", text, re.M)


def test_bundle_public_checks_hold_only_public_cases(released, bundle, tmp_path):
    path = tmp_path / "public_checks.npz"
    path.write_bytes(bundle[f"{ASSIGNMENT}/assignment/public_checks.npz"])
    header, units = read_check_file(path)
    assert header["kind"] == "public"
    assert set(units) == set(UNITS)
    assert not any(case.hidden for unit in units.values() for case in unit.cases)


def test_student_pyproject_installs_only_the_assignment_package(bundle):
    project = tomllib.loads(bundle[f"{ASSIGNMENT}/pyproject.toml"].decode())
    assert project["tool"]["setuptools"]["packages"]["find"]["include"] == ["assignment*"]
    assert "*.npz" in project["tool"]["setuptools"]["package-data"]["assignment"]
    assert "scripts" not in project["project"] and "entry-points" not in project["project"]
    deps = project["project"]["dependencies"]
    repo_deps = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    assert set(deps) <= set(repo_deps)
    assert not [d for d in deps if d.startswith("nbgrader")]  # instructor tool


def test_student_environment_matches_the_student_pyproject(bundle):
    env = yaml.safe_load(bundle[f"{ASSIGNMENT}/environment.yml"])
    project = tomllib.loads(bundle[f"{ASSIGNMENT}/pyproject.toml"].decode())["project"]
    conda = [d for d in env["dependencies"] if isinstance(d, str) and ">=" in d]
    assert sorted(conda) == sorted(project["dependencies"])
    assert "python=3.11" in env["dependencies"]


def test_student_readme_says_how_to_install_build_data_work_and_submit(bundle):
    readme = bundle[f"{ASSIGNMENT}/README.md"].decode()
    for needed in ("pip install -e .", "python -m assignment.synthetic_coco", "jupyter lab",
                   "RNN_Captioning.ipynb", "LSTM_Captioning.ipynb",
                   "CharRNN_Language_Model.ipynb", "Submit",
                   f"**assignment total** | **{TOTAL:g}**"):
        assert needed in readme
    assert "{point_table}" not in readme


def test_bundle_package_imports_from_the_unpacked_folder(bundle, tmp_path):
    for name, data in bundle.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(data)
    code = ("import assignment, assignment.checks as c, assignment.data, assignment.synthetic_coco; "
            "print(assignment.__file__); print(len(c.public_checks())); "
            "from assignment.char_data import CORPORA, load_corpus; "
            "print(min(len(load_corpus(name)) for name in CORPORA))")
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path / ASSIGNMENT,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines()[0].startswith(str(tmp_path))
    assert int(out.stdout.splitlines()[1]) == len(UNITS)
    assert int(out.stdout.splitlines()[2]) > 100_000  # the corpora reach students


def test_student_bundle_builds_a_wheel_with_only_the_assignment_package(bundle, tmp_path):
    # what `pip install .` in the unpacked bundle installs (no dependencies fetched)
    for name, data in bundle.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(data)
    out = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w",
                          str(tmp_path / "wheel"), "."], cwd=tmp_path / ASSIGNMENT,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    (wheel,) = (tmp_path / "wheel").glob("*.whl")
    with zipfile.ZipFile(wheel) as zf:
        packaged = {n for n in zf.namelist() if ".dist-info/" not in n}
    expected = {p.relative_to(REPO).as_posix() for p in (REPO / "assignment").rglob("*.py")}
    assert packaged == expected | {"assignment/public_checks.npz"}


# ------------------------------------------------------------ real nbgrader autograde


def _edited_solution(notebook, grade_id, edit):
    cell = next(c for c in notebook["cells"]
                if c.get("metadata", {}).get("nbgrader", {}).get("grade_id") == grade_id)
    cell["source"] = edit("".join(cell["source"]))
    return notebook


def _double_dWh(source):
    edited, count = re.subn(r"^(\s*)dWh\s*=\s*(.+)$", r"\1dWh = 2 * (\2)", source, flags=re.M)
    assert count == 1, f"expected one `dWh = ...` line in the solution, found {count}"
    return edited


def _noise_on_stderr(source):
    lines = source.splitlines()
    at = next(i for i, ln in enumerate(lines) if "### BEGIN SOLUTION" in ln)
    indent = lines[at][:len(lines[at]) - len(lines[at].lstrip())]
    noise = ["import sys, warnings",
             "warnings.warn('my debugging warning')",
             "print('debugging output', x.shape, file=sys.stderr)"]
    return "\n".join(lines[:at + 1] + [indent + ln for ln in noise] + lines[at + 1:])


EDITED_SUBMISSIONS = {
    # student id -> (solution cell, edit): edits of the source (solution) RNN notebook
    "wrong-dwh": ("rnn_step_backward_solution", _double_dWh),
    "noisy-stderr": ("rnn_step_forward_solution", _noise_on_stderr),
}


@pytest.fixture(scope="module")
def autograded(released, tmp_path_factory):
    """Plain `nbgrader autograde` in a copy of the released course, of two edited submissions."""
    course = released.course
    copy = tmp_path_factory.mktemp("grading") / "course"
    copy.mkdir()
    for name in ("nbgrader_config.py", "gradebook.db"):
        shutil.copy2(course.root / name, copy / name)
    for folder in ("source", "hidden"):
        shutil.copytree(course.root / folder, copy / folder)
    source = json.loads((REPO / "notebooks" / "RNN_Captioning.ipynb").read_text())
    for student, (grade_id, edit) in EDITED_SUBMISSIONS.items():
        folder = copy / "submitted" / student / ASSIGNMENT
        folder.mkdir(parents=True)
        notebook = _edited_solution(json.loads(json.dumps(source)), grade_id, edit)
        (folder / "RNN_Captioning.ipynb").write_text(json.dumps(notebook, indent=1))
        for other in NOTEBOOKS:  # the other notebooks, solved
            if other != "RNN_Captioning.ipynb":
                shutil.copy2(REPO / "notebooks" / other, folder)
    env = tools_env()
    env.pop(REFERENCES_ENV, None)  # the course's nbgrader_config.py sets it
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "nbgrader", "autograde", ASSIGNMENT], cwd=copy,
                          env=env, capture_output=True, text=True, timeout=900)
    print(f"\nnbgrader autograde of {len(EDITED_SUBMISSIONS)} submissions: "
          f"{time.perf_counter() - start:.1f} s")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    from nbgrader.api import Gradebook

    scores = {}
    with Gradebook(f"sqlite:///{copy / 'gradebook.db'}", COURSE_ID) as gb:
        for student in EDITED_SUBMISSIONS:
            scores[student] = {grade.name: grade.score for name in NOTEBOOKS for grade in
                               gb.find_submission_notebook(Path(name).stem, ASSIGNMENT,
                                                           student).grades
                               if grade.name not in WRITTEN}
            written = {grade.name: (grade.auto_score, grade.needs_manual_grade)
                       for name in NOTEBOOKS for grade in
                       gb.find_submission_notebook(Path(name).stem, ASSIGNMENT, student).grades
                       if grade.name in WRITTEN}
            assert written == {g: (None, True) for g in WRITTEN}  # left to a human grader
    return SimpleNamespace(root=copy, scores=scores, log=proc.stdout + proc.stderr)


def test_a_wrong_dWh_costs_exactly_the_points_of_dWh(autograded):
    dwh = UNITS["rnn_step_backward"].outputs["dWh"]
    expected = dict(_full_marks(), test_rnn_step_backward=UNITS["rnn_step_backward"].points - dwh)
    assert autograded.scores["wrong-dwh"] == expected
    assert sum(autograded.scores["wrong-dwh"].values()) == AUTOGRADED_TOTAL - dwh


def _autograded_cell(autograded, student, grade_id):
    path = (autograded.root / "autograded" / student / ASSIGNMENT / "RNN_Captioning.ipynb")
    return next(c for c in json.loads(path.read_text())["cells"]
                if c["metadata"].get("nbgrader", {}).get("grade_id") == grade_id)


def _stdout(cell) -> str:
    return "".join("".join(o["text"]) for o in cell["outputs"] if o.get("name") == "stdout")


def test_feedback_of_the_wrong_dWh_names_the_output(autograded):
    # the check cell runs as the student ran it; the graded cell's visible part is left
    # to its hidden part while grading, whose feedback (the scorer's) names dWh as wrong
    check = _stdout(_autograded_cell(autograded, "wrong-dwh", "rnn_step_backward_check"))
    assert "dWh" in check and "WRONG" in check
    graded = _stdout(_autograded_cell(autograded, "wrong-dwh", "test_rnn_step_backward"))
    assert "not repeated while grading" in graded
    assert re.search(r"dWh +0 / \d+ +wrong on", graded), graded


def test_warnings_and_stderr_output_inside_a_correct_solution_cost_nothing(autograded):
    assert autograded.scores["noisy-stderr"] == _full_marks()
    for grade_id in ("rnn_step_forward_check", "test_rnn_step_forward"):
        cell = _autograded_cell(autograded, "noisy-stderr", grade_id)
        assert not [o for o in cell["outputs"] if o.get("name") == "stderr"], grade_id
    # shown to the student on stdout by the check cell (the graded cell's hidden part
    # runs the code with its output captured)
    check = _autograded_cell(autograded, "noisy-stderr", "rnn_step_forward_check")
    assert "debugging output" in _stdout(check)


def test_a_correct_submission_autogrades_without_an_error_in_any_cell(autograded):
    """Not only the graded cells: training, sampling and BLEU cells run too (feedback shows them).

    The LSTM notebook imports the student's solution cells from RNN_Captioning.ipynb.
    """
    folder = autograded.root / "autograded" / "noisy-stderr" / ASSIGNMENT
    errors = {}
    for name in NOTEBOOKS:
        for i, cell in enumerate(json.loads((folder / name).read_text())["cells"]):
            for out in cell.get("outputs", []):
                if out["output_type"] == "error":
                    errors.setdefault(name, []).append(f"cell {i}: {out['ename']}: "
                                                       f"{out['evalue'][:120]}")
    assert errors == {}
