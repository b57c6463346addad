#!/usr/bin/env bash
# The CuPy backend for real on an NVIDIA GPU, in one run of a few minutes.
#
#   scripts/gpu_check.sh [OUTPUT_DIR]          (default OUTPUT_DIR: $OUT, else outputs/gpu_check)
#
# Run it from anywhere, on a machine with an NVIDIA GPU and Python 3.11+ with NumPy, pytest,
# tqdm and h5py (PyTorch is optional: the benchmark compares against it when present). It needs
# no network and does not install this project; it puts the checkout on PYTHONPATH.
#   1. shows the GPU and the Python in use;
#   2. makes CuPy importable: an installed CuPy is used as it is; otherwise every wheel in
#      $WHEELS (default: .whl/ in the checkout) is installed offline into $GPU_CHECK_SITE
#      (default: /tmp/gpu-check-site). Fill .whl/ on a machine with network, e.g. for
#      CUDA 12:  pip download --no-deps --only-binary=:all: -d .whl cupy-cuda12x
#      (and fastrlock, CuPy's one dependency); CuPy's wheels are 100+ MB;
#   3. runs tests/test_backend_gpu.py with REQUIRE_GPU=1 (no GPU is an error, not a skip):
#      every provided and reference layer, the update rules, a solver step and the
#      captioning model on CuPy, in float64 agreement with NumPy;
#   4. runs `rnn-assignment bench` with ASSIGNMENT_BACKEND=cupy (sequences, train, gradcheck):
#      reference layers, GEMM bound and PyTorch on the GPU, and one LSTM training iteration at
#      size B on NumPy (one BLAS thread, as the CLI uses) and on CuPy; target: 10x.
# Writes OUTPUT_DIR/gpu_check.log, OUTPUT_DIR/pytest_gpu.log and OUTPUT_DIR/bench_cupy.json.
# Exit status: 0 when the tests pass and the benchmark ran (the targets are reported, not
# enforced); non-zero otherwise. Record the results in docs/benchmarks.md.
set -uo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUTPUT_DIR="${1:-${OUT:-$REPO/outputs/gpu_check}}"
PYTHON="${PYTHON:-python3}"
WHEELS="${WHEELS:-$REPO/.whl}"
SITE="${GPU_CHECK_SITE:-/tmp/gpu-check-site}"
mkdir -p "$OUTPUT_DIR"
LOG="$OUTPUT_DIR/gpu_check.log"
exec > >(tee "$LOG") 2>&1

step() { printf '\n=== %s\n' "$*"; }
fail() { printf '\ngpu_check: FAILED: %s\n' "$*"; exit 1; }

step "1. machine"
date -u
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader \
    || fail "nvidia-smi found no NVIDIA GPU: run this on a GPU machine"
"$PYTHON" -c 'import sys, numpy; print("python", sys.version.split()[0], "numpy", numpy.__version__)' \
    || fail "$PYTHON cannot import NumPy"

step "2. CuPy"
export PYTHONPATH="$REPO${PYTHONPATH:+:$PYTHONPATH}"
if ! "$PYTHON" -c 'import cupy' 2>/dev/null; then
    shopt -s nullglob
    wheels=("$WHEELS"/*.whl)
    [ ${#wheels[@]} -gt 0 ] || fail "CuPy is not installed and there are no wheels in $WHEELS \
(see the top of this script for how to fetch them)"
    echo "installing ${#wheels[@]} wheel(s) from $WHEELS into $SITE (offline)"
    "$PYTHON" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
        --target "$SITE" "${wheels[@]}" || fail "pip could not install the wheels in $WHEELS"
    export PYTHONPATH="$SITE:$PYTHONPATH"
else
    echo "using the installed CuPy"
fi
"$PYTHON" - <<'EOF' || fail "CuPy cannot use the GPU (message above)"
import cupy
from assignment import backend
backend.set_backend("cupy")  # raises BackendError with the reason if CuPy sees no GPU
props = cupy.cuda.runtime.getDeviceProperties(0)
name = props["name"].decode() if isinstance(props["name"], bytes) else props["name"]
print(f"CuPy {cupy.__version__}, CUDA runtime {cupy.cuda.runtime.runtimeGetVersion()}, GPU {name}")
EOF

step "3. backend tests on the GPU (tests/test_backend_gpu.py)"
(cd "$REPO" && REQUIRE_GPU=1 "$PYTHON" -m pytest -q -p no:cacheprovider -rs \
    tests/test_backend_gpu.py 2>&1 | tee "$OUTPUT_DIR/pytest_gpu.log")
tests_status=${PIPESTATUS[0]}

step "4. benchmark with ASSIGNMENT_BACKEND=cupy"
(cd "$REPO" && ASSIGNMENT_BACKEND=cupy "$PYTHON" -m autograder.cli bench \
    --sections sequences,train,gradcheck --json "$OUTPUT_DIR/bench_cupy.json")
bench_status=$?

step "summary"
echo "tests: exit $tests_status; benchmark: exit $bench_status; results in $OUTPUT_DIR"
[ "$tests_status" -eq 0 ] || fail "the GPU backend tests failed (see $OUTPUT_DIR/pytest_gpu.log)"
[ "$bench_status" -eq 0 ] || fail "the benchmark failed (see $LOG)"
echo "gpu_check: OK"
