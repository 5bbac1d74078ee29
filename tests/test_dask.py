"""Dask (issue "Scale", item 3): ``fit`` on dask arrays runs on a ``dask.distributed`` cluster.

Each pass maps over the row blocks on the workers and adds the per-block sums in a tree; the
small solves run on the client. On a ``LocalCluster`` with two worker processes the fit must
give the NumPy fit of the same data, and the network must come back as dask arrays that
predict lazily.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from conftest import usable_cupy
from hypothesis import example, given, settings
from hypothesis import strategies as st

import relu_altmin
from relu_altmin._rows import make_rows

da = pytest.importorskip("dask.array", reason="dask is not installed (the test extra has it)")
distributed = pytest.importorskip("dask.distributed",
                                  reason="dask.distributed is not installed (the test extra)")


@pytest.fixture(scope="module")
def client():
    """Two single-threaded worker processes: every pass really crosses process boundaries."""
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as dask_client:
        yield dask_client


def data(one_d: bool, float32: bool) -> tuple[np.ndarray, np.ndarray]:
    X, y = relu_altmin.load_diabetes()
    X, y = X[:300], (y[:300] if one_d else np.c_[y[:300], X[:300, 2] * X[:300, 3]])
    dtype = np.float32 if float32 else np.float64
    return X.astype(dtype), y.astype(dtype)


@pytest.mark.parametrize(("rows_per_block", "one_d", "float32", "step", "slope"), [
    (37, True, False, "joint", 0.0),
    (100, False, False, "damped", 0.1),
    (300, True, True, "exact", 0.0),
    (64, False, True, "joint", 0.2),
])
def test_dask_fit_on_a_cluster_is_the_numpy_fit(client, rows_per_block, one_d, float32, step,
                                                slope):
    X, y = data(one_d, float32)
    # precision="data": float32 rows stay float32 on so few rows too (the path long data takes)
    kwargs = dict(negative_slope=slope, seed=3, max_iter=3, step=step, tol=0.0, solver="dense",
                  precision="data")
    # float32 rows sum each chunk in float32 and the chunks in float64: the NumPy fit read in
    # the same chunks differs from the cluster's only in the float64 order of the additions.
    expected = relu_altmin.fit(X, y, 6, chunk_rows=rows_per_block if float32 else None,
                               **kwargs)
    Xd = da.from_array(X, chunks=(rows_per_block, 4))  # column blocks are joined by fit
    yd = da.from_array(y, chunks=(rows_per_block, *y.shape[1:]))
    with distributed.get_task_stream(client) as tasks:
        result = relu_altmin.fit(Xd, yd, 6, **kwargs)
    # The passes ran on the cluster's workers, both of them.
    assert len({task["worker"] for task in tasks.data}) == 2
    # Same pattern decisions, same steps; the sums are added in another order (a tree),
    # so the numbers agree to rounding amplified by the solves' conditioning.
    assert [(r.step, r.pattern_flips, r.solves) for r in result.history] == \
        [(r.step, r.pattern_flips, r.solves) for r in expected.history]
    for got, want in zip(result.history, expected.history, strict=True):
        assert got.loss == pytest.approx(want.loss, rel=1e-9, abs=1e-12)
    for name in ("W", "b", "V", "c"):
        got, want = getattr(result.network, name), getattr(expected.network, name)
        assert isinstance(got, da.Array) and got.dtype == want.dtype
        np.testing.assert_allclose(got.compute(), want, rtol=1e-6,
                                   atol=1e-6 * float(np.abs(want).max()))
    prediction = result.network.predict(Xd)
    assert isinstance(prediction, da.Array)
    np.testing.assert_allclose(prediction.compute(), expected.network.predict(X),
                               rtol=1e-5, atol=1e-5 * float(np.abs(y).max()))


def test_dask_matrix_free_fit_descends(client):
    X, y = data(True, False)
    Xd, yd = da.from_array(X, chunks=(75, 10)), da.from_array(y, chunks=75)
    result = relu_altmin.fit(Xd, yd, 6, seed=0, max_iter=2, solver="cg", tol=0.0)
    assert result.solver == "cg" and all(r.cg_iterations > 0 for r in result.history[1:])
    first = relu_altmin.fit(X, y, 6, seed=0, max_iter=1, solver="cg", tol=0.0)
    # Truncated CG (30 products) amplifies the rounding of the tree-ordered sums: the first
    # step agrees to about 1e-7, not to rounding (the dense fits above do).
    assert result.history[1].loss == pytest.approx(first.history[1].loss, rel=1e-5)
    assert result.history[-1].objective < result.history[0].objective


@settings(max_examples=10)
@given(size=st.integers(1, 120), rows_per_block=st.integers(20, 150),
       seed=st.integers(0, 2**32 - 1))
@example(size=1, rows_per_block=100, seed=0)  # its first draw keeps no row
def test_dask_curvature_sample_is_each_blocks_own_draw(client, size, rows_per_block, seed):
    """A sample of dask rows (``fit(curvature_rows=...)``, long data) is drawn on the workers,
    each block from its own child of the generator, every row kept with chance ``size / n``;
    a draw that keeps no row is drawn again. Replayed here from the same seed, row for row."""
    X, y = data(True, False)
    Xd = da.from_array(X, chunks=(rows_per_block, 4))
    rows = make_rows(Xd, da.from_array(y, chunks=rows_per_block), True, 6, None)
    rows.scan()
    with distributed.get_task_stream(client) as tasks:
        sample = rows.sample(size, np.random.default_rng(seed))
    assert any("_block_sample" in str(task["key"]) for task in tasks.data)  # on the workers
    starts = np.cumsum((0, *Xd.chunks[0][:-1]))
    replay = np.random.default_rng(seed)
    kept = np.zeros(0, dtype=int)
    while kept.size == 0:
        kept = np.concatenate([
            start + np.flatnonzero(child.random(length) < size / X.shape[0])
            for start, length, child in zip(starts, Xd.chunks[0],
                                            replay.spawn(len(Xd.chunks[0])), strict=True)])
    (Xt, Y), = sample.in_memory()
    np.testing.assert_array_equal(Xt[:, :-1], X[kept])  # the last column is the bias's ones
    np.testing.assert_array_equal(Y[:, 0], y[kept])


def test_dask_sampled_fit_descends_and_repeats(client):
    """On the cluster, a fit whose systems are built on row samples never raises the
    objective between re-initialisations, uses the samples (its steps differ from the fit on
    every row), and gives the same history again from the same seed."""
    X, y = data(True, False)
    Xd, yd = da.from_array(X, chunks=(75, 10)), da.from_array(y, chunks=75)
    kwargs = dict(seed=2, max_iter=5, tol=0.0, solver="dense")
    sampled, again = (relu_altmin.fit(Xd, yd, 6, curvature_rows=40, **kwargs) for _ in range(2))
    full = relu_altmin.fit(Xd, yd, 6, **kwargs)
    assert [r.loss for r in sampled.history] != [r.loss for r in full.history]
    assert [{**vars(r), "seconds": 0.0} for r in sampled.history] == \
        [{**vars(r), "seconds": 0.0} for r in again.history]
    for before, after in itertools.pairwise(sampled.history):
        if after.reinit_unit < 0:
            assert after.objective <= before.objective


def test_dask_mixed_dtypes_promote_like_numpy(client):
    """float32 X with float64 y trains and returns float64, as for NumPy arrays."""
    X, y = data(True, False)
    X32 = X.astype(np.float32)
    expected = relu_altmin.fit(X32, y, 4, seed=0, max_iter=1)
    result = relu_altmin.fit(da.from_array(X32, chunks=(100, 10)), da.from_array(y, chunks=100),
                             4, seed=0, max_iter=1)
    for name in ("W", "b", "V", "c"):
        assert getattr(result.network, name).dtype == getattr(expected.network, name).dtype \
            == np.float64


def test_dask_input_is_validated(client):
    X, y = data(True, False)
    Xd, yd = da.from_array(X, chunks=(100, 10)), da.from_array(y, chunks=100)
    bad = da.from_array(np.where(X > 2, np.nan, X), chunks=(100, 10))
    with pytest.raises(ValueError, match="X contains NaN or inf"):
        relu_altmin.fit(bad, yd, 2)
    with pytest.raises(ValueError, match="chunk_rows does not apply to dask arrays"):
        relu_altmin.fit(Xd, yd, 2, chunk_rows=10)
    with pytest.raises(TypeError, match="one array library"):
        relu_altmin.fit(Xd, y, 2)
    with pytest.raises(ValueError, match="y must have shape"):
        relu_altmin.fit(Xd, yd[:-1], 2)


def test_dask_with_cupy_blocks(client):
    cupy = usable_cupy()
    if cupy is None:
        pytest.skip("cupy: no usable CUDA device on this machine")
    X, y = data(True, False)
    Xd = da.from_array(cupy.asarray(X), chunks=(100, 10))
    yd = da.from_array(cupy.asarray(y), chunks=100)
    result = relu_altmin.fit(Xd, yd, 6, seed=0, max_iter=3, solver="dense", tol=0.0)
    expected = relu_altmin.fit(X, y, 6, seed=0, max_iter=3, solver="dense", tol=0.0)
    assert result.loss == pytest.approx(expected.loss, rel=1e-9)


def test_worker_killed_mid_fit_changes_nothing(client, tmp_path):
    """Issue 25, item 6: a worker process killed (``os._exit``, no goodbye) in the middle of a
    pass: the scheduler reruns the block it was running and recomputes the blocks and partial
    sums it held from their sources in the graph (``da.from_array`` of NumPy arrays), the
    nanny starts a new worker, and the fit ends exactly as the same fit without the failure.

    The kill comes from inside a block: after iteration 2 the callback arms a flag, and the
    first block read afterwards kills its worker (once: the marker is created atomically).
    A task may see up to ``distributed.scheduler.allowed-failures`` (default 3) workers die
    under it before the scheduler gives up with ``KilledWorker``; this one sees one.
    """
    import os

    armed, killed = tmp_path / "armed", tmp_path / "killed"

    def read_block(block):  # runs on a worker; local, so cloudpickle ships it by value
        if os.path.exists(armed):
            try:
                os.close(os.open(killed, os.O_CREAT | os.O_EXCL))
            except FileExistsError:
                return block
            os._exit(1)
        return block

    X, y = data(True, False)
    Xd = da.from_array(X, chunks=(50, 10)).map_blocks(read_block, dtype=X.dtype)
    yd = da.from_array(y, chunks=50)
    kwargs = dict(negative_slope=0.1, seed=1, max_iter=4, tol=0.0, solver="dense")

    def arm_after_iteration_2(record, network):
        if record.iteration == 2:
            armed.touch()

    expected = relu_altmin.fit(Xd, yd, 6, **kwargs)
    assert not killed.exists()
    before = set(client.scheduler_info()["workers"])
    result = relu_altmin.fit(Xd, yd, 6, callback=arm_after_iteration_2, **kwargs)
    assert killed.exists()  # a worker died in a pass after iteration 2
    client.wait_for_workers(2, timeout=30)  # its nanny started a new one (for later tests too)
    after = set(client.scheduler_info()["workers"])
    assert len(before - after) == 1 and len(after - before) == 1

    assert result.stop_reason == expected.stop_reason == "max_iter"
    fields = ("iteration", "loss", "objective", "step", "pattern_flips", "grad_norm_W",
              "grad_norm_V", "mu", "solves", "reinit_unit")
    assert [[getattr(r, f) for f in fields] for r in result.history] == \
        [[getattr(r, f) for f in fields] for r in expected.history]
    for name in ("W", "b", "V", "c"):
        np.testing.assert_array_equal(getattr(result.network, name).compute(),
                                      getattr(expected.network, name).compute())


@pytest.mark.parametrize("rule", ["auto", "auto_1se"])
def test_dask_chooses_the_ridge_numpy_chooses(client, rule):
    """``l2="auto"`` and ``"auto_1se"`` need only sums over the rows: Dask blocks choose the
    same ridges, with scores equal to rounding."""
    X, y = data(True, False)
    kwargs = dict(seed=3, max_iter=2, l2=rule)
    expected = relu_altmin.fit(X, y, 6, **kwargs)
    result = relu_altmin.fit(da.from_array(X, chunks=(70, 10)), da.from_array(y, chunks=70),
                             6, **kwargs)
    assert [c.l2 for c in result.l2_choices] == [c.l2 for c in expected.l2_choices]
    np.testing.assert_allclose([c.score for c in result.l2_choices],
                               [c.score for c in expected.l2_choices], rtol=1e-8)
