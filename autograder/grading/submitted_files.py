"""Reading ``submitted/<student>/<assignment>/`` for grading: regular files only, never a link.

Instructor-only, used by ``autograder.grading.jobs``. ``collect`` only ever writes
regular files there, but ``grade`` without ``SUBMISSIONS`` grades whatever
``submitted/`` holds (filled by nbgrader's exchange, an unzipped archive, a
copy), so the same rule as collecting applies when it is read: every folder
on the way (the student's, the assignment's) and every file is opened with
``O_NOFOLLOW``; a link anywhere is never followed (it could be the course's
``source/`` or another student's folder) and is reported, so the notebook it
stood for is graded as not submitted and flagged.
"""

from __future__ import annotations

import os

from .safe_files import display_name, folder_entries, open_dir, read_regular
from .upload import MAX_FILE_BYTES

__all__ = ["read_submitted_folder"]


def read_submitted_folder(root, student: str, assignment: str,
                          forbidden=frozenset()) -> tuple[dict, list]:
    """(name -> bytes of the regular files at the top, [problem, ...]) of one submission.

    ``root`` is the course's ``submitted/`` folder; ``forbidden``: ``course_files``.
    Problems name what was not read and why (a link, a hard link to an
    instructor file, not a regular file, too large, unreadable).
    """
    files, problems = {}, []
    fds = []
    try:
        fds.append(open_dir(str(root)))
        path, where = str(root), "submitted"
        for name in (student, assignment):
            path, where = os.path.join(path, name), f"{where}/{display_name(name)}"
            try:
                fds.append(open_dir(name, dir_fd=fds[-1]))
            except OSError as err:
                why = "is a symbolic link: never followed, nothing in it was graded" \
                    if os.path.islink(path) else f"could not be read ({err.strerror})"
                problems.append(f"{where} {why}")
                return files, problems
        for name, kind in folder_entries(fds[-1]):
            if kind == "dir":
                continue
            if kind == "link":
                problems.append(f"{display_name(name)} is a symbolic link in {where}: never followed, "
                                "not graded")
                continue
            data, info = read_regular(name, fds[-1], MAX_FILE_BYTES, forbidden)
            if data is None:
                problems.append(f"{display_name(name)} in {where} was not read: {info}")
                continue
            files[name] = data
    except OSError as err:
        problems.append(f"submitted/{display_name(student)} could not be read ({err.strerror})")
    finally:
        for fd in fds:
            os.close(fd)
    return files, problems
