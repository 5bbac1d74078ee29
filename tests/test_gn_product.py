"""Tests of ``relu_altmin.kernels.gauss_newton_product``: every backend against one float64
``np.einsum`` oracle.

Self-contained (no fixtures from conftest.py). conftest.py switches Numba to its CUDA simulator
before numba is imported when there is no NVIDIA GPU; the CUDA tests then run the kernels in the
simulator on tiny shapes.
"""

from __future__ import annotations

import numpy as np
import pytest
import relu_altmin.kernels as kernels
from conftest import to_numpy, usable_cupy
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from relu_altmin.kernels import gauss_newton_product
from test_kernels import namespace

try:
    from relu_altmin.kernels import _gn_numba_cuda as gcuda
    from relu_altmin.kernels import _numba_cuda as kcuda
except ImportError:  # numba-cuda is optional
    gcuda = kcuda = None

KINDS = ("relu", "leaky", "general")  # slope 0, slope 0.1, any real weights
LAYOUTS = ("C", "F", "strided")


# ----------------------------------------------------------------------------- the oracle

def einsum_product(Xt, D, V, dW, Hb=None, dT=None):
    """``(out_W, out_T)`` in float64 by einsum, independently of the package's reference."""
    Xt, D, V, dW = (np.asarray(a, np.float64) for a in (Xt, D, V, dW))
    U = np.einsum("ij,ia,ja,jo->io", D, Xt, dW, V)
    if Hb is not None:
        Hb, dT = np.asarray(Hb, np.float64), np.asarray(dT, np.float64)
        U = U + np.einsum("ic,co->io", Hb, dT)
    out_W = np.einsum("ij,io,jo,ia->ja", D, U, V, Xt)
    return out_W, (None if Hb is None else np.einsum("ic,io->co", Hb, U))


def assert_matches_einsum(result, Xt, D, V, dW, Hb=None, dT=None):
    """Entrywise ``|out - R| <= tol * S``: ``R`` the einsum, ``S`` the einsum of absolute values.

    Every entry of ``out_W`` is a sum over the n rows of terms that each carry a sum over
    ``d~ + h + m`` products (``U``) and over ``k`` outputs; whatever order a kernel adds them
    in, its rounding error is at most about ``(n + d~ + h + m + k) * eps`` times the same sums of
    absolute values, ``S`` (standard bounds for recursive summation, with room for the few
    extra roundings of each product). Products that underflow add at most ``tiny`` each, scaled
    by the largest magnitude (4) they can be multiplied by later.
    """
    out_W, out_T = result
    dtype = np.asarray(Xt).dtype
    R_W, R_T = einsum_product(Xt, D, V, dW, Hb, dT)
    absolute = [None if a is None else np.abs(np.asarray(a, np.float64))
                for a in (Xt, D, V, dW, Hb, dT)]
    S_W, S_T = einsum_product(*absolute)
    n, dt = np.shape(Xt)
    h, k = np.shape(V)
    m = 0 if Hb is None else np.shape(Hb)[1]
    finfo = np.finfo(dtype)
    terms = n + dt + h + m + k + 8
    tiny = finfo.tiny * 4.0**6 * terms * n * (h + m + 1) * (k + 1)
    assert (out_T is None) == (Hb is None)
    for name, out, R, S in (("out_W", out_W, R_W, S_W), ("out_T", out_T, R_T, S_T)):
        if R is None:
            continue
        out = np.asarray(out)
        assert out.dtype == dtype, (name, out.dtype)
        assert out.shape == R.shape, (name, out.shape, R.shape)
        bound = 2 * terms * finfo.eps * S + tiny
        err = np.abs(out.astype(np.float64) - R)
        worst = np.unravel_index(np.argmax(err - bound), err.shape) if err.size else ()
        assert not (err > bound).any(), (
            f"{name}: {(err > bound).sum()} entries off; worst at {worst}: "
            f"|out - R| = {err[worst]:.3g} > bound {bound[worst]:.3g}"
        )


# ----------------------------------------------------------------------------- inputs

def pattern(kind, A, values):
    if kind == "relu":
        return A.astype(np.float64)
    if kind == "leaky":
        return np.where(A, 1.0, 0.1)
    return values


def layout(a, how):
    if how == "C":
        return np.ascontiguousarray(a)
    if how == "F":
        return np.asfortranarray(a)
    big = np.zeros((2 * a.shape[0] + 1, 3 * a.shape[1] + 1), dtype=a.dtype)
    big[1::2, 2::3] = a
    return big[1::2, 2::3]


floats = st.floats(-4, 4, allow_subnormal=False, width=32)


def arrays(dtype, shape, elements=floats):
    """Every element drawn on its own (hypothesis otherwise fills most of an array with one
    repeated value, which hides bugs that mix up rows, units or outputs)."""
    return hnp.arrays(dtype, shape, elements=elements, fill=st.nothing())


@st.composite
def problems(draw, *, max_n=30, max_h=6, max_d=6, max_k=3, joint=(False, True),
             layouts=LAYOUTS, dtypes=(np.float64, np.float32)):
    """``(Xt, D, V, dW, Hb, dT)`` NumPy arrays of one dtype (``Hb``, ``dT`` None or not)."""
    n = draw(st.integers(1, max_n))
    h = draw(st.integers(1, max_h))
    dt = draw(st.integers(1, max_d))
    k = draw(st.integers(1, max_k))
    dtype = draw(st.sampled_from(dtypes))
    Xt = draw(arrays(np.float64, (n, dt)))
    A = draw(arrays(np.bool_, (n, h), st.booleans()))
    D = pattern(draw(st.sampled_from(KINDS)), A, draw(arrays(np.float64, (n, h))))
    V = draw(arrays(np.float64, (h, k)))
    dW = draw(arrays(np.float64, (h, dt)))
    Hb = dT = None
    if draw(st.sampled_from(joint)):
        m = h + 1
        Hb = np.concatenate([draw(arrays(np.float64, (n, h))), np.ones((n, 1))], axis=1)
        dT = draw(arrays(np.float64, (m, k)))
    out = []
    for a in (Xt, D, V, dW, Hb, dT):
        out.append(None if a is None else layout(a.astype(dtype), draw(st.sampled_from(layouts))))
    return tuple(out)


def random_problem(rng, n, dt, h, k, *, joint=True, dtype=np.float64, slope=0.1):
    Xt = rng.standard_normal((n, dt))
    D = np.where(rng.random((n, h)) < 0.5, 1.0, slope)
    V, dW = rng.standard_normal((h, k)), rng.standard_normal((h, dt))
    Hb = np.concatenate([rng.standard_normal((n, h)), np.ones((n, 1))], axis=1) if joint else None
    dT = rng.standard_normal((h + 1, k)) if joint else None
    return tuple(None if a is None else a.astype(dtype) for a in (Xt, D, V, dW, Hb, dT))


def call(problem, **kwargs):
    Xt, D, V, dW, Hb, dT = problem
    return gauss_newton_product(Xt, D, V, dW, Hb, dT, **kwargs)


# ----------------------------------------------------------------------------- Numba CPU

@settings(deadline=None, max_examples=60)
@given(problems())
def test_numba_matches_einsum(problem):
    result = call(problem, backend="numba")
    assert all(r is None or type(r) is np.ndarray for r in result)
    assert_matches_einsum(result, *problem)


@pytest.mark.parametrize("shape", [(1, 1, 1, 1), (1, 4, 3, 2), (7, 1, 5, 1), (5, 3, 1, 3),
                                   (9, 9, 64, 1), (0, 3, 2, 1), (4, 3, 2, 0)])
@pytest.mark.parametrize("joint", [False, True])
def test_numba_edge_shapes(shape, joint):
    n, dt, h, k = shape
    problem = random_problem(np.random.default_rng(0), n, dt, h, k, joint=joint)
    assert_matches_einsum(call(problem), *problem)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_numba_many_blocks(dtype):
    """More rows than one block (several partial sums, in the parallel path when Numba has
    more than one thread)."""
    problem = random_problem(np.random.default_rng(1), 1500, 9, 16, 2, dtype=dtype)
    assert_matches_einsum(call(problem), *problem)


def test_numba_parallel_equals_serial():
    """Blocks depend on n only and are added in order, so one thread and two give the same bits."""
    import numba
    from relu_altmin.kernels import _gn_numba_cpu

    if numba.config.NUMBA_NUM_THREADS < 2:
        pytest.skip("Numba was started with one thread")
    rng = np.random.default_rng(2)
    n = 2000
    assert _gn_numba_cpu.blocks(n)[1] > 2
    threads = numba.get_num_threads()
    for joint, slope in ((False, 0.0), (True, 0.1)):
        problem = random_problem(rng, n, 5, 7, 2, joint=joint, slope=slope)
        try:
            numba.set_num_threads(2)
            parallel = call(problem)
            numba.set_num_threads(1)
            serial = call(problem)
        finally:
            numba.set_num_threads(threads)
        for a, b in zip(parallel, serial, strict=True):
            if a is not None:
                np.testing.assert_array_equal(a, b)
        assert_matches_einsum(parallel, *problem)


def test_delegates(monkeypatch):
    """NumPy input goes to the Numba kernel: the reference, made to raise, is never called,
    and the kernel's entry point is."""
    from relu_altmin.kernels import _gn_numba_cpu

    def boom(*args, **kwargs):
        raise AssertionError("the array-API reference ran")

    ran = []
    kernel = _gn_numba_cpu.gauss_newton_product_numpy

    def spy(*args):
        ran.append(True)
        return kernel(*args)

    monkeypatch.setattr(kernels, "gauss_newton_product_reference", boom)
    monkeypatch.setattr(_gn_numba_cpu, "gauss_newton_product_numpy", spy)
    problem = random_problem(np.random.default_rng(3), 9, 3, 4, 1)
    for backend in (None, "auto", "numba"):
        assert_matches_einsum(call(problem, backend=backend), *problem)
    assert len(ran) == 3
    with pytest.raises(AssertionError, match="reference ran"):  # the patch does take effect
        call(problem, backend="reference")


def test_inputs_not_modified():
    problem = random_problem(np.random.default_rng(4), 30, 4, 5, 2)
    before = [a.copy() for a in problem]
    call(problem)
    for a, b in zip(problem, before, strict=True):
        np.testing.assert_array_equal(a, b)


# ----------------------------------------------------------------------------- the reference

@pytest.mark.parametrize("name", ["numpy", "array_api_strict", "torch"])
@settings(deadline=None, max_examples=10)
@given(problem=problems(max_n=12, layouts=("C",)))
def test_reference_in_each_namespace(name, problem):
    xp = namespace(name)
    args = [None if a is None else xp.asarray(a) for a in problem]
    backends = ["reference"] if name == "numpy" else [None, "reference"]
    for backend in backends:
        out_W, out_T = gauss_newton_product(*args, backend=backend)
        assert type(out_W) is type(args[0]) and out_W.dtype == args[0].dtype
        assert (out_T is None) == (args[4] is None)
        assert_matches_einsum((to_numpy(out_W), None if out_T is None else to_numpy(out_T)),
                              *problem)


# ----------------------------------------------------------------------------- Numba CUDA

needs_simulator = pytest.mark.skipif(
    kcuda is None or not kcuda.simulator(),
    reason="host arrays posing as CUDA arrays only work in Numba's CUDA simulator",
)
needs_cuda = pytest.mark.skipif(
    kcuda is None or not kcuda.cuda_available(),
    reason="Numba CUDA cannot run here (no numba-cuda, no GPU, simulator off)",
)
cuda_small = settings(deadline=None, max_examples=6)


class HostCudaArray(np.ndarray):
    """A NumPy array that claims ``__cuda_array_interface__`` (in the simulator, device memory is
    host memory), standing in for a CuPy array on the public dispatch."""

    @property
    def __cuda_array_interface__(self):
        return self.__array_interface__


def host_cuda(a):
    return None if a is None else np.asarray(a).view(HostCudaArray)


@needs_simulator
@cuda_small
@given(problems(max_n=9, max_h=3, max_d=3, max_k=2))
def test_cuda_simulator_matches_einsum(problem):
    assert_matches_einsum(call([host_cuda(a) for a in problem], backend="cuda"), *problem)


@needs_simulator
def test_cuda_auto_dispatch(monkeypatch):
    """Arrays exposing ``__cuda_array_interface__`` go to the CUDA kernels, never elsewhere."""
    def boom(*args, **kwargs):
        raise AssertionError("another backend ran")

    from relu_altmin.kernels import _gn_numba_cpu

    monkeypatch.setattr(kernels, "gauss_newton_product_reference", boom)
    monkeypatch.setattr(_gn_numba_cpu, "gauss_newton_product_numpy", boom)
    problem = random_problem(np.random.default_rng(5), 6, 3, 2, 2)
    assert_matches_einsum(call([host_cuda(a) for a in problem]), *problem)


@needs_cuda
@cuda_small
@given(problems(max_n=12, max_h=3, max_d=3, max_k=2, layouts=("C",)),
       st.sampled_from([1, 2, 4]))
def test_cuda_launcher_threads(problem, threads):
    """The launcher on Numba device arrays with fewer threads than rows (several strides per
    thread and reduction levels)."""
    from numba import cuda

    Xt, D, V, dW, Hb, dT = problem
    (n, dt), (h, k) = Xt.shape, V.shape
    dev = [None if a is None else cuda.to_device(np.ascontiguousarray(a))
           for a in (Xt, D, V, dW, Hb, dT)]
    U = cuda.device_array((n, k), dtype=Xt.dtype)
    out_W = cuda.device_array((h, dt), dtype=Xt.dtype)
    out_T = None if Hb is None else cuda.device_array((Hb.shape[1], k), dtype=Xt.dtype)
    gcuda.launch_gauss_newton_product(*dev, U, out_W, out_T, threads=threads)
    result = (out_W.copy_to_host(), None if out_T is None else out_T.copy_to_host())
    assert_matches_einsum(result, *problem)


def test_cuda_launcher_rejects_bad_threads():
    if gcuda is None:
        pytest.skip("numba-cuda is not installed")
    with pytest.raises(ValueError, match="threads must be a power of two"):
        gcuda.launch_gauss_newton_product(*([None] * 9), threads=3)


@pytest.mark.gpu
@settings(deadline=None, max_examples=20)
@given(problems(max_n=300, max_h=64, max_d=33, layouts=("C", "F")))
def test_cupy_matches_einsum(problem):
    cupy = usable_cupy()
    if cupy is None:
        pytest.skip("cupy: no usable CUDA device on this machine")
    out_W, out_T = call([None if a is None else cupy.asarray(a) for a in problem])
    assert type(out_W) is cupy.ndarray
    assert_matches_einsum((cupy.asnumpy(out_W), None if out_T is None else cupy.asnumpy(out_T)),
                          *problem)


# ----------------------------------------------------------------------------- bad input

def _ok():
    return random_problem(np.random.default_rng(6), 5, 3, 2, 1)


def _replace(problem, **changes):
    names = ("Xt", "D", "V", "dW", "Hb", "dT")
    kwargs = dict(zip(names, problem, strict=True))
    backend = changes.pop("backend", None)
    kwargs.update(changes)
    return kwargs, backend


@pytest.mark.parametrize(
    ("change", "error", "match"),
    [
        (lambda p: _replace(p, Xt=p[0][:, 0]), ValueError, "Xt must be 2-D"),
        (lambda p: _replace(p, D=p[1][:4]), ValueError, "D must be 2-D"),
        (lambda p: _replace(p, V=p[2][:1]), ValueError, "V must be 2-D"),
        (lambda p: _replace(p, V=p[2][:, 0]), ValueError, "V must be 2-D"),
        (lambda p: _replace(p, dW=p[3][:, :2]), ValueError, "dW must have shape"),
        (lambda p: _replace(p, Hb=p[4][:4]), ValueError, "Hb must be 2-D"),
        (lambda p: _replace(p, dT=p[5][:2]), ValueError, "dT must have shape"),
        (lambda p: _replace(p, dT=None), ValueError, "Hb and dT must be given together"),
        (lambda p: _replace(p, Hb=None), ValueError, "Hb and dT must be given together"),
        (lambda p: _replace(p, Xt=p[0].astype(int)), TypeError, "Xt must have a real floating"),
        (lambda p: _replace(p, D=p[1].astype(bool)), TypeError, "D must have a real floating"),
        (lambda p: _replace(p, V=p[2].astype(complex)), TypeError,
         "V must have a real floating"),
        (lambda p: _replace(p, dW=p[3].astype(np.float32)), TypeError, "dW has dtype float32"),
        (lambda p: _replace(p, dT=p[5].astype(np.float32)), TypeError, "dT has dtype float32"),
        (lambda p: _replace(p, Hb=p[4].tolist()), TypeError, "Hb must be an array"),
        (lambda p: _replace(p, backend="fortran"), ValueError, "backend must be None or one of"),
        (lambda p: _replace(p, backend="cuda"), TypeError, "but Xt is ndarray"),
        (lambda p: _replace(p, **{n: None if a is None else a.astype(np.float16)
                                  for n, a in zip(("Xt", "D", "V", "dW", "Hb", "dT"), p,
                                                  strict=True)},
                            backend="numba"), TypeError, "float32 or float64"),
    ],
)
def test_bad_input(change, error, match):
    kwargs, backend = change(_ok())
    with pytest.raises(error, match=match):
        gauss_newton_product(**kwargs, backend=backend)


def test_mixed_namespaces_and_wrong_backend():
    torch = pytest.importorskip("torch")
    Xt, D, V, dW, _, _ = _ok()
    with pytest.raises(TypeError, match="share one array namespace"):
        gauss_newton_product(Xt, torch.asarray(D), V, dW)
    with pytest.raises(TypeError, match="backend='numba' needs NumPy arrays, but Xt is Tensor"):
        gauss_newton_product(*(torch.asarray(a) for a in (Xt, D, V, dW)), backend="numba")


def test_cuda_unavailable_raises(monkeypatch):
    """An explicit backend is never downgraded: no CUDA means an error, not the reference."""
    monkeypatch.setattr(kernels, "_cuda_available", lambda: False)
    problem = _ok()
    with pytest.raises(RuntimeError, match="backend='cuda' was requested"):
        call([host_cuda(a) for a in problem], backend="cuda")
    # "auto" may pick the reference, which runs on the caller's device.
    assert_matches_einsum(call([host_cuda(a) for a in problem]), *problem)
