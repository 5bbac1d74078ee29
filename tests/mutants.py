"""Mutation check: each property test must fail on a deliberately broken implementation.

A mutant names a *function* (its qualified name, ``Class.method`` for a method) and a piece of
text inside it; the text is replaced inside that function's source only, wherever the function
lives in the repository (``relu_altmin/``, ``kernels/``, ``benchmarks/``), so refactors that
move code between files keep the net. A qualified name defined in several files is written
``path/to/file.py::qualname``. One mutant at a time is applied, the property tests that should
catch it are run (``TEST_FILES`` on the NumPy, array-api-strict and PyTorch backends, selected
by the mutant's ``-k`` expression) and the file is restored. Not collected by pytest
(``tests/test_mutants.py`` checks that every mutant still applies); run by hand after changing
the tests or the algorithm::

    python tests/mutants.py [NAME-SUBSTRING ...]
"""

from __future__ import annotations

import ast
import functools
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
#: Where mutated functions are looked up.
SOURCE_DIRS = ("relu_altmin", "kernels", "benchmarks")
TEST_FILES = ["tests/test_properties.py", "tests/test_cg.py", "tests/test_streaming.py",
              "tests/test_curvature.py", "tests/test_threads.py", "tests/test_certificate.py",
              "tests/test_interrupt.py", "tests/test_scale.py",
              "tests/test_torch_export.py", "tests/test_gn_product.py",
              "tests/test_certified.py", "tests/test_standardize.py",
              "tests/test_raw_features.py",
              "tests/test_benchmark_checks.py", "tests/test_escapes.py", "tests/test_starts.py",
              "tests/test_experiments.py"]

# (name, function, original text, broken text, -k expression of the tests that must fail)
MUTANTS = [
    ("output rhs scaled", "output_solve",
     "theta = solve_regularised(_output_matrix(gram, n, h, l2, xp), rhs, xp)",
     "theta = solve_regularised(_output_matrix(gram, n, h, l2, xp), 1.001 * rhs, xp)",
     "output_step_is_critical or fixed_point"),
    ("output ridge penalises bias", "_output_matrix",
     "return gram + _diagonal_matrix((n * l2) * _output_penalty(gram, h, xp), xp)",
     "return gram + (n * l2 * 1e6) * xp.eye(gram.shape[1], dtype=gram.dtype, "
     "device=device(gram))",
     "output_step_is_critical"),
    ("hidden coupling dropped", "dense_sums",
     "G = masked_gram(Xt, D, coupling=params.V @ params.V.T)", "G = masked_gram(Xt, D)",
     "hidden_step or fixed_point or damped_step_solves or joint_step_solves"),
    ("gradient without D", "error_sums",
     "(fw.D * (E @ params.V.T)).T @ Xt", "(E @ params.V.T).T @ Xt",
     "damped_step_solves or joint_step_solves"),
    ("pre-activations ignore skip offset", "pre_activations",
     "return Xt @ (params.Wt if params.S is None else params.Wt + params.S).T",
     "return Xt @ params.Wt.T", "predict_matches or hidden_step"),
    ("hidden ridge 100x", "HiddenSystem.build",
     "G = _ridged(G, n * l2, xp)", "G = _ridged(G, 100 * n * l2, xp)",
     "hidden_step or damped_step_solves or joint_step_solves"),
    ("damping not diag(G)", "HiddenSystem.build",
     "damping = xp.linalg.diagonal(G)", "damping = 1.0 + 0.0 * xp.linalg.diagonal(G)",
     "damped_step_solves or joint_step_solves"),
    ("joint damps the output block", "HiddenSystem.solve",
     "diag = xp.concat([diag, xp.zeros(extra,", "diag = xp.concat([diag, mu + xp.zeros(extra,",
     "joint_step_solves"),
    ("joint cross block without V", "HiddenSystem.build",
     "B = xp.reshape(V[:, None, :, None] * M[:, :, None, :], (p, k * m))",
     "B = xp.reshape(xp.abs(V[:, None, :, None]) * M[:, :, None, :], (p, k * m))",
     "joint_step_solves"),
    ("joint output rhs sign", "_newton_rhs",
     "return xp.concat([rhs, -n * xp.reshape(grad_t.T",
     "return xp.concat([rhs, n * xp.reshape(grad_t.T",
     "joint_step_solves"),
    ("joint output ridge dropped", "HiddenSystem.build",
     "            A = _output_matrix(gram, n, h, l2, xp)\n",
     "            A = _output_matrix(gram, n, h, 0.0, xp)\n",
     "joint_step_solves"),
    ("fit ignores joint", "fit",
     "    joint = step == \"joint\" and train_output\n", "    joint = False\n",
     "documented_damped_step"),
    ("damped accepts rises", "DampedStep.take",
     "                if trial_state.objective < state.objective:\n",
     "                if trial_state.objective < 1.5 * state.objective:\n",
     "objective_never or damped_history"),
    ("mu not carried over", "DampedStep.take",
     "mu, self.mu = self.mu, updated_damping(self.mu, accepted=True)",
     "mu, self.mu = self.mu, MU_INIT", "damped_history"),
    ("damping shrinks too little", "updated_damping",
     "max(mu * MU_SHRINK, MU_MIN)", "max(mu * MU_SHRINK**0.5, MU_MIN)", "damped_history"),
    ("backtracking accepts rises", "backtrack",
     "        if trial_state.objective <= state.objective:\n",
     "        if trial_state.objective <= 2 * state.objective:\n", "objective_never"),
    ("activation wrong slope", "activation_pattern",
     "return a + (1.0 - a) * xp.astype(Z > 0, Z.dtype)",
     "return a * 0.5 + (1.0 - a) * xp.astype(Z > 0, Z.dtype)", "predict_matches"),
    ("activation not homogeneous", "forward",
     "    H = D * Z\n", "    H = D * Z * xp.abs(Z)\n", "permuting"),
    ("float32 solved in float32", "float64_copies",
     "xp.astype(X, xp.float64, copy=True), xp.astype(Y, xp.float64, copy=True)",
     "xp.astype(X, X.dtype, copy=True), xp.astype(Y, X.dtype, copy=True)", "float32"),
    ("torch-only bug", "output_solve",
     "    theta = solve_regularised(_output_matrix(gram, n, h, l2, xp), rhs, xp)\n",
     "    theta = solve_regularised(_output_matrix(gram, n, h, l2, xp), rhs, xp)\n"
     "    theta = theta * (1.0 + 1e-6 * ('torch' in xp.__name__))\n", "backends_agree"),
    ("cg product without coupling", "_gauss_newton_product",
     "return (D * (U @ V.T)).T @ Xt, (None if Hb is None else Hb.T @ U)",
     "return (D * (U @ (V * V).T)).T @ Xt, (None if Hb is None else Hb.T @ U)",
     "matrix_free_product"),
    ("cg joint cross term dropped", "_gauss_newton_product",
     "        U = U + Hb @ dT\n", "        U = Hb @ dT + 0.0 * U\n",
     "matrix_free_product"),
    ("cg damping not diag(G)", "MatrixFreeSystem.apply",
     "out = xp.reshape(out_W, (p,)) + (n * self.l2 + mu * self.damping) * x[:p]",
     "out = xp.reshape(out_W, (p,)) + (n * self.l2 + mu) * x[:p]", "matrix_free_product"),
    ("cg output ridge on bias", "MatrixFreeSystem.apply",
     "out_T = out_T + (n * self.l2) * self.penalised[:, None] * dT",
     "out_T = out_T + (n * self.l2) * dT", "matrix_free_product"),
    ("cg stops early", "conjugate_gradients",
     "if float(xp.linalg.vector_norm(r)) <= rtol * b_norm:",
     "if float(xp.linalg.vector_norm(r)) <= 1e3 * rtol * b_norm:",
     "conjugate_gradients_solve or matrix_free_hidden_step"),
    ("rhs sign (both systems)", "_newton_rhs",
     "rhs = -n * xp.reshape(grad.Wt, (-1,))", "rhs = n * xp.reshape(grad.Wt, (-1,))",
     "damped_step_solves or matrix_free"),
    ("preconditioner without coupling", "MatrixFreeSystem.build",
     "grams = xp.sum(params.V * params.V, axis=1)[:, None, None] * grams",
     "grams = 1.0 * grams", "preconditioner"),
    ("preconditioner not damped", "MatrixFreeSystem.precondition",
     "blocks = blocks + _diagonal_stack(mu * xp.reshape(self.damping, (h, dt)), xp)",
     "blocks = blocks + _diagonal_stack(0.0 * xp.reshape(self.damping, (h, dt)), xp)",
     "preconditioner"),
    ("auto ignores the budget", "choose_solver",
     "return \"dense\" if small and 24 * unknowns**2 <= budget else \"cg\"",
     "return \"dense\" if small and 8 * unknowns**2 <= budget else \"cg\"",
     "memory_budget or auto_solver"),
    ("auto size rule off by one", "choose_solver",
     "unknowns <= AUTO_DENSE_MAX_UNKNOWNS", "unknowns < AUTO_DENSE_MAX_UNKNOWNS",
     "auto_solver"),
    ("auto size rule ignores exact", "choose_solver",
     "small = step == \"exact\" or unknowns", "small = unknowns", "auto_solver"),
    ("fit does not pass step to auto", "fit",
     "solver = choose_solver(solver, unknowns, max_dense_bytes, step)",
     "solver = choose_solver(solver, unknowns, max_dense_bytes)", "auto_solver"),
    ("cg fit forms G", "fit",
     "    system_type = HiddenSystem if solver == \"dense\" else MatrixFreeSystem\n",
     "    system_type = HiddenSystem\n", "never_forms"),
    ("input mutated", "make_rows",
     "        xp, X64, Y = check_data(X, y)\n",
     "        xp, X64, Y = check_data(X, y)\n"
     "        if X.shape[0] > 1:\n            X[0, 0] = X[0, 0] + 1.0\n", "not_modified"),
    ("autograd kept on the data", "float64_copies",
     "    X, y = untracked(X), untracked(y)\n", "", "require_grad"),
    ("autograd kept on streamed chunks", "prepare",
     "    X64, Y = float64_copies(X, y, xp)\n",
     "    Y = y[:, None] if y.ndim == 1 else y\n"
     "    X64, Y = xp.astype(X, xp.float64, copy=True), xp.astype(Y, xp.float64, copy=True)\n",
     "require_grad"),
    ("autograd kept on the start", "_start",
     "return xp.astype(untracked(Wt), xp.float64, copy=True), V, c",
     "return xp.astype(Wt, xp.float64, copy=True), V, c", "require_grad"),
    # Streaming (test_streaming.py).
    ("chunk sums keep the last chunk", "add",
     "    return a + b\n", "    return b\n", "chunked or streamed"),
    ("streamed chunks skip the last row", "_SlicedRows.reduce",
     "            stop = min(start + self.chunk_rows, self.total)\n",
     "            stop = min(start + self.chunk_rows, self.total - 1)\n",
     "chunked or sources"),
    ("memmap read whole", "_SlicedRows.__init__",
     "self.xp, self.X, self.y, self.bias, self.chunk_rows = xp, X, y, bias, chunk_rows",
     "self.xp, self.X, self.y, self.bias, self.chunk_rows = xp, X, y, bias, X.shape[0]",
     "peak_memory"),
    # The experiments run on any array-API namespace (test_experiments.py).
    ("experiment mixes device and NumPy arrays", "benchmarks/experiments/identity_mapping.py::main",
     "np.linalg.norm(to_numpy(net.W) - target)", "np.linalg.norm(net.W - target)",
     "strict_array_api"),
    ("experiment data in float32 on strict", "namespace",
     "        return array_api_strict\n",
     "        import functools\n\n        array_api_strict.asarray = functools.partial(\n"
     "            array_api_strict.asarray, dtype=array_api_strict.float32)\n"
     "        return array_api_strict\n",
     "strict_array_api"),
    # The GPU kernel target's verdict (test_benchmark_checks.py).
    ("gpu target: ReLU tie passes", "gpu_target_checks",
     'cuda["seconds"] < cublas["seconds"] if relu', 'cuda["seconds"] <= cublas["seconds"] if relu',
     "gpu_target"),
    ("gpu target: leaky needs parity", "gpu_target_checks",
     '<= GPU_LEAKY_FACTOR * cublas["seconds"]', '<= cublas["seconds"]', "gpu_target"),
    ("gpu target: any cell counts", "gpu_target_checks",
     "if not all(r[key] == value for key, value in GPU_TARGET.items()):", "if False:",
     "gpu_target"),
    ("gpu target: one backend enough", "gpu_target_checks",
     "if cuda is None or cublas is None:", "if cuda is None and cublas is None:",
     "gpu_target"),
    ("busy warning ignores the cores", "busy_warning",
     "if load <= BUSY_LOAD_FRACTION * cores:", "if load <= BUSY_LOAD_FRACTION:", "busy_machine"),
    # The training benchmark marks time ratios between runs of different days.
    ("days never differ", "different_days",
     'return a.info.get("day") != b.info.get("day")', "return False", "across_days"),
    ("merge overwrites recorded days", "load_runs",
     'r["info"].setdefault("day", report["machine"]["date"][:10])',
     'r["info"]["day"] = report["machine"]["date"][:10]', "day_of_each_run"),
    ("adam mark ignores the flag", "check_lines",
     "{ACROSS_DAYS_MARK if c['across_days'] else ''}", "", "across_days"),
    ("budget forgets the tenth", "target_check",
     "budget.append(ad.seconds / 10.0 / per_iteration[-1])",
     "budget.append(ad.seconds / per_iteration[-1])", "iteration_budget"),
    ("iterations to Adam off by one", "target_check",
     "reached = first_index_at(a.trace, ad.train_mse)",
     "reached = first_index_at(a.trace[1:], ad.train_mse)", "iteration_budget"),
    ("budget counts whole runs", "target_check",
     "per_iteration.append(a.seconds / iterations)",
     "per_iteration.append(a.seconds)", "iteration_budget"),
    # The stall diagnosis of benchmarks/escapes.py (test_escapes.py).
    ("stall: minimiser without ridge", "fixed_pattern_minimiser",
     "np.sqrt(l2) * np.eye(J.shape[1])", "0.0 * np.eye(J.shape[1])", "fixed_pattern_minimiser"),
    ("stall: minimiser ignores the slope", "fixed_pattern_minimiser",
     "    D = pattern(X, W, b, slope)\n    J = ",
     "    D = pattern(X, W, b, 0.0)\n    J = ", "fixed_pattern_minimiser"),
    ("stall: kink threshold too wide", "stall_diagnosis",
     '"on_kink": int(np.sum(ratio <= KINK_RTOL))', '"on_kink": int(np.sum(ratio <= 1e-5))',
     "counts_the_kinks"),
    # The starts of benchmarks/starts.py (test_starts.py).
    ("reinit: most useful unit", "redraw_unit",
     "j = int(xp.argmin(column_squares", "j = int(xp.argmax(column_squares",
     "reinit_redraws"),
    ("reinit: output layer not solved", "redraw_unit",
     "return problem.output_solved(params.replace(Wt=Wt)), j",
     "return params.replace(Wt=Wt), j", "reinit_redraws"),
    ("reinit: every row redrawn", "redraw_unit",
     "Wt = xp.where(redrawn[:, None], drawn[None, :], params.Wt)",
     "Wt = xp.where(redrawn[:, None] | True, drawn[None, :], params.Wt)", "reinit_redraws"),
    ("reinit: returns the last state", "StallPolicy.final",
     "        if self.best is not None and self.best[1].objective < state.objective:\n",
     "        if False:\n", "objective_never"),
    ("reinit: redraw not recorded", "_alternate",
     "outcome.solves, outcome.cg_iterations, unit))",
     "outcome.solves, outcome.cg_iterations, -1))", "objective_never or levenberg"),
    ("reinit: stops at a worse critical point", "StallPolicy.observe",
     "if critical and (best is None or state.objective <= best[1].objective):",
     "if critical:", "objective_never"),
    ("reinit: mu carried over", "_alternate",
     "        hidden_step.restart()\n", "", "levenberg"),
    ("reinit: switch kept", "DampedStep.restart",
     "self.mu, self.switched = MU_INIT, False", "self.mu = MU_INIT", "levenberg"),
    # Sub-sampled curvature (test_curvature.py).
    ("curvature sample not used", "DampedStep.take",
     "                rows = rows.sample(self.curvature_rows, self.rng)\n",
     "                rows.sample(self.curvature_rows, self.rng)\n", "sampling_changes"),
    ("curvature sample with replacement", "_InMemoryRows.sample",
     "replace=False", "replace=True", "distinct_rows"),
    ("curvature sample out of order", "_InMemoryRows.sample",
     "np.sort(rng.choice(self.n, size=min(size, self.n), replace=False))",
     "rng.choice(self.n, size=min(size, self.n), replace=False)", "distinct_rows"),
    ("curvature chunk sample thinned", "_bernoulli_rows",
     "rng.random(Xt.shape[0]) < probability", "rng.random(Xt.shape[0]) < 0.9 * probability",
     "distinct_rows"),
    ("curvature rule ignores unknowns", "curvature_sample",
     "CURVATURE_ROWS_PER_UNKNOWN * unknowns)", "unknowns)", "size_rule"),
    ("curvature rule samples most rows", "curvature_sample",
     "or 2 * size > n:", "or size > n:", "size_rule"),
    ("curvature rule samples short data", "curvature_sample",
     "n < CURVATURE_MIN_ROWS or ", "",
     "size_rule"),
    # Threads (test_threads.py).
    ("n_jobs above the cores", "resolve_n_jobs", "return min(n_jobs, cores)", "return n_jobs",
     "positive_n_jobs"),
    ("n_jobs -1 is all but one", "resolve_n_jobs", "return max(1, cores + 1 + n_jobs)",
     "return max(1, cores + n_jobs)", "negative_n_jobs"),
    ("n_jobs below one", "resolve_n_jobs", "return max(1, cores + 1 + n_jobs)",
     "return cores + 1 + n_jobs", "negative_n_jobs"),
    ("n_jobs accepts bools", "resolve_n_jobs",
     "if isinstance(n_jobs, bool) or not isinstance(n_jobs, int):",
     "if not isinstance(n_jobs, int):", "bad_n_jobs"),
    ("n_jobs accepts 0", "resolve_n_jobs", "if n_jobs == 0:", "if n_jobs is None:",
     "bad_n_jobs"),
    ("default threads not monotone", "resolve_n_jobs", "            return allowed\n",
     "            return 1\n", "default_grows"),
    ("default threads ignore the size", "resolve_n_jobs",
     "return max(1, math.ceil(work / WORK_PER_THREAD))", "return cores",
     "one_thread_when_small"),
    ("thread limits not restored on error", "thread_limits",
     "try:\n            yield\n        finally:", "if True:\n            yield\n        if True:",
     "thread_limits_set"),
    ("numba threads not set", "thread_limits",
     "numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))",
     "numba.set_num_threads(numba_before)", "thread_limits_set"),
    ("numba threads uncapped", "thread_limits", "min(threads, numba.config.NUMBA_NUM_THREADS)",
     "threads", "thread_limits_set"),
    ("blas threads not limited", "thread_limits",
     'limits={"blas": threads, "openmp": threads}', 'limits={"openmp": threads}',
     "thread_limits_set"),
    ("numba threads not restored", "thread_limits", "numba.set_num_threads(numba_before)",
     "pass", "thread_limits_set"),
    ("default threads above the caller's limit", "resolve_n_jobs",
     "allowed = min(cores, allowed_threads())", "allowed = cores", "never_raises"),
    ("fit ignores n_jobs", "fit", "with thread_limits(resolve_n_jobs(n_jobs, work=work)):",
     "with thread_limits(1):", "fit_runs_on_the_threads"),
    # The nonsmooth certificate (test_certificate.py).
    ("certificate ignores ties", "minimum_norm_hidden_gradient",
     "if not bool(xp.any(tied)):", "if True:", "kink_minimum or box_minimum"),
    ("certificate box [0, 1]", "minimum_norm_hidden_gradient",
     "(slope - d_t) * valid,", "(0.0 - d_t) * valid,", "box_minimum"),
    ("tie tolerance zero", "tie_tolerance", "((Xt.shape[1] + 1) * eps)", "(0.0 * eps)",
     "kink_minimum"),
    ("tie test without abs", "minimum_norm_hidden_gradient",
     "tied = xp.abs(fw.Z) <= tie_tolerance(", "tied = fw.Z <= tie_tolerance(", "smooth_point"),
    ("certificate bias not weighted", "nonsmooth_ratios",
     "g.Wt, slope, eps, xp, weights)", "g.Wt, slope, eps, xp, None)", "box_minimum"),
    ("certificate rho sign", "minimum_norm_hidden_gradient",
     "rho = (fw.F - Y) @ params.V.T", "rho = (Y - fw.F) @ params.V.T",
     "kink_minimum or box_minimum"),
    ("bvls one iteration", "box_least_squares",
     "for _ in range(BOX_MAX_ITER + 3 * t):", "for _ in range(1):", "box_minimum"),
    ("bvls frees the wrong way", "box_least_squares",
     "(xp.where(held & (delta <= lo), -grad, 0.0)", "(xp.where(held & (delta <= lo), grad, 0.0)",
     "box_minimum"),
    ("policy ignores the certificate", "StallPolicy.observe",
     "critical = self.certify(params) <= self.tol", "critical = False",
     "fit_asks or policy_asks"),
    ("policy certifies moving iterations", "StallPolicy.observe",
     "if (not critical and fixed_point and self.certify", "if (not critical and self.certify",
     "policy_asks"),
    ("fit never certifies", "fit",
     "certify = problem.nonsmooth_residual if rows.in_memory() is not None else None",
     "certify = None", "fit_asks"),
    ("curvature sample beyond a chunk", "curvature_sample",
     "return size if limit is None else min(size, limit)", "return size", "size_rule"),
    ("fit samples beyond a chunk", "fit", "curvature_sample(n, unknowns, rows.chunk_limit)",
     "curvature_sample(n, unknowns)", "peak_memory"),
    # Interruptions keep the work (test_interrupt.py).
    ("interrupt not caught", "_alternate", "    except KeyboardInterrupt:\n",
     "    except ValueError:\n", "interrupt_in_callback or inside_a_step"),
    ("interrupt keeps the half-done state", "_alternate", "params, state, recorded = kept",
     "_, _, recorded = kept", "inside_a_step"),
    ("interrupt keeps an unrecorded record", "_alternate", "del history[recorded:]",
     "del history[recorded + 1:]", "inside_a_step"),
    ("interrupt not reported", "_alternate", 'stop_reason = "interrupted"',
     'stop_reason = "max_iter"', "interrupt_in_callback"),
    ("interrupt forgets the best", "_alternate", "params, state, recorded = kept",
     "params, state, recorded = kept; policy.best = None", "after_a_reinit"),
    ("interrupt not warned", "fit", 'if stop_reason == "interrupted":',
     'if stop_reason == "interupted":', "interrupt_in_callback"),
    ("baseline interrupt not caught", "train", "        except KeyboardInterrupt:\n",
     "        except ValueError:\n", "train_interrupted"),
    ("baseline interrupt keeps the half-done state", "train",
     "params, fw, obj, recorded = kept", "_, _, _, recorded = kept", "train_interrupted"),
    ("cli interrupt exits 0", "cmd_fit", 'if result.stop_reason == "interrupted":',
     'if result.stop_reason == "interupted":', "sigint_to_the_cli"),
    ("cli ignores --init", "cmd_fit", "result = _run_fit(X, y, args, init)",
     "result = _run_fit(X, y, args)", "cli_init_continues"),
    ("cli --init unchecked", "_check_init", "if init.n_features != X.shape[1]:", "if False:",
     "cli_init_that_does_not_match"),
    ("cli --init keeps --hidden default", "_check_init", "    args.hidden = init.n_hidden\n",
     "    args.hidden = args.hidden\n", "cli_init_continues"),
    ("warm start ignored", "_AnalyticReLUBase._warm_network",
     'net = getattr(self, "network_", None) if self.warm_start else None', "net = None",
     "warm_start_continues"),
    ("warm start always", "_AnalyticReLUBase._warm_network", "if self.warm_start else None",
     "if True else None", "warm_start_false"),
    ("warm start ignores the width", "_AnalyticReLUBase._warm_network",
     "(net.n_hidden, net.n_features) != (self.hidden, X.shape[1])",
     "net.n_features != X.shape[1]", "warm_start_continues"),
    # The large-data comparison with minibatch Adam (test_scale.py).
    ("scale: verdict needs strictly below", "benchmarks/_adam.py::verdicts",
     'else fit["mse"] <= adam["mse"])', 'else fit["mse"] < adam["mse"])',
     "verdict_is_fit_at_or_below"),
    ("scale: best adam is the worst", "benchmarks/_adam.py::best_adam",
     'run["mse"] < best[key]["mse"]', 'run["mse"] > best[key]["mse"]',
     "verdict_is_fit_at_or_below"),
    ("scale: adam of another cell", "benchmarks/_adam.py::verdicts",
     "adam = best.get(key)", 'adam = min(best.values(), key=lambda r: r["mse"], default=None)',
     "verdict_is_fit_at_or_below"),
    ("scale: failed adam counts", "benchmarks/_adam.py::best_adam",
     'if run["method"] != "adam" or "error" in run:', 'if run["method"] != "adam":',
     "verdict_is_fit_at_or_below"),
    ("scale: cells ignore the budget", "benchmarks/_adam.py::cell_key",
     'return (run["n"], run["hidden"], run["budget"])', 'return (run["n"], run["hidden"], 1.0)',
     "verdict_is_fit_at_or_below"),
    ("scale: budget excludes its end", "benchmarks/_adam.py::at_budget",
     "if seconds <= budget]", "if seconds < budget]", "at_budget_is_the_lowest"),
    ("scale: last not lowest", "benchmarks/_adam.py::at_budget",
     "return min(within) if within", "return within[-1] if within", "at_budget_is_the_lowest"),
    ("scale: mean iteration cost", "benchmarks/_adam.py::gradient_epochs",
     'statistics.median(run["iteration_seconds"])', 'statistics.mean(run["iteration_seconds"])',
     "gradient_epochs_of_fit"),
    ("scale: adam epochs are steps", "benchmarks/_adam.py::gradient_epochs",
     'epochs = run["rows_seen"] / run["n"]', 'epochs = run["steps"]', "gradient_epochs_of_adam"),
    ("scale: adam cost not in passes", "benchmarks/_adam.py::gradient_epochs",
     'return run["training_seconds"] / epochs / run["gradient_seconds"]',
     'return run["training_seconds"] / epochs', "gradient_epochs_of_adam"),
    ("scale: --adam-from ignored", "benchmarks/_adam.py::plan",
     "configs = configs_from(previous, n, hidden, args.adam_keep) if previous else grid",
     "configs = grid", "versus_adam_writes_its_report"),
    ("scale: --adam-from keeps the worst", "benchmarks/_adam.py::configs_from",
     'key=lambda r: r["mse"])', 'key=lambda r: -r["mse"])', "versus_adam_writes_its_report"),
    ("scale: fit judged past its budget", "benchmarks/_adam.py::run_fit",
     '"mse": at_budget(trace, budget)', '"mse": result.loss', "versus_adam_writes_its_report"),
    # TwoLayerNet.to_torch / from_torch (test_torch_export.py).
    ("torch: skip not folded", "TwoLayerNet.to_torch",
     "W = W + torch.eye(self.n_hidden", "W = W + 0 * torch.eye(self.n_hidden", "predicts_like"),
    ("torch: leaky slope dropped", "TwoLayerNet.to_torch",
     "act = torch.nn.ReLU() if slope == 0 else torch.nn.LeakyReLU(slope)", "act = torch.nn.ReLU()",
     "predicts_like"),
    ("torch: hidden bias dropped", "TwoLayerNet.to_torch",
     "first.bias.copy_(tensor(self.b))", "first.bias.zero_()", "predicts_like"),
    ("torch: output bias dropped", "TwoLayerNet.to_torch",
     "second.bias.copy_(torch.reshape(tensor(self.c), (k,)))", "second.bias.zero_()",
     "predicts_like"),
    ("torch: output weights permuted", "TwoLayerNet.to_torch",
     "second.weight.copy_(V.T)", "second.weight.copy_(V.T.flip(1))", "predicts_like"),
    ("torch: dtype not kept", "TwoLayerNet.to_torch",
     'kwargs = {"dtype": W.dtype, "device": W.device}',
     'kwargs = {"dtype": torch.float64, "device": W.device}', "predicts_like"),
    ("torch: draws from the global generator", "TwoLayerNet.to_torch",
     "first = torch.nn.utils.skip_init(torch.nn.Linear, d, h,", "first = torch.nn.Linear(d, h,",
     "predicts_like"),
    ("from torch: weights shared", "TwoLayerNet.from_torch",
     "W, Vt = first.weight.detach().clone(), second.weight.detach().clone()",
     "W, Vt = first.weight.detach(), second.weight.detach()", "round_trips and not trained"),
    ("from torch: slope lost", "TwoLayerNet.from_torch",
     "slope = float(act.negative_slope)", "slope = 0.0", "round_trips and not trained"),
    ("from torch: skip not unfolded", "TwoLayerNet.from_torch",
     "W = W - torch.eye(W.shape[0]", "W = W - 0 * torch.eye(W.shape[0]",
     "round_trips and not trained"),
    ("from torch: V reshaped not transposed", "TwoLayerNet.from_torch",
     "V = Vt.T.contiguous()", "V = Vt.reshape(Vt.shape[1], Vt.shape[0])",
     "round_trips and not trained"),
    ("from torch: one_d ignored", "TwoLayerNet.from_torch",
     "V = V[:, 0]", "V = V", "round_trips and not trained"),
    ("from torch: scalar c kept 1-D", "TwoLayerNet.from_torch",
     "c = None if c is None else torch.reshape(c, ())", "c = c", "trained_network"),
    ("from torch: biases zeroed", "TwoLayerNet.from_torch",
     "b, c = (None if p is None else p.detach().clone() for p in (first.bias, second.bias))",
     "b, c = (None if p is None else 0 * p.detach() for p in (first.bias, second.bias))",
     "trained_network"),
    ("from torch: sizes unchecked", "TwoLayerNet.from_torch",
     "if second.in_features != first.out_features:", "if False:", "rejects"),
    ("from torch: any activation", "TwoLayerNet.from_torch",
     "elif type(act) is nn.LeakyReLU:", "elif True:", "rejects"),
    ("from torch: slope unchecked", "TwoLayerNet.from_torch",
     "if not 0.0 <= slope < 1.0:", "if False:", "rejects"),
    ("from torch: mixed dtypes", "TwoLayerNet.from_torch",
     "if p.dtype != first.weight.dtype:", "if False:", "rejects"),
    ("from torch: integer weights", "TwoLayerNet.from_torch",
     "if not p.is_floating_point():", "if False:", "rejects"),
    ("from torch: mixed devices", "TwoLayerNet.from_torch",
     "if p.device != first.weight.device:", "if False:", "rejects"),
    ("from torch: non-finite weights", "TwoLayerNet.from_torch",
     "if not bool(torch.isfinite(p).all()):", "if False:", "rejects"),
    ("from torch: any layer", "TwoLayerNet.from_torch",
     "if type(layer) is not nn.Linear:", "if False:", "rejects"),
    ("from torch: any depth", "TwoLayerNet.from_torch",
     "if len(layers) != 3:", "if False:", "rejects"),
    ("torch: no install hint", "TwoLayerNet._import_torch",
     '"pip install torch"', '"install it"', "missing"),
    # The fused Gauss-Newton product kernel (test_gn_product.py).
    ("gn product: pattern dropped", "kernels/_gn_numba_cpu.py::_masked_dot",
     "    for j in range(q, n):\n        s0 = _fma(D[i, j] * z[j], Vt[o, j], s0)",
     "    for j in range(q, n):\n        s0 = _fma(z[j], Vt[o, j], s0)", "numba_matches_einsum"),
    ("gn product: joint term sign", "kernels/_gn_numba_cpu.py::_block",
     "u[o] += _dot(Hb, i + r, dTt, o, zero)", "u[o] -= _dot(Hb, i + r, dTt, o, zero)",
     "numba_matches_einsum"),
    ("gn product: unrolled row repeated", "kernels/_gn_numba_cpu.py::_block",
     "_fma(c3, E[3, j]", "_fma(c3, E[2, j]", "numba_matches_einsum"),
    ("gn product: unrolled column repeated", "kernels/_gn_numba_cpu.py::_forward",
     "c0, c1, c2, c3 = Xt[i, a], Xt[i, a + 1], Xt[i, a + 2], Xt[i, a + 3]",
     "c0, c1, c2, c3 = Xt[i, a], Xt[i, a + 1], Xt[i, a + 2], Xt[i, a + 2]", "numba_matches_einsum"),
    ("gn product: a block not reduced", "kernels/_gn_numba_cpu.py::_reduce",
     "for q in range(1, count):\n                s += partial_W[q, a, j]",
     "for q in range(2, count):\n                s += partial_W[q, a, j]", "numba_many_blocks"),
    ("gn product: block loses its last row", "kernels/_gn_numba_cpu.py::_all_blocks",
     "min(n, start + size)", "min(n, start + size - 1)", "parallel_equals_serial"),
    ("gn product cuda: reduction overwrites", "kernels/_gn_numba_cuda.py::_kernels",
     "partial[t] += partial[t + half]", "partial[t] = partial[t + half]", "cuda_simulator"),
    ("gn product cuda: row sum sign", "kernels/_gn_numba_cuda.py::_kernels",
     "                U[i, o] += t\n", "                U[i, o] -= t\n", "cuda_simulator"),
    ("gn product: dT shape unchecked", "_check_product_inputs",
     "if tuple(dT.shape) != (Hb.shape[1], k):", "if False:", "bad_input"),
    ("gn product: numba never runs", "_product_backend",
     '            return "numba"', '            return "reference"', "delegates"),
    ("gn product: cuda downgraded", "_product_backend",
     'if backend == "cuda" and not _cuda_available():', "if False:", "cuda_unavailable"),
    ("gn product: reference joint sign", "gauss_newton_product_reference",
     "U = U + Hb @ dT", "U = U - Hb @ dT", "reference_in_each_namespace"),
    # benchmarks/certified.py (test_certified.py).
    ("certified: fixed points count", "benchmarks/certified.py::ended_certified",
     'return run["stop_reason"] == "critical_point"',
     'return run["stop_reason"] in ("critical_point", "no_progress")', "counts_and_summaries"),
    ("certified: both residuals needed", "benchmarks/certified.py::certified_flags",
     '"either": by_ordinary or by_nonsmooth}', '"either": by_ordinary and by_nonsmooth}',
     "counts_and_summaries"),
    ("certified: tol excluded", "benchmarks/certified.py::certified_flags",
     "by_nonsmooth = max(nonsmooth.values()) <= tol",
     "by_nonsmooth = max(nonsmooth.values()) < tol", "counts_and_summaries"),
    ("certified: nonsmooth-only count wrong", "benchmarks/certified.py::by_nonsmooth",
     'max(run["ordinary"].values()) > tol', 'max(run["nonsmooth"].values()) > tol',
     "counts_and_summaries"),
    ("certified: fits not counted", "benchmarks/certified.py::summarise",
     's["fits"] += 1', 's["fits"] = 1', "counts_and_summaries"),
    ("certified: summary counts the wrong thing", "benchmarks/certified.py::summary_lines",
     "{s['ended']} of {s['fits']} fits end certified",
     "{s['at']['1e-08']['either']} of {s['fits']} fits end certified", "counts_and_summaries"),
    ("certified: seeds out of order", "benchmarks/certified.py::cells",
     'rs.sort(key=lambda r: r["seed"])', 'rs.sort(key=lambda r: -r["seed"])',
     "counts_and_summaries"),
    ("certified: hidden residual is W only", "benchmarks/certified.py::hidden_residual",
     "return max(residuals[k] for k in HIDDEN if k in residuals)", 'return residuals["W"]',
     "counts_and_summaries"),
    ("certified: mean iterations", "benchmarks/certified.py::cell_summary",
     '"iterations": statistics.median(r["iterations"] for r in rs)',
     '"iterations": statistics.mean(r["iterations"] for r in rs)', "counts_and_summaries"),
    ("certified: threshold excluded", "benchmarks/certified.py::tie_counts",
     "np.count_nonzero(absz <= rel * scale)", "np.count_nonzero(absz < rel * scale)", "tie_counts"),
    ("certified: wrong tie scale", "benchmarks/certified.py::tie_counts",
     "scale = np.outer(x_norms, w_norms)",
     "scale = np.outer(x_norms, x_norms[:1].repeat(len(w_norms)))", "tie_counts"),
    # Standardisation inside fit (test_standardize.py).
    ("moments merge drops the shift term", "Moments.__add__",
     "self.m2 + other.m2 + (delta * delta) * (self.count * other.count / n))",
     "self.m2 + other.m2)", "one_pass_moments_are or merged_moments"),
    ("moments by the textbook formula", "Moments.of",
     "return Moments(n, mean, xp.sum(deviations * deviations, axis=0))",
     "return Moments(n, mean, xp.sum(A * A, axis=0) - n * mean * mean)", "one_pass_moments_are"),
    ("streamed rows not mapped", "_mapped",
     "return fn((Xt - x_shift) / x_scale, (Y - y_shift) / y_scale, *args)",
     "return fn(Xt, Y, *args)", "folded_network"),
    ("fold: bias shift sign", "Standardization.hidden_to_raw",
     "(Wt[:, d] - A @ self.x_shift)", "(Wt[:, d] + A @ self.x_shift)", "invariant"),
    ("fold: output mean dropped", "Standardization.to_raw",
     "c = c * self.y_scale + self.y_shift", "c = c * self.y_scale", "invariant"),
    ("init mapped the wrong way", "Standardization.hidden_to_standardized",
     "W = A * self.x_scale if S is None", "W = A / self.x_scale if S is None",
     "warm_start or hidden_weights"),
    ("constant columns scaled", "_column_map",
     "return shift, xp.where(constant, xp.ones_like(spread), spread)", "return shift, spread",
     "constant_columns"),
    ("raw loss unweighted", "state_sums",
     "xp.sum((E * E) * loss_weights))", "xp.sum(E * E))", "folded_network"),
    ("init not mapped in", "fit",
     "if init is not None:  # in raw units", "if False:  # in raw units",
     "warm_start or hidden_weights"),
    ("standardize=False ignored", "fit",
     "if standardize:", "if True:", "standardize_false"),
    # benchmarks/raw_features.py (test_raw_features.py).
    ("raw features: target without the 1%", "benchmarks/raw_features.py::passes",
     'return run["raw"] <= TARGET * run["standardised"]',
     'return run["raw"] <= run["standardised"]', "within_one_percent"),
    ("raw features: split standardised anyway", "benchmarks/_datasets.py::load",
     "X = X[:, keep] if raw_features else",
     "X = (X[:, keep] - mean[keep]) / std[keep] if raw_features else", "own_units"),
    ("starts: glorot draws biases first", "glorot",
     "drawn += [rs.uniform(-bound, bound, (fan_in, fan_out)), rs.uniform(-bound, bound, fan_out)]",
     "drawn += [*reversed([rs.uniform(-bound, bound, fan_out), "
     "rs.uniform(-bound, bound, (fan_in, fan_out))])]", "mlpregressors_own_start"),
    ("starts: warm start keeps its own weights", "run_sklearn",
     "model.coefs_ = [start.W.T.copy(), start.V.copy()]", "pass", "mlpregressors_own_start"),
    ("starts: ridge path skips the default fit", "ridge_path",
     "for l2 in [*l2s, None]:", "for l2 in [*l2s, *l2s[-1:]]:", "ridge_path_ends"),
    ("starts: path steps too far", "path_l2s",
     "        l2_start *= factor\n", "        l2_start *= factor * factor\n",
     "path_l2s_descend"),
]


@functools.cache
def _definitions() -> dict[str, list[tuple[pathlib.Path, int, int]]]:
    """Every function and method under ``SOURCE_DIRS``: qualified name -> (file, first line,
    last line) of each definition (decorators included)."""
    found: dict[str, list[tuple[pathlib.Path, int, int]]] = {}

    def walk(node: ast.AST, prefix: str, path: pathlib.Path) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                name = prefix + child.name
                if not isinstance(child, ast.ClassDef):
                    first = min([child.lineno, *(d.lineno for d in child.decorator_list)])
                    found.setdefault(name, []).append((path, first, child.end_lineno or first))
                walk(child, name + ".", path)

    for folder in SOURCE_DIRS:
        for path in sorted((ROOT / folder).rglob("*.py")):
            walk(ast.parse(path.read_text()), "", path)
    return found


def locate(function: str) -> tuple[pathlib.Path, int, int]:
    """The file and line range (1-based, inclusive) of ``function`` (``qualname`` or
    ``path::qualname``); ``LookupError`` if it is missing or ambiguous."""
    path_part, _, qualname = function.rpartition("::")
    places = _definitions().get(qualname, [])
    if path_part:
        places = [p for p in places if p[0] == ROOT / path_part]
    if len(places) != 1:
        where = ", ".join(str(p[0].relative_to(ROOT)) for p in places) or "nowhere"
        raise LookupError(f"{function} is defined {len(places)} times ({where})")
    return places[0]


def mutated(function: str, original: str, broken: str) -> tuple[pathlib.Path, str, str]:
    """``(file, its source, the source with original -> broken inside function)``;
    ``LookupError`` unless ``original`` occurs exactly once in the function."""
    path, first, last = locate(function)
    source = path.read_text()
    lines = source.splitlines(keepends=True)
    before, inside, after = (
        "".join(lines[:first - 1]), "".join(lines[first - 1:last]), "".join(lines[last:]))
    count = inside.count(original)
    if count != 1:
        raise LookupError(f"the original text occurs {count} times in {function}")
    return path, source, before + inside.replace(original, broken) + after


def main(selected: list[str]) -> int:
    escaped = 0
    for name, function, original, broken, tests in MUTANTS:
        if selected and not any(s in name for s in selected):
            continue
        try:
            path, source, broken_source = mutated(function, original, broken)
        except LookupError as error:
            print(f"{name:32s} -> STALE ({error}; update the mutant)")
            escaped += 1
            continue
        path.write_text(broken_source)
        try:
            run = subprocess.run(
                [sys.executable, "-m", "pytest", *TEST_FILES, "-q", "-x",
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
