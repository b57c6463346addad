"""The kernel's own uid when the grader runs as root: handing files over, and killing every process.

Instructor-only. As root, each sandboxed kernel runs as ``UID_BASE`` + the
driver thread's id: root is exempt from the process limit, and a uid per
concurrent sandbox keeps their limits apart.
"""

from __future__ import annotations

import os
import subprocess
import time

# Kernel uids when the grader is root: UID_BASE + the driver thread's native id
# (unique among live threads on the machine). Far above login users, system
# users and the usual /etc/subuid ranges.
UID_BASE = 1_700_000_000


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
