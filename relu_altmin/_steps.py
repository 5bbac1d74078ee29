"""The two exact solves of the alternation (DESIGN.md section 2)."""

from __future__ import annotations

from typing import Any

from array_api_compat import device

from relu_altmin.kernels import masked_gram

from ._model import Forward, Params


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
    n, h = H.shape
    Hb = xp.concat([H, xp.ones((n, 1), dtype=H.dtype, device=device(H))], axis=1) if bias else H
    A = Hb.T @ Hb
    if l2:
        penalised = xp.concat([xp.ones(h, dtype=H.dtype, device=device(H)),
                               xp.zeros(Hb.shape[1] - h, dtype=H.dtype, device=device(H))])
        A = A + (n * l2) * (xp.eye(Hb.shape[1], dtype=H.dtype, device=device(H)) * penalised)
    theta = solve_regularised(A, Hb.T @ Y, xp)
    return theta[:h, :], (theta[h, :] if bias else None)


def hidden_solve(Xt: Any, Y: Any, params: Params, fw: Forward, l2: float, xp: Any) -> Any:
    """Minimiser ``Wt*`` (h x d~) of the fixed-pattern problem of DESIGN §2.

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
    G = masked_gram(Xt, D, coupling=V @ V.T)
    r = xp.reshape((D * (R @ V.T)).T @ Xt, (h * dt, 1))
    if l2:
        G = G + (n * l2) * xp.eye(h * dt, dtype=G.dtype, device=device(G))
    w = solve_regularised(G, r, xp)
    return xp.reshape(w, (h, dt))
