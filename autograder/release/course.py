"""The nbgrader course directory: where everything of one course lives.

Instructor-only. ``rnn-assignment release --course DIR`` creates (or updates)
this layout; the other commands (grading, feedback, export) read it.

    DIR/
      nbgrader_config.py          course id, root, assignment name, per-cell time limit,
                                  and RNN_ASSIGNMENT_REFERENCES for plain `nbgrader` runs
                                  (one started by hand, e.g. with only a db_url, is
                                  completed; its lines come last and win)
      .course_secret              private HMAC key of the hidden cases (0600, never shipped)
      .gitignore                  keeps the secret and hidden/ out of any repository
      hidden/references.npz       hidden inputs and reference outputs (from the secret)
      gradebook.db                nbgrader's gradebook (SQLite; generate_assignment adds
                                  the assignment and its graded cells)
      source/<assignment>/        the source notebooks, nothing else
      release/<assignment>/       what students get (written by nbgrader generate_assignment)
      <assignment>_student.zip    the student bundle

Nothing but the notebooks goes into ``source/<assignment>/``: nbgrader copies
every other file found there into the release *and* into every autograded
folder.
"""

from __future__ import annotations

import os
import secrets
import shutil
import stat
import sys
from dataclasses import dataclass
from pathlib import Path

from assignment.formats.check_file import REFERENCES_ENV
from assignment.units import NOTEBOOKS as NOTEBOOK_NAMES

from ..grading.limits import CELL_SECONDS

REPO = Path(__file__).resolve().parents[2]
SOURCE_NOTEBOOKS = REPO / "notebooks"

COURSE_ID = "rnn-captioning"
ASSIGNMENT = "rnn_captioning"
NOTEBOOKS = tuple(f"{name}.ipynb" for name in NOTEBOOK_NAMES)

SECRET_FILE = ".course_secret"
REFERENCES_FILE = Path("hidden") / "references.npz"

CONFIG_TEMPLATE = '''\
# nbgrader configuration of the RNN/LSTM captioning course.
# Written by `rnn-assignment release`; edit freely, the release keeps it as is.
# (A file you start yourself, e.g. with only a db_url, is completed: these lines
# go first and yours after them, so your settings win.)
import os
from pathlib import Path

c = get_config()  # noqa: F821 (provided by nbgrader)
_here = Path(__file__).resolve().parent

c.CourseDirectory.course_id = {course_id!r}
c.CourseDirectory.root = str(_here)

# The assignment of this course. nbgrader takes it as an argument
# (`nbgrader autograde {assignment}`); setting c.CourseDirectory.assignment_id
# here instead would make nbgrader refuse every command that names it.
ASSIGNMENT = {assignment!r}

# a cell that runs longer than this while grading is stopped and gets no points
c.Execute.timeout = {timeout}

# `rnn-assignment grade` runs kernels in a sandbox and scores outside them
# (docs/grading-at-scale.md). For plain, unsandboxed `nbgrader autograde` on a
# trusted machine, kernels inherit this environment: the hidden tests' module
# and the hidden references, so they score in the kernel.
os.environ.setdefault({env!r}, str(_here / {references!r}))
try:
    import autograder as _autograder
    _kernel = str(Path(_autograder.__file__).resolve().parent / "kernel")
    if _kernel not in os.environ.get("PYTHONPATH", "").split(os.pathsep):
        os.environ["PYTHONPATH"] = os.pathsep.join(
            p for p in (_kernel, os.environ.get("PYTHONPATH", "")) if p)
except ImportError:  # nbgrader run outside the instructor environment
    pass
'''

# the line that tells a complete configuration from one an instructor started
CONFIG_MARK = "# Written by `rnn-assignment release`"
YOUR_SETTINGS = ("\n# ---- your settings (kept as you wrote them; they come last, so they win) "
                 "----\n")

GITIGNORE = """\
# Instructor-only: never commit the course secret or the hidden references.
{secret}
hidden/
""".format(secret=SECRET_FILE)


class CourseError(RuntimeError):
    """Something is wrong with the course directory (message says what and where)."""


@dataclass(frozen=True)
class Course:
    """Paths of one nbgrader course directory."""

    root: Path

    def __post_init__(self):
        object.__setattr__(self, "root", Path(self.root).resolve())

    @property
    def config_path(self):
        return self.root / "nbgrader_config.py"

    @property
    def secret_path(self):
        return self.root / SECRET_FILE

    @property
    def references_path(self):
        return self.root / REFERENCES_FILE

    @property
    def gradebook_path(self):
        return self.root / "gradebook.db"

    @property
    def gradebook_url(self):
        return f"sqlite:///{self.gradebook_path}"

    def source_dir(self, assignment=ASSIGNMENT):
        return self.root / "source" / assignment

    def release_dir(self, assignment=ASSIGNMENT):
        return self.root / "release" / assignment

    def bundle_path(self, assignment=ASSIGNMENT):
        return self.root / f"{assignment}_student.zip"

    # ------------------------------------------------------------ set-up steps

    def write_config(self, assignment=ASSIGNMENT):
        """Write nbgrader_config.py, or complete one the instructor started.

        A configuration written by a release is kept as it is (an instructor
        may have edited it). One started by hand before the first release (say,
        only ``c.CourseDirectory.db_url``) lacks what nbgrader needs (course
        id, root): our settings are put first and the instructor's lines after
        them, unchanged, so theirs win.
        """
        self.root.mkdir(parents=True, exist_ok=True)
        ours = CONFIG_TEMPLATE.format(
            course_id=COURSE_ID, assignment=assignment, timeout=f"{CELL_SECONDS:g}",
            env=REFERENCES_ENV, references=REFERENCES_FILE.as_posix())
        theirs = self.config_path.read_text() if self.config_path.exists() else None
        if theirs is None or CONFIG_MARK not in theirs:
            tmp = self.config_path.with_name(self.config_path.name + ".tmp")
            tmp.write_text(ours if theirs is None else ours + YOUR_SETTINGS + theirs)
            os.replace(tmp, self.config_path)
        gitignore = self.root / ".gitignore"
        if not gitignore.exists():
            gitignore.write_text(GITIGNORE)

    def secret(self) -> bytes:
        """The course secret: created (0600) on first use, the same bytes ever after."""
        path = self.secret_path
        if not path.exists():
            self.root.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(secrets.token_hex(32) + "\n")
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            print(f"warning: {path} was readable by others (mode {mode:o}); set to 0600",
                  file=sys.stderr)
            path.chmod(0o600)
        text = path.read_text().strip()
        try:
            key = bytes.fromhex(text)
        except ValueError:
            key = b""
        if len(key) < 16:
            raise CourseError(
                f"{path} must hold the course secret as hex (64 characters, written by "
                f"`rnn-assignment release`); it holds {len(text)} characters that are not. "
                f"Restore it from your backup: a new secret changes every hidden case.")
        return key

    def notebooks(self, assignment=ASSIGNMENT) -> tuple:
        """The notebooks this course hands out (those of source/<assignment>/), in course order."""
        chosen = tuple(n for n in NOTEBOOKS if (self.source_dir(assignment) / n).is_file())
        if not chosen:
            raise CourseError(f"{self.source_dir(assignment)} holds none of the notebooks "
                              f"({', '.join(NOTEBOOKS)}): run `rnn-assignment release` first")
        return chosen

    def choose_notebooks(self, assignment=ASSIGNMENT, requested=None) -> tuple:
        """The notebooks a release hands out: ``requested`` (names, with or without .ipynb),
        else the ones the course already hands out, else all of them; in course order."""
        if requested is None:
            try:
                return self.notebooks(assignment)
            except CourseError:
                return NOTEBOOKS
        wanted = {n if n.endswith(".ipynb") else f"{n}.ipynb" for n in requested}
        unknown = sorted(wanted - set(NOTEBOOKS))
        if unknown or not wanted:
            raise CourseError(f"unknown notebook(s) {', '.join(unknown) or '(none given)'}: "
                              f"choose among {', '.join(NOTEBOOKS)}")
        return tuple(n for n in NOTEBOOKS if n in wanted)

    def install_source(self, notebooks, assignment=ASSIGNMENT, notebooks_dir=SOURCE_NOTEBOOKS):
        """Copy ``notebooks`` into source/<assignment>/, removing anything else there."""
        dest = self.source_dir(assignment)
        missing = [n for n in notebooks if not (Path(notebooks_dir) / n).is_file()]
        if missing:
            raise CourseError(f"source notebook(s) missing in {notebooks_dir}: {', '.join(missing)}")
        if dest.exists():
            for entry in dest.iterdir():
                if entry.name not in notebooks:
                    shutil.rmtree(entry) if entry.is_dir() else entry.unlink()
        dest.mkdir(parents=True, exist_ok=True)
        for name in notebooks:
            shutil.copyfile(Path(notebooks_dir) / name, dest / name)


def tools_path(path):
    """PATH with this Python's scripts folder first (nbgrader calls `alembic`, `jupyter` by name).

    Needed when the virtual environment is used without being activated
    (``.venv/bin/rnn-assignment ...``).
    """
    scripts = str(Path(sys.executable).parent)
    parts = path.split(os.pathsep) if path else []
    return os.pathsep.join([scripts] + [p for p in parts if p != scripts])


def tools_env(**extra):
    """os.environ for an nbgrader subprocess: tools on PATH, plus ``extra``."""
    env = dict(os.environ)
    env["PATH"] = tools_path(env.get("PATH", ""))
    env.update(extra)
    return env
