"""``rnn-assignment bench``: the smoke run, the JSON it writes, and the pieces it measures with.

No test here asserts a speed: timings depend on the machine and on what else
runs on it. docs/benchmarks.md holds the measurements.
"""

import json
import os
import subprocess
import sys
import time
import types

import numpy as np
import pytest

from assignment import threads
from assignment.backend import use_backend
from autograder.demo import bench, bench_grading, bench_layers, bench_report, bench_timing
from autograder.release.course import NOTEBOOKS

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    """One `rnn-assignment bench --quick --json PATH` run, as the instructor types it."""
    path = tmp_path_factory.mktemp("bench") / "bench.json"
    env = {k: v for k, v in os.environ.items() if k != "ASSIGNMENT_BACKEND"}
    proc = subprocess.run([sys.executable, "-m", "autograder.cli", "bench", "--quick",
                           "--json", str(path)], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=300)
    return proc, path


def test_quick_bench_runs_and_writes_json(quick_run):
    proc, path = quick_run
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = json.loads(path.read_text())
    assert results["quick"] is True
    for cell in ("lstm", "rnn"):
        for entry in ("A_f32", "A_f64"):  # --quick measures size A only
            e = results[cell][entry]
            for key in ("numpy_ms", "gemm_bound_ms", "torch_ms", "vs_gemm", "vs_torch"):
                assert e[key] > 0, f"{cell}.{entry}.{key}"
            assert e["vs_gemm"] == pytest.approx(e["numpy_ms"] / e["gemm_bound_ms"])
            assert e["vs_torch"] == pytest.approx(e["numpy_ms"] / e["torch_ms"])
    assert results["train"]["lstm_it_per_s"] > 0 and results["train"]["rnn_it_per_s"] > 0
    assert results["gradcheck"]["full_passed"] and results["gradcheck"]["directional_passed"]
    assert results["grading"]["status"].startswith("skipped in --quick")
    assert results["memory"]["training_peak_rss_mb"] > 50  # NumPy alone is tens of MiB


def test_quick_bench_records_the_machine_blas_and_threads(quick_run):
    proc, path = quick_run
    machine = json.loads(path.read_text())["machine"]
    assert machine["backend"] == "numpy"
    assert machine["blas"] not in ("", "unknown")
    # the limit `import assignment` sets (one thread by default), and PyTorch gets the same number
    assert machine["blas_threads"] == threads.requested_threads()[0]
    assert str(machine["torch_threads"]) == str(machine["blas_threads"])


def test_report_lists_every_target_with_its_limit(quick_run):
    proc, path = quick_run
    rows = json.loads(path.read_text())["targets"]
    assert [r["key"] for r in rows] == [key for key, _, _ in bench_report.TARGETS]
    for key, op, limit in bench_report.TARGETS:
        assert f"| {key} |" in proc.stdout and f"{op} {limit:g}" in proc.stdout
    # size B, grading and the GPU are not measured by --quick, and the table says so
    assert {r["key"] for r in rows if r["met"] is None} >= {
        "lstm.B_f32.vs_gemm", "grading.speedup_2_workers", "train.B_gpu_speedup"}


def test_targets_compare_in_the_right_direction():
    results = {"lstm": {"A_f32": {"vs_gemm": 1.1, "vs_torch": 1.31}},
               "grading": {"speedup_2_workers": 1.8, "vs_plain_nbgrader": 0.36,
                           "s_per_notebook_1_worker": 2.9}}
    rows = {r["key"]: r for r in bench_report.check_targets(results)}
    assert rows["lstm.A_f32.vs_gemm"]["met"] is True
    assert rows["lstm.A_f32.vs_torch"]["met"] is False      # <= 1.3 in float32
    assert rows["grading.speedup_2_workers"]["met"] is True  # >= 1.8
    assert rows["grading.vs_plain_nbgrader"]["met"] is False  # <= 0.35
    assert rows["grading.s_per_notebook_1_worker"]["met"] is True  # <= 3 s
    assert rows["lstm.B_f64.vs_gemm"] == {"key": "lstm.B_f64.vs_gemm", "value": None,
                                          "target": "<= 1.2", "met": None}


def test_lookup_reads_dotted_keys_and_ignores_text():
    results = {"grading": {"status": "unavailable: no grade command", "submissions": 40}}
    assert bench_report.lookup(results, "grading.submissions") == 40
    assert bench_report.lookup(results, "grading.status") is None
    assert bench_report.lookup(results, "grading.speedup_2_workers") is None


@pytest.mark.parametrize("cell, gates", [("lstm", 4), ("rnn", 1)])
def test_gemm_bound_does_all_the_matrix_products_of_forward_and_backward(cell, gates):
    # Forward+backward of a recurrent layer does 3 products of the same size per weight
    # matrix (a = x Wx, dx = da Wx^T, dWx = x^T da; the same for Wh): 6 N T (D + H) G
    # flops with G = gates * H. The bound must do exactly that work, no product missing.
    N, T, D, H = 3, 4, 5, 6
    flops = []

    def counting_matmul(a, b, out=None):
        flops.append(2 * a.shape[0] * a.shape[1] * b.shape[1])
        return np.matmul(a, b, out=out)
    counting = types.ModuleType("counting_numpy")
    counting.__getattr__ = lambda name: getattr(np, name)
    counting.matmul = counting_matmul
    with use_backend(counting):
        run = bench_layers.gemm_bound_step(cell, bench_layers.sequence_inputs(cell, N, T, D, H, np.float64))
        run()
    assert sum(flops) == 6 * N * T * (D + H) * gates * H


@pytest.mark.parametrize("cell", ["lstm", "rnn"])
def test_reference_and_torch_steps_run_on_the_same_inputs(cell):
    inputs = bench_layers.sequence_inputs(cell, N=2, T=3, D=4, H=5, dtype=np.float32)
    bench_layers.reference_step(cell, inputs)()
    run_torch = bench_layers.torch_step(cell, inputs)
    assert run_torch is not None  # torch is in the oracle extra, installed for the tests
    run_torch()


def test_interleaved_median_ms_times_each_function_after_warm_up():
    calls = {"a": [], "b": []}
    runs = {name: (lambda name=name: calls[name].append(1), lambda: None) for name in calls}
    ms = bench_timing.interleaved_median_ms(runs, repeats=3, warmup=2)
    assert {name: len(c) for name, c in calls.items()} == {"a": 5, "b": 5}
    assert set(ms) == {"a", "b"} and all(v >= 0 for v in ms.values())


def test_submissions_are_the_source_notebooks_solved_per_student(tmp_path):
    from autograder.demo.samples import solved
    students = bench_grading.make_submissions(tmp_path, 3)
    assert students == ["bench-001", "bench-002", "bench-003"]
    for student in students:
        assert sorted(os.listdir(tmp_path / student)) == sorted(NOTEBOOKS)
    with open(os.path.join(REPO, "notebooks", NOTEBOOKS[0])) as f:
        source = json.load(f)
    submitted = json.loads((tmp_path / "bench-002" / NOTEBOOKS[0]).read_text())
    assert submitted == solved(source)  # every answer, no solution markers
    assert "### BEGIN SOLUTION" not in json.dumps(submitted)
    assert "### BEGIN SOLUTION" in json.dumps(source)


def test_run_measured_reports_the_peak_memory_of_the_command():
    code = "import numpy as np; a = np.ones(200 * 2**20 // 8); print(a.sum() > 0)"
    seconds, peak_mb, proc = bench_timing.run_measured([sys.executable, "-c", code])
    assert proc.returncode == 0 and "True" in proc.stdout
    assert peak_mb >= 200 and seconds > 0


def test_unknown_section_is_rejected_with_the_choices(capsys):
    assert bench.main(["--sections", "sequences,speed"]) == 2
    err = capsys.readouterr().err
    assert "speed" in err and "sequences, train, gradcheck, grading, memory" in err


@pytest.mark.slow
def test_grading_section_times_grade_and_plain_nbgrader_on_the_same_submission(tmp_path):
    # Real release, real nbgrader autograde and real `rnn-assignment grade` on one submission.
    section = bench_grading.bench_grading(1, tmp_path)
    assert section["status"] == "measured", section["status"]
    for key in ("plain_nbgrader_s_per_submission", "s_per_submission_1_worker",
                "s_per_submission_2_worker", "peak_rss_mb_1_worker"):
        assert section[key] > 0, key
    assert section["speedup_2_workers"] == pytest.approx(
        section["s_per_submission_1_worker"] / section["s_per_submission_2_worker"])
    assert section["vs_plain_nbgrader"] == pytest.approx(
        section["s_per_submission_1_worker"] / section["plain_nbgrader_s_per_submission"])
    # one submission is one notebook of each name
    assert section["s_per_notebook_1_worker"] == pytest.approx(
        section["s_per_submission_1_worker"] / len(NOTEBOOKS))
    # both pipelines graded the same submission: every graded notebook is there
    for course in ("plain_nbgrader", "course_1_workers", "course_2_workers"):
        graded = tmp_path / course / "autograded" / "bench-001" / "rnn_captioning"
        assert sorted(os.listdir(graded)) >= sorted(NOTEBOOKS), course


def _store_run(root, student, notebook, cells, wall_seconds, pairs, status="ok"):
    """A result file and its executed notebook, laid out as `grade` writes them."""
    results = root / "grading" / "results" / student
    executed = root / "grading" / "executed" / student
    results.mkdir(parents=True, exist_ok=True)
    executed.mkdir(parents=True, exist_ok=True)
    (results / f"{notebook}.json").write_text(json.dumps(
        {"notebook": notebook, "status": status, "seconds": wall_seconds - 0.5,
         "wall_seconds": wall_seconds, "cell_seconds": pairs}))
    (executed / f"{notebook}.ipynb").write_text(json.dumps({"cells": cells}))


def test_cell_profile_takes_medians_per_cell_and_names_the_cells(tmp_path):
    from autograder.demo.bench_cells import cell_profile, format_cell_profile

    def code(source, gid=None, grade=False):
        meta = {"nbgrader": {"grade_id": gid, "grade": grade, "locked": True}} if gid else {}
        return {"cell_type": "code", "source": source, "metadata": meta, "outputs": []}

    cells = [code("# Set-up: run this cell first.\nimport numpy as np"),
             {"cell_type": "markdown", "source": "text", "metadata": {}},
             code("train(model)"), code("grade_unit(...)", "test_unit_a", grade=True)]
    _store_run(tmp_path, "s1", "NB", cells, 2.0, [[0, 0.5], [2, 0.25], [3, 0.125]])
    _store_run(tmp_path, "s2", "NB", cells, 3.0, [[0, 0.75], [3, 0.375]])  # cell 2 skipped
    _store_run(tmp_path, "s3", "NB", cells, 9.0, [[0, 9.0]], status="cell_timeout")
    profile = cell_profile(tmp_path)["NB"]
    assert profile["runs"] == 2  # the run that stopped is left out
    assert profile["job_s"] == 2.5
    assert profile["before_cells_s"] == pytest.approx((1.125 + 1.875) / 2)
    assert profile["graded_cells_s"] == pytest.approx(0.25)
    assert profile["cells_run"] == 2.5 and profile["code_cells"] == 3
    by_index = {c["index"]: c for c in profile["cells"]}
    assert by_index[0]["label"] == "Set-up: run this cell first."
    assert by_index[0]["median_s"] == pytest.approx(0.625)
    assert (by_index[2]["ran_in"], by_index[2]["median_s"]) == (1, 0.25)
    assert by_index[3]["label"] == "test_unit_a" and by_index[3]["graded"]
    text = "\n".join(format_cell_profile({"NB": profile}, min_seconds=0.3))
    assert "| | 0: Set-up: run this cell first. | 0.62 |" in text
    assert "test_unit_a (graded)" in text            # graded cells are always listed
    assert "1 other cells under 0.3 s, together | 0.25 |" in text


def test_busy_fraction_sees_a_busy_cpu_and_tells_when_it_cannot_measure():
    before = bench_timing.cpu_times()
    if before is None:
        pytest.skip("no /proc/stat here")
    end = time.process_time() + 0.3
    while time.process_time() < end:  # keep one CPU busy
        pass
    after = bench_timing.cpu_times()
    assert after[0] > before[0] and after[1] > before[1]
    fraction = bench_timing.busy_fraction(before, after)
    usable = len(os.sched_getaffinity(0))
    assert 0.5 / usable <= fraction <= 1.0  # at least the one busy CPU of the usable ones
    assert bench_timing.busy_fraction(None, after) is None
    assert bench_timing.busy_fraction(after, before) is None
