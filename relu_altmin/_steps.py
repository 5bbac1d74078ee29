"""The two exact solves of the alternation (DESIGN.md section 2)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from array_api_compat import device

from relu_altmin.kernels import masked_gram

from ._model import Forward, Params, gradients


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
    eye = None
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


def output_step(H: Any, Y: Any, l2: float, bias: bool, xp: Any) -> tuple[Any, Any | None]:
    """Exact ridge solve ``(Hb^T Hb + n l2 P) [V; c] = Hb^T Y`` with ``Hb = [H, 1]``.

    ``P = diag(1, ..., 1, 0)``: the output bias is not penalised.
    """
    h = H.shape[1]
    Hb = _with_ones(H, bias, xp)
    theta = solve_regularised(_output_matrix(Hb, h, l2, xp), Hb.T @ Y, xp)
    return theta[:h, :], (theta[h, :] if bias else None)


def _with_ones(H: Any, bias: bool, xp: Any) -> Any:
    """``Hb = [H, 1]`` with an output bias, else ``H``."""
    if not bias:
        return H
    return xp.concat([H, xp.ones((H.shape[0], 1), dtype=H.dtype, device=device(H))], axis=1)


def _output_matrix(Hb: Any, h: int, l2: float, xp: Any) -> Any:
    """``Hb^T Hb + n l2 P``: the output step's matrix, the bias column unpenalised."""
    A = Hb.T @ Hb
    if not l2:
        return A
    n, m = Hb.shape
    penalised = xp.concat([xp.ones(h, dtype=Hb.dtype, device=device(Hb)),
                           xp.zeros(m - h, dtype=Hb.dtype, device=device(Hb))])
    return A + _diagonal_matrix((n * l2) * penalised, xp)


def _diagonal_matrix(values: Any, xp: Any) -> Any:
    """The square matrix with ``values`` on its diagonal (the array API has no ``diag``)."""
    m = values.shape[0]
    return xp.eye(m, dtype=values.dtype, device=device(values)) * values[None, :]


def hidden_solve(Xt: Any, Y: Any, params: Params, fw: Forward, l2: float, xp: Any) -> Any:
    """Minimiser ``Wt*`` (h x d~) of the fixed-pattern problem of DESIGN §2 (the paper's step).

    With ``D = fw.D`` held fixed the network is linear in ``Wt``: solve
    ``(G + n l2 I) w = r``, ``G = masked_gram(Xt, D, coupling=V V^T)``,
    ``r = vec((D * R V^T)^T Xt)``, ``R = Y - 1 c^T - (D * Xt S^T) V``.
    """
    n, dt = Xt.shape
    h = params.Wt.shape[0]
    V, D = params.V, fw.D
    R = Y if params.c is None else Y - params.c
    if params.S is not None:
        R = R - (D * (Xt @ params.S.T)) @ V
    G = _ridged(masked_gram(Xt, D, coupling=V @ V.T), n * l2, xp)
    r = xp.reshape((D * (R @ V.T)).T @ Xt, (h * dt, 1))
    return xp.reshape(solve_regularised(G, r, xp), (h, dt))


def _ridged(A: Any, ridge: float, xp: Any) -> Any:
    """``A + ridge * I``."""
    if not ridge:
        return A
    return A + ridge * xp.eye(A.shape[0], dtype=A.dtype, device=device(A))


@dataclass(frozen=True)
class HiddenSystem:
    """The linear system of a (damped) hidden step, built once and solved for several ``mu``.

    For ``joint=False`` it is the fixed-pattern problem with ``V`` held: the step
    ``dw = w - w_t`` solves ``(G + mu diag(G) + n l2 I) dw = -n grad_W L``, which is the
    damped normal equations ``(G + mu diag(G) + n l2 I) w = r + mu diag(G) w_t`` of DESIGN §2
    rewritten for ``dw`` (``r - (G + n l2 I) w_t = -n grad_W L`` with the pattern fixed).

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
    def build(Xt: Any, Y: Any, params: Params, fw: Forward, l2: float, xp: Any, *,
              joint: bool) -> HiddenSystem:
        n, dt = Xt.shape
        h = params.Wt.shape[0]
        p = h * dt
        dev = device(Xt)
        V, D = params.V, fw.D
        G = masked_gram(Xt, D, coupling=V @ V.T)
        damping = xp.linalg.diagonal(G)
        G = _ridged(G, n * l2, xp)
        grad = gradients(Xt, Y, params, fw, l2, xp)
        rhs = -n * xp.reshape(grad.Wt, (p, 1))
        if joint:
            k = V.shape[1]
            Hb = _with_ones(fw.H, params.c is not None, xp)
            m = Hb.shape[1]
            # M[j, a, l] = sum_i D[i, j] Xt[i, a] Hb[i, l], batched over units j.
            M = (D.T[:, :, None] * Xt[None, :, :]).mT @ Hb
            B = xp.reshape(V[:, None, :, None] * M[:, :, None, :], (p, k * m))
            A = _output_matrix(Hb, h, l2, xp)
            eye_k = xp.eye(k, dtype=A.dtype, device=dev)
            blocks = xp.reshape(eye_k[:, None, :, None] * A[None, :, None, :], (k * m, k * m))
            G = xp.concat([xp.concat([G, B], axis=1), xp.concat([B.T, blocks], axis=1)], axis=0)
            grad_t = grad.V if grad.c is None else xp.concat([grad.V, grad.c[None, :]], axis=0)
            rhs = xp.concat([rhs, -n * xp.reshape(grad_t.T, (k * m, 1))], axis=0)
        return HiddenSystem(G, rhs, damping, (h, dt), xp)

    def solution(self, mu: float) -> Any:
        """The solution ``[dw; dt]`` (a column) of the system damped by ``mu >= 0``."""
        xp = self.xp
        matrix = self.matrix
        if mu:
            diag = mu * self.damping
            extra = matrix.shape[0] - diag.shape[0]
            if extra:  # the output block of a joint system is not damped
                diag = xp.concat([diag, xp.zeros(extra, dtype=diag.dtype, device=device(diag))])
            matrix = matrix + _diagonal_matrix(diag, xp)
        return solve_regularised(matrix, self.rhs, xp)

    def step(self, mu: float) -> Any:
        """The hidden-weight step ``dW`` (h x d~) for the damping ``mu >= 0``."""
        h, dt = self.shape
        return self.xp.reshape(self.solution(mu)[:h * dt, 0], (h, dt))
