"""The command line: demo, fit, predict and their one-line errors."""

from __future__ import annotations

import numpy as np
import pytest

import relu_altmin
from relu_altmin.cli import main


@pytest.fixture
def table(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((40, 3))
    y = np.maximum(X @ np.array([1.0, -1.0, 0.5]), 0.0)
    return tmp_path, X, y


def test_demo_prints_progress_mse_residuals_and_adam(capsys):
    assert main(["demo", "--max-iter", "3"]) == 0
    out, err = capsys.readouterr()
    assert len([line for line in err.splitlines() if line.strip()[:1].isdigit()]) == 4
    assert "final training MSE" in out and "critical-point residuals: W" in out
    X, y = relu_altmin.load_diabetes()
    result = relu_altmin.fit(X, y, 32, negative_slope=0.1, max_iter=3, seed=0)
    assert f"{result.loss:.6g}" in out
    start = relu_altmin.fit(X, y, 32, negative_slope=0.1, max_iter=0, seed=0).network
    adam = min(relu_altmin.baselines.train(X, y, 32, method="adam", lr=lr, epochs=2000,
                                           negative_slope=0.1, l2=result.l2, init=start).loss
               for lr in (1e-3, 3e-3, 1e-2, 3e-2))
    assert "side by side" in out and f"{adam:12.6g}" in out


@pytest.mark.parametrize("step", ["joint", "damped", "exact"])
def test_fit_passes_the_step(table, capsys, step):
    tmp, X, y = table
    np.savetxt(tmp / "d.csv", np.c_[X, y], delimiter=",")
    out = tmp / "net.npz"
    assert main(["fit", str(tmp / "d.csv"), "--hidden", "4", "--max-iter", "4", "--quiet",
                 "--step", step, "--out", str(out)]) == 0
    expected = relu_altmin.fit(X, y, 4, max_iter=4, seed=0, step=step).network
    with np.load(out) as saved:
        np.testing.assert_array_equal(saved["W"], expected.W)


@pytest.mark.parametrize("form", ["csv-header", "csv", "npy"])
def test_fit_then_predict_round_trips(table, capsys, form):
    tmp, X, y = table
    if form == "npy":
        np.save(tmp / "X.npy", X)
        np.save(tmp / "y.npy", y)
        args = [str(tmp / "X.npy"), "--targets", str(tmp / "y.npy")]
    else:
        header = "a,b,c,y" if form == "csv-header" else ""
        np.savetxt(tmp / "d.csv", np.c_[X, y], delimiter=",", header=header, comments="")
        args = [str(tmp / "d.csv")]
    out = tmp / "net.npz"
    assert main(["fit", *args, "--hidden", "4", "--max-iter", "5", "--quiet",
                 "--out", str(out)]) == 0
    expected = relu_altmin.fit(X, y, 4, max_iter=5, seed=0).network.predict(X)
    np.save(tmp / "Xin.npy", X)
    assert main(["predict", str(out), str(tmp / "Xin.npy"), "--out", str(tmp / "p.npy")]) == 0
    np.testing.assert_allclose(np.load(tmp / "p.npy"), expected, rtol=1e-12, atol=1e-12)
    capsys.readouterr()
    assert main(["predict", str(out), str(tmp / "Xin.npy")]) == 0
    printed = np.loadtxt(capsys.readouterr().out.splitlines(), delimiter=",")
    np.testing.assert_allclose(printed, expected, rtol=1e-15, atol=1e-15)


@pytest.mark.parametrize("content, words", [
    (None, "no such file"),
    ("a,b\n1,x\n", "cannot read a numeric table"),
    ("1\n2\n", "needs more than 1 column"),
    ("1,nan\n2,3\n", "NaN or inf"),
])
def test_fit_errors_are_one_line(tmp_path, capsys, content, words):
    path = tmp_path / "d.csv"
    if content is not None:
        path.write_text(content)
    assert main(["fit", str(path), "--quiet", "--out", str(tmp_path / "n.npz")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("relu-altmin fit: error:") and words in err and "\n" not in err


def test_predict_errors_are_one_line(table, capsys):
    tmp, X, _ = table
    (tmp / "junk.npz").write_bytes(b"not a zip")
    np.save(tmp / "X.npy", X)
    assert main(["predict", str(tmp / "junk.npz"), str(tmp / "X.npy")]) == 2
    assert "not a relu-altmin network" in capsys.readouterr().err
    relu_altmin_net = relu_altmin.fit(X[:, :2], X[:, 2], 2, max_iter=1, seed=0).network
    from relu_altmin.cli import save_network

    save_network(relu_altmin_net, tmp / "net.npz")
    assert main(["predict", str(tmp / "net.npz"), str(tmp / "X.npy")]) == 2
    assert "has 3 columns but the network takes 2" in capsys.readouterr().err


def test_bad_hyperparameter_is_one_line(table, capsys):
    tmp, X, y = table
    np.savetxt(tmp / "d.csv", np.c_[X, y], delimiter=",")
    assert main(["fit", str(tmp / "d.csv"), "--negative-slope", "1.5", "--quiet"]) == 2
    assert "negative_slope must be in [0, 1)" in capsys.readouterr().err
