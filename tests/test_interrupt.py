"""Ctrl-C keeps the work: a ``KeyboardInterrupt`` during ``fit`` (or ``baselines.train``) ends
it with ``stop_reason="interrupted"``, a ``FitInterrupted`` warning and the last accepted state;
the command line writes that network and exits 130; the scikit-learn estimators stay fitted.
Also the ways to continue from a network: ``warm_start=True`` and ``relu-altmin fit --init``.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, note
from hypothesis import strategies as st
from strategies import EPS64, Problem, problems
from test_properties import assert_descends_between_reinits

import relu_altmin
from relu_altmin import _fit, _problem, baselines
from relu_altmin.cli import main

ROOT = Path(__file__).resolve().parents[1]
#: Iterations of the reference runs: enough for re-initialisations on the small problems.
MAX_ITER = 30


def run(prob: Problem, **overrides):
    # standardize=False: the checks compare with critical_point_residuals on the given data at
    # result.l2, the fit's own problem only without standardisation (test_standardize.py).
    kwargs = {"standardize": False, **prob.kwargs, "max_iter": MAX_ITER, **overrides}
    if not prob.train_output:
        kwargs["output_weights"] = prob.output_weights
    return relu_altmin.fit(prob.X, prob.y, prob.hidden, **kwargs)


@contextlib.contextmanager
def kept():
    """A ``KeyboardInterrupt`` that escapes is a test failure, not the end of the session."""
    try:
        yield
    except KeyboardInterrupt:
        pytest.fail("the KeyboardInterrupt propagated")


def interrupted(prob: Problem, **overrides):
    """``run`` that must end interrupted, with exactly one ``FitInterrupted`` warning."""
    with warnings.catch_warnings(record=True) as caught, kept():
        warnings.simplefilter("always")
        result = run(prob, **overrides)
    kinds = [w.category for w in caught]
    assert kinds.count(relu_altmin.FitInterrupted) == 1, kinds
    assert issubclass(relu_altmin.FitInterrupted, UserWarning)
    assert result.stop_reason == "interrupted" and not result.converged
    return result


def assert_prefix(result, reference) -> None:
    """``result``'s history is the start of the uninterrupted ``reference``'s."""
    assert 1 <= len(result.history) <= len(reference.history)
    pairs = zip(result.history, reference.history, strict=False)
    assert all((a.iteration, a.loss, a.objective) == (b.iteration, b.loss, b.objective)
               for a, b in pairs)


def assert_consistent(prob: Problem, result) -> None:
    """The network is the state whose loss is reported: its MSE recomputed from ``predict``
    is ``result.loss`` (to the rounding of a loss computed from sums, ``eps ||y||^2 / n``), a
    recorded loss, the one of least objective."""
    n = prob.X.shape[0]
    F = np.reshape(np.asarray(result.network.predict(prob.X)), np.shape(prob.y))
    assert np.sum((F - prob.y) ** 2) / n == pytest.approx(  # fit's MSE: (1/n) ||Y - F||^2
        result.loss, rel=1e-9, abs=64 * EPS64 * float(np.sum(prob.y**2)) / n)
    assert result.loss in {rec.loss for rec in result.history}
    assert_descends_between_reinits(prob, result)


class Raise:
    """A wrapper of ``function`` that raises ``KeyboardInterrupt`` on its ``at``-th call
    (counting only calls from a function named ``caller``, when given, through the function
    :func:`patch` installs), else passes through."""

    def __init__(self, function, at: int, caller: str | None = None) -> None:
        self.function, self.at, self.caller, self.calls = function, at, caller, 0

    def __call__(self, *args, **kwargs):
        if self.caller is None or sys._getframe(2).f_code.co_name == self.caller:
            self.calls += 1
            if self.calls == self.at:
                raise KeyboardInterrupt
        return self.function(*args, **kwargs)


# ---------------------------------------------------------------------------------------------
# fit


@given(problems(max_n=16), st.data())
def test_interrupt_in_callback_keeps_the_iterations_done(prob, data):
    reference = run(prob)
    at = data.draw(st.integers(1, reference.n_iter), label="interrupted iteration")

    def callback(record, network):
        if record.iteration == at:
            raise KeyboardInterrupt

    result = interrupted(prob, callback=callback)
    assert len(result.history) == at + 1 and result.n_iter == at
    assert_prefix(result, reference)
    assert_consistent(prob, result)


@given(st.integers(2, 4), st.integers(0, 2), st.data())
def test_interrupt_after_a_reinit_returns_the_best_state(hidden, seed, data):
    """Interrupted at an iteration that starts from a re-initialised unit and ends above the
    best objective so far, the fit returns the best state (``policy.final``), not the last."""
    X, y = relu_altmin.load_diabetes()
    reference = relu_altmin.fit(X, y, hidden, seed=seed, max_iter=60)
    history = reference.history
    above = [rec.iteration for i, rec in enumerate(history) if rec.reinit_unit >= 0
             and rec.objective > min(r.objective for r in history[:i])]
    assert above, "no re-initialisation that rose: the test needs another problem"
    at = data.draw(st.sampled_from(above), label="interrupted iteration")

    def callback(record, network):
        if record.iteration == at:
            raise KeyboardInterrupt

    with pytest.warns(relu_altmin.FitInterrupted), kept():
        result = relu_altmin.fit(X, y, hidden, seed=seed, max_iter=60, callback=callback)
    assert result.stop_reason == "interrupted" and result.n_iter == at
    least = min(result.history, key=lambda rec: rec.objective)
    assert result.loss == least.loss != result.history[-1].loss
    assert np.mean((result.network.predict(X) - y) ** 2) == pytest.approx(result.loss, rel=1e-9)


#: Where an interrupt is raised inside the loop, and the first call of each that is inside it
#: (earlier calls are the set-up: the interrupt propagates). ``len`` (only ``_alternate``'s)
#: is the moment after a record is appended and before the state is kept.
PATCHES = {
    "evaluate": (_problem.TrainingProblem, "evaluate", None, 2),
    "output_solved": (_problem.TrainingProblem, "output_solved_bounded", None, 2),
    "make_record": (_fit, "make_record", None, 2),
    "print_progress": (_fit, "_print_progress", None, 1),
    "after_append": (_fit, "len", "_alternate", 2),
}


def patch(monkeypatch, where: str, at: int) -> Raise:
    owner, name, caller, _ = PATCHES[where]
    wrapper = Raise(getattr(owner, name, len), at, caller)

    def replacement(*args, **kwargs):  # a function, so that a method stays a method
        return wrapper(*args, **kwargs)

    monkeypatch.setattr(owner, name, replacement, raising=False)
    return wrapper


@given(problems(max_n=16, allow_known_output=False), st.sampled_from(sorted(PATCHES)),
       st.data())
def test_interrupt_inside_a_step_returns_the_last_accepted_state(prob, where, data):
    progress = where == "print_progress"
    with pytest.MonkeyPatch.context() as mp:
        counter = patch(mp, where, 0)  # never raises: counts the calls of the reference run
        reference = run(prob, progress=progress)
    first = PATCHES[where][3]
    at = data.draw(st.integers(first, counter.calls), label="interrupted call")
    note(f"{where}: call {at} of {counter.calls}; reference {reference.n_iter} iterations")
    with pytest.MonkeyPatch.context() as mp:
        patch(mp, where, at)
        result = interrupted(prob, progress=progress)
    assert_prefix(result, reference)
    assert_consistent(prob, result)
    residuals = relu_altmin.critical_point_residuals(result.network, prob.X, prob.y,
                                                     l2=result.l2)
    for name, value in result.residuals.items():
        assert residuals[name] == pytest.approx(value, rel=1e-6, abs=1e-12), name


@pytest.mark.parametrize("where", ["evaluate", "output_solved", "make_record"])
def test_interrupt_before_the_first_evaluation_propagates(where, monkeypatch):
    X, y = relu_altmin.load_diabetes()
    patch(monkeypatch, where, 1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(KeyboardInterrupt):
            relu_altmin.fit(X, y, 4, seed=0, max_iter=5)


def test_interrupted_fit_prints_its_stop(capsys):
    X, y = relu_altmin.load_diabetes()

    def callback(record, network):
        if record.iteration == 2:
            raise KeyboardInterrupt

    with pytest.warns(relu_altmin.FitInterrupted, match="after 2 iterations"), kept():
        result = relu_altmin.fit(X, y, 4, seed=0, callback=callback, progress=True)
    assert result.n_iter == 2
    assert "stopped: interrupted after 2 iterations" in capsys.readouterr().err


# ---------------------------------------------------------------------------------------------
# baselines.train


@pytest.mark.parametrize("at", [1, 4])
def test_train_interrupted_in_callback(at):
    X, y = relu_altmin.load_diabetes()

    def callback(record, network):
        if record.iteration == at:
            raise KeyboardInterrupt

    with pytest.warns(relu_altmin.FitInterrupted), kept():
        result = baselines.train(X, y, 4, method="adam", lr=1e-2, epochs=10, seed=0,
                                 callback=callback)
    reference = baselines.train(X, y, 4, method="adam", lr=1e-2, epochs=10, seed=0)
    assert result.stop_reason == "interrupted" and result.n_iter == at
    assert [r.loss for r in result.history] == [r.loss for r in reference.history[:at + 1]]
    assert np.mean((result.network.predict(X) - y) ** 2) == pytest.approx(result.loss, rel=1e-9)


@pytest.mark.parametrize("at", [2, 3, 6])
def test_train_interrupted_while_recording_keeps_the_recorded_state(at, monkeypatch):
    X, y = relu_altmin.load_diabetes()
    monkeypatch.setattr(baselines, "make_record", Raise(baselines.make_record, at))
    with pytest.warns(relu_altmin.FitInterrupted), kept():
        result = baselines.train(X, y, 4, method="gd", lr=1e-2, epochs=10, seed=0)
    assert result.stop_reason == "interrupted" and result.n_iter == at - 2
    assert np.mean((result.network.predict(X) - y) ** 2) == pytest.approx(result.loss, rel=1e-9)


# ---------------------------------------------------------------------------------------------
# scikit-learn


def test_sklearn_interrupted_fit_keeps_the_network(monkeypatch):
    from relu_altmin.sklearn import AnalyticReLUClassifier, AnalyticReLURegressor

    X, y = relu_altmin.load_diabetes()
    for est, target in ((AnalyticReLURegressor(hidden=4, random_state=0), y),
                        (AnalyticReLUClassifier(hidden=4, random_state=0), y > 0)):
        with pytest.MonkeyPatch.context() as mp:
            patch(mp, "evaluate", 4)
            with pytest.warns(relu_altmin.FitInterrupted), kept():
                est.fit(X, target)
        assert est.stop_reason_ == "interrupted" and len(est.history_) == est.n_iter_ + 1 >= 2
        assert est.predict(X).shape == (X.shape[0],)
    assert np.mean((est.decision_function(X) - np.where(y > 0, 1.0, -1.0)) ** 2) \
        == pytest.approx(est.loss_, rel=1e-9)


@pytest.mark.parametrize("step", ["joint", "damped", "exact"])
@pytest.mark.parametrize("seed", [0, 1])
def test_warm_start_continues_and_clone_resets(step, seed):
    from sklearn.base import clone

    from relu_altmin.sklearn import AnalyticReLURegressor

    X, y = relu_altmin.load_diabetes()
    est = AnalyticReLURegressor(hidden=5, max_iter=3, step=step, random_state=seed,
                                warm_start=True)
    cold = AnalyticReLURegressor(hidden=5, max_iter=3, step=step, random_state=seed).fit(X, y)
    first = est.fit(X, y).loss_
    assert [r.loss for r in est.history_] == [r.loss for r in cold.history_]
    est.fit(X, y)
    assert est.history_[0].loss == pytest.approx(first, rel=1e-9)
    assert est.history_[0].loss != pytest.approx(cold.history_[0].loss, rel=1e-6)
    copy = clone(est)
    assert copy.warm_start and not hasattr(copy, "network_")
    assert copy.fit(X, y).history_[0].loss == cold.history_[0].loss
    # Another width cannot continue: a fresh start.
    est.set_params(hidden=4)
    wide = AnalyticReLURegressor(hidden=4, max_iter=3, step=step, random_state=seed).fit(X, y)
    assert est.fit(X, y).history_[0].loss == wide.history_[0].loss


def test_warm_start_false_refits_from_scratch():
    from relu_altmin.sklearn import AnalyticReLURegressor

    X, y = relu_altmin.load_diabetes()
    est = AnalyticReLURegressor(hidden=5, max_iter=3, random_state=0)
    first = [r.loss for r in est.fit(X, y).history_]
    assert [r.loss for r in est.fit(X, y).history_] == first


# ---------------------------------------------------------------------------------------------
# Command line: --init, and a real SIGINT


def test_cli_init_continues(tmp_path, capsys):
    X, y = relu_altmin.load_diabetes()
    np.savetxt(tmp_path / "d.csv", np.c_[X, y], delimiter=",")
    first, second = tmp_path / "a.npz", tmp_path / "b.npz"
    base = ["fit", str(tmp_path / "d.csv"), "--quiet", "--json", "--max-iter", "3"]
    assert main([*base, "--hidden", "5", "--negative-slope", "0.1", "--out", str(first)]) == 0
    before = json.loads(capsys.readouterr().out)
    assert main([*base, "--init", str(first), "--out", str(second)]) == 0
    after = json.loads(capsys.readouterr().out)
    assert (after["hidden"], after["negative_slope"]) == (5, 0.1)  # the network's own
    assert after["history"][0]["loss"] == pytest.approx(before["loss"], rel=1e-9)
    assert after["loss"] < before["loss"]


def test_cli_init_that_does_not_match(tmp_path, capsys):
    X, y = relu_altmin.load_diabetes()
    np.savetxt(tmp_path / "d.csv", np.c_[X, y], delimiter=",")
    np.savetxt(tmp_path / "two.csv", np.c_[X, y, y], delimiter=",")
    np.savetxt(tmp_path / "narrow.csv", np.c_[X[:, :4], y], delimiter=",")
    net = tmp_path / "a.npz"
    assert main(["fit", str(tmp_path / "d.csv"), "--quiet", "--max-iter", "1", "--hidden", "3",
                 "--out", str(net)]) == 0
    capsys.readouterr()
    cases = [
        (["narrow.csv"], "the network takes 10 features but the data has 4"),
        (["two.csv", "--n-targets", "2"],
         "the network has 1 output(s) but the data has 2 target(s)"),
        (["d.csv", "--hidden", "4"], "the network has 3 hidden units, not --hidden 4"),
    ]
    for argv, message in cases:
        out = tmp_path / "never.npz"
        argv = ["fit", str(tmp_path / argv[0]), *argv[1:], "--init", str(net), "--quiet",
                "--out", str(out)]
        assert main(argv) == 2
        assert capsys.readouterr().err == (f"relu-altmin fit: error: --init {net}: "
                                           f"{message}\n")
        assert not out.exists()
    assert main(["fit", str(tmp_path / "d.csv"), "--init", str(tmp_path / "d.csv")]) == 2
    assert "expected an .npz network" in capsys.readouterr().err


def long_data(tmp_path: Path, rows: int = 20_000) -> tuple[Path, Path]:
    """A regression problem that trains for many seconds (``--max-iter`` large)."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((rows, 8))
    y = np.maximum(X @ rng.standard_normal((8, 4)), 0.0) @ rng.standard_normal(4) \
        + 0.3 * rng.standard_normal(rows)
    np.save(tmp_path / "X.npy", X)
    np.save(tmp_path / "y.npy", y)
    return tmp_path / "X.npy", tmp_path / "y.npy"


def interrupt_when(process: subprocess.Popen, ready, timeout: float = 300.0) -> list[str]:
    """Read ``process``'s stderr until a line satisfies ``ready``, send SIGINT, and return the
    lines read then and after. A process still running after ``timeout`` seconds (its start-up
    and JIT compilation on a loaded test runner included) is killed, so that its exit status
    is not the one the tests expect: a fit that ignores SIGINT fails, it does not hang."""
    lines: list[str] = []
    timer = threading.Timer(timeout, process.kill)
    timer.start()
    try:
        for line in process.stderr:
            lines.append(line)
            if ready(line):
                process.send_signal(signal.SIGINT)
                break
        lines += process.stderr.readlines()
        process.wait()
    finally:
        timer.cancel()
    assert any(ready(line) for line in lines), "".join(lines)
    return lines


def default_sigint() -> None:
    """In the child before it starts: SIGINT's default action, so that its Python raises
    ``KeyboardInterrupt`` even where this runner ignores SIGINT (a background job of a shell
    without job control, whose children inherit the ignored signal)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def child_env() -> dict[str, str]:
    return {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1",
            "PYTHONUNBUFFERED": "1"}


@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT to a child process is POSIX")
def test_sigint_to_the_cli_writes_the_network_and_exits_130(tmp_path, capsys):
    X_path, y_path = long_data(tmp_path)
    out = tmp_path / "net.npz"
    with subprocess.Popen(
            [sys.executable, "-m", "relu_altmin.cli", "fit", str(X_path), "--targets",
             str(y_path), "--hidden", "16", "--max-iter", "100000", "--out", str(out), "--json"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=child_env(),
            cwd=ROOT, preexec_fn=default_sigint) as process:
        lines = interrupt_when(process, lambda line: line.split()[:3] == ["fit", "iter",
                                                                          "2/100000"])
        stdout = process.stdout.read()
    assert process.returncode == 130, "".join(lines)
    assert "Traceback" not in "".join(lines)
    document = json.loads(stdout)
    assert document["stop_reason"] == "interrupted" and document["iterations"] >= 2
    assert lines[-1] == (f"relu-altmin fit: interrupted after {document['iterations']} "
                         f"iterations; the network trained so far (training MSE "
                         f"{document['loss']:.6g}) was written to {out}\n")
    assert main(["predict", str(out), str(X_path), "--out", str(tmp_path / "p.npy")]) == 0
    predictions = np.load(tmp_path / "p.npy")
    assert np.mean((predictions - np.load(y_path)) ** 2) == pytest.approx(document["loss"],
                                                                          rel=1e-9)


@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT to a child process is POSIX")
def test_sigint_to_a_python_fit_returns_the_result(tmp_path):
    X_path, y_path = long_data(tmp_path)
    code = (
        "import sys, warnings, numpy as np, relu_altmin\n"
        f"X, y = np.load({str(X_path)!r}), np.load({str(y_path)!r})\n"
        "with warnings.catch_warnings(record=True) as caught:\n"
        "    warnings.simplefilter('always')\n"
        "    r = relu_altmin.fit(X, y, 16, seed=0, max_iter=100000, progress=True)\n"
        "mse = float(np.mean((r.network.predict(X) - y) ** 2))\n"
        "print(r.stop_reason, r.n_iter, len(r.history), r.loss == r.history[-1].loss,\n"
        "      abs(mse - r.loss) <= 1e-9 * r.loss,\n"
        "      [w.category.__name__ for w in caught])\n"
    )
    with subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True, env=child_env(),
                          preexec_fn=default_sigint) as process:
        lines = interrupt_when(process, lambda line: line.split()[:1] == ["3"])  # iteration 3
        stdout = process.stdout.read()
    assert process.returncode == 0, "".join(lines)
    reason, n_iter, length, rest = stdout.split(maxsplit=3)
    assert reason == "interrupted" and int(n_iter) >= 3 and int(length) == int(n_iter) + 1
    assert rest == "True True ['FitInterrupted']\n"
    assert any(line.startswith("stopped: interrupted") for line in lines)
