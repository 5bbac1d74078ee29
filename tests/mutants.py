"""Mutation check: each property test must fail on a deliberately broken implementation.

Applies one mutant at a time to the source, runs the property tests that should catch it
(``test_properties.py``, ``test_cg.py``, ``test_streaming.py`` on the NumPy,
array-api-strict and PyTorch backends, ``test_benchmark_checks.py`` and
``test_experiments.py``, ``test_escapes.py``, ``test_starts.py``) and restores the
file. Not collected by pytest; run by hand after changing the tests or the algorithm::

    python tests/mutants.py [NAME-SUBSTRING ...]
"""

from __future__ import annotations

import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent

# (name, file, original text, broken text, -k expression of the tests that must fail)
MUTANTS = [
    ("output rhs scaled", "relu_altmin/_steps.py",
     "theta = solve_regularised(_output_matrix(gram, n, h, l2, xp), rhs, xp)",
     "theta = solve_regularised(_output_matrix(gram, n, h, l2, xp), 1.001 * rhs, xp)",
     "output_step_is_critical or fixed_point"),
    ("output ridge penalises bias", "relu_altmin/_steps.py",
     "return gram + _diagonal_matrix((n * l2) * _output_penalty(gram, h, xp), xp)",
     "return gram + (n * l2 * 1e6) * xp.eye(gram.shape[1], dtype=gram.dtype, "
     "device=device(gram))",
     "output_step_is_critical"),
    ("hidden coupling dropped", "relu_altmin/_steps.py",
     "G = masked_gram(Xt, D, coupling=params.V @ params.V.T)", "G = masked_gram(Xt, D)",
     "hidden_step or fixed_point or damped_step_solves or joint_step_solves"),
    ("gradient without D", "relu_altmin/_model.py",
     "(fw.D * (E @ params.V.T)).T @ Xt", "(E @ params.V.T).T @ Xt",
     "damped_step_solves or joint_step_solves"),
    ("pre-activations ignore skip offset", "relu_altmin/_model.py",
     "return Xt @ (params.Wt if params.S is None else params.Wt + params.S).T",
     "return Xt @ params.Wt.T", "predict_matches or hidden_step"),
    ("hidden ridge 100x", "relu_altmin/_steps.py",
     "G = _ridged(G, n * l2, xp)", "G = _ridged(G, 100 * n * l2, xp)",
     "hidden_step or damped_step_solves or joint_step_solves"),
    ("damping not diag(G)", "relu_altmin/_steps.py",
     "damping = xp.linalg.diagonal(G)", "damping = 1.0 + 0.0 * xp.linalg.diagonal(G)",
     "damped_step_solves or joint_step_solves"),
    ("joint damps the output block", "relu_altmin/_steps.py",
     "diag = xp.concat([diag, xp.zeros(extra,", "diag = xp.concat([diag, mu + xp.zeros(extra,",
     "joint_step_solves"),
    ("joint cross block without V", "relu_altmin/_steps.py",
     "B = xp.reshape(V[:, None, :, None] * M[:, :, None, :], (p, k * m))",
     "B = xp.reshape(xp.abs(V[:, None, :, None]) * M[:, :, None, :], (p, k * m))",
     "joint_step_solves"),
    ("joint output rhs sign", "relu_altmin/_steps.py",
     "return xp.concat([rhs, -n * xp.reshape(grad_t.T",
     "return xp.concat([rhs, n * xp.reshape(grad_t.T",
     "joint_step_solves"),
    ("joint output ridge dropped", "relu_altmin/_steps.py",
     "            A = _output_matrix(gram, n, h, l2, xp)\n",
     "            A = _output_matrix(gram, n, h, 0.0, xp)\n",
     "joint_step_solves"),
    ("fit ignores joint", "relu_altmin/_fit.py",
     "    joint = step == \"joint\" and train_output\n", "    joint = False\n",
     "documented_damped_step"),
    ("damped accepts rises", "relu_altmin/_fit.py",
     "        if trial_state.objective < state.objective:\n",
     "        if trial_state.objective < 1.5 * state.objective:\n",
     "objective_never or damped_history"),
    ("mu not carried over", "relu_altmin/_fit.py",
     "mu = max(mu * MU_SHRINK, MU_MIN)", "mu = MU_INIT", "damped_history"),
    ("backtracking accepts rises", "relu_altmin/_fit.py",
     "        if trial_state.objective <= state.objective:\n",
     "        if trial_state.objective <= 2 * state.objective:\n", "objective_never"),
    ("activation wrong slope", "relu_altmin/_model.py",
     "return a + (1.0 - a) * xp.astype(Z > 0, Z.dtype)",
     "return a * 0.5 + (1.0 - a) * xp.astype(Z > 0, Z.dtype)", "predict_matches"),
    ("activation not homogeneous", "relu_altmin/_model.py",
     "    H = D * Z\n", "    H = D * Z * xp.abs(Z)\n", "permuting"),
    ("float32 solved in float32", "relu_altmin/_validation.py",
     "xp.astype(X, xp.float64, copy=True), xp.astype(Y, xp.float64, copy=True)",
     "xp.astype(X, X.dtype, copy=True), xp.astype(Y, X.dtype, copy=True)", "float32"),
    ("torch-only bug", "relu_altmin/_steps.py",
     "    theta = solve_regularised(_output_matrix(gram, n, h, l2, xp), rhs, xp)\n",
     "    theta = solve_regularised(_output_matrix(gram, n, h, l2, xp), rhs, xp)\n"
     "    theta = theta * (1.0 + 1e-6 * ('torch' in xp.__name__))\n", "backends_agree"),
    ("cg product without coupling", "relu_altmin/_steps.py",
     "return (D * (U @ V.T)).T @ Xt, (None if Hb is None else Hb.T @ U)",
     "return (D * (U @ (V * V).T)).T @ Xt, (None if Hb is None else Hb.T @ U)",
     "matrix_free_product"),
    ("cg joint cross term dropped", "relu_altmin/_steps.py",
     "        U = U + Hb @ dT\n", "        U = Hb @ dT + 0.0 * U\n",
     "matrix_free_product"),
    ("cg damping not diag(G)", "relu_altmin/_steps.py",
     "out = xp.reshape(out_W, (p,)) + (n * self.l2 + mu * self.damping) * x[:p]",
     "out = xp.reshape(out_W, (p,)) + (n * self.l2 + mu) * x[:p]", "matrix_free_product"),
    ("cg output ridge on bias", "relu_altmin/_steps.py",
     "out_T = out_T + (n * self.l2) * self.penalised[:, None] * dT",
     "out_T = out_T + (n * self.l2) * dT", "matrix_free_product"),
    ("cg stops early", "relu_altmin/_steps.py",
     "if float(xp.linalg.vector_norm(r)) <= rtol * b_norm:",
     "if float(xp.linalg.vector_norm(r)) <= 1e3 * rtol * b_norm:",
     "conjugate_gradients_solve or matrix_free_hidden_step"),
    ("rhs sign (both systems)", "relu_altmin/_steps.py",
     "rhs = -n * xp.reshape(grad.Wt, (-1,))", "rhs = n * xp.reshape(grad.Wt, (-1,))",
     "damped_step_solves or matrix_free"),
    ("preconditioner without coupling", "relu_altmin/_steps.py",
     "grams = xp.sum(params.V * params.V, axis=1)[:, None, None] * grams",
     "grams = 1.0 * grams", "preconditioner"),
    ("preconditioner not damped", "relu_altmin/_steps.py",
     "blocks = blocks + _diagonal_stack(mu * xp.reshape(self.damping, (h, dt)), xp)",
     "blocks = blocks + _diagonal_stack(0.0 * xp.reshape(self.damping, (h, dt)), xp)",
     "preconditioner"),
    ("auto ignores the budget", "relu_altmin/_fit.py",
     "return \"dense\" if small and 24 * unknowns**2 <= budget else \"cg\"",
     "return \"dense\" if small and 8 * unknowns**2 <= budget else \"cg\"",
     "memory_budget or auto_solver"),
    ("auto size rule off by one", "relu_altmin/_fit.py",
     "unknowns <= AUTO_DENSE_MAX_UNKNOWNS", "unknowns < AUTO_DENSE_MAX_UNKNOWNS",
     "auto_solver"),
    ("auto size rule ignores exact", "relu_altmin/_fit.py",
     "small = step == \"exact\" or unknowns", "small = unknowns", "auto_solver"),
    ("fit does not pass step to auto", "relu_altmin/_fit.py",
     "solver = choose_solver(solver, unknowns, max_dense_bytes, step)",
     "solver = choose_solver(solver, unknowns, max_dense_bytes)", "auto_solver"),
    ("cg fit forms G", "relu_altmin/_fit.py",
     "    system_type = HiddenSystem if solver == \"dense\" else MatrixFreeSystem\n",
     "    system_type = HiddenSystem\n", "never_forms"),
    ("input mutated", "relu_altmin/_rows.py",
     "        xp, X64, Y = check_data(X, y)\n",
     "        xp, X64, Y = check_data(X, y)\n"
     "        if X.shape[0] > 1:\n            X[0, 0] = X[0, 0] + 1.0\n", "not_modified"),
    ("autograd kept on the data", "relu_altmin/_validation.py",
     "    X, y = untracked(X), untracked(y)\n", "", "require_grad"),
    ("autograd kept on streamed chunks", "relu_altmin/_rows.py",
     "    X64, Y = float64_copies(X, y, xp)\n",
     "    Y = y[:, None] if y.ndim == 1 else y\n"
     "    X64, Y = xp.astype(X, xp.float64, copy=True), xp.astype(Y, xp.float64, copy=True)\n",
     "require_grad"),
    ("autograd kept on the start", "relu_altmin/_fit.py",
     "return xp.astype(untracked(Wt), xp.float64, copy=True), V, c",
     "return xp.astype(Wt, xp.float64, copy=True), V, c", "require_grad"),
    # Streaming (test_streaming.py).
    ("chunk sums keep the last chunk", "relu_altmin/_rows.py",
     "    return a + b\n", "    return b\n", "chunked or streamed"),
    ("streamed chunks skip the last row", "relu_altmin/_rows.py",
     "            stop = min(start + self.chunk_rows, self.total)\n",
     "            stop = min(start + self.chunk_rows, self.total - 1)\n",
     "chunked or sources"),
    ("memmap read whole", "relu_altmin/_rows.py",
     "self.xp, self.X, self.y, self.bias, self.chunk_rows = xp, X, y, bias, chunk_rows",
     "self.xp, self.X, self.y, self.bias, self.chunk_rows = xp, X, y, bias, X.shape[0]",
     "peak_memory"),
    # The experiments run on any array-API namespace (test_experiments.py).
    ("experiment mixes device and NumPy arrays", "benchmarks/experiments/identity_mapping.py",
     "np.linalg.norm(to_numpy(net.W) - target)", "np.linalg.norm(net.W - target)",
     "strict_array_api"),
    ("experiment data in float32 on strict", "benchmarks/experiments/_exp.py",
     "        return array_api_strict\n",
     "        import functools\n\n        array_api_strict.asarray = functools.partial(\n"
     "            array_api_strict.asarray, dtype=array_api_strict.float32)\n"
     "        return array_api_strict\n",
     "strict_array_api"),
    # The GPU kernel target's verdict (test_benchmark_checks.py).
    ("gpu target: ReLU tie passes", "benchmarks/kernels.py",
     'cuda["seconds"] < cublas["seconds"] if relu', 'cuda["seconds"] <= cublas["seconds"] if relu',
     "gpu_target"),
    ("gpu target: leaky needs parity", "benchmarks/kernels.py",
     '<= GPU_LEAKY_FACTOR * cublas["seconds"]', '<= cublas["seconds"]', "gpu_target"),
    ("gpu target: any cell counts", "benchmarks/kernels.py",
     "if not all(r[key] == value for key, value in GPU_TARGET.items()):", "if False:",
     "gpu_target"),
    ("gpu target: one backend enough", "benchmarks/kernels.py",
     "if cuda is None or cublas is None:", "if cuda is None and cublas is None:",
     "gpu_target"),
    ("busy warning ignores the cores", "benchmarks/kernels.py",
     "if load <= BUSY_LOAD_FRACTION * cores:", "if load <= BUSY_LOAD_FRACTION:", "busy_machine"),
    # The training benchmark marks time ratios between runs of different days.
    ("days never differ", "benchmarks/training.py",
     'return a.info.get("day") != b.info.get("day")', "return False", "across_days"),
    ("merge overwrites recorded days", "benchmarks/training.py",
     'r["info"].setdefault("day", report["machine"]["date"][:10])',
     'r["info"]["day"] = report["machine"]["date"][:10]', "day_of_each_run"),
    ("adam mark ignores the flag", "benchmarks/training.py",
     "{ACROSS_DAYS_MARK if c['across_days'] else ''}", "", "across_days"),
    ("budget forgets the tenth", "benchmarks/training.py",
     "budget.append(ad.seconds / 10.0 / per_iteration[-1])",
     "budget.append(ad.seconds / per_iteration[-1])", "iteration_budget"),
    ("iterations to Adam off by one", "benchmarks/training.py",
     "reached = first_index_at(a.trace, ad.train_mse)",
     "reached = first_index_at(a.trace[1:], ad.train_mse)", "iteration_budget"),
    ("budget counts whole runs", "benchmarks/training.py",
     "per_iteration.append(a.seconds / iterations)",
     "per_iteration.append(a.seconds)", "iteration_budget"),
    # The stall diagnosis of benchmarks/escapes.py (test_escapes.py).
    ("stall: minimiser without ridge", "benchmarks/escapes.py",
     "np.sqrt(l2) * np.eye(J.shape[1])", "0.0 * np.eye(J.shape[1])", "fixed_pattern_minimiser"),
    ("stall: minimiser ignores the slope", "benchmarks/escapes.py",
     "    D = pattern(X, W, b, slope)\n    J = ",
     "    D = pattern(X, W, b, 0.0)\n    J = ", "fixed_pattern_minimiser"),
    ("stall: kink threshold too wide", "benchmarks/escapes.py",
     '"on_kink": int(np.sum(ratio <= KINK_RTOL))', '"on_kink": int(np.sum(ratio <= 1e-5))',
     "counts_the_kinks"),
    # The starts of benchmarks/starts.py (test_starts.py).
    ("reinit: most useful unit", "relu_altmin/_fit.py",
     "j = int(xp.argmin(column_squares", "j = int(xp.argmax(column_squares",
     "reinit_redraws"),
    ("reinit: output layer not solved", "relu_altmin/_fit.py",
     "return _output_solved(rows, params.replace(Wt=Wt), slope, lam), j",
     "return params.replace(Wt=Wt), j", "reinit_redraws"),
    ("reinit: every row redrawn", "relu_altmin/_fit.py",
     "Wt = xp.where(redrawn[:, None], drawn[None, :], params.Wt)",
     "Wt = xp.where(redrawn[:, None] | True, drawn[None, :], params.Wt)", "reinit_redraws"),
    ("reinit: returns the last state", "relu_altmin/_fit.py",
     "    if best is not None and best[1].objective < state.objective:\n",
     "    if False:\n", "objective_never"),
    ("reinit: redraw not recorded", "relu_altmin/_fit.py",
     "0.0 if step == \"exact\" else mu, solves, work, unit))",
     "0.0 if step == \"exact\" else mu, solves, work, -1))", "objective_never or levenberg"),
    ("reinit: stops at a worse critical point", "relu_altmin/_fit.py",
     "if critical and (best is None or state.objective <= best[1].objective):",
     "if critical:", "objective_never"),
    ("reinit: mu carried over", "relu_altmin/_fit.py",
     "mu, round_start = MU_INIT, len(history)", "round_start = len(history)", "levenberg"),
    ("starts: glorot draws biases first", "benchmarks/starts.py",
     "drawn += [rs.uniform(-bound, bound, (fan_in, fan_out)), rs.uniform(-bound, bound, fan_out)]",
     "drawn += [*reversed([rs.uniform(-bound, bound, fan_out), "
     "rs.uniform(-bound, bound, (fan_in, fan_out))])]", "mlpregressors_own_start"),
    ("starts: warm start keeps its own weights", "benchmarks/training.py",
     "model.coefs_ = [start.W.T.copy(), start.V.copy()]", "pass", "mlpregressors_own_start"),
    ("starts: ridge path skips the default fit", "benchmarks/starts.py",
     "for l2 in [*l2s, None]:", "for l2 in [*l2s, *l2s[-1:]]:", "ridge_path_ends"),
    ("starts: path steps too far", "benchmarks/starts.py",
     "        l2_start *= factor\n", "        l2_start *= factor * factor\n",
     "path_l2s_descend"),
]


def main(selected: list[str]) -> int:
    escaped = 0
    for name, file, original, broken, tests in MUTANTS:
        if selected and not any(s in name for s in selected):
            continue
        path = ROOT / file
        source = path.read_text()
        if original not in source:
            print(f"{name:32s} -> STALE (the original text is gone; update the mutant)")
            escaped += 1
            continue
        path.write_text(source.replace(original, broken, 1))
        try:
            run = subprocess.run(
                [sys.executable, "-m", "pytest", "tests/test_properties.py", "tests/test_cg.py",
                 "tests/test_streaming.py", "tests/test_benchmark_checks.py",
                 "tests/test_escapes.py", "tests/test_starts.py", "tests/test_experiments.py",
                 "-q", "-x",
                 "-p", "no:cacheprovider", "-k", f"({tests}) and not cupy"],
                cwd=ROOT, capture_output=True, text=True, timeout=900)
        finally:
            path.write_text(source)
        summary = [line for line in run.stdout.splitlines() if " in " in line][-1:]
        print(f"{name:32s} -> {'caught' if run.returncode else 'NOT CAUGHT'} {summary}",
              flush=True)
        escaped += run.returncode == 0
    return 1 if escaped else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
