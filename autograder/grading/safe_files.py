"""Reading a student's files without following links: file descriptors opened with O_NOFOLLOW.

Instructor-only; used by ``autograder.grading.collect`` (submissions into the
course) and ``autograder.grading.submitted_files`` (``submitted/`` read for
grading). A symbolic link is never followed, a hard link to one of the
course's own files is never read, and nothing larger than the given limit is
read.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

__all__ = ["display_name", "open_dir", "read_regular", "folder_entries", "course_files",
           "INSTRUCTOR_FOLDERS"]


def display_name(name: str) -> str:
    return name.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def open_dir(path, dir_fd=None) -> int:
    return os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=dir_fd)


def read_regular(name: str, dir_fd: int, limit: int, forbidden=frozenset()):
    """(bytes, stat) of a regular file in the folder ``dir_fd``; (None, why) otherwise.

    ``forbidden``: (device, inode) pairs of the course's own files: a hard link to
    one of them is refused like a symbolic link.
    """
    try:
        fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=dir_fd)
    except OSError as err:
        why = "a symbolic link (never followed)" if err.errno in (errno.ELOOP, errno.ENOTDIR) \
            else f"unreadable ({err.strerror})"
        return None, why
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            return None, "not a regular file"
        if (info.st_dev, info.st_ino) in forbidden:
            return None, "a hard link to a file of the course (never read)"
        if info.st_size > limit:
            return None, f"larger than {limit // 2**20} MB"
        chunks, size = [], 0
        while size <= limit:
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        if size > limit:
            return None, f"larger than {limit // 2**20} MB"
        return b"".join(chunks), info
    finally:
        os.close(fd)


def folder_entries(dir_fd: int) -> list:
    """(name, kind) of a folder's entries, kind 'dir', 'file', 'link' or 'other'; sorted."""
    out = []
    with os.scandir(dir_fd) as it:
        for entry in it:
            if entry.is_symlink():
                kind = "link"
            elif entry.is_dir(follow_symlinks=False):
                kind = "dir"
            elif entry.is_file(follow_symlinks=False):
                kind = "file"
            else:
                kind = "other"
            out.append((entry.name, kind))
    return sorted(out)


# the course's instructor-only folders (its top-level files count too); not submitted/,
# nor any folder of the instructor's own where downloads may be kept
INSTRUCTOR_FOLDERS = ("source", "release", "hidden", "autograded", "feedback", "grading")


def course_files(root) -> frozenset:
    """(device, inode) of the course's instructor files (hard links to them are refused)."""
    root = Path(root)
    found = set()
    walks = [(str(root), [], [e.name for e in os.scandir(root) if e.is_file(follow_symlinks=False)])
             ] if root.is_dir() else []
    for name in INSTRUCTOR_FOLDERS:
        walks.extend(os.walk(root / name))
    for folder, _, files in walks:
        for name in files:
            try:
                info = os.lstat(os.path.join(folder, name))
            except OSError:
                continue
            if stat.S_ISREG(info.st_mode):
                found.add((info.st_dev, info.st_ino))
    return frozenset(found)
