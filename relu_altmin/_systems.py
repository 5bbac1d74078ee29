"""The two exact solves of the alternation (docs/design.md §2)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from array_api_compat import array_namespace, device

from relu_altmin.kernels import masked_gram

from ._model import (
    Evaluation,
    Gradients,
    Params,
    activation_pattern,
    hidden_sums,
    pre_activations,
)
from ._rows import CHUNK_ELEMENTS, Rows, add, narrowed, widened


def solve_regularised(A: Any, B: Any, xp: Any) -> Any:
    """Solve the symmetric positive semi-definite system ``A x = B`` (normal equations).

    Normal equations are consistent, so a meaningful solution leaves a residual far below
    ``B``. A solve that fails, or leaves ``||A x - B|| > sqrt(eps) ||B||`` (an LU solve of a
    numerically singular ``A`` returns huge ``x`` whose rounding errors dwarf ``B``), is
    repeated with ``delta * I`` added, ``delta`` growing from ``m * eps * mean(diag A)`` by
    factors of 100: the caller never sees a raw linear-algebra error or a meaningless
    solution.
    """
    m = A.shape[0]
    eye: Any = None  # built on the first retry
    scale = float(xp.linalg.trace(A)) / m
    delta = 0.0
    eps = float(xp.finfo(A.dtype).eps)
    b_norm = _norm(B, xp)
    for _ in range(12):
        system = A if delta == 0.0 else A + delta * eye
        try:
            x = xp.linalg.solve(system, B)
        except (ValueError, RuntimeError, ArithmeticError):  # LinAlgError's bases by backend
            x = None
        if (x is not None and bool(xp.all(xp.isfinite(x)))
                and _norm(system @ x - B, xp) <= eps**0.5 * b_norm):
            return x
        if eye is None:
            eye = xp.eye(m, dtype=A.dtype, device=device(A))
        base = scale if scale > 0.0 and scale == scale and scale != float("inf") else 1.0
        delta = m * eps * base if delta == 0.0 else delta * 100.0
    raise FloatingPointError("linear system could not be solved even after regularisation "
                             "(are the inputs finite?)")


def _norm(a: Any, xp: Any) -> float:
    return float(xp.sum(a * a)) ** 0.5


def output_sums(Xt: Any, Y: Any, params: Params, negative_slope: float) -> tuple[Any, Any]:
    """One chunk's ``(Hb^T Hb, Hb^T Y)``, ``Hb = [H, 1]``: the output step's row sums."""
    xp = array_namespace(Xt, Y)
    Hb = _with_ones(features(Xt, params, negative_slope, xp)[1], params.bias, xp)
    return Hb.T @ Hb, Hb.T @ Y


def output_solve(sums: tuple[Any, Any], n: int, l2: float, h: int, bias: bool,
                 xp: Any) -> tuple[Any, Any | None]:
    """Exact ridge solve ``(Hb^T Hb + n l2 P) [V; c] = Hb^T Y`` from :func:`output_sums`.

    ``P = diag(1, ..., 1, 0)``: the output bias is not penalised.
    """
    gram, rhs = sums
    theta = solve_regularised(_output_matrix(gram, n, h, l2, xp), rhs, xp)
    return theta[:h, :], (theta[h, :] if bias else None)


def features(Xt: Any, params: Params, negative_slope: float, xp: Any) -> tuple[Any, Any]:
    """The pattern ``D`` and hidden features ``H = D * Z`` at ``params`` (no output layer)."""
    Z = pre_activations(Xt, params)
    D = activation_pattern(Z, negative_slope, xp)
    return D, D * Z


def _with_ones(H: Any, bias: bool, xp: Any) -> Any:
    """``Hb = [H, 1]`` with an output bias, else ``H``."""
    if not bias:
        return H
    return xp.concat([H, xp.ones((H.shape[0], 1), dtype=H.dtype, device=device(H))], axis=1)


def _output_matrix(gram: Any, n: int, h: int, l2: float, xp: Any) -> Any:
    """``Hb^T Hb + n l2 P`` from ``gram = Hb^T Hb``: the output step's matrix, the bias
    column unpenalised."""
    if not l2:
        return gram
    return gram + _diagonal_matrix((n * l2) * _output_penalty(gram, h, xp), xp)


def _output_penalty(gram: Any, h: int, xp: Any) -> Any:
    """The diagonal of ``P``: ones for the ``h`` output weights, zero for the output bias."""
    m = gram.shape[1]
    return xp.concat([xp.ones(h, dtype=gram.dtype, device=device(gram)),
                      xp.zeros(m - h, dtype=gram.dtype, device=device(gram))])


def _newton_rhs(grad: Gradients, n: int, xp: Any, *, joint: bool) -> Any:
    """``-n`` times the gradient, flat: ``vec(W~)`` then, for ``joint``, ``[V; c]`` output by
    output (the unknowns' order in both hidden-step systems)."""
    rhs = -n * xp.reshape(grad.Wt, (-1,))
    if not joint:
        return rhs
    grad_t = grad.V if grad.c is None else xp.concat([grad.V, grad.c[None, :]], axis=0)
    return xp.concat([rhs, -n * xp.reshape(grad_t.T, (-1,))])


def _diagonal_matrix(values: Any, xp: Any) -> Any:
    """The square matrix with ``values`` on its diagonal (the array API has no ``diag``)."""
    m = values.shape[0]
    return xp.eye(m, dtype=values.dtype, device=device(values)) * values[None, :]


def _ridged(A: Any, ridge: float, xp: Any) -> Any:
    """``A + ridge * I``."""
    if not ridge:
        return A
    return A + ridge * xp.eye(A.shape[0], dtype=A.dtype, device=device(A))


def dense_sums(Xt: Any, Y: Any, params: Params, negative_slope: float,
               joint: bool) -> tuple[Any, Any, Any]:
    """One chunk's share of :class:`HiddenSystem`: ``G`` (``masked_gram`` with coupling
    ``V V^T``) and, for ``joint``, ``M[j, a, l] = sum_i D[i, j] Xt[i, a] Hb[i, l]`` and
    ``Hb^T Hb`` (else ``None``)."""
    xp = array_namespace(Xt, Y)
    D, H = features(Xt, params, negative_slope, xp)
    # float32 rows: every product formed and summed in float64 (the kernel's dtype=)
    G = masked_gram(Xt, D, coupling=xp.astype(params.V @ params.V.T, xp.float64, copy=False),
                    dtype=xp.float64)
    if not joint:
        return G, None, None
    Hb = _with_ones(H, params.bias, xp)
    return G, _unit_products(Xt, D, Hb, xp), Hb.T @ Hb


class _DampedSystem:
    """What both hidden-step systems offer once they define ``solve(mu)``, ``shape``, ``xp``."""

    shape: tuple[int, int]
    xp: Any

    def solve(self, mu: float, start: Any = None) -> tuple[Any, int]:
        raise NotImplementedError

    def solution(self, mu: float) -> Any:
        """The solution ``[dw; dt]`` (a column) of the system damped by ``mu >= 0``."""
        return self.solve(mu)[0]

    def step(self, mu: float) -> Any:
        """The hidden-weight step ``dW`` (h x d~) for the damping ``mu >= 0``."""
        return hidden_part(self.solution(mu), self.shape, self.xp)


@dataclass(frozen=True)
class HiddenSystem(_DampedSystem):
    """The linear system of a (damped) hidden step, built once and solved for several ``mu``.

    For ``joint=False`` it is the fixed-pattern problem with ``V`` held: the step
    ``dw = w - w_t`` solves ``(G + mu diag(G) + n l2 I) dw = -n grad_W L``, which is the
    damped normal equations ``(G + mu diag(G) + n l2 I) w = r + mu diag(G) w_t`` of
    docs/design.md §2 rewritten for ``dw`` (``r - (G + n l2 I) w_t = -n grad_W L`` with the
    pattern fixed).

    For ``joint=True`` it is the Gauss-Newton system of both layers (pattern fixed, output
    layer linearised too), with the damping on the hidden block only::

        [ G + mu diag(G) + n l2 I     B         ] [ dw ]     [ -n grad_W L ]
        [ B^T                     I_k (x) A     ] [ dt ]  =  [ -n grad_t L ]

    ``t = [V; c]`` column by column, ``A = Hb^T Hb + n l2 P`` the output step's matrix
    (``Hb = [H, 1]``) and ``B[(j, a), (m, l)] = V[j, m] sum_i D[i, j] Xt[i, a] Hb[i, l]``.
    Only ``dw`` is used: the caller re-solves the output layer exactly afterwards, so this is a
    Levenberg-Marquardt step on the loss with the output layer projected out.
    """

    matrix: Any  # undamped system (ridge included), (p + q) x (p + q), q = k (h + 1) if joint
    rhs: Any  # (p + q) x 1
    damping: Any  # diag(G), length p: the scale of the proximal term
    shape: tuple[int, int]  # (h, d~) of the hidden weights
    xp: Any

    @staticmethod
    def build(rows: Rows, params: Params, negative_slope: float, l2: float, state: Evaluation,
              *, joint: bool, kept: PatternSums | None = None) -> HiddenSystem:
        """The system at ``params`` (whose pass over the rows is ``state``): one more pass.
        ``kept`` is ignored: the dense system has no preconditioner to reuse."""
        xp, n = rows.xp, rows.n
        h, dt = params.Wt.shape
        p = h * dt
        V = params.V
        G, M, gram = rows.reduce(dense_sums, params, negative_slope, joint)
        damping = xp.linalg.diagonal(G)
        G = _ridged(G, n * l2, xp)
        rhs = xp.reshape(_newton_rhs(state.grad, n, xp, joint=joint), (-1, 1))
        if joint:
            k, m = V.shape[1], gram.shape[0]
            B = xp.reshape(V[:, None, :, None] * M[:, :, None, :], (p, k * m))
            A = _output_matrix(gram, n, h, l2, xp)
            eye_k = xp.eye(k, dtype=A.dtype, device=device(A))
            blocks = xp.reshape(eye_k[:, None, :, None] * A[None, :, None, :], (k * m, k * m))
            G = xp.concat([xp.concat([G, B], axis=1), xp.concat([B.T, blocks], axis=1)], axis=0)
        return HiddenSystem(G, rhs, damping, (h, dt), xp)

    @property
    def sums(self) -> PatternSums | None:
        """Nothing to keep: the dense system has no preconditioner."""
        return None

    def solve(self, mu: float, start: Any = None) -> tuple[Any, int]:
        """The solution ``[dw; dt]`` (a column) for the damping ``mu >= 0``, and 0 CG steps
        (``start`` is ignored: the solve is exact)."""
        xp = self.xp
        matrix = self.matrix
        if mu:
            diag = mu * self.damping
            extra = matrix.shape[0] - diag.shape[0]
            if extra:  # the output block of a joint system is not damped
                diag = xp.concat([diag, xp.zeros(extra, dtype=diag.dtype, device=device(diag))])
            matrix = matrix + _diagonal_matrix(diag, xp)
        return solve_regularised(matrix, self.rhs, xp), 0


def hidden_part(solution: Any, shape: tuple[int, int], xp: Any) -> Any:
    """The hidden-weight step ``dW`` (``shape`` = (h, d~)) from a solution column ``[dw; dt]``."""
    h, dt = shape
    return xp.reshape(solution[:h * dt, 0], (h, dt))


#: Conjugate gradients stop once ``||b - A x|| <= CG_RTOL ||b||``, or after ``CG_MAX_ITER``
#: products, whichever comes first: a truncated Newton step. The last iterate minimises the
#: damped model over the Krylov space searched so far, so it is still a descent step; many
#: cheap truncated steps lowered the loss faster per second than few accurate ones
#: (docs/method.md, "Matrix-free solves").
CG_RTOL = 1e-6
CG_MAX_ITER = 30
#: They also stop once the damped model ``q(x) = x^T A x / 2 - b^T x`` fell over the last
#: ``k = max(CG_PROGRESS_WINDOW, i // 10)`` steps by less than ``k CG_PROGRESS_TOL`` of its
#: value (Martens' rule for Hessian-free optimisation, 2010, with his constants): the Krylov
#: space then adds little to the step. 0 turns the rule off.
CG_PROGRESS_TOL = 5e-4
CG_PROGRESS_WINDOW = 10


@dataclass(frozen=True)
class MatrixFreeSystem(_DampedSystem):
    """:class:`HiddenSystem` solved by preconditioned conjugate gradients, never formed.

    The system is ``J^T J + n l2 diag(1, P) + mu diag(G)`` (the damping on the hidden block
    only), where ``J`` is the Jacobian of the outputs ``F`` in the hidden weights (and, for
    ``joint=True``, in ``t = [V; c]``) with the pattern fixed::

        J (dW, dt) = (D * Xt dW^T) V + Hb dt
        J^T U      = ((D * U V^T)^T Xt,  Hb^T U)

    so ``G dW = (D * ((D * Xt dW^T) V V^T))^T Xt``, the matrix-free product of docs/design.md §2, at
    ``O(n h (d~ + k))`` per product and ``O(n h)`` memory (per chunk: each product is a pass
    over the rows). The preconditioner is block-diagonal: ``C[j, j] T[j, j] + n l2 I +
    mu diag(G)_j`` for each hidden unit ``j`` (``C = V V^T``, ``T[j, j] = Xt^T diag(D_j^2) Xt``)
    and, for ``joint=True``, the output step's matrix ``A = Hb^T Hb + n l2 P`` for each output.
    Built on ``kept`` :class:`PatternSums`, the ``T[j, j]`` are those sums (formed at an
    earlier pattern) and only the rest is formed at ``params``.
    """

    rows: Rows
    params: Params
    negative_slope: float
    joint: bool
    patterns: Any  # per in-memory chunk (Xt, D, Hb), computed once; None for streamed rows
    l2: float
    penalised: Any  # diagonal of P (ones, zero at the output bias) for joint=True, else None
    rhs: Any  # flat, length p (+ q): -n grad
    damping: Any  # diag(G), flat, length p
    blocks: Any  # h x d~ x d~: C[j, j] T[j, j] + n l2 I, the undamped hidden preconditioner
    output_inverse: Any  # A^{-1}, m x m, for joint=True, else None
    shape: tuple[int, int]
    xp: Any
    sums: PatternSums  # the T[j, j] the blocks were made of, for later systems to reuse

    @staticmethod
    def build(rows: Rows, params: Params, negative_slope: float, l2: float, state: Evaluation,
              *, joint: bool, kept: PatternSums | None = None) -> MatrixFreeSystem:
        """The system at ``params`` (whose pass over the rows is ``state``): one more pass,
        ``O(n h d~^2)``; with ``kept`` (sums formed at an earlier pattern) that pass forms only
        the damping diagonal (and the joint step's output gram), ``O(n h d~)``
        (``O(n h (d~ + h))`` joint). The system is the same either way; only the
        preconditioner's ``T[j, j]`` are the kept ones."""
        xp, n = rows.xp, rows.n
        h, dt = params.Wt.shape
        sums, diagonal, gram = _pattern_sums(rows, params, negative_slope, joint, kept)
        grams = sums.units if sums.rows == n else (n / sums.rows) * sums.units
        coupling = xp.sum(params.V * params.V, axis=1)  # C[j, j]
        grams = coupling[:, None, None] * grams  # C[j,j] T[j,j]
        damping = (xp.linalg.diagonal(grams) if diagonal is None  # diag(G), h x d~
                   else coupling[:, None] * diagonal)
        blocks = grams + (n * l2) * xp.eye(dt, dtype=grams.dtype, device=device(grams))
        rhs = _newton_rhs(state.grad, n, xp, joint=joint)
        penalised = output_inverse = None
        if joint:
            penalised = _output_penalty(gram, h, xp)
            output_inverse = _spd_inverse(
                xp.expand_dims(_output_matrix(gram, n, h, l2, xp), axis=0), xp)[0, :, :]
        chunks = rows.in_memory()
        patterns = None if chunks is None else [
            (Xt, *_pattern_and_features(Xt, narrowed(params, Xt.dtype, xp), negative_slope,
                                        joint, xp))
            for Xt, _ in chunks]
        return MatrixFreeSystem(rows, params, negative_slope, joint, patterns, l2, penalised,
                                rhs, xp.reshape(damping, (h * dt,)), blocks, output_inverse,
                                (h, dt), xp, sums)

    def apply(self, mu: float, x: Any) -> Any:
        """The damped system times the flat vector ``x`` (length ``p``, or ``p + q``)."""
        xp = self.xp
        h, dt = self.shape
        p, n = h * dt, self.rows.n
        dW = xp.reshape(x[:p], (h, dt))
        dT = self._output_block(x[p:]) if self.joint else None
        V = self.params.V
        if self.patterns is not None:
            out_W, out_T = None, None
            for Xt, D, Hb in self.patterns:  # in the rows' dtype, summed in float64
                product = _gauss_newton_product(Xt, D, Hb, *narrowed((V, dW, dT), Xt.dtype, xp))
                out_W, out_T = add((out_W, out_T), widened(product, xp))
        else:
            out_W, out_T = self.rows.reduce(product_sums, self.params, self.negative_slope,
                                            self.joint, dW, dT)
        out = xp.reshape(out_W, (p,)) + (n * self.l2 + mu * self.damping) * x[:p]
        if not self.joint:
            return out
        out_T = out_T + (n * self.l2) * self.penalised[:, None] * dT
        return xp.concat([out, xp.reshape(out_T.T, (-1,))])

    def precondition(self, mu: float) -> Callable[[Any], Any]:
        """The inverse of the block-diagonal preconditioner for the damping ``mu``."""
        xp = self.xp
        h, dt = self.shape
        p = h * dt
        blocks = self.blocks
        if mu:
            blocks = blocks + _diagonal_stack(mu * xp.reshape(self.damping, (h, dt)), xp)
        inverse = _spd_inverse(blocks, xp)

        def apply_inverse(r: Any) -> Any:
            z = xp.reshape(inverse @ xp.reshape(r[:p], (h, dt, 1)), (p,))
            if not self.joint:
                return z
            z_T = self.output_inverse @ self._output_block(r[p:])
            return xp.concat([z, xp.reshape(z_T.T, (-1,))])

        return apply_inverse

    def _output_block(self, x: Any) -> Any:
        """The output part of a flat vector as an m x k matrix (stored output by output)."""
        k = self.params.V.shape[1]
        return self.xp.reshape(x, (k, x.shape[0] // k)).T

    def solve(self, mu: float, start: Any = None) -> tuple[Any, int]:
        """The solution ``[dw; dt]`` (a column) for the damping ``mu >= 0``, and its CG
        products; CG starts from the column ``start`` where the model is lower there than
        at 0 (else from 0)."""
        x0 = None if start is None else self.xp.reshape(start, (-1,))
        x, iterations = conjugate_gradients(lambda v: self.apply(mu, v), self.rhs,
                                            self.precondition(mu), self.xp, rtol=CG_RTOL,
                                            max_iter=CG_MAX_ITER, progress_tol=CG_PROGRESS_TOL,
                                            window=CG_PROGRESS_WINDOW, x0=x0)
        return self.xp.reshape(x, (-1, 1)), iterations


@dataclass(frozen=True)
class PatternSums:
    """The part of the preconditioner that depends on the pattern alone: ``T[j, j] =
    Xt^T diag(D_j^2) Xt`` (``units``, h x d~ x d~) summed over ``rows`` rows. A CG step may build
    later systems on it while the pattern barely moves (``relu_altmin._steps.KeptSums``)."""

    units: Any
    rows: int


def _pattern_sums(rows: Rows, params: Params, negative_slope: float, joint: bool,
                  kept: PatternSums | None) -> tuple[PatternSums, Any, Any]:
    """The :class:`PatternSums` (formed on ``rows`` at ``params``, or ``kept``), the damping
    sums ``sum_i D[i, j]^2 Xt[i, a]^2`` formed at ``params`` when the pattern sums are kept
    (``None`` when formed: their diagonal is that), and the joint step's ``Hb^T Hb`` (or
    ``None``): one pass over ``rows``."""
    if kept is None:
        units, gram = rows.reduce(preconditioner_sums, params, negative_slope, joint)
        return PatternSums(units, rows.n), None, gram
    diagonal, gram = rows.reduce(diagonal_sums, params, negative_slope, joint)
    return kept, diagonal, gram


def diagonal_sums(Xt: Any, Y: Any, params: Params, negative_slope: float,
                  joint: bool) -> tuple[Any, Any]:
    """One chunk's diagonals of the ``T[j, j]``, ``sum_i D[i, j]^2 Xt[i, a]^2`` (h x d~), and,
    for ``joint``, ``Hb^T Hb`` (else ``None``): :func:`preconditioner_sums` without the
    off-diagonal entries, at ``O(rows h d~)``."""
    xp = array_namespace(Xt, Y)
    D, Hb = _pattern_and_features(Xt, params, negative_slope, joint, xp)
    return (D * D).T @ (Xt * Xt), (None if Hb is None else Hb.T @ Hb)


def preconditioner_sums(Xt: Any, Y: Any, params: Params, negative_slope: float,
                        joint: bool) -> tuple[Any, Any]:
    """One chunk's ``T[j, j] = Xt^T diag(D_j^2) Xt`` (h x d~ x d~) and, for ``joint``,
    ``Hb^T Hb`` (else ``None``)."""
    xp = array_namespace(Xt, Y)
    D, Hb = _pattern_and_features(Xt, params, negative_slope, joint, xp)
    return _unit_grams(Xt, D * D, xp), (None if Hb is None else Hb.T @ Hb)


def product_sums(Xt: Any, Y: Any, params: Params, negative_slope: float, joint: bool,
                 dW: Any, dT: Any) -> tuple[Any, Any]:
    """One chunk's :func:`_gauss_newton_product` (the pattern recomputed from ``params``)."""
    xp = array_namespace(Xt, Y)
    D, Hb = _pattern_and_features(Xt, params, negative_slope, joint, xp)
    return _gauss_newton_product(Xt, D, Hb, params.V, dW, dT)


def _pattern_and_features(Xt: Any, params: Params, negative_slope: float, joint: bool,
                          xp: Any) -> tuple[Any, Any]:
    """``D`` and, for ``joint``, ``Hb = [H, 1]`` (else ``None``)."""
    D, H = features(Xt, params, negative_slope, xp)
    return D, (_with_ones(H, params.bias, xp) if joint else None)


def _gauss_newton_product(Xt: Any, D: Any, Hb: Any, V: Any, dW: Any,
                          dT: Any) -> tuple[Any, Any]:
    """``J^T J (dW, dT)`` over these rows, without the ridge and damping: the hidden part
    ``(D * U V^T)^T Xt`` (h x d~) and the output part ``Hb^T U`` (``None`` without ``Hb``),
    ``U = (D * Xt dW^T) V + Hb dT`` (the pattern applied in place: one n x h array)."""
    Z = Xt @ dW.T
    Z *= D
    U = Z @ V
    if Hb is not None:
        U = U + Hb @ dT
    return hidden_sums(Xt, D, U, V), (None if Hb is None else Hb.T @ U)


def conjugate_gradients(
    apply: Callable[[Any], Any], b: Any, precondition: Callable[[Any], Any], xp: Any, *,
    rtol: float, max_iter: int, progress_tol: float = 0.0, window: int = 10, x0: Any = None,
) -> tuple[Any, int]:
    """Preconditioned CG for the symmetric positive semi-definite ``A x = b`` from ``x = 0``,
    or from ``x0`` where the model ``q`` (below) is lower there than at 0.

    Returns the iterate and the number of products with ``A`` (one more for ``x0``). Stops when
    ``||b - A x|| <= rtol ||b||``, after ``max_iter`` products, when a search direction has
    no positive curvature (``A`` singular along it: the iterate so far is kept), or, for
    ``progress_tol > 0``, when the model ``q(x) = x^T A x / 2 - b^T x`` fell over the last
    ``k = max(window, i // 10)`` steps by less than ``k progress_tol |q(x_i)|`` (Martens'
    test, on the values CG tracks: ``q(x_0)``, less ``alpha r^T z / 2`` per step), or when
    ``r^T z`` underflows to 0 (a residual whose squares float64 cannot hold, below about
    1e-154: the iterate so far is kept).
    """
    x, r = xp.zeros_like(b), b
    models = [0.0]  # q(x_i); each step lowers it by alpha r^T z / 2
    b_norm = float(xp.linalg.vector_norm(b))
    if b_norm == 0.0:
        return x, 0
    products = 0
    if x0 is not None:
        r0, products = b - apply(x0), 1
        model0 = -float(xp.sum(x0 * (b + r0))) / 2  # q(x0), since A x0 = b - r0
        if model0 < 0.0:
            if float(xp.linalg.vector_norm(r0)) <= rtol * b_norm:
                return x0, products
            x, r, models = x0, r0, [model0]
    z = precondition(r)
    d = z
    rz = float(xp.sum(r * z))
    for iteration in range(products + 1, max_iter + 1):
        if rz == 0.0:  # r^T z underflowed
            return x, iteration - 1
        Ad = apply(d)
        curvature = float(xp.sum(d * Ad))
        if not curvature > 0.0:
            if curvature != curvature:
                raise FloatingPointError("conjugate gradients met NaN (are the inputs finite?)")
            return x, iteration
        alpha = rz / curvature
        x = x + alpha * d
        r = r - alpha * Ad
        if float(xp.linalg.vector_norm(r)) <= rtol * b_norm:
            return x, iteration
        models.append(models[-1] - alpha * rz / 2)
        if progress_tol > 0 and _stalled(models, window, progress_tol):
            return x, iteration
        z = precondition(r)
        rz, rz_old = float(xp.sum(r * z)), rz
        d = z + (rz / rz_old) * d
    return x, max_iter


def _stalled(models: list[float], window: int, progress_tol: float) -> bool:
    """Martens' test on the model values ``q(x_0), ..., q(x_i)``."""
    i = len(models) - 1
    k = max(window, i // 10)
    return i > k and models[i - k] - models[i] < k * progress_tol * abs(models[i])


def _unit_products(Xt: Any, weights: Any, other: Any, xp: Any) -> Any:
    """``Xt^T diag(weights[:, j]) other`` for every column ``j``: an h x d~ x m stack.

    Units are taken a few at a time so the n x units x d~ temporary stays under
    ``CHUNK_ELEMENTS`` (a single unit at a time for very long data).
    """
    n, dt = Xt.shape
    h = weights.shape[1]
    per = max(1, CHUNK_ELEMENTS // (n * dt))
    return xp.concat([(weights[:, s:min(s + per, h)].T[:, :, None] * Xt[None, :, :]).mT @ other
                      for s in range(0, h, per)], axis=0)


def _unit_grams(Xt: Any, weights: Any, xp: Any) -> Any:
    """``Xt^T diag(weights[:, j]) Xt`` for every column ``j``: an h x d~ x d~ stack.

    One product ``weights^T Q`` with ``Q[i, (a, b)] = Xt[i, a] Xt[i, b]`` over ``a <= b``,
    formed a block of rows at a time (``Q`` under ``CHUNK_ELEMENTS``): half the flops of the
    unit-by-unit products, in a single well-shaped matrix product (4-5x faster at h = 128).
    """
    n, dt = Xt.shape
    triangle = np.triu_indices(dt)
    # entry (a, b) of each block is column (min(a, b), max(a, b)) of the upper triangle
    column = np.zeros((dt, dt), dtype=np.int64)
    column[triangle] = np.arange(triangle[0].size)
    column = np.maximum(column, column.T)
    on = device(Xt)
    first, second, column = (xp.asarray(i, device=on)
                             for i in (*triangle, column.reshape(-1)))
    rows_per = max(1, CHUNK_ELEMENTS // triangle[0].size)
    upper = None
    for s in range(0, n, rows_per):
        e = min(s + rows_per, n)
        block = Xt[s:e, :]
        part = weights[s:e, :].T @ (xp.take(block, first, axis=1) * xp.take(block, second, axis=1))
        upper = part if upper is None else upper + part
    return xp.reshape(xp.take(upper, column, axis=1), (weights.shape[1], dt, dt))


def _diagonal_stack(values: Any, xp: Any) -> Any:
    """A stack of diagonal matrices: ``values`` (h x m) on the diagonals of an h x m x m array."""
    m = values.shape[1]
    return xp.eye(m, dtype=values.dtype, device=device(values))[None, :, :] * values[:, None, :]


def _spd_inverse(blocks: Any, xp: Any) -> Any:
    """Inverses of a stack of symmetric positive semi-definite matrices, each lifted to definite.

    Each block gets ``m eps mean(diag)`` on its diagonal, plus ``eps`` times the largest such
    mean (so a zero block, a dead unit with no ridge, stays invertible): a preconditioner only
    has to be definite, not exact.
    """
    m = blocks.shape[-1]
    eps = float(xp.finfo(blocks.dtype).eps)
    scale = xp.linalg.trace(blocks) / m
    largest = float(xp.max(scale))
    floor = eps * largest if largest > 0.0 else 1.0
    lift = m * eps * scale + floor
    eye = xp.eye(m, dtype=blocks.dtype, device=device(blocks))
    return xp.linalg.inv(blocks + lift[:, None, None] * eye[None, :, :])
