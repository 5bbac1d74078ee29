"""The pass/fail rules the benchmark scripts print follow the issues' targets.

A benchmark's verdict is code too: here the GPU kernel target of ``benchmarks/kernels.py`` is
checked against its rule for any timings, cells off the target and cells missing a backend.
"""

from __future__ import annotations

from conftest import benchmark_script
from hypothesis import given
from hypothesis import strategies as st

# The repository's kernels/ folder is the package relu_altmin.kernels: the script gets a
# name of its own.
kernel_benchmark = benchmark_script("kernels", "kernel_benchmark")

seconds = st.floats(1e-6, 1e3, allow_nan=False, allow_infinity=False)
slopes = st.sampled_from([0.0, 0.01, 0.1, 0.5])
dtypes = st.sampled_from(["float32", "float64"])


def cell(slope, dtype, backends, **shape):
    return dict(kernel_benchmark.GPU_TARGET, **shape, slope=slope, dtype=dtype,
                backends={name: {"seconds": t} for name, t in backends.items()})


# ReLU: the CUDA kernel strictly faster than cuBLAS; leaky: at most twice cuBLAS's time.
@given(seconds, seconds, slopes, dtypes)
def test_gpu_target_follows_the_issue_rule(cuda, cublas, slope, dtype):
    (check,) = kernel_benchmark.gpu_target_checks(
        [cell(slope, dtype, {"cuda": cuda, "cupy-blas": cublas, "numba": 1.0})])
    expected = cuda < cublas if slope == 0 else cuda <= 2 * cublas
    assert check["pass"] is expected
    assert (check["slope"], check["dtype"]) == (slope, dtype)
    assert check["speedup"] == cublas / cuda


# Only the target cell with both GPU backends counts.
@given(seconds, seconds, slopes, dtypes, st.sampled_from(["n", "h", "d"]),
       st.sampled_from(["cuda", "cupy-blas"]))
def test_gpu_target_ignores_other_cells(cuda, cublas, slope, dtype, key, missing):
    other = cell(slope, dtype, {"cuda": cuda, "cupy-blas": cublas},
                 **{key: kernel_benchmark.GPU_TARGET[key] // 2})
    partial = cell(slope, dtype, {name: t for name, t in (("cuda", cuda), ("cupy-blas", cublas))
                                  if name != missing})
    assert kernel_benchmark.gpu_target_checks([other, partial]) == []


# The kernel report warns exactly when the load before the run exceeded half the cores.
@given(load=st.floats(0.0, 64.0, allow_nan=False), cores=st.integers(1, 64))
def test_kernel_report_warns_on_a_busy_machine(load, cores, tmp_path_factory):
    machine = {"date": "today", "cpu": "cpu", "cores": cores, "numba_threads": cores,
               "threading_layer": "omp", "versions": {}, "loadavg_start": (load, 0.0, 0.0),
               "loadavg_end": (0.0, 0.0, 0.0)}
    path = tmp_path_factory.mktemp("report") / "kernels.md"
    kernel_benchmark.write_markdown({"machine": machine, "results": [], "skipped": []}, path)
    busy = load > kernel_benchmark.BUSY_LOAD_FRACTION * cores
    assert ("Busy machine" in path.read_text()) is busy
    assert (kernel_benchmark.busy_warning(machine) is not None) is busy
