"""The warm kernel pool of a grading worker (autograder/grading/sandbox/kernel_pool.py).

Real bubblewrap kernels throughout: a kernel started ahead serves one student
and nothing of that student reaches the next one; a spare of another
configuration, or one that died while it waited, is not used; the kernels'
uids (as root) are reserved for a sandbox's whole life; a worker process that
ends leaves no sandbox; and preloading the set-up cells' modules changes
nothing the set-up cells show.
"""

import ast
import importlib.util
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from pathlib import Path

import matplotlib
import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from autograder.grading.limits import Limits
from autograder.grading.sandbox.kernel_pool import KernelPool
from autograder.grading.sandbox.run_notebook import run_notebook
from autograder.grading.sandbox.warm_kernel import PRELOAD, KernelConfig, start_kernel

REPO = Path(__file__).resolve().parents[1]
LIMITS = Limits(cell_seconds=60, total_seconds=120)

needs_bwrap = pytest.mark.skipif(shutil.which("bwrap") is None,
                                 reason="bubblewrap (bwrap) is not installed: `make install`")


def processes_naming(text: str) -> list[str]:
    """Command lines of this machine's processes that contain `text`."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                raw = Path(f"/proc/{entry}/cmdline").read_bytes()
            except OSError:
                continue
            cmd = raw.replace(b"\0", b" ").decode("utf-8", "replace")
            if text in cmd:
                found.append(cmd)
    return found


def wait_until(condition, what: str, seconds: float = 60):
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"still waiting for {what}"
        time.sleep(0.1)


def printed(cell) -> str:
    return "".join(out.get("text", "") for out in cell.outputs if out.output_type == "stream")


def errors(nb) -> list:
    return [f"{out.ename}: {out.evalue}" for cell in nb.cells if cell.cell_type == "code"
            for out in cell.outputs if out.output_type == "error"]


@pytest.fixture
def short_tmp():
    """A folder with a short path (unix socket paths must stay short), removed after."""
    path = tempfile.mkdtemp(prefix="kp-", dir="/tmp")
    os.chmod(path, 0o755)
    yield Path(path)
    shutil.rmtree(path, ignore_errors=True)


# -- the preload list --------------------------------------------------------------------


def _set_up_imports(path: Path) -> set:
    nb = nbformat.read(path, as_version=4)
    cell = next(c for c in nb.cells if c.cell_type == "code" and "Set-up" in c.source)
    source = "\n".join(line for line in cell.source.splitlines()
                       if not line.lstrip().startswith("%"))
    names = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            names.add(node.module)
            package = importlib.util.find_spec(node.module).submodule_search_locations
            names.update(f"{node.module}.{alias.name}" for alias in node.names
                         if package and importlib.util.find_spec(f"{node.module}.{alias.name}"))
    return {n for n in names if n.split(".")[0] not in sys.stdlib_module_names}


def test_preload_is_exactly_what_the_set_up_cells_import():
    imported = set().union(*(_set_up_imports(p) for p in sorted((REPO / "notebooks").glob(
        "*.ipynb"))))
    parents = {name.rsplit(".", 1)[0] for name in imported if "." in name}
    assert imported - parents <= set(PRELOAD) <= imported | parents
    assert not any(name.startswith("autograder") for name in PRELOAD)


# -- uids as root --------------------------------------------------------------------------


@pytest.mark.skipif(os.geteuid() != 0, reason="kernel uids are reserved only when grading as root")
def test_a_uid_stays_reserved_after_the_thread_that_reserved_it_ends():
    from autograder.grading.sandbox.host import find_tools
    from autograder.grading.sandbox.uids import UID_BASE, reserve_uid

    setpriv = find_tools()["setpriv"]
    held = []
    for _ in range(3):           # each from a thread that ends at once
        t = threading.Thread(target=lambda: held.append(reserve_uid(setpriv)))
        t.start()
        t.join()
    # another process holds one too (as another Dask worker would)
    other = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent("""
            import sys
            from autograder.grading.sandbox.host import find_tools
            from autograder.grading.sandbox.uids import reserve_uid
            r = reserve_uid(find_tools()["setpriv"])
            print(r.uid, flush=True)
            sys.stdin.read()
            """)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        other_uid = int(other.stdout.readline())
        held.append(reserve_uid(setpriv))
        uids = [r.uid for r in held]
        assert len(set(uids + [other_uid])) == len(uids) + 1
        assert all(uid >= UID_BASE for uid in uids + [other_uid])
        released = held.pop(0)
        released.release()
        again = reserve_uid(setpriv)      # a released uid may serve the next sandbox
        held.append(again)
        assert again.uid not in [r.uid for r in held[:-1]] + [other_uid]
    finally:
        other.stdin.close()
        other.wait(30)
        for r in held:
            r.release()


# -- the pool ------------------------------------------------------------------------------

STUDENT_A = r"""
import json, os, subprocess, sys
import matplotlib, numpy
open(os.path.join(os.environ["HOME"], "a_home.txt"), "w").write("a")
open("a_workdir.txt", "w").write("a")
open("/tmp/a_tmp.txt", "w").write("a")
os.environ["A_SECRET"] = "1"
numpy.stolen = 1
matplotlib.rcParams["lines.linewidth"] = 7.25
sys.modules["a_module"] = sys
subprocess.Popen(["sleep", "613"], start_new_session=True)
if os.fork() == 0:
    if os.fork() == 0:
        os.setsid()
        os.execvp("sleep", ["sleep", "614"])
    os._exit(0)
os.wait()
print("done")
"""

# the command lines of every process a kernel can see (run inside the kernels)
CMDLINES = r"""
def cmdlines():
    out = []
    for p in os.listdir("/proc"):
        if p.isdigit():
            try:
                out.append(open(f"/proc/{p}/cmdline", "rb").read().replace(b"\0", b" ").decode())
            except OSError:
                pass
    return out
"""

WAIT_FOR_GO = CMDLINES + r"""
import time
while not os.path.exists("go"):
    time.sleep(0.05)
print(json.dumps({"siblings": sorted(os.listdir(os.path.dirname(os.getcwd()))),
                  "processes": cmdlines()}))
"""

STUDENT_B = r"""
import json, os, sys
import matplotlib, numpy
""" + CMDLINES + r"""
cmds = cmdlines()
print(json.dumps({"workdir": sorted(os.listdir(".")), "home": sorted(os.listdir(os.environ["HOME"])),
                  "tmp_a": os.path.exists("/tmp/a_tmp.txt"), "env": "A_SECRET" in os.environ,
                  "numpy": hasattr(numpy, "stolen"),
                  "linewidth": matplotlib.rcParams["lines.linewidth"],
                  "module": "a_module" in sys.modules,
                  "sleeps": [c for c in cmds if c.startswith("sleep")]}))
"""


@needs_bwrap
@pytest.mark.slow
def test_the_next_student_starts_from_a_clean_state(short_tmp):
    """A's kernel leaves files, environment, module state and processes; B, started while A
    ran, sees none of them, neither saw the other's sandbox, and A's processes are gone."""
    pool = KernelPool(str(short_tmp))
    config = KernelConfig.of({"NBGRADER_EXECUTION": "autograde"}, (), LIMITS, PRELOAD)
    try:
        a = pool.take(config)                 # B starts now, in the background
        a_workdir = a.workdir
        nb_a = new_notebook(cells=[new_code_cell(STUDENT_A), new_code_cell(WAIT_FOR_GO)])
        ran = {}
        runner = threading.Thread(target=lambda: ran.update(a=run_notebook(nb_a, kernel=a)))
        runner.start()
        b = pool.take(config)                 # B has started while A runs (A waits for "go")
        try:
            assert runner.is_alive() and b.alive()
            Path(a_workdir, "go").write_text("")
            runner.join(120)
            out_a = ran["a"]
            assert out_a.status == "ok", out_a.reason
            assert errors(out_a.nb) == [] and printed(out_a.nb.cells[0]) == "done\n"
            seen_by_a = json.loads(printed(out_a.nb.cells[1]))
            # A could not see B's sandbox while both lived
            assert seen_by_a["siblings"] == [os.path.basename(a_workdir)]
            assert os.path.isdir(b.workdir) and processes_naming(b.workdir)
            assert not [c for c in seen_by_a["processes"] if b.workdir in c]
            # on the host, A is gone: processes (both sleeps included), workdir
            assert processes_naming("sleep 613") == [] and processes_naming("sleep 614") == []
            assert processes_naming(a_workdir) == [] and not os.path.exists(a_workdir)

            out_b = run_notebook(new_notebook(cells=[new_code_cell(STUDENT_B)]), kernel=b)
        finally:
            b.close()
        assert out_b.status == "ok", out_b.reason
        seen_by_b = json.loads(printed(out_b.nb.cells[0]))
        assert seen_by_b == {"workdir": [], "home": [], "tmp_a": False, "env": False,
                             "numpy": False,
                             "linewidth": matplotlib.rcParamsDefault["lines.linewidth"],
                             "module": False, "sleeps": []}
    finally:
        pool.close()
    assert processes_naming(str(short_tmp)) == []
    assert os.listdir(short_tmp) == []


@needs_bwrap
@pytest.mark.slow
def test_a_spare_of_another_config_is_not_used(short_tmp):
    pool = KernelPool(str(short_tmp))
    first = KernelConfig.of({"WHICH": "first-config"}, (), LIMITS)
    second = KernelConfig.of({"WHICH": "second-config"}, (), LIMITS)
    try:
        pool.take(first).close()              # a spare for `first` starts
        kernel = pool.take(second)
        assert processes_naming("first-config") == []     # the spare was killed, not used
        assert kernel.config == second
        out = run_notebook(new_notebook(cells=[new_code_cell(
            "import os; print(os.environ['WHICH'])")]), kernel=kernel)
        assert out.status == "ok" and printed(out.nb.cells[0]) == "second-config\n"
    finally:
        pool.close()
    assert processes_naming(str(short_tmp)) == [] and os.listdir(short_tmp) == []


@needs_bwrap
@pytest.mark.slow
def test_a_spare_killed_while_it_waited_is_replaced(short_tmp, caplog):
    pool = KernelPool(str(short_tmp))
    config = KernelConfig.of({}, (), LIMITS)
    try:
        pool.take(config).close()             # the spare starts

        def spare_sandbox():
            """The spare's outer bwrap: a child of this process that names short_tmp."""
            for entry in os.listdir("/proc"):
                try:
                    stat = Path(f"/proc/{entry}/stat").read_text()
                    cmd = Path(f"/proc/{entry}/cmdline").read_bytes().decode("utf-8", "replace")
                except (OSError, NotADirectoryError):
                    continue
                if int(stat.rsplit(")", 1)[1].split()[1]) == os.getpid() and \
                        str(short_tmp) in cmd:
                    return int(entry)
            return None

        wait_until(lambda: spare_sandbox() is not None, "the spare's sandbox")
        killed = spare_sandbox()
        os.kill(killed, signal.SIGKILL)
        with caplog.at_level(logging.WARNING, logger="autograder.grading.sandbox.kernel_pool"):
            kernel = pool.take(config)
        assert kernel.sandbox.process.pid != killed and kernel.alive()
        assert any(r.name.endswith("kernel_pool") for r in caplog.records)
        out = run_notebook(new_notebook(cells=[new_code_cell("print(6 * 7)")]), kernel=kernel)
        assert out.status == "ok" and printed(out.nb.cells[0]) == "42\n"
    finally:
        pool.close()
    assert processes_naming(str(short_tmp)) == [] and os.listdir(short_tmp) == []


WORKER = textwrap.dedent("""
    import sys, time
    import nbformat
    from autograder.grading.fingerprint import worker_code_version
    from autograder.grading.worker import JOB_FORMAT, execute_job
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("print('graded')")])
    job = {"format": JOB_FORMAT, "code": worker_code_version(), "student": "s",
           "notebook": "n", "nb": nb, "files": {"answers.txt": b"x"},
           "inputs_name": "grading_inputs.npz"}
    result = execute_job(job, b"", {})
    print(result["status"], flush=True)
    if sys.argv[1] == "stay":
        time.sleep(600)
    """)


@needs_bwrap
@pytest.mark.slow
@pytest.mark.parametrize("ending", ["exit", "sigkill"])
def test_a_worker_process_that_ends_leaves_no_sandbox(short_tmp, ending):
    """execute_job in a process of its own: its spare kernel is killed when the process exits
    (atexit, with its folders) or is killed (--die-with-parent)."""
    env = dict(os.environ, TMPDIR=str(short_tmp))
    worker = subprocess.Popen([sys.executable, "-c", WORKER, "stay" if ending == "sigkill"
                               else "exit"], env=env, stdout=subprocess.PIPE, text=True)
    try:
        assert worker.stdout.readline().strip() == "ok"
        if ending == "exit":
            assert worker.wait(120) == 0
            assert processes_naming(str(short_tmp)) == []
            # only matplotlib's font list stays (kept for every later kernel, see host.py)
            assert [n for n in os.listdir(short_tmp) if not n.startswith("rnn-sandbox-fonts-")] \
                == []
        else:
            # the spare's kernel (its command line names its workdir in short_tmp) is up
            wait_until(lambda: any("ipykernel" in c for c in processes_naming(str(short_tmp))),
                       "the spare kernel")
            worker.kill()
            worker.wait(30)
            wait_until(lambda: processes_naming(str(short_tmp)) == [], "the sandbox to end")
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()


# -- preloading changes nothing the set-up cells show ---------------------------------------

PROBE = r"""
import json, matplotlib
ip = get_ipython()
print(json.dumps({"backend": matplotlib.get_backend(),
                  "rc": {k: repr(v) for k, v in matplotlib.rcParams.items()},
                  "post_execute": sorted(getattr(cb, "__qualname__", type(cb).__name__)
                                         for cb in ip.events.callbacks["post_execute"]),
                  "formats": sorted(ip.display_formatter.active_types)}))
"""


@needs_bwrap
@pytest.mark.slow
@pytest.mark.parametrize("notebook", sorted(p.name for p in (REPO / "notebooks").glob("*.ipynb")))
def test_preloading_changes_nothing_the_set_up_cell_shows(short_tmp, notebook):
    from assignment.char_data import CORPUS_DIR, CORPUS_ENV_VAR
    from assignment.data import resolve_data_dir

    nb = nbformat.read(REPO / "notebooks" / notebook, as_version=4)
    set_up = next(c for c in nb.cells if c.cell_type == "code" and "Set-up" in c.source)
    run = new_notebook(cells=[new_code_cell(set_up.source), new_code_cell(PROBE)])
    data = os.path.realpath(resolve_data_dir())
    env = {"NBGRADER_EXECUTION": "autograde", "ASSIGNMENT_DATA_DIR": data,
           CORPUS_ENV_VAR: str(CORPUS_DIR)}
    shown = {}
    for preload in ((), PRELOAD):
        workdir = tempfile.mkdtemp(dir=short_tmp)
        kernel = start_kernel(KernelConfig.of(env, (data, str(CORPUS_DIR)), LIMITS, preload),
                              workdir, remove_workdir=True)
        out = run_notebook(run, kernel=kernel)
        assert out.status == "ok" and errors(out.nb) == [], (out.reason, errors(out.nb))
        shown[preload] = [cell.outputs for cell in out.nb.cells]
    assert shown[PRELOAD] == shown[()]
    probe = json.loads("".join(o.get("text", "") for o in shown[PRELOAD][1]))
    assert probe["backend"] == "agg"


@needs_bwrap
@pytest.mark.slow
def test_a_dask_worker_closed_by_its_cluster_leaves_no_sandbox(short_tmp, monkeypatch):
    """The grading cluster's workers: closing the cluster kills each worker's spare kernel and
    removes its folders (the worker process exits normally, so the pool's atexit runs)."""
    from dask.distributed import Client, LocalCluster

    from autograder.grading.fingerprint import worker_code_version
    from autograder.grading.worker import JOB_FORMAT, execute_job

    monkeypatch.setenv("TMPDIR", str(short_tmp))      # the workers' temporary folder
    nb = new_notebook(cells=[new_code_cell("print('graded')")])
    job = {"format": JOB_FORMAT, "code": worker_code_version(), "student": "s", "notebook": "n",
           "nb": nb, "files": {}, "inputs_name": "grading_inputs.npz"}
    cluster = LocalCluster(n_workers=1, threads_per_worker=1, processes=True, memory_limit=0,
                           dashboard_address=":0", local_directory=str(short_tmp / "dask"),
                           silence_logs=logging.ERROR)
    try:
        with Client(cluster) as client:
            result = client.submit(execute_job, job, b"", {}, pure=False).result()
            assert result["status"] == "ok", result["reason"]
            wait_until(lambda: any("ipykernel" in c for c in processes_naming(str(short_tmp))),
                       "the spare kernel")
    finally:
        cluster.close()
    assert processes_naming(str(short_tmp)) == []
    left = [p.name for p in short_tmp.rglob("rnn-*") if not p.name.startswith(
        "rnn-sandbox-fonts-") and "rnn-sandbox-fonts-" not in str(p.parent)]
    assert left == []


@needs_bwrap
@pytest.mark.slow
def test_a_kernel_that_cannot_start_is_reported_and_its_failed_spare_logged(short_tmp, caplog):
    """Too little memory to import ipykernel: the start for the notebook reports as without a
    pool (StartupFailed with the kernel's last output); the spare's failed start is logged, not
    used, and the next notebook's own start reports again."""
    from autograder.grading.sandbox.warm_kernel import StartupFailed

    pool = KernelPool(str(short_tmp))
    config = KernelConfig.of({}, (), Limits(memory_bytes=40 * 2**20, cell_seconds=60,
                                            total_seconds=120))
    try:
        with pytest.raises(StartupFailed) as first:
            pool.take(config)
        assert first.value.reason.startswith("the kernel exited during start-up; its last output")
        # Python ran out of its 40 MiB: a MemoryError, or an OSError (ENOMEM) in an import
        assert "MemoryError" in first.value.reason or \
            "Cannot allocate memory" in first.value.reason
        with caplog.at_level(logging.WARNING, logger="autograder.grading.sandbox.kernel_pool"):
            with pytest.raises(StartupFailed):
                pool.take(config)
        assert any("did not come up" in r.getMessage() for r in caplog.records)
    finally:
        pool.close()
    assert processes_naming(str(short_tmp)) == [] and os.listdir(short_tmp) == []


@needs_bwrap
@pytest.mark.slow
def test_a_job_whose_kernel_cannot_start_is_startup_failed():
    from autograder.grading.fingerprint import worker_code_version
    from autograder.grading.worker import JOB_FORMAT, execute_job

    nb = new_notebook(cells=[new_code_cell("print('never')")])
    nb.cells[0].outputs = [nbformat.v4.new_output("stream", name="stdout", text="stale")]
    job = {"format": JOB_FORMAT, "code": worker_code_version(), "student": "s", "notebook": "n",
           "nb": nb, "files": {}, "inputs_name": "grading_inputs.npz"}
    result = execute_job(job, b"", {"memory_bytes": 40 * 2**20})
    assert result["status"] == "startup_failed" and result["cell_index"] is None
    # the reason quotes the kernel's last output: Python ran out of its 40 MiB, as a
    # MemoryError or as an OSError (ENOMEM), depending on where the import stood
    assert result["reason"].startswith("the kernel exited during start-up; its last output:")
    assert "MemoryError" in result["reason"] or "Cannot allocate memory" in result["reason"]
    assert nbformat.reads(result["nb"], as_version=4).cells[0].outputs == []
