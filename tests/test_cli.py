"""The command line: fit, predict, demo and bench; progress, --json, --plot and one-line errors."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import relu_altmin
from relu_altmin.cli import (
    Progress,
    _commands,
    _files,
    _training,
    build_parser,
    main,
    save_network,
)

PREFIX = "relu-altmin {}: error: "
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def make_table(rows: int = 40, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((rows, 3))
    return X, np.maximum(X @ np.array([1.0, -1.0, 0.5]), 0.0)


@pytest.fixture
def table(tmp_path):
    X, y = make_table()
    return tmp_path, X, y


@pytest.fixture
def csv_file(table):
    tmp, X, y = table
    np.savetxt(tmp / "d.csv", np.c_[X, y], delimiter=",", header="a,b,c,y", comments="")
    return tmp / "d.csv"


def one_error_line(err: str, command: str) -> str:
    """The single stderr line of a failed command (asserting there is exactly one)."""
    assert "Traceback" not in err
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(PREFIX.format(command)), err
    return lines[0]


def entry_point() -> str:
    """The installed ``relu-altmin`` script next to this interpreter."""
    script = Path(sys.executable).parent / "relu-altmin"
    if not script.exists():
        pytest.skip("the relu-altmin entry point is not installed in this environment")
    return str(script)


def quiet_env() -> dict[str, str]:
    return {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}


# ---------------------------------------------------------------------------------------------
# The commands and their existing options


def test_demo_prints_progress_mse_residuals_and_adam(capsys):
    assert main(["demo", "--max-iter", "3"]) == 0
    out, err = capsys.readouterr()
    assert [line.split()[2] for line in err.splitlines() if line.startswith("fit  iter")] \
        == ["1/3", "2/3", "3/3"]
    assert err.count("adam lr ") == 4 * 11  # every 200th of 2000 epochs, and the stop line
    assert "final training MSE" in out and "critical-point residuals: W" in out
    X, y = relu_altmin.load_diabetes()
    result = relu_altmin.fit(X, y, 32, negative_slope=0.1, max_iter=3, seed=0)
    assert f"{result.loss:.6g}" in out
    start = relu_altmin.fit(X, y, 32, negative_slope=0.1, max_iter=0, seed=0).network
    adam = min(relu_altmin.baselines.train(X, y, 32, method="adam", lr=lr, epochs=2000,
                                           negative_slope=0.1, l2=result.l2, init=start).loss
               for lr in (1e-3, 3e-3, 1e-2, 3e-2))
    assert "side by side" in out and f"{adam:12.6g}" in out
    assert "relu-altmin did not reach Adam's training MSE" in out


@pytest.mark.parametrize("step, solver", [("joint", "auto"), ("damped", "dense"),
                                          ("exact", "cg"), ("joint", "cg")])
def test_fit_passes_the_step_and_solver(csv_file, table, capsys, step, solver):
    tmp, X, y = table
    out = tmp / "net.npz"
    assert main(["fit", str(csv_file), "--hidden", "4", "--max-iter", "4", "--quiet",
                 "--step", step, "--solver", solver, "--out", str(out), "--json"]) == 0
    expected = relu_altmin.fit(X, y, 4, max_iter=4, seed=0, step=step, solver=solver)
    with np.load(out) as saved:
        np.testing.assert_array_equal(saved["W"], expected.network.W)
    document = json.loads(capsys.readouterr().out)
    assert document["solver"] == expected.solver
    assert document["step"] == step


@pytest.mark.parametrize("form", ["csv-header", "csv", "csv-comment", "npy"])
def test_fit_then_predict_round_trips(table, capsys, form):
    tmp, X, y = table
    if form == "npy":
        np.save(tmp / "X.npy", X)
        np.save(tmp / "y.npy", y)
        args = [str(tmp / "X.npy"), "--targets", str(tmp / "y.npy")]
    else:
        header = {"csv-header": "a,b,c,y", "csv": "", "csv-comment": "a,b,c,y"}[form]
        comments = "# " if form == "csv-comment" else ""
        np.savetxt(tmp / "d.csv", np.c_[X, y], delimiter=",", header=header, comments=comments)
        args = [str(tmp / "d.csv")]
    out = tmp / "net.npz"
    assert main(["fit", *args, "--hidden", "4", "--max-iter", "5", "--quiet",
                 "--out", str(out)]) == 0
    assert f"network written to {out}" in capsys.readouterr().out
    expected = relu_altmin.fit(X, y, 4, max_iter=5, seed=0).network.predict(X)
    np.save(tmp / "Xin.npy", X)
    assert main(["predict", str(out), str(tmp / "Xin.npy"), "--out", str(tmp / "p.npy")]) == 0
    np.testing.assert_allclose(np.load(tmp / "p.npy"), expected, rtol=1e-12, atol=1e-12)
    assert main(["predict", str(out), str(tmp / "Xin.npy"), "--out", str(tmp / "p.csv")]) == 0
    np.testing.assert_array_equal(np.loadtxt(tmp / "p.csv", delimiter=","), expected)
    capsys.readouterr()
    assert main(["predict", str(out), str(tmp / "Xin.npy")]) == 0
    printed = np.loadtxt(capsys.readouterr().out.splitlines(), delimiter=",")
    np.testing.assert_allclose(printed, expected, rtol=1e-15, atol=1e-15)


def test_fit_several_targets_and_predict_json(table, capsys):
    tmp, X, y = table
    Y = np.c_[y, -y]
    np.savetxt(tmp / "d.csv", np.c_[X, Y], delimiter=",")
    out = tmp / "net.npz"
    assert main(["fit", str(tmp / "d.csv"), "--n-targets", "2", "--hidden", "3",
                 "--max-iter", "2", "--quiet", "--out", str(out)]) == 0
    expected = relu_altmin.fit(X, Y, 3, max_iter=2, seed=0).network.predict(X)
    np.savetxt(tmp / "X.csv", X, delimiter=",")
    capsys.readouterr()
    assert main(["predict", str(out), str(tmp / "X.csv"), "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["n_outputs"] == 2 and document["n_samples"] == 40
    np.testing.assert_array_equal(np.array(document["predictions"]), expected)
    assert main(["predict", str(out), str(tmp / "X.csv"), "--json", "--out",
                 str(tmp / "p.npy")]) == 0
    out_text = capsys.readouterr().out
    assert out_text.count("\n") == 1 and json.loads(out_text)["out"] == str(tmp / "p.npy")
    np.testing.assert_array_equal(np.load(tmp / "p.npy"), expected)


# ---------------------------------------------------------------------------------------------
# Progress


def test_progress_without_a_terminal_is_one_line_per_iteration(csv_file, table, capsys):
    tmp, X, y = table
    assert main(["fit", str(csv_file), "--hidden", "4", "--max-iter", "4",
                 "--out", str(tmp / "n.npz")]) == 0
    out, err = capsys.readouterr()
    history = relu_altmin.fit(X, y, 4, max_iter=4, seed=0).history
    lines = err.splitlines()
    assert "\r" not in err and len(lines) == 5
    for line, record in zip(lines[:-1], history[1:], strict=True):
        assert line.startswith(f"fit  iter {record.iteration}/4  loss {record.loss:.6e}  "
                               f"flips {record.pattern_flips:>6d}")
        assert line.endswith(" s")
    assert lines[-1].startswith("fit  stopped: max_iter after 4 iterations")
    assert "fit  " not in out  # progress never goes to standard output


def test_quiet_turns_progress_off(csv_file, tmp_path, capsys):
    assert main(["fit", str(csv_file), "--hidden", "2", "--max-iter", "3", "--quiet",
                 "--out", str(tmp_path / "n.npz")]) == 0
    assert capsys.readouterr().err == ""


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_on_a_terminal_redraws_one_line(csv_file, tmp_path, capsys, monkeypatch):
    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    monkeypatch.setenv("COLUMNS", "120")
    assert main(["fit", str(csv_file), "--hidden", "4", "--max-iter", "6",
                 "--out", str(tmp_path / "n.npz")]) == 0
    err = terminal.getvalue()
    bar, stopped, rest = err.split("\n")
    assert rest == "" and stopped.startswith("fit  stopped: max_iter after 6 iterations")
    assert bar.startswith("\rfit  [") and bar.count("\r") >= 2
    final = bar.rsplit("\r", 1)[1]
    assert "[" + "#" * 20 + "]  iter 6/6  loss " in final
    assert "final training MSE" in capsys.readouterr().out


def test_progress_redraw_erases_a_longer_line(monkeypatch):
    monkeypatch.setenv("COLUMNS", "100")
    terminal = Terminal()
    bar = Progress(3, "fit", stream=terminal, min_interval=0.0)
    bar(relu_altmin.IterationRecord(1, 0.5, 0.25, 12.0, 1.0, 12345678, 0.1, 0.1))
    bar(relu_altmin.IterationRecord(2, 0.25, 0.1, 1.0, 1.0, 3, 0.1, 0.1))
    assert "\n" not in terminal.getvalue()
    first, second = terminal.getvalue().split("\r")[1:]
    assert "iter 1/3" in first and "flips 12345678" in first
    assert "iter 2/3" in second and second.endswith("  ") and len(second) == len(first)
    assert len(first) <= 99


@given(total=st.integers(0, 30), every=st.integers(1, 12), data=st.data())
def test_plain_progress_prints_every_kth_and_the_last(total, every, data):
    ran = data.draw(st.integers(0, total), label="iterations run")
    stream = io.StringIO()
    history = [relu_altmin.IterationRecord(i, 1.0 / (i + 1), 0.0, 0.01 * i, 1.0, i, 0.0, 0.0)
               for i in range(ran + 1)]
    result = relu_altmin.FitResult(None, history[-1].loss, tuple(history), False, "callback",
                                   0.0, {})
    with Progress(total, "run", stream=stream, tty=False, every=every) as bar:
        for record in history[1:]:
            assert bar(record, None) is False
        bar.finish(result)
    lines = stream.getvalue().splitlines()
    shown = [int(line.split()[2].split("/")[0]) for line in lines[:-1]]
    expected = [i for i in range(1, ran + 1) if i % every == 0 or i == total]
    if ran and (not expected or expected[-1] != ran):
        expected.append(ran)
    assert shown == expected
    assert lines[-1] == (f"run  stopped: callback after {ran} iterations, loss "
                         f"{history[-1].loss:.6e}, {history[-1].seconds:.2f} s")


# ---------------------------------------------------------------------------------------------
# --json


@settings(max_examples=15)
@given(max_iter=st.integers(0, 30), hidden=st.integers(1, 3),
       step=st.sampled_from(["joint", "damped", "exact"]), slope=st.sampled_from([0.0, 0.2]),
       reinit=st.booleans(), quiet=st.booleans(),
       l2=st.sampled_from([None, "auto", "auto_1se", 0.01]))
def test_fit_json_parses_and_matches_fit(tmp_path, max_iter, hidden, step, slope, reinit,
                                         quiet, l2):
    X, y = make_table(rows=25, seed=1)
    np.save(tmp_path / "X.npy", X)
    np.save(tmp_path / "y.npy", y)
    stdout, stderr = io.StringIO(), io.StringIO()
    argv = ["fit", str(tmp_path / "X.npy"), "--targets", str(tmp_path / "y.npy"), "--hidden",
            str(hidden), "--max-iter", str(max_iter), "--step", step, "--negative-slope",
            str(slope), "--out", str(tmp_path / "n.npz"), "--json"] + ["--quiet"] * quiet \
        + ["--no-reinit"] * (not reinit) + ([] if l2 is None else ["--l2", str(l2)])
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(sys, "stdout", stdout)
        patch.setattr(sys, "stderr", stderr)
        assert main(argv) == 0
    text = stdout.getvalue()
    assert text.endswith("\n") and text.count("\n") == 1
    document = json.loads(text)
    assert len(document["history"]) == document["iterations"] + 1
    result = relu_altmin.fit(X, y, hidden, negative_slope=slope, max_iter=max_iter, seed=0,
                             step=step, reinit=reinit, l2=l2)
    assert document["reinit"] is reinit
    assert document["loss"] == result.loss and document["iterations"] == result.n_iter
    assert document["stop_reason"] == result.stop_reason
    assert document["residuals"] == result.residuals and document["l2"] == result.l2
    assert [r["loss"] for r in document["history"]] == [r.loss for r in result.history]
    assert [r["pattern_flips"] for r in document["history"]] \
        == [r.pattern_flips for r in result.history]
    assert [r["reinit_unit"] for r in document["history"]] \
        == [r.reinit_unit for r in result.history]
    assert document["seconds"] == document["history"][-1]["seconds"] >= 0
    assert document["network"] == str(tmp_path / "n.npz")
    progress = stderr.getvalue().splitlines()
    assert progress == [] if quiet else len(progress) == document["iterations"] + 1


def test_bench_json_matches_fit_and_adam(table, capsys):
    tmp, X, y = table
    np.savetxt(tmp / "d.csv", np.c_[X, y], delimiter=",")
    assert main(["bench", str(tmp / "d.csv"), "--hidden", "4", "--negative-slope", "0",
                 "--max-iter", "8", "--epochs", "40", "--lr", "0.01", "0.1", "--json"]) == 0
    out, err = capsys.readouterr()
    document = json.loads(out)
    result = relu_altmin.fit(X, y, 4, max_iter=8, seed=0)
    start = relu_altmin.fit(X, y, 4, max_iter=0, seed=0).network
    adam = {lr: relu_altmin.baselines.train(X, y, 4, method="adam", lr=lr, epochs=40,
                                            l2=result.l2, init=start).loss for lr in (0.01, 0.1)}
    assert document["fit"]["loss"] == result.loss
    assert len(document["fit"]["history"]) == document["fit"]["iterations"] + 1
    assert {run["lr"]: run["loss"] for run in document["adam"]["runs"]} == adam
    best = min(adam, key=adam.get)
    assert document["adam"]["best_lr"] == best and document["adam"]["best_loss"] == adam[best]
    reached = next(r for r in result.history if r.loss <= adam[best])
    assert document["adam"]["fit_iterations_to_best"] == reached.iteration
    assert document["data"] == {"source": str(tmp / "d.csv"), "n_samples": 40,
                                "n_features": 3, "n_targets": 1}
    assert "adam lr 0.01  epoch 40/40" in err and "adam lr 0.1  stopped" in err


def test_bench_table_on_the_embedded_data(capsys):
    assert main(["bench", "--max-iter", "15", "--epochs", "50", "--lr", "0.003", "0.03",
                 "--quiet"]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    lines = out.splitlines()
    assert lines[0].startswith("data: diabetes (embedded, standardised): 442 samples, 10 "
                               "features")
    rows = [line.split() for line in lines if line.startswith("  relu-altmin fit")
            or line.startswith("  Adam ")]
    assert [row[0] for row in rows] == ["relu-altmin", "Adam", "Adam"]
    X, y = relu_altmin.load_diabetes()
    fit_loss = relu_altmin.fit(X, y, 32, negative_slope=0.1, max_iter=15, seed=0).loss
    assert f"{fit_loss:.6g}" == rows[0][-2]
    assert sum(line.endswith(" *") for line in lines) == 1
    assert "relu-altmin reached Adam's training MSE after" in out


def test_bench_needs_no_torch(table):
    tmp, X, y = table
    np.savetxt(tmp / "d.csv", np.c_[X, y], delimiter=",")
    code = ("import sys\n"
            "class Block:\n"
            "    def find_spec(self, name, path=None, target=None):\n"
            "        if name.split('.')[0] == 'torch':\n"
            "            raise ImportError('torch is blocked')\n"
            "sys.meta_path.insert(0, Block())\n"
            "from relu_altmin.cli import main\n"
            f"sys.exit(main(['bench', {str(tmp / 'd.csv')!r}, '--hidden', '3', '--max-iter',"
            " '3', '--epochs', '5', '--lr', '0.01', '--json', '--quiet']))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=quiet_env(), timeout=120)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["adam"]["runs"][0]["epochs"] == 5


# ---------------------------------------------------------------------------------------------
# --plot


def assert_png(path: Path) -> None:
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE and data[12:16] == b"IHDR"
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert width > 100 and height > 100
    image = pytest.importorskip("matplotlib.image").imread(path)
    assert image.shape[:2] == (height, width) and image.std() > 0


@pytest.mark.parametrize("command", ["fit", "bench", "demo"])
def test_plot_writes_a_png(csv_file, tmp_path, capsys, command):
    pytest.importorskip("matplotlib")
    plot = tmp_path / "loss.png"
    argv = {"fit": ["fit", str(csv_file), "--out", str(tmp_path / "n.npz")],
            "bench": ["bench", str(csv_file), "--epochs", "20", "--lr", "0.01"],
            "demo": ["demo", "--no-adam"]}[command]
    assert main([*argv, "--hidden", "3", "--max-iter", "4", "--quiet", "--plot",
                 str(plot)]) == 0
    assert_png(plot)


def test_plot_without_matplotlib_fails_before_training(csv_file, tmp_path, capsys,
                                                       monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    out = tmp_path / "n.npz"
    assert main(["fit", str(csv_file), "--max-iter", "3", "--out", str(out), "--plot",
                 str(tmp_path / "p.png")]) == 2
    stdout, err = capsys.readouterr()
    line = one_error_line(err, "fit")
    assert "needs matplotlib" in line and "pip install matplotlib" in line
    assert stdout == "" and not out.exists() and not (tmp_path / "p.png").exists()


@pytest.mark.parametrize("plot, words", [("p.xyz", "cannot write 'xyz' files"),
                                         ("missing/p.png", "does not exist"),
                                         (".", "is a directory")])
def test_plot_path_is_checked_before_training(csv_file, tmp_path, capsys, plot, words):
    pytest.importorskip("matplotlib")
    target = tmp_path / plot if plot != "." else tmp_path
    assert main(["fit", str(csv_file), "--out", str(tmp_path / "n.npz"), "--plot",
                 str(target)]) == 2
    stdout, err = capsys.readouterr()
    assert words in one_error_line(err, "fit") and stdout == ""


# ---------------------------------------------------------------------------------------------
# One-line errors


def write(path: Path, content) -> None:
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)


@pytest.mark.parametrize("name, content, words", [
    ("d.csv", None, "no such file"),
    ("dir.csv", "DIR", "is a directory"),
    ("d.csv", "", "empty file"),
    ("d.csv", "\n  \n# only a comment\n", "empty file"),
    ("d.csv", "a,b,y\n", "has a header row (line 1) but no data rows"),
    ("d.csv", "a,b\n1,x\n", "line 2, column 2: 'x' is not a number"),
    ("d.csv", "1,2,3\n4,,6\n", "line 2, column 2 is empty"),
    ("d.csv", "1,2,3\n4,5\n", "line 2 has 2 fields but line 1 has 3"),
    ("d.csv", "a,b,c\n1,2\n3,4\n", "the header (line 1) has 3 fields but the data rows have 2"),
    ("d.csv", "1,nan\n2,3\n", "line 1, column 2 is nan (NaN and inf are not allowed)"),
    ("d.csv", "a,b\n1,2\n3,-inf\n", "line 3, column 2 is -inf"),
    ("d.csv", b"\xff\xfe1,2\n", "not a UTF-8 text file"),
    ("d.csv", "1\n2\n", "needs more than 1 column(s)"),
    ("d.npy", b"garbage", "not a .npy file (no NumPy header)"),
    ("d.npy", b"", "empty file"),
    ("d.npy", b"\x93NUMPY\x01\x00garbage", "not a readable .npy array (ValueError: "),
    ("d.npy", np.array([1, None]), "not a readable .npy array (ValueError: "),
    ("d.npy", np.array([[1.0, np.inf]]), "row 1, column 2 is inf"),
    ("d.npy", np.zeros((2, 2, 2)), "expected a 1-D or 2-D array"),
    ("d.npy", np.array([1 + 2j, 3j]), "expected real numbers, got dtype complex128"),
    ("d.npy", np.zeros((0, 3)), "empty array"),
    ("d.npy", np.array(["a", "b"]), "expected real numbers"),
    ("d.npy", "ZIP", "not a .npy array (it is an .npz archive)"),
    ("d.xlsx", "1,2\n", "unknown file type '.xlsx'; expected .csv, .txt, .npy"),
    ("data", "1,2\n", "unknown file type '(no extension)'"),
])
def test_fit_file_errors_are_one_line(tmp_path, capsys, name, content, words):
    path = tmp_path / name
    if isinstance(content, np.ndarray):
        np.save(path, content)
    elif content == "DIR":
        path.mkdir()
    elif content == "ZIP":
        np.savez(tmp_path / "d.npz", a=np.zeros(2))
        (tmp_path / "d.npz").rename(path)
    elif content is not None:
        write(path, content)
    out = tmp_path / "n.npz"
    assert main(["fit", str(path), "--max-iter", "2", "--out", str(out)]) == 2
    stdout, err = capsys.readouterr()
    line = one_error_line(err, "fit")
    assert line.startswith(f"relu-altmin fit: error: {path}: ") and words in line
    assert stdout == "" and not out.exists() and stdout == "" and not out.exists()


def test_targets_errors(table, capsys):
    tmp, X, y = table
    np.save(tmp / "X.npy", X)
    np.save(tmp / "y.npy", y[:-1])
    assert main(["fit", str(tmp / "X.npy"), "--targets", str(tmp / "y.npy")]) == 2
    assert "has 39 rows but" in one_error_line(capsys.readouterr().err, "fit")
    np.save(tmp / "y.npy", np.where(np.arange(40) == 7, np.nan, y))
    assert main(["fit", str(tmp / "X.npy"), "--targets", str(tmp / "y.npy")]) == 2
    assert "row 8, column 1 is nan" in one_error_line(capsys.readouterr().err, "fit")
    assert main(["fit", str(tmp / "X.npy"), "--targets", str(tmp / "y.npy"), "--n-targets",
                 "2"]) == 2
    assert "--n-targets is for targets inside DATA" in one_error_line(
        capsys.readouterr().err, "fit")


def network_archives(tmp: Path, X: np.ndarray) -> dict[str, tuple[Path, str]]:
    """Files that are not relu-altmin networks, and the words of their errors."""
    net = relu_altmin.fit(X[:, :2], X[:, 2], 2, max_iter=1, seed=0).network
    cases = {}
    (tmp / "junk.npz").write_bytes(b"not a zip")
    cases["junk"] = (tmp / "junk.npz", "not a relu-altmin network (not an .npz archive)")
    (tmp / "empty.npz").write_bytes(b"")
    cases["empty"] = (tmp / "empty.npz", "(not an .npz archive: empty file)")
    np.savez(tmp / "other.npz", a=np.zeros(3))
    cases["other"] = (tmp / "other.npz", "missing W, V, negative_slope, skip")
    np.savez(tmp / "nan.npz", W=np.full((2, 3), np.nan), V=np.ones(2),
             negative_slope=np.float64(0.0), skip=np.bool_(False))
    cases["nan"] = (tmp / "nan.npz", "not a relu-altmin network (W")
    np.savez(tmp / "shape.npz", W=np.ones((2, 3)), V=np.ones(5),
             negative_slope=np.float64(0.0), skip=np.bool_(False))
    cases["shape"] = (tmp / "shape.npz", "V must have shape")
    np.savez(tmp / "slope.npz", W=np.ones((2, 3)), V=np.ones(2),
             negative_slope=np.float64(2.0), skip=np.bool_(False))
    cases["slope"] = (tmp / "slope.npz", "negative_slope must be in [0, 1)")
    np.save(tmp / "array.npy", X)
    (tmp / "array.npy").rename(tmp / "array.npz")
    cases["npy"] = (tmp / "array.npz", "a .npy array, not an .npz archive")
    save_network(net, tmp / "net.npz")
    data = (tmp / "net.npz").read_bytes()
    (tmp / "cut.npz").write_bytes(data[: len(data) // 2])
    cases["truncated"] = (tmp / "cut.npz", "not a relu-altmin network")
    (tmp / "net.txt").write_bytes(data)
    cases["suffix"] = (tmp / "net.txt", "expected an .npz network")
    cases["missing"] = (tmp / "none.npz", "no such file")
    return cases


def test_predict_errors_are_one_line(table, capsys):
    tmp, X, _ = table
    np.save(tmp / "X.npy", X)
    for path, words in network_archives(tmp, X).values():
        assert main(["predict", str(path), str(tmp / "X.npy")]) == 2
        stdout, err = capsys.readouterr()
        assert words in one_error_line(err, "predict") and stdout == ""
    assert main(["predict", str(tmp / "net.npz"), str(tmp / "X.npy")]) == 2
    assert "has 3 columns but the network takes 2" in one_error_line(
        capsys.readouterr().err, "predict")
    np.save(tmp / "X2.npy", np.where(X[:, :2] > 1, np.nan, X[:, :2]))
    assert main(["predict", str(tmp / "net.npz"), str(tmp / "X2.npy")]) == 2
    assert "(NaN and inf are not allowed)" in one_error_line(capsys.readouterr().err, "predict")
    np.save(tmp / "X2.npy", X[:, :2])
    assert main(["predict", str(tmp / "net.npz"), str(tmp / "X2.npy"), "--out",
                 str(tmp / "p.parquet")]) == 2
    assert "expected a file ending in .csv or .txt or .npy" in one_error_line(
        capsys.readouterr().err, "predict")


def test_output_errors(csv_file, tmp_path, capsys, monkeypatch):
    (tmp_path / "dir.npz").mkdir()
    for out, words in [("n.npy", "expected a file ending in .npz"),
                       ("missing/n.npz", "does not exist"), ("dir.npz", "is a directory")]:
        assert main(["fit", str(csv_file), "--out", str(tmp_path / out)]) == 2
        stdout, err = capsys.readouterr()
        assert words in one_error_line(err, "fit") and stdout == ""

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(_commands, "save_network", refuse)
    assert main(["fit", str(csv_file), "--max-iter", "1", "--quiet", "--out",
                 str(tmp_path / "n.npz")]) == 1
    assert "cannot write (Permission denied)" in one_error_line(capsys.readouterr().err, "fit")


def test_every_training_option_reaches_fit(csv_file):
    """``fit_options`` takes each training option of the command line into ``fit``'s options;
    ``--init``'s network is the start (its path is not)."""
    from relu_altmin._options import FitOptions

    argv = ["--hidden", "3", "--negative-slope", "0.25", "--max-iter", "7", "--seed", "5",
            "--step", "exact", "--no-reinit", "--solver", "cg", "--l2", "auto",
            "--no-standardize", "--n-jobs", "-2"]
    expected = FitOptions(hidden=3, negative_slope=0.25, max_iter=7, seed=5, step="exact",
                          reinit=False, solver="cg", l2="auto", standardize=False, n_jobs=-2)
    for command in (["fit", str(csv_file)], ["bench"], ["demo"]):
        args = build_parser().parse_args(command + argv)
        assert _training.fit_options(args) == expected, command
    args = build_parser().parse_args(["fit", str(csv_file), "--init", "net.npz"])
    args.hidden, args.negative_slope = 2, 0.0
    assert _training.fit_options(args).init is None


def test_bad_settings(csv_file, capsys, monkeypatch):
    assert main(["fit", str(csv_file), "--negative-slope", "1.5", "--quiet"]) == 2
    assert "negative_slope must be in [0, 1)" in one_error_line(capsys.readouterr().err, "fit")
    assert main(["fit", str(csv_file), "--n-jobs", "0", "--quiet"]) == 2
    assert "n_jobs" in one_error_line(capsys.readouterr().err, "fit")
    for argv in (["fit", str(csv_file), "--hidden", "0"], ["bench", "--lr", "-1"],
                 ["bench", "--epochs", "x"], ["demo", "--step", "sideways"],
                 ["fit", str(csv_file), "--n-jobs", "two"], ["nonsense"]):
        with pytest.raises(SystemExit) as exit_:
            main(argv)
        assert exit_.value.code == 2
        err = capsys.readouterr().err
        assert err.splitlines()[-1].startswith("relu-altmin") and "Traceback" not in err

    def interrupt(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(_training, "fit_with", interrupt)
    assert main(["fit", str(csv_file)]) == 130
    assert capsys.readouterr().err == "relu-altmin fit: interrupted\n"


# ---------------------------------------------------------------------------------------------
# Properties of the readers: malformed files always give one line, never a traceback

NUMBER = st.floats(-1e6, 1e6, allow_nan=False).map(repr)
NOT_A_NUMBER = st.text(st.characters(blacklist_categories=["Cs"],
                                     blacklist_characters=",#\r\n"), min_size=1,
                       max_size=8).filter(lambda t: t.strip() and not _files._number(t))


@st.composite
def malformed_csv(draw):
    """A numeric CSV table (maybe with a header) with one defect, and the words it must give."""
    rows, cols = draw(st.integers(2, 5)), draw(st.integers(2, 4))
    cells = [[draw(NUMBER) for _ in range(cols)] for _ in range(rows)]
    header = draw(st.booleans())
    row, col = draw(st.integers(0, rows - 1)), draw(st.integers(0, cols - 1))
    defect = draw(st.sampled_from(["text", "empty", "nonfinite", "short", "long"]))
    if defect == "text":
        cells[row][col] = draw(NOT_A_NUMBER)
        words = f"column {col + 1}: "
    elif defect == "empty":
        cells[row][col] = draw(st.sampled_from(["", " ", "\t"]))
        words = f"column {col + 1} is empty"
    elif defect == "nonfinite":
        cells[row][col] = draw(st.sampled_from(["nan", "NaN", "inf", "-inf", "Infinity"]))
        words = f"column {col + 1} is {float(cells[row][col])} (NaN and inf are not allowed)"
    elif defect == "short":
        del cells[row][col]
        words = "fields but line"
    else:
        cells[row].append(draw(NUMBER))
        words = "fields but line"
    if defect in ("short", "long") and row == 0:
        words = f"line {2 + header} has {cols} fields but line {1 + header} has"
    lines = ([",".join(f"col{j}" for j in range(cols))] if header else []) \
        + [",".join(cells_row) for cells_row in cells]
    if defect in ("text", "empty", "nonfinite"):
        words = f"line {row + 1 + header}, " + words
    return "\n".join(lines) + draw(st.sampled_from(["", "\n", "\r\n"])), words


@given(case=malformed_csv())
def test_malformed_csv_is_one_line(tmp_path, case):
    content, words = case
    path = tmp_path / "bad.csv"
    path.write_bytes(content.encode())
    err = io.StringIO()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(sys, "stderr", err)
        status = main(["fit", str(path), "--hidden", "1", "--max-iter", "0", "--quiet",
                       "--out", str(tmp_path / "n.npz")])
    assert status == 2, content
    assert words in one_error_line(err.getvalue(), "fit")


@settings(max_examples=40)
@given(content=st.one_of(st.binary(max_size=64),
                         st.text(st.sampled_from("0123456789.,-+eE#nai \t\r\nx"), max_size=40)),
       suffix=st.sampled_from([".csv", ".npy"]))
def test_any_file_content_is_read_or_refused_in_one_line(tmp_path, content, suffix):
    path = tmp_path / f"data{suffix}"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    out, err = io.StringIO(), io.StringIO()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(sys, "stdout", out)
        patch.setattr(sys, "stderr", err)
        status = main(["fit", str(path), "--hidden", "1", "--max-iter", "0", "--quiet",
                       "--out", str(tmp_path / "n.npz"), "--json"])
    if status == 0:
        assert len(json.loads(out.getvalue())["history"]) == 1 and err.getvalue() == ""
    else:
        assert status == 2 and out.getvalue() == ""
        one_error_line(err.getvalue(), "fit")


@settings(max_examples=30)
@given(content=st.binary(max_size=200), keep=st.integers(0, 400))
def test_any_network_file_is_loaded_or_refused_in_one_line(tmp_path, content, keep):
    X, y = make_table(rows=10)
    net = relu_altmin.fit(X, y, 2, max_iter=0, seed=0).network
    save_network(net, tmp_path / "net.npz")
    valid = (tmp_path / "net.npz").read_bytes()
    # Random bytes, or a real archive cut short and then damaged by the random bytes.
    data = content if keep == 0 else valid[:keep] + content + valid[keep + len(content):]
    (tmp_path / "bad.npz").write_bytes(data)
    np.save(tmp_path / "X.npy", X)
    out, err = io.StringIO(), io.StringIO()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(sys, "stdout", out)
        patch.setattr(sys, "stderr", err)
        status = main(["predict", str(tmp_path / "bad.npz"), str(tmp_path / "X.npy")])
    if status != 0:
        assert status == 2 and out.getvalue() == ""
        assert "not a relu-altmin network" in one_error_line(err.getvalue(), "predict")
    else:
        assert zipfile.is_zipfile(tmp_path / "bad.npz")


# ---------------------------------------------------------------------------------------------
# The installed entry point


def test_entry_point_error_is_one_line(tmp_path):
    done = subprocess.run([entry_point(), "fit", str(tmp_path / "missing.csv")],
                          capture_output=True, text=True, env=quiet_env(), timeout=120)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr == f"relu-altmin fit: error: {tmp_path / 'missing.csv'}: no such file\n"


def test_entry_point_json_and_progress(csv_file, tmp_path):
    done = subprocess.run([entry_point(), "fit", str(csv_file), "--hidden", "3", "--max-iter",
                           "3", "--out", str(tmp_path / "n.npz"), "--json"],
                          capture_output=True, text=True, env=quiet_env(), timeout=120)
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    assert len(document["history"]) == document["iterations"] + 1 == 4
    assert [line.split()[2] for line in done.stderr.splitlines()[:3]] == ["1/3", "2/3", "3/3"]
    assert (tmp_path / "n.npz").exists()


@pytest.mark.parametrize("value", ["-1", "nan", "inf", "gcv"])
def test_bad_l2_is_refused_before_training(csv_file, capsys, value):
    with pytest.raises(SystemExit) as stop:
        main(["fit", str(csv_file), "--l2", value])
    assert stop.value.code == 2 and "--l2" in capsys.readouterr().err
