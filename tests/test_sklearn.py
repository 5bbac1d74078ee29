"""The scikit-learn estimators of ``relu_altmin.sklearn``.

scikit-learn's own estimator checks; ``clone``, ``Pipeline``, ``GridSearchCV``; array-API
dispatch (PyTorch CPU and array-api-strict); and properties of the thin wrapper: it is
:func:`relu_altmin.fit` with ``seed=random_state``, the classifier is that fit on ±1-coded
labels, and its labels always come from ``classes_``.

scikit-learn's array-API dispatch needs ``SCIPY_ARRAY_API=1`` in the environment before SciPy
is imported. The ``test_array_api_*`` tests and scikit-learn's ``check_array_api_*`` checks
therefore run in a subprocess with that variable set (``test_dispatch_tests_in_subprocess``),
unless the whole session was started with it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import to_numpy
from hypothesis import given, settings
from hypothesis import strategies as st

sklearn = pytest.importorskip("sklearn")

from sklearn.base import clone  # noqa: E402
from sklearn.model_selection import GridSearchCV  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

import relu_altmin  # noqa: E402
from relu_altmin.sklearn import AnalyticReLUClassifier, AnalyticReLURegressor  # noqa: E402

ARRAY_API = os.environ.get("SCIPY_ARRAY_API") == "1"
needs_array_api = pytest.mark.skipif(
    not ARRAY_API, reason="array-API dispatch needs SCIPY_ARRAY_API=1 before SciPy is imported; "
    "test_dispatch_tests_in_subprocess runs this test with it")
STOP_REASONS = {"critical_point", "no_progress", "max_iter"}

#: Small widths keep scikit-learn's ~70 checks per estimator (dozens of fits) to seconds; the
#: checks' data sets are small, and both instances still pass the checks' accuracy floors.
CHECKED = [AnalyticReLURegressor(hidden=4, negative_slope=0.1, max_iter=20),
           AnalyticReLUClassifier(hidden=4, max_iter=20)]


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Hold BLAS and PyTorch to one thread: the solves here are tiny, and on a loaded 2-core
    machine two threads made a 130 x 130 NumPy solve ~50 ms (a default-width fit on 30 samples
    took 16 s instead of 1 s) and a PyTorch fit ~100x slower."""
    try:
        import torch
    except ImportError:
        torch = None
    threads = torch.get_num_threads() if torch is not None else None
    if torch is not None:
        torch.set_num_threads(1)
    try:
        with threadpool_limits(1, user_api="blas"):
            yield
    finally:
        if torch is not None:
            torch.set_num_threads(threads)


@parametrize_with_checks(CHECKED)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


def test_dispatch_tests_in_subprocess():
    """Run the array-API tests and checks in a fresh interpreter with SCIPY_ARRAY_API=1."""
    if ARRAY_API:
        pytest.skip("SCIPY_ARRAY_API=1 is set: the array-API tests run in this session")
    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "SCIPY_ARRAY_API": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", str(Path(__file__).resolve()), "-q", "-rA",
         "-p", "no:cacheprovider", "-k", "array_api"],
        cwd=root, env=env, capture_output=True, text=True, timeout=600)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-6000:]
    passed = [line.replace(" ", "") for line in out.splitlines() if line.startswith("PASSED ")]
    # Everything this machine can run must have run: NumPy, array-api-strict (two devices),
    # PyTorch CPU (both dtypes), array-api-strict y with PyTorch X, and the namespace check.
    # CuPy, CUDA, MPS, XPU and dpnp skip where they are missing.
    for est in CHECKED:
        for case in ("check_array_api_input(array_namespace=numpy,",
                     "array_namespace=array_api_strict,device_name=CPU_DEVICE,",
                     "array_namespace=array_api_strict,device_name=device1,",
                     "array_namespace=torch,device_name=cpu,dtype_name=float64",
                     "array_namespace=torch,device_name=cpu,dtype_name=float32",
                     "xp='array_api_strict', device='device1'),X_ns_and_device="
                     "NamespaceAndDevice(xp='torch', device='cpu')",
                     "check_array_api_same_namespace"):
            est_id, case = repr(est).replace(" ", ""), case.replace(" ", "")  # pytest's ids
            assert any(est_id in line and case in line for line in passed), (est, case, out)
    # This file's own dispatch tests all ran (none skipped).
    own = [name for name in globals() if name.startswith("test_array_api_")]
    assert len(own) == 4
    for name in own:
        assert any(f"::{name}[" in line or line.endswith(f"::{name}") for line in passed), \
            (name, out)


# --- data --------------------------------------------------------------------------------


def regression_data(seed: int, n: int = 40, d: int = 3, k: int | None = None):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    teacher = rng.standard_normal((d, 3))
    Y = np.maximum(X @ teacher, 0.0) @ rng.standard_normal((3, k or 1))
    Y = Y + 0.1 * rng.standard_normal(Y.shape)
    return X, (Y[:, 0] if k is None else Y)


def classification_data(seed: int, n: int = 40, d: int = 2, n_classes: int = 3):
    X, _ = regression_data(seed, n, d)
    scores = X @ np.random.default_rng(seed + 1).standard_normal((d, n_classes))
    return X, np.argmax(scores, axis=1)


@st.composite
def regression_problems(draw):
    """Small data, any output shape, and every knob the estimator forwards to ``fit``."""
    seed = draw(st.integers(0, 2**31 - 1))
    n = draw(st.integers(2, 30))
    d = draw(st.integers(1, 4))
    shape = draw(st.sampled_from(["1-D", "n x 1", "n x 2"]))
    X, Y = regression_data(seed, n, d, k=None if shape == "1-D" else int(shape[-1]))
    params = dict(
        hidden=draw(st.integers(1, 6)),
        negative_slope=draw(st.sampled_from([0.0, 0.1, 0.5])),
        l2=draw(st.sampled_from([None, 1e-3])),
        bias=draw(st.booleans()),
        max_iter=draw(st.integers(0, 6)),
        step=draw(st.sampled_from(["joint", "damped", "exact"])),
        reinit=draw(st.booleans()),
    )
    return X, Y, params, draw(st.integers(0, 2**31 - 1))


#: Label sets the classifier must handle alike: small ints, shifted ints, strings, floats.
LABELS = {
    "ints": np.arange(5),
    "shifted": np.array([-7, 3, 10, 42, 1000]),
    "strings": np.array(["ant", "bee", "cat", "dog", "eel"]),
    "floats": np.array([-2.0, 0.0, 2.0, 3.0, 9.0]),  # integral: sklearn calls 0.25 continuous
}


@st.composite
def labelled_problems(draw):
    """Inputs with labels from one of ``LABELS``: 2 to 5 classes, every class present."""
    seed = draw(st.integers(0, 2**31 - 1))
    n_classes = draw(st.integers(2, 5))
    n = draw(st.integers(n_classes, 30))
    d = draw(st.integers(1, 4))
    X, _ = regression_data(seed, n, d)
    codes = np.random.default_rng(seed).permutation(np.arange(n) % n_classes)
    labels = LABELS[draw(st.sampled_from(sorted(LABELS)))][:n_classes]
    return X, labels[codes], draw(st.integers(0, 2**31 - 1))


def pm1_codes(y: np.ndarray) -> np.ndarray:
    """The classifier's documented targets, written out independently of the estimator."""
    classes = np.unique(y)
    if len(classes) == 2:
        return np.where(y == classes[1], 1.0, -1.0)
    return np.where(y[:, None] == classes[None, :], 1.0, -1.0)


# --- properties of the wrapper -----------------------------------------------------------


@settings(max_examples=15)
@given(regression_problems())
def test_regressor_is_fit_with_seed_random_state(problem):
    X, Y, params, seed = problem
    reg = AnalyticReLURegressor(**params, random_state=seed).fit(X, Y)
    result = relu_altmin.fit(X, Y, params.pop("hidden"), **params, seed=seed)
    np.testing.assert_array_equal(reg.predict(X), result.network.predict(X))
    assert reg.predict(X).shape == Y.shape
    assert (reg.loss_, reg.n_iter_, reg.stop_reason_, reg.l2_) == (
        result.loss, result.n_iter, result.stop_reason, result.l2)
    assert isinstance(reg.history_, tuple)  # seconds differ; everything else is the same
    assert [r.loss for r in reg.history_] == [r.loss for r in result.history]


@settings(max_examples=15)
@given(labelled_problems())
def test_classifier_is_fit_on_pm1_codes(problem):
    X, y, seed = problem
    clf = AnalyticReLUClassifier(hidden=3, max_iter=4, random_state=seed).fit(X, y)
    result = relu_altmin.fit(X, pm1_codes(y), 3, max_iter=4, seed=seed, l2="auto_1se")
    np.testing.assert_array_equal(clf.classes_, np.unique(y))
    np.testing.assert_array_equal(clf.decision_function(X), result.network.predict(X))
    assert clf.network_.n_outputs == (1 if len(clf.classes_) == 2 else len(clf.classes_))
    assert clf.loss_ == result.loss


@settings(max_examples=15)
@given(labelled_problems(), st.integers(0, 2**31 - 1))
def test_predict_is_the_argmax_mapped_to_classes(problem, new_seed):
    X, y, seed = problem
    clf = AnalyticReLUClassifier(hidden=3, max_iter=3, random_state=seed).fit(X, y)
    X_new = np.random.default_rng(new_seed).standard_normal((25, X.shape[1])) * 3.0
    for inputs in (X, X_new):
        labels = clf.predict(inputs)
        scores = clf.decision_function(inputs)
        assert labels.shape == (inputs.shape[0],) and labels.dtype == y.dtype
        assert set(labels.tolist()) <= set(clf.classes_.tolist())
        index = (scores > 0).astype(int) if scores.ndim == 1 else np.argmax(scores, axis=1)
        np.testing.assert_array_equal(labels, clf.classes_[index])


@settings(max_examples=10)
@given(st.integers(0, 2**31 - 1), st.integers(2, 4), st.integers(4, 30))
def test_separable_training_data_is_classified_perfectly(seed, n_classes, n):
    """Labels from a linear teacher with a margin; 32 units >= n samples interpolate the codes
    (the least-squares fit only improves on the random start's), so every label is right.
    The negligible ridge (``l2=None``): a ridge chosen from four samples may not interpolate."""
    rng = np.random.default_rng(seed)
    d = 2
    teacher = rng.standard_normal((d, n_classes))
    X = np.empty((0, d))
    while X.shape[0] < n:  # keep points whose top score leads by a margin
        x = 2.0 * rng.standard_normal((4 * n, d))
        top2 = np.sort(x @ teacher, axis=1)[:, -2:]
        X = np.vstack([X, x[top2[:, 1] - top2[:, 0] > 0.5]])
    X = X[:n]
    y = np.argmax(X @ teacher, axis=1)
    if len(np.unique(y)) < 2:
        y[0] = (y[0] + 1) % n_classes  # still a labelling the 32 units can fit
    clf = AnalyticReLUClassifier(hidden=32, negative_slope=0.1, max_iter=10, l2=None,
                                 random_state=seed).fit(X, y)
    assert clf.score(X, y) == 1.0


@settings(max_examples=10)
@given(regression_problems())
def test_same_random_state_same_network(problem):
    X, Y, params, seed = problem
    params["max_iter"] = min(params["max_iter"], 2)

    def fitted(random_state):
        return AnalyticReLURegressor(**params, random_state=random_state).fit(X, Y)

    first = fitted(seed)
    np.testing.assert_array_equal(fitted(seed).predict(X), first.predict(X))
    np.testing.assert_array_equal(first.fit(X, Y).predict(X), fitted(seed).predict(X))
    np.testing.assert_array_equal(fitted(np.random.RandomState(seed)).predict(X),
                                  fitted(np.random.RandomState(seed)).predict(X))
    # A different seed draws a different start: the hidden layers differ.
    other = fitted(seed + 1)
    assert not np.array_equal(other.network_.W, first.network_.W)


@pytest.mark.parametrize("state_seed", [1, 5])
def test_random_state_instance_draws_the_seed(state_seed):
    """A RandomState's draw is fit's seed; the instance advances, as scikit-learn expects."""
    X, y = regression_data(0)
    state = np.random.RandomState(state_seed)
    seed = int(np.random.RandomState(state_seed).randint(np.iinfo(np.int32).max))
    reg = AnalyticReLURegressor(hidden=3, max_iter=2, random_state=state).fit(X, y)
    expected = relu_altmin.fit(X, y, 3, max_iter=2, seed=seed, l2="auto").network.predict(X)
    np.testing.assert_array_equal(reg.predict(X), expected)
    refit = reg.fit(X, y).predict(X)  # the state moved on: a new start
    assert not np.array_equal(refit, expected)


# --- API: attributes, defaults, validation -----------------------------------------------


def test_defaults_mirror_fit():
    import inspect

    fit_defaults = {name: p.default for name, p in
                    inspect.signature(relu_altmin.fit).parameters.items()}
    for cls in (AnalyticReLURegressor, AnalyticReLUClassifier):
        params = cls().get_params()
        assert params["hidden"] == 32
        assert params.pop("random_state") is None and fit_defaults["seed"] is None
        assert params.pop("warm_start") is False  # scikit-learn's parameter, not fit's
        # The estimators predict (the ridge from the data); fit's default reaches the least
        # training loss (docs/sklearn.md, "Predicting well").
        rule = "auto_1se" if cls is AnalyticReLUClassifier else "auto"
        assert params.pop("l2") == rule and fit_defaults["l2"] is None
        for name in set(params) - {"hidden"}:
            assert params[name] == fit_defaults[name], name


def test_every_parameter_reaches_fit():
    """The estimators hand fit every parameter named like one of its options (the rest are
    scikit-learn's), so a parameter with another name would be an error here, not ignored."""
    from dataclasses import fields

    from relu_altmin._options import FitOptions

    names = {f.name for f in fields(FitOptions)}
    X, _ = regression_data(9)
    for cls in (AnalyticReLURegressor, AnalyticReLUClassifier):
        assert set(cls().get_params()) - names == {"random_state", "warm_start"}
    est = AnalyticReLURegressor(hidden=3, l2=0.5, step="exact", max_iter=7, random_state=4,
                                standardize=False, n_iter_no_change=3)
    options = est._fit_options(X)
    assert (options.hidden, options.l2, options.step, options.max_iter, options.seed,
            options.standardize, options.n_iter_no_change) == (3, 0.5, "exact", 7, 4, False, 3)


@pytest.mark.parametrize("k", [None, 1, 3])
def test_regressor_attributes_and_output_shapes(k):
    X, Y = regression_data(1, k=k)
    reg = AnalyticReLURegressor(hidden=5, max_iter=5, random_state=0).fit(X, Y)
    assert isinstance(reg.network_, relu_altmin.TwoLayerNet)
    assert reg.network_.n_hidden == 5 and reg.n_features_in_ == 3
    assert reg.predict(X).shape == Y.shape
    assert len(reg.history_) == reg.n_iter_ + 1 and reg.loss_ == reg.history_[-1].loss
    assert reg.stop_reason_ in STOP_REASONS and reg.l2_ > 0.0
    assert not hasattr(reg, "feature_names_in_")


def test_defaults_train_well():
    """The default width and iterations, once, on a small problem."""
    X, y = regression_data(2, n=60)
    reg = AnalyticReLURegressor(random_state=0).fit(X, y)
    assert reg.network_.n_hidden == 32 and reg.score(X, y) > 0.99


def test_binary_classifier_has_one_output_and_a_1d_decision():
    X, y = classification_data(3, n_classes=2)
    labels = np.array(["no", "yes"])[y]
    clf = AnalyticReLUClassifier(hidden=4, max_iter=5, random_state=0).fit(X, labels)
    scores = clf.decision_function(X)
    assert clf.network_.n_outputs == 1 and scores.shape == (40,)
    np.testing.assert_array_equal(clf.predict(X), np.where(scores > 0, "yes", "no"))
    assert not hasattr(clf, "predict_proba")  # least-squares scores are not probabilities


def test_feature_names_are_recorded():
    pd = pytest.importorskip("pandas")
    X, y = classification_data(4)
    frame = pd.DataFrame(X, columns=["a", "b"])
    clf = AnalyticReLUClassifier(hidden=4, max_iter=3, random_state=0).fit(frame, y)
    assert list(clf.feature_names_in_) == ["a", "b"]
    plain = AnalyticReLUClassifier(hidden=4, max_iter=3, random_state=0).fit(X, y)
    assert not hasattr(plain, "feature_names_in_")
    np.testing.assert_array_equal(clf.predict(frame), plain.predict(X))
    with pytest.raises(ValueError, match="feature names"):
        clf.predict(frame[["b", "a"]])


def test_dtypes():
    """X's float dtype is kept (y is cast to it); other inputs become float64; predict casts
    its input to the network's dtype."""
    X, y = regression_data(5)
    reg = AnalyticReLURegressor(hidden=3, max_iter=3, random_state=0)
    assert reg.fit(X.astype(np.float32), y).predict(X).dtype == np.float32
    assert reg.network_.W.dtype == np.float32
    assert reg.fit(np.rint(3 * X).astype(int), y).predict(X).dtype == np.float64
    Xc, yc = classification_data(5)
    clf = AnalyticReLUClassifier(hidden=3, max_iter=3, random_state=0)
    assert clf.fit(Xc.astype(np.float32), yc).decision_function(Xc).dtype == np.float32


def test_progress_is_passed_through(capsys):
    X, y = regression_data(6)
    AnalyticReLURegressor(hidden=2, max_iter=2, progress=True, random_state=0).fit(X, y)
    assert "stopped:" in capsys.readouterr().err


BAD_PARAMS = [
    ("hidden", 0, ValueError), ("hidden", 2.5, TypeError),
    ("negative_slope", 1.0, ValueError), ("negative_slope", "x", TypeError),
    ("l2", -1.0, ValueError), ("bias", "yes", TypeError),
    ("max_iter", -1, ValueError), ("tol", float("nan"), ValueError),
    ("step", "newton", ValueError), ("reinit", "yes", TypeError), ("progress", 1, TypeError),
    ("random_state", -1, ValueError), ("random_state", "seed", TypeError),
    ("random_state", True, TypeError), ("random_state", np.random.default_rng(0), TypeError),
    ("warm_start", 1, TypeError), ("n_jobs", 0, ValueError), ("n_jobs", 1.5, TypeError),
]


@pytest.mark.parametrize("cls", [AnalyticReLURegressor, AnalyticReLUClassifier])
@pytest.mark.parametrize(("name", "value", "error"), BAD_PARAMS)
def test_bad_parameters_raise_in_fit_naming_them(cls, name, value, error):
    X, y = classification_data(7)
    est = cls(**{name: value})  # neither __init__ nor set_params validates
    est.set_params(**{name: value})
    with pytest.raises(error, match=name):
        est.fit(X, y)
    assert not hasattr(est, "network_")


@pytest.mark.parametrize("cls", [AnalyticReLURegressor, AnalyticReLUClassifier])
@pytest.mark.parametrize("n_jobs", [1, 2, -1, None])
def test_n_jobs_sets_the_fits_threads(cls, n_jobs, monkeypatch):
    """``n_jobs`` reaches :func:`relu_altmin.fit`: the estimator's fit holds the threads that
    ``relu_altmin.fit(..., n_jobs=n_jobs)`` holds on a problem of its size."""
    from relu_altmin import _fit
    from relu_altmin._threads import resolve_n_jobs

    held, limits = [], _fit.thread_limits

    def recorded(threads):
        held.append(threads)
        return limits(threads)

    monkeypatch.setattr(_fit, "thread_limits", recorded)
    X, y = classification_data(9)
    cls(hidden=3, max_iter=2, random_state=0, n_jobs=n_jobs).fit(X, y)
    relu_altmin.fit(X, y.astype(float), 3, max_iter=2, seed=0, n_jobs=n_jobs)
    assert len(held) == 2 and held[0] == held[1]  # tiny problems: the size names 1 thread too
    if n_jobs is not None:
        assert held[0] == resolve_n_jobs(n_jobs, work=0.0)


def test_one_class_is_an_error():
    X, _ = classification_data(8)
    with pytest.raises(ValueError, match="at least two classes"):
        AnalyticReLUClassifier(hidden=2).fit(X, np.zeros(len(X)))


def test_sklearn_is_optional():
    """``import relu_altmin`` never imports scikit-learn; ``relu_altmin.sklearn`` says what
    is missing when it is absent."""
    code = (
        "import sys, relu_altmin\n"
        "assert not [m for m in sys.modules if m.split('.')[0] == 'sklearn'], 'imported'\n"
        "sys.modules['sklearn'] = None\n"
        "try:\n"
        "    import relu_altmin.sklearn\n"
        "except ImportError as exc:\n"
        "    print(exc)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "relu_altmin.sklearn needs scikit-learn >= 1.6" in proc.stdout
    assert "pip install" in proc.stdout


# --- meta-estimators ---------------------------------------------------------------------


@pytest.mark.parametrize("est", [
    AnalyticReLURegressor(hidden=7, negative_slope=0.2, l2=1e-3, bias=False, max_iter=9,
                          tol=1e-6, step="exact", random_state=3, progress=False),
    AnalyticReLUClassifier(hidden=2, random_state=np.random.RandomState(1), step="damped"),
])
def test_clone_keeps_parameters_and_drops_fit(est):
    X, y = classification_data(9)
    est.fit(X, y)
    copy = clone(est)
    params, copied = est.get_params(), copy.get_params()
    assert params.keys() == copied.keys()
    for name, value in params.items():
        if name == "random_state" and isinstance(value, np.random.RandomState):
            assert isinstance(copied[name], np.random.RandomState)  # clone deep-copies it
        else:
            assert copied[name] == value, name
    assert not hasattr(copy, "network_") and hasattr(est, "network_")


def test_pipeline_with_standard_scaler_is_scaling_then_fit():
    X, y = regression_data(10)
    X = 100.0 * X + 5.0
    pipe = make_pipeline(StandardScaler(), AnalyticReLURegressor(hidden=4, max_iter=10,
                                                                 random_state=0))
    pipe.fit(X, y)
    Xs = StandardScaler().fit_transform(X)
    expected = relu_altmin.fit(Xs, y, 4, max_iter=10, seed=0, l2="auto").network.predict(Xs)
    np.testing.assert_allclose(pipe.predict(X), expected, rtol=1e-12, atol=1e-12)
    assert pipe.score(X, y) > 0.9


def test_grid_search_over_width_and_slope():
    X, y = regression_data(11, n=60)
    grid = {"hidden": [1, 6], "negative_slope": [0.0, 0.3]}
    search = GridSearchCV(AnalyticReLURegressor(max_iter=10, random_state=0), grid, cv=3)
    search.fit(X, y)
    assert len(search.cv_results_["params"]) == 4
    assert search.best_params_["hidden"] == 6  # one unit cannot fit a 3-unit teacher
    best = search.best_estimator_
    assert best.hidden == search.best_params_["hidden"] and best.n_iter_ >= 1
    assert best.negative_slope == search.best_params_["negative_slope"]
    assert np.all(np.isfinite(search.cv_results_["mean_test_score"]))


def test_grid_search_classifier_scores_with_decision_function():
    from sklearn.calibration import CalibratedClassifierCV

    X, y = classification_data(12, n=60, n_classes=2)
    search = GridSearchCV(AnalyticReLUClassifier(max_iter=5, random_state=0),
                          {"hidden": [2, 4]}, cv=3, scoring="roc_auc").fit(X, y)
    assert search.best_score_ > 0.8
    calibrated = CalibratedClassifierCV(AnalyticReLUClassifier(hidden=4, max_iter=5,
                                                               random_state=0), cv=3)
    proba = calibrated.fit(X, y).predict_proba(X)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)


# --- array-API dispatch ------------------------------------------------------------------


def test_torch_input_without_dispatch_becomes_numpy():
    torch = pytest.importorskip("torch")
    X, y = classification_data(13)
    Xt = torch.asarray(X, dtype=torch.float32)
    clf = AnalyticReLUClassifier(hidden=3, max_iter=3, random_state=0).fit(Xt, torch.asarray(y))
    assert isinstance(clf.network_.W, np.ndarray) and isinstance(clf.classes_, np.ndarray)
    labels = clf.predict(Xt)
    assert isinstance(labels, np.ndarray)
    ref = AnalyticReLUClassifier(hidden=3, max_iter=3, random_state=0).fit(
        X.astype(np.float32), y)
    np.testing.assert_array_equal(labels, ref.predict(X.astype(np.float32)))


def _namespace(name):
    if name == "torch":
        from array_api_compat import torch as xp
    else:
        xp = pytest.importorskip(name)
    return xp


@needs_array_api
@pytest.mark.parametrize("name", ["torch", "array_api_strict"])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_array_api_regressor_keeps_namespace_and_dtype(name, dtype):
    xp = _namespace(name)
    X, Y = regression_data(14, k=2)
    Xx = xp.asarray(X.astype(dtype))
    Yx = xp.asarray(Y)  # float64 targets: cast to X's dtype
    with sklearn.config_context(array_api_dispatch=True):
        reg = AnalyticReLURegressor(hidden=4, max_iter=3, random_state=0).fit(Xx, Yx)
        pred = reg.predict(Xx)
        score = reg.score(Xx, Yx)
    assert type(pred) is type(Xx) and pred.dtype == getattr(xp, dtype)
    assert type(reg.network_.W) is type(Xx) and isinstance(score, float)
    # The thin wrapper: fit on the same arrays (y cast to X's dtype), same seed.
    expected = relu_altmin.fit(Xx, xp.astype(Yx, getattr(xp, dtype)), 4, max_iter=3,
                               seed=0, l2="auto").network.predict(Xx)
    np.testing.assert_array_equal(to_numpy(pred), to_numpy(expected))
    # And NumPy's answer, to rounding (3 iterations: the paths have not parted at a kink).
    ref = AnalyticReLURegressor(hidden=4, max_iter=3, random_state=0).fit(X.astype(dtype), Y)
    tol = 1e-9 if dtype == "float64" else 1e-4
    np.testing.assert_allclose(to_numpy(pred), ref.predict(X.astype(dtype)), rtol=tol, atol=tol)


@needs_array_api
@pytest.mark.parametrize("name", ["torch", "array_api_strict"])
def test_array_api_classifier_keeps_namespace(name):
    xp = _namespace(name)
    X, y = classification_data(15, n_classes=3)
    Xx, yx = xp.asarray(X.astype("float32")), xp.asarray(10 * y + 1)
    with sklearn.config_context(array_api_dispatch=True):
        clf = AnalyticReLUClassifier(hidden=4, max_iter=3, random_state=0).fit(Xx, yx)
        labels, scores = clf.predict(Xx), clf.decision_function(Xx)
    assert type(labels) is type(Xx) and labels.dtype == yx.dtype
    assert type(clf.classes_) is type(Xx) and scores.dtype == xp.float32
    np.testing.assert_array_equal(to_numpy(clf.classes_), [1, 11, 21])
    ref = AnalyticReLUClassifier(hidden=4, max_iter=3, random_state=0).fit(
        X.astype("float32"), 10 * y + 1)
    np.testing.assert_array_equal(to_numpy(labels), ref.predict(X.astype("float32")))


@needs_array_api
def test_array_api_string_labels_with_torch_inputs():
    """Labels no array library but NumPy can hold stay NumPy; the scores follow X."""
    torch = pytest.importorskip("torch")
    X, y = classification_data(16, n_classes=3)
    labels = np.array(["a", "b", "c"])[y]
    Xt = torch.asarray(X)
    with sklearn.config_context(array_api_dispatch=True):
        clf = AnalyticReLUClassifier(hidden=4, max_iter=3, random_state=0).fit(Xt, labels)
        predicted, scores = clf.predict(Xt), clf.decision_function(Xt)
    assert isinstance(clf.classes_, np.ndarray) and isinstance(scores, torch.Tensor)
    np.testing.assert_array_equal(predicted, clf.classes_[np.argmax(scores.numpy(), axis=1)])


@needs_array_api
def test_array_api_predict_in_another_namespace_raises():
    torch = pytest.importorskip("torch")
    X, y = regression_data(17)
    with sklearn.config_context(array_api_dispatch=True):
        reg = AnalyticReLURegressor(hidden=2, max_iter=2).fit(torch.asarray(X), torch.asarray(y))
        with pytest.raises(ValueError, match=r"AnalyticReLURegressor\.predict\(\) must use the "
                                             "same namespace"):
            reg.predict(X)
    with pytest.raises(ValueError, match="array_api_dispatch"):
        reg.predict(torch.asarray(X))  # converted to NumPy without dispatch
