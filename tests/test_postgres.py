"""The gradebook on a real PostgreSQL server, set up exactly as docs/grading-at-scale.md says.

The test starts a throwaway PostgreSQL server on loopback (Debian's
``postgresql`` binaries, which ``make`` installs when missing; skipped with
the reason where there are none), writes an ``nbgrader_config.py`` holding
only the ``db_url`` before the first release (the documented step), releases,
grades two students, and compares every CSV with the same course recorded into
SQLite. The SQLite side records the stored results of the PostgreSQL run (no
notebook runs twice: both sides record the very same scored results, so any
difference is the gradebook's).
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from autograder.release.course import COURSE_ID, Course, tools_env
from student_copies import CAPTIONING as NOTEBOOKS  # what the test course hands out
from student_copies import CAPTIONING_RELEASE, CAPTIONING_UNITS, write_submission

REPO = Path(__file__).resolve().parents[1]
CSVS = ("grades.csv", "grades_by_test.csv", "review.csv")
LIMITS = ["--cell-timeout", "60", "--timeout", "300"]


def test_release_completes_a_config_started_by_hand(tmp_path):
    """Only a db_url before the first release: the release adds what nbgrader needs."""
    from traitlets.config.loader import PyFileConfigLoader
    course = Course(tmp_path / "course")
    course.root.mkdir()
    url = "postgresql://grader@dbhost/rnn_course"
    mine = f"c = get_config()\nc.CourseDirectory.db_url = {url!r}\n"
    course.config_path.write_text(mine)
    course.write_config()
    config = PyFileConfigLoader(course.config_path.name, path=str(course.root)).load_config()
    assert config.CourseDirectory.db_url == url                 # the instructor's line kept
    assert config.CourseDirectory.course_id == COURSE_ID        # what nbgrader needs, added
    assert config.CourseDirectory.root == str(course.root)
    assert config.Execute.timeout > 0
    assert course.config_path.read_text().endswith(mine)        # theirs last: theirs win
    completed = course.config_path.read_text()
    course.write_config()                                       # a complete one is kept
    assert course.config_path.read_text() == completed


def _server_binaries() -> Path | None:
    found = shutil.which("initdb")
    if found:
        return Path(found).resolve().parent
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                      key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0)
    return Path(versions[-1]).parent if versions else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def postgres_url():
    """A PostgreSQL server on 127.0.0.1 (trust authentication) with an empty database."""
    bindir = _server_binaries()
    if bindir is None:
        pytest.skip("PostgreSQL server binaries (initdb, pg_ctl) not found: `make postgres-tools` "
                    "installs Debian's postgresql (or `apt-get install postgresql`)")
    try:
        import psycopg
    except ImportError:
        pytest.skip("the psycopg driver is missing: pip install -e '.[postgres]'")
    run_as = {}
    if os.getuid() == 0:  # PostgreSQL refuses to run as root: run it as the postgres user
        try:
            user = pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip("running as root and there is no 'postgres' user to run the server as")
        run_as = {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": []}
    home = Path(tempfile.mkdtemp(prefix="rnn-postgres-"))
    home.chmod(0o755)
    data = home / "data"
    data.mkdir()
    if run_as:
        os.chown(data, run_as["user"], run_as["group"])
        os.chown(home, run_as["user"], run_as["group"])
    port = _free_port()
    env = {"PATH": os.environ.get("PATH", ""), "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"}
    log = home / "server.log"

    def pg(*args, check=True):
        proc = subprocess.run([str(bindir / args[0]), *args[1:]], env=env, capture_output=True,
                              text=True, cwd=home, **run_as)
        if check and proc.returncode != 0:
            server_log = log.read_text() if log.exists() else ""
            pytest.fail(f"{' '.join(args[:2])} failed:\n{proc.stdout}{proc.stderr}{server_log}")
        return proc

    pg("initdb", "-D", str(data), "-U", "grader", "--auth=trust", "--no-sync")
    pg("pg_ctl", "-D", str(data), "-l", str(log), "-w", "-t", "120", "-o",
       f"-c listen_addresses=127.0.0.1 -p {port} -k {home} -c fsync=off", "start")
    try:
        with psycopg.connect(f"postgresql://grader@127.0.0.1:{port}/postgres",
                             autocommit=True) as conn:
            conn.execute("CREATE DATABASE rnn_course")
        yield f"postgresql://grader@127.0.0.1:{port}/rnn_course"
    finally:
        pg("pg_ctl", "-D", str(data), "-m", "immediate", "stop", check=False)
        shutil.rmtree(home, ignore_errors=True)


def _cli(*args):
    proc = subprocess.run([sys.executable, "-m", "autograder.cli", *args], env=tools_env(),
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def _double_dWh(name, nb):
    if name == "RNN_Captioning.ipynb":
        for cell in nb["cells"]:
            cell["source"] = cell["source"].replace("return dx, dprev_h, dWx, dWh, db",
                                                    "return dx, dprev_h, dWx, 2 * dWh, db")


def _submissions(folder: Path) -> None:
    write_submission(folder / "correct", NOTEBOOKS)
    write_submission(folder / "wrong-dWh", NOTEBOOKS, _double_dWh)


@pytest.mark.slow
def test_a_postgresql_gradebook_gives_the_same_grades_as_sqlite(postgres_url, tmp_path):
    from nbgrader.api import Gradebook
    course = Course(tmp_path / "course")
    course.root.mkdir()
    # docs/grading-at-scale.md: before the first release, only the db_url
    theirs = f"c = get_config()\nc.CourseDirectory.db_url = {postgres_url!r}\n"
    course.config_path.write_text(theirs)
    _cli("release", "--course", str(course.root), "--skip-checks", *CAPTIONING_RELEASE)
    assert not course.gradebook_path.exists()           # everything went to the server
    subs = tmp_path / "subs"
    _submissions(subs)
    out = _cli("grade", "--course", str(course.root), str(subs), "--workers", "2",
               "--no-progress", *LIMITS)
    assert "4 notebook(s) run" in out, out
    on_postgres = {name: (course.root / name).read_text() for name in CSVS}
    with Gradebook(postgres_url, COURSE_ID) as gb:
        assert sorted(s.student_id for s in gb.assignment_submissions("rnn_captioning")) == \
            ["correct", "wrong-dWh"]
    # nbgrader's own commands read the same gradebook from the completed configuration
    listed = subprocess.run([sys.executable, "-m", "nbgrader", "db", "student", "list"],
                            cwd=course.root, env=tools_env(), capture_output=True, text=True)
    assert listed.returncode == 0 and "wrong-dWh" in listed.stdout + listed.stderr, listed

    # the same course with the SQLite gradebook: the instructor's db_url line removed
    course.config_path.write_text(course.config_path.read_text().replace(theirs, ""))
    _cli("release", "--course", str(course.root), "--skip-checks", *CAPTIONING_RELEASE)
    out = _cli("grade", "--course", str(course.root), "--no-progress", *LIMITS)
    assert "0 notebook(s) run, 4 unchanged" in out, out
    assert course.gradebook_path.is_file()
    for name in CSVS:
        assert (course.root / name).read_text() == on_postgres[name], name
    import csv
    import io
    full = sum(spec.points for spec in CAPTIONING_UNITS.values())
    raw = {r["student_id"]: float(r["raw_score"])
           for r in csv.DictReader(io.StringIO(on_postgres["grades.csv"]))}
    assert raw == {"correct": full, "wrong-dWh": full - 2}
