"""The jobs of a grading run: each submitted notebook restored, with the key of its result.

Instructor-only. ``build_jobs`` reads every student's ``submitted/`` folder
(``autograder.grading.submitted_files``: regular files only), restores each
notebook's instructor cells (``autograder.grading.restore``), plans which of its
cells need not run (``autograder.grading.cell_plan``) and gives the job a key
made of everything that decides its result: the restored notebook, its plan, the
student's files, what needs review, and ``grading_context``: the grading code
and source notebooks (``autograder.grading.fingerprint``), the bytes of the
hidden references (expected outputs) and of the grading inputs, the limits.
A stored result with the same key is reused; any change runs it again.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from ..release.course import Course
from .collect import notes as collect_notes
from .cell_plan import plan_skips
from .errors import GradingError
from .fingerprint import grading_code_version
from .restore import read_submitted, restore_notebook
from .results import RESULT_FORMAT
from .safe_files import course_files
from .submitted_files import read_submitted_folder
from .worker import JOB_FORMAT, MAX_STUDENT_FILE_BYTES, STUDENT_FILE_TYPES


INPUTS_NAME = "grading_inputs.npz"


def read_json(path: Path):
    try:
        return json.loads(path.read_text(encoding="utf-8")), ""
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError) as err:
        return None, f"{path.name} could not be read as a notebook ({type(err).__name__})"


def student_files(read: dict) -> dict:
    """The files of a submission that go into its sandbox (types and total size limited)."""
    files, total = {}, 0
    for name in sorted(read):
        if Path(name).suffix.lower() in STUDENT_FILE_TYPES:
            size = len(read[name])
            if total + size <= MAX_STUDENT_FILE_BYTES:
                files[name] = read[name]
                total += size
    return files


def _key(*parts) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part if isinstance(part, bytes) else json.dumps(part, sort_keys=True,
                                                                      default=str).encode())
        digest.update(b"\0")
    return digest.hexdigest()


@dataclass
class Job:
    student: str
    notebook: str               # without .ipynb
    nb: dict                    # restored
    files: dict
    changes: list
    unreadable: str             # why the submission needs review ("" if it does not)
    skip: list = field(default_factory=list)  # [cell index, why it is not run] (cell_plan)
    key: str = ""


def grading_context(course: Course, inputs: bytes, limits: dict) -> str:
    """Digest of everything outside a submission that decides its result (see the docstring)."""
    return _key(JOB_FORMAT, RESULT_FORMAT, grading_code_version(),
                hashlib.sha256(course.references_path.read_bytes()).hexdigest(),
                hashlib.sha256(inputs).hexdigest(), limits)


def build_jobs(course, assignment, students, context: str) -> tuple[list, dict]:
    """Restored notebooks to run, and the results of notebooks not submitted.

    ``context``: ``grading_context(...)``, part of every job's key.
    """
    jobs, missing = [], {}
    forbidden = course_files(course.root)
    handed_out = course.notebooks(assignment)
    for student in students:
        folder = course.root / "submitted" / student / assignment
        read, unsafe = read_submitted_folder(course.root / "submitted", student, assignment,
                                             forbidden)
        files = student_files(read)
        problems = list(collect_notes(course, student).get("problems", [])) + unsafe
        for name in handed_out:
            notebook = name[:-len(".ipynb")]
            source, _ = read_json(course.source_dir(assignment) / name)
            release, _ = read_json(course.release_dir(assignment) / name)
            if source is None or release is None:
                raise GradingError(f"{name} is missing in {course.source_dir(assignment)} or "
                                   f"{course.release_dir(assignment)}: run `rnn-assignment "
                                   "release` first")
            path = folder / name
            mine = [p for p in problems if name in p or not any(
                other in p for other in handed_out if other != name)]
            if name not in read:
                others = sorted(n for n in read if n.endswith(".ipynb") and n not in handed_out)
                missing[(student, notebook)] = (
                    f"{name} was not submitted" + (f" (found {', '.join(others)}: the notebook "
                                                   "must keep its name)" if others else ""),
                    mine)
                continue
            submitted, unreadable = read_submitted(path, read[name])
            restored = restore_notebook(source, release, submitted)
            review = "; ".join(p for p in [unreadable, *restored.review, *mine] if p)
            skip = [[index, why] for index, why in plan_skips(restored.nb, release)]
            job = Job(student, notebook, restored.nb, files, restored.changes, review, skip)
            job.key = _key(context, review, restored.nb, skip,
                           sorted((k, hashlib.sha256(v).hexdigest()) for k, v in files.items()))
            jobs.append(job)
    return jobs, missing


def grading_inputs_file(course: Course) -> bytes:
    """The grading-inputs file (hidden inputs, replay tables; no expected values), cached."""
    from ..answer_key.grading_inputs import build_grading_inputs
    refs = course.references_path
    if not refs.is_file():
        raise GradingError(f"{refs} is missing: run `rnn-assignment release --course "
                           f"{course.root}` first")
    path = refs.with_name(INPUTS_NAME)
    stamp = path.with_suffix(".source")
    ref_digest = hashlib.sha256(refs.read_bytes()).hexdigest() + grading_code_version()
    if not path.is_file() or not stamp.is_file() or stamp.read_text() != ref_digest:
        built = Path(build_grading_inputs(refs, path))
        if built != path:
            shutil.copyfile(built, path)
        stamp.write_text(ref_digest)
    return path.read_bytes()
