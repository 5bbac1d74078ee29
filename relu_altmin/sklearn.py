"""scikit-learn estimators: thin wrappers around :func:`relu_altmin.fit`.

``AnalyticReLURegressor`` and ``AnalyticReLUClassifier`` follow scikit-learn's estimator API
(``get_params``/``set_params``, ``clone``, ``Pipeline``, ``GridSearchCV``) and pass its
estimator checks. The training itself is :func:`relu_altmin.fit`, called once per ``fit``;
the trained :class:`relu_altmin.TwoLayerNet` is kept as ``network_``.

scikit-learn is not a dependency of ``relu_altmin``; this module needs scikit-learn >= 1.6
(``validate_data`` and ``__sklearn_tags__``). Array-API dispatch
(``sklearn.config_context(array_api_dispatch=True)``) is honoured: PyTorch, CuPy or
array-api-strict inputs are trained and predicted on in their own namespace and device.
See ``docs/sklearn.md``.
"""

from __future__ import annotations

import numbers
from dataclasses import fields
from typing import Any

import numpy as np
from array_api_compat import array_namespace, device, is_array_api_obj

try:
    from sklearn import get_config
    from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
    from sklearn.utils import Tags, check_random_state
    from sklearn.utils.multiclass import check_classification_targets
    from sklearn.utils.validation import check_is_fitted, validate_data
except ImportError as exc:  # scikit-learn missing, or older than 1.6 (no validate_data)
    raise ImportError(
        "relu_altmin.sklearn needs scikit-learn >= 1.6, which is not a dependency of "
        "relu-altmin; install it with `pip install 'scikit-learn>=1.6'` (or the package's "
        f"`test` extra). The import failed with: {exc}"
    ) from exc

from ._fit import FitResult, fit_with
from ._model import TwoLayerNet
from ._options import FitOptions

__all__ = ["AnalyticReLUClassifier", "AnalyticReLURegressor"]

#: The width used when ``hidden`` is not given: the width of the README's examples and of the
#: benchmarks; ``p = hidden * (n_features + 1)`` unknowns in the hidden step's system.
DEFAULT_HIDDEN = 32


def _seed(random_state: Any) -> int:
    """fit's ``seed`` from ``random_state``: an int as is, else an int drawn from the state."""
    if isinstance(random_state, numbers.Integral) and not isinstance(random_state, bool):
        if random_state < 0:
            raise ValueError(f"random_state must be a non-negative int, got {random_state}")
        return int(random_state)
    if random_state is None or isinstance(random_state, np.random.RandomState):
        # None is numpy's global RandomState (scikit-learn's convention); a RandomState
        # instance advances, so refitting with the same instance draws a new start.
        return int(check_random_state(random_state).randint(np.iinfo(np.int32).max))
    raise TypeError("random_state must be None, a non-negative int or a "
                    f"numpy.random.RandomState instance, got {random_state!r}")


def _dispatch() -> bool:
    return bool(get_config()["array_api_dispatch"])


def _float_dtypes(X: Any) -> list[Any]:
    """The dtypes ``validate_data`` may keep: float64 and float32 of the namespace ``X`` keeps.

    Other inputs (integers, lists, data frames) become float64. Without array-API dispatch
    every input becomes NumPy.
    """
    if _dispatch() and is_array_api_obj(X) and not isinstance(X, np.ndarray):
        xp = array_namespace(X)
        return [xp.float64, xp.float32]
    return [np.float64, np.float32]


def _move_like(a: Any, like: Any, name: str = "y") -> Any:
    """``a`` in the namespace and on the device of ``like`` (``y`` follows ``X``)."""
    xp, dev = array_namespace(like), device(like)
    if array_namespace(a) is xp and device(a) == dev:
        return a
    try:
        return xp.asarray(xp.from_dlpack(a), device=dev)
    except (AttributeError, TypeError, NotImplementedError, BufferError, ValueError,
            RuntimeError):
        try:
            return xp.asarray(np.asarray(a), device=dev)
        except (TypeError, ValueError, RuntimeError) as exc:
            raise ValueError(f"{name} ({type(a).__module__}.{type(a).__name__}) could not be "
                             f"moved to {xp.__name__} on {dev}") from exc


class _AnalyticReLUBase(BaseEstimator):
    """Parameters, fitting and the forward pass shared by the regressor and the classifier."""

    def __init__(
        self,
        hidden: int = DEFAULT_HIDDEN,
        *,
        negative_slope: float = 0.0,
        l2: float | str | None = "auto",
        standardize: bool = True,
        bias: bool = True,
        max_iter: int = 100,
        tol: float = 1e-8,
        step: str = "joint",
        reinit: bool = True,
        random_state: int | np.random.RandomState | None = None,
        progress: bool = False,
        warm_start: bool = False,
        early_stopping: bool = False,
        validation_fraction: float = 0.1,
        n_iter_no_change: int = 10,
        n_jobs: int | None = None,
    ) -> None:
        # scikit-learn's convention: store the parameters as given, validate in fit.
        self.hidden = hidden
        self.negative_slope = negative_slope
        self.l2 = l2
        self.standardize = standardize
        self.bias = bias
        self.max_iter = max_iter
        self.tol = tol
        self.step = step
        self.reinit = reinit
        self.random_state = random_state
        self.progress = progress
        self.warm_start = warm_start
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.n_jobs = n_jobs

    def __sklearn_tags__(self) -> Tags:
        tags = super().__sklearn_tags__()
        tags.array_api_support = True
        return tags

    def _fit_options(self, X: Any) -> FitOptions:
        """:func:`relu_altmin.fit`'s options: every parameter named like one of them, ``seed``
        from ``random_state`` and ``init`` from ``warm_start``. Checked here, before any
        work, with ``fit``'s messages (``random_state`` and ``warm_start`` by their own)."""
        if not isinstance(self.warm_start, bool):
            raise TypeError(f"warm_start must be a bool, got {type(self.warm_start).__name__}")
        params = self.get_params(deep=False)
        shared = {f.name: params[f.name] for f in fields(FitOptions) if f.name in params}
        return FitOptions(**shared, seed=_seed(self.random_state), init=self._warm_network(X))

    def _fit_network(self, X: Any, y: Any) -> FitResult:
        """Run :func:`relu_altmin.fit` on validated ``X`` and float targets ``y``.

        An interrupted fit (Ctrl-C) keeps the network trained so far, with
        ``relu_altmin.fit``'s warning.
        """
        result = fit_with(X, y, self._fit_options(X))
        self.network_: TwoLayerNet = result.network
        self.loss_ = result.loss
        self.history_ = result.history
        self.n_iter_ = result.n_iter
        self.stop_reason_ = result.stop_reason
        self.l2_ = result.l2
        return result

    def _warm_network(self, X: Any) -> TwoLayerNet | None:
        """With ``warm_start=True``, the fitted network to continue from, when it has
        ``hidden`` units and ``X``'s features, namespace and device; else ``None`` (a fresh
        start)."""
        net = getattr(self, "network_", None) if self.warm_start else None
        if net is None or (net.n_hidden, net.n_features) != (self.hidden, X.shape[1]):
            return None
        if array_namespace(net.W) is not array_namespace(X) or device(net.W) != device(X):
            return None
        return net

    def _outputs(self, X: Any, method: str) -> Any:
        """Network outputs on ``X``, after validation, in the network's namespace and dtype."""
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=_float_dtypes(X))
        W = self.network_.W
        xp = array_namespace(W)
        if array_namespace(X) is not xp or device(X) != device(W):
            hint = ("" if _dispatch() else " The estimator was fitted under "
                    "sklearn.config_context(array_api_dispatch=True): predict under it too.")
            raise ValueError(
                f"Inputs passed to {type(self).__name__}.{method}() must use the same namespace "
                "and the same device as those passed to fit(): fit used "
                f"{xp.__name__} on {device(W)}, {method} got {array_namespace(X).__name__} "
                f"on {device(X)}.{hint}")
        if X.dtype != W.dtype:
            X = xp.astype(X, W.dtype)
        return self.network_.predict(X)


class AnalyticReLURegressor(RegressorMixin, _AnalyticReLUBase):
    """Two-layer ReLU-like network regressor trained by exact alternating least squares.

    A scikit-learn wrapper around :func:`relu_altmin.fit`: ``fit(X, y)`` calls
    ``relu_altmin.fit(X, y, hidden, ..., seed=...)`` once and keeps the trained network;
    ``predict`` evaluates it. The network is ``f(x) = V^T sigma(W x + b) + c`` with
    ``sigma(z) = max(z, negative_slope * z)``, fitted to the square loss with a small ridge.

    Parameters
    ----------
    hidden : int, default 32
        Number of hidden units (>= 1). The hidden step solves a system with
        ``hidden * (n_features + 1)`` unknowns.
    negative_slope : float, default 0.0
        Activation slope for negative inputs, in [0, 1); 0 is the ReLU.
    l2 : float, "auto", "auto_1se" or None, default "auto"
        Ridge on ``W``, ``b`` and ``V`` (in standardised coordinates with
        ``standardize=True``). ``"auto"`` chooses it from the training data by generalised
        cross-validation (:func:`relu_altmin.fit`'s ``l2="auto"``): the held-out error it
        gives is close to that of the best ridge a grid search finds, for the cost of about
        two fits; it needs at most 5000 unknowns ``hidden * (n_features + 1) + n_outputs *
        (hidden + 1)``; beyond that pass a float. ``"auto_1se"`` (the classifier's default)
        takes the largest ridge whose leave-one-out error is within one standard error of
        the least. ``None`` is ``1e-8 * mean([X, 1]**2)``, which only keeps the linear
        systems definite: the training loss is then as low as the fit can make it, and the
        model overfits like converged L-BFGS.
    standardize : bool, default True
        ``relu_altmin.fit(standardize=...)``: fit on centred, unit-variance features and
        targets and fold the maps into ``network_``, which takes raw inputs (no
        ``StandardScaler`` needed). ``loss_`` is in raw units of ``y``.
    bias : bool, default True
        Hidden and output biases.
    max_iter : int, default 100
        Most iterations (one hidden and one output solve each).
    tol : float, default 1e-8
        Stop when every relative gradient norm is at most ``tol``.
    step : {"joint", "damped", "exact"}, default "joint"
        The hidden step of :func:`relu_altmin.fit`.
    reinit : bool, default True
        Re-initialise the least useful unit at stalls (:func:`relu_altmin.fit`'s ``reinit``).
    random_state : int, numpy.random.RandomState or None, default None
        Seeds the random hidden layer at the start. A non-negative int is passed to
        :func:`relu_altmin.fit` as ``seed`` unchanged, so the same int gives the same network
        as ``relu_altmin.fit(..., seed=random_state)``. A ``RandomState`` (or ``None``,
        numpy's global one) draws the int seed from that state.
    progress : bool, default False
        Print one line per iteration to stderr.
    warm_start : bool, default False
        ``True``: a later ``fit`` continues from the fitted network (``relu_altmin.fit(...,
        init=network_)``; the output layer is solved again for the new targets) when it has
        ``hidden`` units and ``X``'s number of features, namespace and device; otherwise it
        starts afresh. ``random_state`` then seeds only the re-initialised units.
    early_stopping : bool, default False
        Hold out ``validation_fraction`` of the training rows, stop once
        ``n_iter_no_change`` iterations did not lower their MSE and keep the network of the
        lowest (:func:`relu_altmin.fit`'s ``early_stopping``; scikit-learn's names). With the
        default ``l2="auto"`` it shortens the fit but predicted worse on the benchmark
        (``docs/sklearn.md``, "Predicting well").
    validation_fraction : float, default 0.1
        Fraction of the rows held out for ``early_stopping``.
    n_iter_no_change : int, default 10
        Iterations without improvement that end an ``early_stopping`` fit.
    n_jobs : int or None, default None
        Threads for BLAS and the Numba kernels while the fit runs, restored afterwards
        (:func:`relu_altmin.fit`'s ``n_jobs``): a positive int is that many, ``-1`` all cores,
        ``-2`` all but one; ``None`` chooses from the problem's size (one thread on small data).

    Attributes
    ----------
    network_ : TwoLayerNet
        The trained network, in the namespace, device and dtype of ``X`` (under array-API
        dispatch; NumPy otherwise). Its ``predict`` returns 1-D outputs for a 1-D ``y``.
    loss_ : float
        Final training mean squared error.
    history_ : tuple of IterationRecord
        One record per iteration, starting with iteration 0 (see :func:`relu_altmin.fit`).
    n_iter_ : int
        Iterations run (not counting iteration 0).
    stop_reason_ : str
        ``"critical_point"``, ``"no_progress"``, ``"max_iter"`` or ``"interrupted"`` (a
        ``KeyboardInterrupt`` ended the fit: the estimator keeps the network trained so far,
        with a :class:`relu_altmin.FitInterrupted` warning).
    l2_ : float
        The ridge used (the one chosen with ``l2="auto"``, the default with ``None``).
    n_features_in_ : int
        Number of features seen in ``fit``.
    feature_names_in_ : ndarray of str, shape (n_features_in_,)
        Feature names seen in ``fit``; only when ``X`` has string column names.

    See Also
    --------
    AnalyticReLUClassifier : The same network fitted to ±1-coded class labels.
    relu_altmin.fit : The trainer this estimator calls.

    Notes
    -----
    dtypes: ``X`` stays float32 or float64 (anything else becomes float64) and ``y`` is cast
    to ``X``'s dtype, so the network and its predictions have ``X``'s dtype. The solves run in
    float64 either way; float32 data on 16 384 rows or more makes its passes over the rows in
    float32 (``relu_altmin.fit(precision="auto")``). ``predict`` casts its input to the
    network's dtype.

    Examples
    --------
    >>> import numpy as np
    >>> from relu_altmin.sklearn import AnalyticReLURegressor
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((50, 3))
    >>> y = np.maximum(X[:, 0], 0.0) - X[:, 1]
    >>> reg = AnalyticReLURegressor(hidden=8, random_state=0).fit(X, y)
    >>> reg.predict(X).shape
    (50,)
    """

    def __sklearn_tags__(self) -> Tags:
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags

    def fit(self, X: Any, y: Any) -> AnalyticReLURegressor:
        """Train the network on ``(X, y)`` with :func:`relu_altmin.fit`.

        Parameters
        ----------
        X : array-like, shape (n_samples, n_features)
            Training inputs.
        y : array-like, shape (n_samples,) or (n_samples, n_outputs)
            Targets; 2-D for several outputs.

        Returns
        -------
        self : AnalyticReLURegressor
            The fitted estimator.
        """
        X, y = validate_data(self, X, y, dtype=_float_dtypes(X), multi_output=True,
                             y_numeric=True)
        xp = array_namespace(X)
        y = xp.astype(_move_like(y, X), X.dtype)
        self._fit_network(X, y)
        return self

    def predict(self, X: Any) -> Any:
        """Network outputs for the rows of ``X``.

        Parameters
        ----------
        X : array-like, shape (n_samples, n_features)
            Inputs.

        Returns
        -------
        array, shape (n_samples,) or (n_samples, n_outputs)
            Like the ``y`` seen in ``fit``, in the network's namespace and dtype.
        """
        return self._outputs(X, "predict")


class AnalyticReLUClassifier(ClassifierMixin, _AnalyticReLUBase):
    """Two-layer ReLU-like network classifier: square loss on ±1-coded labels.

    A scikit-learn wrapper around :func:`relu_altmin.fit`, in the manner of
    :class:`sklearn.linear_model.RidgeClassifier`: the labels are coded as targets in
    {-1, +1} and the network is fitted to them by least squares.

    - **Binary** (two classes): one output, target +1 for ``classes_[1]`` and -1 for
      ``classes_[0]``. ``decision_function`` is that output, shape (n_samples,), and
      ``predict`` is ``classes_[1]`` where it is > 0, else ``classes_[0]`` (scikit-learn's
      binary convention). One output rather than two: with the output bias the two outputs
      of a two-column fit would be mirror images (``f_0 = -f_1`` after each output solve), so
      the second would double the cost of the output layer and add no information.
    - **Multiclass** (k > 2 classes): k outputs, target +1 in the sample's class column and
      -1 elsewhere (one-vs-rest). ``decision_function`` has shape (n_samples, k) and
      ``predict`` is ``classes_[argmax]`` (ties: the first class).

    Why ±1 rather than 0/1: it is RidgeClassifier's coding, it centres the binary decision at
    0, and for a fixed hidden layer the least-squares outputs for ``2 T - 1`` are ``2 F - 1``
    where ``F`` are those for the 0/1 one-hot ``T``, so the argmax is the same.

    There is **no** ``predict_proba``: least-squares outputs are not probabilities. They
    estimate ``2 P(class | x) - 1`` only in the least-squares sense, fall outside [-1, 1] and
    need not be ordered like the true probabilities far from the data. Wrap the estimator in
    :class:`sklearn.calibration.CalibratedClassifierCV` for probabilities.

    Parameters
    ----------
    hidden : int, default 32
        Number of hidden units (>= 1).
    negative_slope : float, default 0.0
        Activation slope for negative inputs, in [0, 1); 0 is the ReLU.
    l2 : float, "auto_1se", "auto" or None, default "auto_1se"
        Ridge on ``W``, ``b`` and ``V`` (in standardised coordinates with
        ``standardize=True``), chosen from the training data by default: ``"auto_1se"``
        (:func:`relu_altmin.fit`'s ``l2="auto_1se"``) takes the largest ridge whose
        leave-one-out squared error of the ±1 codes is within one standard error of the
        least, which classified better than the ridge of least error (``"auto"``,
        generalised cross-validation) on the benchmark (``docs/sklearn.md``); both need at
        most 5000 unknowns ``hidden * (n_features + 1) + n_outputs * (hidden + 1)``; beyond
        that pass a float. ``None`` is ``1e-8 * mean([X, 1]**2)``: no regularisation to
        speak of.
    standardize : bool, default True
        ``relu_altmin.fit(standardize=...)``: fit on centred, unit-variance features and
        (±1) codes and fold the maps into ``network_``.
    bias : bool, default True
        Hidden and output biases.
    max_iter : int, default 100
        Most iterations.
    tol : float, default 1e-8
        Stop when every relative gradient norm is at most ``tol``.
    step : {"joint", "damped", "exact"}, default "joint"
        The hidden step of :func:`relu_altmin.fit`.
    reinit : bool, default True
        Re-initialise the least useful unit at stalls (:func:`relu_altmin.fit`'s ``reinit``).
    random_state : int, numpy.random.RandomState or None, default None
        Seeds the random hidden layer; a non-negative int is :func:`relu_altmin.fit`'s
        ``seed`` unchanged, a ``RandomState`` (or ``None``) draws it.
    progress : bool, default False
        Print one line per iteration to stderr.
    warm_start : bool, default False
        ``True``: a later ``fit`` continues from the fitted network (``relu_altmin.fit(...,
        init=network_)``; the output layer is solved again for the new targets) when it has
        ``hidden`` units and ``X``'s number of features, namespace and device; otherwise it
        starts afresh. ``random_state`` then seeds only the re-initialised units.
    early_stopping : bool, default False
        Hold out ``validation_fraction`` of the training rows, stop once
        ``n_iter_no_change`` iterations did not lower their MSE and keep the network of the
        lowest (:func:`relu_altmin.fit`'s ``early_stopping``; scikit-learn's names). With the
        default ``l2="auto"`` it shortens the fit but predicted worse on the benchmark
        (``docs/sklearn.md``, "Predicting well").
    validation_fraction : float, default 0.1
        Fraction of the rows held out for ``early_stopping``.
    n_iter_no_change : int, default 10
        Iterations without improvement that end an ``early_stopping`` fit.
    n_jobs : int or None, default None
        Threads for BLAS and the Numba kernels while the fit runs, restored afterwards
        (:func:`relu_altmin.fit`'s ``n_jobs``): a positive int is that many, ``-1`` all cores,
        ``-2`` all but one; ``None`` chooses from the problem's size (one thread on small data).

    Attributes
    ----------
    classes_ : array, shape (n_classes,)
        Sorted class labels. Numeric labels follow ``X``'s namespace and device under
        array-API dispatch; other labels stay NumPy.
    network_ : TwoLayerNet
        The trained network: one output for two classes, ``n_classes`` outputs otherwise.
    loss_ : float
        Final training mean squared error against the ±1-coded targets.
    history_ : tuple of IterationRecord
        One record per iteration, starting with iteration 0.
    n_iter_ : int
        Iterations run (not counting iteration 0).
    stop_reason_ : str
        ``"critical_point"``, ``"no_progress"``, ``"max_iter"`` or ``"interrupted"`` (a
        ``KeyboardInterrupt`` ended the fit: the estimator keeps the network trained so far,
        with a :class:`relu_altmin.FitInterrupted` warning).
    l2_ : float
        The ridge used.
    n_features_in_ : int
        Number of features seen in ``fit``.
    feature_names_in_ : ndarray of str, shape (n_features_in_,)
        Feature names seen in ``fit``; only when ``X`` has string column names.

    See Also
    --------
    AnalyticReLURegressor : The same network on real-valued targets.
    sklearn.linear_model.RidgeClassifier : The linear model with the same label coding.

    Examples
    --------
    >>> import numpy as np
    >>> from relu_altmin.sklearn import AnalyticReLUClassifier
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((60, 2))
    >>> y = np.where(X[:, 0] * X[:, 1] > 0, "same", "different")
    >>> clf = AnalyticReLUClassifier(hidden=8, random_state=0).fit(X, y)
    >>> clf.classes_.tolist()
    ['different', 'same']
    >>> clf.decision_function(X).shape
    (60,)
    """

    def __init__(
        self,
        hidden: int = DEFAULT_HIDDEN,
        *,
        negative_slope: float = 0.0,
        l2: float | str | None = "auto_1se",
        standardize: bool = True,
        bias: bool = True,
        max_iter: int = 100,
        tol: float = 1e-8,
        step: str = "joint",
        reinit: bool = True,
        random_state: int | np.random.RandomState | None = None,
        progress: bool = False,
        warm_start: bool = False,
        early_stopping: bool = False,
        validation_fraction: float = 0.1,
        n_iter_no_change: int = 10,
        n_jobs: int | None = None,
    ) -> None:
        # The regressor's parameters with another default ridge rule (scikit-learn lists
        # every parameter in each estimator's signature, as MLPClassifier does).
        super().__init__(
            hidden, negative_slope=negative_slope, l2=l2, standardize=standardize, bias=bias,
            max_iter=max_iter, tol=tol, step=step, reinit=reinit, random_state=random_state,
            progress=progress, warm_start=warm_start, early_stopping=early_stopping,
            validation_fraction=validation_fraction, n_iter_no_change=n_iter_no_change,
            n_jobs=n_jobs)

    def fit(self, X: Any, y: Any) -> AnalyticReLUClassifier:
        """Code the labels as ±1 targets and train the network with :func:`relu_altmin.fit`.

        Parameters
        ----------
        X : array-like, shape (n_samples, n_features)
            Training inputs.
        y : array-like, shape (n_samples,)
            Class labels (at least two distinct ones).

        Returns
        -------
        self : AnalyticReLUClassifier
            The fitted estimator.
        """
        X, y = validate_data(self, X, y, dtype=_float_dtypes(X))
        check_classification_targets(y)
        xp = array_namespace(X)
        if isinstance(y, np.ndarray) and (not _dispatch() or y.dtype.kind in "OSU"):
            # Labels NumPy can hold but other array libraries cannot (strings, objects)
            # stay NumPy; so does everything without dispatch, where X is NumPy too.
            classes, codes = np.unique(y, return_inverse=True)
            codes = xp.asarray(codes.reshape(-1), device=device(X))
        else:
            y = _move_like(y, X)
            classes, codes = xp.unique_inverse(y)
        k = int(classes.shape[0])
        if k < 2:
            raise ValueError("AnalyticReLUClassifier needs samples of at least two classes; "
                             f"got 1 class ({classes[0]!r})")
        if k == 2:
            targets = 2.0 * xp.astype(codes, X.dtype) - 1.0
        else:
            columns = xp.arange(k, dtype=codes.dtype, device=device(X))
            targets = 2.0 * xp.astype(codes[:, None] == columns[None, :], X.dtype) - 1.0
        self.classes_ = classes
        self._fit_network(X, targets)
        return self

    def decision_function(self, X: Any) -> Any:
        """Network outputs: ±1-coded class scores.

        Parameters
        ----------
        X : array-like, shape (n_samples, n_features)
            Inputs.

        Returns
        -------
        array, shape (n_samples,) for two classes, else (n_samples, n_classes)
            Binary: the score of ``classes_[1]`` (> 0 predicts it). Multiclass: one score per
            class in ``classes_`` order. In the network's namespace and dtype.
        """
        return self._outputs(X, "decision_function")

    def predict(self, X: Any) -> Any:
        """Class labels: the argmax of the network outputs, mapped to ``classes_``.

        Parameters
        ----------
        X : array-like, shape (n_samples, n_features)
            Inputs.

        Returns
        -------
        array, shape (n_samples,)
            Labels from ``classes_``: ``classes_[1]`` where the binary score is > 0, else
            ``classes_[0]``; for several classes, the class of the largest score.
        """
        scores = self._outputs(X, "predict")
        xp = array_namespace(scores)
        if scores.ndim == 1:
            index = xp.astype(scores > 0, xp.int64)
        else:
            index = xp.argmax(scores, axis=1)
        if isinstance(self.classes_, np.ndarray):  # NumPy labels (strings, say)
            return self.classes_[_move_like(index, self.classes_, "the class indices")]
        return xp.take(self.classes_, index, axis=0)
