"""The training rows as a sum over row chunks: in memory, streamed, or on a Dask cluster.

Everything the fit reads from the data is a sum over rows (docs/design.md §2: the Gram matrix ``G``,
the right-hand sides, the output step's ``Hb^T Hb`` and ``Hb^T Y``, the squared error, the
gradients, the products of conjugate gradients). A :class:`Rows` object computes such a sum
with ``rows.reduce(fn, *args)``: ``fn(Xt, Y, *args)`` is called on every chunk of the rows
``Xt = [X, 1]`` and targets ``Y`` (2-D), and the results (arrays, scalars or ``None``,
possibly in tuples) are added. The small solves then run on the sums, so peak memory depends
on the chunk size and the model, never on the number of rows.

The precision policy (``fit(precision=...)``, docs/method.md): the rows are held in their
*working dtype* (:func:`working_dtype`): float32 for float32 data under ``precision="data"``,
and under ``"auto"`` from ``FLOAT32_MIN_ROWS`` rows up; float64 otherwise.
Parameters stay float64; :func:`chunk_call` hands a float32 chunk its arguments in float32 and
widens its sums to float64, so everything that grows with ``n`` runs in float32 while the sums
over chunks, and the small solves on them, are float64. float32 rows in memory are read in
blocks of :data:`BLOCK_ROWS` rows for the same reason: a float32 sum's rounding then grows with
the block, not with ``n`` (blocked summation).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
from array_api_compat import array_namespace, device, is_array_api_obj, is_dask_array

from ._model import Params, augment
from ._validation import (
    check_array,
    check_data,
    check_shapes,
    common_namespace,
    working_copies,
)

#: Elements (not bytes) of the largest ``rows x width`` temporary a streamed chunk allocates:
#: the default chunk is ``CHUNK_ELEMENTS // width`` rows, ``width`` the widest of the
#: features, hidden units and outputs.
CHUNK_ELEMENTS = 2**22

#: Rows per block when float32 rows in memory are summed: each block's sums are formed in
#: float32 and the blocks' sums added in float64, so the float32 rounding of a sum of ``n``
#: terms grows like that of ``BLOCK_ROWS`` terms.
BLOCK_ROWS = 2**13

#: ``fit(precision=...)``: ``"data"`` runs the work that grows with ``n`` in the data's dtype
#: (float32 stays float32); ``"auto"`` does so from ``FLOAT32_MIN_ROWS`` rows up;
#: ``"float64"`` promotes float32 data to float64 end to end.
PRECISIONS = ("auto", "data", "float64")

#: Rows from which ``precision="auto"`` keeps float32 data in float32. Below it an iteration's
#: time goes mostly to the float64 solves, so float32 passes save little (0.85-1.9x on the
#: benchmark's data sets, ``benchmarks/results/precision.md``), while the digits they drop
#: send the fit down another path.
FLOAT32_MIN_ROWS = 2**14


def working_dtype(xp: Any, dtype: Any, precision: str, rows: int | None = None) -> Any:
    """The dtype the rows are held and reduced in: float32 for float32 data (``dtype``, that
    of ``X`` and ``y`` together) under ``precision="data"``, or under ``"auto"`` with
    ``rows`` (``None``: not known) at least ``FLOAT32_MIN_ROWS``; else float64."""
    keep = precision == "data" or (precision == "auto" and (
        rows is None or rows != rows or rows >= FLOAT32_MIN_ROWS))
    return xp.float32 if keep and dtype == xp.float32 else xp.float64


def narrowed(args: Any, dtype: Any, xp: Any) -> Any:
    """The float64 arrays and :class:`Params` in ``args`` (nested in tuples) cast to ``dtype``:
    a chunk function's model-sized arguments in its chunk's dtype, so that no product with
    the rows is promoted back to float64."""
    if isinstance(args, tuple):
        return tuple(narrowed(a, dtype, xp) for a in args)
    if isinstance(args, Params):
        return args.astype(dtype, xp)
    if is_array_api_obj(args) and args.dtype == xp.float64:
        return xp.astype(args, dtype, copy=False)
    return args


def widened(result: Any, xp: Any) -> Any:
    """The floating arrays in a chunk function's ``result`` (nested in tuples) cast to
    float64, so the sums over chunks accumulate in float64."""
    if isinstance(result, tuple):
        return tuple(widened(r, xp) for r in result)
    if is_array_api_obj(result) and xp.isdtype(result.dtype, "real floating"):
        return xp.astype(result, xp.float64, copy=False)
    return result


def chunk_call(fn: Callable[..., Any], Xt: Any, Y: Any, args: tuple[Any, ...]) -> Any:
    """``fn(Xt, Y, *args)`` for one chunk; a chunk below float64 gets its arguments
    :func:`narrowed` to its dtype and returns its sums :func:`widened` to float64."""
    xp = array_namespace(Xt)
    if Xt.dtype == xp.float64:
        return fn(Xt, Y, *args)
    return widened(fn(Xt, Y, *narrowed(args, Xt.dtype, xp)), xp)


class Chunks:
    """Training data given as row chunks ``(X_chunk, y_chunk)``, read again on every pass.

    Pass it to :func:`relu_altmin.fit` as ``X`` with ``y=None``. The fit reads the chunks once
    to validate them and once or more per iteration, keeping one chunk in memory at a time.

    Parameters
    ----------
    source : callable or iterable
        A function of no arguments returning an iterable of ``(X_chunk, y_chunk)`` pairs
        (called once per pass: a generator function that reads a file, say), or a re-iterable
        collection of pairs (a list). Every pass must yield the same rows in the same order.
        ``X_chunk`` has shape ``(rows, d)``; ``y_chunk`` ``(rows,)`` or ``(rows, k)``; all
        chunks share one array namespace, device, ``d``, ``k`` and dtypes.

    Examples
    --------
    >>> import numpy as np
    >>> import relu_altmin
    >>> X, y = relu_altmin.load_diabetes()
    >>> def chunks():
    ...     for start in range(0, len(X), 100):
    ...         yield X[start:start + 100], y[start:start + 100]
    >>> result = relu_altmin.fit(relu_altmin.Chunks(chunks), None, 8, seed=0, max_iter=5)
    """

    def __init__(self, source: Callable[[], Iterable[Any]] | Iterable[Any]) -> None:
        if isinstance(source, Iterator):
            raise TypeError("Chunks needs a re-iterable source: pass a function that returns "
                            "a fresh iterator (a generator function), or a list, not an "
                            "iterator, which a second pass would find empty")
        if not callable(source) and not isinstance(source, Iterable):
            raise TypeError("Chunks needs a function returning an iterable of (X, y) pairs or "
                            f"a list of pairs, got {type(source).__name__}")
        self.source = source

    def __iter__(self) -> Iterator[Any]:
        return iter(self.source() if callable(self.source) else self.source)


@dataclass(frozen=True)
class Moments:
    """Row count, column means and column sums of squared deviations from the mean (``M2``)
    of a block of rows.

    ``+`` merges two blocks' moments exactly as Chan, Golub and LeVeque's parallel update
    (``delta = mean_b - mean_a``, ``M2 = M2_a + M2_b + delta^2 n_a n_b / n``), so chunk results
    can be added by :func:`add` (and Dask's tree of additions) in any grouping. Each chunk's
    ``M2`` is summed around that chunk's own mean (two passes over the chunk in memory), so
    no sum of raw squares is ever differenced: the variance of columns with a large common
    offset (``1e6`` plus unit noise) keeps its digits, where ``sum x^2 - n mean^2`` would lose
    them all."""

    count: int
    mean: Any  # (columns,), float64
    m2: Any  # (columns,), sum of (x - mean)^2

    @staticmethod
    def of(A: Any) -> Moments:
        """The moments of the rows of the 2-D float64 array ``A``."""
        xp = array_namespace(A)
        n = int(A.shape[0])
        if not n:  # an empty block (a Dask block of no rows): nothing to merge
            zeros = xp.zeros(A.shape[1], dtype=A.dtype, device=device(A))
            return Moments(0, zeros, zeros)
        mean = xp.sum(A, axis=0) / n
        deviations = A - mean
        return Moments(n, mean, xp.sum(deviations * deviations, axis=0))

    def __add__(self, other: Moments) -> Moments:
        if not other.count:
            return self
        if not self.count:
            return other
        n = self.count + other.count
        delta = other.mean - self.mean
        return Moments(n, self.mean + delta * (other.count / n),
                       self.m2 + other.m2 + (delta * delta) * (self.count * other.count / n))


@dataclass
class Stats:
    """Sums over all rows read once before training: sizes and scales of the data."""

    n: int
    x_squares: float  # sum of X**2 (without the bias column)
    y_squares: float  # sum of Y**2
    x_moments: Moments | None = None  # column means and M2 of X (per feature)
    y_moments: Moments | None = None  # ... of Y (per output)


class Rows:
    """Training rows read by :meth:`reduce`; see the module docstring.

    Attributes: ``xp`` (namespace of the chunks and of the parameters: the small solves run
    here), ``d``, ``k``, ``bias``, ``stats``, ``dtype`` and ``y_ndim`` (of the caller's data),
    ``work`` (the working dtype of the chunks, :func:`working_dtype`), ``template`` (an array
    in the caller's namespace and on its device).
    """

    xp: Any
    d: int
    k: int
    bias: bool
    stats: Stats
    dtype: Any
    work: Any
    y_ndim: int
    template: Any

    @property
    def n(self) -> int:
        return self.stats.n

    @property
    def dt(self) -> int:
        """Columns of ``Xt``: ``d`` plus the bias column."""
        return self.d + int(self.bias)

    def reduce(self, fn: Callable[..., Any], *args: Any) -> Any:
        """``sum over chunks of fn(Xt, Y, *args)`` (tuples and ``None`` added entrywise)."""
        raise NotImplementedError

    def in_memory(self) -> list[tuple[Any, Any]] | None:
        """The chunks ``(Xt, Y)`` (blocks, for float32) when the rows are held in memory,
        else ``None``."""
        return None

    @property
    def chunk_limit(self) -> int | None:
        """Rows of the largest chunk a pass holds when streaming (``None`` in memory): what
        a row sample may hold without raising peak memory."""
        return None

    def to_working(self, a: Any) -> Any:
        """An array of the caller's namespace as an array of :attr:`xp` (the same, but Dask)."""
        return a

    def to_caller(self, a: Any) -> Any:
        """An array of :attr:`xp` in the caller's namespace (the same, but for Dask)."""
        return a

    def sample(self, size: int, rng: np.random.Generator) -> Rows:
        """About ``size`` rows drawn uniformly, kept in memory as rows of their own.

        Each row is kept with probability ``size / n`` (:meth:`_bernoulli_draw`), so no pass
        needs more than one chunk and the sample. A draw that keeps no row (chance below
        ``exp(-size)``) is drawn again."""
        while True:
            stacked = self._bernoulli_draw(size / self.n, rng)
            if stacked.n:
                return stacked.rows(self)

    def _bernoulli_draw(self, probability: float, rng: np.random.Generator) -> _Stacked:
        """The rows a coin of ``probability`` keeps: a fresh draw from ``rng`` for each chunk,
        read in order."""
        stacked: _Stacked = self.reduce(_bernoulli_rows, probability, rng)
        return stacked

    def scan(self) -> None:
        """Read every chunk once: count rows, reject NaN or inf, sum squares and find the
        column means and spreads (:attr:`stats`, :class:`Moments`)."""
        n, x_sq, y_sq, bad_x, bad_y, x_moments, y_moments = self.reduce(_scan_sums, self.d)
        if int(bad_x):
            raise ValueError("X contains NaN or inf")
        if int(bad_y):
            raise ValueError("y contains NaN or inf")
        if int(n) < 1:
            raise ValueError("X must have at least one row (sample), got 0")
        self.stats = Stats(int(n), float(x_sq), float(y_sq), x_moments, y_moments)

    def standardized(self, x_shift: Any, x_scale: Any, y_shift: Any, y_scale: Any) -> Rows:
        """These rows in the coordinates ``Xt_s = (Xt - x_shift) / x_scale`` and
        ``Y_s = (Y - y_shift) / y_scale`` (float64 vectors of :attr:`xp` of lengths ``dt``
        and ``k``; the bias column's entries are 0 and 1), after :meth:`scan`.

        Streamed rows map each chunk inside every pass (the data is never copied whole, so
        memory stays flat); rows in memory are mapped once (:class:`_InMemoryRows`)."""
        return _MappedRows(self, x_shift, x_scale, y_shift, y_scale)


def make_rows(X: Any, y: Any, bias: bool, hidden: int, chunk_rows: int | None,
              precision: str = "auto") -> Rows:
    """Check the training data's types and shapes and wrap it as :class:`Rows` (``fit``'s
    rules); :meth:`Rows.scan` then reads the values.

    Arrays in memory are converted to the working dtype (:func:`working_dtype` of
    ``precision`` and the row count) once and kept, unless ``chunk_rows`` is given; a
    ``numpy.memmap`` is streamed, ``chunk_rows`` rows at a time (default
    ``CHUNK_ELEMENTS // width``, ``width`` the largest of ``d + 1``, ``hidden`` and
    ``k``); a :class:`Chunks` is read chunk by chunk; Dask arrays are reduced block by block
    on the active scheduler.
    """
    if isinstance(X, Chunks):
        if y is not None:
            raise ValueError("y must be None when X is a Chunks: its chunks carry the targets")
        if chunk_rows is not None:
            raise ValueError("chunk_rows does not apply to a Chunks: it is read in its own "
                             "chunks")
        return _IteratedRows(X, bias, precision)
    dask = is_dask_array(X) or is_dask_array(y)
    xp = check_shapes(X, y)
    check_array(X, "X", xp, finite=False)
    check_array(y, "y", xp, finite=False)
    if chunk_rows is None and not dask and not isinstance(X, np.memmap) \
            and not isinstance(y, np.memmap):
        work = working_dtype(xp, xp.result_type(X.dtype, y.dtype), precision, X.shape[0])
        xp, Xw, Y = check_data(X, y, work)
        return _InMemoryRows(xp, augment(Xw, bias, xp), Y, bias, X.dtype, y)
    if dask:
        if chunk_rows is not None:
            raise ValueError("chunk_rows does not apply to dask arrays: they are read in their "
                             "own blocks (rechunk them instead)")
        return _DaskRows(X, y, bias, precision)
    width = max(X.shape[1] + 1, hidden, 1 if y.ndim == 1 else y.shape[1])
    return _SlicedRows(xp, X, y, bias, chunk_rows or max(1, CHUNK_ELEMENTS // width), precision)


def add(a: Any, b: Any) -> Any:
    """Entrywise sum of two chunk results (arrays, numbers, ``None``, tuples of these)."""
    if a is None:
        return b
    if isinstance(a, tuple):
        return tuple(add(u, v) for u, v in zip(a, b, strict=True))
    return a + b


def prepare(X: Any, y: Any, bias: bool, work: Any) -> tuple[Any, Any]:
    """A raw chunk as ``(Xt, Y)`` in the working dtype ``work``: the bias column appended,
    ``Y`` 2-D (copies)."""
    xp = array_namespace(X, y)
    Xw, Y = working_copies(X, y, xp, work)
    return augment(Xw, bias, xp), Y


class _Stacked:
    """Row blocks of several chunks, which ``+`` collects (the way :func:`add` sums chunk
    results) and :meth:`rows` stacks once at the end."""

    def __init__(self, blocks: list[tuple[Any, Any]]) -> None:
        self.blocks = blocks

    def __add__(self, other: _Stacked) -> _Stacked:
        return _Stacked(self.blocks + other.blocks)

    @property
    def n(self) -> int:
        """Rows in all blocks."""
        return sum(int(Xt.shape[0]) for Xt, _ in self.blocks)

    def rows(self, like: Rows) -> Rows:
        """The stacked rows, in memory, standing in for a sample of ``like``."""
        xp = like.xp
        Xt, Y = (xp.concat([block[i] for block in self.blocks]) for i in (0, 1))
        return _InMemoryRows(xp, Xt, Y, like.bias, like.dtype, Y)


def _bernoulli_rows(Xt: Any, Y: Any, probability: float,
                    rng: np.random.Generator) -> _Stacked:
    """The rows of one chunk that a coin of ``probability`` keeps."""
    return _taken(Xt, Y, np.flatnonzero(rng.random(Xt.shape[0]) < probability))


def _taken(Xt: Any, Y: Any, indices: np.ndarray) -> _Stacked:
    """Rows ``indices`` (NumPy integers, moved to the rows' device) of ``(Xt, Y)``."""
    xp = array_namespace(Xt, Y)
    where = xp.asarray(indices, dtype=xp.int64, device=device(Xt))
    return _Stacked([(xp.take(Xt, where, axis=0), xp.take(Y, where, axis=0))])


def _scan_sums(Xt: Any, Y: Any, d: int) -> tuple[Any, ...]:
    """Rows, ``sum X^2``, ``sum Y^2``, counts of non-finite entries, and the column
    :class:`Moments` of ``X`` and ``Y`` of one chunk (summed in float64 whatever its dtype:
    the scales the fit is built on)."""
    xp = array_namespace(Xt, Y)
    Xt, Y = xp.astype(Xt, xp.float64, copy=False), xp.astype(Y, xp.float64, copy=False)

    def bad(finite: Any) -> Any:
        return xp.sum(xp.astype(~finite, xp.int64))

    def moments(a: Any, finite: Any) -> Moments:
        # Non-finite entries (rejected by scan) are read as 0: no inf - inf warnings.
        return Moments.of(xp.where(finite, a, xp.zeros_like(a)))

    X = Xt[:, :d]
    finite_x, finite_y = xp.isfinite(X), xp.isfinite(Y)
    return (Xt.shape[0], xp.sum(X * X), xp.sum(Y * Y), bad(finite_x), bad(finite_y),
            moments(X, finite_x), moments(Y, finite_y))


def _mapped(Xt: Any, Y: Any, fn: Callable[..., Any], maps: tuple[Any, ...],
            args: tuple[Any, ...]) -> Any:
    """``fn`` on one chunk mapped to standardised coordinates (:meth:`Rows.standardized`)."""
    x_shift, x_scale, y_shift, y_scale = maps
    return fn((Xt - x_shift) / x_scale, (Y - y_shift) / y_scale, *args)


def _mapped_moments(moments: Moments, shift: Any, scale: Any) -> Moments:
    """The moments of ``(A - shift) / scale`` from those of ``A``."""
    return Moments(moments.count, (moments.mean - shift) / scale, moments.m2 / (scale * scale))


def _sum_squares(moments: Moments, xp: Any) -> float:
    """``sum A^2`` over all entries from the column moments of ``A``."""
    return float(xp.sum(moments.m2 + moments.count * (moments.mean * moments.mean)))


def _mapped_stats(stats: Stats, d: int, maps: tuple[Any, ...]) -> Stats:
    """The :class:`Stats` of rows mapped by ``maps`` (:meth:`Rows.standardized`), from the
    moments of the unmapped rows: no pass over the rows, and the same formula whether the
    rows are in memory or streamed."""
    x_shift, x_scale, y_shift, y_scale = maps
    assert stats.x_moments is not None and stats.y_moments is not None
    xp = array_namespace(x_scale)
    x_moments = _mapped_moments(stats.x_moments, x_shift[:d], x_scale[:d])
    y_moments = _mapped_moments(stats.y_moments, y_shift, y_scale)
    return Stats(stats.n, _sum_squares(x_moments, xp), _sum_squares(y_moments, xp),
                 x_moments, y_moments)


class _MappedRows(Rows):
    """Rows read through an affine map of every chunk (:meth:`Rows.standardized`): each
    pass maps the chunk it reads, on the worker for Dask, before ``fn`` sees it."""

    def __init__(self, inner: Rows, x_shift: Any, x_scale: Any, y_shift: Any,
                 y_scale: Any) -> None:
        self.inner = inner
        self.xp, self.d, self.k, self.bias = inner.xp, inner.d, inner.k, inner.bias
        self.dtype, self.y_ndim, self.template = inner.dtype, inner.y_ndim, inner.template
        self.work = inner.work
        self.maps = (x_shift, x_scale, y_shift, y_scale)
        self.stats = _mapped_stats(inner.stats, inner.d, self.maps)

    @property
    def chunk_limit(self) -> int | None:
        return self.inner.chunk_limit

    def reduce(self, fn: Callable[..., Any], *args: Any) -> Any:
        return self.inner.reduce(_mapped, fn, self.maps, args)

    def to_working(self, a: Any) -> Any:
        return self.inner.to_working(a)

    def to_caller(self, a: Any) -> Any:
        return self.inner.to_caller(a)

    def sample(self, size: int, rng: np.random.Generator) -> Rows:
        return self.inner.sample(size, rng).standardized(*self.maps)

    def scan(self) -> None:
        pass  # the stats are mapped from the inner rows' scan


class _InMemoryRows(Rows):
    """Arrays in memory in their working dtype, kept for the whole fit: float64 rows as one
    chunk, float32 rows read in blocks of :data:`BLOCK_ROWS` (views)."""

    def __init__(self, xp: Any, Xt: Any, Y: Any, bias: bool, x_dtype: Any, y: Any,
                 stats: Stats | None = None) -> None:
        self.xp, self.Xt, self.Y, self.bias = xp, Xt, Y, bias
        self.d, self.k = Xt.shape[1] - int(bias), Y.shape[1]
        self.dtype, self.work = xp.result_type(x_dtype, y.dtype), Xt.dtype
        self.y_ndim, self.template = y.ndim, Xt
        if stats is not None:
            self.stats = stats
        elif Xt.dtype == xp.float64:
            # check_data has rejected NaN and inf; the sums are those Rows.scan reads when
            # streaming.
            X = Xt[:, :self.d]
            self.stats = Stats(Xt.shape[0], float(xp.sum(X * X)), float(xp.sum(Y * Y)),
                               Moments.of(X), Moments.of(Y))
        else:
            Rows.scan(self)

    def reduce(self, fn: Callable[..., Any], *args: Any) -> Any:
        total = None
        for Xt, Y in self.in_memory():
            total = add(total, chunk_call(fn, Xt, Y, args))
        return total

    def in_memory(self) -> list[tuple[Any, Any]]:
        if self.Xt.dtype == self.xp.float64:
            return [(self.Xt, self.Y)]
        n = self.Xt.shape[0]
        block = BLOCK_ROWS
        return [(self.Xt[start:min(start + block, n), :], self.Y[start:min(start + block, n), :])
                for start in range(0, n, block)]

    def sample(self, size: int, rng: np.random.Generator) -> Rows:
        """``size`` distinct rows drawn uniformly (in their original order)."""
        indices = np.sort(rng.choice(self.n, size=min(size, self.n), replace=False))
        return _taken(self.Xt, self.Y, indices).rows(self)

    def scan(self) -> None:
        pass  # check_data has read the values; the stats are set

    def standardized(self, x_shift: Any, x_scale: Any, y_shift: Any, y_scale: Any) -> Rows:
        """Mapped once: the copy the rows hold is replaced by the mapped one, in the working
        dtype (no pass then maps anything). float64 rows take their stats from the mapped
        copy, the sums the fit then works with, so that rows standardised before the fit
        run exactly the fit of the same rows given raw; float32 rows map their stats as
        streamed rows do (the sums of a scan)."""
        maps = (x_shift, x_scale, y_shift, y_scale)
        x_shift, x_scale, y_shift, y_scale = narrowed(maps, self.work, self.xp)
        mapped = _InMemoryRows(self.xp, (self.Xt - x_shift) / x_scale,
                               (self.Y - y_shift) / y_scale, self.bias, self.dtype, self.Y,
                               None if self.work == self.xp.float64
                               else _mapped_stats(self.stats, self.d, maps))
        mapped.dtype, mapped.y_ndim = self.dtype, self.y_ndim
        return mapped


class _SlicedRows(Rows):
    """An array (a ``numpy.memmap``, say) read ``chunk_rows`` rows at a time on every pass."""

    def __init__(self, xp: Any, X: Any, y: Any, bias: bool, chunk_rows: int,
                 precision: str) -> None:
        self.xp, self.X, self.y, self.bias, self.chunk_rows = xp, X, y, bias, chunk_rows
        self.d, self.k = X.shape[1], (1 if y.ndim == 1 else y.shape[1])
        self.dtype, self.y_ndim, self.template = xp.result_type(X.dtype, y.dtype), y.ndim, X
        self.work = working_dtype(xp, self.dtype, precision, X.shape[0])
        self.total = X.shape[0]

    @property
    def chunk_limit(self) -> int | None:
        return self.chunk_rows

    def reduce(self, fn: Callable[..., Any], *args: Any) -> Any:
        total = None
        for start in range(0, self.total, self.chunk_rows):
            stop = min(start + self.chunk_rows, self.total)
            Xt, Y = prepare(self.X[start:stop, ...], self.y[start:stop, ...], self.bias,
                            self.work)
            total = add(total, chunk_call(fn, Xt, Y, args))
        return total


class _IteratedRows(Rows):
    """A :class:`Chunks`: its source is iterated once per pass."""

    def __init__(self, chunks: Chunks, bias: bool, precision: str) -> None:
        self.chunks, self.bias = chunks, bias
        first = next(iter(chunks), None)
        if first is None:
            raise ValueError("X (a Chunks) yielded no chunks")
        X, y = self._checked(first, 0)
        self.xp = common_namespace({"X chunk": X, "y chunk": y})
        self.d, self.k = X.shape[1], (1 if y.ndim == 1 else y.shape[1])
        self.dtype, self.y_ndim, self.template = self.xp.result_type(X.dtype, y.dtype), y.ndim, X
        # Rows are counted by the first pass (scan, whose sums are float64 either way).
        self.precision, self.work = precision, working_dtype(self.xp, self.dtype, precision)
        self._first = (X, y)

    @property
    def chunk_limit(self) -> int | None:
        return int(self._first[0].shape[0])

    def _checked(self, chunk: Any, index: int) -> tuple[Any, Any]:
        """One chunk, validated against the first (shapes, namespace, dtypes, device)."""
        if not (isinstance(chunk, tuple | list) and len(chunk) == 2):
            raise TypeError(f"chunk {index} of X (a Chunks) must be a pair (X_chunk, y_chunk), "
                            f"got {type(chunk).__name__}")
        X, y = chunk
        for name, a in (("X", X), ("y", y)):
            if not is_array_api_obj(a):
                raise TypeError(f"{name} of chunk {index} must be an array, got "
                                f"{type(a).__name__}")
        xp = check_shapes(X, y, allow_empty=True, where=f" (chunk {index})")
        check_array(X, f"X (chunk {index})", xp, finite=False)
        check_array(y, f"y (chunk {index})", xp, finite=False)
        if index:
            X0, y0 = self._first
            if array_namespace(X) is not self.xp or X.dtype != X0.dtype or y.dtype != y0.dtype \
                    or device(X) != device(X0):
                raise TypeError(f"chunk {index} differs from chunk 0 in array library, dtype or "
                                "device")
            if X.shape[1] != self.d or y.ndim != y0.ndim or y.shape[1:] != y0.shape[1:]:
                raise ValueError(f"chunk {index} has X {tuple(X.shape)} and y {tuple(y.shape)}; "
                                 f"chunk 0 has X {tuple(X0.shape)} and y {tuple(y0.shape)}")
        return X, y

    def scan(self) -> None:
        Rows.scan(self)
        self.work = working_dtype(self.xp, self.dtype, self.precision, self.n)

    def reduce(self, fn: Callable[..., Any], *args: Any) -> Any:
        total = None
        for index, chunk in enumerate(self.chunks):
            X, y = self._checked(chunk, index)
            if X.shape[0]:
                Xt, Y = prepare(X, y, self.bias, self.work)
                total = add(total, chunk_call(fn, Xt, Y, args))
        if total is None:
            raise ValueError("X (a Chunks) yielded no rows")
        return total


class _DaskRows(Rows):
    """Dask arrays: each pass maps over the row blocks on the workers and adds the results
    in a tree, two at a time; only the sums (model-sized) come back to the client."""

    def __init__(self, X: Any, y: Any, bias: bool, precision: str) -> None:
        import dask.array as da

        if any(c != c for c in X.chunks[0]):  # NaN: unknown block sizes
            raise ValueError("X has unknown chunk sizes; call X.compute_chunk_sizes() first")
        self.X = X.rechunk({1: -1})
        self.y = y.rechunk({0: self.X.chunks[0]} if y.ndim == 1
                           else {0: self.X.chunks[0], 1: -1})
        self.bias, self.d = bias, X.shape[1]
        self.k = 1 if y.ndim == 1 else y.shape[1]
        self.dtype, self.y_ndim, self.template = np.result_type(X.dtype, y.dtype), y.ndim, X
        self._da = da
        # The namespace of the blocks (NumPy or CuPy): parameters and small solves live there.
        self.xp = array_namespace(X._meta)
        self.work = working_dtype(self.xp, self.dtype, precision, X.shape[0])

    @property
    def chunk_limit(self) -> int | None:
        return int(max(self.X.chunks[0]))

    def reduce(self, fn: Callable[..., Any], *args: Any) -> Any:
        import dask

        shared = dask.delayed(args, traverse=False)  # one copy of the arguments in the graph
        parts = [dask.delayed(_block_sums)(fn, Xb, yb, self.bias, self.work, shared)
                 for Xb, yb in zip(self.X.to_delayed().ravel(), self.y.to_delayed().ravel(),
                                   strict=True)]
        while len(parts) > 1:
            pairs = [dask.delayed(add)(*parts[i:i + 2]) for i in range(0, len(parts) - 1, 2)]
            parts = pairs + parts[len(pairs) * 2:]
        (total,) = dask.compute(parts[0])
        return total

    def _bernoulli_draw(self, probability: float, rng: np.random.Generator) -> _Stacked:
        """The rows a coin of ``probability`` keeps, each block drawing from its own stream (a
        child of ``rng``), on the workers; only the sample comes back."""
        import dask

        blocks = zip(self.X.to_delayed().ravel(), self.y.to_delayed().ravel(), strict=True)
        parts = dask.compute(*[
            dask.delayed(_block_sample)(Xb, yb, self.bias, self.work, probability, child)
            for (Xb, yb), child in zip(blocks, rng.spawn(len(self.X.chunks[0])), strict=True)])
        return _Stacked([block for part in parts for block in part.blocks])

    def to_working(self, a: Any) -> Any:
        return a.compute() if is_dask_array(a) else a

    def to_caller(self, a: Any) -> Any:
        return self._da.from_array(a, chunks=a.shape)


def _block_sums(fn: Callable[..., Any], X: Any, y: Any, bias: bool, work: Any,
                args: tuple[Any, ...]) -> Any:
    """``fn`` on one Dask block (run on a worker)."""
    Xt, Y = prepare(X, y, bias, work)
    return chunk_call(fn, Xt, Y, args)


def _block_sample(X: Any, y: Any, bias: bool, work: Any, probability: float,
                  rng: np.random.Generator) -> _Stacked:
    """:func:`_bernoulli_rows` of one Dask block (run on a worker)."""
    Xt, Y = prepare(X, y, bias, work)
    return _bernoulli_rows(Xt, Y, probability, rng)
