"""The alternating trainer: validate, set up, and alternate hidden steps with exact output
solves under the stall policy (``docs/method.md``)."""

from __future__ import annotations

import math
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from array_api_compat import array_namespace, device

from ._early_stopping import EarlyStopping, validation_split
from ._endgame import LbfgsStep, balanced
from ._model import (
    Evaluation,
    Params,
    TwoLayerNet,
    identity_offset,
)
from ._options import FitOptions
from ._policy import (
    CONTINUE,
    StallPolicy,
    redraw_unit,
)
from ._problem import TrainingProblem
from ._ridge import AUTO_L2_MAX_UNKNOWNS, AUTO_L2_RULES, RidgeChoice, RidgeTuner
from ._rows import Chunks, Rows, make_rows
from ._stages import RowStages, stage_sizes
from ._standardize import Standardization
from ._start import through_rows
from ._steps import DampedStep, ExactStep, Step, curvature_sample
from ._systems import HiddenSystem, MatrixFreeSystem
from ._threads import resolve_n_jobs, thread_limits
from ._validation import check_array, common_namespace, untracked

#: ``l2=None`` means ``DEFAULT_L2_FACTOR * mean(Xt**2)``: on standardised features far too
#: small to bias a fit, large enough to keep every system definite when a unit dies or has
#: zero output weight.
DEFAULT_L2_FACTOR = 1e-8
#: ``solver="auto"`` solves densely while the dense system's ``24 m^2`` bytes (its float64
#: matrix, the damped copy and the LU factors, ``m`` unknowns) fit in this budget, else uses
#: conjugate gradients; ``fit(max_dense_bytes=...)`` overrides it.
DEFAULT_MAX_DENSE_BYTES = 2**30
#: ... and, for the damped steps, while ``m`` is at most this: above it truncated CG was
#: faster on every benchmark cell (``docs/method.md``, "Which solver runs").
AUTO_DENSE_MAX_UNKNOWNS = 500


class FitInterrupted(UserWarning):
    """Warned when a ``KeyboardInterrupt`` (Ctrl-C) ended :func:`fit` (or
    :func:`relu_altmin.baselines.train`) early: the result is kept, with
    ``stop_reason="interrupted"``, the history up to the last completed iteration and the
    network of the last accepted state (the best one seen, as for any other stop)."""


@dataclass(frozen=True)
class IterationRecord:
    """What one iteration did. Iteration 0 is the start (after the first output solve).

    Attributes
    ----------
    iteration : int
    loss : float
        Training MSE ``(1/n)||Y - F||^2`` after the iteration, in raw units of ``y``.
    objective : float
        The penalised loss ``L`` the alternation minimises; it never increases. With
        ``standardize=True`` that of the standardised problem (standardised ``y``).
    seconds : float
        Wall time since ``fit`` started.
    step : float
        Accepted fraction ``s`` of the hidden step (1 = full solve, 0 = none accepted). A
        damped step is taken whole (1).
    pattern_flips : int
        Entries of the activation pattern that changed in the hidden step.
    grad_norm_W : float
        Largest relative gradient norm of the hidden layer (``W`` and ``b``), as in
        :func:`critical_point_residuals`.
    grad_norm_V : float
        Largest relative gradient norm of the output layer (``V`` and ``c``).
    mu : float
        Damping of the accepted damped step (at most ``MU_SWITCH``). Above ``MU_SWITCH``: no
        damped step was accepted and the fit has switched to the paper's step, whose
        ``step`` is the backtracking fraction. 0 for ``step="exact"`` and for iteration 0.
    solves : int
        Hidden-step linear solves this iteration (damping retries, plus 1 for a paper's step).
    cg_iterations : int
        Products with the hidden-step system in conjugate gradients, over all of this
        iteration's solves (0 for the dense solver).
    reinit_unit : int
        The hidden unit redrawn before this iteration (``fit(reinit=True)`` at a stall; the
        output layer was then solved again), or -1. The objective may rise only at such an
        iteration.
    validation_loss : float or None
        MSE on the validation rows (raw units) with ``early_stopping=True``, else ``None``.
    l2 : float
        The ridge of this record's objective (``l2="auto"`` changes it between rounds; the
        objective is compared only between records of one ridge).
    rows : int or None
        The rows of this record's loss and objective when the fit was on a sample of them
        (``progressive=True`` on long data; the objective is compared only between records of
        one sample), ``None`` when on every row.
    endgame : bool
        Whether the iteration was a step of the endgame (``fit(endgame=True)``): L-BFGS on the
        hidden layer, the output layer solved exactly at every point. Its ``step`` is the
        line search's step length along the L-BFGS direction, its ``solves`` the search's
        evaluations (each one output solve), ``mu`` and ``cg_iterations`` are 0.
    """

    iteration: int
    loss: float
    objective: float
    seconds: float
    step: float
    pattern_flips: int
    grad_norm_W: float
    grad_norm_V: float
    mu: float = 0.0
    solves: int = 0
    cg_iterations: int = 0
    reinit_unit: int = -1
    validation_loss: float | None = None
    l2: float = 0.0
    rows: int | None = None
    endgame: bool = False


@dataclass(frozen=True)
class FitResult:
    """Outcome of :func:`fit`.

    Attributes
    ----------
    network : TwoLayerNet
        The trained network, in the caller's namespace, device and dtype: the state of the
        lowest objective the fit reached (the last one unless units were re-initialised).
    loss : float
        Training MSE of ``network``, in raw units of ``y`` (with ``standardize=True`` too: the
        standardised MSE times ``y_scale^2``, per output).
    history : tuple of IterationRecord
        One record per iteration, starting with iteration 0.
    converged : bool
        True when the fit stopped at a critical point (``stop_reason == "critical_point"``).
    stop_reason : str
        ``"critical_point"`` (every relative gradient norm <= ``tol``), ``"no_progress"`` (an
        iteration moved no parameter by more than rounding: a fixed point of the alternation,
        e.g. when no fraction of the hidden step lowers the loss; with ``reinit=True``,
        ``REINIT_PATIENCE`` re-initialisations in a row that did not pay), ``"max_iter"``,
        ``"callback"``, ``"early_stopping"`` (``early_stopping=True``: ``n_iter_no_change``
        iterations did not lower the validation MSE; ``network`` is the state of the lowest)
        or ``"interrupted"`` (a ``KeyboardInterrupt`` after iteration 0 ended
        the fit: a :class:`FitInterrupted` warning is issued and the result holds the last
        accepted state and the iterations completed before it).
    l2 : float
        The ridge ``lambda`` used (the default when ``l2=None`` was passed); with
        ``standardize=True`` it acts in the standardised coordinates.
    residuals : dict
        Relative gradient norms of ``network`` (see :func:`critical_point_residuals`), computed in
        float64 before the network is cast to the caller's dtype; with ``standardize=True``
        those of the problem the fit solved, in standardised coordinates (check them with
        ``critical_point_residuals(s.standardized_network(network), s.inputs(X),
        s.targets(y), l2=l2)``, ``s = standardization``).
    solver : str
        The hidden-step solver that ran, ``"dense"`` or ``"cg"`` (what ``"auto"`` chose).
    """

    network: TwoLayerNet
    loss: float
    history: tuple[IterationRecord, ...]
    converged: bool
    stop_reason: str
    l2: float
    residuals: dict[str, float]
    solver: str = "dense"
    #: The maps the fit standardised with (``standardize=True``), else ``None``.
    standardization: Standardization | None = None
    #: ``l2="auto"``: each choice of the ridge before the iterations of :attr:`history`
    #: (the last one is :attr:`l2`); else empty.
    l2_choices: tuple[RidgeChoice, ...] = ()

    @property
    def n_iter(self) -> int:
        """Number of iterations run (not counting iteration 0)."""
        return len(self.history) - 1


def fit(
    X: Any | Chunks, y: Any | None, hidden: int, *,
    negative_slope: float = 0.0,
    l2: float | str | None = None,
    standardize: bool = True,
    bias: bool = True,
    max_iter: int = 100,
    tol: float = 1e-8,
    seed: int | np.random.Generator | None = None,
    init: TwoLayerNet | Any | None = None,
    train_output: bool = True,
    output_weights: Any | None = None,
    skip: bool = False,
    step: str = "joint",
    reinit: bool = True,
    endgame: bool = True,
    solver: str = "auto",
    max_dense_bytes: int | None = None,
    curvature_rows: int | None = None,
    chunk_rows: int | None = None,
    n_jobs: int | None = None,
    early_stopping: bool = False,
    validation_fraction: float = 0.1,
    n_iter_no_change: int = 10,
    progressive: bool = True,
    precision: str = "auto",
    callback: Callable[[IterationRecord, TwoLayerNet], Any] | None = None,
    progress: bool = False,
) -> FitResult:
    """Train a two-layer network on the square loss by exact alternating solves.

    Each iteration takes a hidden-layer step from normal equations with the activation pattern
    held fixed, then solves the output layer's ridge problem exactly. The default step is a
    damped (Levenberg-Marquardt) Gauss-Newton step; ``step="exact"`` is the plain alternation.

    Parameters
    ----------
    X : array, shape (n, d), or Chunks
        Inputs: NumPy, CuPy, PyTorch or any array-API array; the fit runs where they live.
        A ``numpy.memmap`` (``numpy.load(path, mmap_mode="r")``) is read in row chunks on
        every pass and never loaded whole; so is a :class:`relu_altmin.Chunks` of
        ``(X_chunk, y_chunk)`` pairs (then ``y`` is ``None``). Dask arrays (NumPy or CuPy
        blocks) are reduced block by block on the active Dask scheduler (a
        ``dask.distributed`` cluster once a ``Client`` exists) and only the model-sized sums
        come back (``docs/scale.md``, "Long data" and "Dask").
    y : array, shape (n,) or (n, k), or None
        Targets, same namespace and device as ``X``; ``None`` when ``X`` is a ``Chunks``.
    hidden : int
        Number of hidden units ``h >= 1``.
    negative_slope : float, default 0.0
        Activation slope for negative inputs, in [0, 1); 0 is the ReLU.
    l2 : float, "auto", "auto_1se" or None, default None
        Ridge ``lambda`` on ``W``, ``b`` and ``V``, acting in the coordinates the fit runs in
        (standardised ones with ``standardize=True``, glmnet's convention). ``"auto"``
        chooses it from the data for prediction (``docs/method.md``, "Choosing the ridge"):
        generalised cross-validation (modified, ``AUTO_L2_GAMMA = 1.4`` per degree of
        freedom) of the Gauss-Newton model of both layers, from sums
        over the rows (streamed and Dask data too), over ``AUTO_L2_GRID`` (``1e-6`` to ``10``,
        4 per decade), at the start and again every ``AUTO_L2_STEPS = 3`` iterations until a
        choice repeats (at most ``AUTO_L2_ROUNDS = 10``); those iterations are part of the
        history and of ``max_iter`` (``IterationRecord.l2`` is each record's ridge,
        ``FitResult.l2_choices`` the rounds), and the rest of the fit runs at the last ridge
        chosen. ``"auto_1se"`` scores the same rounds' ridges by the exact leave-one-out
        error of that model instead (one more pass over the rows, ``O(n k m^2)``) and takes
        the largest ridge within one standard error of the least (the one-standard-error
        rule; ``AnalyticReLUClassifier``'s default). Both need ``train_output=True`` and at most
        ``AUTO_L2_MAX_UNKNOWNS = 5000`` unknowns ``h (d + 1) + k (h + 1)``. ``None`` uses
        ``DEFAULT_L2_FACTOR * mean(Xt**2) = 1e-8 * mean(Xt**2)`` (``Xt = [X, 1]``, standardised
        with ``standardize=True``: about ``1e-8``), which is negligible for standardised
        features; on raw features of very different scales it is not (``docs/method.md``,
        "Defaults").
    standardize : bool, default True
        Fit in standardised coordinates and return the network folded back to raw units
        (glmnet's convention; ``docs/method.md``, "Standardisation"): the columns of ``X``
        are centred and scaled to unit standard deviation (``1/n``) and so is every output of
        ``y``, with means and spreads from one pass over the rows (merged chunk moments,
        accurate for large offsets), and every pass maps its chunk, so streamed data is never
        copied whole (rows in memory are mapped once, in the float64 copy the fit holds
        anyway). Constant columns (standard deviation at most ``1e-10 |mean|``) are centred
        but not scaled. The returned network takes raw inputs and returns raw outputs
        (``FitResult.standardization`` holds the maps), ``FitResult.loss`` and the history's
        ``loss`` are the MSE in raw units, while ``l2``, the history's ``objective`` and the
        residuals (which are dimensionless) belong to the standardised problem. ``init`` is
        taken in raw units and mapped in. ``bias=False``: no centring (nothing could absorb
        it), columns scaled by their root mean square. ``train_output=False``: ``y`` is left
        alone (the known output layer is in raw units); ``X`` is standardised. ``skip=True``:
        the skip connection is the identity of the standardised features, folded as
        ``W + I = (W_s + I) / x_scale``. ``False``: the data as given, exactly the fit of
        earlier versions.
    bias : bool, default True
        Hidden bias ``b`` and output bias ``c``; ``False`` drops both.
    max_iter : int, default 100
        Most iterations (each one hidden solve and one output solve).
    tol : float, default 1e-8
        Stop when every relative gradient norm (:func:`critical_point_residuals`) is at
        most ``tol`` (with ``reinit=True``, at a state no worse than the best so far; a
        critical point above it is a stall).
    seed : int, numpy.random.Generator or None
        Seeds the default initialisation: entries of ``[W, b]`` drawn i.i.d. from
        ``N(0, 1/d)`` with NumPy, then moved to ``X``'s device. (``skip=True`` starts at
        ``W = 0``, the identity.) The same stream then draws the re-initialised units, the
        row samples and the rows of ``init="rows"``.
    init : TwoLayerNet, array or "rows", optional
        Start from this network, or from these hidden weights, shape (h, d), or (h, d + 1)
        with the bias as last column. ``"rows"``: each unit the hyperplane normal to a
        sample row (less the sample's mean), offset to be active on a fifth of the sample
        (``docs/method.md``, "The start"); units beyond the sample's rows keep the
        ``N(0, 1/d)`` draw.
    train_output : bool, default True
        ``False`` keeps the output layer fixed at ``output_weights`` (output bias 0, or
        ``init.c``): alternating minimisation with a known output layer.
    output_weights : array, shape (h, k) or (h,), optional
        The known output layer for ``train_output=False`` (default: ``init.V``).
    skip : bool, default False
        Pre-activations ``(W + I) x + b``: a skip connection. Needs ``hidden == d``.
    step : {"joint", "damped", "exact"}, default "joint"
        The hidden step (``docs/method.md``, "Damped steps"). ``"damped"`` solves the
        fixed-pattern problem with ``V`` held plus a proximal term,
        ``(G + mu diag(G) + n l2 I) w = r + mu diag(G) w_t``. ``"joint"`` solves the
        Gauss-Newton system of both layers with the same damping on the hidden block (the
        output layer is then re-solved exactly); with ``train_output=False`` it is
        ``"damped"``. Both accept a step only if the loss (after the output solve) falls:
        then ``mu`` shrinks; otherwise it grows and the step is solved again
        (Levenberg-Marquardt's rule, constants ``MU_*`` in ``relu_altmin._steps``; ``mu``
        starts at 1e-3). ``"exact"`` is the paper's step, ``mu = 0``: the full fixed-pattern
        minimiser, backtracked ``s = 1, 1/2, ...`` until the loss does not rise.
    reinit : bool, default True
        Re-initialise units at stalls (``docs/method.md``, "Re-initialising units"): when
        ``REINIT_WINDOW = 20`` iterations lower the objective by less than
        ``REINIT_RTOL = 1e-3`` (relative), or an iteration moves no parameter, the unit of
        the best network so far with the smallest ``||V_j|| ||H[:, j]||`` gets new hidden
        weights drawn like the default start's (from ``seed``'s stream), the output layer is
        solved again and ``mu`` restarts at ``MU_INIT``. After ``REINIT_PATIENCE = 5``
        stalls in a row that lowered the best objective by less than ``REINIT_RTOL`` the
        alternation ends: the endgame goes on from the best network seen (``endgame``), or
        the fit returns it and stops with ``"no_progress"``. ``False`` (and any
        ``train_output=False`` fit) runs the plain alternation, whose objective never rises,
        and stops at its first fixed point.
    endgame : bool, default True
        Where the alternation would stop with ``"no_progress"``, go on from the best network
        with L-BFGS on the hidden layer of the reduced problem (the output layer solved
        exactly at every point it evaluates; strong Wolfe line search, ``MEMORY = 20`` pairs),
        after rescaling each unit so that its two layers have equal norms, which leaves the
        network's function unchanged (``docs/method.md``, "The endgame"). Its step stalls
        when a line search finds no lower objective or ``WINDOW = 20`` steps lowered it by
        less than ``RTOL = 1e-6`` (relative; constants in ``relu_altmin._endgame``); each
        stall redraws a unit as ``reinit`` does, balances the units again and starts L-BFGS
        afresh, until ``REINIT_PATIENCE`` stalls in a row did not lower the best objective
        by ``REINIT_RTOL`` (``"no_progress"``), a critical point or ``max_iter``; its
        iterations count towards ``max_iter``.
        Only with ``reinit=True`` and ``train_output=True`` (``reinit=False`` is the plain
        alternation); ``False`` ends where the alternation does.
    solver : {"auto", "dense", "cg"}
        Hidden-step solver. ``"dense"`` assembles the Gram matrix with
        :func:`relu_altmin.kernels.masked_gram` and solves it directly: ``m^2`` numbers for
        ``m = h (d + 1)`` unknowns (plus ``k (h + 1)`` for ``step="joint"``). ``"cg"`` never
        forms it: preconditioned conjugate gradients on the same system, one
        ``O(n h (d + k))`` product per iteration, a block-diagonal preconditioner
        (``docs/method.md``, "Matrix-free solves"). ``"auto"`` is ``"dense"`` while its
        ``24 m^2`` bytes fit in ``max_dense_bytes`` and, unless ``step="exact"`` (whose
        paper step is the exact fixed-pattern minimiser), ``m <= 500``
        (``AUTO_DENSE_MAX_UNKNOWNS``); else ``"cg"``.
    max_dense_bytes : int or None, default None
        Memory budget of ``solver="auto"``; ``None`` is ``DEFAULT_MAX_DENSE_BYTES`` (1 GiB).
    curvature_rows : int or None, default None
        Rows of the fresh sample each damped step builds its system on (its products and
        preconditioner: the curvature), while the gradient and the acceptance test use
        every row (``docs/method.md``, "Sub-sampled curvature"). ``None``: from
        ``CURVATURE_MIN_ROWS = 2000`` rows up, ``max(5% of n, 4 m)`` (``m`` unknowns),
        all rows when that is more than half of them or ``n`` is smaller, at most one
        chunk's rows when streaming (``relu_altmin._steps.curvature_sample``). An int: that
        many rows; ``>= n``: all.
        The sample is drawn from ``seed``'s stream.
    chunk_rows : int or None, default None
        Rows per chunk when streaming. ``None``: arrays in memory are converted to the
        working dtype (``precision``) once and kept; a ``numpy.memmap`` is read about
        ``2**22`` elements of its widest per-row temporary at a time
        (``relu_altmin._rows.CHUNK_ELEMENTS``). An int streams any array in chunks of that
        many rows, converting each on every pass, so peak memory does not grow with ``n``.
        Every sum over rows (Gram matrix, right-hand sides, loss, gradients, CG products) is
        accumulated chunk by chunk.
    n_jobs : int or None, default None
        Threads for BLAS, OpenMP and the Numba kernels while the fit runs (restored
        afterwards), scikit-learn's convention: a positive int is that many (at most the
        usable cores), ``-1`` all cores, ``-2`` all but one. ``None``: one thread per
        ``5e7`` flops of one pass over the rows plus the dense factorisation
        (``relu_altmin._threads.WORK_PER_THREAD``), so small fits run on one thread, where
        more threads only wait for each other (``docs/method.md``, "Threads").
    early_stopping : bool, default False
        Hold out ``validation_fraction`` of the rows (drawn from ``seed``'s stream; arrays in
        memory only), fit on the others, record the validation MSE of every iteration
        (``IterationRecord.validation_loss``), stop with ``"early_stopping"`` once
        ``n_iter_no_change`` iterations in a row did not lower the lowest one by more than
        ``EARLY_STOPPING_RTOL = 1e-4`` (relative), and return the network of the lowest
        validation MSE (scikit-learn's ``early_stopping``). Standardisation and
        ``l2="auto"`` use the training rows only.
    validation_fraction : float, default 0.1
        Fraction of the rows held out for ``early_stopping``, in (0, 1).
    n_iter_no_change : int, default 10
        Iterations without improvement that stop an ``early_stopping`` fit.
    progressive : bool, default True
        On long data (``STAGED_MIN_ROWS = 50000`` rows or more) start on a uniform sample of
        ``max(8 m, 16384)`` rows (``m`` unknowns of both layers) and multiply it by 4 after
        each stage of at most 25 iterations (fewer when the sample's fit stalls) while it is
        at most half the rows, then fit on every row (``docs/method.md``, "Long data:
        progressive sampling"). Each record's ``rows`` says which sample its loss is on;
        ``FitResult.loss`` is always on every row. Streamed rows keep each sample within one
        chunk. ``False``: every iteration on every row.
    precision : {"auto", "data", "float64"}, default "auto"
        ``"data"``: float32 data (``X`` and ``y`` both float32) stays float32 for the work
        that grows with ``n`` (forward passes, patterns, output sums, products, gradients),
        in blocks of ``BLOCK_ROWS = 8192`` rows whose sums are added in float64; the Gram
        matrix, the losses that accept a step, the parameters and the small solves are
        float64 (``docs/method.md``, "Precision"). ``"auto"``: as ``"data"`` from
        ``FLOAT32_MIN_ROWS = 16384`` rows up, as ``"float64"`` below, where float32 saves
        little time. ``"float64"``: float32 data is promoted to float64
        end to end (the result then equals that of the float64 data, bit for bit). float64
        data, or mixed, is float64 throughout.
    callback : callable, optional
        Called as ``callback(record, network)`` after every iteration; a truthy return
        stops the fit with ``stop_reason="callback"``.
    progress : bool, default False
        Print one line per iteration (loss, step, pattern flips, gradient norms, ``mu``, CG
        products) to stderr.

    Returns
    -------
    FitResult
        A ``KeyboardInterrupt`` (Ctrl-C) once iteration 0 has been evaluated, whether in a
        step, the callback or the progress printing, does not propagate: the fit stops with
        ``stop_reason="interrupted"`` and a :class:`FitInterrupted` warning, and returns the
        last accepted state (never a half-finished step; the best one seen, as for any other
        stop) with the history of the iterations completed. One during validation or the
        set-up propagates.

    Notes
    -----
    float32 input: under ``precision="auto"`` the passes over the rows run in float32 and
    their sums, the losses, the parameters and the solves are float64; the trained network is
    cast back to the inputs' dtype. The normal equations square the condition number of the
    least-squares problem, so float32 solves would lose most of their digits; their cost is a
    float64 ``p x p`` system with ``p = h (d + 1)``, independent of ``n``.
    """
    return fit_with(X, y, FitOptions(
        hidden=hidden, negative_slope=negative_slope, l2=l2, standardize=standardize,
        bias=bias, max_iter=max_iter, tol=tol, seed=seed, init=init, train_output=train_output,
        output_weights=output_weights, skip=skip, step=step, reinit=reinit, endgame=endgame,
        solver=solver,
        max_dense_bytes=max_dense_bytes, curvature_rows=curvature_rows, chunk_rows=chunk_rows,
        n_jobs=n_jobs, early_stopping=early_stopping, validation_fraction=validation_fraction,
        n_iter_no_change=n_iter_no_change, progressive=progressive, precision=precision,
        callback=callback, progress=progress))


def fit_with(X: Any | Chunks, y: Any | None, options: FitOptions) -> FitResult:
    """:func:`fit` with options already built, and so checked: set up, then alternate.

    What ``fit`` runs, and what the estimators and the command line call with the
    :class:`FitOptions` they build. Only the checks that need the data (its shapes, values,
    ``init`` and ``output_weights`` against them) are left to do here, still before any
    work."""
    hidden, bias, train_output = options.hidden, options.bias, options.train_output
    rng = options.generator()
    X, y, held_out = _held_out(X, y, options, rng)
    rows = make_rows(X, y, bias, hidden, options.chunk_rows, options.precision)
    d, k, xp = rows.d, rows.k, rows.xp
    options.check_features(d)
    Wt, V, c = (None if a is None else rows.to_working(a) for a in _start(
        rows.template, array_namespace(rows.template), options.given_start, hidden, d, k,
        bias, options.skip, rng, train_output, options.output_weights, rows.y_ndim == 1))
    rows.scan()
    scaling = None
    if options.standardize:
        rows, Wt, scaling = _standardized(rows, Wt, options)
    if isinstance(options.init, str):  # "rows"
        Wt = through_rows(rows, Wt, rng)
    loss_weights = None if scaling is None else scaling.y_scale * scaling.y_scale
    problem = TrainingProblem(rows, options.negative_slope, _ridge(options.l2, rows, bias),
                              train_output, loss_weights)
    joint = options.step == "joint" and train_output
    unknowns = hidden * rows.dt + (k * (hidden + int(bias)) if joint else 0)
    solver = choose_solver(options.solver, unknowns, options.max_dense_bytes, options.step)
    loop = _make_loop(problem, options, rng, solver, joint, unknowns, held_out, scaling)

    def network(params: Params) -> TwoLayerNet:
        if scaling is not None:
            params = scaling.to_raw(params)
        return _network(params, d, options.negative_slope, options.skip, rows.dtype,
                        rows.y_ndim, xp, rows.to_caller)

    S = identity_offset(hidden, bias, xp, xp.float64, device(Wt)) if options.skip else None
    # One pass over the rows, plus the dense factorisation: what threads could share.
    work = rows.n * hidden * (rows.dt + k) + (unknowns**3 / 3 if solver == "dense" else 0)
    with thread_limits(resolve_n_jobs(options.n_jobs, work=work)):
        problem, params, state, history, stop_reason = _alternate(
            problem, loop, Params(Wt, S, V, c, bias), options.max_iter, network,
            options.callback, options.progress)
    if stop_reason == "interrupted":
        warnings.warn(f"fit interrupted (KeyboardInterrupt) after {len(history) - 1} "
                      "iterations; returning the network trained so far",
                      FitInterrupted, stacklevel=3)  # fit's caller
    return FitResult(
        network=network(params), loss=state.reported_loss, history=tuple(history),
        converged=stop_reason == "critical_point", stop_reason=stop_reason, l2=problem.lam,
        residuals=problem.residuals(params, state), solver=solver,
        standardization=None if scaling is None else scaling.map(rows.to_caller),
        l2_choices=() if loop.tuner is None else tuple(loop.tuner.choices))


def _held_out(X: Any | Chunks, y: Any | None, options: FitOptions,
              rng: np.random.Generator) -> tuple[Any, Any, tuple[Any, Any] | None]:
    """``(X, y, None)``, or with ``early_stopping`` the training rows and the held-out
    ``(X_val, y_val)`` (its own generator spawned from ``rng``)."""
    if not options.early_stopping:
        return X, y, None
    if isinstance(X, Chunks) or options.chunk_rows is not None or isinstance(X, np.memmap) \
            or type(X).__module__.startswith("dask"):
        raise ValueError("early_stopping=True needs X and y as arrays in memory (not "
                         "Chunks, a memmap, Dask or chunk_rows)")
    X, y, X_val, y_val = validation_split(X, y, options.validation_fraction, rng.spawn(1)[0])
    return X, y, (X_val, y_val)


def _standardized(rows: Rows, Wt: Any,
                  options: FitOptions) -> tuple[Rows, Any, Standardization]:
    """The rows standardised by their scanned statistics, the start's hidden weights in those
    units (a given ``init`` is in raw units; a drawn start already is in these), the map."""
    bias = options.bias
    scaling = Standardization.from_stats(rows.stats, bias, options.train_output)
    rows = rows.standardized(*scaling.augmented(bias))
    if options.given_start is not None:  # in raw units: map it in (a made start is not)
        xp = rows.xp
        offset = identity_offset(options.hidden, bias, xp, xp.float64, device(Wt)) \
            if options.skip else None
        Wt = scaling.hidden_to_standardized(Wt, offset, bias)
    return rows, Wt, scaling


def _ridge(l2: float | str | None, rows: Rows, bias: bool) -> float:
    """The ridge to start from: ``l2`` when given, else the default (also ``l2="auto"``'s
    start) ``DEFAULT_L2_FACTOR * mean(Xt**2)``."""
    if isinstance(l2, float):
        return l2
    return DEFAULT_L2_FACTOR * (rows.stats.x_squares + rows.n * int(bias)) / (rows.n * rows.dt)


def _make_loop(problem: TrainingProblem, options: FitOptions, rng: np.random.Generator,
               solver: str, joint: bool, unknowns: int, held_out: tuple[Any, Any] | None,
               scaling: Standardization | None) -> _Loop:
    """The step, the stall policy, the unit redraw and the optional ridge tuner, early-stopping
    monitor and row stages of a fit (``unknowns`` of the hidden step's system)."""
    rows, step, hidden, bias = problem.rows, options.step, options.hidden, options.bias
    both = hidden * rows.dt + rows.k * (hidden + int(bias))  # unknowns of both layers
    if options.l2 in AUTO_L2_RULES and both > AUTO_L2_MAX_UNKNOWNS:
        raise ValueError(f"l2={options.l2!r} decomposes the Gauss-Newton matrix of both layers; "
                         f"{both} unknowns is more than AUTO_L2_MAX_UNKNOWNS = "
                         f"{AUTO_L2_MAX_UNKNOWNS}: pass a float l2")
    system_type = HiddenSystem if solver == "dense" else MatrixFreeSystem

    def curvature_size(m: int) -> int | None:  # the curvature sample on m rows
        given = options.curvature_rows
        return (curvature_sample(m, unknowns, rows.chunk_limit) if given is None
                else given if given < m else None)

    sample_rng = None if curvature_size(rows.n) is None or step == "exact" else rng.spawn(1)[0]
    sizes = stage_sizes(rows.n, both, rows.chunk_limit) if options.progressive else []
    stages = RowStages(problem, sizes, rng.spawn(1)[0]) if sizes else None

    def make_step(problem: TrainingProblem) -> Step:
        if step == "exact":
            return ExactStep(problem, system_type)
        return DampedStep(problem, system_type, joint, curvature_size(problem.rows.n),
                          sample_rng)

    certified = rows.in_memory() is not None  # the nonsmooth certificate needs the rows

    def make_policy(problem: TrainingProblem, start: int) -> StallPolicy:
        return StallPolicy(options.reinit and options.train_output, options.tol,
                           problem.nonsmooth_residual if certified else None,
                           round_start=start)

    def make_endgame(problem: TrainingProblem, start: int) -> tuple[Step, StallPolicy]:
        # Its steps stop by their own test: a stall is a fixed point, and redraws a unit.
        return LbfgsStep(problem), replace(make_policy(problem, start), window_rtol=0.0)

    monitor = None if held_out is None else _monitor(problem, held_out, options, scaling)
    return _Loop(make_step, make_policy,
                 lambda problem, p: redraw_unit(problem, p, rng, rows.d),
                 RidgeTuner(str(options.l2)) if options.l2 in AUTO_L2_RULES else None, monitor,
                 stages, make_endgame if options.endgame and options.reinit and options.train_output
                 else None)


def _monitor(problem: TrainingProblem, held_out: tuple[Any, Any], options: FitOptions,
             scaling: Standardization | None) -> EarlyStopping:
    """Early stopping on the held-out rows (standardised as the training rows are)."""
    validation_rows = make_rows(*held_out, options.bias, options.hidden, None,
                                options.precision)
    validation_rows.scan()
    if scaling is not None:
        validation_rows = validation_rows.standardized(*scaling.augmented(options.bias))
    return EarlyStopping(replace(problem, rows=validation_rows), options.n_iter_no_change)


@dataclass
class _Loop:
    """What :func:`_alternate` works with besides the problem: the step and the stall policy
    it makes for a problem (anew whenever ``l2="auto"`` changes the ridge or a stage of
    progressive sampling its rows; the policy's rounds start at the given record), the unit
    redraw, and the optional ridge tuner, early-stopping monitor and row stages."""

    make_step: Callable[[TrainingProblem], Step]
    make_policy: Callable[[TrainingProblem, int], StallPolicy]
    redraw: Callable[[TrainingProblem, Params], tuple[Params, int]]
    tuner: RidgeTuner | None = None
    monitor: EarlyStopping | None = None
    stages: RowStages | None = None
    #: The endgame's step and stall policy for a problem (``fit(endgame=True)``), or None.
    make_endgame: Callable[[TrainingProblem, int], tuple[Step, StallPolicy]] | None = None

    def begin(self, problem: TrainingProblem, params: Params, first_record: int,
              tune: bool = True) -> tuple[TrainingProblem, Params, Evaluation, Step,
                                          StallPolicy]:
        """Start on ``problem`` (the first, a new ridge's or a new stage's) from ``params``:
        its output layer solved (with ``tune`` and ``l2="auto"``, the ridge chosen on it and
        the output solved again), its state, and a fresh step and stall policy whose rounds
        start at record ``first_record``."""
        params = problem.trained_output(params)
        if tune and self.tuner is not None:
            problem = self.tuner.start(problem, params)
            params = problem.trained_output(params)
        return (problem, params, problem.evaluate(params), self.make_step(problem),
                self.make_policy(problem, first_record))


def _alternate(
    problem: TrainingProblem, loop: _Loop, params: Params, max_iter: int,
    network: Callable[[Params], TwoLayerNet],
    callback: Callable[[IterationRecord, TwoLayerNet], Any] | None, progress: bool,
) -> tuple[TrainingProblem, Params, Evaluation, list[IterationRecord], str]:
    """The loop of :func:`fit` from the start ``params``: the problem (its ridge) of the
    returned state, that state, the history and the stop reason.

    The returned state is the last recorded one (``kept``, replaced in one assignment only
    once a state's record is in the history) or the policy's best: never a step cut short by
    a ``KeyboardInterrupt`` (which stops the loop with ``"interrupted"``), nor a unit redrawn
    or a ridge changed after the last record."""
    start, full_rows, monitor = time.perf_counter(), problem.rows, loop.monitor
    problem, params, state, hidden_step, policy = loop.begin(
        problem if loop.stages is None else loop.stages.first(), params, 0)

    def record(iteration: int, fraction: float = 0.0, flips: int = 0, mu: float = 0.0,
               solves: int = 0, cg_iterations: int = 0, unit: int = -1) -> IterationRecord:
        validation = None if monitor is None else monitor.observe(problem, params, state)
        return make_record(problem.residuals(params, state), state.reported_loss, state.objective,
                           problem.train_output, iteration=iteration,
                           seconds=time.perf_counter() - start, step=fraction, flips=flips,
                           mu=mu, solves=solves, cg_iterations=cg_iterations, reinit_unit=unit,
                           validation_loss=validation, l2=problem.lam,
                           rows=None if problem.rows is full_rows else problem.rows.n,
                           endgame=endgame)

    endgame = False  # whether the loop runs the endgame's steps
    history = [record(0)]
    # The last recorded state, its problem and the length of the history ending with it.
    kept = (problem, params, state, len(history))
    stop_reason, unit = "max_iter", -1
    try:
        if progress:
            _print_progress(history[0], header=True)
        for iteration in range(1, max_iter + 1):
            previous = params
            outcome = hidden_step.take(params, state)
            params, state = outcome.params, outcome.state
            retuned = (None if loop.tuner is None or endgame
                       else loop.tuner.after(iteration, problem, params))
            if retuned is not None:  # a new ridge ends the iteration: its record is at that
                # ridge, and a new objective, step and stall policy start
                problem, params, state, hidden_step, policy = loop.begin(
                    retuned, params, len(history), tune=False)
            history.append(record(iteration, outcome.fraction, outcome.flips, outcome.mu,
                                  outcome.solves, outcome.cg_iterations, unit))
            kept = (problem, params, state, len(history))
            unit = -1
            if progress:
                _print_progress(history[-1])
            if callback is not None and callback(history[-1], network(params)):
                stop_reason = "callback"
                break
            if monitor is not None and monitor.exhausted:
                stop_reason = "early_stopping"
                break
            if retuned is not None:
                continue
            decision = policy.observe(history, previous, params, state, problem.xp)
            if loop.stages is not None and loop.stages.due(iteration, decision != CONTINUE):
                problem, params, state, hidden_step, policy = loop.begin(  # more rows
                    loop.stages.advance(iteration, problem), params, len(history))
            elif decision == "no_progress" and loop.make_endgame is not None and not endgame:
                endgame = True
                best = policy.final(params, state)
                params, state = _endgame_start(problem, *best)
                hidden_step, policy = loop.make_endgame(problem, len(history))
                policy.best = best  # what is returned if the endgame records no step
            elif decision in ("critical_point", "no_progress"):
                stop_reason = decision
                break
            elif decision != CONTINUE:
                params, unit = loop.redraw(problem, policy.best[0] if policy.best else params)
                state = problem.evaluate(params)
                if endgame:
                    params, state = _endgame_start(problem, params, state)
                hidden_step.restart()
    except KeyboardInterrupt:
        stop_reason = "interrupted"
    # What is returned was recorded: not a unit redrawn, nor a new ridge's output solve, after
    # the last iteration's record (nor a step an interrupt cut short).
    problem, params, state, recorded = kept
    del history[recorded:]
    problem, params, state = _returned(problem, params, state, policy, monitor, full_rows)
    if progress:
        print(f"stopped: {stop_reason} after {len(history) - 1} iterations; "
              f"loss {state.reported_loss:.6e}", file=sys.stderr)
    return problem, params, state, history, stop_reason


def _endgame_start(problem: TrainingProblem, params: Params,
                   state: Evaluation) -> tuple[Params, Evaluation]:
    """Where the endgame starts from the state ``params``: its units balanced and the output
    layer solved again, unless that does not lower the objective (a skip connection's units
    are not positively homogeneous: they stay as they are)."""
    if params.S is not None:
        return params, state
    trial = problem.output_solved(balanced(params, problem.xp))
    trial_state = problem.evaluate(trial, params.Wt)
    return (trial, trial_state) if trial_state.objective < state.objective else (params, state)


def _returned(problem: TrainingProblem, params: Params, state: Evaluation, policy: StallPolicy,
              monitor: EarlyStopping | None,
              full_rows: Rows) -> tuple[TrainingProblem, Params, Evaluation]:
    """What :func:`_alternate` returns from its last recorded state: the monitor's best on
    the held-out rows, else the stall policy's best, evaluated on every row when the fit
    stopped on a sample."""
    if monitor is not None and monitor.best is not None:
        _, problem, params, state = monitor.best
    else:
        params, state = policy.final(params, state)
    if problem.rows is not full_rows:  # stopped on a sample: the returned state on every row
        problem = replace(problem, rows=full_rows)
        state = problem.evaluate(params)
    return problem, params, state


def choose_solver(solver: str, unknowns: int, max_dense_bytes: int | None,
                  step: str) -> str:
    """The hidden-step solver ``solver="auto"`` runs for ``unknowns`` (``fit``'s rule)."""
    if solver != "auto":
        return solver
    budget = DEFAULT_MAX_DENSE_BYTES if max_dense_bytes is None else max_dense_bytes
    small = step == "exact" or unknowns <= AUTO_DENSE_MAX_UNKNOWNS
    return "dense" if small and 24 * unknowns**2 <= budget else "cg"


def make_record(
    residuals: dict[str, float], loss: float, obj: float, train_output: bool, *,
    iteration: int, seconds: float, step: float, flips: int, mu: float = 0.0,
    solves: int = 0, cg_iterations: int = 0, reinit_unit: int = -1,
    validation_loss: float | None = None, l2: float = 0.0, rows: int | None = None,
    endgame: bool = False,
) -> IterationRecord:
    """The history entry of a state with these relative gradient norms, MSE and objective;
    shared with the gradient baselines."""
    return IterationRecord(
        iteration=iteration, loss=loss, objective=obj, seconds=seconds, step=step,
        pattern_flips=flips, grad_norm_W=max(residuals["W"], residuals.get("b", 0.0)),
        grad_norm_V=max(residuals["V"], residuals.get("c", 0.0)) if train_output else 0.0,
        mu=mu, solves=solves, cg_iterations=cg_iterations, reinit_unit=reinit_unit,
        validation_loss=validation_loss, l2=l2, rows=rows, endgame=endgame)


def _start(
    X: Any, xp: Any, init: Any, hidden: int, d: int, k: int, bias: bool, skip: bool,
    rng: np.random.Generator, train_output: bool, output_weights: Any, y_is_1d: bool,
) -> tuple[Any, Any | None, Any | None]:
    """Starting ``Wt`` (float64, h x d~) and, for a known output layer, ``V`` and ``c``."""
    dev = device(X)
    dt = d + 1 if bias else d
    V = c = None
    if isinstance(init, TwoLayerNet):
        common_namespace({"X": X, "init.W": init.W})
        if (init.n_hidden, init.n_features) != (hidden, d):
            raise ValueError(f"init has {init.n_hidden} hidden units and {init.n_features} "
                             f"features; expected {hidden} and {d}")
        Wt = init.W if not bias else xp.concat(
            [init.W, (init.b if init.b is not None
                      else xp.zeros(hidden, dtype=init.W.dtype, device=dev))[:, None]], axis=1)
        if not train_output and output_weights is None:
            if init.n_outputs != k:
                raise ValueError(f"init has {init.n_outputs} outputs but y has {k}")
            V = init.V[:, None] if init.V.ndim == 1 else init.V
            if bias and init.c is not None:
                c = xp.reshape(init.c, (k,))
    elif init is not None:
        common_namespace({"X": X, "init": init})
        check_array(init, "init", xp, finite=True)
        if init.ndim != 2 or init.shape[0] != hidden or init.shape[1] not in (d, dt):
            expected = f"({hidden}, {d})" + (f" or ({hidden}, {dt})" if bias else "")
            raise ValueError(f"init must have shape {expected}, got {tuple(init.shape)}")
        Wt = init
        if init.shape[1] != dt:
            Wt = xp.concat([init, xp.zeros((hidden, 1), dtype=init.dtype, device=dev)], axis=1)
    elif skip:
        Wt = xp.zeros((hidden, dt), dtype=xp.float64, device=dev)
    else:
        Wt = xp.asarray(rng.standard_normal((hidden, dt)) / math.sqrt(d), device=dev)
    if not train_output:
        if output_weights is not None:
            common_namespace({"X": X, "output_weights": output_weights})
            check_array(output_weights, "output_weights", xp, finite=True)
            shapes = [(hidden, k)] + ([(hidden,)] if k == 1 else [])
            if tuple(output_weights.shape) not in shapes:
                raise ValueError(f"output_weights must have shape {' or '.join(map(str, shapes))}"
                                 f", got {tuple(output_weights.shape)}")
            V = xp.reshape(output_weights, (hidden, k))
        elif V is None:
            raise ValueError("train_output=False needs output_weights (or init as a TwoLayerNet)")
        if bias and c is None:
            c = xp.zeros(k, dtype=xp.float64, device=dev)
        V = xp.astype(untracked(V), xp.float64, copy=True)
        c = None if c is None else xp.astype(untracked(c), xp.float64, copy=True)
    return xp.astype(untracked(Wt), xp.float64, copy=True), V, c


def _network(params: Params, d: int, slope: float, skip: bool, dtype: Any, y_ndim: int,
             xp: Any, to_caller: Callable[[Any], Any] | None = None) -> TwoLayerNet:
    """Unpack float64 parameters into a network in the caller's dtype (and namespace)."""
    def cast(a: Any) -> Any:
        a = xp.astype(a, dtype, copy=True)
        return a if to_caller is None else to_caller(a)

    W = cast(params.Wt[:, :d])
    b = cast(params.Wt[:, d]) if params.bias else None
    V, c = params.V, params.c
    if y_ndim == 1:
        V, c = V[:, 0], (None if c is None else c[0])
    return TwoLayerNet(W, b, cast(V), None if c is None else cast(c),
                       negative_slope=slope, skip=skip)


def _print_progress(rec: IterationRecord, header: bool = False) -> None:
    if header:
        print(f"{'iter':>5} {'loss (MSE)':>13} {'step':>9} {'flips':>7} {'|grad W|':>9} "
              f"{'|grad V|':>9} {'mu':>9} {'CG':>5} {'time':>8}", file=sys.stderr)
    print(f"{rec.iteration:5d} {rec.loss:13.6e} {rec.step:9.3g} {rec.pattern_flips:7d} "
          f"{rec.grad_norm_W:9.2e} {rec.grad_norm_V:9.2e} {rec.mu:9.2e} {rec.cg_iterations:5d} "
          f"{rec.seconds:7.2f}s", file=sys.stderr)
