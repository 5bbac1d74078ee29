"""The options of a training run, checked once when built (docs/design.md §6):
:class:`ModelOptions`, those :func:`relu_altmin.baselines.train` shares with ``fit``, and
:class:`FitOptions`, all of ``fit``'s. ``fit``, ``baselines.train``, the estimators and the
command line build them; the trainers then only read them."""

from __future__ import annotations

import numbers
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from ._ridge import AUTO_L2_RULES
from ._rows import PRECISIONS
from ._steps import STEPS
from ._threads import resolve_n_jobs
from ._validation import check_choice, check_int, check_nonnegative, check_slope

if TYPE_CHECKING:
    from ._fit import IterationRecord
    from ._model import TwoLayerNet

#: ``fit(solver=...)``.
SOLVERS = ("auto", "dense", "cg")


@dataclass(frozen=True, kw_only=True)
class ModelOptions:
    """The model and run options of :func:`relu_altmin.baselines.train`, which
    :func:`relu_altmin.fit` shares: checked on construction, before any work.

    Each check raises the ``TypeError`` or ``ValueError`` naming the argument that ``fit``
    documents; the numbers are stored as Python ``int`` and ``float`` and an int ``seed`` as
    ``int``. Arrays (``init``, ``output_weights``) are kept as given, never copied or written.

    Parameters
    ----------
    hidden : int
        Number of hidden units, ``>= 1``.
    **options
        ``negative_slope``, ``l2``, ``bias``, ``seed``, ``init``, ``train_output``,
        ``output_weights``, ``skip``, ``callback`` and ``progress``, as the arguments of
        :func:`relu_altmin.baselines.train` (``l2`` a float ``>= 0``, default 0).
    """

    hidden: int
    negative_slope: float = 0.0
    l2: float | str | None = 0.0
    bias: bool = True
    seed: int | np.random.Generator | None = None
    init: TwoLayerNet | str | Any | None = None
    train_output: bool = True
    output_weights: Any | None = None
    skip: bool = False
    callback: Callable[[IterationRecord, TwoLayerNet], Any] | None = None
    progress: bool = False

    #: The options that must be bools.
    _FLAGS: ClassVar[tuple[str, ...]] = ("bias", "train_output", "skip", "progress")

    def __post_init__(self) -> None:
        self._set("hidden", check_int(self.hidden, "hidden", 1))
        self._set("negative_slope", check_slope(self.negative_slope))
        for name in self._FLAGS:
            flag = getattr(self, name)
            if not isinstance(flag, bool):
                raise TypeError(f"{name} must be a bool, got {type(flag).__name__}")
        self._set("l2", self._checked_l2())
        if self.callback is not None and not callable(self.callback):
            raise TypeError(f"callback must be callable, got {type(self.callback).__name__}")
        self._set("seed", _checked_seed(self.seed))
        if self.train_output and self.output_weights is not None:
            raise ValueError("output_weights is only used with train_output=False")
        if isinstance(self.init, str):
            if self.init != "rows":
                raise ValueError(f"init must be a TwoLayerNet, an array or 'rows', got "
                                 f"{self.init!r}")
            if self.skip:
                raise ValueError("init='rows' does not apply with skip=True (which starts at "
                                 "W = 0)")

    @property
    def given_start(self) -> TwoLayerNet | Any | None:
        """``init`` when it is a network or hidden weights (in raw units, used as given);
        ``None`` for the drawn start and for ``"rows"`` (both made in the fit's units)."""
        return None if isinstance(self.init, str) else self.init

    def _set(self, name: str, value: Any) -> None:
        object.__setattr__(self, name, value)  # the checked value, in __post_init__ only

    def _checked_l2(self) -> float | str | None:
        return check_nonnegative(self.l2, "l2")

    def check_features(self, d: int) -> None:
        """The checks that need the data's number of features ``d`` (``skip=True``).

        Parameters
        ----------
        d : int
            Columns of ``X``.
        """
        if self.skip and self.hidden != d:
            raise ValueError(f"skip=True needs hidden == n_features; got hidden={self.hidden}, "
                             f"n_features={d}")

    def generator(self) -> np.random.Generator:
        """The random stream of ``seed``: the Generator passed (which the run advances), or a
        new one seeded with the int or ``None``.

        Returns
        -------
        numpy.random.Generator
        """
        if isinstance(self.seed, np.random.Generator):
            return self.seed
        return np.random.default_rng(self.seed)


@dataclass(frozen=True, kw_only=True)
class FitOptions(ModelOptions):
    """Every option of :func:`relu_altmin.fit`, checked on construction, before any work;
    built once by ``fit`` and by the estimators and the command line, which then call
    ``relu_altmin._fit.fit_with``.

    Parameters
    ----------
    hidden : int
        Number of hidden units, ``>= 1``.
    **options
        Every keyword argument of :func:`relu_altmin.fit`, with its name and default
        (``l2`` a float ``>= 0``, ``"auto"`` or ``None``).
    """

    l2: float | str | None = None
    standardize: bool = True
    max_iter: int = 100
    tol: float = 1e-8
    step: str = "joint"
    reinit: bool = True
    endgame: bool = True
    solver: str = "auto"
    max_dense_bytes: int | None = None
    curvature_rows: int | None = None
    chunk_rows: int | None = None
    n_jobs: int | None = None
    early_stopping: bool = False
    validation_fraction: float = 0.1
    n_iter_no_change: int = 10
    progressive: bool = True
    precision: str = "auto"

    _FLAGS: ClassVar[tuple[str, ...]] = (
        *ModelOptions._FLAGS, "reinit", "endgame", "standardize", "progressive",
        "early_stopping")

    def __post_init__(self) -> None:
        super().__post_init__()
        self._set("max_iter", check_int(self.max_iter, "max_iter", 0))
        self._set("tol", check_nonnegative(self.tol, "tol"))
        check_choice(self.step, "step", STEPS)
        check_choice(self.solver, "solver", SOLVERS)
        check_choice(self.precision, "precision", PRECISIONS)
        for name, least in (("max_dense_bytes", 0), ("chunk_rows", 1), ("curvature_rows", 1)):
            if getattr(self, name) is not None:
                self._set(name, check_int(getattr(self, name), name, least))
        resolve_n_jobs(self.n_jobs, work=0.0)  # checks n_jobs
        fraction = check_nonnegative(self.validation_fraction, "validation_fraction")
        if self.early_stopping and not 0.0 < fraction < 1.0:
            raise ValueError(f"validation_fraction must be in (0, 1), got {fraction}")
        self._set("validation_fraction", fraction)
        self._set("n_iter_no_change", check_int(self.n_iter_no_change, "n_iter_no_change", 1))

    def _checked_l2(self) -> float | str | None:
        if isinstance(self.l2, str):
            check_choice(self.l2, "l2", AUTO_L2_RULES)
            if not self.train_output:
                raise ValueError(f"l2={self.l2!r} needs train_output=True (it chooses the ridge of "
                                 "both layers together)")
            return self.l2
        return None if self.l2 is None else check_nonnegative(self.l2, "l2")


def _checked_seed(seed: Any) -> int | np.random.Generator | None:
    """``seed`` as an ``int``, or the ``Generator`` or ``None`` as given."""
    if seed is None or isinstance(seed, np.random.Generator):
        return seed
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise TypeError(f"seed must be None, a non-negative int or a numpy Generator, got {seed!r}")
    if seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed}")
    return int(seed)
