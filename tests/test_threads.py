"""BLAS thread limits set by ``import assignment`` (assignment/threads.py).

Each case starts a fresh Python process (thread limits are per process and a
BLAS reads its environment variables when it loads), imports NumPy first, then
``assignment``, and reads the limits in force with threadpoolctl's own
``threadpool_info``.
"""

import json
import os
import subprocess
import sys

import pytest

from assignment import threads

VARIABLES = (threads.SETTING,) + threads.BLAS_VARIABLES

PROBE = """
import json, os, sys
import numpy  # NumPy (and its BLAS) first, as in a notebook that imports numpy before assignment
from threadpoolctl import threadpool_info
before = [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"]
for assignment_ in json.loads(sys.argv[1]).items():  # settings made inside the process
    os.environ[assignment_[0]] = assignment_[1]
import assignment
after = [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"]
print(json.dumps({"before": before, "after": after}))
"""


def _probe(env=None, set_inside=None, cpus=None):
    """BLAS thread counts before and after `import assignment` in a fresh process."""
    clean = {k: v for k, v in os.environ.items() if k not in VARIABLES}
    clean.update(env or {})
    preexec = (lambda: os.sched_setaffinity(0, cpus)) if cpus else None
    proc = subprocess.run([sys.executable, "-c", PROBE, json.dumps(set_inside or {})], env=clean,
                          capture_output=True, text=True, timeout=120, preexec_fn=preexec)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["after"], "threadpoolctl found no BLAS loaded by NumPy"
    return result


def _needs_two_cpus():
    if threads.usable_cpus() < 2:
        pytest.skip("this machine lets the process use one CPU only: a limit of 2 cannot be seen")


def test_import_limits_blas_to_one_thread_by_default():
    result = _probe()
    assert result["after"] == [1] * len(result["after"])


def test_the_users_assignment_setting_wins():
    _needs_two_cpus()
    assert _probe({threads.SETTING: "2"})["after"] == [2]


def test_an_explicit_openblas_variable_wins():
    _needs_two_cpus()
    result = _probe({"OPENBLAS_NUM_THREADS": "2"})
    assert result["before"] == [2] and result["after"] == [2]


def test_a_setting_made_after_numpy_was_imported_still_wins():
    # a notebook that sets os.environ after `import numpy`: OpenBLAS has already read its
    # variables, so only a limit applied at `import assignment` can honour it
    _needs_two_cpus()
    assert _probe(set_inside={"OMP_NUM_THREADS": "2"})["after"] == [2]
    assert _probe({"OPENBLAS_NUM_THREADS": "2"}, set_inside={threads.SETTING: "1"})["after"] == [1]


def test_auto_means_the_cpus_the_process_may_use():
    _needs_two_cpus()
    one_cpu = {min(os.sched_getaffinity(0))}
    assert _probe({threads.SETTING: "auto"}, cpus=one_cpu)["after"] == [1]
    assert _probe({threads.SETTING: "auto"})["after"] == [threads.usable_cpus()]


def test_a_bad_assignment_setting_is_a_clear_error_at_import():
    clean = {k: v for k, v in os.environ.items() if k not in VARIABLES}
    proc = subprocess.run([sys.executable, "-c", "import assignment"], capture_output=True,
                          text=True, env={**clean, threads.SETTING: "two"}, timeout=120)
    assert proc.returncode != 0
    last = proc.stderr.strip().splitlines()[-1]
    assert f"{threads.SETTING}='two'" in last and "positive integer or 'auto'" in last
    assert "unset it" in last


def test_a_bad_blas_variable_is_a_warning_and_the_default_applies():
    # not our variable: the BLAS itself shrugs it off, so the import must not fail over it
    result = _probe({"OPENBLAS_NUM_THREADS": "two"})
    assert result["after"] == [1]
    with pytest.warns(UserWarning, match=r"OPENBLAS_NUM_THREADS='two' is not a positive integer"):
        assert threads.requested_threads({"OPENBLAS_NUM_THREADS": "two"})[0] == 1


def test_omp_num_threads_may_list_nested_levels():
    assert threads.requested_threads({"OMP_NUM_THREADS": "3,2"}) == (3, "OMP_NUM_THREADS=3,2")


def test_the_cgroup_quota_caps_the_usable_cpus(tmp_path, monkeypatch):
    v2 = tmp_path / "v2"
    v2.mkdir()
    (v2 / "cpu.max").write_text("150000 100000\n")
    assert threads._cgroup_cpu_quota(v2) == 1.5
    (v2 / "cpu.max").write_text("max 100000\n")
    assert threads._cgroup_cpu_quota(v2) is None
    v1 = tmp_path / "v1"
    (v1 / "cpu").mkdir(parents=True)
    (v1 / "cpu" / "cpu.cfs_quota_us").write_text("50000\n")
    (v1 / "cpu" / "cpu.cfs_period_us").write_text("100000\n")
    assert threads._cgroup_cpu_quota(v1) == 0.5
    (v1 / "cpu" / "cpu.cfs_quota_us").write_text("-1\n")
    assert threads._cgroup_cpu_quota(v1) is None
    assert threads._cgroup_cpu_quota(tmp_path / "none") is None

    # a container given 1.5 CPUs of a bigger machine may use one thread, and never zero
    monkeypatch.setattr(threads, "_cgroup_cpu_quota", lambda: 1.5)
    assert threads.usable_cpus() == 1
    monkeypatch.setattr(threads, "_cgroup_cpu_quota", lambda: 0.2)
    assert threads.usable_cpus() == 1
    assert threads.requested_threads({threads.SETTING: "auto"}) == (1, f"{threads.SETTING}=auto")


def test_the_assignment_setting_comes_before_the_blas_variables():
    env = {"OMP_NUM_THREADS": "3", "OPENBLAS_NUM_THREADS": "4"}
    assert threads.requested_threads(env)[0] == 4
    assert threads.requested_threads({**env, threads.SETTING: "5"})[0] == 5
    assert threads.requested_threads({})[0] == 1
