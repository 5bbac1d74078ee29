"""Mutation check: each property test must fail on a deliberately broken implementation.

Applies one mutant at a time to the source, runs the property tests that should catch it
(``test_properties.py`` and ``test_cg.py``, on the NumPy, array-api-strict and PyTorch
backends) and restores the file. Not collected by pytest;
run by hand after changing the tests or the algorithm::

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
     "theta = solve_regularised(_output_matrix(Hb, h, l2, xp), Hb.T @ Y, xp)",
     "theta = solve_regularised(_output_matrix(Hb, h, l2, xp), 1.001 * (Hb.T @ Y), xp)",
     "output_step_is_critical or fixed_point"),
    ("output ridge penalises bias", "relu_altmin/_steps.py",
     "return A + _diagonal_matrix((Hb.shape[0] * l2) * _output_penalty(Hb, h, xp), xp)",
     "return A + (Hb.shape[0] * l2 * 1e6) * xp.eye(Hb.shape[1], dtype=Hb.dtype, "
     "device=device(Hb))",
     "output_step_is_critical"),
    ("hidden coupling dropped", "relu_altmin/_steps.py",
     "G = _ridged(masked_gram(Xt, D, coupling=V @ V.T)", "G = _ridged(masked_gram(Xt, D)",
     "hidden_step or fixed_point"),
    ("hidden rhs without D", "relu_altmin/_steps.py",
     "r = xp.reshape((D * (R @ V.T)).T @ Xt, (h * dt, 1))",
     "r = xp.reshape((R @ V.T).T @ Xt, (h * dt, 1))", "hidden_step"),
    ("hidden ignores skip offset", "relu_altmin/_steps.py",
     "        R = R - (D * (Xt @ params.S.T)) @ V\n", "        pass\n",
     "hidden_step or fixed_point"),
    ("hidden ridge 100x", "relu_altmin/_steps.py",
     "coupling=V @ V.T), n * l2, xp)", "coupling=V @ V.T), 100 * n * l2, xp)", "hidden_step"),
    ("damped coupling dropped", "relu_altmin/_steps.py",
     "        G = masked_gram(Xt, D, coupling=V @ V.T)\n",
     "        G = masked_gram(Xt, D)\n", "damped_step_solves or joint_step_solves"),
    ("damped ridge 100x", "relu_altmin/_steps.py",
     "G = _ridged(G, n * l2, xp)", "G = _ridged(G, 100 * n * l2, xp)",
     "damped_step_solves or joint_step_solves"),
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
     "            A = _output_matrix(Hb, h, l2, xp)\n",
     "            A = _output_matrix(Hb, h, 0.0, xp)\n",
     "joint_step_solves"),
    ("fit ignores joint", "relu_altmin/_fit.py",
     "    joint = step == \"joint\" and train_output\n", "    joint = False\n",
     "documented_damped_step"),
    ("damped accepts rises", "relu_altmin/_fit.py",
     "        if obj < obj0:\n", "        if obj < 1.5 * obj0:\n",
     "objective_never or damped_history"),
    ("mu not carried over", "relu_altmin/_fit.py",
     "mu = max(mu * MU_SHRINK, MU_MIN)", "mu = MU_INIT", "damped_history"),
    ("backtracking accepts rises", "relu_altmin/_fit.py",
     "        if obj <= obj0:\n", "        if obj <= 2 * obj0:\n", "objective_never"),
    ("activation wrong slope", "relu_altmin/_model.py",
     "return a + (1.0 - a) * xp.astype(Z > 0, Z.dtype)",
     "return a * 0.5 + (1.0 - a) * xp.astype(Z > 0, Z.dtype)", "predict_matches"),
    ("activation not homogeneous", "relu_altmin/_model.py",
     "    H = D * Z\n", "    H = D * Z * xp.abs(Z)\n", "permuting"),
    ("float32 solved in float32", "relu_altmin/_validation.py",
     "xp.astype(X, xp.float64, copy=True), xp.astype(Y, xp.float64, copy=True)",
     "xp.astype(X, X.dtype, copy=True), xp.astype(Y, X.dtype, copy=True)", "float32"),
    ("torch-only bug", "relu_altmin/_steps.py",
     "    theta = solve_regularised(_output_matrix(Hb, h, l2, xp), Hb.T @ Y, xp)\n",
     "    theta = solve_regularised(_output_matrix(Hb, h, l2, xp), Hb.T @ Y, xp)\n"
     "    theta = theta * (1.0 + 1e-6 * ('torch' in xp.__name__))\n", "backends_agree"),
    ("cg product without coupling", "relu_altmin/_steps.py",
     "out = xp.reshape((self.D * (U @ self.V.T)).T @ self.Xt, (p,))",
     "out = xp.reshape((self.D * (U @ xp.abs(self.V).T)).T @ self.Xt, (p,))",
     "matrix_free_product"),
    ("cg joint cross term dropped", "relu_altmin/_steps.py",
     "            U = U + self.Hb @ dT\n", "            U = self.Hb @ dT + 0.0 * U\n",
     "matrix_free_product"),
    ("cg damping not diag(G)", "relu_altmin/_steps.py",
     "out = out + (n * self.l2 + mu * self.damping) * x[:p]",
     "out = out + (n * self.l2 + mu) * x[:p]", "matrix_free_product"),
    ("cg output ridge on bias", "relu_altmin/_steps.py",
     "out_T = self.Hb.T @ U + (n * self.l2) * self.penalised[:, None] * dT",
     "out_T = self.Hb.T @ U + (n * self.l2) * dT", "matrix_free_product"),
    ("cg stops early", "relu_altmin/_steps.py",
     "if float(xp.linalg.vector_norm(r)) <= rtol * b_norm:",
     "if float(xp.linalg.vector_norm(r)) <= 1e3 * rtol * b_norm:",
     "conjugate_gradients_solve or matrix_free_hidden_step"),
    ("rhs sign (both systems)", "relu_altmin/_steps.py",
     "rhs = -n * xp.reshape(grad.Wt, (-1,))", "rhs = n * xp.reshape(grad.Wt, (-1,))",
     "damped_step_solves or matrix_free"),
    ("preconditioner without coupling", "relu_altmin/_steps.py",
     "grams = coupling[:, None, None] * _unit_products(Xt, D * D, Xt, xp)",
     "grams = _unit_products(Xt, D * D, Xt, xp)", "preconditioner"),
    ("preconditioner not damped", "relu_altmin/_steps.py",
     "blocks = blocks + _diagonal_stack(mu * xp.reshape(self.damping, (h, dt)), xp)",
     "blocks = blocks + _diagonal_stack(0.0 * xp.reshape(self.damping, (h, dt)), xp)",
     "preconditioner"),
    ("auto ignores the budget", "relu_altmin/_fit.py",
     "return \"dense\" if 24 * unknowns**2 <= budget else \"cg\"",
     "return \"dense\" if 8 * unknowns**2 <= budget else \"cg\"", "memory_budget"),
    ("cg fit forms G", "relu_altmin/_fit.py",
     "    system_type = HiddenSystem if solver == \"dense\" else MatrixFreeSystem\n",
     "    system_type = HiddenSystem\n", "never_forms"),
    ("input mutated", "relu_altmin/_fit.py",
     "    xp, X64, Y = check_data(X, y)\n",
     "    xp, X64, Y = check_data(X, y)\n"
     "    if X.shape[0] > 1:\n        X[0, 0] = X[0, 0] + 1.0\n", "not_modified"),
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
