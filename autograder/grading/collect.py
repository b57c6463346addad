"""Step 1 of grading: submissions into the course's ``submitted/``, nothing from outside them.

Instructor-only. ``collect(course, submissions, ...)`` takes a folder of
``<student>/<notebook>.ipynb`` (nbgrader's ``<student>/<assignment>/`` layout
too) or an LMS zip (``<assignment>_<student>_attempt_<timestamp>_<file>``) and
writes ``submitted/<student>/<assignment>/`` for each student. What it
guarantees (docs/grading-at-scale.md, "Collecting"):

* **Only regular files, never a link.** Folders are read through file
  descriptors opened with ``O_NOFOLLOW`` (the submissions folder's entries, a
  student's folder, their files): a symlink anywhere (to ``source/``, to
  another student's folder, to a secret) is skipped and reported, never
  followed. Zip members are read as bytes, by base name only (no paths, no
  links, no special files).
* **A student's id is theirs.** In a zip the id comes from the LMS's prefix
  only: the pattern is anchored at the start and the *first*
  ``_attempt_<timestamp>_`` ends the prefix, so a student who names a file
  like another student's download stays themselves; two LMS prefixes never
  share an id (``_lms_names``). Two files of one student for one notebook:
  the newest timestamp wins; with equal (or no) timestamps it is a conflict,
  reported and flagged.
* **A name is never a reason to lose a student.** A folder or LMS name that is
  not a usable nbgrader id (spaces, non-ASCII letters, leading dots, ...) is
  graded under a normalised id (ASCII letters, digits and ``_ . @ + -``, plus
  six hex digits of a hash of the original name, so two names never merge);
  the original name is reported and the notebooks are flagged for review.
* **A renamed notebook is found** (``RNN_Captioning (1).ipynb``, ``Copy of
  ...``, other case, or by its cells' grade ids), graded under its real name
  and flagged.
* **Timestamps** (for nbgrader's late penalties) come from the LMS prefix of a
  zip, or for folders from ``timestamp.txt`` (nbgrader's format, as written
  by the tool that collected the folders) or, with ``timestamps="mtime"``,
  from the notebooks' modification times. An impossible timestamp grades the
  student without one and flags it. The course's ``timestamp.txt`` is written
  by this module only; a student's own file of that name is not trusted.

Everything a student's submission gets noted (why it is flagged) is kept in
``grading/collected/<student>.json``; ``notes(course, student)`` reads it.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import re
import shutil
import unicodedata
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from ..release.course import ASSIGNMENT, Course
from .collect_lms import read_zip
from .notebook_names import find_notebooks, grade_ids_in
from .safe_files import course_files, display_name, folder_entries, open_dir, read_regular
from .upload import (MAX_FILE_BYTES, MAX_STUDENT_BYTES, CollectError, Upload, format_time,
                     parse_time)

__all__ = ["Collected", "CollectError", "collect", "notes", "normalise_student_id",
           "DEFAULT_ZIP_REGEXP", "STUDENT_ID", "TIMESTAMP_SOURCES", "NOTES_DIR"]

# the LMS prefix ends at the FIRST _attempt_<timestamp>_; the student id is the part of the
# prefix after its last underscore (nbgrader's documented naming); the rest is the file name
# the student chose, whatever it says
DEFAULT_ZIP_REGEXP = (r"^(?P<lms_assignment>[^/]*?)_(?P<student_id>[^_/]+)_attempt_"
                      r"(?P<timestamp>[^_/]*)_(?P<file_id>[^/]+)$")
STUDENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@+-]{0,127}$")
TIMESTAMP_SOURCES = ("timestamp.txt", "mtime", "none")
NOTES_DIR = Path("grading") / "collected"
# folders of tools, not of students (skipped quietly)
TOOL_FOLDERS = {".ipynb_checkpoints", ".git", ".svn", ".hg", "__MACOSX", ".Trash", ".DS_Store",
                "__pycache__"}


@dataclass
class Collected:
    students: list                                  # the ids graded, sorted
    notes: dict = field(default_factory=dict)       # id -> [why it is flagged, ...]
    names: dict = field(default_factory=dict)       # id -> the original name (when different)
    skipped: list = field(default_factory=list)     # "what: why" of everything not imported
    info: dict = field(default_factory=dict)        # id -> [what happened, not a problem]


# ------------------------------------------------------------------ student ids


def normalise_student_id(name: str) -> str:
    """``name`` if nbgrader can use it as a student id, else a safe id derived from it.

    The safe id is ASCII (accents dropped: ``José Núñez`` -> ``Jose_Nunez-<hash>``),
    other characters replaced by ``_``, plus ``-`` and six hex digits of the
    SHA-256 of the original name, so that different names never share an id.
    """
    if STUDENT_ID.match(name) and unicodedata.is_normalized("NFC", name):
        return name
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    ascii_name = re.sub(r"[^A-Za-z0-9_.@+-]+", "_", ascii_name).strip("._@+-")[:100]
    digest = hashlib.sha256(name.encode("utf-8", "surrogateescape")).hexdigest()[:6]
    return f"{ascii_name or 'student'}-{digest}"


def _read_student_folder(root_fd: int, name: str, assignment: str, skipped: list,
                         timestamps: str, forbidden=frozenset()) -> Upload:
    upload = Upload(name)
    shown = display_name(name)
    fd = open_dir(name, dir_fd=root_fd)
    try:
        entries = folder_entries(fd)
        inner = [n for n, kind in entries if n == assignment and kind == "dir"]
        if inner:  # nbgrader's <student>/<assignment>/ layout
            top_stamp = [n for n, kind in entries if n == "timestamp.txt" and kind == "file"]
            sub = open_dir(assignment, dir_fd=fd)
            if top_stamp:
                data, _ = read_regular("timestamp.txt", fd, 4096)
                if data is not None:
                    upload.files.setdefault("timestamp.txt", data)
            os.close(fd)
            fd = sub
            entries = folder_entries(fd)
            shown = f"{shown}/{assignment}"
        total = 0
        for entry, kind in entries:
            where = f"{shown}/{display_name(entry)}"
            if kind == "link":
                skipped.append(f"{where}: a symbolic link (never followed)")
                upload.problems.append(f"{display_name(entry)} is a symbolic link: not imported "
                                       "(only regular files are graded)")
                continue
            if kind == "dir":
                if entry not in TOOL_FOLDERS:
                    skipped.append(f"{where}/: a folder (only the files at the top are graded)")
                continue
            if kind != "file":
                skipped.append(f"{where}: not a regular file")
                upload.problems.append(f"{display_name(entry)} is not a regular file: not imported")
                continue
            data, info = read_regular(entry, fd, MAX_FILE_BYTES, forbidden)
            if data is None:
                skipped.append(f"{where}: {info}")
                upload.problems.append(f"{display_name(entry)} was not imported: it is {info}"
                                       if info.startswith("a ") else
                                       f"{display_name(entry)} was not imported: {info}")
                continue
            total += len(data)
            if total > MAX_STUDENT_BYTES:
                skipped.append(f"{where}: over {MAX_STUDENT_BYTES // 2**20} MB in all")
                upload.problems.append(f"{display_name(entry)} was not imported: the submission is "
                                       f"over {MAX_STUDENT_BYTES // 2**20} MB")
                continue
            upload.files[entry] = data
            upload.mtimes[entry] = info.st_mtime
            if info.st_nlink > 1:
                upload.inodes[entry] = (info.st_dev, info.st_ino)
    finally:
        os.close(fd)
    stamp = upload.files.pop("timestamp.txt", None)
    if timestamps == "timestamp.txt" and stamp is not None:
        text = stamp.decode("utf-8", "replace").strip()
        upload.timestamp = parse_time(text)
        if upload.timestamp is None:
            upload.problems.append(f"timestamp.txt holds {text[:60]!r}, not a time: graded "
                                   "without a submission time (no late penalty)")
        else:
            upload.info.append(f"submitted at {format_time(upload.timestamp)} (timestamp.txt)")
    elif timestamps == "mtime":
        times = [t for n, t in upload.mtimes.items() if n.lower().endswith(".ipynb")]
        if times:
            upload.timestamp = _dt.datetime.fromtimestamp(max(times), _dt.timezone.utc) \
                .replace(tzinfo=None)
            upload.info.append(f"submitted at {format_time(upload.timestamp)} (the notebooks' "
                               "modification time)")
    return upload


def _shared_files(uploads: dict) -> None:
    """Flag files that are one and the same (hard links) in two students' folders."""
    owners: dict = {}
    for student, upload in uploads.items():
        for name, inode in upload.inodes.items():
            owners.setdefault(inode, []).append((student, name))
    for inode, who in owners.items():
        if len({s for s, _ in who}) < 2:
            continue
        for student, name in who:
            others = ", ".join(f"{display_name(s)}/{display_name(n)}" for s, n in who if s != student)
            uploads[student].problems.append(
                f"{display_name(name)} is the very same file (a hard link) as {others}: check "
                "whose work it is")


def _read_folder(submissions: Path, assignment: str, timestamps: str, skipped: list,
                 forbidden=frozenset()) -> dict:
    uploads = {}
    root_fd = os.open(submissions, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for name, kind in folder_entries(root_fd):
            if name in TOOL_FOLDERS:
                continue
            if kind == "link":
                skipped.append(f"{display_name(name)}: a symbolic link (never followed): not a "
                               "student's folder")
                continue
            if kind != "dir":
                skipped.append(f"{display_name(name)}: not a folder (expected "
                               "<student_id>/<notebook>.ipynb)")
                continue
            try:
                uploads[name] = _read_student_folder(root_fd, name, assignment, skipped,
                                                     timestamps, forbidden)
            except OSError as err:
                skipped.append(f"{display_name(name)}: unreadable ({err.strerror})")
                upload = uploads[name] = Upload(name)
                upload.problems.append(f"the folder could not be read ({err.strerror})")
    finally:
        os.close(root_fd)
    return uploads


# ------------------------------------------------------------------ writing


def _write_student(course: Course, assignment: str, student: str, upload: Upload) -> None:
    dest = course.root / "submitted" / student / assignment
    staging = dest.with_name(dest.name + ".incoming")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    for name, data in upload.files.items():
        if name in ("timestamp.txt", ".", "..") or "/" in name or "\0" in name:
            continue
        try:
            (staging / name).write_bytes(data)
        except OSError as err:  # a name too long for the file system, say
            upload.problems.append(f"{display_name(name)[:80]} could not be stored ({err.strerror})")
    if upload.timestamp is not None:
        (staging / "timestamp.txt").write_text(format_time(upload.timestamp) + "\n")
    shutil.rmtree(dest, ignore_errors=True)
    staging.rename(dest)


def _save_notes(course: Course, student: str, original: str, problems: list, info: list):
    path = course.root / NOTES_DIR / f"{student}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {"original": display_name(original), "problems": list(dict.fromkeys(problems)),
            "info": list(dict.fromkeys(info))}
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=1, ensure_ascii=False))
    os.replace(tmp, path)


def notes(course: Course, student: str) -> dict:
    """What collecting said about a student: {"original", "problems", "info"}."""
    try:
        data = json.loads((course.root / NOTES_DIR / f"{student}.json").read_text())
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def _expected_ids(course: Course, assignment: str) -> dict:
    out = {}
    for name in course.notebooks(assignment):
        path = course.release_dir(assignment) / name
        out[name] = grade_ids_in(path.read_bytes()) if path.is_file() else set()
    return out


def collect(course: Course, submissions, assignment=ASSIGNMENT, *, only_student=None,
            zip_regexp=DEFAULT_ZIP_REGEXP, timestamps="timestamp.txt") -> Collected:
    """Import ``submissions`` (a folder or an LMS zip) into ``submitted/``; see the module doc."""
    if timestamps not in TIMESTAMP_SOURCES:
        raise CollectError(f"timestamps={timestamps!r}: use one of {', '.join(TIMESTAMP_SOURCES)}")
    submissions = Path(submissions)
    if not submissions.exists():
        raise CollectError(f"{submissions}: no such folder or zip file")
    skipped: list = []
    if submissions.is_file():
        if not zipfile.is_zipfile(submissions):
            raise CollectError(f"{submissions} is neither a folder of "
                               "<student_id>/<notebook>.ipynb nor a zip file")
        uploads = read_zip(submissions, zip_regexp, skipped, assignment)
        if not uploads:
            raise CollectError(
                f"no file in {submissions} matches the pattern {zip_regexp!r} (nbgrader's "
                "<assignment>_<student>_attempt_<timestamp>_<notebook>.ipynb); pass "
                "--zip-regexp for your learning-management system's naming")
    else:
        uploads = _read_folder(submissions, assignment, timestamps, skipped,
                               course_files(course.root))
        _shared_files(uploads)
    result = Collected([], skipped=skipped)
    ids: dict = {}
    for original in sorted(uploads):
        student = normalise_student_id(original)
        while student in ids:  # astronomically unlikely: a folder named like a safe id
            student = f"{student}x"
        ids[student] = original
    expected = _expected_ids(course, assignment)
    for student, original in sorted(ids.items()):
        if only_student and only_student not in (student, original):
            continue
        upload = uploads[original]
        if student != original:
            result.names[student] = display_name(original)
            upload.problems.insert(0, f"the name {display_name(original)!r} is not a usable "
                                   f"student id: graded as {student!r}")
        find_notebooks(upload, expected)
        _write_student(course, assignment, student, upload)
        _save_notes(course, student, original, upload.problems, upload.info)
        result.students.append(student)
        if upload.problems:
            result.notes[student] = list(dict.fromkeys(upload.problems))
        if upload.info:
            result.info[student] = list(upload.info)
    if not result.students:
        what = f"student {only_student!r}" if only_student else "any student folder"
        raise CollectError(f"{submissions} holds no {what} (expected <student_id>/<notebook>.ipynb)")
    return result
