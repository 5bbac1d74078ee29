#!/usr/bin/env bash
# The GPU work of a development session, for a machine with one CUDA GPU and no network (the
# machines lent through the workplace's device tool: an H100 or H200 whose image already has
# python3 with NumPy, Numba, numba-cuda, CuPy, SciPy, PyTorch, scikit-learn, matplotlib,
# pytest and hypothesis, but not array-api-compat nor array-api-strict).
#
#   bash benchmarks/gpu_session.sh wheels
#       Here, with network: writes .whl/ (git-ignored): this package's wheel, built from the
#       working tree, and the pure-Python wheels the image lacks. Carry .whl to the GPU machine.
#   bash benchmarks/gpu_session.sh run [STEP ...]
#       There, from the repository root: installs the wheels offline (no dependencies), then
#       runs the steps (default: info tests kernels precision training experiments), each under its own time
#       limit, and packs everything it wrote into $OUT/gpu_results.tar.gz with repository-
#       relative paths. Extract that at the repository root here and commit what it holds.
#
# Steps and what they write (under benchmarks/results/ unless noted):
#   info         nvidia-smi and the versions of python3's packages (into gpu_session.md, to
#                which every call appends a section)
#   tests        the CUDA kernel tests on the device for real (no simulator) and every test
#                parametrised over the cupy backend; the log is gpu_tests.log
#   kernels      benchmarks/kernels.py --gpu-target (kernels_gpu_target.*: the CUDA kernel
#                against CuPy's cuBLAS path at n = 1e5, h = 64, d = 64) and --quick with the
#                GPU backends beside the CPU ones (kernels_gpu_quick.*)
#   precision    benchmarks/precision.py --backend cupy on the scale data (n = 1e6, h 128 and
#                512, 5 iterations): float32 input against float64, seconds per iteration and
#                final MSE (precision_gpu.*)
#   training     benchmarks/training.py --quick --backend cupy: fit and our baselines on CuPy,
#                the torch peers on CUDA (training_quick_cupy.*)
#   experiments  the four convergence experiments, --full --backend cupy, into
#                benchmarks/experiments/results/full/
# gpu_session.md records every step's command, exit status and seconds. Time limits (seconds):
# GPU_TESTS_S (240 for the cupy tests, half for the CUDA ones), GPU_KERNELS_S (110 per run),
# GPU_PRECISION_S (150), GPU_TRAINING_S (120) and GPU_EXPERIMENT_S (110 per experiment):
# "info tests kernels" fits in one
# 10-minute call, "precision training" in another and "experiments" in a third (if an
# experiment is stopped by its limit, give it a call of its own with a larger GPU_EXPERIMENT_S).
set -uo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
WHEELS=.whl
RESULTS=benchmarks/results
SUMMARY=$RESULTS/gpu_session.md
STARTED=$(mktemp)  # its time stamp marks what the steps wrote
# Pure-Python packages the GPU image lacks (the rest of the test and bench extras is there).
MISSING=("array-api-compat>=1.11" "array-api-strict>=2.3")

wheels() {
    set -e
    rm -rf "$WHEELS"
    "$PYTHON" -m pip wheel --quiet --no-deps --no-build-isolation --wheel-dir "$WHEELS" .
    "$PYTHON" -m pip download --quiet --no-deps --only-binary=:all: --dest "$WHEELS" \
        "${MISSING[@]}"
    ls -l "$WHEELS"
    du -sh "$WHEELS"
}

# run_step NAME LIMIT COMMAND...: run COMMAND under LIMIT seconds, record it in the summary.
run_step() {
    local name=$1 limit=$2
    shift 2
    local start=$SECONDS status
    echo "+ [$name, at most ${limit}s] $*"
    timeout --kill-after=10 "$limit" "$@"
    status=$?
    echo "| $name | \`$*\` | $status$([ "$status" = 124 ] && echo ' (time limit)') |" \
         "$((SECONDS - start)) |" >>"$SUMMARY"
    return 0
}

step_info() {
    {
        echo '### Machine'
        echo
        echo '```'
        nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv 2>&1
        "$PYTHON" - <<'PY'
import importlib.metadata as md, platform
names = ["relu-altmin", "numpy", "numba", "numba-cuda", "cupy-cuda13x", "cupy-cuda12x",
         "array-api-compat", "array-api-strict", "scipy", "torch", "hypothesis", "pytest"]
print("python", platform.python_version())
for name in names:
    try:
        print(name, md.version(name))
    except md.PackageNotFoundError:
        pass
PY
        echo '```'
        echo
    } >>"$SUMMARY.machine" 2>&1
}

step_tests() {
    # -P: leave the working directory off sys.path, so that the installed wheel (which maps
    # kernels/ to relu_altmin.kernels) is imported, not the source folder relu_altmin/.
    # The -W filters: on a real device numba-cuda warns that the tests' small grids leave the
    # GPU idle, and the image's package versions may deprecate things the pins here do not;
    # neither is a failure of this package (pyproject.toml turns warnings into errors).
    local pytest=("$PYTHON" -P -m pytest -q -rs -p no:cacheprovider
                  -W "ignore:Grid size" -W "ignore:Host array used in CUDA kernel"
                  -W "default::DeprecationWarning")
    run_step tests-cuda "$(( ${GPU_TESTS_S:-240} / 2 ))" "${pytest[@]}" \
        tests/test_kernels.py -k cuda \
        2>&1 | tee "$RESULTS/gpu_tests.log"
    run_step tests-cupy "${GPU_TESTS_S:-240}" "${pytest[@]}" tests -k cupy \
        2>&1 | tee -a "$RESULTS/gpu_tests.log"
    {
        echo
        echo '### Tests'
        echo
        echo 'The summary lines of `gpu_tests.log` (CUDA kernel tests, then the cupy-backend ones):'
        echo
        echo '```'
        grep -E '^=*.*[0-9]+ (passed|failed|skipped|deselected|error)' "$RESULTS/gpu_tests.log"
        echo '```'
    } >>"$SUMMARY.tests"
}

step_kernels() {
    run_step kernels-target "${GPU_KERNELS_S:-110}" "$PYTHON" benchmarks/kernels.py --gpu-target
    run_step kernels-quick "${GPU_KERNELS_S:-110}" "$PYTHON" benchmarks/kernels.py --quick \
        --out "$RESULTS" --name kernels_gpu_quick
}

step_precision() {
    run_step precision "${GPU_PRECISION_S:-150}" "$PYTHON" benchmarks/precision.py \
        --backend cupy --n 1000000 --scale-hidden 128 512 --scale-iters 5 --datasets \
        --repeats 1 --name precision_gpu
}

step_training() {
    # The methods that run on the GPU: scikit-learn and SciPy are CPU-only (training.md has them).
    run_step training "${GPU_TRAINING_S:-120}" "$PYTHON" benchmarks/training.py --quick \
        --backend cupy --name training_quick_cupy --methods altmin torch_adam_full \
        torch_adam_mb64 torch_sgd_full torch_sgd_mb64 torch_lbfgs ours_gd ours_adam
}

step_experiments() {
    local script
    for script in teacher_recovery skip_connections identity_mapping momentum_overparam; do
        run_step "$script" "${GPU_EXPERIMENT_S:-110}" "$PYTHON" \
            "benchmarks/experiments/$script.py" --full --backend cupy \
            --out benchmarks/experiments/results/full
    done
}

pack() {
    local out=${OUT:-/tmp/gpu_out}
    mkdir -p "$out"
    local part
    for part in tests machine; do
        [ -f "$SUMMARY.$part" ] && { echo; cat "$SUMMARY.$part"; } >>"$SUMMARY" \
            && rm "$SUMMARY.$part"
    done
    # Everything the steps wrote: files under the results folders newer than the start.
    find benchmarks/results benchmarks/experiments/results -type f -newer "$STARTED" \
        >"$out/files.txt"
    tar czf "$out/gpu_results.tar.gz" -T "$out/files.txt"
    echo "packed $(wc -l <"$out/files.txt") files into $out/gpu_results.tar.gz"
}

run() {
    local steps=("$@")
    [ ${#steps[@]} -gt 0 ] || steps=(info tests kernels precision training experiments)
    "$PYTHON" -m pip install --quiet --no-index --no-deps --force-reinstall "$WHEELS"/*.whl \
        || { echo "offline install from $WHEELS failed (run 'wheels' here and carry it)" >&2;
             exit 1; }
    mkdir -p "$RESULTS"
    # One section per call, appended: a session's calls (and later sessions) add up.
    [ -f "$SUMMARY" ] || printf '# GPU sessions\n\nWritten by `benchmarks/gpu_session.sh`.\n' \
        >"$SUMMARY"
    {
        echo
        echo "## \`run ${steps[*]}\`, $(date -u +'%Y-%m-%d %H:%M UTC')"
        echo
        echo '| step | command | exit status | seconds |'
        echo '|---|---|---|---:|'
    } >>"$SUMMARY"
    trap pack EXIT
    local step
    for step in "${steps[@]}"; do
        case $step in
            info | tests | kernels | precision | training | experiments) "step_$step" ;;
            *) echo "unknown step '$step' (info, tests, kernels, precision, training," \
                    "experiments)" >&2 ;;
        esac
    done
}

case ${1:-} in
    wheels) wheels ;;
    run) shift; run "$@" ;;
    *) sed -n '2,30p' "$0"; exit 2 ;;
esac
