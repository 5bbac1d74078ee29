"""Tests of ``relu_altmin.kernels.masked_gram``: every backend against one ``np.einsum`` reference.

Self-contained (no fixtures from conftest.py). conftest.py switches Numba to its CUDA simulator
before numba is imported when there is no NVIDIA GPU; the CUDA tests then run the kernel in the
simulator on small shapes, and the CuPy tests skip.
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import relu_altmin.kernels as kernels
from conftest import usable_cupy
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from relu_altmin.kernels import masked_gram

try:
    from relu_altmin.kernels import _numba_cuda as kcuda
except ImportError:  # numba-cuda is optional
    kcuda = None

KINDS = ("relu", "leaky", "two_level", "general", "all_on", "all_off", "constant")
LAYOUTS = ("C", "F", "strided")
COUPLINGS = (None, "psd", "symmetric", "asymmetric")


# ----------------------------------------------------------------------------- the reference

def einsum_gram(X, D, C=None):
    """``G[j*d + a, k*d + b] = C[j, k] sum_i D[i, j] D[i, k] X[i, a] X[i, b]`` in float64."""
    X, D = np.asarray(X, np.float64), np.asarray(D, np.float64)
    h, d = D.shape[1], X.shape[1]
    T = np.einsum("ij,ik,ia,ib->jakb", D, D, X, X)
    if C is not None:
        T = T * np.asarray(C, np.float64)[:, None, :, None]
    return T.reshape(h * d, h * d)


def assert_matches_einsum(G, X, D, C=None, result=None):
    """Entrywise ``|G - R| <= tol * S``: ``R`` the einsum, ``S`` the einsum of absolute values.

    A sum of n products has rounding error at most about n * eps times the sum of their absolute
    values, whatever order a kernel adds them in; the constant leaves room for the final
    rounding, the coupling product and the leaky decomposition's three terms. Products that
    underflow add an absolute error of at most the smallest normal number each. ``result``:
    the dtype the sums are formed in (``masked_gram``'s ``dtype``), which sets ``eps``.
    """
    G = np.asarray(G)
    assert G.dtype == (np.asarray(X).dtype if result is None else result)
    R = einsum_gram(X, D, C)
    S = einsum_gram(np.abs(X), np.abs(D), None if C is None else np.abs(C))
    finfo = np.finfo(G.dtype)
    bound = 2 * (X.shape[0] + 8) * (finfo.eps * S + finfo.tiny)
    err = np.abs(G.astype(np.float64) - R)
    worst = np.unravel_index(np.argmax(err - bound), err.shape) if err.size else ()
    assert not (err > bound).any(), (
        f"{(err > bound).sum()} entries off; worst at {worst}: |G - R| = {err[worst]:.3g} "
        f"> bound {bound[worst]:.3g}"
    )


def assert_symmetric_psd(G, X, D, C=None):
    G = np.asarray(G, np.float64)
    np.testing.assert_array_equal(G, G.T)  # the kernels mirror, so exactly symmetric
    if G.size:
        S = einsum_gram(np.abs(X), np.abs(D), None if C is None else np.abs(C))
        tol = 2 * (X.shape[0] + 8) * np.finfo(np.asarray(X).dtype).eps * G.shape[0]
        assert np.linalg.eigvalsh(G).min() >= -tol * S.max()


# ----------------------------------------------------------------------------- inputs

def pattern(kind, A, values, lo, hi):
    """An activation pattern (n, h) of the given kind from a 0/1 mask and general values."""
    if kind == "relu":
        return A.astype(np.float64)
    if kind == "leaky":
        return np.where(A, 1.0, lo)
    if kind == "two_level":
        return np.where(A, lo + hi, lo)
    if kind == "general":
        return np.where(A, values, 0.0)  # general values with zeros to skip
    if kind == "all_on":
        return np.ones(A.shape)
    if kind == "all_off":
        return np.zeros(A.shape)
    return np.full(A.shape, values.flat[0] if values.size else -0.5)  # "constant", any sign


def layout(a, how):
    """The same values as ``a`` in C order, Fortran order, or as a strided (non-contiguous) view."""
    if how == "C":
        return np.ascontiguousarray(a)
    if how == "F":
        return np.asfortranarray(a)
    big = np.zeros((2 * a.shape[0] + 1, 3 * a.shape[1] + 1), dtype=a.dtype)
    big[1::2, 2::3] = a
    return big[1::2, 2::3]


def coupling_matrix(kind, V, M):
    if kind == "psd":
        return V @ V.T
    if kind == "symmetric":
        return M + M.T
    return M if kind == "asymmetric" else None


floats = st.floats(-4, 4, allow_subnormal=False, width=32)


def arrays(dtype, shape, elements):
    """Every element drawn on its own (hypothesis otherwise fills most of an array with one
    repeated value, which hides asymmetric couplings and unit-specific bugs)."""
    return hnp.arrays(dtype, shape, elements=elements, fill=st.nothing())


@st.composite
def problems(draw, *, max_n=30, max_h=4, max_d=5, kinds=KINDS, layouts=LAYOUTS,
             couplings=COUPLINGS, dtypes=(np.float64, np.float32)):
    """``(X, D, C)`` NumPy arrays of one dtype, in the drawn memory layouts."""
    n = draw(st.integers(1, max_n))
    h = draw(st.integers(1, max_h))
    d = draw(st.integers(1, max_d))
    dtype = draw(st.sampled_from(dtypes))
    X = draw(arrays(np.float64, (n, d), floats))
    A = draw(arrays(np.bool_, (n, h), st.booleans()))
    values = draw(arrays(np.float64, (n, h), floats))
    lo = draw(st.floats(0.0625, 0.9375, width=32))
    hi = draw(st.floats(0.5, 3, width=32))
    D = pattern(draw(st.sampled_from(kinds)), A, values, lo, hi)
    V = draw(arrays(np.float64, (h, 2), floats))
    M = draw(arrays(np.float64, (h, h), floats))
    C = coupling_matrix(draw(st.sampled_from(couplings)), V, M)
    X, D = (layout(a.astype(dtype), draw(st.sampled_from(layouts))) for a in (X, D))
    return X, D, None if C is None else C.astype(dtype)


@st.composite
def float32_problems(draw, *, max_n=60, max_h=4, max_d=5):
    """``(X, D, C)``: float32 ``X`` and ``D`` of generic values (drawn from a seeded generator:
    hypothesis's own floats favour short binary fractions, whose float32 products are exact,
    which would hide a float32 product), float64 ``C``, in the drawn layouts."""
    n, h, d = draw(st.integers(1, max_n)), draw(st.integers(1, max_h)), draw(st.integers(1, max_d))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    X = rng.standard_normal((n, d))
    lo, hi = rng.uniform(0.05, 0.95), rng.uniform(0.5, 3.0)
    D = pattern(draw(st.sampled_from(KINDS)), rng.random((n, h)) < 0.5,
                rng.standard_normal((n, h)), lo, hi)
    C = coupling_matrix(draw(st.sampled_from(COUPLINGS)), rng.standard_normal((h, 2)),
                        rng.standard_normal((h, h)))
    X, D = (layout(a.astype(np.float32), draw(st.sampled_from(LAYOUTS))) for a in (X, D))
    return X, D, C


def symmetric(C):
    return C is None or np.array_equal(C, C.T)


# ----------------------------------------------------------------------------- Numba CPU

@settings(deadline=None, max_examples=60)
@given(problems())
def test_numba_matches_einsum(problem):
    X, D, C = problem
    G = masked_gram(X, D, coupling=C, backend="numba")
    assert type(G) is np.ndarray and G.shape == (X.shape[1] * D.shape[1],) * 2
    assert_matches_einsum(G, X, D, C)
    if symmetric(C):
        np.testing.assert_array_equal(G, G.T)


@pytest.mark.parametrize("backend", ["numba", "reference"])
@settings(deadline=None, max_examples=40)
@given(problem=float32_problems())
def test_float32_accumulated_in_float64(backend, problem):
    """``dtype=float64`` on float32 inputs: every product exact, every sum float64, so the
    rounding is float64's (a float32 product or sum anywhere breaks the bound)."""
    X, D, C = problem
    G = masked_gram(X, D, coupling=C, dtype=np.float64, backend=backend)
    assert_matches_einsum(G, X, D, C, result=np.float64)
    if symmetric(C):
        np.testing.assert_array_equal(G, G.T)


@settings(deadline=None, max_examples=20)
@given(problems(couplings=(None, "psd")))
def test_numba_psd_coupling_gives_psd(problem):
    X, D, C = problem
    assert_symmetric_psd(masked_gram(X, D, coupling=C), X, D, C)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("shape", [(1, 1, 1), (1, 3, 2), (7, 1, 3), (7, 3, 1), (0, 2, 3)])
def test_numba_edge_shapes(kind, shape):
    n, h, d = shape
    rng = np.random.default_rng(0)
    X = rng.standard_normal((n, d))
    D = pattern(kind, rng.random((n, h)) < 0.5, rng.standard_normal((n, h)), 0.1, 2.0)
    G = masked_gram(X, D)
    assert_matches_einsum(G, X, D)
    assert_symmetric_psd(G, X, D)


@pytest.mark.parametrize("coupling", [None, "psd"])
def test_numba_leaky_pattern_whose_square_underflows(coupling):
    """A leaky slope below ``sqrt(tiny)``: ``lo^2`` underflows to 0, ``lo s`` does not, and
    its term is kept: units 0 and 1 are never on in the same row, so their block is made of
    ``lo s`` terms alone."""
    rng = np.random.default_rng(3)
    X = rng.standard_normal((9, 2))
    on = np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 0, 1], [0, 1, 1]] * 2, bool)[:9]
    D = pattern("leaky", on, X, 1e-200, 1.0)
    V = rng.standard_normal((3, 2))
    C = coupling_matrix(coupling, V, V)
    assert_matches_einsum(masked_gram(X, D, coupling=C), X, D, C)


def test_numba_large_blocks_and_chunks():
    """More rows than one gathered chunk, and d large enough for several BLAS tiles."""
    rng = np.random.default_rng(1)
    n, h, d = 3000, 3, 40
    X = rng.standard_normal((n, d))
    for D in (rng.random((n, h)) < 0.7, np.where(rng.random((n, h)) < 0.5, 1.0, 0.2),
              rng.standard_normal((n, h))):
        D = D.astype(np.float64)
        assert_matches_einsum(masked_gram(X, D), X, D)


def test_numba_parallel_equals_serial():
    """Each pair is computed by one worker, so the thread count cannot change a single bit."""
    import numba

    rng = np.random.default_rng(2)
    X = rng.standard_normal((500, 6))
    threads = numba.get_num_threads()
    for D in ((rng.random((500, 5)) < 0.5) * 1.0, rng.standard_normal((500, 5))):
        parallel = masked_gram(X, D)
        try:
            numba.set_num_threads(1)
            serial = masked_gram(X, D)
        finally:
            numba.set_num_threads(threads)
        np.testing.assert_array_equal(parallel, serial)


def test_blas_held_to_one_thread_during_the_kernel(monkeypatch):
    """BLAS runs one thread while the Numba kernel does, and its setting comes back after."""
    from relu_altmin.kernels import _numba_cpu
    from threadpoolctl import threadpool_info

    def blas_threads():
        return [pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"]

    seen = []
    kernel = _numba_cpu._masked_gram_numpy

    def spy(*args):
        seen.append(blas_threads())
        return kernel(*args)

    rng = np.random.default_rng(4)
    X, D = rng.standard_normal((9, 3)), (rng.random((9, 2)) < 0.5) * 1.0
    masked_gram(X, D)  # loads every BLAS the kernel uses (scipy's, for numba's np.dot)
    monkeypatch.setattr(_numba_cpu, "_masked_gram_numpy", spy)
    before = blas_threads()
    assert_matches_einsum(masked_gram(X, D), X, D)
    assert seen and seen[0] and all(n == 1 for n in seen[0])
    assert blas_threads() == before


def test_fast_path_ran(monkeypatch):
    """NumPy input goes to the Numba kernel: the reference, made to raise, is never called."""
    def boom(*args, **kwargs):
        raise AssertionError("the array-API reference ran")

    monkeypatch.setattr(kernels, "masked_gram_reference", boom)
    rng = np.random.default_rng(3)
    X, D = rng.standard_normal((9, 3)), (rng.random((9, 2)) < 0.5) * 1.0
    assert_matches_einsum(masked_gram(X, D), X, D)
    with pytest.raises(AssertionError, match="reference ran"):  # the patch does take effect
        masked_gram(X, D, backend="reference")


# ----------------------------------------------------------------------------- out=

@pytest.mark.parametrize("backend", ["auto", "numba", "reference"])
@pytest.mark.parametrize("how", LAYOUTS)
def test_out_numpy(backend, how):
    rng = np.random.default_rng(4)
    X, D = rng.standard_normal((11, 3)), np.where(rng.random((11, 2)) < 0.5, 1.0, 0.1)
    C = rng.standard_normal((2, 2))
    out = layout(np.full((6, 6), np.nan), how)
    G = masked_gram(X, D, coupling=C, out=out, backend=backend)
    assert G is out
    assert_matches_einsum(out, X, D, C)


# ----------------------------------------------------------------------------- the reference

def namespace(name):
    if name == "numpy":
        from array_api_compat import numpy as xp
    elif name == "array_api_strict":
        xp = pytest.importorskip("array_api_strict")
    else:
        pytest.importorskip("torch")
        from array_api_compat import torch as xp
    return xp


def to_numpy(a):
    if hasattr(a, "detach"):
        return a.detach().cpu().numpy()
    return np.asarray(a)


@pytest.mark.parametrize("name", ["numpy", "array_api_strict", "torch"])
@settings(deadline=None, max_examples=10)
@given(problem=problems(max_n=20, layouts=("C",)))
def test_reference_in_each_namespace(name, problem):
    xp = namespace(name)
    X, D, C = problem
    args = [xp.asarray(a) for a in (X, D)]
    coupling = None if C is None else xp.asarray(C)
    backends = ["reference"] if name == "numpy" else ["auto", "reference"]
    for backend in backends:
        G = masked_gram(*args, coupling=coupling, backend=backend)
        assert type(G) is type(args[0]) and G.dtype == args[0].dtype
        assert_matches_einsum(to_numpy(G), X, D, C)
        out = xp.zeros(G.shape, dtype=G.dtype)
        assert masked_gram(*args, coupling=coupling, out=out, backend=backend) is out
        np.testing.assert_array_equal(to_numpy(out), to_numpy(G))


# ----------------------------------------------------------------------------- Numba CUDA

needs_simulator = pytest.mark.skipif(
    kcuda is None or not kcuda.simulator(),
    reason="host arrays posing as CUDA arrays only work in Numba's CUDA simulator",
)
needs_cuda = pytest.mark.skipif(
    kcuda is None or not kcuda.cuda_available(),
    reason="Numba CUDA cannot run here (no numba-cuda, no GPU, simulator off)",
)
cuda_small = settings(deadline=None, max_examples=8)


class HostCudaArray(np.ndarray):
    """A NumPy array that claims ``__cuda_array_interface__``: in the simulator, device memory is
    host memory, so this stands in for a CuPy array and exercises the public CUDA dispatch."""

    @property
    def __cuda_array_interface__(self):
        return self.__array_interface__


def host_cuda(a):
    return None if a is None else np.asarray(a).view(HostCudaArray)


@needs_simulator
@cuda_small
@given(problems(max_n=20, max_h=3, max_d=4))
def test_cuda_simulator_matches_einsum(problem):
    X, D, C = problem
    G = masked_gram(host_cuda(X), host_cuda(D), coupling=host_cuda(C), backend="cuda")
    assert_matches_einsum(G, X, D, C)
    if symmetric(C):
        np.testing.assert_array_equal(G, G.T)


@needs_simulator
@cuda_small
@given(float32_problems(max_n=20, max_h=3, max_d=4))
def test_cuda_simulator_accumulates_float32_in_float64(problem):
    """``dtype=float64`` on float32 inputs: every product exact, every sum float64, so the
    rounding is float64's (a float32 product or sum anywhere breaks the bound)."""
    X, D, C = problem
    G = masked_gram(host_cuda(X), host_cuda(D), coupling=host_cuda(C), dtype=np.float64,
                    backend="cuda")
    assert_matches_einsum(G, X, D, C, result=np.float64)


@needs_simulator
def test_cuda_auto_dispatch(monkeypatch):
    """Arrays exposing ``__cuda_array_interface__`` go to the CUDA kernel, never elsewhere."""
    def boom(*args, **kwargs):
        raise AssertionError("the array-API reference ran")

    monkeypatch.setattr(kernels, "masked_gram_reference", boom)
    rng = np.random.default_rng(5)
    X, D = rng.standard_normal((6, 3)), (rng.random((6, 2)) < 0.5) * 1.0
    out = host_cuda(np.zeros((6, 6)))
    assert masked_gram(host_cuda(X), host_cuda(D), out=out) is out
    assert_matches_einsum(out, X, D)


@needs_cuda
@cuda_small
@given(problems(max_n=20, max_h=3, max_d=5), st.sampled_from([1, 2, 4]))
def test_cuda_launcher_multi_tile(problem, tile):
    """The launcher on Numba device arrays, with tiles smaller than d (several tile pairs and
    several shared-memory steps per block)."""
    from numba import cuda

    X, D, C = problem
    p = X.shape[1] * D.shape[1]
    out = cuda.device_array((p, p), dtype=X.dtype)
    dev = [None if a is None else cuda.to_device(np.ascontiguousarray(a)) for a in (X, D, C)]
    kcuda.launch_masked_gram(*dev, out, tile=tile)
    G = out.copy_to_host()
    assert_matches_einsum(G, X, D, C)
    if symmetric(C):
        np.testing.assert_array_equal(G, G.T)


@pytest.mark.gpu
@settings(deadline=None, max_examples=25)
@given(problems(max_n=200, max_h=6, max_d=40, layouts=("C", "F")))
def test_cupy_matches_einsum(problem):
    cupy = usable_cupy()
    if cupy is None:
        pytest.skip("cupy: no usable CUDA device on this machine")
    X, D, C = problem
    args = [cupy.asarray(a) for a in (X, D)]
    G = masked_gram(*args, coupling=None if C is None else cupy.asarray(C))
    assert type(G) is cupy.ndarray and G.dtype == X.dtype
    assert_matches_einsum(cupy.asnumpy(G), X, D, C)


# ----------------------------------------------------------------------------- bad input

def _ok():
    rng = np.random.default_rng(6)
    return rng.standard_normal((5, 3)), (rng.random((5, 2)) < 0.5) * 1.0


@pytest.mark.parametrize(
    ("change", "error", "match"),
    [
        (lambda X, D: (X[:, 0], D, {}), ValueError, "X must be 2-D"),
        (lambda X, D: (X, D[:4], {}), ValueError, "D must be 2-D"),
        (lambda X, D: (X, D[:, 0], {}), ValueError, "D must be 2-D"),
        (lambda X, D: (X, D, {"coupling": np.ones((3, 3))}), ValueError, "coupling must have"),
        (lambda X, D: (X, D, {"out": np.ones((6, 5))}), ValueError, "out must have"),
        (lambda X, D: (X.astype(int), D, {}), TypeError, "X must have a real floating"),
        (lambda X, D: (X, D.astype(bool), {}), TypeError, "D must have a real floating"),
        (lambda X, D: (X.astype(complex), D, {}), TypeError, "X must have a real floating"),
        (lambda X, D: (X, D.astype(np.float32), {}), TypeError, "D has dtype float32"),
        (lambda X, D: (X, D, {"coupling": np.ones((2, 2), np.float32)}), TypeError,
         "coupling has dtype"),
        (lambda X, D: (X, D, {"dtype": np.float32}), TypeError, "dtype must be X's"),
        (lambda X, D: (X.astype(np.float32), D.astype(np.float32),
                       {"dtype": np.float64, "coupling": np.ones((2, 2), np.float32)}),
         TypeError, "coupling has dtype float32 but the result's is float64"),
        (lambda X, D: (X.tolist(), D, {}), TypeError, "X must be an array"),
        (lambda X, D: (X, D, {"backend": "fortran"}), ValueError, "backend must be one of"),
        (lambda X, D: (np.where(X > 1, np.nan, X), D, {}), ValueError, "X must be finite"),
        (lambda X, D: (X, np.where(D > 0, np.inf, D), {}), ValueError, "D must be finite"),
        (lambda X, D: (X, D, {"backend": "cuda"}), TypeError, "but X is ndarray"),
        (lambda X, D: (X.astype(np.float16), D.astype(np.float16), {"backend": "numba"}),
         TypeError, "float32 or float64"),
    ],
)
def test_bad_input(change, error, match):
    X, D, kwargs = change(*_ok())
    with pytest.raises(error, match=match):
        masked_gram(X, D, **kwargs)


def test_mixed_namespaces_and_wrong_backend():
    torch = pytest.importorskip("torch")
    X, D = _ok()
    with pytest.raises(TypeError, match="share one array namespace"):
        masked_gram(X, torch.asarray(D))
    with pytest.raises(TypeError, match="backend='numba' needs NumPy arrays, but X is Tensor"):
        masked_gram(torch.asarray(X), torch.asarray(D), backend="numba")


def test_cuda_unavailable_raises(monkeypatch):
    """An explicit backend is never downgraded: no CUDA means an error, not the reference."""
    monkeypatch.setattr(kernels, "_cuda_available", lambda: False)
    X, D = _ok()
    with pytest.raises(RuntimeError, match="backend='cuda' was requested"):
        masked_gram(host_cuda(X), host_cuda(D), backend="cuda")
    # "auto" may pick the reference, which runs on the caller's device.
    assert_matches_einsum(masked_gram(host_cuda(X), host_cuda(D)), X, D)


def test_inputs_not_modified():
    X, D = _ok()
    X0, D0 = X.copy(), D.copy()
    masked_gram(X, D, coupling=np.eye(2))
    np.testing.assert_array_equal(X, X0)
    np.testing.assert_array_equal(D, D0)


def test_import_is_cheap():
    """Importing the kernels loads neither numba nor numba.cuda: they load on first use."""
    code = (
        "import sys, relu_altmin.kernels; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'numba'))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True)
    assert result.stdout.strip() == "[]", result.stdout
