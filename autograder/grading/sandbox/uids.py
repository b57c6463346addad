"""The kernel's own uid when the grader runs as root: reserving it, handing files over, killing.

Instructor-only. As root, each sandboxed kernel runs as an unprivileged uid
of its own (root is exempt from the process limit, and a uid per live sandbox
keeps their limits apart). ``reserve_uid`` hands out ``UID_BASE + n`` for the
first ``n`` whose lock file in a root-only folder no other live sandbox holds
(an ``flock``, so it is unique across threads and processes of the machine,
and the kernel's start and run may happen in different threads); the sandbox
keeps it until it is killed and its files are gone.
"""

from __future__ import annotations

import fcntl
import os
import stat
import subprocess
import tempfile
import time

from .host import SandboxError

# Kernel uids when the grader is root: UID_BASE + a reserved slot. Far above
# login users, system users and the usual /etc/subuid ranges.
UID_BASE = 1_700_000_000
UID_SLOTS = 65_536


def uid_lock_dir() -> str:
    """The root-only folder of the uids' lock files (one per slot ever used), made if missing.

    Under /run when the machine has it (one folder for every process, whatever
    its TMPDIR), otherwise in the temporary folder.
    """
    parent = "/run" if os.path.isdir("/run") else tempfile.gettempdir()
    path = os.path.join(parent, "rnn-sandbox-uids")
    try:
        os.mkdir(path, 0o700)
    except FileExistsError:
        pass
    st = os.lstat(path)
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != 0 or st.st_mode & 0o077:
        raise SandboxError(f"{path} holds the locks of the sandboxes' uids, so it must be a "
                           "folder that only root can use; it is not: remove it and grade again")
    return path


class UidReservation:
    """One kernel uid, held (an flock'ed file) until ``release``."""

    def __init__(self, uid: int, fd: int):
        self.uid = uid
        self._fd = fd

    def release(self):
        """Let another sandbox use the uid (after its processes and files are gone)."""
        if self._fd is not None:
            os.close(self._fd)   # closing the only descriptor drops the flock
            self._fd = None


def reserve_uid(setpriv: str) -> UidReservation:
    """The first free kernel uid, reserved; its leftover processes (if any) are killed."""
    folder = uid_lock_dir()
    for slot in range(UID_SLOTS):
        fd = os.open(os.path.join(folder, str(slot)), os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW,
                     0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            continue
        uid = UID_BASE + slot
        # A holder that died without cleaning up (its processes die with it, see
        # --die-with-parent); whatever still runs as this uid is no live sandbox's.
        kill_uid(uid, setpriv)
        return UidReservation(uid, fd)
    raise SandboxError(f"all {UID_SLOTS} sandbox uids are in use on this machine (locks in "
                       f"{folder}); run fewer grading workers")


def chown_tree(top: str, uid: int, gid: int):
    """chown a folder and everything in it, never following symlinks."""
    try:
        os.chown(top, uid, gid, follow_symlinks=False)
    except OSError:
        pass
    for folder, dirs, files, dirfd in os.fwalk(top, follow_symlinks=False):
        for name in dirs + files:
            try:
                os.chown(name, uid, gid, dir_fd=dirfd, follow_symlinks=False)
            except OSError:
                pass


def uid_processes(uid: int) -> list[int]:
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.stat(f"/proc/{entry}").st_uid == uid:
                    pids.append(int(entry))
            except OSError:
                pass
    return pids


def kill_uid(uid: int, setpriv: str):
    """Kill every process of a sandbox uid (belt and braces after the pid namespace)."""
    for _ in range(50):
        if not uid_processes(uid):
            return
        # kill(-1) as that uid reaches exactly the processes of that uid.
        subprocess.run([setpriv, f"--reuid={uid}", f"--regid={uid}", "--clear-groups", "--",
                        "kill", "-s", "KILL", "-1"], stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, env={"PATH": "/usr/bin:/bin"}, check=False)
        time.sleep(0.02)
